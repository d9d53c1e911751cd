"""MicroTE double auction: pairwise matching of ranked bids and asks, pool by pool (T-REX)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tefed.domain.market.frames import object_array, str_array, typed_frame
from tefed.domain.market.mechanisms.order_book import POOLS, RankedBook, open_from, ranked_book
from tefed.domain.market.mechanisms.order_columns import ORDER_COLUMNS, SIDES
from tefed.domain.market.mechanisms.pro_rata import walk_levels

__all__ = [
    "ORDER_COLUMNS",
    "POOLS",
    "SETTLEMENT_RULES",
    "SIDES",
    "STATUSES",
    "TIE_BREAKING",
    "TRADE_COLUMNS",
    "AuctionResult",
    "PoolWalk",
    "clear_double_auction",
    "clear_pools",
]

SETTLEMENT_RULES = ("midpoint", "pay_as_bid", "pay_as_ask", "uniform")
TIE_BREAKING = ("time", "pro_rata")
#: The pool that takes the non-dispatchable pool's unfilled bids after that pool has cleared.
CASCADING_TO = "dispatchable"
#: Book statuses, most informative first (the overall status is the first any pool has).
STATUSES = ("cleared", "no_crossing", "one_sided", "empty")
#: Columns of the trades table before its last column, ``pool``.
TRADE_COLUMNS = (
    "buy_order_id",
    "sell_order_id",
    "buyer",
    "seller",
    "quantity_wh",
    "price_usd_per_kwh",
    "bid_price_usd_per_kwh",
    "ask_price_usd_per_kwh",
)


@dataclass(frozen=True, eq=False)
class AuctionResult:
    """Outcome of one double auction.

    Attributes
    ----------
    trades : pandas.DataFrame
        One row per matched (bid, ask) pair, pool by pool in ``POOLS`` order and in matching
        order within a pool, columns ``TRADE_COLUMNS`` and ``pool``: ``buy_order_id``,
        ``sell_order_id``, ``buyer``, ``seller``, ``quantity_wh`` (int64) [Wh],
        ``price_usd_per_kwh`` (settled price) [USD/kWh], ``bid_price_usd_per_kwh`` and
        ``ask_price_usd_per_kwh`` (the two limit prices) [USD/kWh], ``pool``.
    filled_wh : pandas.Series
        Awarded quantity per order [Wh], int64, indexed by ``order_id`` in sorted order; every
        input order is present, 0 where it was not filled.
    status : str
        Overall status, the first of ``STATUSES`` that any pool has: ``"cleared"`` (a pool
        traded), else ``"no_crossing"`` (a pool had bids and asks but no trade), else
        ``"one_sided"`` (a pool had only bids or only asks), else ``"empty"`` (no orders).
    pool_status : dict of str to str
        Status of each pool in ``POOLS`` on its own (same four values).
    clearing_price_usd_per_kwh : dict of str to float
        Per pool in ``POOLS``: the one price of all its trades under the ``"uniform"`` rule
        [USD/kWh]; NaN under the other rules and for a pool without trades.
    order_ids : numpy.ndarray
        Every input order id, in sorted order (object).
    filled_quantity_wh : numpy.ndarray
        Each one's awarded quantity [Wh] (int64): ``filled_wh`` as arrays.
    """

    trades: pd.DataFrame
    status: str
    pool_status: dict[str, str]
    clearing_price_usd_per_kwh: dict[str, float]
    #: `filled_wh` is made of these when first read: the market reads it only in community
    #: markets, and a Series indexed by the ids cost 111 µs of every clearing.
    order_ids: np.ndarray = field(repr=False)
    filled_quantity_wh: np.ndarray = field(repr=False)

    @functools.cached_property
    def filled_wh(self) -> pd.Series:
        """Awarded quantity per order [Wh] (see the class docstring)."""
        return pd.Series(
            self.filled_quantity_wh,
            index=pd.Index(self.order_ids, name="order_id"),
            name="filled_wh",
        )

    @property
    def traded_energy_wh(self) -> int:
        """Total energy traded [Wh]."""
        return int(self.trades["quantity_wh"].sum())

    @property
    def mean_price_usd_per_kwh(self) -> float:
        """Volume-weighted mean trade price [USD/kWh]; NaN when nothing traded."""
        quantity_wh = self.trades["quantity_wh"].to_numpy(dtype=np.float64)
        if quantity_wh.sum() == 0:
            return float("nan")
        price_usd_per_kwh = self.trades["price_usd_per_kwh"].to_numpy(dtype=np.float64)
        return float(np.dot(quantity_wh, price_usd_per_kwh) / quantity_wh.sum())


def clear_double_auction(
    orders: pd.DataFrame, settlement_rule: str = "midpoint", tie_breaking: str = "time"
) -> AuctionResult:
    """Clear one market interval with the MicroTE pairwise double auction.

    Parameters
    ----------
    orders : pandas.DataFrame
        One row per order with columns ``order_id`` (str, unique), ``participant`` (str),
        ``side`` (``"buy"`` or ``"sell"``), ``quantity_wh`` (whole number > 0) [Wh],
        ``price_usd_per_kwh`` (finite limit price, may be negative) [USD/kWh], ``sequence``
        (integer submission order, lower is earlier) [-] and optionally ``pool`` (one of
        ``POOLS``; all orders are ``"non_dispatchable"`` without it). Row order does not matter.
    settlement_rule : str
        How trades are priced: ``"midpoint"`` (default), ``"pay_as_bid"``, ``"pay_as_ask"``
        or ``"uniform"``.
    tie_breaking : str
        How orders at the same limit price on the same side of a pool share the other side:
        ``"time"`` (default, by submission sequence) or ``"pro_rata"``.

    Returns
    -------
    AuctionResult
        Trades [Wh, USD/kWh], the filled quantity of every order [Wh], the status overall
        and per pool, and the uniform price per pool [USD/kWh].

    Raises
    ------
    ValueError
        If ``settlement_rule`` or ``tie_breaking`` is not one of ``SETTLEMENT_RULES`` or
        ``TIE_BREAKING``, or an order is invalid (see `order_book.validated_book`: missing
        column, unknown side or pool, quantity not a positive whole number, price not finite,
        sequence not whole, missing or repeated order_id, missing participant).

    Notes
    -----
    The rule is the MicroTE double auction of the T-REX simulator [1]_, which keeps one book
    per energy source type; here the pools are ``POOLS``, cleared one after the other: first
    the non-dispatchable pool (PV) with its own bids and asks, then the dispatchable pool
    (batteries) with its own bids and whatever the non-dispatchable bids left unfilled (the
    source of a sale is the seller's, so an ask never leaves its pool; a buyer served by PV
    first buys the rest from batteries). A trade is in its ask's pool. Within a pool:

    1. Bids are ranked by limit price from high to low, asks from low to high; equal prices are
       ranked by ``sequence`` (earlier first), then by ``order_id``. The ranking is total, so
       the result does not depend on the row order of ``orders``.
    2. ``tie_breaking="time"``: the best remaining bid is matched with the best remaining ask
       while the bid price is at least the ask price. The pair trades
       :math:`q = \\min(q_b, q_a)` whole Wh; an order with quantity left stays at the head of
       its side.
    3. A participant never trades with itself: a bid skips the asks of its own participant and
       is matched with the best remaining ask of another participant, still only if that ask's
       price is at most the bid price. A skipped ask keeps its rank for later bids; a bid that
       finds no such ask stays (partly) unfilled and the walk goes on with the next bid.
    4. ``tie_breaking="pro_rata"``: the same walk over price levels instead of orders. Each bid
       level (all bids of the pool at one price) meets the ask levels it crosses from the
       cheapest on; each level pair trades the most it can without self-trades and its bids
       (and its asks) share that volume in proportion to their open quantities, in whole Wh
       by largest remainder, equal remainders by sequence. A participant on both sides of a
       level pair whose proportional shares would force a self-trade gets the shares the
       maximum volume leaves it, the others share the rest pro-rata (`pro_rata`). Without a
       participant on both sides of a pool, every pair of limit prices trades the same volume
       as under ``"time"``: pro-rata only redistributes among ties.
    5. Prices: :math:`p = (p_b + p_a)/2` per pair for ``"midpoint"`` (the rule of the
       paper), :math:`p = p_b` for ``"pay_as_bid"``, :math:`p = p_a` for ``"pay_as_ask"``.
       ``"uniform"`` settles every trade of a pool at :math:`p^* = (b_{min} + a_{max})/2`,
       the midpoint of the lowest matched bid price and the highest matched ask price. When
       asks are taken in rank order (always, unless a self-trade skip left a cheaper ask to a
       later bid), the last matched pair holds both, so :math:`p^*` is the midpoint of the
       last matched pair. To keep :math:`b_{min} \\ge a_{max}`, the uniform walk stops at the
       first bid (level) priced below an ask it already matched in the pool; this changes the
       matching only after such a skip. Every matched pair then satisfies
       :math:`p_b \\ge b_{min} \\ge p^* \\ge a_{max} \\ge p_a` (bids are walked from high to
       low, so :math:`b_{min}` is the last bid; each bid only takes asks at most its price).
       In floating point :math:`(x + y)/2` with :math:`y \\le x` also lies in
       :math:`[y, x]`, since rounding is monotone and halving exact. So under every rule
       :math:`p_a \\le p \\le p_b`.

    Matching is sequential by nature (each pair depends on the quantities left by earlier
    ones), so the walk loops over bids (levels) and matched pairs; ranking, validation and the
    result tables are array operations. Exhausted asks (ask levels) are skipped through a
    next-open forest (`order_book.open_from`), so a bid never revisits them: the time walk
    costs one step per matched pair plus the skips over a bid's own participant's asks.

    References
    ----------
    .. [1] D. Zhang, H. Gül, P. Musilek, "T-REX: a transactive energy market simulator",
       https://github.com/trex-ai/TREX-Core (MicroTE market, ``markets/MicroTE``).

    Examples
    --------
    Two bids and one ask: the 0.30 bid is served first, the 0.20 bid takes the remaining
    100 Wh, each at the midpoint of its pair: (0.30 + 0.10)/2 = 0.20 and (0.20 + 0.10)/2 = 0.15.
    Under ``"uniform"`` both settle at the last pair's midpoint, 0.15.

    >>> orders = pd.DataFrame({
    ...     "order_id": ["b1", "b2", "s1"],
    ...     "participant": ["h01", "h02", "h03"],
    ...     "side": ["buy", "buy", "sell"],
    ...     "quantity_wh": [300, 200, 400],
    ...     "price_usd_per_kwh": [0.30, 0.20, 0.10],
    ...     "sequence": [0, 1, 2],
    ... })
    >>> result = clear_double_auction(orders)
    >>> result.trades[["buy_order_id", "quantity_wh", "price_usd_per_kwh", "pool"]]
      buy_order_id  quantity_wh  price_usd_per_kwh              pool
    0           b1          300               0.20  non_dispatchable
    1           b2          100               0.15  non_dispatchable
    >>> result.filled_wh.to_dict()
    {'b1': 300, 'b2': 100, 's1': 400}
    >>> result.status, result.pool_status["dispatchable"], result.traded_energy_wh
    ('cleared', 'empty', 400)
    >>> round(clear_double_auction(orders, "uniform").mean_price_usd_per_kwh, 10)
    0.15
    """
    if settlement_rule not in SETTLEMENT_RULES:
        raise ValueError(
            f"settlement_rule: got {settlement_rule!r}, expected one of {SETTLEMENT_RULES}"
        )
    if tie_breaking not in TIE_BREAKING:
        raise ValueError(f"tie_breaking: got {tie_breaking!r}, expected one of {TIE_BREAKING}")
    walk = _time_walk if tie_breaking == "time" else walk_levels
    return clear_pools(ranked_book(orders), walk, settlement_rule)


#: A walk over one pool's ranked bids and asks: (bid price, ask price [USD/kWh], bid and ask
#: participant codes, bid and ask open quantities [Wh] consumed in place, uniform rule) to
#: the (bid index, ask index, quantity [Wh]) of each matched pair, in matching order.
PoolWalk = Callable[
    [np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool],
    tuple[np.ndarray, np.ndarray, np.ndarray],
]


def clear_pools(book: RankedBook, walk: PoolWalk, settlement_rule: str) -> AuctionResult:
    """Clear ranked orders pool by pool, the PV pool's unfilled bids moving on to the batteries.

    Parameters
    ----------
    book : RankedBook
        The interval's orders, validated and ranked (`order_book.ranked_book`).
    walk : PoolWalk
        How one pool's ranked bids and asks are matched (the time walk, `pro_rata.walk_levels`,
        or an equivalent): it gets each pool's bids, the cascading ones included.
    settlement_rule : str
        One of ``SETTLEMENT_RULES``.

    Returns
    -------
    AuctionResult
        As `clear_double_auction`.

    Notes
    -----
    The pool walk of `clear_double_auction` (its Notes): pools in ``POOLS`` order; the
    dispatchable pool takes its own bids and what the non-dispatchable bids left unfilled,
    ranked together, if it has asks. Every market that clears simple orders by pools uses
    this one function, so they agree on pools and cascade.
    """
    # Participant codes are ordered like the names and shared by both sides: self-trade tests
    # are integer compares and pro-rata ties between participants go to the lower name.
    code = book.participant_code
    price = book.price_usd_per_kwh
    left_wh = book.quantity_wh.copy()
    uniform = settlement_rule == "uniform"

    pairs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    pool_status: dict[str, str] = {}
    slices = book.pool_slices()
    for pool, (bids, asks) in zip(POOLS, slices, strict=True):
        # Each pool's asks are one contiguous slice; ``left_wh`` is consumed through views.
        # Unfilled bids move on only to a pool with asks (a pool without keeps its status).
        cascading = slices[0][0] if pool == CASCADING_TO and asks.stop > asks.start else None
        bid_rows = _bids_in_pool(book, bids, cascading, left_wh)
        bid_left_wh = left_wh[bid_rows]
        pair_bid, pair_ask, pair_wh = walk(
            price[bid_rows],
            price[asks],
            code[bid_rows],
            code[asks],
            bid_left_wh,
            left_wh[asks],
            uniform,
        )
        left_wh[bid_rows] = bid_left_wh
        pairs.append((bid_rows[pair_bid], pair_ask + asks.start, pair_wh))
        pool_status[pool] = book_status(bid_rows.size, asks.stop - asks.start, pair_wh.size)

    pair_bid, pair_ask, pair_wh = (np.concatenate(parts) for parts in zip(*pairs, strict=True))
    trades, clearing_price = _trades_table(book, pair_bid, pair_ask, pair_wh, settlement_rule)
    filled_wh = np.empty(len(left_wh), dtype=np.int64)
    filled_wh[book.id_rank] = book.quantity_wh - left_wh
    status = next(s for s in STATUSES if s in pool_status.values())
    return AuctionResult(
        trades=trades,
        status=status,
        pool_status=pool_status,
        clearing_price_usd_per_kwh=clearing_price,
        order_ids=book.sorted_ids,
        filled_quantity_wh=filled_wh,
    )


def _time_walk(
    bid_price: np.ndarray,
    ask_price: np.ndarray,
    bid_code: np.ndarray,
    ask_code: np.ndarray,
    bid_left_wh: np.ndarray,
    ask_left_wh: np.ndarray,
    uniform: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Walk one pool's ranked book bid by bid (steps 2, 3 and the uniform stop).

    Returns (bid index, ask index, quantity [Wh]) of each matched pair. ``bid_left_wh`` and
    ``ask_left_wh`` are consumed in place and hold the unfilled remainders afterwards [Wh].

    Each bid starts at the first open ask and follows ``next_open`` (a union-find forest over
    the asks: an exhausted ask points past itself, paths are compressed), so exhausted asks are
    never visited again and a bid only revisits the open asks of its own participant.
    """
    # Asks are ranked by ascending price, so those a bid may take are a prefix of the ranking.
    crossing = np.searchsorted(ask_price, bid_price, side="right").tolist()
    bid_limit, ask_limit = bid_price.tolist(), ask_price.tolist()
    bid_owner, ask_owner = bid_code.tolist(), ask_code.tolist()
    bid_left, ask_left = bid_left_wh.tolist(), ask_left_wh.tolist()
    next_open = list(range(len(ask_left) + 1))
    pair_bid: list[int] = []
    pair_ask: list[int] = []
    pair_wh: list[int] = []
    highest_ask_price = -np.inf
    for bid in range(len(bid_left)):
        if uniform and bid_limit[bid] < highest_ask_price:
            break
        end = crossing[bid]
        ask = open_from(next_open, 0)
        if ask >= end:
            # Later bids are cheaper, so they cross no more asks than this one.
            break
        owner, wanted_wh = bid_owner[bid], bid_left[bid]
        while ask < end:
            if ask_owner[ask] != owner:
                offered_wh = ask_left[ask]
                quantity_wh = wanted_wh if wanted_wh < offered_wh else offered_wh
                pair_bid.append(bid)
                pair_ask.append(ask)
                pair_wh.append(quantity_wh)
                ask_left[ask] = offered_wh - quantity_wh
                wanted_wh -= quantity_wh
                if ask_limit[ask] > highest_ask_price:
                    highest_ask_price = ask_limit[ask]
                if quantity_wh == offered_wh:
                    next_open[ask] = ask + 1
                if wanted_wh == 0:
                    break
            ask = open_from(next_open, ask + 1)
        bid_left[bid] = wanted_wh
    bid_left_wh[:] = bid_left
    ask_left_wh[:] = ask_left
    return (
        np.asarray(pair_bid, dtype=np.intp),
        np.asarray(pair_ask, dtype=np.intp),
        np.asarray(pair_wh, dtype=np.int64),
    )


