"""The market's results as households received them: trades rebuilt from awards, and every
settlement recomputed from awards, metering and prices (MicroTE delivery rules)."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from test_settlement_properties import intervals

from tefed.analysis.received_messages import (
    received_bills,
    received_trades,
    settlement_discrepancies,
)
from tefed.domain.market.ledger import awards_table
from tefed.domain.market.settlement import settle_interval

ENERGY_TOLERANCE_WH, MONEY_TOLERANCE_USD = 1e-6, 1e-9


def award_rows(trades: pd.DataFrame) -> pd.DataFrame:
    """The awards each household receives for ``trades`` of interval 3, as the ems records."""
    books = trades.assign(
        interval_index=3,
        buy_order_id=[f"b{i}" for i in range(len(trades))],
        sell_order_id=[f"s{i}" for i in range(len(trades))],
    )
    return awards_table(books).rename(columns={"participant": "household_id"})


def received(
    energy: pd.Series, trades: pd.DataFrame, import_price: float, export_price: float
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Awards, settlement lines, settlements and prices of one interval as households get them
    from a market that settles by the rules."""
    ledger = settle_interval(energy, trades, import_price, export_price)
    lines = ledger.rename(columns={"participant": "household_id"}).assign(interval_index=3)
    settlements = pd.DataFrame(
        {
            "interval_index": 3,
            "household_id": energy.index,
            "metered_energy_wh": energy.to_numpy(),
            "amount_usd": lines.groupby("household_id")["amount_usd"]
            .sum()
            .reindex(energy.index, fill_value=0.0)
            .to_numpy(),
        }
    )
    prices = pd.DataFrame(
        {
            "interval_index": [3],
            "import_price_usd_per_kwh": [import_price],
            "export_price_usd_per_kwh": [export_price],
        }
    )
    return award_rows(trades), lines, settlements, prices


def discrepancies(awards, lines, settlements, prices) -> pd.DataFrame:
    return settlement_discrepancies(
        awards, lines, settlements, prices, ENERGY_TOLERANCE_WH, MONEY_TOLERANCE_USD
    )


@settings(max_examples=60, deadline=None)
@given(intervals())
def test_settlements_by_the_rules_have_no_discrepancy(interval):
    assert discrepancies(*received(*interval)).empty


TRADE = pd.DataFrame(
    {
        "buyer": ["a"],
        "seller": ["b"],
        "quantity_wh": [1000],
        "price_usd_per_kwh": [0.10],
        "pool": ["non_dispatchable"],
    }
)
# a bought 1000 Wh and drew 1200 Wh; b sold 1000 Wh and delivered 900 Wh (a 100 Wh shortfall).
ENERGY = pd.Series({"a": 1200.0, "b": -900.0})


def test_a_buyer_charged_one_and_a_half_times_the_trade_price_is_found():
    awards, lines, settlements, prices = received(ENERGY, TRADE, 0.30, 0.05)
    bought = (lines["household_id"] == "a") & (lines["reason"] == "trade")
    lines.loc[bought, "amount_usd"] *= 1.5
    settlements.loc[settlements["household_id"] == "a", "amount_usd"] += 0.05
    found = discrepancies(awards, lines, settlements, prices)
    assert found[["household_id", "item", "unit"]].to_numpy().tolist() == [
        ["a", "trade payment", "USD"],
        ["a", "total", "USD"],
    ]
    assert found["expected"].tolist() == pytest.approx([0.10, 0.16])
    assert found["observed"].tolist() == pytest.approx([0.15, 0.21])


def test_imports_priced_at_the_export_price_are_found():
    awards, lines, settlements, prices = received(ENERGY, TRADE, 0.30, 0.05)
    drawn = lines["reason"].isin(["shortfall", "grid_import"])
    lines.loc[drawn, "amount_usd"] = lines.loc[drawn, "energy_wh"] / 1000 * 0.05
    found = discrepancies(awards, lines, settlements, prices)
    # a's 200 Wh beyond its award, b's 100 Wh shortfall: 0.30 USD/kWh expected, 0.05 paid.
    assert found[["household_id", "item"]].to_numpy().tolist() == [
        ["a", "grid_import payment"],
        ["b", "shortfall payment"],
    ]
    assert found["expected"].tolist() == pytest.approx([0.06, 0.03])
    assert found["observed"].tolist() == pytest.approx([0.01, 0.005])


def test_energy_labelled_with_the_wrong_rule_is_found():
    awards, lines, settlements, prices = received(ENERGY, TRADE, 0.30, 0.05)
    lines.loc[lines["reason"] == "shortfall", "reason"] = "grid_import"
    found = discrepancies(awards, lines, settlements, prices)
    assert found["item"].tolist() == [
        "shortfall energy",
        "shortfall payment",
        "grid_import energy",
        "grid_import payment",
    ]
    assert set(found["household_id"]) == {"b"}


def test_trades_are_rebuilt_once_from_the_awards():
    # a bought 300 Wh from b and sold 100 Wh to "ext" (a household in an external program, with
    # no records); a bought 50 Wh from and b sold 200 Wh to the central "market".
    awards = pd.DataFrame(
        [
            ("a", "buy", 300, "b"),
            ("a", "sell", 100, "ext"),
            ("a", "buy", 50, "market"),
            ("b", "sell", 300, "a"),
            ("b", "sell", 200, "market"),
        ],
        columns=["household_id", "side", "quantity_wh", "counterparty"],
    ).assign(interval_index=2, pool="non_dispatchable", price_usd_per_kwh=0.1)
    rebuilt = received_trades(awards)
    assert rebuilt[["buyer", "seller", "quantity_wh"]].to_numpy().tolist() == [
        ["a", "b", 300],
        ["ext", "a", 100],
        ["a", "market", 50],
        ["market", "b", 200],
    ]


def test_bills_are_the_settlements_received():
    intervals = pd.DataFrame(
        {
            "interval_index": [0, 0, 1],
            "household_id": ["a", "b", "a"],
            "bill_usd": [0.2, float("nan"), -0.1],
        }
    )
    assert received_bills(intervals).to_numpy().tolist() == [[0, "a", 0.2], [1, "a", -0.1]]
