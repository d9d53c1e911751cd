"""Run KPIs on tiny hand-built tables with hand-computed numbers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tefed.analysis.balance_checks import energy_balance_error_wh, settlement_checks
from tefed.analysis.grid_kpis import grid_summary, voltage_summary
from tefed.analysis.kpis import battery_cycles, community_energy, household_bills
from tefed.analysis.market_kpis import market_summary
from tefed.domain.market.settlement import settle_interval


def test_household_bills() -> None:
    prices = pd.DataFrame(
        {
            "interval_index": [1, 2],
            "import_price_usd_per_kwh": [0.20, 0.30],
            "export_price_usd_per_kwh": [0.05, 0.10],
        }
    )
    household_intervals = pd.DataFrame(
        {
            "household_id": ["h1", "h1", "h2", "h2", "h3", "h3"],
            "interval_index": [1, 2, 1, 2, 1, 2],
            "baseline_energy_wh": [1000.0, -500.0, -2000.0, 400.0, 0.0, 0.0],
        }
    )
    settlements = pd.DataFrame(
        {
            "participant": ["h1", "h1", "h1", "h2", "h2"],
            "counterparty": ["h2", "grid", "grid", "h1", "grid"],
            "interval_index": [1, 1, 2, 1, 2],
            "amount_usd": [0.10, 0.02, -0.04, -0.10, 0.03],
        }
    )
    table = household_bills(settlements, household_intervals, prices)
    assert table.index.name == "household_id"
    assert list(table.columns) == ["bill_usd", "baseline_bill_usd", "income_advantage_usd"]
    # h1 baseline: 1 kWh * 0.20 - 0.5 kWh * 0.10 = 0.15; h2: -2 kWh * 0.05 + 0.4 kWh * 0.30.
    expected = pd.DataFrame(
        {
            "bill_usd": [0.08, -0.07, 0.0],
            "baseline_bill_usd": [0.15, 0.02, 0.0],
            "income_advantage_usd": [0.07, 0.09, 0.0],
        },
        index=pd.Index(["h1", "h2", "h3"], name="household_id"),
    )
    pd.testing.assert_frame_equal(table, expected, check_exact=False, atol=1e-12, rtol=0)


def _households() -> pd.DataFrame:
    """Two households over two 15 min steps; the community exports 1 kW, then imports 3 kW."""
    return pd.DataFrame(
        {
            "time_s": [0, 0, 900, 900],
            "household_id": ["h1", "h2", "h1", "h2"],
            "load_power_kw": [2.0, 1.0, 4.0, 1.0],
            "pv_power_kw": [0.0, 4.0, 0.0, 2.0],
            "battery_power_kw": [0.0, 0.0, 0.0, 0.0],
            "power_kw": [2.0, -3.0, 4.0, -1.0],
        }
    )


def test_community_energy() -> None:
    kpis = community_energy(_households(), 900.0)
    assert kpis["load_kwh"] == pytest.approx(2.0, abs=1e-12)
    assert kpis["pv_kwh"] == pytest.approx(1.5, abs=1e-12)
    # Netting inside the community: only the sum of the households crosses its boundary.
    assert kpis["community_import_kwh"] == pytest.approx(0.75, abs=1e-12)
    assert kpis["community_export_kwh"] == pytest.approx(0.25, abs=1e-12)
    assert kpis["self_sufficiency_pct"] == pytest.approx(100 * (1 - 0.75 / 2.0), abs=1e-12)
    assert kpis["self_consumption_pct"] == pytest.approx(100 * (1 - 0.25 / 1.5), abs=1e-12)
    assert kpis["households_counted"] == 2


def test_community_energy_without_pv_or_load_is_nan() -> None:
    households = _households().assign(load_power_kw=0.0, pv_power_kw=0.0)
    kpis = community_energy(households, 900.0)
    assert math.isnan(kpis["self_sufficiency_pct"])
    assert math.isnan(kpis["self_consumption_pct"])


def _grid_tables() -> tuple[pd.DataFrame, ...]:
    grid = pd.DataFrame(
        {
            "time_s": [0, 60, 120, 180],
            "converged": [True, True, False, True],
            "substation_power_kw": [6.0, -3.0, np.nan, 12.0],
            "losses_kw": [0.6, 0.3, np.nan, 1.2],
            "household_export_kw": [0.0, 4.0, np.nan, 0.0],
            "max_unbalance_pct": [0.5, 2.5, np.nan, 1.5],
        }
    )
    nodes = pd.DataFrame(
        {
            "node": ["a.1", "a.2", "b.1"],
            "bus": ["a", "a", "b"],
            "min_pu": [0.94, 0.97, 0.99],
            "max_pu": [1.02, 1.06, 1.045],
            "steps_below": [2, 0, 0],
            "steps_above": [0, 1, 0],
            "steps_above_upper_limit": [0, 1, 3],
            "minutes_below": [2.0, 0.0, 0.0],
            "minutes_above": [0.0, 1.0, 0.0],
            "minutes_above_upper_limit": [0.0, 1.0, 3.0],
        }
    )
    elements = pd.DataFrame(
        {
            "element": ["Line.l1", "Line.l2", "Transformer.t1"],
            "kind": ["line", "line", "transformer"],
            "max_pct": [120.0, 50.0, 80.0],
            "overload_minutes": [2.0, 0.0, 0.0],
        }
    )
    unbalance = pd.DataFrame({"bus": ["a", "b"], "max_unbalance_pct": [0.5, 1.5]})
    taps = pd.DataFrame({"time_s": [0, 60, 120, 180], "reg1": [0, 2, 2, 1], "reg2": [5] * 4})
    return grid, nodes, elements, unbalance, taps


def test_grid_summary_hand_computed() -> None:
    summary = grid_summary(*_grid_tables(), 60.0)
    pcc = summary["pcc"]
    # Converged steps only: import 6 + 12 kW-min, export 3, losses 2.1, households inject 4.
    assert pcc["substation_import_kwh"] == pytest.approx(18.0 / 60.0, abs=1e-12)
    assert pcc["substation_export_kwh"] == pytest.approx(3.0 / 60.0, abs=1e-12)
    assert (pcc["peak_import_kw"], pcc["peak_export_kw"]) == (12.0, 3.0)
    assert pcc["losses_pct"] == pytest.approx(100 * 2.1 / 22.0, abs=1e-12)
    assert summary["power_flow"] == {
        "steps": 4,
        "not_converged_steps": 1,
        "not_converged_times_s": [120],
    }
    voltage = summary["node_voltage"]
    assert (voltage["voltage_min_pu"], voltage["voltage_max_pu"]) == (0.94, 1.06)
    assert voltage["node_minutes_below"] == 2.0 and voltage["node_minutes_above"] == 1.0
    assert voltage["buses_outside_range"] == {"a": 3.0}
    assert voltage["buses_above_upper_limit"] == {"b": 3.0, "a": 1.0}
    loading = summary["loading"]
    assert loading["max_line_loading_pct"] == 120.0
    assert loading["max_transformer_loading_pct"] == 80.0
    assert loading["line_overload_minutes"] == 2.0 and loading["lines_overloaded"] == 1
    assert list(loading["most_loaded"]) == ["Line.l1", "Transformer.t1", "Line.l2"]
    # Above 2 % at one converged step of one minute.
    assert summary["unbalance"] == {
        "max_unbalance_pct": 1.5,
        "bus": "b",
        "three_phase_buses": 2,
        "limit_pct": 2.0,
        "minutes_above_limit": 1.0,
    }
    assert summary["tap_changes"] == {"reg1": 3, "reg2": 0}


def _voltages() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "time_s": [0, 60, 120, 0, 60, 120],
            "household_id": ["h1", "h1", "h1", "h2", "h2", "h2"],
            "voltage_pu": [1.041, 1.045, 1.06, 0.94, 0.96, 1.00],
        }
    )


def test_voltage_summary_counts_and_minutes() -> None:
    summary = voltage_summary(_voltages(), 60.0)
    assert summary["voltage_min_pu"] == 0.94
    assert summary["voltage_max_pu"] == 1.06
    assert (summary["range_low_pu"], summary["range_high_pu"]) == (0.95, 1.05)
    # Outside 0.95-1.05: 1.06 (h1) and 0.94 (h2); above 1.04: 1.041, 1.045 and 1.06.
    assert summary["outside_range_household_steps"] == 2
    assert summary["outside_range_household_minutes"] == 2.0
    assert summary["households_outside_range"] == ["h1", "h2"]
    assert summary["upper_limit_pu"] == 1.04
    assert summary["above_upper_limit_household_steps"] == 3
    assert summary["above_upper_limit_household_minutes"] == 3.0


def test_voltage_summary_with_other_limits_and_step() -> None:
    summary = voltage_summary(_voltages(), 30.0, range_pu=(0.9, 1.1), upper_limit_pu=1.05)
    assert summary["outside_range_household_steps"] == 0
    assert summary["households_outside_range"] == []
    assert summary["above_upper_limit_household_steps"] == 1
    assert summary["above_upper_limit_household_minutes"] == 0.5


def test_market_summary_uses_the_volume_weighted_mean_price() -> None:
    trades = pd.DataFrame(
        {
            "buyer": ["h1", "h2"],
            "seller": ["h3", "h3"],
            "quantity_wh": [100, 300],
            "price_usd_per_kwh": [0.10, 0.20],
            "pool": ["non_dispatchable", "dispatchable"],
        }
    )
    intervals = pd.DataFrame(
        {
            "status": ["cleared", "no_crossing", "cleared", "empty"],
            "traded_energy_wh": [100, 0, 300, 0],
        }
    )
    summary = market_summary(trades, intervals)
    assert summary["traded_energy_kwh"] == pytest.approx(0.4, abs=1e-12)
    assert summary["trades"] == 2
    # (100 * 0.10 + 300 * 0.20) / 400 = 0.175, not the plain mean 0.15.
    assert summary["volume_weighted_price_usd_per_kwh"] == pytest.approx(0.175, abs=1e-12)
    assert summary["mean_trade_price_usd_per_kwh"] == pytest.approx(0.15, abs=1e-12)
    assert summary["min_trade_price_usd_per_kwh"] == 0.10
    assert summary["max_trade_price_usd_per_kwh"] == 0.20
    assert summary["intervals_cleared"] == 4
    assert summary["intervals_with_trades"] == 2
    assert summary["pools"]["dispatchable"]["traded_energy_kwh"] == pytest.approx(0.3)
    assert summary["pools"]["non_dispatchable"]["mean_trade_price_usd_per_kwh"] == 0.10


def test_market_summary_counts_central_trades_once() -> None:
    # Curve clearing: h1 buys 1000 Wh from the market, h2 sells 400 Wh to it, the grid 600 Wh.
    trades = pd.DataFrame(
        {
            "buyer": ["h1", "market", "market"],
            "seller": ["market", "h2", "grid"],
            "quantity_wh": [1000, 400, 600],
            "price_usd_per_kwh": [0.14, 0.14, 0.14],
            "pool": "non_dispatchable",
        }
    )
    intervals = pd.DataFrame({"status": ["exact"], "traded_energy_wh": [1000]})
    summary = market_summary(trades, intervals)
    assert summary["traded_energy_kwh"] == pytest.approx(1.0)
    assert summary["trades"] == 1
    assert summary["sold_to_counterparty_kwh"] == pytest.approx(0.4)


def test_market_summary_without_trades() -> None:
    trades = pd.DataFrame(
        {
            "buyer": pd.Series([], dtype=object),
            "seller": pd.Series([], dtype=object),
            "quantity_wh": pd.Series([], dtype="int64"),
            "price_usd_per_kwh": [],
        }
    )
    summary = market_summary(trades, pd.DataFrame({"status": ["empty"], "traded_energy_wh": [0]}))
    assert summary["traded_energy_kwh"] == 0.0
    assert summary["trades"] == 0
    assert math.isnan(summary["volume_weighted_price_usd_per_kwh"])
    assert summary["intervals_with_trades"] == 0


def test_battery_cycles() -> None:
    households = pd.DataFrame(
        {
            "household_id": ["h1"] * 4 + ["h2"] * 4 + ["h3"] * 4,
            "battery_power_kw": [-4.0, 2.0, -4.0, 0.0, 0.0, 0.0, 0.0, 0.0, -2.0, -2.0, -2.0, -2.0],
        }
    )
    capacity = pd.Series({"h1": 10.0, "h2": 0.0, "h3": 5.0})
    cycles = battery_cycles(households, capacity, 900.0)
    # h1 discharges 8 kW * 0.25 h = 2 kWh of 10 (charging does not count); h3 2 kWh of 5.
    assert cycles.name == "equivalent_full_cycles"
    assert cycles.index.tolist() == ["h1", "h3"]
    np.testing.assert_allclose(cycles.to_numpy(), [0.2, 0.4], rtol=0, atol=1e-12)


def test_energy_balance_error_is_zero_for_a_consistent_table() -> None:
    households = pd.DataFrame({"time_s": [0, 0, 60, 60], "power_kw": [2.0, -1.0, 3.0, 1.0]})
    grid = pd.DataFrame(
        {"time_s": [0, 60], "substation_power_kw": [1.1, 4.2], "losses_kw": [0.1, 0.2]}
    )
    np.testing.assert_allclose(
        energy_balance_error_wh(households, grid, 60.0), [0.0, 0.0], rtol=0, atol=1e-9
    )


def test_energy_balance_error_equals_the_injected_mismatch() -> None:
    households = pd.DataFrame({"time_s": [0, 0, 60, 60], "power_kw": [2.0, -1.0, 3.0, 1.0]})
    grid = pd.DataFrame(
        {"time_s": [0, 60], "substation_power_kw": [1.1, 4.5], "losses_kw": [0.1, 0.2]}
    )
    # 0.3 kW too much at the substation for 60 s is 5 Wh.
    np.testing.assert_allclose(
        energy_balance_error_wh(households, grid, 60.0), [0.0, 5.0], rtol=0, atol=1e-9
    )


def test_energy_balance_counts_the_feeders_own_loads() -> None:
    households = pd.DataFrame({"time_s": [0, 0, 60, 60], "power_kw": [2.0, -1.0, 3.0, 1.0]})
    # The feeder's own loads draw 30 and 15 kW: the substation supplies them as well.
    grid = pd.DataFrame(
        {
            "time_s": [0, 60],
            "substation_power_kw": [31.1, 19.2],
            "losses_kw": [0.1, 0.2],
            "feeder_loads_kw": [30.0, 15.0],
        }
    )
    np.testing.assert_allclose(
        energy_balance_error_wh(households, grid, 60.0), [0.0, 0.0], rtol=0, atol=1e-9
    )


def test_energy_balance_finds_a_wrong_record_of_the_feeders_own_loads() -> None:
    households = pd.DataFrame({"time_s": [0, 0, 60, 60], "power_kw": [2.0, -1.0, 3.0, 1.0]})
    grid = pd.DataFrame(
        {
            "time_s": [0, 60],
            "substation_power_kw": [31.1, 19.2],
            "losses_kw": [0.1, 0.2],
            "feeder_loads_kw": [30.0, 14.4],
        }
    )
    # 19.2 - (4 + 14.4 + 0.2) = 0.6 kW unaccounted for 60 s is 10 Wh.
    np.testing.assert_allclose(
        energy_balance_error_wh(households, grid, 60.0), [0.0, 10.0], rtol=0, atol=1e-9
    )


def test_energy_balance_of_a_run_recorded_without_feeder_loads_counts_none() -> None:
    households = pd.DataFrame({"time_s": [0, 0], "power_kw": [2.0, -1.0]})
    grid = pd.DataFrame({"time_s": [0], "substation_power_kw": [1.3], "losses_kw": [0.1]})
    # A grid table written before feeder_loads_kw was recorded: 0.2 kW for 1 h is 200 Wh.
    np.testing.assert_allclose(
        energy_balance_error_wh(households, grid, 3600.0), [200.0], rtol=0, atol=1e-9
    )


def _settled_interval() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Interval 3: a bought 600 Wh and b 400 Wh from c; metered a 700, b 300, c -1100 Wh."""
    energy = pd.Series({"a": 700.0, "b": 300.0, "c": -1100.0})
    trades = pd.DataFrame(
        {
            "buyer": ["a", "b"],
            "seller": ["c", "c"],
            "quantity_wh": [600, 400],
            "price_usd_per_kwh": [0.12, 0.10],
        }
    )
    ledger = settle_interval(energy, trades, 0.20, 0.05).assign(interval_index=3)
    bills = ledger.groupby("participant")["amount_usd"].sum()
    intervals = pd.DataFrame(
        {
            "interval_index": 3,
            "household_id": ["a", "b", "c"],
            "energy_wh": energy.to_numpy(),
            "bill_usd": bills.reindex(["a", "b", "c"]).to_numpy(),
        }
    )
    awards = pd.DataFrame(
        {
            "interval_index": 3,
            "participant": ["a", "c", "b", "c"],
            "side": ["buy", "sell", "buy", "sell"],
            "quantity_wh": [600, 600, 400, 400],
        }
    )
    prices = pd.DataFrame(
        {
            "interval_index": [3],
            "import_price_usd_per_kwh": [0.20],
            "export_price_usd_per_kwh": [0.05],
        }
    )
    return ledger, intervals, awards, prices


