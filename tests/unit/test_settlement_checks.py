"""check_ledger: a clean interval passes, each deliberately broken ledger or trade is caught."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_double_auction import book

from tefed.domain.market.ledger_checks import check_ledger
from tefed.domain.market.mechanisms.double_auction import clear_double_auction
from tefed.domain.market.settlement import settle_interval
from tefed.domain.market.trade_checks import check_trades

PV, BATTERY = "non_dispatchable", "dispatchable"

# PV: b1 (h01, 0.15, 400) buys s1 (h02, 0.08, 300); batteries: b2 (h03, 0.20, 200) buys
# s2 (h04, 0.12, 500), then the 100 Wh b1 left open buys from s2 too. Midpoint prices 0.115,
# 0.16 and 0.135.
ORDERS = book(
    ("b1", "h01", "buy", 400, 0.15, 0, PV),
    ("s1", "h02", "sell", 300, 0.08, 1, PV),
    ("b2", "h03", "buy", 200, 0.20, 2, BATTERY),
    ("s2", "h04", "sell", 500, 0.12, 3, BATTERY),
)
ENERGY = pd.Series({"h01": 350.0, "h02": -250.0, "h03": 200.0, "h04": -600.0})


def interval() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The clean interval's ledger and trades."""
    trades = clear_double_auction(ORDERS).trades
    return settle_interval(ENERGY, trades, 0.15, 0.05), trades


def test_clean_interval_has_no_violations() -> None:
    ledger, trades = interval()
    assert trades["quantity_wh"].tolist() == [300, 200, 100]
    assert trades["pool"].tolist() == [PV, BATTERY, BATTERY]
    assert check_ledger(ledger, trades, ORDERS) == []


def test_orders_without_pool_column_default_to_pv() -> None:
    orders = ORDERS[ORDERS["pool"] == PV].drop(columns="pool")
    trades = clear_double_auction(orders).trades
    ledger = settle_interval(ENERGY, trades, 0.15, 0.05)
    assert check_ledger(ledger, trades, orders) == []
    assert check_ledger(ledger, trades.drop(columns="pool"), orders) == []


def test_trade_payment_that_does_not_cancel() -> None:
    ledger, trades = interval()
    ledger.loc[0, "amount_usd"] += 0.01  # h01 pays h02 one cent too much
    violations = check_ledger(ledger, trades, ORDERS)
    assert violations == [
        "trade payments between 'h01' and 'h02' in pool 'non_dispatchable' do not cancel: they "
        "sum to 0.01 USD",
        "trade payments do not cancel: they sum to 0.01 USD, expected 0",
    ]


def test_payments_that_cancel_in_total_but_not_per_pair() -> None:
    ledger, trades = interval()
    # h02 is paid by a counterparty that did not buy from it: the total still cancels.
    seller_row = (ledger["participant"] == "h02") & (ledger["reason"] == "trade")
    ledger.loc[seller_row, "counterparty"] = "h03"
    violations = check_ledger(ledger, trades, ORDERS)
    assert len(violations) == 2
    assert all("do not cancel" in message for message in violations)
    assert "'h01' and 'h02'" in violations[0]
    assert "'h02' and 'h03'" in violations[1]


def test_tiny_rounding_is_tolerated() -> None:
    ledger, trades = interval()
    ledger.loc[0, "amount_usd"] += 5e-10
    assert check_ledger(ledger, trades, ORDERS) == []


def test_award_exceeding_its_order() -> None:
    ledger, trades = interval()
    trades.loc[0, "quantity_wh"] = 350  # s1 only offered 300 Wh; b1 wanted 400 Wh in all
    assert check_ledger(ledger, trades, ORDERS) == [
        "order 'b1' is awarded 450 Wh, more than its 400 Wh",
        "order 's1' is awarded 350 Wh, more than its 300 Wh",
    ]


def test_awards_of_one_order_add_up() -> None:
    ledger, trades = interval()
    # Two trades of 150 Wh on b2 (200 Wh ordered) together exceed it.
    doubled = pd.concat([trades, trades.iloc[[1]]], ignore_index=True)
    doubled.loc[[1, 3], "quantity_wh"] = 150
    violations = check_ledger(ledger, doubled, ORDERS)
    assert "order 'b2' is awarded 300 Wh, more than its 200 Wh" in violations


@pytest.mark.parametrize(
    ("price", "message"),
    [
        (0.151, "trade 0 ('b1' from 's1'): price 0.151 USD/kWh above the bid's limit 0.15"),
        (0.079, "trade 0 ('b1' from 's1'): price 0.079 USD/kWh below the ask's limit 0.08"),
    ],
)
def test_trade_price_outside_its_limits(price: float, message: str) -> None:
    ledger, trades = interval()
    trades.loc[0, "price_usd_per_kwh"] = price
    assert check_ledger(ledger, trades, ORDERS) == [message]


