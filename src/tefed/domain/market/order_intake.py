"""Order intake: every order message checked, each order accepted or rejected with its reason.

A message is refused as a whole when its sender is not a participant, it is not JSON, it is not
an ``orders`` message, its interval has no market, lies further ahead than the market takes
orders, or its gate has closed. Otherwise each order is checked on its own (schema, numbers,
kind accepted by the mechanism, duplicate id, one order per side for DLMP), so one bad order
never costs a household its other orders. Every order, accepted or not, becomes a record of the
market's order table with the reason it was refused.
"""

from __future__ import annotations

import itertools
import json
import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from tefed.contract import keys
from tefed.contract.messages import (
    AffineOrder,
    AnyOrder,
    CurveOrder,
    Message,
    Rejection,
    message_problems,
)
from tefed.contract.time_grid import TimeGrid
from tefed.domain.market.frames import column_array, object_array, typed_frame

log = logging.getLogger("tefed.market")

ORDER_RECORD_COLUMNS = {
    "interval_index": "Int64",
    "participant": "object",
    "order_id": "object",
    "kind": "object",
    "side": "object",
    "pool": "object",
    "quantity_wh": "Int64",
    "price_usd_per_kwh": "float64",
    "received_time_s": "int64",
    "status": "object",
    "reason": "object",
    "order_json": "object",
}

_ORDER = TypeAdapter(AnyOrder)

#: Largest orders message one household may send [bytes of JSON text]; longer ones are refused
#: whole, before they are parsed.
MAX_ORDERS_MESSAGE_BYTES = 64_000
#: Orders one household may place for one delivery interval, accepted and refused together;
#: the rest of a flood is refused with this reason, never dropped.
MAX_ORDERS_PER_INTERVAL = 50
#: Largest limit price an order may name, either sign [USD/kWh]: far above any retail or
#: scarcity price, small enough that sums and means of prices stay finite.
MAX_ABS_PRICE_USD_PER_KWH = 1_000.0


def book_order_id(participant: str, order_id: str) -> str:
    """An order's key in the market's book: unique across participants.

    Households choose their own ``order_id`` (unique per household and interval); mechanisms
    need one key per order of the whole book, ``"<participant>:<order_id>"`` (household ids
    hold no colon). The key is opaque: the household's own id comes back through the mapping
    that `OrderIntake.forget` returns, never by splitting the key.

    >>> book_order_id("h01", "b1")
    'h01:b1'
    """
    return f"{participant}:{order_id}"


def with_household_order_ids(trades: pd.DataFrame, order_ids: dict[str, str]) -> pd.DataFrame:
    """``trades`` with each book key in ``buy_order_id``/``sell_order_id`` replaced by the
    household's own ``order_id``, looked up in ``order_ids`` (book key -> household id, as
    `OrderIntake.forget` returns it). A key the intake never issued is left as it is.

    >>> trades = pd.DataFrame({"buy_order_id": ["h01:b1"], "sell_order_id": ["h02:s"]})
    >>> with_household_order_ids(trades, {"h01:b1": "b1", "h02:s": "s"}).iloc[0].tolist()
    ['b1', 's']
    """
    labels = trades.columns
    if (
        type(trades) is not pd.DataFrame
        or not labels.is_unique
        or not all(type(label) is str for label in labels)
        or not all(name in labels for name in _ORDER_ID_COLUMNS)
        or labels.name is not None
        or trades.attrs
        or type(trades.index) is not pd.RangeIndex
        or not trades.index.equals(pd.RangeIndex(len(trades)))
        or trades.index.name is not None
    ):
        return _renamed_by_setitem(trades, order_ids)
    # A new table of the same columns, the two renamed: setting two columns of a copy cost
    # pandas twice as much for the few dozen trades of an interval.
    columns = {}
    for position, name in enumerate(labels):
        if name in _ORDER_ID_COLUMNS:
            columns[name] = _household_ids(column_array(trades, name, object), order_ids)
        else:
            columns[name] = trades._get_column_array(position)
    return typed_frame(columns)


#: The trade columns holding book keys of orders (`book_order_id`).
_ORDER_ID_COLUMNS = ("buy_order_id", "sell_order_id")


