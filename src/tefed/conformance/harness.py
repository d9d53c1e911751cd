"""``tefed check-federate``: run a program in place of one federate and check it.

The harness builds a small federation (a built-in one-hour scenario of four households, or the
scenario given), puts the candidate program in place of the federate of one role — for
``household``, one household taken out of the built-in ems through ``ems.external`` — adds the
probe federate (`tefed.runtime.probe`), runs it all with tefed's runner under a stall
timeout and a wall-clock limit, and judges what happened with the checks of
`tefed.conformance.checks`. The candidate is started the way the builder starts every federate:
``COMMAND FEDERATION_FILE --name FEDERATE``, in the federation's base directory.

Each check run leaves its folder under ``<results_root>/check-federate/`` with the logs of every
federate, the probe's observations and ``conformance.json`` (the findings).
"""

from __future__ import annotations

import argparse
import math
import re
import secrets
import shlex
import sys
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tefed.analysis.run_tables import read_run_tables
from tefed.build.builder import CORE_TYPE, HELICS_LOG_LEVEL, build_federation
from tefed.conformance.checks import CHECKS, run_checks
from tefed.conformance.observations import (
    CheckInputs,
    ExpectedInterfaces,
    Finding,
    RunSummary,
)
from tefed.conformance.roles import ORDERING_ROLES, ROLES
from tefed.contract.errors import EXIT_USER_ERROR, InputError
from tefed.contract.federation_file import FederationFile
from tefed.contract.run_folder import RunFolder
from tefed.contract.shard_layout import ShardLayout
from tefed.run.runner import run_federation
from tefed.runtime.probe import OBSERVATIONS_FILE, PROBE_NAME, ProbeObservations
from tefed.scenario.model import MAX_WALL_CLOCK_S, ExternalHousehold, Scenario, load_scenario

#: Exit code of ``tefed check-federate`` when the candidate violates the contract.
EXIT_VIOLATIONS = 1
#: Seconds the candidate has to disconnect after every other federate finished.
DISCONNECT_GRACE_S = 10.0

#: The built-in harness scenario: one hour around noon (PV trades) of four households on a
#: small generated feeder, a MicroTE double auction, 15-minute intervals (three with a market).
HARNESS_SCENARIO: dict[str, Any] = {
    "name": "check-federate",
    "description": "tefed check-federate's built-in harness: four households, one hour.",
    "seed": 11,
    "time": {
        "start": "2022-06-21T11:00:00",
        "timezone": "Europe/Berlin",
        "duration_s": 3600,
        "grid_step_s": 60,
        "market_interval_s": 900,
        "gate_closure_s": 60,
    },
    "site": {"latitude_deg": 48.0, "longitude_deg": 7.85, "altitude_m": 280},
    "grid": {"feeder": {"generator": "radial_lv", "laterals": 1, "transformer_kva": 100}},
    "market": {"mechanism": "double_auction"},
    "households": [
        {
            "group": "pv",
            "count": 2,
            "strategy": "self_consumption",
            "load_daily_energy_kwh": 10,
            "pv": {"kwp": 5, "tilt_deg": 30, "azimuth_deg": 180},
        },
        {"group": "consumers", "count": 2, "strategy": "self_consumption"},
    ],
    "run": {
        "stall_timeout_s": 20,
        "startup_timeout_s": 60,
        "wall_clock_limit_s": 120,
        "progress_every_s": 900,
    },
}

#: The probe program (the federation file and ``--name`` follow).
PROBE_COMMAND = (sys.executable, "-m", "tefed.runtime.probe")

_UNPUBLISHED_TARGET = re.compile(r"Unable to connect to Publication target (\S+)")


