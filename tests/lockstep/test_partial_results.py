"""A run that fails keeps every table up to its last flush, readable and marked incomplete."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from federations import short_scenario_data, write_federation
from partial_results import (
    FIRST_HOUR_STEPS_END_S,
    TABLES,
    MarketFailingMidRun,
    complete_and_failed_runs,
    read_table,
)

from tefed.analysis.run_tables import read_run_tables
from tefed.cli import main
from tefed.contract.run_folder import RESULTS_INCOMPLETE, RunFolder
from tefed.federates.builtin import builtin_logic
from tefed.reporting.report import write_report
from tefed.run import lockstep_run as lockstep_command


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunFolder, RunFolder]:
    """The same federation run to the end, and run until its market fails."""
    return complete_and_failed_runs(tmp_path_factory.mktemp("partial"))


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_table_of_a_failed_run_is_the_complete_runs_up_to_the_failure(runs, name: str):
    complete, failed = runs
    whole, partial = read_table(complete, name), read_table(failed, name)
    assert len(partial) > 0, f"{name} kept nothing"
    assert len(partial) <= len(whole)
    if TABLES[name]:
        # Per-step tables hold exactly the first hour (the last flush before the failure).
        assert partial["time_s"].max() < FIRST_HOUR_STEPS_END_S <= whole["time_s"].max()
    if name != "prices":
        assert len(partial) < len(whole), f"{name} holds rows the failed run never made"
    # The rows kept are the complete run's first rows, with the same dtypes (the ledger's
    # first orders, first awards and first settlements: it lists each kind in turn).
    sections = ["order", "award", "settlement"] if name == "market_ledger" else [None]
    for record in sections:
        kept = partial if record is None else first_rows_of(partial, record)
        made = whole if record is None else first_rows_of(whole, record)
        pd.testing.assert_frame_equal(kept, made.head(len(kept)), check_exact=True)


def first_rows_of(ledger: pd.DataFrame, record: str) -> pd.DataFrame:
    """The ledger's rows of one kind of record, in order."""
    return ledger[ledger["record"] == record].reset_index(drop=True)


def test_a_failed_run_is_marked_incomplete_and_its_report_covers_the_completed_hour(runs):
    _, failed = runs
    assert failed.status()["results"] == RESULTS_INCOMPLETE
    summary = write_report(failed)
    incomplete = summary["incomplete"]
    # Intervals 0–2 are settled and recorded by every federate when the first hour is flushed.
    assert incomplete["completed_intervals"] == 3
    assert incomplete["run_intervals"] == 8
    assert incomplete["failed_federate"] == "market"
    assert "summary_error" not in incomplete
    assert summary["metadata"]["results"] == RESULTS_INCOMPLETE
    assert summary["checks"]
    assert summary["market"]["trades"] >= 0
    written = json.loads(failed.file("summary.json").read_text())
    assert written["incomplete"]["completed_intervals"] == 3


def test_tefed_report_on_a_failed_run_labels_it_incomplete(runs, capsys):
    _, failed = runs
    assert main(["report", str(failed.path)]) == 0
    page = (failed.path / "report.html").read_text()
    assert "Incomplete results" in page
    assert "first 3 of 8 market intervals" in page


def test_a_run_killed_while_writing_its_first_part_reports_no_intervals(runs, tmp_path):
    complete, _ = runs
    folder = RunFolder(tmp_path / "killed")
    folder.write_text("federation.json", complete.file("federation.json").read_text())
    folder.mark_failed("grid", "killed")
    # What a grid killed while writing its first part leaves: a hidden temporary file.
    (folder.path / "grid.parquet").mkdir()
    (folder.path / "grid.parquet" / ".p000000-000000000.parquet.tmp-99").write_bytes(b"PAR1")
    assert read_run_tables(folder) == {}
    summary = write_report(folder)
    assert summary["incomplete"]["completed_intervals"] == 0
    assert not folder.file("summary.json").exists()
    assert main(["report", str(folder.path)]) == 0


