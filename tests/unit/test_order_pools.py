"""T-REX's pools in the households' orders: battery energy dispatchable, PV non-dispatchable."""

from __future__ import annotations

import numpy as np

from tefed.domain.ems.order_forms import order_messages
from tefed.domain.ems.strategies.simple_trader import BUY, SELL, OrderQuotes, battery_sale_wh


def test_a_sale_is_split_by_source_in_the_double_auction() -> None:
    # h0 sells 800 Wh, 300 of them from its battery; h1 sells 200 Wh of PV; h2 buys 500 Wh.
    quotes = OrderQuotes(
        side=np.array([SELL, SELL, BUY]),
        quantity_wh=np.array([800, 200, 500]),
        price_usd_per_kwh=np.array([0.09, 0.10, 0.12]),
        dispatchable_wh=np.array([300, 0, 0]),
    )
    messages = order_messages("double_auction", quotes, 7, 900, 0.069, np.arange(3))
    orders = {
        row: [(o.order_id, o.pool, o.quantity_wh, o.price_usd_per_kwh) for o in m.orders]
        for row, m in messages
    }
    assert orders == {
        0: [
            ("7-sell", "non_dispatchable", 500, 0.09),
            ("7-sell-battery", "dispatchable", 300, 0.09),
        ],
        1: [("7-sell", "non_dispatchable", 200, 0.10)],
        2: [("7-buy", "non_dispatchable", 500, 0.12)],
    }


def test_a_sale_all_from_the_battery_is_one_dispatchable_ask() -> None:
    quotes = OrderQuotes(
        np.array([SELL]), np.array([400]), np.array([0.09]), dispatchable_wh=np.array([400])
    )
    ((_, message),) = order_messages("double_auction", quotes, 3, 900, 0.069, np.arange(1))
    assert [(o.order_id, o.pool, o.quantity_wh) for o in message.orders] == [
        ("3-sell-battery", "dispatchable", 400)
    ]


def test_the_continuous_market_keeps_one_non_dispatchable_order() -> None:
    quotes = OrderQuotes(
        np.array([SELL]), np.array([800]), np.array([0.09]), dispatchable_wh=np.array([300])
    )
    ((_, message),) = order_messages("continuous", quotes, 3, 900, 0.069, np.arange(1))
    assert [(o.pool, o.quantity_wh) for o in message.orders] == [("non_dispatchable", 800)]


def test_the_battery_part_of_a_sale_is_its_discharge_into_the_market() -> None:
    # Sells 500 Wh of which the battery discharges 300; sells 200 while discharging 300 (its
    # load takes 100); buys while discharging; sells with the battery charging.
    sale_wh = battery_sale_wh(
        np.array([SELL, SELL, BUY, SELL]),
        np.array([500, 200, 100, 300]),
        np.array([300.0, 300.0, 300.0, -200.0]),
    )
    assert sale_wh.tolist() == [300, 200, 0, 0]
