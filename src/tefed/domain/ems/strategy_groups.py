"""The strategies of one ems shard, each over the households that use it.

The ems holds every household of a shard as arrays; a strategy group is the set of households
with the same strategy and options. At each ordering time the ems asks every group for its
households' orders (`StrategyGroup.quote`), and after each clearing it tells every group the
market's price (`StrategyGroup.observe`). A group works on whole arrays, never per household.

- ``net_billing``: never orders;
- ``self_consumption``: the forecast deficit or surplus with the battery doing self-consumption,
  at fixed positions between export and import price
  (`tefed.domain.ems.strategies.simple_trader`);
- ``ma_crossover``: T-REX's expert trader (`tefed.domain.ems.strategies.ma_crossover`);
- ``optimizing``: the receding-horizon LP (`tefed.domain.ems.strategies.schedule_lp`), which also
  gives the planned net energy the battery follows during delivery, and a curve (or affine
  curve) of how its first-period demand responds to the interval price.

Forecasts are perfect for the households' own load and PV (the profiles are known for the whole
run); prices come from the price feed's forecasts, or, for ``price_forecast: market_history``,
from the clearing prices the shard has seen per time of day.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, fields

import numpy as np

from tefed.contract.time_grid import TimeGrid
from tefed.domain.ems.devices.battery import BatteryParameters
from tefed.domain.ems.strategies.ma_crossover import MaCrossoverParameters, MaCrossoverTrader
from tefed.domain.ems.strategies.residual_flexibility import (
    flexibility_price_levels,
    residual_flexibility,
)
from tefed.domain.ems.strategies.simple_trader import (
    BUY,
    NO_ORDER,
    SELL,
    OrderQuotes,
    battery_sale_wh,
    forecast_residual_energy_wh,
    quote_orders,
)
from tefed.domain.persistent_solver import PersistentSolver

log = logging.getLogger("tefed.ems")

STRATEGIES = ("net_billing", "self_consumption", "ma_crossover", "optimizing")


@dataclass(frozen=True)
class ShardState:
    """What a group may read at an ordering time; arrays over the whole shard.

    Attributes
    ----------
    interval : int
        Delivery interval being ordered for.
    natural_kw : numpy.ndarray
        Forecast load + EV − PV per grid step of the interval, (steps, households) [kW].
    soc_kwh : numpy.ndarray
        Stored battery energy now, per household [kWh].
    import_price_usd_per_kwh, export_price_usd_per_kwh : float
        Net-billing prices of the interval [USD/kWh].
    """

    interval: int
    natural_kw: np.ndarray
    soc_kwh: np.ndarray
    import_price_usd_per_kwh: float
    export_price_usd_per_kwh: float


@dataclass(frozen=True)
class GroupOrders:
    """The orders of a group's households for one interval.

    Attributes
    ----------
    members : numpy.ndarray of int
        Shard indices of the group's households.
    quotes : OrderQuotes
        One simple quote per member (side ``NO_ORDER``: none).
    curve_price_levels_usd_per_kwh : numpy.ndarray or None
        Price levels of the members' demand curves, rising, (levels,) [USD/kWh].
    curve_power_kw : numpy.ndarray or None
        Per member, the power drawn at each level, (members, levels), + buying [kW]; used
        instead of the quote where the market takes curves or affine curves.
    planned_net_wh : numpy.ndarray or None
        Per member, the net energy its plan draws in the interval; the battery follows it
        during delivery [Wh].
    """

    members: np.ndarray
    quotes: OrderQuotes
    curve_price_levels_usd_per_kwh: np.ndarray | None = None
    curve_power_kw: np.ndarray | None = None
    planned_net_wh: np.ndarray | None = None


def battery_subset(battery: BatteryParameters, members: np.ndarray) -> BatteryParameters:
    """The battery ratings of ``members`` (shard indices) only."""
    values = {}
    for field in fields(battery):
        value = getattr(battery, field.name)
        if field.name == "household_ids":
            values[field.name] = None if value is None else [value[k] for k in members.tolist()]
        else:
            values[field.name] = np.asarray(value)[members] if np.ndim(value) else value
    return BatteryParameters(**values)


class StrategyGroup:
    """Households of a shard that share one strategy and its options (base: ``net_billing``).

    Parameters
    ----------
    members : numpy.ndarray of int
        Shard indices of the households.
    options : dict
        The strategy's options from the household table.
    """

    name = "net_billing"

    def __init__(self, members: np.ndarray, options: dict):
        self.members = members
        self.options = options

    def quote(self, state: ShardState) -> GroupOrders:
        """No orders."""
        count = self.members.size
        none = OrderQuotes(
            np.full(count, NO_ORDER), np.zeros(count, dtype=np.int64), np.zeros(count)
        )
        return GroupOrders(self.members, none)

    def observe(self, interval: int, price_usd_per_kwh: float) -> None:
        """Take in the market's clearing price of ``interval`` (NaN: no trade) [USD/kWh]."""


