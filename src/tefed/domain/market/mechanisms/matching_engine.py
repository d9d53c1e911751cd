"""Continuous double auction: a standing order book matched as each order arrives (TENT)."""

from __future__ import annotations

import heapq
import math
import numbers
from dataclasses import dataclass, fields, replace

import numpy as np
import pandas as pd

PRIORITY_RULES = ("age", "volume")
SIDES = ("buy", "sell")
#: Rebuild the heaps once they hold this many more entries than twice the standing orders.
_DEAD_ENTRY_SLACK = 64
#: Table dtype of each annotated field type of ``_Order`` and ``Fill``.
_DTYPES = {"str": "string", "int": "int64", "float": "float64", "bool": "bool"}


@dataclass(frozen=True, slots=True)
class _Order:
    """One order instance; the field names are ``BOOK_COLUMNS``."""

    order_id: str
    parent_order_id: str
    participant: str
    side: str
    quantity_wh: int
    price_usd_per_kwh: float
    time_s: float
    expires_s: float
    divisible: bool
    sequence: int


@dataclass(frozen=True)
class Fill:
    """One trade between an arriving order and a standing (resting) order.

    ``time_s`` is the arriving order's submission time [s]; ``buy_order_id`` and
    ``sell_order_id`` are the instances that traded (a submitted id or a child id ``<id>.k``),
    ``*_parent_order_id`` the submitted orders they descend from and ``*_child_order_id`` the
    child carrying what the fill left of each (None if nothing); ``resting_order_id`` is the one
    of the two that stood in the book. ``quantity_wh`` [Wh] is traded at ``price_usd_per_kwh``,
    the resting limit price, between the limits ``bid_price_usd_per_kwh`` and
    ``ask_price_usd_per_kwh`` [USD/kWh]; ``buyer`` and ``seller`` are never equal.
    """

    time_s: float
    buy_order_id: str
    sell_order_id: str
    buy_parent_order_id: str
    sell_parent_order_id: str
    buyer: str
    seller: str
    quantity_wh: int
    price_usd_per_kwh: float
    bid_price_usd_per_kwh: float
    ask_price_usd_per_kwh: float
    resting_order_id: str
    buy_child_order_id: str | None
    sell_child_order_id: str | None


BOOK_COLUMNS = tuple(field.name for field in fields(_Order))
FILL_COLUMNS = tuple(field.name for field in fields(Fill))


