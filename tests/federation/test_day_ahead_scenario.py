"""The day-ahead scenario end to end: lockstep, and a short tefed run that agrees with it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from federations import REPO, free_port, lockstep_run, tefed_run, write_federation

from tefed.analysis.run_tables import read_run_tables
from tefed.contract.federation_file import FederationFile


def day_ahead_data(start: str, duration_s: int, gate_closure_hour: float = 12.0) -> dict:
    """scenarios/market_day_ahead.yaml from ``start`` for ``duration_s``, one shard or two."""
    return {
        "extends": str(REPO / "scenarios" / "market_day_ahead.yaml"),
        "name": "market_day_ahead",
        "time": {"start": start, "duration_s": duration_s},
        "market": {"gate_closure_hour": gate_closure_hour},
        "run": {"broker_port": free_port(), "progress_every_s": 900},
    }


def test_day_ahead_commitments_are_corrected_in_real_time_and_settle(tmp_path: Path) -> None:
    # Three hours around midday; each "day" of the run starts at 11:00, so with a gate closure
    # at hour 23 of the day before, the second day's market clears 1 h into the run (and has
    # periods only after the run: its commitments are never delivered).
    data = day_ahead_data("2022-06-21T11:00:00", 3 * 3600, gate_closure_hour=23)
    path = write_federation(tmp_path, data, plots=True)
    run = lockstep_run(path, tmp_path / "run")
    tables = read_run_tables(run)
    summary = json.loads(run.file("summary.json").read_text())
    assert summary["market"]["mechanism"] == "day_ahead"
    assert summary["checks"]["settlement_ok"] and summary["checks"]["energy_balance_ok"]
    clearings = tables["market_day_ahead_clearings"]
    assert clearings["gate_closure_s"].unique().tolist() == [0]
    assert clearings["orders"].min() > 0
    day_ahead = tables["market_day_ahead"]
    assert sorted(day_ahead["interval_index"].unique()) == list(range(1, 12))
    # Rule-based and optimizing households commit day-ahead and correct in real time.
    strategies = run_strategies(run)
    committed = day_ahead.loc[day_ahead["day_ahead_energy_wh"] != 0, "participant"]
    changed = day_ahead.loc[day_ahead["real_time_energy_wh"] != 0, "participant"]
    for strategy in ("self_consumption", "ma_crossover", "optimizing"):
        assert set(strategies[strategy]) & set(committed), strategy
        assert set(strategies[strategy]) & set(changed), strategy
    # Each household's trades of an interval add up to its commitment and its change.
    trades = tables["market_trades"]
    key = ["interval_index", "participant"]
    bought = trades.groupby(["interval_index", "buyer"])["quantity_wh"].sum().rename_axis(key)
    sold = trades.groupby(["interval_index", "seller"])["quantity_wh"].sum().rename_axis(key)
    net = bought.sub(sold, fill_value=0)
    expected = day_ahead.set_index(["interval_index", "participant"])
    expected = expected["day_ahead_energy_wh"] + expected["real_time_energy_wh"]
    pd.testing.assert_series_equal(
        net.reindex(expected.index, fill_value=0).astype("int64"),
        expected.astype("int64"),
        check_names=False,
    )
    states = pd.read_parquet(run.path / "market_states.parquet")
    assert set(states["market"]) == {"day_ahead", "real_time"}
    assert summary["market"]["day_ahead"]["day_ahead"]["bought_kwh"] > 0
    # Welfare from the recorded day-ahead curves and commitments and the real-time changes.
    assert set(tables["market_day_ahead_orders"]["interval_index"]) == set(
        clearings["interval_index"][clearings["orders"] > 0]
    )
    welfare = summary["market"]["welfare"]
    assert math.isfinite(welfare["welfare_usd"])
    assert welfare["welfare_usd"] == pytest.approx(
        welfare["day_ahead_welfare_usd"] + welfare["real_time_welfare_usd"]
    )
    assert welfare["real_time_welfare_usd"] != 0
    assert (run.path / "plots" / "day_ahead.png").exists()


def run_strategies(run) -> dict[str, list[str]]:
    """Household ids by strategy, from the run's federation file."""
    federation = FederationFile.model_validate_json(run.file("federation.json").read_text())
    households = federation.households_frame()
    return households.groupby("strategy")["household_id"].apply(list).to_dict()


@pytest.mark.federation
def test_a_short_tefed_run_matches_the_lockstep_run(tmp_path: Path) -> None:
    data = day_ahead_data("2022-06-21T11:00:00", 3600)
    data["ems"] = {"shards": 2}
    path = write_federation(tmp_path, data)
    completed = tefed_run(path)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    helics_dir = Path(completed.stdout.strip().splitlines()[-1])
    lockstep = lockstep_run(path, tmp_path / "lockstep")
    for name in ("market_trades", "market_settlements", "market_day_ahead_clearings"):
        left = pd.read_parquet(helics_dir / f"{name}.parquet")
        right = pd.read_parquet(lockstep.path / f"{name}.parquet")
        pd.testing.assert_frame_equal(left, right, check_exact=True, obj=name)