def _household_ids(keys: np.ndarray, order_ids: dict[str, str]) -> np.ndarray:
    """Each book key's household order id (a key the intake never issued as it is), as Python
    strings in an object array: a dict look-up per key, as a book holds a few dozen orders."""
    return object_array([order_ids.get(key, key) for key in keys.tolist()])


def _renamed_by_setitem(trades: pd.DataFrame, order_ids: dict[str, str]) -> pd.DataFrame:
    """`with_household_order_ids` of any table, column by column through pandas."""
    named = trades.copy(deep=False)
    for column in _ORDER_ID_COLUMNS:
        # An object Series on the table's own index (nothing to align; an object ndarray alone
        # would be inferred as pandas' str dtype).
        renamed = _household_ids(column_array(named, column, object), order_ids)
        named[column] = pd.Series(renamed, index=named.index, dtype=object, copy=False)
    return named


class _Envelope(BaseModel):
    """An orders message before its orders are checked one by one."""

    model_config = ConfigDict(extra="forbid")
    type: str
    interval_index: int = Field(strict=True)
    orders: list[object] = Field(min_length=1)


@dataclass
class ReceivedOrders:
    """What one message brought: accepted orders and the replies owed to the sender."""

    interval_index: int | None
    simple: list[dict] = field(default_factory=list)
    curves: list[dict] = field(default_factory=list)
    affine: list[dict] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)


