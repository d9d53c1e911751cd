"""How a federate's logic is run: under HELICS (``helics_runtime``, the only code that
imports HELICS, with its stall watchdog and the conformance ``probe``) or stepped in one
process (``lockstep``); ``program`` is the command line of a built-in federate."""
