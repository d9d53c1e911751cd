"""Market federate logic: order book per delivery interval, clearing at gate closure, settlement.

At every grid instant (phase 4 of 4) the market

1. meters each household's net power for the step just published (``household/<id>/power_kw``),
2. takes in order messages, accepting those for an interval whose gate is still open,
3. at gate closure of interval ``k`` clears its book with the configured mechanism and sends
   every household that ordered its awards,
4. after the last step of interval ``k`` settles metered energy against awards (deviations with
   the grid at the net-billing prices from the price feed) and sends each household its
   settlement.

Every order, award and settlement is kept and written to Parquet at the end.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
from pydantic import ValidationError

from federates import keys
from federates.interval_prices import IntervalPrices
from federates.market.mechanisms import MECHANISMS
from federates.market.mechanisms.double_auction import SETTLEMENT_RULES
from federates.market.settlement import LEDGER_COLUMNS, settle_interval
from federates.messages import OrdersMessage, RejectedMessage, Rejection
from federates.runtime.errors import InputError
from federates.runtime.logic import (
    FederateContext,
    FederateLogic,
    Message,
    StepInputs,
    StepOutputs,
)
from federates.runtime.run_folder import RunFolder
from federates.runtime.time_grid import TimeGrid

log = logging.getLogger("tefed.market")

#: Tolerance of the money balance check per interval [USD].
BALANCE_TOLERANCE_USD = 1e-9


class MarketFederate(FederateLogic):
    """The market: MicroTE double auction with net-billing settlement of deviations."""

    role = "market"

    def initialize(self, context: FederateContext) -> None:
        """Read the market rules and the participants (all households of the federation)."""
        config = context.config
        problems = []
        if config.get("mechanism") not in MECHANISMS:
            problems.append(
                f"market.mechanism: got {config.get('mechanism')!r}; expected one of "
                f"{sorted(MECHANISMS)}"
            )
        if config.get("settlement_rule") not in SETTLEMENT_RULES:
            problems.append(
                f"market.settlement_rule: got {config.get('settlement_rule')!r}; expected one "
                f"of {SETTLEMENT_RULES}"
            )
        if problems:
            raise InputError(f"federate {context.name}", problems)
        self._settlement_rule: str = config["settlement_rule"]
        self._clear_book = MECHANISMS[config["mechanism"]]
        self._grid: TimeGrid = context.time_grid
        self._participants: list[str] = list(context.federation.tefed.households["household_id"])
        self._participant_set = set(self._participants)
        self._meter_keys = [keys.household_power(h) for h in self._participants]
        self._energy_wh = np.zeros((self._grid.n_intervals, len(self._participants)))
        self._prices = IntervalPrices(self._grid.n_intervals)
        self._books: dict[int, list[dict]] = {}
        self._order_rows: list[dict] = []
        self._trades: dict[int, pd.DataFrame] = {}
        self._settlement_frames: list[pd.DataFrame] = []
        self._interval_rows: list[dict] = []
        self._sequence = 0

    def schedule_s(self) -> np.ndarray:
        """Every grid step (the market meters each step)."""
        return self._grid.step_times_s()

    def step(self, time_s: int, inputs: StepInputs) -> StepOutputs:
        """Meter, take orders, clear at gate closure, settle completed intervals."""
        outputs = StepOutputs()
        self._meter(time_s, inputs)
        self._prices.update(self._grid.interval_of(time_s), inputs.values)
        outputs.messages.extend(self._take_orders(time_s, inputs.messages))
        interval_to_clear = self._grid.interval_cleared_at(time_s)
        if interval_to_clear is not None:
            self._clear(interval_to_clear, outputs)
        interval_to_settle = self._grid.interval_completed_at(time_s)
        if interval_to_settle is not None:
            outputs.messages.extend(self._settle(interval_to_settle))
        return outputs

    # --- metering and prices ------------------------------------------------------------------

    def _meter(self, time_s: int, inputs: StepInputs) -> None:
        power_kw = inputs.finite_array(self._meter_keys)
        interval = self._grid.interval_of(time_s)
        self._energy_wh[interval] += power_kw * self._grid.grid_step_s / 3.6

    # --- orders -------------------------------------------------------------------------------

    def _take_orders(self, time_s: int, messages: list[Message]) -> list[Message]:
        replies = []
        for message in messages:
            participant = keys.household_of_endpoint(message.source)
            rejections, interval = self._accept(time_s, participant, message)
            if rejections:
                replies.append(
                    Message(
                        source=keys.MARKET_ENDPOINT,
                        destination=message.source,
                        payload=RejectedMessage(
                            interval_index=interval, rejections=rejections
                        ).model_dump_json(),
                    )
                )
        return replies

    def _accept(
        self, time_s: int, participant: str | None, message: Message
    ) -> tuple[list[Rejection], int | None]:
        def reject_all(reason: str, interval: int | None = None) -> tuple[list[Rejection], None]:
            self._order_rows.append(
                _order_row(interval, participant or message.source, "*", None, time_s, reason)
            )
            log.warning("rejected message from %s at t=%s s: %s", message.source, time_s, reason)
            return [Rejection(order_id="*", reason=reason)], interval

        if participant not in self._participant_set:
            return reject_all(f"unknown participant endpoint {message.source!r}")
        try:
            parsed = OrdersMessage.model_validate(json.loads(message.payload))
        except (json.JSONDecodeError, ValidationError) as error:
            return reject_all(f"malformed orders message: {_first_line(error)}")
        interval = parsed.interval_index
        if not 1 <= interval < self._grid.n_intervals:
            return reject_all(
                f"interval {interval} has no market (expected 1 to {self._grid.n_intervals - 1})",
                interval,
            )
        if time_s > self._grid.gate_closure_time_s(interval):
            return reject_all(
                f"after gate closure of interval {interval} "
                f"(t={self._grid.gate_closure_time_s(interval)} s)",
                interval,
            )
        book = self._books.setdefault(interval, [])
        known_ids = {row["order_id"] for row in book}
        rejections = []
        for order in parsed.orders:
            order_id = f"{participant}:{order.order_id}"
            if order_id in known_ids:
                reason = f"duplicate order_id {order.order_id!r} for interval {interval}"
                rejections.append(Rejection(order_id=order.order_id, reason=reason))
                self._order_rows.append(
                    _order_row(interval, participant, order.order_id, order, time_s, reason)
                )
                continue
            known_ids.add(order_id)
            row = {
                "order_id": order_id,
                "participant": participant,
                "side": order.side,
                "quantity_wh": order.quantity_wh,
                "price_usd_per_kwh": order.price_usd_per_kwh,
                "sequence": self._sequence,
            }
            self._sequence += 1
            book.append(row)
            self._order_rows.append(
                _order_row(interval, participant, order.order_id, order, time_s, "")
            )
        return rejections, interval

    # --- clearing -----------------------------------------------------------------------------

    def _clear(self, interval: int, outputs: StepOutputs) -> None:
        book = pd.DataFrame(
            self._books.pop(interval, []),
            columns=[
                "order_id",
                "participant",
                "side",
                "quantity_wh",
                "price_usd_per_kwh",
                "sequence",
            ],
        ).astype({"quantity_wh": "int64", "sequence": "int64", "price_usd_per_kwh": "float64"})
        result = self._clear_book(book, settlement_rule=self._settlement_rule)
        self._check_awards(interval, book, result.filled_wh, result.trades)
        trades = result.trades.assign(interval_index=interval)
        self._trades[interval] = trades
        self._interval_rows.append(
            {
                "interval_index": interval,
                "status": result.status,
                "bids": int((book["side"] == "buy").sum()),
                "asks": int((book["side"] == "sell").sum()),
                "traded_energy_wh": result.traded_energy_wh,
                "mean_trade_price_usd_per_kwh": result.mean_price_usd_per_kwh,
            }
        )
        awards = _awards_by_participant(trades)
        for participant in book["participant"].unique():
            outputs.messages.append(
                Message(
                    source=keys.MARKET_ENDPOINT,
                    destination=keys.household_endpoint(participant),
                    payload=json.dumps(
                        {
                            "type": "awards",
                            "interval_index": interval,
                            "status": result.status,
                            "awards": awards.get(participant, []),
                        }
                    ),
                )
            )
        outputs.values[keys.TRADED_ENERGY] = float(result.traded_energy_wh)
        if result.traded_energy_wh > 0:
            outputs.values[keys.MEAN_TRADE_PRICE] = result.mean_price_usd_per_kwh

    @staticmethod
    def _check_awards(
        interval: int, book: pd.DataFrame, filled_wh: pd.Series, trades: pd.DataFrame
    ) -> None:
        quantity = book.set_index("order_id")["quantity_wh"]
        over = filled_wh[filled_wh > quantity.reindex(filled_wh.index)]
        if not over.empty:
            raise RuntimeError(f"interval {interval}: awards exceed orders for {list(over.index)}")
        outside = trades[
            (trades["price_usd_per_kwh"] > trades["bid_price_usd_per_kwh"] + 1e-12)
            | (trades["price_usd_per_kwh"] < trades["ask_price_usd_per_kwh"] - 1e-12)
        ]
        if not outside.empty:
            raise RuntimeError(f"interval {interval}: trades outside their orders' limit prices")

    # --- settlement ---------------------------------------------------------------------------

    def _settle(self, interval: int) -> list[Message]:
        import_price, export_price = self._prices.of(interval)
        energy = pd.Series(self._energy_wh[interval], index=self._participants)
        trades = self._trades.get(interval, _NO_TRADES)
        ledger = settle_interval(energy, trades, import_price, export_price)
        imbalance = ledger.loc[ledger["reason"] == "trade", "amount_usd"].sum()
        if abs(imbalance) > BALANCE_TOLERANCE_USD:
            raise RuntimeError(f"interval {interval}: trade payments do not cancel ({imbalance})")
        self._settlement_frames.append(ledger.assign(interval_index=interval))
        for row in self._interval_rows:
            if row["interval_index"] == interval:
                row["import_price_usd_per_kwh"] = import_price
                row["export_price_usd_per_kwh"] = export_price
        lines_of: dict[str, list[dict]] = {participant: [] for participant in self._participants}
        for row in ledger.itertuples(index=False):
            lines_of[row.participant].append(
                {
                    "counterparty": row.counterparty,
                    "energy_wh": row.energy_wh,
                    "price_usd_per_kwh": row.price_usd_per_kwh,
                    "amount_usd": row.amount_usd,
                    "reason": row.reason,
                }
            )
        messages = []
        for participant, energy_wh in zip(
            self._participants, self._energy_wh[interval], strict=True
        ):
            lines = lines_of[participant]
            awarded_wh = sum(line["energy_wh"] for line in lines if line["reason"] == "trade")
            payload = {
                "type": "settlement",
                "interval_index": interval,
                "energy_wh": float(energy_wh),
                "awarded_net_energy_wh": round(awarded_wh),
                "amount_usd": float(sum(line["amount_usd"] for line in lines)),
                "lines": lines,
            }
            messages.append(
                Message(
                    source=keys.MARKET_ENDPOINT,
                    destination=keys.household_endpoint(participant),
                    payload=json.dumps(payload),
                )
            )
        return messages

    # --- results ------------------------------------------------------------------------------

    def finalize(self, results: RunFolder) -> None:
        """Write orders, trades, settlements and per-interval clearing results."""
        orders = pd.DataFrame(self._order_rows, columns=list(_ORDER_COLUMNS)).astype(_ORDER_COLUMNS)
        trades = (
            pd.concat(self._trades.values(), ignore_index=True)
            if self._trades
            else _NO_TRADES.assign(interval_index=pd.Series(dtype="int64"))
        )
        settlements = (
            pd.concat(self._settlement_frames, ignore_index=True)
            if self._settlement_frames
            else pd.DataFrame(columns=[*LEDGER_COLUMNS, "interval_index"])
        )
        intervals = pd.DataFrame(self._interval_rows)
        results.write_parquet("market_orders.parquet", orders)
        # Stored order ids are the households' own; the book prefixes them with the participant.
        for column in ("buy_order_id", "sell_order_id"):
            trades[column] = trades[column].str.split(":", n=1).str[1]
        results.write_parquet("market_trades.parquet", _interval_first(trades))
        results.write_parquet("market_awards.parquet", awards_table(trades))
        results.write_parquet("market_settlements.parquet", _interval_first(settlements))
        results.write_parquet("market_intervals.parquet", intervals)


_NO_TRADES = pd.DataFrame(
    {
        "buy_order_id": pd.Series(dtype="object"),
        "sell_order_id": pd.Series(dtype="object"),
        "buyer": pd.Series(dtype="object"),
        "seller": pd.Series(dtype="object"),
        "quantity_wh": pd.Series(dtype="int64"),
        "price_usd_per_kwh": pd.Series(dtype="float64"),
        "bid_price_usd_per_kwh": pd.Series(dtype="float64"),
        "ask_price_usd_per_kwh": pd.Series(dtype="float64"),
    }
)

_ORDER_COLUMNS = {
    "interval_index": "Int64",
    "participant": "object",
    "order_id": "object",
    "side": "object",
    "quantity_wh": "Int64",
    "price_usd_per_kwh": "float64",
    "received_time_s": "int64",
    "status": "object",
    "reason": "object",
}


def _order_row(
    interval: int | None, participant: str, order_id: str, order, time_s: int, reason: str
) -> dict:
    return {
        "interval_index": interval,
        "participant": participant,
        "order_id": order_id,
        "side": None if order is None else order.side,
        "quantity_wh": None if order is None else order.quantity_wh,
        "price_usd_per_kwh": np.nan if order is None else order.price_usd_per_kwh,
        "received_time_s": time_s,
        "status": "rejected" if reason else "accepted",
        "reason": reason,
    }


def _awards_by_participant(trades: pd.DataFrame) -> dict[str, list[dict]]:
    """Each participant's fills, as award records of the ``awards`` message."""
    awards: dict[str, list[dict]] = {}
    for trade in trades.itertuples(index=False):
        for side, participant, order_id, counterparty in (
            ("buy", trade.buyer, trade.buy_order_id, trade.seller),
            ("sell", trade.seller, trade.sell_order_id, trade.buyer),
        ):
            awards.setdefault(participant, []).append(
                {
                    "order_id": order_id.split(":", 1)[1],
                    "side": side,
                    "quantity_wh": int(trade.quantity_wh),
                    "price_usd_per_kwh": float(trade.price_usd_per_kwh),
                    "counterparty": counterparty,
                }
            )
    return awards