class MatchingEngine:
    """A continuous double auction with a standing order book, matching each arriving order.

    Parameters
    ----------
    priority : str
        Tie-break between standing orders at the same price: ``"age"`` (default, earlier
        ``time_s`` first, then earlier submission) or ``"volume"`` (larger standing quantity
        first, then age).

    Raises
    ------
    ValueError
        If ``priority`` is not one of ``PRIORITY_RULES``.

    Notes
    -----
    :meth:`submit` applies these rules to an arriving order x of limit price :math:`p_x`:

    1. Orders with ``expires_s <= time_s`` leave the book first (see :meth:`advance_to`).
    2. The other side is walked in rank order (asks by price low to high, bids high to low,
       equal prices by ``priority``) until x is filled or a price no longer crosses.
    3. Standing orders of x's participant (no self-trade) and indivisible standing orders
       larger than what x still needs (they trade only in full) are skipped and keep their
       rank. Any other order r trades :math:`\\min(q_\\text{need}, q_r)` at its own price
       :math:`p_r` (the resting price), so :math:`p_\\text{ask} \\le p_r \\le p_\\text{bid}`.
    4. An indivisible x (``divisible=False``) trades only if the walk of rule 3 fills it all;
       otherwise nothing trades and x stands whole. The walk is greedy in rank order: no
       subset of orders is searched for a better fit.
    5. A fill that leaves part of an order instance gives the rest a child id ``<parent>.k``
       (k = 1, 2, ... per submitted order, skipping ids in use) with the parent's price, time,
       expiry and rank; ``parent_order_id`` is the submitted id. x may pass through several
       children in one walk; only the last stands. Under ``"volume"`` a child ranks by its
       smaller quantity.
    6. Invariant after every submit (rules 3 and 4 let the book look crossed): for a standing
       bid b and ask a of different participants with :math:`p_b \\ge p_a`, at least one is
       indivisible and, if only one is, its quantity exceeds the other's.

    A submit costs :math:`O((f + s + d)\\log n)`: n standing orders, f fills, s skipped orders,
    d dead heap entries (cancelled, expired, superseded) dropped on the way.

    References
    ----------
    .. [1] Pacific Northwest National Laboratory, "Transactive Energy Network Template
       Metamodel" (TENT), appendix C.
       https://www.pnnl.gov/publications/transactive-energy-network-template-metamodel

    Examples
    --------
    A 300 Wh ask at 0.10 USD/kWh stands; a 500 Wh bid at 0.12 buys all 300 Wh at the resting
    price 0.10 and its 200 Wh remainder stands as child ``b1.1``.

    >>> engine = MatchingEngine()
    >>> engine.submit("s1", "h01", "sell", 300, 0.10, time_s=0, expires_s=900)
    []
    >>> fills = engine.submit("b1", "h02", "buy", 500, 0.12, time_s=60, expires_s=900)
    >>> [(f.buy_order_id, f.sell_order_id, f.quantity_wh, f.price_usd_per_kwh) for f in fills]
    [('b1', 's1', 300, 0.1)]
    >>> engine.book()[["order_id", "parent_order_id", "side", "quantity_wh"]]
      order_id parent_order_id side  quantity_wh
    0     b1.1              b1  buy          200
    """

    def __init__(self, priority: str = "age") -> None:
        if priority not in PRIORITY_RULES:
            raise ValueError(f"priority: got {priority!r}, expected one of {PRIORITY_RULES}")
        self.priority = priority
        self._time_s = -math.inf
        self._heaps: dict[str, list[tuple]] = {"buy": [], "sell": []}
        self._standing: dict[str, _Order] = {}  # submitted id -> its standing instance
        self._parent_of: dict[str, str] = {}  # every id ever used -> submitted id
        self._children: dict[str, int] = {}
        self._expiry: list[tuple[float, int, str]] = []
        self._fills: list[Fill] = []
        self._expired: list[_Order] = []
        self._sequence = 0
        self._pushes = 0

    @property
    def time_s(self) -> float:
        """Engine clock [s]: the latest submit or advance time, -inf before the first."""
        return self._time_s

    def submit(
        self,
        order_id: str,
        participant: str,
        side: str,
        quantity_wh: int,
        price_usd_per_kwh: float,
        time_s: float,
        expires_s: float,
        divisible: bool = True,
    ) -> list[Fill]:
        """Match an arriving order against the book; the unfilled rest stands.

        Parameters
        ----------
        order_id : str
            New id, never used before by a submitted or a child order.
        participant : str
            Who submits; never trades with its own standing orders.
        side : str
            ``"buy"`` or ``"sell"``.
        quantity_wh : int
            Whole number of Wh greater than 0 [Wh].
        price_usd_per_kwh : float
            Finite limit price, may be negative [USD/kWh].
        time_s : float
            Submission time, finite and not before :attr:`time_s` [s].
        expires_s : float
            Finite time at which the order leaves the book, after ``time_s`` [s].
        divisible : bool
            False for an all-or-none order (rules 3 and 4 of the class Notes).

        Returns
        -------
        list of Fill
            The trades in walk order, also appended to :attr:`fills`.

        Raises
        ------
        ValueError
            Naming the order and the field when any parameter breaks the rules above.

        Examples
        --------
        An indivisible 500 Wh bid finds only 300 Wh and stands whole.

        >>> engine = MatchingEngine()
        >>> engine.submit("s1", "h01", "sell", 300, 0.10, time_s=0, expires_s=900)
        []
        >>> engine.submit("b1", "h02", "buy", 500, 0.12, 60, 900, divisible=False)
        []
        >>> engine.book()["quantity_wh"].tolist()
        [500, 300]
        """
        order = (order_id, participant, side, quantity_wh, price_usd_per_kwh, time_s, expires_s)
        arriving = self._checked(*order, divisible)
        self._expire(arriving.time_s)
        self._parent_of[arriving.order_id] = arriving.order_id
        self._sequence += 1
        heap = self._heaps["sell" if arriving.side == "buy" else "buy"]
        planned, skipped, need_wh = self._walk(arriving, heap)
        if need_wh > 0 and not arriving.divisible:
            skipped.extend(entry for entry, _ in planned)
            planned = []
        for entry in skipped:
            heapq.heappush(heap, entry)

        fills = []
        for (_, _, resting), quantity_wh in planned:
            arriving_child = self._split(arriving, quantity_wh)
            resting_child = self._split(resting, quantity_wh)
            fills.append(_fill(arriving, resting, (arriving_child, resting_child), quantity_wh))
            if resting_child is None:
                del self._standing[resting.parent_order_id]
            else:
                self._stand(resting_child)
            arriving = arriving_child
        if arriving is not None:
            self._stand(arriving, arrived=True)
        self._fills.extend(fills)
        return fills

    def cancel(self, order_id: str) -> int:
        """Withdraw what stands of a submitted order.

        Parameters
        ----------
        order_id : str
            The submitted id or the id of any of its children.

        Returns
        -------
        int
            The standing quantity removed [Wh]; 0 when nothing of the order stands any more
            (filled, expired or already cancelled).

        Raises
        ------
        ValueError
            If ``order_id`` was never submitted nor generated.

        Examples
        --------
        >>> engine = MatchingEngine()
        >>> _ = engine.submit("s1", "h01", "sell", 300, 0.10, time_s=0, expires_s=900)
        >>> _ = engine.submit("b1", "h02", "buy", 100, 0.10, time_s=1, expires_s=900)
        >>> engine.cancel("s1"), engine.cancel("s1")
        (200, 0)
        """
        parent_order_id = self._parent_of.get(order_id)
        if parent_order_id is None:
            raise ValueError(f"order_id: got {order_id!r}, expected an id submitted before")
        order = self._standing.pop(parent_order_id, None)
        self._compact()
        return 0 if order is None else order.quantity_wh

    def advance_to(self, time_s: float) -> pd.DataFrame:
        """Move the clock forward and remove the orders that expire by then.

        Parameters
        ----------
        time_s : float
            New clock time, finite and not before :attr:`time_s` [s].

        Returns
        -------
        pandas.DataFrame
            The removed orders with ``expires_s <= time_s``, columns ``BOOK_COLUMNS``, in order
            of expiry; also appended to :attr:`expired`.

        Raises
        ------
        ValueError
            If ``time_s`` is not finite or before the engine clock.

        Examples
        --------
        >>> engine = MatchingEngine()
        >>> _ = engine.submit("s1", "h01", "sell", 300, 0.10, time_s=0, expires_s=900)
        >>> len(engine.advance_to(899)), engine.advance_to(900)["order_id"].tolist()
        (0, ['s1'])
        """
        first = len(self._expired)
        self._expire(self._not_past("advance_to", time_s))
        return _table(self._expired[first:], _Order)

    def book(self) -> pd.DataFrame:
        """Standing orders: bids then asks, each in rank order, columns ``BOOK_COLUMNS``.

        ``quantity_wh`` is the unfilled quantity [Wh]; ``time_s``, ``expires_s`` [s] and
        ``sequence`` (submission count) are those of the submitted order.
        """
        ranked = sorted(self._standing.values(), key=lambda o: (SIDES.index(o.side), self._key(o)))
        return _table(ranked, _Order)

    @property
    def fills(self) -> pd.DataFrame:
        """All fills so far, one row per :class:`Fill`, columns ``FILL_COLUMNS``."""
        return _table(self._fills, Fill)

    @property
    def fill_records(self) -> tuple[Fill, ...]:
        """All fills so far, in order: the rows of `fills` as records."""
        return tuple(self._fills)

    @property
    def expired(self) -> pd.DataFrame:
        """All orders removed by expiry so far, in order of removal, columns ``BOOK_COLUMNS``."""
        return _table(self._expired, _Order)

    def _expire(self, time_s: float) -> None:
        """Set the clock to ``time_s`` [s]; move the orders expiring by then to ``_expired``."""
        self._time_s = time_s
        while self._expiry and self._expiry[0][0] <= time_s:
            _, _, parent_order_id = heapq.heappop(self._expiry)
            order = self._standing.pop(parent_order_id, None)
            if order is not None:
                self._expired.append(order)
        self._compact()

    def _key(self, order: _Order) -> tuple:
        """Rank of a standing order on its side: lower ranks trade first."""
        price = -order.price_usd_per_kwh if order.side == "buy" else order.price_usd_per_kwh
        if self.priority == "age":
            return (price, order.time_s, order.sequence)
        return (price, -order.quantity_wh, order.time_s, order.sequence)

    def _walk(self, arriving: _Order, heap: list[tuple]) -> tuple[list, list, int]:
        """Pop the orders ``arriving`` would trade with: (entry, Wh) pairs, skipped, need [Wh]."""
        need_wh, sign = arriving.quantity_wh, 1 if arriving.side == "buy" else -1
        planned: list[tuple[tuple, int]] = []
        skipped: list[tuple] = []
        while need_wh > 0 and heap:
            entry = heap[0]
            resting = entry[2]
            if self._standing.get(resting.parent_order_id) is not resting:
                heapq.heappop(heap)  # cancelled, expired or superseded by a child
                continue
            if sign * (resting.price_usd_per_kwh - arriving.price_usd_per_kwh) > 0:
                break  # no longer crosses: a dearer ask for a bid, a cheaper bid for an ask
            heapq.heappop(heap)
            if resting.participant == arriving.participant or (
                not resting.divisible and resting.quantity_wh > need_wh
            ):
                skipped.append(entry)
                continue
            quantity_wh = min(need_wh, resting.quantity_wh)
            planned.append((entry, quantity_wh))
            need_wh -= quantity_wh
        return planned, skipped, need_wh

    def _split(self, order: _Order, quantity_wh: int) -> _Order | None:
        """The child carrying what trading ``quantity_wh`` [Wh] leaves of ``order``, if any."""
        if quantity_wh == order.quantity_wh:
            return None
        parent_order_id = order.parent_order_id
        number = self._children.get(parent_order_id, 0) + 1
        while f"{parent_order_id}.{number}" in self._parent_of:
            number += 1  # an id of that form was submitted as an order of its own
        child_id = f"{parent_order_id}.{number}"
        self._children[parent_order_id] = number
        self._parent_of[child_id] = parent_order_id
        return replace(order, order_id=child_id, quantity_wh=order.quantity_wh - quantity_wh)

    def _stand(self, order: _Order, arrived: bool = False) -> None:
        """Put ``order`` in the book in place of its parent; a new arrival also gets an expiry."""
        if arrived:
            heapq.heappush(self._expiry, (order.expires_s, order.sequence, order.parent_order_id))
        self._standing[order.parent_order_id] = order
        self._pushes += 1
        heapq.heappush(self._heaps[order.side], (self._key(order), self._pushes, order))

    def _compact(self) -> None:
        """Drop superseded heap entries once they outnumber the standing orders."""
        if sum(map(len, self._heaps.values())) <= 2 * len(self._standing) + _DEAD_ENTRY_SLACK:
            return
        for side, heap in self._heaps.items():
            live = [e for e in heap if self._standing.get(e[2].parent_order_id) is e[2]]
            heapq.heapify(live)
            self._heaps[side] = live

    def _not_past(self, where: str, time_s: object) -> float:
        """``time_s`` as a finite float not before the engine clock [s], or raise."""
        time_s = _real(where, "time_s", time_s)
        if time_s < self._time_s:
            raise ValueError(f"{where}: time_s got {time_s!r}, expected >= {self._time_s!r} [s]")
        return time_s

    def _checked(self, *order: object) -> _Order:
        """Validate the parameters of :meth:`submit`, in order, and return the order instance."""
        order_id, participant, side, quantity_wh, price, time_s, expires_s, divisible = order
        if not isinstance(order_id, str) or not order_id:
            raise ValueError(f"order_id: got {order_id!r}, expected a non-empty string")
        where = f"order {order_id!r}"
        if order_id in self._parent_of:
            raise ValueError(f"{where}: order_id already used, expected a new id")
        if not isinstance(participant, str) or not participant:
            raise ValueError(f"{where}: participant got {participant!r}, expected a string")
        if side not in SIDES:
            raise ValueError(f"{where}: side got {side!r}, expected one of {SIDES}")
        whole = isinstance(quantity_wh, numbers.Real) and not isinstance(quantity_wh, bool)
        whole = whole and math.isfinite(quantity_wh) and float(quantity_wh).is_integer()
        if not whole or quantity_wh <= 0:
            raise ValueError(f"{where}: quantity_wh got {quantity_wh!r}, expected a whole Wh > 0")
        price = _real(where, "price_usd_per_kwh", price)
        time_s = self._not_past(where, time_s)
        expires_s = _real(where, "expires_s", expires_s)
        if expires_s <= time_s:
            raise ValueError(f"{where}: expires_s got {expires_s!r}, expected > time_s {time_s!r}")
        if not isinstance(divisible, bool | np.bool_):
            raise ValueError(f"{where}: divisible got {divisible!r}, expected True or False")
        return _Order(order_id, order_id, participant, side, int(quantity_wh), price, time_s,
                      expires_s, bool(divisible), self._sequence + 1)  # fmt: skip


