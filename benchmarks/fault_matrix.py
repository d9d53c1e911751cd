"""How fast a federation ends when one of its federates dies or hangs, with default timeouts.

The fault matrix of issue 14 as a user meets it: the default scenario stretched to a week (so
that it is still running), started with ``tefed run FILE`` and with ``helics run --path FILE``,
and once it is executing (the grid has written its first part) one federate is sent SIGKILL (dies)
or SIGSTOP (hangs: alive, answering nothing); the price feed, which HELICS lets publish the
whole run ahead and leave within seconds, as soon as its process is there. Per cell: the
seconds from the signal to the runner's exit, its exit code, the federate ``status.json``
names, and the processes of the run left afterwards. The run's own settings are the defaults
(``run.stall_timeout_s``, ``run.startup_timeout_s``), not the shortened ones of the test suite.

Targets (issue 14): every cell ends within 60 s, non-zero, naming the faulted federate, with
no process left. ``TEFED_BENCH_FAULT_CELLS=tefed:grid:hung,...`` runs some cells only.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

NAME = "fault_matrix"
SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "default.yaml"
RUNNERS = ("tefed", "helics")
FEDERATES = ("ems", "grid", "market", "price_feed")
FAULTS = {"killed": signal.SIGKILL, "hung": signal.SIGSTOP}
#: Target of issue 14: signal to runner exit [s].
LIMIT_S = 60.0
#: Longest the benchmark waits for a runner to end, or for a run to start executing [s].
GIVE_UP_S = 240.0
CELLS_ENV = "TEFED_BENCH_FAULT_CELLS"
#: Federates that need no input: HELICS lets them publish the whole run ahead in a few seconds
#: and leave, so their fault is sent as soon as their process is there (at startup).
AHEAD = ("price_feed",)
#: Simulated time of the stretched scenario [s]: far longer than any cell lasts.
DURATION_S = 7 * 86400


def run(output: Path) -> dict:
    """Every cell's figures and the matrix's targets."""
    chosen = os.environ.get(CELLS_ENV)
    cells = [
        (runner, name, fault)
        for runner in RUNNERS
        for name in FEDERATES
        for fault in FAULTS
        if not chosen or f"{runner}:{name}:{fault}" in chosen.split(",")
    ]
    rows = []
    for runner, name, fault in cells:
        print(f"  {runner} run, {name} {fault} ...", flush=True)
        row = _cell(runner, name, fault)
        print(
            f"    ended after {row['ended_after_s']:.1f} s, exit {row['exit_code']}, "
            f"named {row['named']!r}, {row['processes_left']} processes left",
            flush=True,
        )
        rows.append(row)
    slowest_s = max(row["ended_after_s"] for row in rows)
    wrong = [row for row in rows if row["named"] != row["federate"] or row["exit_code"] == 0]
    left = sum(row["processes_left"] for row in rows)
    return {
        "cells": rows,
        "targets": [
            _target("slowest cell: signal to runner exit", slowest_s, "s", "<=", LIMIT_S),
            _target("cells with exit 0 or the wrong federate named", len(wrong), "", "<=", 0),
            _target("processes left after the runs", left, "", "<=", 0),
        ],
    }


def _target(name: str, measured: float, unit: str, comparison: str, limit: float) -> dict:
    return {
        "name": name,
        "measured": measured,
        "unit": unit,
        "comparison": comparison,
        "limit": limit,
        "met": measured <= limit,
    }


def _cell(runner: str, name: str, fault: str) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        federation_path = _federation(folder)
        process = _start(runner, federation_path)
        try:
            if name in AHEAD:
                pid = _federate_pid(folder, name)
                run_dir = _run_folder(folder)
            else:
                run_dir = _executing_run_folder(folder)
                pid = _federate_pid(folder, name)
            faulted_at = time.monotonic()
            os.kill(pid, FAULTS[fault])
            try:
                process.communicate(timeout=GIVE_UP_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()
            ended_after_s = time.monotonic() - faulted_at
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
            time.sleep(1.0)  # what is left is what is still there a second after the exit
            left = _processes_of(folder)
            status = json.loads((run_dir / "status.json").read_text())
        finally:
            if process.poll() is None:
                process.kill()
            for leftover in _processes_of(folder):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(leftover, signal.SIGKILL)
    return {
        "runner": f"{runner} run",
        "federate": name,
        "fault": fault,
        "ended_after_s": ended_after_s,
        "exit_code": process.returncode,
        "state": status.get("state"),
        "named": status.get("failed_federate"),
        "processes_left": len(left),
    }


def _federation(folder: Path) -> Path:
    """The default scenario stretched to a week, built into ``folder/federation.json``."""
    scenario = folder / "scenario.yaml"
    scenario.write_text(
        yaml.safe_dump(
            {
                "extends": str(SCENARIO),
                "name": "default_week",
                "time": {"duration_s": DURATION_S},
                "run": {"results_root": "results"},
            }
        )
    )
    federation_path = folder / "federation.json"
    subprocess.run(
        [sys.executable, "-m", "tefed", "build", str(scenario), "-o", str(federation_path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return federation_path


def _start(runner: str, federation_path: Path) -> subprocess.Popen:
    environment = dict(os.environ)
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment['PATH']}"
    if runner == "tefed":
        command = [sys.executable, "-m", "tefed", "run", str(federation_path), "--no-progress"]
    else:
        command = [str(Path(sys.executable).parent / "helics"), "run", "--path", "federation.json"]
    return subprocess.Popen(
        command,
        cwd=federation_path.parent,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _executing_run_folder(folder: Path) -> Path:
    """The run folder, once the grid has written its first part (its first flush, at the first
    simulated-hour boundary after `run.flush_min_wall_s` of stepping)."""
    deadline = time.monotonic() + GIVE_UP_S
    while time.monotonic() < deadline:
        for part in (folder / "results").glob("*/*/grid.parquet/*.parquet"):
            return part.parent.parent
        time.sleep(0.2)
    raise RuntimeError(f"the run in {folder} never started executing")


def _run_folder(folder: Path) -> Path:
    """The run folder, once its status file is there."""
    deadline = time.monotonic() + GIVE_UP_S
    while time.monotonic() < deadline:
        for status in (folder / "results").glob("*/*/status.json"):
            return status.parent
        time.sleep(0.05)
    raise RuntimeError(f"the run in {folder} never wrote its status")


def _federate_pid(folder: Path, name: str) -> int:
    """The process of federate ``name`` of the run in ``folder`` (its command line or cwd)."""
    deadline = time.monotonic() + GIVE_UP_S
    while time.monotonic() < deadline:
        for pid in _processes_of(folder):
            with contextlib.suppress(OSError):
                command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                if f"--name {name} " in f"{command} ":
                    return pid
        time.sleep(0.02)
    raise RuntimeError(f"no {name} federate runs in {folder}")


def _processes_of(folder: Path) -> list[int]:
    """Live processes (not zombies) that run in ``folder`` or name it on their command line."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            working = (entry / "cwd").resolve()
        except OSError:
            continue
        inside = working == folder.resolve() or folder.resolve() in working.parents
        if state != "Z" and (inside or str(folder) in command):
            found.append(int(entry.name))
    return found
