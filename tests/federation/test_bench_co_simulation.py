"""The co-simulation scale bench's parts: its scenario files, the process-tree sampler, targets."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from benchmarks import co_simulation
from benchmarks.process_tree import (
    ProcessTreeSampler,
    kill_snapshot,
    process_tree,
    tree_snapshot,
)
from tefed.cli import main

#: A child that starts a grandchild holding this much memory, then both sleep.
HELD_MB = 120
TREE_SCRIPT = f"""
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c",
    "import time; block = bytearray({HELD_MB} * 2**20); block[::4096] = b'x' * len(block[::4096]);"
    " print('ready', flush=True); time.sleep(60)"], stdout=subprocess.PIPE, text=True)
child.stdout.readline()
print(child.pid, flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("case", co_simulation.CASES, ids=lambda case: case.key)
def test_every_bench_scenario_validates(case, capsys):
    assert main(["validate", str(case.scenario)]) == 0
    assert f"valid ({int(case.key)} households" in capsys.readouterr().out


def test_the_sampler_sums_the_whole_tree_and_the_snapshot_kills_it():
    parent = subprocess.Popen(
        [sys.executable, "-c", TREE_SCRIPT], stdout=subprocess.PIPE, text=True
    )
    try:
        grandchild = int(parent.stdout.readline())
        assert process_tree(parent.pid) == [parent.pid, grandchild]
        with ProcessTreeSampler(parent.pid, interval_s=0.05) as sampler:
            time.sleep(0.2)
        assert sampler.samples >= 2
        assert sampler.peak_processes == 2
        assert sampler.peak_rss_mb >= HELD_MB
        snapshot = tree_snapshot(parent.pid)
        assert set(kill_snapshot(snapshot)) == {parent.pid, grandchild}
        parent.wait(timeout=10)
        # Nothing of the tree is left to kill (the killed grandchild may linger as a zombie).
        deadline = time.monotonic() + 5
        while kill_snapshot(snapshot) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert kill_snapshot(snapshot) == []
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def test_cases_are_chosen_by_argument_then_environment(monkeypatch):
    monkeypatch.delenv(co_simulation.CASES_ENV, raising=False)
    assert [case.key for case in co_simulation.selected_cases()] == [
        "12",
        "100",
        "1000",
        "1500",
        "10000",
    ]
    assert [case.key for case in co_simulation.selected_cases("100, 12")] == ["100", "12"]
    monkeypatch.setenv(co_simulation.CASES_ENV, "1500")
    assert [case.key for case in co_simulation.selected_cases()] == ["1500"]
    with pytest.raises(ValueError, match="unknown co_simulation case"):
        co_simulation.selected_cases(["7"])


def run_result(outcome: str, wall_time_s: float, peak_rss_mb: float) -> dict:
    return {
        "outcome": outcome,
        "wall_time_s": wall_time_s,
        "peak_rss_mb": peak_rss_mb,
        "peak_pss_mb": 0.8 * peak_rss_mb,
    }


def test_a_failed_federation_meets_no_target_of_its_case():
    rows = [
        {
            "case": "1500",
            "lockstep": run_result("complete", 90.0, 900.0),
            "federation": run_result("failed", 30.0, 500.0),
            "federation_over_lockstep": None,
        },
        {
            "case": "12",
            "lockstep": run_result("complete", 4.0, 300.0),
            "federation": run_result("complete", 5.0, 600.0),
            "federation_over_lockstep": 1.25,
        },
    ]
    targets = co_simulation.evaluate_targets(rows)
    by_name = {target["name"]: target for target in targets}
    assert len(targets) == 5  # two for the default scenario, three for 1,500 households
    failed = [target for target in targets if target["name"].startswith("1,500")]
    assert all(not target["met"] and target["note"] == "tefed run failed" for target in failed)
    assert by_name["default scenario: federation / lockstep wall time"]["met"]
    assert by_name["default scenario: tefed run wall time"]["met"]


def processes_in(folder: Path) -> list[int]:
    """Pids working in ``folder`` (or below it) or naming it on their command line."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if cwd.startswith(str(folder)) or str(folder) in cmdline:
            found.append(int(entry.name))
    return found


def test_a_bad_scenario_is_recorded_as_failed_with_its_message(tmp_path: Path):
    scenario = tmp_path / "bad.yaml"
    scenario.write_text("name: bad\ntime: {duration_s: one day}\n")
    result = co_simulation.measure_run(scenario, lockstep=True, timeout_s=120, scratch=tmp_path)
    assert result["outcome"] == "failed"
    assert result["exit_code"] == 2
    assert "time.duration_s" in result["message"]
    assert result["federates"] == {}


@pytest.mark.federation
def test_a_run_past_its_time_limit_is_stopped_with_its_whole_tree(tmp_path: Path):
    """The bench's limit stops ``tefed run`` and every process under it. The federation is paced
    to the wall clock (a day at 600x takes 144 s), so it is surely up and surely not done when
    the limit strikes on a slow or busy machine, and it idles meanwhile instead of using CPU."""
    scratch = tmp_path / "timeout-scratch"
    scratch.mkdir()
    scenario = tmp_path / "paced.yaml"
    paced = {"realtime": True, "realtime_speed": 600, "results_root": "results"}
    base = str(co_simulation.CASES[0].scenario.resolve())
    scenario.write_text(yaml.safe_dump({"extends": base, "name": "paced", "run": paced}))
    result = co_simulation.measure_run(scenario, lockstep=False, timeout_s=12, scratch=scratch)
    assert result["outcome"] == "timeout"
    assert "12 s" in result["message"]
    assert result["peak_processes"] >= 2
    # Neither the broker nor any federate of the run is left.
    deadline = time.monotonic() + 10
    while processes_in(scratch) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_in(scratch) == []
