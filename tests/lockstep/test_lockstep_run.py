"""The four federates stepped together in one process: balances and invariants of a short day."""

from __future__ import annotations

import numpy as np
import pytest

from tefed.analysis.run_tables import read_run_tables

ENERGY_TOLERANCE_WH = 0.05
MONEY_TOLERANCE_USD = 1e-9


@pytest.fixture(scope="module")
def tables(short_lockstep_run):
    return read_run_tables(short_lockstep_run)


@pytest.fixture(scope="module")
def federation(short_lockstep_run):
    from tefed.contract.federation_file import FederationFile

    return FederationFile.model_validate(short_lockstep_run.read_json("federation.json"))


def test_every_result_table_is_written(short_lockstep_run, tables):
    expected = {
        "households",
        "household_intervals",
        "household_voltages",
        "grid",
        "prices",
        "market_orders",
        "market_trades",
        "market_awards",
        "market_settlements",
        "market_intervals",
        "feeder_households",
    }
    assert expected <= tables.keys()
    assert short_lockstep_run.file("summary.json").exists()
    assert {p.name for p in short_lockstep_run.path.glob("plots/*.png")} >= {
        "household_voltages.png",
        "market_prices.png",
    }


def test_each_step_balances_energy_at_the_substation(tables):
    households = tables["households"].groupby("time_s")["power_kw"].sum()
    grid = tables["grid"].set_index("time_s")
    mismatch_wh = (grid["substation_power_kw"] - households - grid["losses_kw"]) * 60 / 3.6
    assert np.abs(mismatch_wh).max() < ENERGY_TOLERANCE_WH
    assert (grid["losses_kw"] > 0).all()


def test_the_pcc_busbar_sits_between_the_source_and_the_households(tables):
    # The generated feeder's LV busbar: below the 1.02 pu source while households import
    # through the transformer, and the households' voltages spread around it.
    grid = tables["grid"]
    assert grid["pcc_voltage_pu"].between(0.95, 1.05).all()
    importing = grid["substation_power_kw"] > 0
    assert (grid.loc[importing, "pcc_voltage_pu"] < 1.02).all()
    assert (grid["voltage_min_pu"] <= grid["pcc_voltage_pu"] + 1e-9).all()


def test_each_interval_balances_money(tables):
    ledger = tables["market_settlements"]
    for interval, rows in ledger.groupby("interval_index"):
        paid_by_households = rows["amount_usd"].sum()
        grid_revenue = rows.loc[rows["counterparty"] == "grid", "amount_usd"].sum()
        trades = rows.loc[rows["reason"] == "trade", "amount_usd"].sum()
        assert paid_by_households == pytest.approx(grid_revenue, abs=MONEY_TOLERANCE_USD), interval
        assert trades == pytest.approx(0.0, abs=MONEY_TOLERANCE_USD), interval


def test_settled_energy_equals_metered_energy(tables):
    ledger = tables["market_settlements"]
    settled = ledger.groupby(["interval_index", "participant"])["energy_wh"].sum()
    metered = tables["household_intervals"].set_index(["interval_index", "household_id"])[
        "energy_wh"
    ]
    metered.index.names = settled.index.names
    # A household whose net energy is exactly zero and that traded nothing has no ledger rows.
    settled = settled.reindex(metered.index, fill_value=0.0)
    np.testing.assert_allclose(settled, metered, atol=1e-6)


def test_every_interval_has_a_market_except_the_first(tables):
    intervals = tables["market_intervals"]["interval_index"].tolist()
    assert intervals == list(range(1, 8))


def test_households_are_billed_what_the_market_settled(tables):
    ledger_bills = (
        tables["market_settlements"].groupby(["interval_index", "participant"])["amount_usd"].sum()
    )
    household_bills = tables["household_intervals"].set_index(["interval_index", "household_id"])[
        "bill_usd"
    ]
    household_bills.index.names = ledger_bills.index.names
    received = household_bills.dropna()
    # The ems receives every settlement, including the last interval's at the end of the run.
    assert len(received) == len(household_bills)
    expected = ledger_bills.reindex(received.index, fill_value=0.0)
    np.testing.assert_allclose(received, expected, atol=1e-12)


