"""The reference studies: T-REX TB-1 (baseline and three stages) and Rana et al.'s community
battery (min cost against min import).

Every reference scenario validates and builds; the stage files compose as the paper's stages do;
and shortened runs (lockstep) show what a user of each study relies on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tefed.analysis.summary import read_run_tables
from tefed.build.validate import check_scenario
from tefed.scenario.files import read_scenario_data
from tefed.scenario.model import load_scenario
from tests.federations import REPO, lockstep_run, write_federation

pytestmark = pytest.mark.federation

SCENARIOS = REPO / "scenarios"
TB1 = ("trex_tb1_baseline", "trex_tb1_stage1", "trex_tb1_stage2", "trex_tb1_stage3")
LEC = ("lec_battery_min_import", "lec_battery_min_cost")
HOUSEHOLDS = [f"R{number}" for number in range(1, 12)]
BATTERY_HOUSEHOLDS = ["R10", "R11"]
#: Stage of the expert trader per TB-1 file: (everyone else, R10 and R11); None: net billing.
TB1_STAGES = {
    "trex_tb1_baseline": (None, None),
    "trex_tb1_stage1": ("pv_only", "pv_only"),
    "trex_tb1_stage2": ("pv_only", "battery_buys"),
    "trex_tb1_stage3": ("pv_only", "battery_trades"),
}


@pytest.mark.parametrize("name", TB1 + LEC)
def test_every_reference_scenario_validates_and_builds(name: str, tmp_path: Path) -> None:
    check = check_scenario(SCENARIOS / f"{name}.yaml", tmp_path)
    assert check.problems == []
    assert check.scenario is not None and check.scenario.name == name


def test_the_tb1_stages_add_batteries_and_trading_to_the_same_households() -> None:
    baseline, _ = load_scenario(SCENARIOS / "trex_tb1_baseline.yaml")
    for name, (others_stage, battery_stage) in TB1_STAGES.items():
        scenario, _ = load_scenario(SCENARIOS / f"{name}.yaml")
        assert [ids for group in scenario.households for ids in group.household_ids] == HOUSEHOLDS
        # T-REX's market and net-billing prices, and its voltage limit, in every stage.
        assert (scenario.market.mechanism, scenario.market.settlement_rule) == (
            "double_auction",
            "midpoint",
        )
        assert scenario.prices.import_tariff.price_usd_per_kwh == 0.1449
        assert scenario.prices.export_price_usd_per_kwh == 0.069
        assert scenario.grid.upper_voltage_limit_pu == 1.04
        for group, base in zip(scenario.households, baseline.households, strict=True):
            # Every stage keeps the baseline's PV and load (the approximation of Table I).
            assert group.pv == base.pv
            assert group.load_daily_energy_kwh == base.load_daily_energy_kwh
            has_battery = group.group in BATTERY_HOUSEHOLDS and battery_stage in (
                "battery_buys",
                "battery_trades",
            )
            stage = battery_stage if group.group in BATTERY_HOUSEHOLDS else others_stage
            if stage is None:
                assert group.strategy.name == "net_billing"
            else:
                assert (group.strategy.name, group.strategy.stage) == ("ma_crossover", stage)
            if has_battery:
                assert (group.battery.capacity_kwh, group.battery.power_kw) == (27.0, 10.0)
            else:
                assert group.battery is None


def test_the_two_community_scenarios_differ_only_in_the_battery_objective() -> None:
    import_case, _ = load_scenario(SCENARIOS / "lec_battery_min_import.yaml")
    cost_case, _ = load_scenario(SCENARIOS / "lec_battery_min_cost.yaml")
    assert import_case.community_battery.strategy.objective == "min_import"
    assert cost_case.community_battery.strategy.objective == "min_cost"
    battery = cost_case.community_battery.battery
    assert (battery.capacity_kwh, battery.power_kw, battery.round_trip_efficiency) == (
        1200.0,
        600.0,
        0.95,
    )
    different = {"name", "description", "community_battery"}
    assert import_case.model_dump(exclude=different) == cost_case.model_dump(exclude=different)
    assert import_case.community_battery.battery == cost_case.community_battery.battery
    # Hourly prices: arbitrage needs import prices that vary by more than the battery's losses.
    windows = import_case.prices.import_tariff.windows
    prices = [window.price_usd_per_kwh for window in windows]
    assert len(windows) == 24 and max(prices) / min(prices) > 1 / 0.95


def shortened_run(
    folder: Path, name: str, start: str, duration_s: int, **group_batteries: dict
) -> tuple[dict, dict[str, pd.DataFrame]]:
    """Run a reference scenario (composed with its bases) from ``start`` for ``duration_s``.

    ``group_batteries`` merges keys into the battery of the named household groups.
    """
    data = read_scenario_data(SCENARIOS / f"{name}.yaml").data
    data["time"]["start"] = start
    data["time"]["duration_s"] = duration_s
    for group in data["households"]:
        group.get("battery", {}).update(group_batteries.get(group["group"], {}))
    run = lockstep_run(write_federation(folder, data), folder / "run")
    return run.read_json("summary.json"), read_run_tables(run)


def failed_checks(summary: dict) -> list[str]:
    """The verdicts among the summary's checks that are not true."""
    checks = summary["checks"]
    verdicts = [key for key in checks if key.endswith(("_ok", "_within_limits"))]
    failed = [key for key in verdicts if checks[key] is not True]
    if checks.get("optimizing_plans_not_optimal", 0):
        failed.append("optimizing_plans_not_optimal")
    return failed


