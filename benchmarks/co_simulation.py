"""What co-simulation costs, from 12 to 10,000 households: HELICS federation versus lockstep.

Each case runs twice, one after the other, as a user runs it, each a subprocess of its own:

- ``tefed run --lockstep SCENARIO --no-progress``: every federate's logic stepped in one process,
  without HELICS (the baseline);
- ``tefed run SCENARIO --no-progress``: the broker and one process per federate.

For each run the bench records the wall time from starting the process to its exit [s], the
peak summed RSS of the whole process tree [MB] (``process_tree``, sampled every 0.2 s), the exit
code and the run's status, and each federate's busy and waiting time from the run folder. A run
that fails or passes its time limit is recorded with its message; the bench goes on.

A small case runs ``repeats`` times, lockstep and federation alternating, and each mode's run
with the median wall time stands for it (every wall time is kept in ``wall_times_s``): a few
seconds of run vary by a second on a shared 2-core machine.

Cases (``--cases 12,100`` or ``TEFED_BENCH_CASES=12,100`` run a subset; all by default):

====== ==================================================== ============
case   scenario                                             size
====== ==================================================== ============
12     ``scenarios/default.yaml``                           12 × 1 day
100    ``benchmarks/scenarios/households_100.yaml``         100 × 1 day
1000   ``benchmarks/scenarios/households_1000.yaml``        1,000 × 1 day
1500   ``benchmarks/scenarios/households_1500_2days.yaml``  1,500 × 2 days
10000  ``benchmarks/scenarios/households_10000_4shards.yaml`` 10,000 × 1 day, 4 ems shards
====== ==================================================== ============
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.process_tree import ProcessTreeSampler, kill_snapshot, tree_snapshot

NAME = "co_simulation"
BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
#: Environment variable choosing cases when ``--cases`` is not given, e.g. ``12,100``.
CASES_ENV = "TEFED_BENCH_CASES"
#: Seconds between two samples of the process tree's memory.
SAMPLE_INTERVAL_S = 0.2
#: A run may take its scenario's wall-clock limit plus this long (startup, report) [s].
TIMEOUT_MARGIN_S = 120.0
#: Time limit of a run whose scenario does not load [s].
DEFAULT_TIMEOUT_S = 900.0
#: Seconds a run gets to stop after SIGTERM before its whole tree is killed.
STOP_GRACE_S = 20.0
#: Lines of a failed run's standard error kept as its message.
MESSAGE_LINES = 12
#: Width of the printed tables when the output is not a terminal [characters].
TABLE_WIDTH = 120


@dataclass(frozen=True)
class Case:
    """One row of the scale table: a scenario file, named by its household count."""

    key: str
    scenario: Path
    #: Runs per mode; the run with the median wall time is reported.
    repeats: int = 1


CASES = (
    Case("12", REPO / "scenarios" / "default.yaml", repeats=5),
    Case("100", BENCH_DIR / "scenarios" / "households_100.yaml", repeats=3),
    Case("1000", BENCH_DIR / "scenarios" / "households_1000.yaml"),
    Case("1500", BENCH_DIR / "scenarios" / "households_1500_2days.yaml"),
    Case("10000", BENCH_DIR / "scenarios" / "households_10000_4shards.yaml"),
)


@dataclass(frozen=True)
class Target:
    """A limit from the issue on one figure of one case."""

    case: str
    #: "ratio", "wall_time_s", "peak_rss_mb", "peak_pss_mb", "startup_s" (of the federation
    #: run), "completes"
    figure: str
    limit: float
    unit: str
    name: str


TARGETS = (
    Target("12", "ratio", 1.5, "x", "default scenario: federation / lockstep wall time"),
    Target("12", "wall_time_s", 10.0, "s", "default scenario: tefed run wall time"),
    Target("1000", "ratio", 1.25, "x", "1,000 households x 1 day: federation / lockstep"),
    Target("1500", "wall_time_s", 120.0, "s", "1,500 households x 2 days: tefed run wall time"),
    Target("1500", "peak_rss_mb", 2048.0, "MB", "1,500 households x 2 days: tefed run peak RSS"),
    Target("1500", "peak_pss_mb", 2048.0, "MB", "1,500 households x 2 days: tefed run peak PSS"),
    Target("10000", "completes", 1.0, "", "10,000 households x 1 day, 4 shards: tefed run ends"),
    Target("10000", "startup_s", 30.0, "s", "10,000 households, 4 shards: in executing mode"),
    Target("10000", "wall_time_s", 900.0, "s", "10,000 households x 1 day: tefed run wall time"),
    Target("10000", "peak_rss_mb", 8192.0, "MB", "10,000 households x 1 day: tefed run peak RSS"),
    Target("10000", "peak_pss_mb", 8192.0, "MB", "10,000 households x 1 day: tefed run peak PSS"),
)

MODES = ("lockstep", "federation")


def selected_cases(cases: Sequence[str] | str | None = None) -> list[Case]:
    """The cases to run: ``cases`` (keys, or one comma-separated string), else the ones in
    ``$TEFED_BENCH_CASES``, else all.

    Raises
    ------
    ValueError
        Naming an unknown case and the known ones.
    """
    if cases is None:
        cases = os.environ.get(CASES_ENV) or None
    if cases is None:
        return list(CASES)
    if isinstance(cases, str):
        cases = cases.split(",")
    keys = [key.strip().replace("_", "") for key in cases if key.strip()]
    known = {case.key: case for case in CASES}
    unknown = [key for key in keys if key not in known]
    if unknown:
        raise ValueError(f"unknown co_simulation case(s) {unknown}; known: {list(known)}")
    return [known[key] for key in keys]


def run(output: Path, cases: Sequence[str] | str | None = None) -> dict[str, Any]:
    """Run the selected cases both ways; print the scale table; return the figures.

    The figures so far are also written to ``output/co_simulation.json`` after every run, so an
    interrupted bench keeps what it measured.
    """
    chosen = selected_cases(cases)
    figures: dict[str, Any] = {"cases": [], "targets": [], "complete": False}
    with tempfile.TemporaryDirectory(prefix="tefed-bench-") as scratch:
        for case in chosen:
            row = _case_row(case)
            figures["cases"].append(row)
            runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
            for repeat in range(case.repeats):
                for mode in MODES:
                    counter = f" (run {repeat + 1} of {case.repeats})" if case.repeats > 1 else ""
                    print(f"  {case.key} households, {mode}{counter} ...", flush=True)
                    result = measure_run(
                        case.scenario, mode == "lockstep", row["timeout_s"], Path(scratch)
                    )
                    _print_run(result)
                    runs[mode].append(result)
                    row[mode] = median_run(runs[mode])
                    row["federation_over_lockstep"] = _ratio(row)
                    _write(output, figures)
    figures["targets"] = evaluate_targets(figures["cases"])
    figures["complete"] = True
    print_tables(figures["cases"])
    return figures


def median_run(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median wall time (of an even count, the slower middle one), with every
    run's wall time in ``wall_times_s``; a failed run stands for the mode if there is one."""
    failed = [result for result in results if result["outcome"] != "complete"]
    if failed:
        chosen = failed[0]
    else:
        ordered = sorted(results, key=lambda result: result["wall_time_s"])
        chosen = ordered[len(ordered) // 2]
    return {**chosen, "wall_times_s": [result["wall_time_s"] for result in results]}


def _case_row(case: Case) -> dict[str, Any]:
    """The case's size as its scenario says (the runs report a scenario that does not load)."""
    from tefed.scenario.model import load_scenario

    row: dict[str, Any] = {
        "case": case.key,
        "scenario": str(case.scenario.relative_to(REPO)),
        "households": None,
        "days": None,
        "ems_shards": None,
        "timeout_s": DEFAULT_TIMEOUT_S,
        "repeats": case.repeats,
    }
    try:
        scenario, _ = load_scenario(case.scenario)
    except Exception as error:
        print(f"  case {case.key}: {error}", flush=True)
    else:
        row["households"] = sum(group.count for group in scenario.households)
        row["days"] = scenario.time.duration_s / 86400
        row["ems_shards"] = scenario.ems.shards
        row["timeout_s"] = scenario.run.wall_clock_limit_s + TIMEOUT_MARGIN_S
    return {**row, "lockstep": None, "federation": None, "federation_over_lockstep": None}


def tefed_command() -> list[str]:
    """``tefed`` as installed next to this interpreter (else ``python -m tefed``)."""
    installed = Path(sys.executable).parent / "tefed"
    return [str(installed)] if installed.exists() else [sys.executable, "-m", "tefed"]


def measure_run(scenario: Path, lockstep: bool, timeout_s: float, scratch: Path) -> dict[str, Any]:
    """Run ``tefed run [--lockstep] SCENARIO --no-progress`` as a subprocess and measure it.

    Parameters
    ----------
    scenario : Path
        Scenario file to run.
    lockstep : bool
        Step the federates in one process (``--lockstep``) instead of as a federation.
    timeout_s : float
        Wall time after which the run is stopped and recorded as timed out [s].
    scratch : Path
        Folder under which the run gets a working directory of its own (its results go there).

    Returns
    -------
    dict
        ``wall_time_s``, ``peak_rss_mb``, ``peak_processes``, ``exit_code``, ``outcome``
        (complete, failed or timeout), ``message``, ``run_status`` and ``federates`` (each
        federate's ``busy_s`` and ``waiting_s``).
    """
    command = [
        *tefed_command(),
        "run",
        *(["--lockstep"] if lockstep else []),
        str(scenario.resolve()),
        "--no-progress",
    ]
    workdir = Path(tempfile.mkdtemp(prefix="lockstep-" if lockstep else "federation-", dir=scratch))
    stdout_path, stderr_path = workdir / "stdout.txt", workdir / "stderr.txt"
    load_before = os.getloadavg()[0]
    timed_out = False
    with stdout_path.open("w") as stdout, stderr_path.open("w") as stderr:
        started = time.monotonic()
        started_unix_s = time.time()
        process = subprocess.Popen(
            command, cwd=workdir, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr
        )
        with ProcessTreeSampler(process.pid, SAMPLE_INTERVAL_S) as sampler:
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
                _stop(process)
            wall_time_s = time.monotonic() - started
    run_dir = _run_folder(workdir, stdout_path.read_text())
    status = _read_json(run_dir / "status.json") if run_dir else {}
    federates = _federate_times(run_dir) if run_dir else {}
    executing = [
        record["executing_since_unix_s"]
        for record in federates.values()
        if record.get("executing_since_unix_s") is not None
    ]
    if timed_out:
        outcome, message = "timeout", f"stopped after the bench's limit of {timeout_s:g} s"
    elif process.returncode == 0 and status.get("state") == "complete":
        outcome, message = "complete", ""
    else:
        outcome = "failed"
        message = _tail(stderr_path.read_text()) or status.get("message", "") or "no message"
    # The run's results can be large (10,000 households): only the figures are kept.
    shutil.rmtree(workdir, ignore_errors=True)
    return {
        "mode": "lockstep" if lockstep else "federation",
        "command": " ".join(["tefed", *command[len(tefed_command()) :]]),
        "outcome": outcome,
        "exit_code": process.returncode,
        "message": message,
        "wall_time_s": wall_time_s,
        "peak_rss_mb": sampler.peak_rss_mb,
        "peak_pss_mb": sampler.peak_pss_mb,
        "peak_processes": sampler.peak_processes,
        # From starting `tefed run` to the last federate granted executing mode [s].
        "startup_s": max(executing) - started_unix_s if executing else None,
        "rss_samples": sampler.samples,
        "load_average_1min_before": load_before,
        "run_status": status.get("state"),
        "federates": federates,
    }


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM the run (tefed run stops its federates), then kill whatever of its tree is left."""
    snapshot = tree_snapshot(process.pid)
    process.send_signal(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_GRACE_S)
    kill_snapshot(snapshot)
    process.wait()


def _run_folder(workdir: Path, stdout_text: str) -> Path | None:
    """The run folder that ``tefed run`` names on its last line (else the one under workdir)."""
    lines = stdout_text.strip().splitlines()
    if lines and Path(lines[-1]).is_dir():
        return Path(lines[-1])
    found = sorted(path.parent for path in workdir.glob("results/*/*/status.json"))
    return found[-1] if found else None


def _federate_times(run_dir: Path) -> dict[str, dict[str, float]]:
    """Each federate's busy and waiting time [s]: from summary.json, else the timing files."""
    summary = _read_json(run_dir / "summary.json")
    timing = summary.get("metadata", {}).get("federates") or {
        path.stem: _read_json(path) for path in sorted((run_dir / "timing").glob("*.json"))
    }
    return {
        name: {
            "busy_s": record.get("busy_s"),
            "waiting_s": record.get("waiting_s"),
            "executing_since_unix_s": record.get("executing_since_unix_s"),
        }
        for name, record in timing.items()
    }


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def _tail(text: str) -> str:
    return "\n".join(text.strip().splitlines()[-MESSAGE_LINES:])


def _ratio(row: dict[str, Any]) -> float | None:
    runs = [row.get(mode) for mode in MODES]
    if any(r is None or r["outcome"] != "complete" for r in runs):
        return None
    return runs[1]["wall_time_s"] / runs[0]["wall_time_s"]


def _write(output: Path, figures: dict[str, Any]) -> None:
    output.mkdir(parents=True, exist_ok=True)
    (output / f"{NAME}.json").write_text(json.dumps(figures, indent=2) + "\n")


def evaluate_targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's targets for the cases that ran; a figure counts only from a complete run."""
    by_case = {row["case"]: row for row in rows}
    targets = []
    for target in TARGETS:
        row = by_case.get(target.case)
        if row is None:
            continue
        federation = row["federation"]
        completed = federation["outcome"] == "complete"
        if target.figure == "completes":
            measured: float | None = 1.0 if completed else 0.0
            met = completed
        elif target.figure == "ratio":
            measured = row["federation_over_lockstep"]
            met = measured is not None and measured <= target.limit
        else:
            measured = federation.get(target.figure)
            met = completed and measured is not None and measured <= target.limit
        targets.append(
            {
                "name": target.name,
                "measured": measured,
                "unit": target.unit,
                "comparison": "==" if target.figure == "completes" else "<=",
                "limit": target.limit,
                "met": met,
                "note": "" if completed else f"tefed run {federation['outcome']}",
            }
        )
    return targets


# --- printing -------------------------------------------------------------------------------


def _print_run(result: dict[str, Any]) -> None:
    print(
        f"    {result['outcome']}: {result['wall_time_s']:.1f} s, "
        f"peak {result['peak_rss_mb']:.0f} MB RSS ({result['peak_pss_mb']:.0f} MB PSS) in "
        f"{result['peak_processes']} processes"
        + (
            f", executing {result['startup_s']:.1f} s after start"
            if result.get("startup_s") is not None
            else ""
        )
        + (f"\n    {result['message']}" if result["message"] else ""),
        flush=True,
    )


def print_tables(rows: list[dict[str, Any]]) -> None:
    """The scale table (one line per case and mode) and each federate's busy and waiting time."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    scale = Table(title="co-simulation scale: tefed run --lockstep vs tefed run")
    for column in ("households", "days", "shards", "mode", "outcome"):
        scale.add_column(column, justify="left" if column in ("mode", "outcome") else "right")
    for column in (
        "wall [s]",
        "federation / lockstep",
        "peak RSS [MB]",
        "peak PSS [MB]",
        "processes",
    ):
        scale.add_column(escape(column), justify="right")
    federates = Table(title="federates: busy and waiting time")
    for column in ("households", "mode", "federate", "busy [s]", "waiting [s]"):
        federates.add_column(
            escape(column), justify="left" if column in ("mode", "federate") else "right"
        )
    for row in rows:
        for mode in MODES:
            result = row.get(mode)
            if result is None:
                continue
            ratio = row["federation_over_lockstep"]
            scale.add_row(
                _count(row["households"]),
                _count(row["days"]),
                _count(row["ems_shards"]),
                mode,
                result["outcome"],
                f"{result['wall_time_s']:.1f}",
                f"{ratio:.2f}" if mode == "federation" and ratio is not None else "",
                f"{result['peak_rss_mb']:,.0f}",
                f"{result.get('peak_pss_mb', float('nan')):,.0f}",
                str(result["peak_processes"]),
            )
            for name, times in result["federates"].items():
                federates.add_row(
                    _count(row["households"]),
                    mode,
                    name,
                    _seconds(times["busy_s"]),
                    _seconds(times["waiting_s"]),
                )
    console = Console()
    if not console.is_terminal:
        console = Console(width=TABLE_WIDTH)  # not the 80 columns of a pipe
    console.print(scale)
    console.print(federates)


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _count(value: float | None) -> str:
    return "?" if value is None else f"{value:,g}"