def test_trade_between_orders_of_different_pools() -> None:
    ledger, trades = interval()
    trades.loc[1, "sell_order_id"] = "s1"  # b2 (batteries) "bought" from the PV ask
    trades.loc[1, "seller"] = "h02"
    violations = check_ledger(ledger, trades, ORDERS)
    assert (
        "trade 1 ('b2' from 's1'): buy order in pool 'dispatchable', sell order in pool "
        "'non_dispatchable'"
    ) in violations
    assert (
        "trade 1 ('b2' from 's1'): pool 'dispatchable' but its sell order is in pool "
        "'non_dispatchable'"
    ) in violations


def test_pv_bid_may_buy_in_the_battery_pool_but_not_a_battery_bid_in_the_pv_pool() -> None:
    _, trades = interval()
    assert check_trades(trades, ORDERS) == []
    trades.loc[0, "pool"] = BATTERY  # the PV trade b1-s1 relabelled: its ask is PV
    assert check_trades(trades, ORDERS) == [
        "trade 0 ('b1' from 's1'): pool 'dispatchable' but its sell order is in pool "
        "'non_dispatchable'"
    ]


def test_trade_pool_that_is_not_its_orders_pool() -> None:
    ledger, trades = interval()
    trades.loc[1, "pool"] = PV
    assert check_ledger(ledger, trades, ORDERS) == [
        "trade 1 ('b2' from 's2'): pool 'non_dispatchable' but its buy order is in pool "
        "'dispatchable'",
        "trade 1 ('b2' from 's2'): pool 'non_dispatchable' but its sell order is in pool "
        "'dispatchable'",
    ]


def test_self_trade_by_name() -> None:
    ledger, trades = interval()
    trades.loc[0, "seller"] = "h01"
    assert "trade 0 ('b1' from 's1'): self-trade of 'h01'" in check_ledger(ledger, trades, ORDERS)


def test_self_trade_by_orders() -> None:
    ledger, trades = interval()
    orders = ORDERS.assign(participant=["h01", "h01", "h03", "h04"])
    assert check_ledger(ledger, trades, orders) == [
        "trade 0 ('b1' from 's1'): self-trade, both orders are 'h01''s"
    ]


def test_order_of_the_wrong_side() -> None:
    ledger, trades = interval()
    orders = ORDERS.assign(side=["sell", "sell", "buy", "sell"])
    violations = check_ledger(ledger, trades, orders)
    assert violations == [
        "trade 0 ('b1' from 's1'): its buy order 'b1' is a sell order",
        "trade 2 ('b1' from 's2'): its buy order 'b1' is a sell order",
    ]


def test_central_counterparty_trades_are_checked_by_their_own_limits() -> None:
    # Curve clearing: a's curve order (not among the simple orders) sells 400 Wh to the
    # market; no limit prices are recorded (NaN), the empty order id has no order.
    trades = pd.DataFrame(
        {
            "buy_order_id": ["", "b9"],
            "sell_order_id": ["c1", ""],
            "buyer": ["market", "h05"],
            "seller": ["h01", "market"],
            "quantity_wh": [400, 100],
            "price_usd_per_kwh": [0.08, 0.08],
            "bid_price_usd_per_kwh": [np.nan, 0.07],
            "ask_price_usd_per_kwh": [np.nan, np.nan],
            "pool": [PV, PV],
        }
    )
    ledger = settle_interval(pd.Series({"h01": -400.0, "h05": 100.0}), trades, 0.15, 0.05)
    # The second trade's own bid limit (0.07) is below its price 0.08.
    assert check_ledger(ledger, trades, ORDERS) == [
        "trade 1 ('b9' from ''): price 0.08 USD/kWh above the bid's limit 0.07"
    ]


def test_many_violations_of_one_kind_are_summarised() -> None:
    ledger, trades = interval()
    many = pd.concat([trades.iloc[[0]]] * 8, ignore_index=True).assign(seller="h01")
    violations = check_ledger(ledger, many, ORDERS)
    # Eight self-trades: five listed, then a count; the awards add up to 8 × 300 Wh.
    self_trades = [message for message in violations if "self-trade" in message]
    assert [int(message[6]) for message in self_trades] == [0, 1, 2, 3, 4]
    assert violations[violations.index(self_trades[-1]) + 1] == "... and 3 more such trades"
    assert "order 's1' is awarded 2400 Wh, more than its 300 Wh" in violations


def test_empty_interval_has_no_violations() -> None:
    trades = clear_double_auction(book()).trades
    ledger = settle_interval(pd.Series({"h01": 0.0}), trades, 0.15, 0.05)
    assert check_ledger(ledger, trades, book()) == []