@dataclass
class Harness:
    """A federation built to check one candidate, and where it runs.

    Parameters
    ----------
    federation : FederationFile
        The harness federation: the candidate's entry, the probe's, the built-in others.
    path : Path
        Where its federation file is written (inside ``folder``).
    folder : RunFolder
        The run folder of the check.
    role : str
        The role the candidate takes (one of ``ROLES``).
    federate : str
        The candidate's federate name (``household_<id>`` for a household).
    households : tuple of str
        Households the candidate hosts (roles ``ems`` and ``household``).
    """

    federation: FederationFile
    path: Path
    folder: RunFolder
    role: str
    federate: str
    households: tuple[str, ...]


@dataclass
class CheckReport:
    """The findings of one check run.

    Parameters
    ----------
    role, federate : str
        The role checked and the candidate's federate name.
    command : list of str
        The candidate program as given.
    findings : list of Finding
        Every violation found (empty: conformant).
    folder : Path
        The run folder (logs, probe observations, ``conformance.json``).
    """

    role: str
    federate: str
    command: list[str]
    findings: list[Finding]
    folder: Path

    @property
    def conformant(self) -> bool:
        """True when no check found a violation."""
        return not self.findings


def build_harness(
    role: str,
    command: list[str],
    base_dir: Path,
    scenario_path: Path | None = None,
    time_limit_s: float | None = None,
    disconnect_grace_s: float = DISCONNECT_GRACE_S,
) -> Harness:
    """Build the harness federation with ``command`` in place of the federate of ``role``.

    Parameters
    ----------
    role : str
        One of ``ROLES``.
    command : list of str
        The candidate program and its arguments; the federation file and ``--name FEDERATE``
        are appended.
    base_dir : Path
        Working directory of every federate (and the folder of the results of the built-in
        harness scenario; a scenario file's results root is relative to the file).
    scenario_path : Path, optional
        Scenario to build the harness from (default: ``HARNESS_SCENARIO``).
    time_limit_s : float, optional
        Wall-clock limit of the run [s] (default: the scenario's ``run.wall_clock_limit_s``).
    disconnect_grace_s : float
        Time the candidate has to disconnect once every other federate finished [s].

    Raises
    ------
    InputError
        For an unknown role, an empty command, a time limit that is not a positive finite number
        of seconds up to ``MAX_WALL_CLOCK_S`` (a scenario's ``run.wall_clock_limit_s`` bound),
        or a scenario with problems.
    """
    if role not in ROLES:
        raise InputError("--role", [f"got {role!r}; expected one of {list(ROLES)}"])
    if not command:
        raise InputError("command", ["missing; give the program after '--'"])
    if time_limit_s is not None and not 0 < time_limit_s <= MAX_WALL_CLOCK_S:
        raise InputError(
            "--time-limit",
            [
                f"got {time_limit_s:g}; expected a positive finite number of seconds, at most "
                f"{MAX_WALL_CLOCK_S:.0f} (30 days)"
            ],
        )
    if not 0 <= disconnect_grace_s < math.inf:
        raise InputError(
            "disconnect_grace_s",
            [f"got {disconnect_grace_s:g}; expected a finite number of seconds, at least 0"],
        )
    if scenario_path is None:
        scenario, scenario_dir = Scenario.model_validate(HARNESS_SCENARIO), base_dir
    else:
        scenario, scenario_dir = load_scenario(scenario_path)
    root = scenario_dir / scenario.run.results_root / "check-federate"
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    folder_path = root / f"{role}-{stamp}-{secrets.token_hex(3)}"
    path = folder_path / "federation.json"
    household = None
    if role == "household":
        draft = build_federation(scenario, scenario_dir, path, base_dir, write_network=False)
        household = _household_to_replace(draft, scenario)
        scenario = scenario.model_copy(deep=True)
        external = ExternalHousehold(household_id=household, exec=shlex.join(command))
        scenario.ems.external.append(external)
    data = build_federation(scenario, scenario_dir, path, base_dir).model_dump(
        mode="json", exclude_none=True
    )
    entry = _candidate_entry(data, role, household)
    # The builder's exec lines end with FEDERATION_FILE --name FEDERATE.
    words = shlex.split(entry["exec"])
    entry["exec"] = shlex.join([*command, *words[-3:]])
    data["federates"].append(
        _probe_entry(entry, words[-3], scenario.run.broker_port, disconnect_grace_s)
    )
    for broker in data["federates"]:
        broker["exec"] = re.sub(
            r"^(.*--federates=)(\d+)",
            lambda match: f"{match.group(1)}{int(match.group(2)) + 1}",
            broker["exec"],
        )
    data["tefed"]["results"]["root"] = str(root)
    if time_limit_s is not None:
        data["tefed"]["runtime"]["wall_clock_limit_s"] = float(time_limit_s)
    hosted = entry["tefed"]["config"]["households"] if role in ORDERING_ROLES else []
    return Harness(
        FederationFile.model_validate(data),
        path,
        RunFolder(folder_path),
        role,
        entry["name"],
        tuple(hosted),
    )


