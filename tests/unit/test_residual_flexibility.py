"""Residual flexibility: demand per price level from the schedule LP, curves and affine orders."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tefed.domain.ems.devices.battery import BatteryParameters
from tefed.domain.ems.strategies.residual_flexibility import (
    POWER_TOLERANCE_KW,
    VERTEX_COLUMNS,
    affine_curves,
    curve_vertices,
    flexibility_price_levels,
    monotone_power_kw,
    residual_flexibility,
)
from tefed.domain.ems.strategies.schedule_lp import BatterySchedule
from tefed.io.highs_solver import HighsSolver

LEVELS = np.array([0.1, 0.2, 0.3, 0.4])
#: Flat then falling; non-monotone; inelastic; a seller selling more as the price rises [kW].
POWER = np.array(
    [
        [5.0, 5.0, 5.0, 2.0],
        [3.0, 1.0, 2.0, 0.0],
        [4.0, 4.0, 4.0, 4.0],
        [-1.0, -2.0, -2.0, -3.0],
    ]
)


def test_vertices_by_hand():
    vertices = curve_vertices(LEVELS, POWER)
    assert list(vertices.columns) == list(VERTEX_COLUMNS)
    rows = list(vertices.itertuples(index=False, name=None))
    assert rows == [
        (0, 0.3, 5.0), (0, 0.4, 2.0),  # the flat start adds nothing
        (1, 0.1, 3.0), (1, 0.2, 1.0), (1, 0.3, 1.0), (1, 0.4, 0.0),  # 2.0 lowered to 1.0
        (2, 0.1, 4.0),  # one vertex: inelastic
        (3, 0.1, -1.0), (3, 0.2, -2.0), (3, 0.3, -2.0), (3, 0.4, -3.0),
    ]  # fmt: skip


def test_level_order_does_not_matter():
    order = np.array([2, 0, 3, 1])
    shuffled = curve_vertices(LEVELS[order], POWER[:, order])
    assert shuffled.equals(curve_vertices(LEVELS, POWER))


def test_affine_quadruples_by_hand():
    curves = affine_curves(LEVELS, POWER)
    np.testing.assert_array_equal(curves.price_max_usd_per_kwh, np.full(4, 0.4))
    np.testing.assert_array_equal(curves.price_min_usd_per_kwh, np.full(4, 0.1))
    np.testing.assert_array_equal(curves.power_max_kw, [5.0, 3.0, 4.0, -1.0])  # lowest price
    np.testing.assert_array_equal(curves.power_min_kw, [2.0, 0.0, 4.0, -3.0])  # highest price


def test_monotone_power_is_the_running_minimum_in_price_order():
    power = monotone_power_kw(np.array([0.3, 0.1, 0.2]), np.array([[0.0, 1.0, 3.0]]))
    np.testing.assert_array_equal(power, [[1.0, 1.0, 0.0]])


def test_default_levels_span_export_to_import_price():
    np.testing.assert_allclose(flexibility_price_levels(0.04, 0.16, 4), [0.04, 0.08, 0.12, 0.16])
    np.testing.assert_array_equal(flexibility_price_levels(0.1, 0.1, 3), [0.1])


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: flexibility_price_levels(0.2, 0.1, 3), "export <= import"),
        (lambda: flexibility_price_levels(0.1, 0.2, 1), r"count is 1; expected .* >= 2"),
        (lambda: curve_vertices(np.array([0.1, 0.1]), np.zeros((1, 2))), "repeats 0.1"),
        (lambda: curve_vertices(np.array([0.1, 0.2]), np.zeros((1, 3))), r"shape \(1, 3\)"),
        (
            lambda: affine_curves(np.array([0.1, 0.2]), np.array([[1.0, np.nan]])),
            r"power_kw\[0, 1\] is nan",
        ),
    ],
)
def test_invalid_curve_inputs_are_refused(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def at_prices(vertices, prices):
    """A TENT curve read at ``prices``: linear between vertices, flat beyond the ends."""
    return np.interp(prices, vertices["price_usd_per_kwh"], vertices["power_kw"])


@settings(max_examples=200, deadline=None)
@given(
    levels=st.lists(st.floats(-0.5, 1.0), min_size=1, max_size=7, unique=True),
    data=st.data(),
)
def test_curves_are_monotone_and_keep_the_monotone_powers(levels, data):
    levels = np.array(levels)
    power = data.draw(arrays(float, (3, levels.size), elements=st.floats(-20, 20)))
    monotone = monotone_power_kw(levels, power)
    assert (np.diff(monotone, axis=1) <= 0).all()
    order = np.argsort(levels)
    assert (monotone <= power[:, order]).all()
    vertices = curve_vertices(levels, power)
    for household, curve in vertices.groupby("household"):
        assert len(curve) >= 1
        assert (np.diff(curve["price_usd_per_kwh"]) > 0).all()
        assert (np.diff(curve["power_kw"]) <= 0).all()
        # Dropped vertices lie on the curve through the ones kept.
        read = at_prices(curve, levels[order])
        np.testing.assert_allclose(read, monotone[household], atol=2 * POWER_TOLERANCE_KW)
    assert sorted(vertices["household"].unique()) == [0, 1, 2]
    curves = affine_curves(levels, power)
    assert (curves.power_max_kw >= curves.power_min_kw).all()


HOURS = np.arange(24)
IMPORT_PRICE = np.select([HOURS < 6, HOURS < 17, HOURS < 21], [0.10, 0.20, 0.35], default=0.15)
EXPORT_PRICE = np.full(24, 0.05)


def households():
    """Three households with batteries of different sizes and one without, hourly forecasts."""
    battery = BatteryParameters.from_round_trip(
        [10.0, 13.5, 5.0, 0.0], [5.0, 5.0, 2.5, 0.0], 0.9, 0.1, 0.95
    )
    base = (
        0.6
        + 1.8 * np.exp(-(((HOURS - 19) / 2.0) ** 2))
        - 3.0 * np.exp(-(((HOURS - 12) / 3.0) ** 2))
    )
    net_load = np.stack([base, 1.3 * base, base + 0.4, base])
    return battery, net_load, np.array([5.0, 7.0, 2.0, 0.0])


@pytest.mark.parametrize("path", ["highspy", "pyomo"])
def test_arbitrage_households_demand_more_at_a_low_interval_price(path):
    battery, net_load, soc = households()
    schedule = BatterySchedule(
        battery, 24, 3600.0, "min_cost", parameter_updates=path, solver=HighsSolver()
    )
    levels = flexibility_price_levels(0.0, 0.40, 5)
    found = residual_flexibility(schedule, net_load, IMPORT_PRICE, EXPORT_PRICE, soc, levels)
    assert found.optimal and found.status == ("optimal",) * 5 and found.message == ""
    np.testing.assert_array_equal(found.price_levels_usd_per_kwh, levels)
    assert found.power_kw.shape == (4, 5)
    assert (np.diff(found.power_kw, axis=1) <= 1e-6).all()  # monotone before any clean-up
    assert (found.power_kw[:3, 0] > found.power_kw[:3, -1] + 1.0).all()  # batteries respond
    np.testing.assert_allclose(found.power_kw[3], net_load[3, 0], atol=1e-9)  # none: inelastic
    curves = affine_curves(levels, found.power_kw)
    np.testing.assert_allclose(curves.power_max_kw, found.power_kw[:, 0], atol=1e-6)


def test_the_level_replaces_both_first_period_prices_only():
    # At the forecast prices the first-period power of the plan is one point of the curve when
    # import and export price of that period are equal.
    battery, net_load, soc = households()
    schedule = BatterySchedule(battery, 24, 3600.0, "min_cost", solver=HighsSolver())
    prices = IMPORT_PRICE.astype(float).copy()
    export = EXPORT_PRICE.copy()
    export[0] = prices[0]
    plan = schedule.solve(net_load, prices, export, soc)
    found = residual_flexibility(
        schedule, net_load, IMPORT_PRICE, EXPORT_PRICE, soc, np.array([prices[0]])
    )
    np.testing.assert_allclose(found.power_kw[:, 0], plan.grid_power_kw[:, 0], atol=1e-6)


def test_levels_that_are_not_optimal_are_flagged_and_fall_back_to_the_forecast():
    battery = BatteryParameters.from_round_trip([10.0], [0.5], 0.9025, 0.1, 0.95)
    schedule = BatterySchedule(battery, 24, 3600.0, solver=HighsSolver())
    found = residual_flexibility(
        schedule, np.ones((1, 24)), IMPORT_PRICE, EXPORT_PRICE, [0.2], np.array([0.1, 0.3])
    )
    assert not found.optimal and found.status == ("infeasible", "infeasible")
    assert "at 0.1 USD/kWh" in found.message and "at 0.3 USD/kWh" in found.message
    np.testing.assert_array_equal(found.power_kw, np.ones((1, 2)))


def test_levels_must_increase():
    battery, net_load, soc = households()
    schedule = BatterySchedule(battery, 24, 3600.0, solver=HighsSolver())
    with pytest.raises(
        ValueError, match=r"price_levels_usd_per_kwh\[1\] is 0.1; expected strictly"
    ):
        residual_flexibility(
            schedule, net_load, IMPORT_PRICE, EXPORT_PRICE, soc, np.array([0.2, 0.1])
        )
    with pytest.raises(ValueError, match=r"import_price_usd_per_kwh has shape \(23,\)"):
        residual_flexibility(
            schedule, net_load, IMPORT_PRICE[:23], EXPORT_PRICE, soc, np.array([0.1])
        )