def test_trades_respect_orders(tables):
    trades = tables["market_trades"]
    orders = tables["market_orders"].set_index(["interval_index", "participant", "order_id"])
    assert len(trades) > 0
    assert (trades["bid_price_usd_per_kwh"] >= trades["ask_price_usd_per_kwh"]).all()
    assert (trades["price_usd_per_kwh"] <= trades["bid_price_usd_per_kwh"] + 1e-12).all()
    assert (trades["price_usd_per_kwh"] >= trades["ask_price_usd_per_kwh"] - 1e-12).all()
    assert (trades["buyer"] != trades["seller"]).all()
    assert (tables["market_orders"]["status"] == "accepted").all()
    awards = tables["market_awards"]
    assert len(awards) == 2 * len(trades)
    filled = awards.groupby(["interval_index", "participant", "order_id", "side"])[
        "quantity_wh"
    ].sum()
    ordered = orders.loc[filled.index.droplevel("side")]
    assert (filled.to_numpy() <= ordered["quantity_wh"].to_numpy()).all()
    assert (filled.index.get_level_values("side") == ordered["side"].to_numpy()).all()


def test_state_of_charge_stays_within_limits(tables, federation):
    households = tables["households"]
    table = federation.households_frame()
    with_battery = table.index[table["battery_capacity_kwh"] > 0]
    assert len(with_battery) > 0
    rows = households[households["household_id"].isin(with_battery)]
    capacity = table.loc[rows["household_id"], "battery_capacity_kwh"].to_numpy()
    low = table.loc[rows["household_id"], "battery_soc_min"].to_numpy() * capacity
    high = table.loc[rows["household_id"], "battery_soc_max"].to_numpy() * capacity
    soc = rows["soc_kwh"].to_numpy()
    assert (soc >= low - 1e-9).all() and (soc <= high + 1e-9).all()
    assert households.loc[~households["household_id"].isin(with_battery), "soc_kwh"].isna().all()


def test_net_power_is_load_minus_pv_plus_battery(tables):
    h = tables["households"]
    np.testing.assert_allclose(
        h["power_kw"], h["load_power_kw"] - h["pv_power_kw"] + h["battery_power_kw"], atol=1e-12
    )


def test_net_billing_households_pay_exactly_their_baseline(short_lockstep_run, federation):
    summary = short_lockstep_run.read_json("summary.json")
    table = federation.households_frame()
    for household in table.index[table["strategy"] == "net_billing"]:
        row = summary["households"][household]
        assert row["bill_usd"] == pytest.approx(row["baseline_bill_usd"], abs=1e-12)


def test_trading_households_gain_as_a_community(short_lockstep_run):
    summary = short_lockstep_run.read_json("summary.json")
    assert summary["market"]["traded_energy_kwh"] > 0
    assert summary["community_bill_usd"] < summary["community_baseline_bill_usd"]
    # The balance tolerance grows with the substation's largest step energy.
    assert summary["checks"].pop("energy_balance_tolerance_wh") > 0.05
    assert summary["checks"] == {
        "energy_balance_max_abs_error_wh": pytest.approx(0, abs=ENERGY_TOLERANCE_WH),
        "energy_balance_ok": True,
        "metered_energy_max_abs_error_wh": pytest.approx(0, abs=1e-6),
        "grid_payments_max_abs_error_usd": pytest.approx(0, abs=MONEY_TOLERANCE_USD),
        "bills_max_abs_error_usd": pytest.approx(0, abs=MONEY_TOLERANCE_USD),
        "bills_not_received": 0,
        "trade_payments_sum_usd": pytest.approx(0, abs=MONEY_TOLERANCE_USD),
        "settlement_ok": True,
        "state_of_charge_within_limits": True,
    }
