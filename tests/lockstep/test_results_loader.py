"""``tefed.results.load`` on real runs: one time convention, a typed summary, incomplete runs;
``tefed run --results DIR`` puts the run folder under DIR."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from federations import short_scenario_data, write_federation
from partial_results import FIRST_HOUR_STEPS_END_S, complete_and_failed_runs

import tefed.results
from tefed.cli import main
from tefed.contract.errors import InputError
from tefed.contract.run_folder import RunFolder

#: Tables with a time: per grid step, or per market interval.
TIME_INDEXED = {
    "households",
    "household_voltages",
    "grid",
    "grid_taps",
    "household_intervals",
    "prices",
    "market_orders",
    "market_trades",
    "market_awards",
    "market_settlements",
    "market_intervals",
    "market_ledger",
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunFolder, RunFolder]:
    return complete_and_failed_runs(tmp_path_factory.mktemp("loader"))


def test_every_time_indexed_table_has_time_s_and_an_aware_timestamp(runs):
    complete, _ = runs
    run = tefed.results.load(complete.path)
    assert run.tables.keys() >= TIME_INDEXED
    start = pd.Timestamp("2022-06-21T11:00:00", tz="Europe/Berlin")
    for name in TIME_INDEXED:
        table = run.tables[name]
        assert list(table.columns[:2]) == ["time_s", "timestamp"], name
        assert str(table["timestamp"].dt.tz) == "Europe/Berlin", name
        elapsed = (table["timestamp"] - start).dt.total_seconds()
        assert (elapsed == table["time_s"]).all(), name
    # Per-interval tables: time_s is the start of the interval.
    trades = run.tables["market_trades"]
    assert (trades["time_s"] == trades["interval_index"] * 900).all()
    prices = run.tables["prices"]
    assert (prices["timestamp"] == prices["interval_start"]).all()
    # The grid wrote its own timestamps: the same instants.
    written = pd.read_parquet(complete.file("grid.parquet"))
    assert (written["timestamp"].to_numpy() == run.grid["timestamp"].to_numpy()).all()
    # Tables without time are as written.
    assert "timestamp" not in run.tables["grid_nodes"]


def test_the_summary_is_typed_and_keeps_every_key(runs):
    complete, _ = runs
    run = tefed.results.load(complete.path)
    written = json.loads(complete.file("summary.json").read_text())
    summary = run.summary
    assert summary.community.self_sufficiency_pct == written["community"]["self_sufficiency_pct"]
    assert summary.community_bill_usd == written["community_bill_usd"]
    assert summary.market.welfare.welfare_usd == written["market"]["welfare"]["welfare_usd"]
    household = next(iter(written["households"]))
    assert summary.households[household].bill_usd == written["households"][household]["bill_usd"]
    assert summary.checks.all_passed is True
    # A key the model does not name is kept (the voltage section's per-household minutes).
    assert (
        summary.voltage.model_extra["household_minutes_outside_range"]
        == (written["voltage"]["household_minutes_outside_range"])
    )
    assert summary.model_dump(exclude_none=True)["pcc"] == {
        key: value for key, value in written["pcc"].items() if value is not None
    }


def test_federation_of_a_run_and_the_status_of_one_without_status_json(runs):
    complete, _ = runs
    run = tefed.results.load(complete.path)
    # Stepped by the test's helper, which records no status: nothing says it is complete.
    assert run.status.state == "unknown" and not run.status.complete
    assert run.completed_intervals == 8
    assert run.federation.tefed.scenario == "default"
    assert run.time_grid.market_interval_s == 900


def test_an_incomplete_run_loads_the_parts_written_so_far(runs):
    _, failed = runs
    # The market failed in the second hour: its tables are still folders of parts.
    assert (failed.path / "grid.parquet").is_dir()
    run = tefed.results.load(failed.path)
    assert not run.status.complete
    assert run.status.state == "failed" and run.status.results == "incomplete"
    assert run.status.failed_federate == "market"
    assert run.summary is None
    assert run.completed_intervals == 3
    assert run.grid["time_s"].max() == FIRST_HOUR_STEPS_END_S - 60
    assert str(run.grid["timestamp"].dt.tz) == "Europe/Berlin"
    with pytest.raises(AttributeError, match="no table 'market_dlmp'"):
        _ = run.market_dlmp


def test_load_refuses_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(InputError, match=r"no federation\.json"):
        tefed.results.load(tmp_path)


@pytest.mark.parametrize("source", ["scenario.yaml", "federation.json"])
def test_tefed_run_results_puts_the_run_under_the_folder(tmp_path, monkeypatch, capsys, source):
    path = write_federation(tmp_path / "in", short_scenario_data())
    monkeypatch.chdir(tmp_path)
    code = main(
        [
            "run",
            "--lockstep",
            "--no-progress",
            "--no-plots",
            "--results",
            "out",
            str(path.parent / source),
        ]
    )
    assert code == 0
    folder = Path(capsys.readouterr().out.strip().splitlines()[-1])
    assert folder.parent == tmp_path / "out" / "default"
    assert not (tmp_path / "in" / "results").exists()
    assert tefed.results.load(tmp_path / "out" / "default" / "latest").status.complete


def test_tefed_run_results_refuses_a_system_folder(tmp_path, capsys):
    path = write_federation(tmp_path, short_scenario_data())
    code = main(["run", "--lockstep", "--results", "/proc/tefed", str(path)])
    assert code == 2
    error = capsys.readouterr().err
    assert "--results" in error and "/proc/tefed" in error
