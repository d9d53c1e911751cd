"""The reference studies: T-REX TB-1 as published (baseline and three stages on the CIGRE
residential sub-network) and Rana et al.'s community battery (min cost against min import).

Every reference scenario validates and builds; the stage files compose as the paper's stages do;
and shortened runs (lockstep) show what a user of each study relies on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tefed.analysis.run_tables import read_run_tables
from tefed.build.validate import check_scenario
from tefed.scenario.files import read_scenario_data
from tefed.scenario.model import load_scenario
from tests.federations import REPO, SHARED, lockstep_run, write_federation

pytestmark = pytest.mark.federation

SCENARIOS = REPO / "scenarios"
TB1 = ("trex_tb1_baseline", "trex_tb1_stage1", "trex_tb1_stage2", "trex_tb1_stage3")
LEC = ("lec_battery_min_import", "lec_battery_min_cost")
HOUSEHOLDS = [f"R{number}" for number in range(5, 15)]
BATTERY_HOUSEHOLDS = ["R10", "R11"]
TB1_DATA = SHARED / "data" / "trex_tb1"
#: Stage of the expert trader per TB-1 file: (everyone else, R10 and R11); None: net billing.
TB1_STAGES = {
    "trex_tb1_baseline": (None, None),
    "trex_tb1_stage1": ("pv_only", "pv_only"),
    "trex_tb1_stage2": ("pv_only", "battery_buys"),
    "trex_tb1_stage3": ("pv_only", "battery_trades"),
}
#: Table I of the paper, as the scenario carries it: (max generation, min load, max load) [kW].
TABLE_I = {
    "R5": (9.42, 0.24, 7.38),
    "R6": (10.44, 0.48, 7.68),
    "R7": (4.32, 0.24, 5.64),
    "R8": (6.24, 0.30, 7.20),
    "R9": (6.24, 0.12, 7.02),
    "R10": (0.0, 0.06, 7.62),
    "R11": (0.0, 0.30, 8.40),
    "R12": (7.68, 0.18, 7.14),
    "R13": (5.88, 0.18, 8.28),
    "R14": (5.28, 0.18, 8.82),
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
        # The published feeder, participants on their nodes, T-REX's market, prices, limit.
        feeder = scenario.grid.feeder
        assert feeder.generator == "cigre_lv_residential"
        assert feeder.household_nodes == HOUSEHOLDS
        assert (scenario.market.mechanism, scenario.market.settlement_rule) == (
            "double_auction",
            "midpoint",
        )
        assert scenario.prices.import_tariff.price_usd_per_kwh == 0.1449
        assert scenario.prices.export_price_usd_per_kwh == 0.069
        assert scenario.grid.upper_voltage_limit_pu == 1.04
        assert (scenario.time.start, scenario.time.timezone) == (
            "2018-07-01T00:00:00",
            "America/Vancouver",
        )
        for group, base in zip(scenario.households, baseline.households, strict=True):
            max_generation_kw, min_load_kw, max_load_kw = TABLE_I[group.group]
            assert group.load.range_kw == (min_load_kw, max_load_kw)
            assert (group.pv.peak_kw if group.pv else 0.0) == max_generation_kw
            assert group.pv == base.pv and group.load == base.load
            # The published initial prices, 0.08 bid and 0.12 ask, between export and import.
            spread = 0.1449 - 0.069
            assert 0.069 + group.bid_price_fraction * spread == pytest.approx(0.08, abs=1e-6)
            assert 0.069 + group.ask_price_fraction * spread == pytest.approx(0.12, abs=1e-6)
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
                battery = group.battery
                assert (battery.capacity_kwh, battery.power_kw) == (27.0, 10.0)
                assert battery.round_trip_efficiency == pytest.approx(0.95**2)
                # 5 % a month (30 days) of self-discharge, compounded hourly.
                assert (1 - battery.self_discharge_per_h) ** 720 == pytest.approx(0.95, abs=1e-5)
                assert battery.soc_initial == 0.0
            else:
                assert group.battery is None


@pytest.mark.skipif(not TB1_DATA.is_dir(), reason="needs ../shared/data/trex_tb1")
def test_the_tb1_participants_carry_the_published_table_i() -> None:
    published = pd.read_csv(TB1_DATA / "participants.csv").set_index("participant")
    assert list(published.index) == HOUSEHOLDS
    for participant, figures in TABLE_I.items():
        assert tuple(published.loc[participant]) == figures


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
    folder: Path,
    name: str,
    start: str,
    duration_s: int,
    group_settings: dict | None = None,
    time_settings: dict | None = None,
    **group_batteries: dict,
) -> tuple[dict, dict[str, pd.DataFrame]]:
    """Run a reference scenario (composed with its bases) from ``start`` for ``duration_s``.

    ``group_settings`` are set on every household group, ``time_settings`` in the time section;
    ``group_batteries`` merges keys into the battery of the named household groups.
    """
    data = read_scenario_data(SCENARIOS / f"{name}.yaml").data
    data["time"].update(time_settings or {})
    data["time"]["start"] = start
    data["time"]["duration_s"] = duration_s
    for group in data["households"]:
        group.update(group_settings or {})
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


#: tefed's default initial price positions, where orders cross (the study's "explored" set).
EXPLORED_PRICES = {"bid_price_fraction": [0.4, 0.9], "ask_price_fraction": [0.1, 0.6]}


@pytest.fixture(scope="module")
def tb1_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict, dict]]:
    """From 10:00 to 13:00 on 2018-07-01: the baseline, stage 3 as published, and stage 3 with
    explored prices, the batteries of R10 and R11 starting at 80 % (so they can sell)."""
    nearly_full = {"soc_initial": 0.8}
    runs = {}
    for key, name, prices, interval_s in (
        ("baseline", "trex_tb1_baseline", {}, 300),
        ("stage3", "trex_tb1_stage3", {}, 300),
        # T-REX's one-minute rounds: the crossover's 50-price window fills within the hour.
        ("stage3_explored", "trex_tb1_stage3", EXPLORED_PRICES, 60),
    ):
        runs[key] = shortened_run(
            tmp_path_factory.mktemp(key),
            name,
            "2018-07-01T10:00:00",
            3 * 3600,
            prices,
            {"market_interval_s": interval_s},
            R10=nearly_full,
            R11=nearly_full,
        )
    return runs


def test_tb1_profiles_reproduce_table_i_over_the_run(tb1_runs) -> None:
    _, tables = tb1_runs["baseline"]
    households = tables["households"].groupby("household_id")
    for participant, (max_generation_kw, min_load_kw, max_load_kw) in TABLE_I.items():
        own = households.get_group(participant)
        assert own["pv_power_kw"].max() == pytest.approx(max_generation_kw, abs=1e-9)
        assert own["load_power_kw"].min() == pytest.approx(min_load_kw, abs=1e-9)
        assert own["load_power_kw"].max() == pytest.approx(max_load_kw, abs=1e-9)


def test_tb1_baseline_bills_equal_their_net_billing_baselines(tb1_runs) -> None:
    summary, _ = tb1_runs["baseline"]
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


def test_tb1_with_the_published_initial_prices_nobody_trades(tb1_runs) -> None:
    """Bid 0.08 below ask 0.12 never cross, and the trader learns only from settlement
    prices, so no price is ever observed (T-REX's traders explore over 300 episodes)."""
    summary, tables = tb1_runs["stage3"]
    assert failed_checks(summary) == []
    orders = tables["market_orders"]
    assert len(orders) > 0 and (orders["status"] == "accepted").all()
    assert summary["market"]["traded_energy_kwh"] == 0


def test_tb1_stage3_battery_households_trade_and_use_their_batteries(tb1_runs) -> None:
    summary, tables = tb1_runs["stage3_explored"]
    assert failed_checks(summary) == []
    orders, trades = tables["market_orders"], tables["market_trades"]
    battery_kw = tables["households"].groupby("household_id")["battery_power_kw"]
    for household in BATTERY_HOUSEHOLDS:
        assert battery_kw.get_group(household).abs().max() > 0.1
    # Once the crossover signal forms (the slow average needs 50 prices), the batteries trade.
    battery_orders = orders[orders["participant"].isin(BATTERY_HOUSEHOLDS)]
    assert (battery_orders["status"] == "accepted").all()
    assert battery_orders["quantity_wh"].sum() > 0
    assert summary["market"]["traded_energy_kwh"] > 0
    others = [household for household in HOUSEHOLDS if household not in BATTERY_HOUSEHOLDS]
    assert np.all(battery_kw.apply(lambda power: power.abs().max()).loc[others] == 0)
    # Trading beats net billing for the participants with PV (T-REX's income advantage).
    advantage = {key: row["income_advantage_usd"] for key, row in summary["households"].items()}
    assert all(advantage[participant] >= 0 for participant in others)
    assert trades["price_usd_per_kwh"].between(0.069, 0.1449).all()


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
