"""Market federate logic: order intake, clearing at gate closure, settlement, the ledger.

At every grid instant (phase 4 of 4) the market

1. meters each household's net power for the step just published (``household/<id>/power_kw``),
2. takes in order messages (`OrderIntake`): each order is accepted or rejected with a reason;
   the continuous market matches accepted orders at once,
3. at gate closure of interval ``k`` clears its book with the configured mechanism (one
   interface, `tefed.domain.market.clearing`), checks the awards against their orders and sends
   every household that ordered its awards,
4. after the last step of interval ``k`` settles metered energy against awards (MicroTE
   delivery rules, net-billing prices from the price feed), checks that payments balance and
   sends each household its settlement.

A violated invariant (payments that do not balance, an award above its order, a trade outside
its limit prices, mixed pools, a self-trade) stops the run with the interval and the violation.
Every order, award and settlement is written to Parquet at simulated-hour boundaries (the intervals
cleared and settled since; `tefed.contract.parted_table`), so a run that fails keeps them; each
table is made one file at the end.
"""

from __future__ import annotations

import json
import logging
import math

import numpy as np
import pandas as pd

from tefed.contract import keys
from tefed.contract.errors import InputError
from tefed.contract.logic import FederateContext, FederateLogic, Message, StepInputs, StepOutputs
from tefed.contract.messages import (
    AwardsMessage,
    RejectedMessage,
)
from tefed.contract.parted_table import PartedTable, results_flush_clock
from tefed.contract.role_configs import DayAheadConfig, read_role_config
from tefed.contract.run_folder import RunFolder
from tefed.contract.shard_layout import ShardLayout
from tefed.contract.time_grid import TimeGrid
from tefed.domain.market.clearing import (
    ACCEPTED_KINDS,
    ClearingPrices,
    IntervalBook,
    Mechanism,
)
from tefed.domain.market.frames import column_array
from tefed.domain.market.ledger import awards_table, trade_awards_by_participant
from tefed.domain.market.ledger_checks import check_market_balances, check_payments
from tefed.domain.market.mechanisms.day_ahead import day_ahead_markets, market_object_states
from tefed.domain.market.order_intake import OrderIntake, with_household_order_ids
from tefed.domain.market.pool_prices import pandas_grouped_sum_rules
from tefed.domain.market.settlement import charge_rows, settle_interval
from tefed.domain.market.trade_checks import check_trades
from tefed.domain.market.trade_tables import empty_trades
from tefed.domain.prices.interval_prices import IntervalPrices
from tefed.federates.market.day_ahead_desk import DayAheadDesk
from tefed.federates.market.interval_tables import (
    AWARDED,
    EMPTY_TABLES,
    ORDERED,
    SETTLED,
    interval_row,
    intervals_first,
    ledger_rows,
    orders_frame,
    settlement_messages,
)
from tefed.federates.market.mechanism_setup import MarketRules, build_mechanism

log = logging.getLogger("tefed.market")


