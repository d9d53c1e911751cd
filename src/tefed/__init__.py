"""tefed: a HELICS co-simulation of local energy markets on a distribution feeder.

The sub-packages are the layers, from the bottom up; a layer imports only layers below it
(checked by import-linter, ``make lint``):

- ``contract``: what federates agree on: interface keys, message models, the federation file,
  the time grid, shard layout, the logic interface and input errors;
- ``domain``: pure models: market mechanisms, settlement and ledger; household devices and
  strategies; the radial network model; tariffs and price sources (no HELICS, no OpenDSS, no
  file I/O);
- ``io``: files and engines: profile, weather and price readers, run folders, feeder generators,
  OpenDSS;
- ``runtime``: the HELICS runtime (the only code that imports HELICS), the lockstep stepper and
  the conformance probe;
- ``scenario``: the scenario file, its models and reference;
- ``build``: scenario to federation file, validation;
- ``analysis``: KPIs, balance checks, the run summary, run comparison and KPI labels;
- ``results``: ``tefed.results.load(run_folder)``, a run's tables, summary, status and
  federation file for analysis in Python;
- ``reporting``: plots and the HTML report;
- ``federates``: one logic class and ``python -m`` program per role;
- ``run``: the runner (``tefed run``), the lockstep command and the power flow command;
- ``conformance``: ``tefed check-federate``;
- ``cli``: the ``tefed`` command line.

docs/architecture.md draws the layers and follows one household's power through them.
"""