def _household_to_replace(draft: FederationFile, scenario: Scenario) -> str:
    """The first household that trades and is not external yet (else the first one not
    external)."""
    table = draft.households_frame()
    taken = {entry.household_id for entry in scenario.ems.external}
    free = table[~table["household_id"].isin(taken) & ~table["serves_community"].astype(bool)]
    if free.empty:
        raise InputError("ems.external", ["every household is already external"])
    trading = free[free["strategy"] != "net_billing"]
    return str((trading if not trading.empty else free)["household_id"].iloc[0])


def _candidate_entry(data: dict[str, Any], role: str, household: str | None) -> dict[str, Any]:
    for entry in data["federates"]:
        tefed = entry.get("tefed") or {}
        if household is not None:
            if entry["name"] == f"household_{household}":
                return entry
        elif tefed.get("role") == role and not entry["name"].startswith("household_"):
            return entry
    raise InputError("--role", [f"the scenario has no federate of role {role!r}"])


def _probe_entry(
    candidate: dict[str, Any], federation_arg: str, port: int, disconnect_grace_s: float
) -> dict[str, Any]:
    return {
        "name": PROBE_NAME,
        "directory": candidate["directory"],
        "exec": shlex.join([*PROBE_COMMAND, federation_arg, "--name", PROBE_NAME]),
        "helics": {
            "name": PROBE_NAME,
            "core_type": CORE_TYPE,
            "brokerport": str(port),
            "log_level": HELICS_LOG_LEVEL,
        },
        "conformance": {"federate": candidate["name"], "disconnect_grace_s": disconnect_grace_s},
    }


def run_harness(harness: Harness, base_dir: Path) -> CheckInputs:
    """Run the harness federation and gather what the checks look at.

    Parameters
    ----------
    harness : Harness
        As `build_harness` made it.
    base_dir : Path
        Working directory of the federates.

    Returns
    -------
    CheckInputs
        What the candidate's role declares, the probe's observations, how the run ended, the
        built-in market's order table and the built-in ems's and price feed's records.

    Raises
    ------
    InputError
        When the candidate program cannot be started at all.
    """
    folder = harness.folder
    # A check run has no run report: it may lack tables the report needs, and a report failure
    # would be blamed on a built-in federate. Claiming it keeps every federate from writing it.
    folder.claim_report()
    outcome = run_federation(
        harness.federation, base_dir, folder, show_progress=False, source_path=harness.path
    )
    if outcome.input_error and harness.federate not in outcome.exit_codes:
        # The program could not even be started: a usage error, not a finding.
        raise InputError("command", [outcome.message.splitlines()[0]])
    observations_path = folder.file(OBSERVATIONS_FILE)
    if observations_path.exists():
        observations = ProbeObservations.from_json_text(observations_path.read_text())
    else:
        observations = ProbeObservations(errors=["the probe wrote no observations"])
    exit_codes = {k: v for k, v in outcome.exit_codes.items() if k not in ("broker", PROBE_NAME)}
    probe_stopped_run = outcome.failed_federate == PROBE_NAME and bool(
        observations.final and observations.final.get("candidate_connected")
    )
    failed = not outcome.ok and any(code != 0 for code in outcome.exit_codes.values())
    message = outcome.message if failed and not probe_stopped_run else ""
    run = RunSummary(
        exit_codes=exit_codes,
        message=message,
        failed_federate=outcome.failed_federate if message else None,
        time_limit_reached="wall-clock limit" in message,
        stalled="stalled" in message,
    )
    tables = read_run_tables(folder)
    return CheckInputs(
        role=harness.role,
        federate=harness.federate,
        households=harness.households,
        expected=ExpectedInterfaces.of_federate(harness.federation, harness.federate),
        time_grid=harness.federation.tefed.time.to_time_grid(),
        observations=observations,
        run=run,
        market_orders=tables.get("market_orders"),
        unpublished_targets=_unpublished_targets(folder),
        shard_layout=ShardLayout.from_federation(harness.federation),
        household_intervals=tables.get("household_intervals"),
        prices=tables.get("prices"),
    )


