"""Shared runtime of the federates: the federation file, the time grid, the logic contract, the
HELICS runtime (the only code that imports HELICS), the lockstep runner and run folders."""
