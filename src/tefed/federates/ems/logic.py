"""Ems federate logic: many households per process, held as arrays.

At every grid instant (phase 2 of 4) the ems

1. takes in price forecasts and the market's messages (awards, settlements, rejections), and
   shows each strategy the market's clearing price once per interval;
2. lets every trading household order for interval ``k`` in the form the market's mechanism
   takes (`tefed.domain.ems.order_forms`): at gate closure of ``k``, or, in the continuous market,
   at a time of its own while the gate is open (fixed per household by its profile seed). Each
   strategy group (`tefed.domain.ems.strategy_groups`) quotes once per interval, over arrays;
3. dispatches each battery: toward the planned net power of an ``optimizing`` household, toward
   the awarded net power of a household whose battery covers shortfalls, or for
   self-consumption otherwise; and publishes every household's net power;
4. runs the same households under net billing in parallel (a shadow fleet with its own battery
   states) so each household's baseline bill is known from the same run.

One last step at the end of the run receives the final settlements. Every award and settlement
line a household receives is recorded (``household_awards``, ``household_settlements``): the
market's results as they reached the households, whatever program runs the market.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from tefed.contract import keys
from tefed.contract.errors import InputError
from tefed.contract.logic import (
    FederateContext,
    FederateLogic,
    Message,
    StepInputs,
    StepOutputs,
)
from tefed.contract.parted_table import PartedTable, results_flush_clock
from tefed.contract.role_configs import EmsConfig, read_role_config
from tefed.contract.run_folder import RunFolder
from tefed.contract.shard_layout import ShardLayout
from tefed.contract.time_grid import TimeGrid
from tefed.domain.ems.devices.battery_dispatch import dispatch_battery, self_consumption_request_kw
from tefed.domain.ems.order_forms import (
    ORDER_KIND,
    curve_messages,
    day_ahead_messages,
    order_messages,
)
from tefed.domain.ems.strategies.simple_trader import NO_ORDER
from tefed.domain.ems.strategy_groups import (
    STRATEGIES,
    ShardState,
    forecast_intervals_needed,
    strategy_groups,
)
from tefed.domain.market.mechanisms.day_ahead import DayAheadMarket, day_ahead_markets
from tefed.domain.persistent_solver import PersistentSolver
from tefed.domain.prices.interval_prices import IntervalPrices
from tefed.federates.ems.household_profiles import household_batteries, household_profiles
from tefed.federates.ems.market_inbox import MarketInbox
from tefed.federates.ems.record_tables import (
    EMPTY_TABLES,
    RECEIVED_COLUMNS,
    plan_records,
    received_records,
)

log = logging.getLogger("tefed.ems")


class EmsFederate(FederateLogic):
    """A shard of households: devices, strategies, dispatch and records."""

    role = "ems"

    # --- set-up -------------------------------------------------------------------------------

    def initialize(self, context: FederateContext) -> None:
        """Build device arrays and profiles of this shard's households."""
        self._name = context.name
        self._grid: TimeGrid = context.time_grid
        config: EmsConfig = read_role_config(self.role, context.config, context.name)
        table = context.federation.households_frame()
        hosted = list(config.households)
        unknown = sorted(set(hosted) - set(table.index))
        if unknown:
            raise InputError(
                f"federate {context.name}",
                [f"ems.households: {unknown}; expected ids from the household table"],
            )
        rows = table.loc[hosted]
        self._ids = hosted
        self._check_strategies(rows)
        count = len(hosted)

        # Optimizing households plan one horizon ahead, past the end of the run too.
        forecast_intervals = forecast_intervals_needed(rows)
        profiles = household_profiles(
            table,
            self._grid,
            context.federation.tefed.site,
            config.pv_model,
            context.seed,
            hosted,
            community=bool(rows["serves_community"].any()),
            base_dir=context.base_dir,
            forecast_steps=forecast_intervals * self._grid.steps_per_interval,
        )
        n_steps, n_intervals = self._grid.n_steps, self._grid.n_intervals
        self._load_kw, self._pv_kw, self._ev_kw = (
            profiles.load_kw[:n_steps],
            profiles.pv_kw[:n_steps],
            profiles.ev_kw[:n_steps],
        )
        self._battery, initial_soc = household_batteries(rows)
        self._soc_kwh = initial_soc.copy()
        self._baseline_soc_kwh = initial_soc.copy()
        self._follows_awards = rows["battery_covers_shortfall"].to_numpy(bool)
        try:
            self._layout = ShardLayout.from_federation(context.federation)
            self._shard = self._layout.shard(context.name)
        except ValueError as error:
            raise InputError(f"federate {context.name}", [str(error)]) from None
        if list(self._shard.household_ids) != hosted:
            raise InputError(
                f"federate {context.name}",
                ["ems.households: the shard layout disagrees with this entry's households"],
            )
        self._publish_reactive = config.publish_reactive_power
        self._kvar_per_kw = np.tan(np.arccos(rows["power_factor"].to_numpy(float)))
        self._endpoints = [keys.household_endpoint(h) for h in hosted]
        self._mechanism = config.market_mechanism
        # Continuous market: each household orders this many grid steps before gate closure,
        # never before the start of the interval preceding the one it orders for.
        lead_choices = (
            self._grid.market_interval_s - self._grid.gate_closure_s
        ) // self._grid.grid_step_s + 1
        self._order_lead_steps = (
            rows["profile_seed"].to_numpy(np.int64) % lead_choices
            if self._mechanism == "continuous"
            else np.zeros(count, dtype=np.int64)
        )
        self._order_leads = np.unique(self._order_lead_steps).tolist()

        self._prices = IntervalPrices(n_intervals + forecast_intervals)
        forecast_kw = profiles.load_kw + profiles.ev_kw - profiles.pv_kw
        natural_kw = forecast_kw[:n_steps]
        per_interval = self._grid.steps_per_interval
        known = n_intervals + forecast_intervals
        self._groups = strategy_groups(
            rows,
            self._battery,
            forecast_kw.reshape(known, per_interval, count).mean(axis=1),
            None
            if profiles.community_kw is None
            else profiles.community_kw.reshape(known, per_interval).mean(axis=1),
            self._prices,
            self._grid,
            curves=ORDER_KIND[self._mechanism] != "simple",
            solver_factory=_lp_solver,
        )
        #: Forecast mean net power per interval of the run and past it, (intervals, count) [kW].
        self._forecast_interval_kw = forecast_kw.reshape(known, per_interval, count).mean(axis=1)
        self._bid_fraction = rows["bid_price_fraction"].to_numpy(float)
        self._ask_fraction = rows["ask_price_fraction"].to_numpy(float)
        self._day_ahead: list[DayAheadMarket] = (
            []
            if config.day_ahead is None
            else day_ahead_markets(
                n_intervals,
                self._grid.market_interval_s,
                self._grid.grid_step_s,
                config.day_ahead.period_s,
                config.day_ahead.gate_closure_hour,
            )
        )
        self._is_trader = np.zeros(count, dtype=bool)
        for group in self._groups:
            self._is_trader[group.members] = group.name != "net_billing"
        self._planned_net_wh = np.full((n_intervals, count), np.nan)
        self._quoted: dict[int, list] = {}
        # A federation with a market has it settle every interval with every household.
        self._inbox = MarketInbox(
            hosted,
            self._grid,
            self._layout,
            settled_by_market=context.federation.endpoint_owner(keys.MARKET_ENDPOINT) is not None,
        )
        self._flush_clock = results_flush_clock(
            self._grid, context.federation.tefed.runtime.flush_min_wall_s
        )
        self._tables: dict[str, PartedTable] = {}
        self._written_steps = 0
        self._written_intervals = 0
        #: Plans written so far, per optimizing group number.
        self._written_solves: dict[int, int] = {}
        self._battery_kw = np.zeros((n_steps, count))
        self._natural_kw = natural_kw
        self._power_kw = np.zeros((n_steps, count))
        self._soc_record_kwh = np.zeros((n_steps, count))
        self._baseline_power_kw = np.zeros((n_steps, count))

    @staticmethod
    def _check_strategies(rows: pd.DataFrame) -> None:
        unknown = rows.loc[~rows["strategy"].isin(STRATEGIES), "strategy"]
        if not unknown.empty:
            raise InputError(
                "household table",
                [
                    f"households[{household}].strategy: got {strategy!r}; expected one of "
                    f"{STRATEGIES}"
                    for household, strategy in unknown.items()
                ],
            )

    def schedule_s(self) -> np.ndarray:
        """Every grid step, plus the end of the run to receive the last settlements."""
        return np.append(self._grid.step_times_s(), self._grid.duration_s)

    # --- stepping -----------------------------------------------------------------------------

    def step(self, time_s: int, inputs: StepInputs) -> StepOutputs:
        """Take in prices and market messages, order at gate closure, dispatch and publish."""
        outputs = StepOutputs()
        self._prices.update(
            self._grid.interval_of(min(time_s, self._grid.duration_s - 1)), inputs.values
        )
        for message in inputs.messages:
            for interval, price in self._inbox.take(message):
                for group in self._groups:
                    group.observe(interval, price)
        self._inbox.require_settlements(time_s)
        if time_s >= self._grid.duration_s:
            return outputs
        outputs.messages.extend(
            self._layout.wrap_outgoing(
                self._shard, self._day_ahead_due(time_s) + self._order_due(time_s)
            )
        )
        power_kw = self._dispatch(time_s)
        outputs.values[self._shard.power_key()] = self._as_published(power_kw)
        if self._publish_reactive:
            # The built-in households draw reactive power at their power factor while they
            # import; a replacement household program may publish any kvar (e.g. volt-var).
            reactive_kvar = np.maximum(power_kw, 0.0) * self._kvar_per_kw
            outputs.values[self._shard.reactive_power_key()] = self._as_published(reactive_kvar)
        return outputs

    def _as_published(self, per_household: np.ndarray) -> np.ndarray | float:
        """A shard publishes one vector; a single household program one double."""
        return per_household if self._shard.is_batched else float(per_household[0])

    def _order_due(self, time_s: int) -> list[Message]:
        """Orders of the households whose ordering time for some interval is ``time_s``."""
        messages = []
        for lead in self._order_leads:
            interval = self._grid.interval_cleared_at(time_s + lead * self._grid.grid_step_s)
            if interval is not None:
                due = self._is_trader & (self._order_lead_steps == lead)
                if due.any():
                    messages.extend(self._order(interval, due))
        return messages

    def _day_ahead_due(self, time_s: int) -> list[Message]:
        """The trading households' curves for the day-ahead market that clears at ``time_s``:
        each period's forecast mean net power (an optimizing household's plan where it reaches,
        its forecast net load beyond)."""
        markets = [market for market in self._day_ahead if market.gate_closure_s == time_s]
        if not markets:
            return []
        starts = markets[0].period_starts
        period_intervals = int(starts[1] - starts[0]) if starts.size > 1 else self._grid.n_intervals
        intervals = starts[:, None] + np.arange(period_intervals)[None, :]
        intervals = np.minimum(intervals, self._forecast_interval_kw.shape[0] - 1)
        power_kw = self._forecast_interval_kw[intervals].mean(axis=1).T
        for group in self._groups:
            planned = getattr(group, "planned_grid_kw", None)
            if planned is not None:
                power_kw[group.members] = planned(intervals)
        prices = [self._prices.of(int(first)) for first in starts]
        traders = np.flatnonzero(self._is_trader)
        return [
            Message(self._endpoints[traders[row]], keys.MARKET_ENDPOINT, message.model_dump_json())
            for row, message in day_ahead_messages(
                starts,
                power_kw[traders],
                np.array([price[0] for price in prices]),
                np.array([price[1] for price in prices]),
                self._bid_fraction[traders],
                self._ask_fraction[traders],
            )
        ]

    def _order(self, interval: int, due: np.ndarray) -> list[Message]:
        """Messages of the ``due`` households for ``interval``; every group quotes once per
        interval (at its first ordering time), so a plan is never solved twice."""
        import_price, export_price = self._prices.of(interval)
        if interval not in self._quoted:
            first_step = interval * self._grid.steps_per_interval
            state = ShardState(
                interval=interval,
                natural_kw=self._natural_kw[
                    first_step : first_step + self._grid.steps_per_interval
                ],
                soc_kwh=self._soc_kwh,
                import_price_usd_per_kwh=import_price,
                export_price_usd_per_kwh=export_price,
            )
            self._quoted = {interval: [group.quote(state) for group in self._groups]}
            for orders in self._quoted[interval]:
                if orders.planned_net_wh is not None:
                    self._planned_net_wh[interval, orders.members] = orders.planned_net_wh
        gate_closure_s = self._grid.gate_closure_time_s(interval)
        expires = gate_closure_s if self._mechanism == "continuous" else None
        messages = []
        for orders in self._quoted[interval]:
            ordering = np.flatnonzero(due[orders.members] & (orders.quotes.side != NO_ORDER))
            if orders.curve_power_kw is not None:
                pairs = curve_messages(
                    self._mechanism,
                    interval,
                    orders.curve_price_levels_usd_per_kwh,
                    orders.curve_power_kw,
                    np.flatnonzero(due[orders.members]),
                )
            else:
                pairs = order_messages(
                    self._mechanism,
                    orders.quotes,
                    interval,
                    self._grid.market_interval_s,
                    export_price,
                    ordering,
                    expires_time_s=expires,
                )
            messages.extend(
                Message(
                    self._endpoints[orders.members[k]],
                    keys.MARKET_ENDPOINT,
                    message.model_dump_json(),
                )
                for k, message in pairs
            )
        return messages

    def _dispatch(self, time_s: int) -> np.ndarray:
        step = time_s // self._grid.grid_step_s
        interval = self._grid.interval_of(time_s)
        duration_s = self._grid.grid_step_s
        natural_kw = self._natural_kw[step]
        to_kw = 3.6 / self._grid.market_interval_s

        # A planned household (optimizing) follows its plan; a battery that covers shortfalls
        # steers toward the awards; otherwise it only serves self-consumption and deviations
        # settle with the grid.
        planned_wh = self._planned_net_wh[interval]
        target_kw = np.where(
            np.isfinite(planned_wh),
            np.nan_to_num(planned_wh) * to_kw,
            np.where(self._follows_awards, self._inbox.awarded_net_wh[interval] * to_kw, 0.0),
        )
        battery_kw, self._soc_kwh = dispatch_battery(
            self._soc_kwh,
            self_consumption_request_kw(natural_kw, target_kw),
            duration_s,
            self._battery,
        )
        baseline_battery_kw, self._baseline_soc_kwh = dispatch_battery(
            self._baseline_soc_kwh,
            self_consumption_request_kw(natural_kw, 0.0),
            duration_s,
            self._battery,
        )
        power_kw = natural_kw + battery_kw
        self._battery_kw[step] = battery_kw
        self._power_kw[step] = power_kw
        self._soc_record_kwh[step] = self._soc_kwh
        self._baseline_power_kw[step] = natural_kw + baseline_battery_kw
        return power_kw

    # --- results ------------------------------------------------------------------------------

    # --- results ------------------------------------------------------------------------------

    def write_progress(self, results: RunFolder, time_s: int) -> None:
        """Once per flush period: append the steps so far, the intervals already settled and the
        new plans to this shard's tables."""
        if self._flush_clock.due(time_s):
            # A settlement of interval k arrives at the first step of interval k + 1.
            self._write_records(
                results,
                end_step=time_s // self._grid.grid_step_s + 1,
                end_interval=time_s // self._grid.market_interval_s,
            )

    def finalize(self, results: RunFolder) -> None:
        """Write the remaining per-step records, per-interval energies and bills, and plans."""
        if self._inbox.rejections:
            log.warning(
                "%d order(s) of this shard were rejected by the market", self._inbox.rejections
            )
        self._write_records(
            results, end_step=self._grid.n_steps, end_interval=self._grid.n_intervals
        )
        for folder in RECEIVED_COLUMNS:
            # Written also when nothing was received (a market that never traded or settled).
            self._table(results, folder)
        for table in self._tables.values():
            table.finish(empty=EMPTY_TABLES.get(table.name.split("/")[0]))

    def _table(self, results: RunFolder, folder: str) -> PartedTable:
        name = f"{folder}/{self._name}.parquet"
        if name not in self._tables:
            self._tables[name] = PartedTable(results.path, name)
        return self._tables[name]

    def _write_records(self, results: RunFolder, end_step: int, end_interval: int) -> None:
        """Append the steps and intervals not yet written, up to ``end_step`` and
        ``end_interval`` (excluded), and every plan solved since the last write."""
        # The step after the run (final settlements) records nothing of its own.
        end_step = min(end_step, self._grid.n_steps)
        end_interval = min(end_interval, self._grid.n_intervals)
        if end_step > self._written_steps:
            self._table(results, "households").append(
                self._step_records(slice(self._written_steps, end_step))
            )
            self._written_steps = end_step
        if end_interval > self._written_intervals:
            self._table(results, "household_intervals").append(
                self._interval_records(slice(self._written_intervals, end_interval))
            )
            self._written_intervals = end_interval
        for folder, rows in self._inbox.received.items():
            if rows:
                self._table(results, folder).append(received_records(folder, rows))
                rows.clear()
        if any(hasattr(group, "solves") for group in self._groups):
            plans = self._table(results, "optimizing_plans")
            # Plans are stored group by group: a section per group.
            for number, group in enumerate(self._groups):
                solves = getattr(group, "solves", [])
                new = solves[self._written_solves.get(number, 0) :]
                if new:
                    plans.append(plan_records(number, group, new), section=number)
                self._written_solves[number] = len(solves)

    def _step_records(self, rows: slice) -> pd.DataFrame:
        """Per-step records of the steps ``rows``: one row per step and household."""
        count = self._power_kw.shape[1]
        has_battery = self._battery.capacity_kwh > 0
        block_steps = rows.stop - rows.start
        return pd.DataFrame(
            {
                "time_s": np.repeat(self._grid.step_times_s()[rows], count),
                "household_id": np.tile(np.asarray(self._ids, dtype=object), block_steps),
                "load_power_kw": self._load_kw[rows].ravel(),
                "ev_power_kw": self._ev_kw[rows].ravel(),
                "pv_power_kw": self._pv_kw[rows].ravel(),
                "battery_power_kw": self._battery_kw[rows].ravel(),
                "power_kw": self._power_kw[rows].ravel(),
                "soc_kwh": np.where(has_battery, self._soc_record_kwh[rows], np.nan).ravel(),
                "baseline_power_kw": self._baseline_power_kw[rows].ravel(),
            }
        )

    def _interval_records(self, intervals: slice) -> pd.DataFrame:
        """Energies [Wh] and bills [USD] of the market intervals ``intervals``, per household."""
        count = self._power_kw.shape[1]
        per_interval = self._grid.steps_per_interval
        steps = slice(intervals.start * per_interval, intervals.stop * per_interval)
        to_wh = self._grid.grid_step_s / 3.6
        energy_wh = self._power_kw[steps].reshape(-1, per_interval, count).sum(axis=1) * to_wh
        baseline_wh = (
            self._baseline_power_kw[steps].reshape(-1, per_interval, count).sum(axis=1) * to_wh
        )
        n_intervals = intervals.stop - intervals.start
        return pd.DataFrame(
            {
                "interval_index": np.repeat(np.arange(intervals.start, intervals.stop), count),
                "household_id": np.tile(np.asarray(self._ids, dtype=object), n_intervals),
                "energy_wh": energy_wh.ravel(),
                "baseline_energy_wh": baseline_wh.ravel(),
                "awarded_net_energy_wh": self._inbox.awarded_net_wh[intervals].ravel(),
                "bill_usd": self._inbox.bill_usd[intervals].ravel(),
            }
        )


def _lp_solver() -> PersistentSolver:
    """A fresh HiGHS solver for an optimizing group's schedule."""
    # pyomo and HiGHS load only in a shard with planning households (about 1 s of start-up
    # that every other ems process is spared).
    from tefed.io.highs_solver import HighsSolver

    return HighsSolver()
