"""A 100-household federation with every strategy and device, end to end (lockstep)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tefed.analysis.run_tables import read_run_tables
from tefed.contract.federation_file import FederationFile
from tests.federations import lockstep_run, write_federation

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "mixed_strategies.yaml"


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory: pytest.TempPathFactory):
    data = yaml.safe_load(SCENARIO.read_text())
    data["time"]["start"] = "2022-06-21T09:00:00"  # sunny hours: PV surplus, trades, EVs
    data["time"]["duration_s"] = 3 * 3600
    folder = tmp_path_factory.mktemp("mixed")
    federation_path = write_federation(folder, data)
    run = lockstep_run(federation_path, folder / "run")
    return run, read_run_tables(run)


def test_every_check_of_the_mixed_run_passes(mixed_run) -> None:
    run, _ = mixed_run
    summary = run.read_json("summary.json")
    assert len(summary["households"]) == 101  # 100 households and the community battery
    assert all(summary["checks"][key] for key in summary["checks"] if key.endswith("_ok"))
    assert summary["checks"]["state_of_charge_within_limits"]
    assert summary["market"]["traded_energy_kwh"] > 0
    strategies = {row["strategy"] for row in summary["households"].values()}
    assert strategies == {"net_billing", "self_consumption", "ma_crossover", "optimizing"}


def test_devices_of_the_mixed_run_do_what_their_groups_say(mixed_run) -> None:
    run, tables = mixed_run
    households = tables["households"]
    table = FederationFile.model_validate_json(
        run.file("federation.json").read_text()
    ).households_frame()
    per_household = households.groupby("household_id")[
        ["ev_power_kw", "battery_power_kw", "pv_power_kw"]
    ].apply(lambda frame: frame.abs().sum())
    # From 9:00 to 12:00 the smart chargers are plugged in (from 9-11 h) and charge; the
    # uncontrolled ones left in the morning and come back in the evening.
    smart = table.index[table["ev_charging"] == "smart"]
    assert np.all(per_household.loc[smart, "ev_power_kw"] > 0)
    away = table.index[table["ev_charging"] == "uncontrolled"]
    assert len(away) > 0 and np.all(per_household.loc[away, "ev_power_kw"] == 0)
    no_ev = table.index[table["ev_charging"] == "none"]
    assert np.all(per_household.loc[no_ev, "ev_power_kw"] == 0)
    # The community battery draws only its battery's power, at a three-phase busbar.
    community = households[households["household_id"] == "community_battery"]
    np.testing.assert_allclose(community["power_kw"], community["battery_power_kw"])
    assert table.loc["community_battery", "connection"] == "three_phase"
    no_battery = table.index[table["battery_capacity_kwh"] == 0]
    assert np.all(per_household.loc[no_battery, "battery_power_kw"] == 0)


def test_every_plan_of_the_optimizing_households_is_recorded(mixed_run) -> None:
    run, _ = mixed_run
    plans = pd.read_parquet(run.file("optimizing_plans"))
    # Three optimizing groups (two shards, and the community battery's agent) plan every
    # interval from the second (interval 0 has no market).
    assert set(plans["status"]) == {"optimal"} and plans["optimal"].all()
    assert plans.groupby(["group_index", "strategy_options"]).ngroups == 3
    assert (
        plans.groupby(["group_index", "strategy_options"])["interval_index"].nunique().min() == 11
    )
    checks = run.read_json("summary.json")["checks"]
    assert checks["optimizing_plans"] == len(plans)
    assert checks["optimizing_plans_not_optimal"] == 0
