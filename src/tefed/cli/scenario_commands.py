"""``tefed build``, ``validate``, ``schema`` and ``powerflow``: a scenario before it runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console

from tefed.cli.common import EXIT_RUN_FAILED, add_set_option, print_warnings, set_overrides
from tefed.contract.errors import InputError
from tefed.scenario.model import load_scenario


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Add ``build``, ``validate``, ``schema`` and ``powerflow`` to the command line."""
    build = commands.add_parser("build", help="resolve a scenario into a federation file")
    build.add_argument("scenario", type=Path)
    build.add_argument("-o", "--output", type=Path, required=True, help="federation file to write")
    build.set_defaults(handler=_build)

    validate = commands.add_parser("validate", help="check a scenario and report every problem")
    validate.add_argument("scenario", type=Path)
    add_set_option(validate)
    validate.set_defaults(handler=_validate)

    schema = commands.add_parser(
        "schema", help="print the JSON Schema of a scenario file (for editor completion)"
    )
    schema.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    schema.set_defaults(handler=_schema)

    powerflow = commands.add_parser(
        "powerflow",
        help="solve one snapshot of a feeder as the grid federate loads it; write bus voltages",
    )
    feeder = powerflow.add_mutually_exclusive_group(required=True)
    feeder.add_argument("--dss", type=Path, help="OpenDSS master file")
    feeder.add_argument(
        "--scenario", type=Path, help="scenario whose feeder and households to load"
    )
    powerflow.add_argument(
        "--command",
        dest="opendss_commands",
        action="append",
        default=[],
        metavar="OPENDSS_COMMAND",
        help="OpenDSS command applied after compiling (repeatable), e.g. to lock a tap",
    )
    powerflow.add_argument(
        "--regulators",
        choices=("automatic", "locked"),
        default="automatic",
        help="regulator controls move taps, or taps stay as compiled and commanded",
    )
    powerflow.add_argument("--out", type=Path, help="CSV file to write (default: standard output)")
    powerflow.set_defaults(handler=_powerflow)


# Each handler imports what it runs: the command line itself loads none of it.


def _build(arguments: argparse.Namespace, console: Console) -> int:
    from tefed.build.builder import build_federation

    scenario, scenario_dir = load_scenario(arguments.scenario)
    output: Path = arguments.output
    federation = build_federation(scenario, scenario_dir, output, Path.cwd())
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(federation.to_json_text())
    print(
        f"wrote {output} ({len(federation.federates)} processes, "
        f"{len(federation.tefed.households['household_id'])} households)"
    )
    return 0


def _validate(arguments: argparse.Namespace, console: Console) -> int:
    from tefed.build.validate import check_scenario

    # Every stage (fields, data files, building on the feeder) reports its problems at once;
    # plausibility warnings are printed and leave the exit code 0.
    scenario_path: Path = arguments.scenario
    check = check_scenario(scenario_path, Path.cwd(), set_overrides(arguments.assignments))
    print_warnings(console, [warning.as_dict() for warning in check.warnings])
    if check.problems or check.scenario is None:
        raise InputError(check.source, check.problems)
    scenario = check.scenario
    households = sum(group.count for group in scenario.households)
    warned = f"; {len(check.warnings)} warning(s)" if check.warnings else ""
    print(
        f"{scenario_path}: valid ({households} households, "
        f"{scenario.time.duration_s} s at {scenario.time.grid_step_s} s steps){warned}"
    )
    return 0


def _schema(arguments: argparse.Namespace, console: Console) -> int:
    from tefed.scenario.reference import scenario_json_schema_text

    output: Path | None = arguments.output
    text = scenario_json_schema_text()
    if output is None:
        sys.stdout.write(text)
        return 0
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    print(f"wrote {output}")
    return 0


def _powerflow(arguments: argparse.Namespace, console: Console) -> int:
    from tefed.run.powerflow import feeder_powerflow

    table, converged = feeder_powerflow(
        arguments.dss, arguments.opendss_commands, arguments.regulators, arguments.scenario
    )
    text = table.to_csv(index=False, float_format="%.6f")
    if arguments.out is None:
        sys.stdout.write(text)
    else:
        arguments.out.parent.mkdir(parents=True, exist_ok=True)
        arguments.out.write_text(text)
        print(f"wrote {arguments.out} ({len(table)} nodes)")
    if not converged:
        console.print("[bold red]error:[/] the power flow did not converge", highlight=False)
        return EXIT_RUN_FAILED
    return 0
