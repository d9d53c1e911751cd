"""Running a federation: ``runner`` (``tefed run``: broker, federates, supervision),
``lockstep_run`` (``tefed run --lockstep``: every built-in federate in one process) and
``powerflow`` (``tefed powerflow``)."""
