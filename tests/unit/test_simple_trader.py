"""Simple trader: residual energy forecast with batteries, and order quoting."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tefed.domain.ems.devices.battery import BatteryParameters
from tefed.domain.ems.strategies.simple_trader import (
    BUY,
    NO_ORDER,
    SELL,
    forecast_residual_energy_wh,
    quote_orders,
)


def _no_batteries(n: int) -> BatteryParameters:
    return BatteryParameters.from_round_trip(np.zeros(n), np.zeros(n), 1.0, 0.0, 1.0)


def _batteries(n: int) -> BatteryParameters:
    """10 kWh, 5 kW, 0.9 each way, state of charge 0.1 to 0.9 (1 to 9 kWh)."""
    return BatteryParameters.from_round_trip(np.full(n, 10.0), np.full(n, 5.0), 0.81, 0.1, 0.9)


def test_without_battery_the_residual_is_the_plain_energy() -> None:
    # Two 15 min steps: a draws 1 then 3 kW (1 kWh), b exports 2 then 1 kW (0.75 kWh).
    natural = np.array([[1.0, -2.0], [3.0, -1.0]])
    residual = forecast_residual_energy_wh(natural, np.zeros(2), _no_batteries(2), 900.0)
    np.testing.assert_allclose(residual, [1000.0, -750.0], rtol=0, atol=1e-9)


def test_battery_covers_the_deficit_up_to_what_it_can_deliver() -> None:
    # 1.5 kWh stored, floor 1 kWh: 0.5 kWh above it reaches the AC side as 0.5 * 0.9 = 0.45 kWh.
    # 2 kW for one hour (four 15 min steps) is 2000 Wh, so 2000 - 450 remain.
    natural = np.full((4, 1), 2.0)
    residual = forecast_residual_energy_wh(natural, np.array([1.5]), _batteries(1), 900.0)
    assert residual[0] == pytest.approx(2000.0 - 450.0, abs=1e-9)


def test_battery_with_enough_energy_covers_the_whole_deficit() -> None:
    natural = np.full((4, 1), 1.0)
    residual = forecast_residual_energy_wh(natural, np.array([5.0]), _batteries(1), 900.0)
    assert residual[0] == pytest.approx(0.0, abs=1e-9)


def test_battery_absorbs_the_surplus_up_to_its_headroom() -> None:
    # 8.5 kWh stored, ceiling 9 kWh: storing 0.5 kWh takes 0.5 / 0.9 kWh from the AC side.
    # 3 kW of surplus for one hour is -3000 Wh.
    natural = np.full((4, 1), -3.0)
    residual = forecast_residual_energy_wh(natural, np.array([8.5]), _batteries(1), 900.0)
    assert residual[0] == pytest.approx(-3000.0 + 500.0 / 0.9, abs=1e-9)


def test_battery_with_enough_headroom_absorbs_the_whole_surplus() -> None:
    natural = np.full((2, 1), -2.0)
    residual = forecast_residual_energy_wh(natural, np.array([5.0]), _batteries(1), 900.0)
    assert residual[0] == pytest.approx(0.0, abs=1e-9)


def test_households_are_forecast_independently() -> None:
    natural = np.column_stack([np.full(4, 2.0), np.full(4, 2.0), np.full(4, -3.0)])
    battery = BatteryParameters.from_round_trip(
        [0.0, 10.0, 10.0], [0.0, 5.0, 5.0], [1.0, 0.81, 0.81], [0.0, 0.1, 0.1], [1.0, 0.9, 0.9]
    )
    residual = forecast_residual_energy_wh(natural, np.array([0.0, 1.5, 8.5]), battery, 900.0)
    np.testing.assert_allclose(residual, [2000.0, 1550.0, -3000.0 + 500.0 / 0.9], rtol=0, atol=1e-9)


def test_quote_orders_by_hand() -> None:
    residual = np.array([120.4, -80.6, 0.3, -0.49, 2.6, 0.0])
    bid = np.array([0.5, 0.9, 0.1, 0.1, 1.0, 0.3])
    ask = np.array([0.2, 0.4, 0.2, 0.2, 0.0, 0.3])
    quotes = quote_orders(residual, 0.30, 0.10, bid, ask)
    assert quotes.side.tolist() == [BUY, SELL, NO_ORDER, NO_ORDER, BUY, NO_ORDER]
    assert quotes.quantity_wh.tolist() == [120, 81, 0, 0, 3, 0]
    assert quotes.quantity_wh.dtype == np.int64
    # bid = 0.10 + f_bid * 0.20, ask = 0.10 + f_ask * 0.20, 0 without an order.
    np.testing.assert_allclose(
        quotes.price_usd_per_kwh, [0.20, 0.18, 0.0, 0.0, 0.30, 0.0], rtol=0, atol=1e-15
    )


def test_zero_residual_gives_no_order() -> None:
    quotes = quote_orders(np.zeros(3), 0.3, 0.1, np.full(3, 0.5), np.full(3, 0.5))
    assert quotes.side.tolist() == [NO_ORDER] * 3
    assert quotes.quantity_wh.tolist() == [0, 0, 0]
    assert quotes.price_usd_per_kwh.tolist() == [0.0, 0.0, 0.0]


@settings(max_examples=60, deadline=None)
@given(
    residual=hnp.arrays(float, 8, elements=st.floats(-5000, 5000, allow_nan=False)),
    bid=hnp.arrays(float, 8, elements=st.floats(0, 1)),
    ask=hnp.arrays(float, 8, elements=st.floats(0, 1)),
    export=st.floats(0.0, 0.2),
    spread=st.floats(0.0, 0.3),
)
def test_order_prices_lie_between_export_and_import_price(
    residual: np.ndarray, bid: np.ndarray, ask: np.ndarray, export: float, spread: float
) -> None:
    import_ = export + spread
    quotes = quote_orders(residual, import_, export, bid, ask)
    ordered = quotes.side != NO_ORDER
    price = quotes.price_usd_per_kwh[ordered]
    assert (price >= export - 1e-12).all()
    assert (price <= import_ + 1e-12).all()
    assert (quotes.quantity_wh[ordered] >= 1).all()
    assert (quotes.quantity_wh[~ordered] == 0).all()
    np.testing.assert_array_equal(quotes.side[ordered], np.sign(residual[ordered]).astype(int))
    assert (np.abs(quotes.quantity_wh - np.abs(residual)) <= 0.5).all()
