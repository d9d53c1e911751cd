"""Affine order books: validation, awards at a price, welfare and objective coefficients."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tefed.domain.market.mechanisms.affine_book import (
    ORDER_COLUMNS,
    awards_at_price,
    order_welfare,
    participant_coefficients,
    reactive_ratio,
    validated_orders,
)

PARTICIPANTS = pd.Index(["home", "pv", "shop"])


def book(*rows: tuple) -> pd.DataFrame:
    """Validated book from (order_id, participant, side, p_max, p_min, q_max, q_min) tuples."""
    return validated_orders(pd.DataFrame(list(rows), columns=list(ORDER_COLUMNS)), PARTICIPANTS)


#: Buyer 12 kW at <= 0.10 falling to 2 kW at 0.30 (slope 0.02); seller 1 kW at <= 0.05 rising
#: to 9 kW at 0.25 (slope 0.025); a step seller of 0..4 kW at 0.08.
ORDERS = (
    ("b", "home", "buy", 0.30, 0.10, 12.0, 2.0),
    ("s", "pv", "sell", 0.25, 0.05, 9.0, 1.0),
    ("t", "shop", "sell", 0.08, 0.08, 4.0, 0.0),
)


def test_slopes_and_participant_positions() -> None:
    table = book(*ORDERS)
    assert table["who"].tolist() == [0, 1, 2]
    np.testing.assert_allclose(table["slope"], [0.02, 0.025, 0.0])
    assert table.attrs["n_participants"] == 3


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        (0.05, [12.0, 1.0, 0.0]),  # buyer at its maximum, seller at its must-run, step off
        (0.12, [11.0, 3.8, 4.0]),  # 2 + 0.18 / 0.02; 1 + 0.07 / 0.025; step on
        (0.08, [12.0, 2.2, 4.0]),  # at the step price the step is on
        (0.40, [2.0, 9.0, 4.0]),  # buyer down to its inelastic part, seller at its maximum
    ],
)
def test_awards_at_price_follow_each_curve(price: float, expected: list) -> None:
    np.testing.assert_allclose(awards_at_price(book(*ORDERS), price), expected, atol=1e-12)


def test_welfare_is_the_area_under_the_curves() -> None:
    # Buyer at 11 kW: 0.30 * 11 - 0.01 * 9² = 2.49; seller at 3.8 kW: 0.05 * 3.8 + 0.0125 *
    # 2.8² = 0.288; step seller at 4 kW: 0.08 * 4 = 0.32.
    welfare = order_welfare(book(*ORDERS), np.array([11.0, -3.8, -4.0]))
    assert welfare == pytest.approx(2.49 - 0.288 - 0.32, abs=1e-12)


def test_coefficients_reproduce_the_welfare_gradient() -> None:
    table = book(*ORDERS)
    values = participant_coefficients(table)
    assert values["buy_min"].tolist() == [2.0, 0.0, 0.0]
    assert values["sell_max"].tolist() == [0.0, 9.0, 4.0]
    # d(-B)/dd = slope d - value = -(marginal benefit): at 11 kW the buyer's price is 0.12.
    assert values["buy_slope"][0] * 11 - values["buy_value"][0] == pytest.approx(-0.12)
    # dC/dg = slope g + cost: at 3.8 kW the seller's price is 0.12; the step costs 0.08.
    assert values["sell_slope"][1] * 3.8 + values["sell_cost"][1] == pytest.approx(0.12)
    assert values["sell_cost"][2] == pytest.approx(0.08)


def test_reactive_ratio_scalar_and_series() -> None:
    np.testing.assert_allclose(reactive_ratio(0.8, PARTICIPANTS), [0.75] * 3)
    with pytest.raises(ValueError, match=r"power_factor: got \{'shop': nan\}"):
        reactive_ratio(pd.Series({"home": 1.0, "pv": 0.9}), PARTICIPANTS)
    with pytest.raises(ValueError, match=r"power_factor: got \{'home': 1\.2"):
        reactive_ratio(1.2, PARTICIPANTS)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"participant": "stranger"}, r"orders\.participant: got 'stranger' for order_id 'b'"),
        ({"side": "hold"}, r"orders\.side: got 'hold'"),
        ({"price_max_usd_per_kwh": 0.05}, "price_max_usd_per_kwh: got 0.05 .* >= price_min"),
        ({"power_min_kw": -1.0}, r"power_min_kw: got -1\.0 .* >= 0"),
        ({"power_max_kw": 1.0}, r"power_max_kw: got 1\.0 .* >= power_min_kw"),
        ({"power_max_kw": math.inf}, "power_max_kw: got inf .* finite"),
        ({"price_min_usd_per_kwh": "cheap"}, "price_min_usd_per_kwh: got 'cheap'"),
        ({"order_id": None}, "order_id: got None"),
    ],
)
def test_bad_orders_are_refused(change: dict, message: str) -> None:
    orders = pd.DataFrame([ORDERS[0]], columns=list(ORDER_COLUMNS)).astype(object)
    for column, value in change.items():
        orders.loc[0, column] = value
    with pytest.raises(ValueError, match=message):
        validated_orders(orders, PARTICIPANTS)


def test_repeated_side_duplicate_id_and_missing_column_are_refused() -> None:
    orders = pd.DataFrame([ORDERS[0], ORDERS[0]], columns=list(ORDER_COLUMNS))
    with pytest.raises(ValueError, match="order_id: got 'b' for order_id 'b'"):
        validated_orders(orders, PARTICIPANTS)
    with pytest.raises(ValueError, match=r"participant: got 'home' for order_id 'b2'.* one order"):
        validated_orders(orders.assign(order_id=["b", "b2"]), PARTICIPANTS)
    with pytest.raises(ValueError, match=r"missing column\(s\) \['side'\]"):
        validated_orders(orders.drop(columns="side"), PARTICIPANTS)