class OrderIntake:
    """Checks order messages against the market's participants, time grid and mechanism.

    Parameters
    ----------
    participants : list of str
        Household ids allowed to trade.
    time_grid : TimeGrid
        The run's time grid (intervals, gate closures).
    accepted_kinds : tuple of str
        Order kinds the mechanism takes (``simple``, ``curve``, ``affine``).
    delivery_ahead_intervals : int
        How many intervals ahead of the current one orders are taken (1: the next only).
    one_order_per_side : bool
        Refuse a participant's second order of a side for one interval (DLMP).
    """

    def __init__(
        self,
        participants: list[str],
        time_grid: TimeGrid,
        accepted_kinds: tuple[str, ...],
        delivery_ahead_intervals: int = 1,
        one_order_per_side: bool = False,
    ) -> None:
        self._participants = set(participants)
        self._grid = time_grid
        self._accepted_kinds = accepted_kinds
        self._ahead = delivery_ahead_intervals
        self._one_per_side = one_order_per_side
        self._known: dict[int, dict[str, str]] = {}
        self._sides: dict[int, set[tuple[str, str]]] = {}
        self._placed: dict[int, dict[str, int]] = {}
        self._sequence = 0
        self.records: list[dict] = []

    def take_records(self) -> list[dict]:
        """The records of orders and refusals since the last call, which the intake then
        forgets (the caller writes them), in the order they were made."""
        records, self.records = self.records, []
        return records

    def forget(self, interval: int) -> dict[str, str]:
        """Drop the memory of an interval that is being cleared.

        Returns
        -------
        dict of str to str
            Every accepted order of the interval: its book key (`book_order_id`) to the
            household's own ``order_id``.
        """
        order_ids = self._known.pop(interval, {})
        self._sides.pop(interval, None)
        self._placed.pop(interval, None)
        return order_ids

    def receive(self, time_s: int, message: Message) -> ReceivedOrders:
        """Check one message received at ``time_s`` [s]; record and return its orders."""
        participant = keys.household_of_endpoint(message.source)
        if participant not in self._participants:
            return self._refuse(
                time_s, message, None, f"unknown participant endpoint {message.source!r}"
            )
        size_bytes = len(message.payload.encode("utf-8", errors="replace"))
        if size_bytes > MAX_ORDERS_MESSAGE_BYTES:
            reason = (
                f"orders message of {size_bytes} bytes (expected at most "
                f"{MAX_ORDERS_MESSAGE_BYTES})"
            )
            return self._refuse(time_s, message, None, reason)
        try:
            envelope = _Envelope.model_validate(json.loads(message.payload))
        except (ValueError, RecursionError) as error:
            # ValueError covers bad JSON, over-long integers and failed validation alike;
            # RecursionError, JSON nested too deep to parse.
            return self._refuse(time_s, message, None, f"malformed orders message: {_brief(error)}")
        interval = envelope.interval_index
        if envelope.type != "orders":
            return self._refuse(
                time_s, message, interval, f"message type {envelope.type!r}, expected 'orders'"
            )
        current = self._grid.interval_of(time_s)
        last = min(self._grid.n_intervals - 1, current + self._ahead)
        if not 1 <= interval < self._grid.n_intervals:
            reason = (
                f"interval {interval} has no market (expected 1 to {self._grid.n_intervals - 1})"
            )
            return self._refuse(time_s, message, interval, reason)
        if interval > last:
            reason = (
                f"interval {interval} is more than {self._ahead} interval(s) ahead of the current "
                f"interval {current} (expected at most {last})"
            )
            return self._refuse(time_s, message, interval, reason)
        if time_s > self._grid.gate_closure_time_s(interval):
            reason = (
                f"after gate closure of interval {interval} "
                f"(t={self._grid.gate_closure_time_s(interval)} s)"
            )
            return self._refuse(time_s, message, interval, reason)
        received = ReceivedOrders(interval_index=interval)
        placed = self._placed.setdefault(interval, {})
        for position, raw in enumerate(envelope.orders):
            placed[participant] = placed.get(participant, 0) + 1
            if placed[participant] > MAX_ORDERS_PER_INTERVAL:
                reason = (
                    f"more than {MAX_ORDERS_PER_INTERVAL} orders from one household for "
                    f"interval {interval}"
                )
                self._reject(
                    time_s, participant, interval, _label(raw, position), raw, reason, received
                )
                continue
            self._take(time_s, participant, interval, position, raw, received)
        return received

    def refuse_message(self, time_s: int, message: Message, reason: str) -> ReceivedOrders:
        """Record a message refused before any order in it could be read (e.g. a batch that
        cannot be taken apart) with ``reason``; the reply owed to its sender."""
        return self._refuse(time_s, message, None, reason)

    def _take(
        self,
        time_s: int,
        participant: str,
        interval: int,
        position: int,
        raw: object,
        received: ReceivedOrders,
    ) -> None:
        label = _label(raw, position)
        try:
            order = _ORDER.validate_python(raw)
        except ValidationError as error:
            self._reject(
                time_s,
                participant,
                interval,
                label,
                raw,
                f"invalid order: {_brief(error)}",
                received,
            )
            return
        reason = self._refusal(participant, interval, order)
        if reason:
            self._reject(time_s, participant, interval, label, raw, reason, received)
            return
        book_id = book_order_id(participant, order.order_id)
        self._known.setdefault(interval, {})[book_id] = order.order_id
        side = getattr(order, "side", "")
        self._sides.setdefault(interval, set()).add((participant, side))
        if isinstance(order, CurveOrder):
            received.curves.extend(
                {
                    "order_id": book_id,
                    "participant": participant,
                    "price_usd_per_kwh": vertex.price_usd_per_kwh,
                    "power_kw": vertex.power_kw,
                    "continuity": vertex.continuity,
                }
                for vertex in order.vertices
            )
        elif isinstance(order, AffineOrder):
            received.affine.append(
                {
                    "participant": participant,
                    **order.model_dump(exclude={"kind"}),
                    "order_id": book_id,
                }
            )
        else:
            received.simple.append(
                {
                    "order_id": book_id,
                    "participant": participant,
                    "side": order.side,
                    "quantity_wh": order.quantity_wh,
                    "price_usd_per_kwh": order.price_usd_per_kwh,
                    "pool": order.pool,
                    "divisible": order.divisible,
                    "expires_time_s": (
                        float("nan") if order.expires_time_s is None else order.expires_time_s
                    ),
                    "received_time_s": time_s,
                    "sequence": self._sequence,
                }
            )
        self._sequence += 1
        self.records.append(_record(interval, participant, order.order_id, order, time_s, ""))

    def _refusal(self, participant: str, interval: int, order) -> str:
        if order.kind not in self._accepted_kinds:
            return (
                f"order kind {order.kind!r} is not taken by this market (it takes "
                f"{', '.join(self._accepted_kinds)})"
            )
        if book_order_id(participant, order.order_id) in self._known.get(interval, ()):
            return f"duplicate order_id {order.order_id!r} for interval {interval}"
        prices = _limit_prices_usd_per_kwh(order)
        if any(abs(price) > MAX_ABS_PRICE_USD_PER_KWH for price in prices):
            return (
                f"a limit price beyond ±{MAX_ABS_PRICE_USD_PER_KWH:g} USD/kWh "
                f"(got {max(prices, key=abs):g})"
            )
        if isinstance(order, CurveOrder):
            prices = [vertex.price_usd_per_kwh for vertex in order.vertices]
            if len(set(prices)) != len(prices):
                return "curve vertices must have distinct prices"
            by_price = sorted(order.vertices, key=lambda vertex: vertex.price_usd_per_kwh)
            if any(b.power_kw > a.power_kw for a, b in itertools.pairwise(by_price)):
                return "curve power must not rise with price (demand falls, generation grows)"
        side = getattr(order, "side", "")
        if self._one_per_side and (participant, side) in self._sides.get(interval, ()):
            return f"a second {side} order for interval {interval} (this market takes one per side)"
        return ""

    def _reject(
        self,
        time_s: int,
        participant: str,
        interval: int,
        label: str,
        raw: object,
        reason: str,
        received: ReceivedOrders,
    ) -> None:
        log.warning("rejected order %s of %s at t=%s s: %s", label, participant, time_s, reason)
        received.rejections.append(Rejection(order_id=label, reason=reason))
        record = _record(interval, participant, label, None, time_s, reason)
        record["order_json"] = _as_json(raw)
        self.records.append(record)

    def _refuse(
        self, time_s: int, message: Message, interval: int | None, reason: str
    ) -> ReceivedOrders:
        log.warning("rejected message from %s at t=%s s: %s", message.source, time_s, reason)
        participant = keys.household_of_endpoint(message.source) or message.source
        # An interval the run does not have is named in the reason, not stored as a number.
        known = interval is not None and 0 <= interval < self._grid.n_intervals
        record = _record(interval if known else None, participant, "*", None, time_s, reason)
        record["order_json"] = message.payload[:2000]
        self.records.append(record)
        return ReceivedOrders(
            interval_index=interval, rejections=[Rejection(order_id="*", reason=reason)]
        )


