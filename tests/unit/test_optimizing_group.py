"""The optimizing strategy group: forecasts past the end of the run, recorded plans."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from tefed.contract import keys
from tefed.contract.time_grid import TimeGrid
from tefed.domain.ems.devices.battery import BatteryParameters
from tefed.domain.ems.strategy_groups import OptimizingGroup, ShardState
from tefed.domain.prices.interval_prices import IntervalPrices
from tefed.io.highs_solver import HighsSolver

#: One hour of 15-minute intervals; the plan looks eight intervals ahead.
RUN_INTERVALS, HORIZON = 4, 8


def evening_after_the_run(natural_kw: np.ndarray) -> OptimizingGroup:
    """One household with a 10 kWh / 5 kW battery, half full, under flat prices."""
    grid = TimeGrid(
        datetime(2022, 6, 21, 16, tzinfo=ZoneInfo("Europe/Berlin")),
        RUN_INTERVALS * 900,
        60,
        900,
        60,
    )
    battery = BatteryParameters.from_round_trip(
        capacity_kwh=np.array([10.0]),
        power_kw=np.array([5.0]),
        round_trip_efficiency=np.array([1.0]),
        soc_min=np.array([0.0]),
        soc_max=np.array([1.0]),
    )
    prices = IntervalPrices(RUN_INTERVALS + HORIZON)
    prices.update(
        0,
        {
            keys.IMPORT_PRICE_FORECAST: np.full(HORIZON, 0.30),
            keys.EXPORT_PRICE_FORECAST: np.full(HORIZON, 0.05),
        },
    )
    options = {
        "objective": "min_import",
        "horizon_intervals": HORIZON,
        "price_forecast": "price_feed",
        "flexibility_levels": 4,
    }
    return OptimizingGroup(
        np.array([0]),
        options,
        battery,
        natural_kw,
        prices,
        grid,
        curves=False,
        community=False,
        solver=HighsSolver(),
    )


def test_a_plan_in_the_last_hour_sees_the_evening_past_the_end_of_the_run():
    # Surplus of 5 kW during the run, a 5 kW load for the two hours after it.
    natural_kw = np.r_[np.full(RUN_INTERVALS, -5.0), np.full(HORIZON, 5.0)][:, np.newaxis]
    group = evening_after_the_run(natural_kw)
    state = ShardState(1, np.full((15, 1), -5.0), np.array([5.0]), 0.30, 0.05)
    orders = group.quote(state)
    # Charging 5 kW from the surplus now leaves 1.25 kWh less to import later: the plan stores
    # all of it (without the evening in view, nothing would be worth storing).
    np.testing.assert_allclose(orders.planned_net_wh, [0.0], atol=1e-6)
    assert [solve[:2] for solve in group.solves] == [(1, "optimal")]
    net_kw, import_price, export_price = group._forecast(3)
    np.testing.assert_allclose(net_kw[0], [-5.0] + [5.0] * 7)
    # Prices are known as far as the feed published (interval 7), then held.
    np.testing.assert_allclose(import_price, 0.30)
    np.testing.assert_allclose(export_price, 0.05)
