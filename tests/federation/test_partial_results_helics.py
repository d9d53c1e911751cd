"""A HELICS run whose federate fails or is killed keeps every table up to the last flush."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from federations import federate_pid, helics_run, short_scenario_data, write_federation
from partial_results import TABLES, kept_steps_end_s, read_table
from test_failures import (
    CRASH_DEADLINE_S,
    federation_with_faulty_federate,
    tefed_run_in_background,
)

from tefed.contract.federation_file import FederationFile
from tefed.contract.run_folder import RESULTS_INCOMPLETE, RunFolder
from tefed.run.runner import run_federation

pytestmark = pytest.mark.federation

#: The injected fault comes in the second hour: every federate has flushed the first.
FAULT_AT_S = 5400


def tefed_report(run_dir: Path) -> dict:
    """``tefed report RUN_DIR`` as a user runs it; returns the summary it is made of."""
    completed = subprocess.run(
        [sys.executable, "-m", "tefed", "report", str(run_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "Traceback" not in completed.stderr
    assert "Incomplete results" in (run_dir / "report.html").read_text()
    return json.loads((run_dir / "summary.json").read_text())


def assert_every_table_kept(folder: RunFolder) -> None:
    for name in TABLES:
        assert len(read_table(folder, name)) > 0, f"{name} kept nothing"


def federation_with_market_failing_in_the_second_hour(folder: Path, fault: str) -> Path:
    return federation_with_faulty_federate(
        folder, "market", fault, fault_at_s=FAULT_AT_S, run__flush_min_wall_s=0
    )


@pytest.mark.parametrize("fault", ["raise", "kill"])
def test_a_market_that_fails_mid_run_leaves_every_table_up_to_the_last_flush(
    tmp_path: Path, fault: str
):
    path = federation_with_market_failing_in_the_second_hour(tmp_path, fault)
    federation = FederationFile.model_validate_json(path.read_text())
    outcome = run_federation(federation, tmp_path, show_progress=False, source_path=path)
    assert not outcome.ok and outcome.failed_federate == "market"
    assert_first_hour_kept_and_reported(outcome.run_folder)


def test_under_helics_run_a_failed_run_keeps_its_tables_too(tmp_path: Path):
    path = federation_with_market_failing_in_the_second_hour(tmp_path, "raise")
    completed = helics_run(path, timeout_s=CRASH_DEADLINE_S + 30)
    assert completed.returncode != 0
    run_dir = next((tmp_path / "results" / "default").glob("helics-*"))
    assert_first_hour_kept_and_reported(RunFolder(run_dir))


def assert_first_hour_kept_and_reported(folder: RunFolder) -> None:
    """The market failed in the second hour: every table holds the first, and the report
    covers its intervals."""
    status = folder.status()
    assert status["state"] == "failed" and status["results"] == RESULTS_INCOMPLETE
    assert_every_table_kept(folder)
    # Every federate flushed the first hour, none the second (the market failed in it).
    assert set(kept_steps_end_s(folder).values()) == {3600}
    settled = read_table(folder, "market_settlements")["interval_index"]
    assert sorted(settled.unique()) == [0, 1, 2, 3]
    summary = tefed_report(folder.path)
    assert summary["incomplete"]["completed_intervals"] == 3
    assert summary["incomplete"]["failed_federate"] == "market"
    assert "summary_error" not in summary["incomplete"]


def test_a_grid_killed_by_sigkill_leaves_every_table_up_to_its_last_flush(tmp_path: Path):
    """The built-in grid forked by ``tefed run``, killed once every federate flushed an hour."""
    path = write_federation(
        tmp_path, short_scenario_data(time__duration_s=86400, run__flush_min_wall_s=0)
    )
    runner = tefed_run_in_background(path)
    grid = federate_pid(tmp_path, "grid")
    deadline = time.monotonic() + CRASH_DEADLINE_S
    # Every federate has flushed its first hour (the others have no table before they do).
    while not all(
        list((tmp_path / "results").rglob(table))
        for table in ("grid.parquet", "market_settlements.parquet", "household_intervals")
    ):
        assert time.monotonic() < deadline, "the federates never flushed their first hour"
        time.sleep(0.1)
    os.kill(grid, 9)
    stdout, stderr = runner.communicate(timeout=CRASH_DEADLINE_S)
    assert runner.returncode == 1, stdout + stderr
    run_dir = Path(stdout.strip().splitlines()[-1])
    folder = RunFolder(run_dir)
    status = folder.status()
    assert status["state"] == "failed" and status["failed_federate"] == "grid"
    assert status["results"] == RESULTS_INCOMPLETE
    assert_every_table_kept(folder)
    kept_s = kept_steps_end_s(folder)
    assert all(end_s % 3600 == 0 and end_s < 86400 for end_s in kept_s.values()), kept_s
    summary = tefed_report(run_dir)
    incomplete = summary["incomplete"]
    assert 0 < incomplete["completed_intervals"] < incomplete["run_intervals"]
    assert incomplete["completed_until_s"] <= min(kept_s.values())