def _fill(arriving: _Order, resting: _Order, children: tuple, quantity_wh: int) -> Fill:
    """Fill of ``quantity_wh`` [Wh] at the resting price; ``children`` (arriving, resting)."""
    by_side = {arriving.side: (arriving, children[0]), resting.side: (resting, children[1])}
    (buy, buy_child), (sell, sell_child) = by_side["buy"], by_side["sell"]
    child_ids = (None if child is None else child.order_id for child in (buy_child, sell_child))
    # Positional, in the field order of Fill.
    return Fill(arriving.time_s, buy.order_id, sell.order_id,
                buy.parent_order_id, sell.parent_order_id, buy.participant, sell.participant,
                quantity_wh, resting.price_usd_per_kwh, buy.price_usd_per_kwh,
                sell.price_usd_per_kwh, resting.order_id, *child_ids)  # fmt: skip


def _real(where: str, field: str, value: object) -> float:
    """``value`` as a finite float, or raise naming ``where`` and ``field``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{where}: {field} got {value!r}, expected a finite number")
    return float(value)


def _table(records: list, record_type: type) -> pd.DataFrame:
    """Records of a dataclass as a table, one column per field, dtypes from the annotations."""
    dtypes = {
        field.name: _DTYPES[field.type.removesuffix(" | None")] for field in fields(record_type)
    }
    return pd.DataFrame(
        {name: pd.array([getattr(r, name) for r in records], dtype=d) for name, d in dtypes.items()}
    )