def _unpublished_targets(folder: RunFolder) -> tuple[str, ...]:
    """Subscription targets that HELICS, in any federate's log, found no publisher for."""
    found: set[str] = set()
    for log in folder.path.glob("logs/*.log"):
        found.update(_UNPUBLISHED_TARGET.findall(log.read_text(errors="replace")))
    return tuple(sorted(found))


def check_federate(
    role: str,
    command: list[str],
    base_dir: Path,
    scenario_path: Path | None = None,
    time_limit_s: float | None = None,
    disconnect_grace_s: float = DISCONNECT_GRACE_S,
) -> CheckReport:
    """Build the harness, run it and check the candidate.

    Parameters are those of `build_harness`. The findings are also written to
    ``conformance.json`` in the run folder.

    Returns
    -------
    CheckReport
        The findings and the run folder.
    """
    harness = build_harness(
        role, command, base_dir, scenario_path, time_limit_s, disconnect_grace_s
    )
    inputs = run_harness(harness, base_dir)
    findings = run_checks(inputs)
    harness.folder.write_json(
        "conformance.json",
        {
            "role": role,
            "federate": harness.federate,
            "command": command,
            "conformant": not findings,
            "findings": [asdict(finding) for finding in findings],
        },
    )
    if not inputs.run.message and all(code == 0 for code in inputs.run.exit_codes.values()):
        harness.folder.mark_complete()
    return CheckReport(role, harness.federate, command, findings, harness.folder.path)


def print_report(report: CheckReport, console: Console) -> None:
    """The findings as a table, with what to fix, and the run folder."""
    title = f"{report.role} federate '{report.federate}': {shlex.join(report.command)}"
    if report.conformant:
        console.print(
            f"[bold green]conformant[/] {escape(title)} passed all {len(CHECKS)} checks",
            highlight=False,
        )
    else:
        table = Table(title=escape(title), show_lines=True)
        table.add_column("check", style="bold")
        table.add_column("problem")
        table.add_column("how to fix it")
        for finding in report.findings:
            table.add_row(*(escape(text) for text in (finding.check, finding.message, finding.fix)))
        console.print(table)
        console.print(
            f"[bold red]{len(report.findings)} violation(s)[/] of docs/interfaces.md",
            highlight=False,
        )
    console.print(f"run folder: {escape(str(report.folder))}", highlight=False, soft_wrap=True)


def run_check_federate(arguments: argparse.Namespace, console: Console) -> int:
    """Run ``tefed check-federate`` with parsed ``arguments``; errors go to ``console``.

    Returns
    -------
    int
        0 when the candidate conforms, 1 with violations, 2 for bad usage.
    """
    program = list(arguments.program)
    if program[:1] == ["--"]:
        program = program[1:]
    if not program:
        console.print("[bold red]error:[/] give the program to check after '--'", highlight=False)
        return EXIT_USER_ERROR
    report = check_federate(
        arguments.role, program, Path.cwd(), arguments.scenario, arguments.time_limit
    )
    print_report(report, Console())
    return 0 if report.conformant else EXIT_VIOLATIONS