def test_tefed_run_lockstep_keeps_every_table_of_a_failed_run(tmp_path, monkeypatch, capsys):
    path = write_federation(tmp_path, short_scenario_data(run__flush_min_wall_s=0))
    monkeypatch.chdir(tmp_path)
    factories = {**builtin_logic(), "market": MarketFailingMidRun}
    monkeypatch.setattr(lockstep_command, "builtin_logic", lambda: factories)
    scenario = str(path.parent / "scenario.yaml")
    assert main(["run", "--lockstep", scenario, "--no-progress", "--no-plots"]) == 1
    folder = RunFolder(Path(capsys.readouterr().out.strip().splitlines()[-1]))
    assert folder.status()["results"] == RESULTS_INCOMPLETE
    for name, per_step in TABLES.items():
        table = read_table(folder, name)
        assert len(table) > 0, f"{name} kept nothing"
        if per_step:
            assert table["time_s"].max() == FIRST_HOUR_STEPS_END_S - 60


#: Households whose batteries cover their load from some interval on, so that their meters
#: read 0 Wh and the market settles those intervals without a single settlement row: at night
#: with batteries only (every interval), and from dawn with PV and a large battery (the
#: morning's later intervals).
NOTHING_SETTLED_LATE = {
    "batteries at night": (
        "2022-06-21T00:00:00",
        7200,
        {"battery": {"capacity_kwh": 10, "power_kw": 5}},
    ),
    "PV and a large battery from dawn": (
        "2022-06-21T05:00:00",
        14400,
        {
            "pv": {"kwp": 10},
            "battery": {"capacity_kwh": 40, "power_kw": 10, "soc_initial": 0.1, "soc_min": 0.1},
        },
    ),
}


@pytest.mark.parametrize("case", sorted(NOTHING_SETTLED_LATE))
def test_a_complete_run_whose_last_intervals_settle_no_row_is_summarised_whole(
    tmp_path: Path, case: str, capsys
):
    start, duration_s, devices = NOTHING_SETTLED_LATE[case]
    data = short_scenario_data(time__start=start, time__duration_s=duration_s)
    data["households"] = [{"group": "a", "count": 3, "strategy": "self_consumption", **devices}]
    path = write_federation(tmp_path, data)
    assert main(["run", str(path), "--lockstep", "--no-progress", "--no-plots"]) == 0
    run_dir = Path(capsys.readouterr().out.strip().splitlines()[-1])
    summary = json.loads((run_dir / "summary.json").read_text())
    # Before: counted only to the last interval with a settlement row, so the complete run
    # was summarised as incomplete (10 of 16 intervals, its PV cut short), or not at all and
    # `tefed run` ended with a traceback (no summary.json).
    assert "incomplete" not in summary
    assert summary["metadata"]["results"] == "complete"
    households = read_run_tables(RunFolder(run_dir))["households"]
    pv_kwh = households["pv_power_kw"].sum() * data["time"]["grid_step_s"] / 3600
    assert summary["community"]["pv_kwh"] == pytest.approx(pv_kwh)


def test_a_finished_run_without_a_summary_is_reported_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
):
    # A report that finds no completed interval writes no summary (as for a run that failed
    # at once); `tefed run` read summary.json anyway and ended with FileNotFoundError.
    monkeypatch.setattr("tefed.reporting.report.completed_intervals", lambda *_: 0)
    path = write_federation(tmp_path, short_scenario_data(time__duration_s=1800))
    assert main(["run", str(path), "--lockstep", "--no-progress", "--no-plots"]) == 1
    captured = capsys.readouterr()
    assert "run finished without a summary" in captured.out + captured.err
    run_dir = Path(captured.out.strip().splitlines()[-1])
    assert (run_dir / "households.parquet").exists() or (run_dir / "households").is_dir()