def _record(
    interval: int | None, participant: str, order_id: str, order, time_s: int, reason: str
) -> dict:
    simple = order is not None and order.kind == "simple"
    return {
        "interval_index": interval,
        "participant": participant,
        "order_id": order_id,
        "kind": None if order is None else order.kind,
        "side": getattr(order, "side", None),
        "pool": order.pool if simple else None,
        "quantity_wh": order.quantity_wh if simple else None,
        "price_usd_per_kwh": order.price_usd_per_kwh if simple else float("nan"),
        "received_time_s": time_s,
        "status": "rejected" if reason else "accepted",
        "reason": reason,
        "order_json": None if order is None else order.model_dump_json(),
    }


def _label(raw: object, position: int) -> str:
    """How a refusal names an order: its ``order_id`` if it has a usable one, else its place."""
    raw_id = raw.get("order_id") if isinstance(raw, dict) else None
    if isinstance(raw_id, str) and 0 < len(raw_id) <= 200:
        return raw_id
    return f"#{position}"


def _limit_prices_usd_per_kwh(order: object) -> list[float]:
    """Every price an order names [USD/kWh]."""
    if isinstance(order, CurveOrder):
        return [vertex.price_usd_per_kwh for vertex in order.vertices]
    if isinstance(order, AffineOrder):
        return [order.price_min_usd_per_kwh, order.price_max_usd_per_kwh]
    return [order.price_usd_per_kwh]


def _as_json(raw: object) -> str:
    try:
        return json.dumps(raw)[:2000]
    except (TypeError, ValueError, RecursionError):
        return repr(raw)[:2000]


def _brief(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return message_problems(error)[:400]
    return str(error).replace("\n", " ")[:300]