def awards_table(trades: pd.DataFrame) -> pd.DataFrame:
    """One row per award: each trade awards its buyer and its seller.

    Columns ``interval_index``, ``participant``, ``order_id``, ``side``, ``quantity_wh`` [Wh],
    ``price_usd_per_kwh`` [USD/kWh] and ``counterparty``.
    """
    sides = []
    for side, own, order, other in (
        ("buy", "buyer", "buy_order_id", "seller"),
        ("sell", "seller", "sell_order_id", "buyer"),
    ):
        sides.append(
            pd.DataFrame(
                {
                    "interval_index": trades["interval_index"].to_numpy(),
                    "participant": trades[own].to_numpy(dtype=object),
                    "order_id": trades[order].to_numpy(dtype=object),
                    "side": side,
                    "quantity_wh": trades["quantity_wh"].to_numpy(dtype="int64"),
                    "price_usd_per_kwh": trades["price_usd_per_kwh"].to_numpy(dtype=float),
                    "counterparty": trades[other].to_numpy(dtype=object),
                }
            )
        )
    awards = pd.concat(sides, ignore_index=True)
    return awards.sort_values(
        ["interval_index", "participant", "order_id"], kind="stable"
    ).reset_index(drop=True)


def _interval_first(frame: pd.DataFrame) -> pd.DataFrame:
    columns = ["interval_index", *[c for c in frame.columns if c != "interval_index"]]
    return frame[columns].reset_index(drop=True)


def _first_line(error: Exception) -> str:
    return str(error).replace("\n", " ")[:300]