class MarketFederate(FederateLogic):
    """The market: one of tefed's clearing mechanisms with MicroTE settlement of deliveries."""

    role = "market"

    def initialize(self, context: FederateContext) -> None:
        """Read the market rules, build the mechanism once, and list the participants."""
        config: MarketRules = read_role_config(self.role, context.config, context.name)
        name = config.mechanism
        self._grid: TimeGrid = context.time_grid
        self._unused_energy = config.unused_energy
        table = context.federation.households_frame()
        self._participants: list[str] = table["household_id"].astype(str).tolist()
        # Built once: every settlement looks participants up and addresses each of them.
        self._participant_index = pd.Index(self._participants)
        self._endpoints = [keys.household_endpoint(p) for p in self._participants]
        # Judged once, now rather than in the first clearing (4-6 ms of pandas' first use).
        pandas_grouped_sum_rules()
        try:
            self._mechanism: Mechanism = build_mechanism(config, context, table)
        except (KeyError, TypeError, ValueError) as error:
            raise InputError(f"federate {context.name}: market", [str(error)]) from None
        self._intake = OrderIntake(
            self._participants,
            self._grid,
            ACCEPTED_KINDS[name],
            delivery_ahead_intervals=config.delivery_ahead_intervals,
            one_order_per_side=name == "dlmp",
        )
        try:
            self._layout = ShardLayout.from_federation(context.federation)
        except ValueError as error:
            raise InputError("federation file: ems entries", [str(error)]) from None
        self._steps_every_grid_step = name == "continuous"
        self._delivery_ahead = config.delivery_ahead_intervals
        #: The run's day-ahead markets (mechanism day_ahead), the next to clear first.
        self._day_ahead = DayAheadDesk(
            day_ahead_markets(
                self._grid.n_intervals,
                self._grid.market_interval_s,
                self._grid.grid_step_s,
                config.period_s,
                config.gate_closure_hour,
            )
            if isinstance(config, DayAheadConfig)
            else [],
            self._participant_index,
        )
        self._energy_wh = np.zeros((self._grid.n_intervals, len(self._participants)))
        self._prices = IntervalPrices(self._grid.n_intervals)
        self._books: dict[int, dict[str, list[dict]]] = {}
        #: Trades of intervals cleared and not yet settled (book order ids).
        self._trades: dict[int, pd.DataFrame] = {}
        #: Fees and penalties of intervals cleared and not yet settled.
        self._charges: dict[int, pd.DataFrame] = {}
        #: Intervals cleared since the last flush: (interval, trades, the mechanism's tables).
        #: Their trades, awards and tables are made tables once, at the flush.
        self._cleared: list[tuple[int, pd.DataFrame, dict[str, pd.DataFrame]]] = []
        #: Intervals settled since the last flush, and their ledger rows (made one table then).
        self._settled: list[tuple[int, pd.DataFrame]] = []
        #: Rows of ``market_intervals`` of intervals cleared and not yet written.
        self._interval_rows: dict[int, dict] = {}
        #: Rows of ``market_intervals.parquet`` kept until the next flush: of settled intervals,
        #: and at the end of those cleared but never settled.
        self._finished_rows: list[dict] = []
        self._flush_clock = results_flush_clock(
            self._grid, context.federation.tefed.runtime.flush_min_wall_s
        )
        #: Results since the last flush, per table: (frame, section) in the order they came.
        self._pending: dict[str, list[tuple[pd.DataFrame, int]]] = {}
        #: Each table's empty frame (its columns and dtypes, as its first frame had them),
        #: written when it never got a row.
        self._empty: dict[str, pd.DataFrame] = {}
        self._tables: dict[str, PartedTable] = {}

    def schedule_s(self) -> np.ndarray:
        """Gate closures and the last step of every interval (then the grid's meters are read);
        the continuous market every grid step, as orders match when they arrive."""
        grid = self._grid
        if self._steps_every_grid_step:
            return grid.step_times_s()
        intervals = np.arange(grid.n_intervals)
        gate_closures = intervals[1:] * grid.market_interval_s - grid.gate_closure_s
        last_steps = (intervals + 1) * grid.market_interval_s - grid.grid_step_s
        day_ahead = [market.gate_closure_s for market in self._day_ahead.markets]
        return np.union1d(np.union1d(gate_closures, last_steps), day_ahead).astype(np.int64)

    def step(self, time_s: int, inputs: StepInputs) -> StepOutputs:
        """Take orders, clear at gate closure, read the meters and settle completed intervals."""
        outputs = StepOutputs()
        self._prices.update(self._grid.interval_of(time_s), inputs.values)
        outputs.messages.extend(self._take_orders(time_s, inputs.messages))
        if self._day_ahead.due(time_s):
            outputs.messages.extend(
                self._day_ahead.clear(self._mechanism, self._prices, self._keep)
            )
        interval_to_clear = self._grid.interval_cleared_at(time_s)
        if interval_to_clear is not None:
            self._clear(interval_to_clear, outputs)
        interval_to_settle = self._grid.interval_completed_at(time_s)
        if interval_to_settle is not None:
            self._read_meters(interval_to_settle, inputs)
            outputs.messages.extend(self._settle(interval_to_settle))
        # Households of a shard get their messages in one batch per step.
        outputs.messages = self._layout.route(outputs.messages, keys.MARKET_ENDPOINT)
        return outputs

    def _read_meters(self, interval: int, inputs: StepInputs) -> None:
        """Take in every household's metered energy of ``interval`` from the grid [Wh]."""
        energy_wh = np.atleast_1d(
            np.asarray(inputs.values.get(keys.HOUSEHOLD_ENERGY, np.nan), dtype=float)
        )
        if energy_wh.shape != (len(self._participants),) or not np.isfinite(energy_wh).all():
            raise ValueError(
                f"{keys.HOUSEHOLD_ENERGY!r} at the end of interval {interval}: expected "
                f"{len(self._participants)} finite values (one per household, in household-table "
                f"order), got {energy_wh.size} values"
                f"{'' if np.isfinite(energy_wh).all() else ' with missing or non-finite ones'}"
            )
        self._energy_wh[interval] = energy_wh

    # --- orders -------------------------------------------------------------------------------

    def _unwrap(self, time_s: int, messages: list[Message]) -> list[Message]:
        """Each household's own messages; a batch counts only for households its shard hosts.
        A message that cannot be taken apart is refused and recorded."""
        unwrapped = []
        for message in messages:
            try:
                unwrapped.extend(self._layout.unwrap(message, to_shard=False))
            except (ValueError, RecursionError) as error:
                self._intake.refuse_message(_sent_at_s(message, time_s), message, str(error))
        return unwrapped

    def _take_orders(self, time_s: int, messages: list[Message]) -> list[Message]:
        replies = []
        messages = self._unwrap(time_s, messages)
        # Arrival order within one instant depends on the federates' scheduling; sorting by
        # sender (stable, so one sender's messages keep their order) keeps runs deterministic.
        for message in sorted(messages, key=lambda message: message.source):
            if self._day_ahead.markets and _message_type(message) == "day_ahead_orders":
                sent_s = _sent_at_s(message, time_s)
                reason = self._day_ahead.take(sent_s, message)
                if reason is not None:
                    self._intake.refuse_message(sent_s, message, reason)
                    refused = [{"order_id": "day_ahead_orders", "reason": reason}]
                    replies.append(_rejection(message.source, None, refused))
                continue
            # An order counts as placed at the grid instant it was sent (HELICS stamps a message
            # with its sender's time, never earlier), however late the market steps.
            received = self._intake.receive(_sent_at_s(message, time_s), message)
            if received.rejections:
                replies.append(
                    _rejection(message.source, received.interval_index, received.rejections)
                )
            if received.interval_index is None:
                continue
            book = self._books.setdefault(
                received.interval_index, {"simple": [], "curves": [], "affine": []}
            )
            book["simple"].extend(received.simple)
            book["curves"].extend(received.curves)
            book["affine"].extend(received.affine)
            if self._mechanism.matches_on_arrival and received.simple:
                arrived = self._book(received.interval_index, received.simple, [], []).simple
                self._mechanism.receive(received.interval_index, arrived)
        return replies

    def _book(self, interval: int, simple: list, curves: list, affine: list) -> IntervalBook:
        return IntervalBook.from_rows(
            interval, self._grid.market_interval_s, simple, curves, affine
        )

    # --- clearing -----------------------------------------------------------------------------

    def _clear(self, interval: int, outputs: StepOutputs) -> None:
        rows = self._books.pop(interval, {"simple": [], "curves": [], "affine": []})
        book = self._book(interval, rows["simple"], rows["curves"], rows["affine"])
        order_ids = self._intake.forget(interval)
        import_price, export_price = self._prices.of(interval)
        wholesale = (
            self._prices.wholesale_of(interval)
            if self._mechanism.uses_wholesale_price
            else float("nan")
        )
        outcome = self._mechanism.clear(book, ClearingPrices(import_price, export_price, wholesale))
        if outcome.status in ("failure", "infeasible"):
            log.warning(
                "interval %d: %s clearing %s%s; nothing awarded, deliveries settle with the grid",
                interval,
                self._mechanism.name,
                outcome.status,
                f" ({outcome.reason})" if outcome.reason else "",
            )
        # Awards are checked before anyone acts on them; payments once delivery is metered.
        violations = check_trades(outcome.trades, book.simple)
        if violations:
            raise RuntimeError(
                f"market awards of interval {interval} violate their orders: "
                + "; ".join(violations)
            )
        # From here on, orders are named as their households named them.
        trades = with_household_order_ids(outcome.trades, order_ids)
        self._trades[interval] = trades
        if not outcome.charges.empty:
            self._charges[interval] = outcome.charges
        self._cleared.append((interval, trades, outcome.tables))
        self._interval_rows[interval] = interval_row(interval, book, outcome)
        awards = trade_awards_by_participant(trades)
        # Columns read as arrays, and only of the tables with rows (a Series per table cost
        # about 5 % of clearing an interval of the default scenario).
        ordering = {
            participant
            for table in (book.simple, book.curves, book.affine)
            if len(table)
            for participant in column_array(table, "participant", object).tolist()
        }
        for participant in sorted(ordering):
            outputs.messages.append(
                Message(
                    source=keys.MARKET_ENDPOINT,
                    destination=keys.household_endpoint(participant),
                    payload=AwardsMessage(
                        interval_index=interval,
                        status=outcome.status,
                        awards=awards.get(participant, []),
                        prices_usd_per_kwh=outcome.prices_usd_per_kwh,
                    ).model_dump_json(),
                )
            )
        traded_energy_wh = outcome.traded_energy_wh
        outputs.values[keys.TRADED_ENERGY] = float(traded_energy_wh)
        if traded_energy_wh > 0:
            outputs.values[keys.MEAN_TRADE_PRICE] = outcome.mean_price_usd_per_kwh

    # --- settlement ---------------------------------------------------------------------------

    def _settle(self, interval: int) -> list[Message]:
        import_price, export_price = self._prices.of(interval)
        energy = pd.Series(self._energy_wh[interval], index=self._participant_index)
        trades = self._trades.get(interval, empty_trades())
        ledger = settle_interval(energy, trades, import_price, export_price, self._unused_energy)
        charges = self._charges.pop(interval, None)
        if charges is not None:
            ledger = pd.concat([ledger, charge_rows(charges)], ignore_index=True)
        violations = check_payments(ledger) + check_market_balances(trades)
        if violations:
            raise RuntimeError(
                f"market ledger of interval {interval} violates its invariants: "
                + "; ".join(violations)
            )
        self._trades.pop(interval, None)
        self._settled.append((interval, ledger))
        row = self._interval_rows.pop(interval, None)
        if row is not None:
            row["import_price_usd_per_kwh"] = import_price
            row["export_price_usd_per_kwh"] = export_price
            self._finished_rows.append(row)
        return settlement_messages(
            interval, self._participant_index, self._endpoints, self._energy_wh[interval], ledger
        )

    # --- results ------------------------------------------------------------------------------

    def _keep_intervals(self) -> None:
        """Keep the trades, awards and the mechanism's own tables of the intervals cleared, and
        the settlements of those settled, since the last flush, each as one table
        (``interval_index`` first)."""
        if self._cleared:
            trades = intervals_first([(interval, table) for interval, table, _ in self._cleared])
            self._keep("market_trades.parquet", trades)
            self._keep("market_awards.parquet", awards_table(trades))
            names = dict.fromkeys(name for _, _, tables in self._cleared for name in tables)
            for name in names:
                rows = [(k, tables[name]) for k, _, tables in self._cleared if name in tables]
                self._keep(f"market_{name}.parquet", intervals_first(rows))
            self._cleared = []
        if self._settled:
            self._keep("market_settlements.parquet", intervals_first(self._settled))
            self._settled = []

    def _keep(self, name: str, frame: pd.DataFrame, section: int = 0) -> None:
        """Keep ``frame`` for table ``name`` until the next flush (its empty form, if first)."""
        if name not in self._empty:
            self._empty[name] = frame.iloc[:0]
        self._pending.setdefault(name, []).append((frame, section))

    # --- results ------------------------------------------------------------------------------

    def write_progress(self, results: RunFolder, time_s: int) -> None:
        """Once per flush period: append the orders, trades, awards, settlements, ledger rows
        and interval rows kept since the last flush to their tables."""
        if self._flush_clock.due(time_s):
            self._flush(results)

    def finalize(self, results: RunFolder) -> None:
        """Write orders, trades, awards, settlements, the ledger and per-interval results."""
        # Intervals cleared but never settled keep their row (without settlement prices).
        self._finished_rows += [self._interval_rows[k] for k in sorted(self._interval_rows)]
        self._interval_rows.clear()
        if self._day_ahead.markets:
            grid = self._grid
            markets = self._day_ahead.markets
            self._keep(
                "market_states.parquet",
                market_object_states(
                    np.array([market.gate_closure_s for market in markets]),
                    [market.period_starts for market in markets],
                    int(self._mechanism.period_intervals),
                    grid.market_interval_s,
                    grid.gate_closure_s,
                    self._delivery_ahead,
                    grid.n_intervals,
                ),
            )
        self._flush(results)
        for name, empty in {**EMPTY_TABLES, **self._empty}.items():
            if name not in self._tables:
                self._tables[name] = PartedTable(results.path, name)
            self._tables[name].finish(empty=empty)

    def _kept(self, name: str) -> pd.DataFrame | None:
        """The rows of table ``name`` kept since the last flush, as one frame; None if none."""
        frames = [frame for frame, _ in self._pending.get(name, []) if not frame.empty]
        return pd.concat(frames, ignore_index=True) if frames else None

    def _flush(self, results: RunFolder) -> None:
        self._keep_intervals()
        if self._finished_rows:
            # One table per flush: a one-row table per interval cost 1.4 ms of the 28 ms of an
            # interval of the default scenario (2-core machine, 2026-12-07).
            self._keep("market_intervals.parquet", pd.DataFrame(self._finished_rows))
            self._finished_rows = []
        orders = orders_frame(self._intake.take_records())
        self._keep("market_orders.parquet", orders)
        # The ledger's rows of everything kept since the last flush, built once per flush (per
        # interval, building them cost more than clearing the default scenario's market).
        awards = self._kept("market_awards.parquet")
        settlements = self._kept("market_settlements.parquet")
        self._keep("market_ledger.parquet", ledger_rows(orders=orders), ORDERED)
        if awards is not None:
            self._keep("market_ledger.parquet", ledger_rows(awards=awards), AWARDED)
        if settlements is not None:
            self._keep("market_ledger.parquet", ledger_rows(settlements=settlements), SETTLED)
        for name, kept in self._pending.items():
            if name not in self._tables:
                self._tables[name] = PartedTable(results.path, name)
            for section in sorted({section for _, section in kept}):
                frames = [frame for frame, part in kept if part == section and not frame.empty]
                if frames:
                    part = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
                    self._tables[name].append(part, section=section)
        self._pending.clear()


def _rejection(destination: str, interval_index: int | None, rejections: list) -> Message:
    """The market's ``rejected`` reply to ``destination``: each refused order and why."""
    return Message(
        source=keys.MARKET_ENDPOINT,
        destination=destination,
        payload=RejectedMessage(
            interval_index=interval_index, rejections=rejections
        ).model_dump_json(),
    )


def _message_type(message: Message) -> str | None:
    """The ``type`` of a message's JSON object (None when it is not one)."""
    try:
        data = json.loads(message.payload)
    except (ValueError, RecursionError):
        return None
    kind = data.get("type") if isinstance(data, dict) else None
    return kind if isinstance(kind, str) else None


def _sent_at_s(message: Message, time_s: int) -> int:
    """Grid instant a message was sent at [s] (its HELICS time without the phase offset)."""
    return min(math.floor(message.time_s), time_s)
