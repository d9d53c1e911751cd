"""The ``tefed`` command line (``python -m tefed``): build, validate, run, report and sweep.

The package itself imports nothing until `main` or `program` is called (a sweep starts its
preloaded-run server first, `sweep_start`); `commands` holds the parser. One module per group
of commands: `scenario_commands` (build, validate, schema, powerflow),
`run_command` (run, and the KPI tables of `run_tables` it prints), `results_commands` (report,
compare), `sweep_commands` (sweep, sweep report), `check_command` (the conformance harness's
``check-federate``). Each registers its parsers with a ``handler(arguments, console) -> exit
code`` and imports the machinery it runs only when the handler is called.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from typing import NoReturn

__all__ = ["main", "program"]


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``tefed``; returns the exit code (2 for input errors).

    ``argv``: the arguments after ``tefed`` (default: the process's).
    """
    from tefed.cli.commands import main as run_main

    return run_main(argv)


def program() -> None:
    """The ``tefed`` program (its console script, and ``python -m tefed``): `main` on the
    process's arguments, exiting with its code.

    This package imports nothing else until it is called: a ``tefed sweep`` that will start its
    runs on this machine starts their preloaded server (`tefed.sweep.preloaded_runs`) first, so
    that the server's imports overlap the command line's own (0.8 s) instead of following them.
    """
    try:
        from tefed.run.interrupts import catch_interrupts

        catch_interrupts()
        from tefed.cli.sweep_start import start_server_early

        start_server_early(sys.argv[1:])
        from tefed.cli.commands import program as run_program
    except KeyboardInterrupt:
        interrupted()
    run_program()


def interrupted() -> NoReturn:
    """End the program after Ctrl-C outside a command's own handling (while it imports): a
    line instead of a traceback, exit code 128 + SIGINT, and at once, without the
    interpreter's shutdown, which would wait for a preloaded-run server still importing."""
    logging.shutdown()
    sys.stderr.write("tefed: interrupted\n")
    sys.stderr.flush()
    sys.stdout.flush()
    os._exit(128 + signal.SIGINT)
