"""``tefed check-federate``: the conformance harness's command (`tefed.conformance.harness`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from tefed.conformance.roles import ROLES


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add ``check-federate`` to the ``tefed`` subcommands."""
    parser = commands.add_parser(
        "check-federate",
        usage="tefed check-federate --role ROLE [--scenario FILE] [--time-limit SECONDS] "
        "-- COMMAND [ARGUMENT ...]",
        help="run a program in place of one federate and check it against docs/interfaces.md",
        description="Run COMMAND FEDERATION_FILE --name FEDERATE in place of the federate of "
        "ROLE in a small harness federation and report every violation of the interface "
        "contract. Exit codes: 0 conformant, 1 violations, 2 bad usage.",
    )
    parser.add_argument("--role", required=True, choices=ROLES, help="the federate to replace")
    parser.add_argument(
        "--scenario", type=Path, help="scenario to build the harness from (default: built in)"
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        metavar="SECONDS",
        help="wall-clock limit of the run, more than 0 and at most 2592000 (30 days) [s] "
        "(default: the scenario's run.wall_clock_limit_s, 120 for the built-in harness)",
    )
    parser.add_argument(
        "program", nargs=argparse.REMAINDER, metavar="-- COMMAND", help="the program to check"
    )
    parser.set_defaults(handler=_check_federate)


def _check_federate(arguments: argparse.Namespace, console: Console) -> int:
    # The harness (the builder and the runner) loads when the command runs.
    from tefed.conformance.harness import run_check_federate

    return run_check_federate(arguments, console)