def _bids_in_pool(
    book: RankedBook, bids: slice, cascading: slice | None, left_wh: np.ndarray
) -> np.ndarray:
    """Ranked positions of the bids a pool's walk takes, in rank order.

    A pool takes its own bids (``bids``); the dispatchable pool, cleared after the
    non-dispatchable one, also takes what the bids of that pool (``cascading``) left open
    (``left_wh`` > 0), ranked together by limit price (high to low), ``sequence``, then
    ``order_id``.
    """
    own = np.arange(bids.start, bids.stop, dtype=np.intp)
    if cascading is None:
        return own
    first = cascading
    left_open = np.flatnonzero(left_wh[first] > 0).astype(np.intp) + first.start
    if left_open.size == 0:
        return own
    rows = np.concatenate([own, left_open])
    rank = np.lexsort((book.id_rank[rows], book.sequence[rows], -book.price_usd_per_kwh[rows]))
    return rows[rank]


def book_status(bid_count: int, ask_count: int, trade_count: int) -> str:
    """Status of one pool's book from its order and trade counts."""
    if bid_count + ask_count == 0:
        return "empty"
    if bid_count == 0 or ask_count == 0:
        return "one_sided"
    return "cleared" if trade_count else "no_crossing"


def _trades_table(
    book: RankedBook,
    pair_bid: np.ndarray,
    pair_ask: np.ndarray,
    pair_wh: np.ndarray,
    settlement_rule: str,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Trades [Wh, USD/kWh] from matched index pairs, and the uniform price of each pool."""
    bid_price = book.price_usd_per_kwh[pair_bid]
    ask_price = book.price_usd_per_kwh[pair_ask]
    # A trade is in its ask's pool (a bid may cross from the non-dispatchable pool).
    pool = book.pool[pair_ask]
    clearing_price = dict.fromkeys(POOLS, float("nan"))
    if settlement_rule == "midpoint":
        price = (bid_price + ask_price) / 2.0
    elif settlement_rule == "pay_as_bid":
        price = bid_price
    elif settlement_rule == "pay_as_ask":
        price = ask_price
    else:
        price = np.empty_like(bid_price)
        for k, name in enumerate(POOLS):
            in_pool = pool == k
            if in_pool.any():
                clearing_price[name] = float(
                    (bid_price[in_pool].min() + ask_price[in_pool].max()) / 2.0
                )
                price[in_pool] = clearing_price[name]
    # The five text columns as one object array of Python str, cut into a view per column:
    # the table keeps them as objects (`TRADE_DTYPES`), which every reader of the trades (the
    # checks, the awards, the settlement) takes as they are; pandas' str arrays cost each
    # reader a conversion (~10-25 us a column).
    ids, names = book.sorted_ids.tolist(), book.participant_names.tolist()
    bid_id, ask_id = book.id_rank[pair_bid].tolist(), book.id_rank[pair_ask].tolist()
    buyer, seller = (
        book.participant_code[pair_bid].tolist(),
        book.participant_code[pair_ask].tolist(),
    )
    values = (
        [ids[k] for k in bid_id]
        + [ids[k] for k in ask_id]
        + [names[k] for k in buyer]
        + [names[k] for k in seller]
        + [POOLS[k] for k in pool.tolist()]
    )
    # No trades: pandas' str columns, so that a run without any trade writes its empty trades
    # table with text columns (an empty object column is written as nulls).
    text = object_array(values) if values else str_array(values)
    size = pair_wh.size
    trades = typed_frame(
        {
            "buy_order_id": text[:size],
            "sell_order_id": text[size : 2 * size],
            "buyer": text[2 * size : 3 * size],
            "seller": text[3 * size : 4 * size],
            "quantity_wh": pair_wh.astype(np.int64, copy=False),
            "price_usd_per_kwh": price.astype(np.float64, copy=False),
            "bid_price_usd_per_kwh": bid_price,
            "ask_price_usd_per_kwh": ask_price,
            "pool": text[4 * size :],
        }
    )
    return trades, clearing_price
