"""How a federate's logic is run: under HELICS (``helics_runtime``, with its stall watchdog and
the conformance ``probe``; the only code that uses HELICS, which it loads through
``helics_library``) or stepped in one process (``lockstep``); ``program`` is the command line of
a built-in federate."""