def test_settlement_checks_pass_for_a_consistent_interval() -> None:
    found = settlement_checks(*_settled_interval())
    assert found["metered_energy_max_abs_error_wh"] == pytest.approx(0.0, abs=1e-9)
    assert found["grid_payments_max_abs_error_usd"] == pytest.approx(0.0, abs=1e-12)
    assert found["bills_max_abs_error_usd"] == pytest.approx(0.0, abs=1e-12)
    assert found["bills_not_received"] == 0
    assert found["trade_payments_sum_usd"] == pytest.approx(0.0, abs=1e-12)


def test_settlement_checks_accept_awards_bought_from_the_grid() -> None:
    # DLMP: a bought 600 Wh from the grid at its bus price 0.04 and used 700 Wh.
    energy = pd.Series({"a": 700.0})
    trades = pd.DataFrame(
        {"buyer": ["a"], "seller": ["grid"], "quantity_wh": [600], "price_usd_per_kwh": [0.04]}
    )
    ledger = settle_interval(energy, trades, 0.20, 0.05).assign(interval_index=3)
    bills = ledger[ledger["participant"] == "a"]["amount_usd"].sum()
    intervals = pd.DataFrame(
        {"interval_index": [3], "household_id": ["a"], "energy_wh": [700.0], "bill_usd": [bills]}
    )
    awards = pd.DataFrame(
        {"interval_index": [3], "participant": ["a"], "side": ["buy"], "quantity_wh": [600]}
    )
    prices = pd.DataFrame(
        {
            "interval_index": [3],
            "import_price_usd_per_kwh": [0.20],
            "export_price_usd_per_kwh": [0.05],
        }
    )
    found = settlement_checks(ledger, intervals, awards, prices)
    # Only the 100 Wh beyond the award is net billing: 0.1 kWh x 0.20 = 0.02 USD.
    assert bills == pytest.approx(0.6 * 0.04 + 0.1 * 0.20)
    assert found["grid_payments_max_abs_error_usd"] == pytest.approx(0.0, abs=1e-12)
    assert found["trade_payments_sum_usd"] == pytest.approx(0.0, abs=1e-12)


