"""What every command of the ``tefed`` command line shares: exit codes, ``--set``, warnings."""

from __future__ import annotations

import argparse
import importlib.metadata
from typing import Any

from rich.console import Console
from rich.markup import escape

from tefed.contract.errors import InputError
from tefed.scenario.overrides import parse_assignment

EXIT_RUN_FAILED = 1
#: Exit code of a command stopped by Ctrl-C (128 + SIGINT, as a shell reports it).
EXIT_INTERRUPTED = 130


def package_version() -> str:
    """The installed version of tefed (``unknown`` when run from a source tree not installed)."""
    try:
        return importlib.metadata.version("tefed")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


def add_set_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a scenario value by dotted path, households by group name, value as YAML "
        "(repeatable), e.g. --set households.pv_battery.battery.capacity_kwh=15",
    )


def set_overrides(assignments: list[str]) -> dict[str, Any]:
    """The ``--set`` assignments as dotted path → value; every malformed one is named."""
    overrides: dict[str, Any] = {}
    problems = []
    for text in assignments:
        try:
            path, value = parse_assignment(text)
        except ValueError as error:
            problems.append(str(error))
            continue
        overrides[path] = value
    if problems:
        raise InputError("--set", problems)
    return overrides


def print_warnings(console: Console, warnings: list[dict[str, Any]]) -> None:
    """Print each plausibility warning (a dict as ``summary.json`` lists them), labelled."""
    for warning in warnings:
        text = f"{warning['check']}: {warning['message']}"
        console.print(f"[bold yellow]warning:[/] {escape(text)}", highlight=False, soft_wrap=True)