@pytest.fixture(scope="module")
def tb1_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict, dict]]:
    """Baseline and stage 3 from 11:00 to 14:00, the batteries of R10 and R11 starting at 80 %
    (nearly full, as in the late morning of the whole day), so they fill up and then sell."""
    nearly_full = {"soc_initial": 0.8}
    return {
        name: shortened_run(
            tmp_path_factory.mktemp(name),
            name,
            "2022-07-01T11:00:00",
            3 * 3600,
            R10=nearly_full,
            R11=nearly_full,
        )
        for name in ("trex_tb1_baseline", "trex_tb1_stage3")
    }


def test_tb1_baseline_bills_equal_their_net_billing_baselines(tb1_runs) -> None:
    summary, _ = tb1_runs["trex_tb1_baseline"]
    assert failed_checks(summary) == []
    households = summary["households"]
    assert sorted(households) == sorted(HOUSEHOLDS)
    for row in households.values():
        assert row["bill_usd"] == pytest.approx(row["baseline_bill_usd"], abs=1e-12)
        assert row["income_advantage_usd"] == pytest.approx(0.0, abs=1e-12)
    assert summary["community_income_advantage_usd"] == pytest.approx(0.0, abs=1e-12)
    assert summary["market"]["traded_energy_kwh"] == 0
    # Someone imports and someone exports: the zero advantage is not from bills of zero.
    bills = [row["bill_usd"] for row in households.values()]
    assert min(bills) < 0 < max(bills)


def test_tb1_stage3_battery_households_trade_and_use_their_batteries(tb1_runs) -> None:
    summary, tables = tb1_runs["trex_tb1_stage3"]
    assert failed_checks(summary) == []
    orders, trades = tables["market_orders"], tables["market_trades"]
    battery_kw = tables["households"].groupby("household_id")["battery_power_kw"]
    for household in BATTERY_HOUSEHOLDS:
        own = orders[orders["participant"] == household]
        assert (own["status"] == "accepted").all() and own["quantity_wh"].sum() > 0
        assert battery_kw.get_group(household).abs().max() > 0.1
    # Which of them is matched depends on its drawn ask price; together they sell.
    assert trades.loc[trades["seller"].isin(BATTERY_HOUSEHOLDS), "quantity_wh"].sum() > 0
    others = [household for household in HOUSEHOLDS if household not in BATTERY_HOUSEHOLDS]
    assert np.all(battery_kw.apply(lambda power: power.abs().max()).loc[others] == 0)
    # Trading beats net billing for the community (T-REX's income advantage).
    assert summary["community_income_advantage_usd"] > 0


@pytest.fixture(scope="module")
def lec_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict, dict]]:
    """Both community cases from 02:00 to 04:00: the cheapest hour (03:00-04:00) is when
    arbitrage charges from the grid and self-consumption does not."""
    return {
        name: shortened_run(tmp_path_factory.mktemp(name), name, "2022-06-21T02:00:00", 7200)
        for name in LEC
    }


def community_battery_kw(tables: dict[str, pd.DataFrame]) -> pd.Series:
    households = tables["households"]
    battery = households[households["household_id"] == "community_battery"]
    return battery.set_index("time_s")["battery_power_kw"]


def test_min_cost_and_min_import_schedule_the_community_battery_differently(lec_runs) -> None:
    cost_kw = community_battery_kw(lec_runs["lec_battery_min_cost"][1])
    import_kw = community_battery_kw(lec_runs["lec_battery_min_import"][1])
    assert cost_kw.index.equals(import_kw.index)
    assert (cost_kw - import_kw).abs().max() > 10.0
    # Self-consumption never charges from the grid at night; arbitrage does, so it raises the
    # peak import at the point of common coupling (Rana et al.).
    assert import_kw.max() <= 1e-9
    assert cost_kw.max() > 100.0
    cost_peak_kw = lec_runs["lec_battery_min_cost"][0]["pcc"]["peak_import_kw"]
    import_peak_kw = lec_runs["lec_battery_min_import"][0]["pcc"]["peak_import_kw"]
    assert cost_peak_kw > import_peak_kw + 100.0


@pytest.mark.parametrize("name", LEC)
def test_every_check_of_the_community_runs_passes(lec_runs, name: str) -> None:
    summary, _ = lec_runs[name]
    assert summary["checks"]["optimizing_plans"] > 0
    failed = failed_checks(summary)
    assert failed == []