class SelfConsumptionGroup(StrategyGroup):
    """Orders the residual of self-consumption at fixed price fractions."""

    name = "self_consumption"

    def __init__(
        self, members: np.ndarray, options: dict, battery, bid_fraction, ask_fraction, step_s
    ):
        super().__init__(members, options)
        self._bid, self._ask, self._step_s = bid_fraction, ask_fraction, step_s
        self._battery = battery_subset(battery, members)

    def quote(self, state: ShardState) -> GroupOrders:
        """Bid the forecast deficit, ask the forecast surplus."""
        residual_wh = self._residual_wh(state)
        quotes = quote_orders(
            residual_wh,
            state.import_price_usd_per_kwh,
            state.export_price_usd_per_kwh,
            self._bid,
            self._ask,
        )
        return GroupOrders(self.members, quotes)

    def _residual_wh(self, state: ShardState) -> np.ndarray:
        return forecast_residual_energy_wh(
            state.natural_kw[:, self.members],
            state.soc_kwh[self.members],
            self._battery,
            self._step_s,
        )


class MaCrossoverGroup(SelfConsumptionGroup):
    """T-REX's expert trader over the group's households."""

    name = "ma_crossover"

    def __init__(
        self, members, options, battery, bid_fraction, ask_fraction, step_s, grid: TimeGrid
    ):
        super().__init__(members, options, battery, bid_fraction, ask_fraction, step_s)
        self._grid = grid
        self._slots = grid.intervals_per_day
        self._trader = MaCrossoverTrader(
            MaCrossoverParameters(
                stage=options["stage"],
                fast_window_intervals=options["fast_window_intervals"],
                slow_window_intervals=options["slow_window_intervals"],
                learning_rate=options["learning_rate"],
                slots_per_day=self._slots,
                margin_fraction=options["margin_fraction"],
                initial_bid_fraction=bid_fraction,
                initial_ask_fraction=ask_fraction,
            )
        )

    def quote(self, state: ShardState) -> GroupOrders:
        """Learned prices; the battery buys or sells on the moving-average crossover."""
        natural_wh = state.natural_kw[:, self.members].sum(axis=0) * self._step_s / 3.6
        quotes = self._trader.quote(
            state.interval % self._slots,
            natural_wh,
            self._residual_wh(state),
            state.soc_kwh[self.members],
            self._battery,
            self._grid.market_interval_s,
            state.import_price_usd_per_kwh,
            state.export_price_usd_per_kwh,
        )
        return GroupOrders(self.members, quotes)

    def observe(self, interval: int, price_usd_per_kwh: float) -> None:
        """Learn the slot's price and move the averages."""
        self._trader.observe(interval, interval % self._slots, price_usd_per_kwh)