def test_settlement_checks_find_a_wrong_grid_price() -> None:
    ledger, intervals, awards, prices = _settled_interval()
    # c delivered 1100 Wh but sold 1000, and b returned the 100 Wh it did not use (T-REX rule
    # 10): c exports 200 Wh at 0.05 = -0.01 USD. Pay it at 0.035.
    wrong = (ledger["participant"] == "c") & (ledger["counterparty"] == "grid")
    ledger.loc[wrong, "amount_usd"] = -0.2 * 0.035
    found = settlement_checks(ledger, intervals, awards, prices)
    assert found["grid_payments_max_abs_error_usd"] == pytest.approx(0.003, abs=1e-12)


def test_settlement_checks_find_unbalanced_trades_and_missing_bills() -> None:
    ledger, intervals, awards, prices = _settled_interval()
    trade = ledger.index[ledger["reason"] == "trade"][0]
    ledger.loc[trade, "amount_usd"] += 0.01
    intervals.loc[1, "bill_usd"] = np.nan
    found = settlement_checks(ledger, intervals, awards, prices)
    assert found["trade_payments_sum_usd"] == pytest.approx(0.01, abs=1e-12)
    assert found["bills_not_received"] == 1
    assert found["bills_max_abs_error_usd"] == pytest.approx(0.01, abs=1e-12)
