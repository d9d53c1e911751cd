"""The ``tefed`` command line's parser and the dispatch to its commands (see `tefed.cli`)."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from rich.console import Console
from rich.markup import escape

from tefed.cli import (
    check_command,
    interrupted,
    results_commands,
    run_command,
    scenario_commands,
    sweep_commands,
)
from tefed.cli.common import package_version
from tefed.contract.errors import EXIT_USER_ERROR, InputError

#: Commands after which the ``tefed`` program ends its process at once (see `program`).
ENDS_AT_ONCE = frozenset({"sweep"})


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``tefed``; returns the exit code (2 for input errors)."""
    parser = argparse.ArgumentParser(
        prog="tefed", description="Transactive Energy FEDeration: co-simulate local energy markets."
    )
    parser.add_argument("--version", action="version", version=f"tefed {package_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    scenario_commands.add_parsers(commands)
    run_command.add_parser(commands)
    results_commands.add_parsers(commands)
    sweep_commands.add_parsers(commands)
    check_command.add_parser(commands)
    argv = sys.argv[1:] if argv is None else argv
    if argv[:2] == ["sweep", "report"]:
        argv = [sweep_commands.SWEEP_REPORT_COMMAND, *argv[2:]]
    arguments = parser.parse_args(argv)
    console = Console(stderr=True)
    try:
        return arguments.handler(arguments, console)
    except InputError as error:
        console.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
        return EXIT_USER_ERROR


def program() -> None:
    """The ``tefed`` program: `main` on the process's arguments, exiting with its code.

    After a command of ``ENDS_AT_ONCE`` the process ends without the interpreter's shutdown:
    after a sweep that took 0.3 s of every sweep's wall time (Dask's threads and config, a
    few thousand modules), with every table written, every run ended and the cluster closed
    by then. Logging and the standard streams are flushed first.
    """
    try:
        code = main()
    except KeyboardInterrupt:  # outside a command's own handling (e.g. while importing Dask)
        interrupted()
    if sys.argv[1:2] and sys.argv[1] in ENDS_AT_ONCE:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
