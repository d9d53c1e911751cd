"""Learning agents over the live federation: a Gymnasium environment and a PettingZoo one.

User-facing orchestration, beside `tefed.sweep`: a learner steers one household (or several)
through the external-household contract of ``docs/interfaces.md``, while `tefed.run.runner`
runs the rest of the federation (grid, market, price feed, the other households) as processes.
Each learned household is a federate of its own, driven by `tefed.runtime.helics_runtime` in a
helper process of the environment (`learner_host`; the federation is started by another,
`episode_launcher`); its physics are tefed's ems device models. This layer may import run,
federates, build, scenario, runtime, contract and domain; nothing below imports it, and it
never imports HELICS itself.
"""