class OptimizingGroup(StrategyGroup):
    """Receding-horizon battery LP; orders its planned net energy of the first period.

    Parameters
    ----------
    members, options
        As for `StrategyGroup`; options ``objective``, ``horizon_intervals``,
        ``price_forecast``, ``flexibility_levels``.
    battery : BatteryParameters
        Ratings of the shard's batteries.
    natural_interval_kw : numpy.ndarray
        Forecast mean natural net power per interval of the run and one horizon past it,
        (intervals, members) [kW]; for the community battery, the whole community's.
    prices : IntervalPrices
        The shard's record of price-feed forecasts.
    grid : TimeGrid
        The run's time grid.
    curves : bool
        Whether the market takes curves (then the flexibility is probed each interval).
    community : bool
        Whether the group is the community battery's agent, which orders its battery's power
        against the whole community's forecast.
    solver : PersistentSolver
        A fresh LP solver for the group's schedule.
    """

    name = "optimizing"

    def __init__(
        self,
        members,
        options,
        battery,
        natural_interval_kw,
        prices,
        grid,
        curves,
        community,
        *,
        solver: PersistentSolver,
    ):
        super().__init__(members, options)
        self._community = community
        self._grid, self._prices, self._curves = grid, prices, curves
        self._horizon = int(options["horizon_intervals"])
        self._slots = grid.intervals_per_day
        self._natural_kw = natural_interval_kw
        self._battery = battery_subset(battery, members)
        # pyomo and HiGHS load only in a shard with planning households (about 1 s of start-up
        # that every other ems process is spared).
        from tefed.domain.ems.strategies.schedule_lp import BatterySchedule

        self._schedule = BatterySchedule(
            self._battery,
            self._horizon,
            grid.market_interval_s,
            options["objective"],
            solver=solver,
        )
        self._seen_price = np.full(self._slots, np.nan)
        self._last_interval: int | None = None
        #: The latest plan's grid power, (members, horizon), from interval ``_plan_start`` [kW].
        self._plan_kw: np.ndarray | None = None
        self._plan_start = 0
        #: One record per plan: (interval, solver status, message, objective value [USD or kWh]).
        self.solves: list[tuple[int, str, str, float]] = []

    def quote(self, state: ShardState) -> GroupOrders:
        """Solve the plan from now; order its first period's net energy."""
        net_kw, import_price, export_price = self._forecast(state.interval)
        soc = np.clip(
            state.soc_kwh[self.members],
            self._battery.soc_min * self._battery.capacity_kwh,
            self._battery.soc_max * self._battery.capacity_kwh,
        )
        # Each new interval moves the window one period on: HiGHS starts from the moved basis.
        advanced = 0 if self._last_interval is None else state.interval - self._last_interval
        self._last_interval = state.interval
        result = self._schedule.solve(
            net_kw, import_price, export_price, soc, periods_advanced=max(advanced, 0)
        )
        self.solves.append(
            (state.interval, result.status, result.message, float(result.objective_value))
        )
        if not result.optimal:
            log.warning(
                "optimizing EMS, interval %d: %s; batteries idle this interval",
                state.interval,
                result.message,
            )
        # The community battery's agent draws only its battery's power; a household draws its
        # whole planned net power.
        if result.optimal:
            self._plan_kw = result.battery_power_kw if self._community else result.grid_power_kw
            self._plan_start = state.interval
        planned_kw = (result.battery_power_kw if self._community else result.grid_power_kw)[:, 0]
        planned_wh = planned_kw * self._grid.market_interval_s / 3.6
        quantity_wh = np.rint(np.abs(planned_wh)).astype(np.int64)
        side = np.where(quantity_wh == 0, NO_ORDER, np.where(planned_wh > 0, BUY, SELL))
        # A household that would otherwise trade with the grid bids up to the import price and
        # asks down to the export price: any trade between them beats net billing.
        price = np.where(
            side == BUY, state.import_price_usd_per_kwh, state.export_price_usd_per_kwh
        )
        quantity_wh = np.where(side == NO_ORDER, 0, quantity_wh)
        # What the battery discharges is sold in the dispatchable pool (T-REX's pools).
        discharge_wh = -result.battery_power_kw[:, 0] * self._grid.market_interval_s / 3.6
        quotes = OrderQuotes(
            side, quantity_wh, price, battery_sale_wh(side, quantity_wh, discharge_wh)
        )
        levels = curve_power = None
        if self._curves and result.optimal:
            levels = flexibility_price_levels(
                state.export_price_usd_per_kwh,
                state.import_price_usd_per_kwh,
                int(self.options["flexibility_levels"]),
            )
            flexibility = residual_flexibility(
                self._schedule, net_kw, import_price, export_price, soc, levels
            )
            # The order forms make the curve monotone (curve_vertices, affine_curves); the
            # community's constant offset per row keeps it so.
            curve_power = flexibility.power_kw
            if self._community:
                curve_power = curve_power - net_kw[:, :1]
        return GroupOrders(self.members, quotes, levels, curve_power, planned_wh)

    def planned_grid_kw(self, intervals: np.ndarray) -> np.ndarray:
        """Mean power the members plan to draw over each row of ``intervals`` (periods, k),
        from the latest optimal plan where it reaches and the forecast net load beyond;
        (members, periods) [kW]. The community battery's agent plans its battery's power."""
        forecast_kw = self._natural_kw[np.minimum(intervals, self._natural_kw.shape[0] - 1)]
        if self._community:
            forecast_kw = np.zeros_like(forecast_kw[..., :1])
        power_kw = np.broadcast_to(forecast_kw, (*intervals.shape, self.members.size)).copy()
        if self._plan_kw is not None:
            offset = intervals - self._plan_start
            known = (offset >= 0) & (offset < self._plan_kw.shape[1])
            power_kw[known] = self._plan_kw[:, offset[known]].T
        return power_kw.mean(axis=1).T

    def observe(self, interval: int, price_usd_per_kwh: float) -> None:
        """Remember the clearing price of the interval's time of day."""
        if np.isfinite(price_usd_per_kwh):
            self._seen_price[interval % self._slots] = price_usd_per_kwh

    def _forecast(self, interval: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Net load (members, H) [kW] and import, export prices (H,) [USD/kWh] from ``interval``.

        Net load is known one horizon past the end of the run; prices as far as the price feed
        has published, then the last price published.
        """
        # The shard computed its net load one longest horizon past the end of the run.
        wanted = interval + np.arange(self._horizon)
        net_kw = self._natural_kw[wanted].T
        import_price = self._prices.import_usd_per_kwh[wanted]
        export_price = self._prices.export_usd_per_kwh[wanted]
        import_price, export_price = _filled(import_price), _filled(export_price)
        if self.options["price_forecast"] == "market_history":
            seen = self._seen_price[wanted % self._slots]
            known = np.isfinite(seen)
            clipped = np.clip(seen, export_price, import_price)
            import_price = np.where(known, clipped, import_price)
            export_price = np.where(known, clipped, export_price)
        return net_kw, import_price, np.minimum(export_price, import_price)


def _filled(price: np.ndarray) -> np.ndarray:
    """Fill NaN from the last known value before it (or the first after it)."""
    known = np.flatnonzero(np.isfinite(price))
    if known.size == 0:
        raise ValueError("no price forecast from the price feed for the optimizing EMS")
    position = np.searchsorted(known, np.arange(price.size), side="right") - 1
    return price[known[np.clip(position, 0, None)]]


def forecast_intervals_needed(rows) -> int:
    """Market intervals past the end of the run that the shard's plans look at [-].

    The longest ``horizon_intervals`` among the shard's optimizing households, 0 without any.

    >>> import pandas as pd
    >>> rows = pd.DataFrame({"strategy": ["optimizing", "net_billing"],
    ...                      "strategy_options": ['{"horizon_intervals": 48}', ""]})
    >>> forecast_intervals_needed(rows)
    48
    """
    optimizing = rows.loc[rows["strategy"] == "optimizing", "strategy_options"]
    return max((int(json.loads(text)["horizon_intervals"]) for text in optimizing), default=0)


def strategy_groups(
    rows,
    battery: BatteryParameters,
    natural_interval_kw,
    community_kw,
    prices,
    grid,
    curves,
    solver_factory: Callable[[], PersistentSolver],
) -> list[StrategyGroup]:
    """One group per (strategy, options) among the shard's households, in a fixed order.

    Parameters
    ----------
    rows : pandas.DataFrame
        The shard's rows of the household table, in shard order.
    battery : BatteryParameters
        The shard's batteries.
    natural_interval_kw : numpy.ndarray
        Mean natural net power per interval, (intervals, shard households) [kW].
    community_kw : numpy.ndarray or None
        The whole community's mean natural net power per interval, (intervals,) [kW], for a
        household that serves the community (the community battery).
    prices : IntervalPrices
        The shard's price record.
    grid : TimeGrid
        The time grid.
    curves : bool
        Whether the market takes curves or affine curves.
    solver_factory : callable
        Makes a fresh LP solver, one per optimizing group (called only for those).
    """
    groups: list[StrategyGroup] = []
    strategy = rows["strategy"].to_numpy()
    options_text = rows["strategy_options"].to_numpy()
    serves = rows["serves_community"].to_numpy(bool)
    bid = rows["bid_price_fraction"].to_numpy(float)
    ask = rows["ask_price_fraction"].to_numpy(float)
    keys = sorted(set(zip(strategy.tolist(), options_text.tolist(), serves.tolist(), strict=True)))
    for name, text, community in keys:
        members = np.flatnonzero(
            (strategy == name) & (options_text == text) & (serves == community)
        )
        options = json.loads(text) if text else {}
        if name == "net_billing":
            groups.append(StrategyGroup(members, options))
        elif name == "self_consumption":
            groups.append(
                SelfConsumptionGroup(
                    members, options, battery, bid[members], ask[members], grid.grid_step_s
                )
            )
        elif name == "ma_crossover":
            groups.append(
                MaCrossoverGroup(
                    members, options, battery, bid[members], ask[members], grid.grid_step_s, grid
                )
            )
        else:
            natural = (
                np.repeat(community_kw[:, None], members.size, axis=1)
                if community
                else natural_interval_kw[:, members]
            )
            groups.append(
                OptimizingGroup(
                    members,
                    options,
                    battery,
                    natural,
                    prices,
                    grid,
                    curves,
                    community,
                    solver=solver_factory(),
                )
            )
    return groups
