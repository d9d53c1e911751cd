"""Order book of one market interval: validated orders, ranked per pool and side (MicroTE).

T-REX's MicroTE market keeps one book per energy source type: energy from non-dispatchable
sources (PV) and from dispatchable ones (batteries) is traded in separate pools that never
match each other. This module ranks an interval's orders, checked by
`tefed.domain.market.mechanisms.order_columns`, for the double auction's walk
(`tefed.domain.market.mechanisms.double_auction`): as tables (`validated_book`,
`ranked_sides`) or as arrays (`ranked_book`), and keeps track of the orders still open during
a walk (`open_from`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# Energy pools of the MicroTE market: PV (non-dispatchable) and batteries (dispatchable).
from tefed.contract.messages import POOLS
from tefed.domain.market.frames import object_array
from tefed.domain.market.mechanisms.order_columns import (
    DEFAULT_POOL,
    ORDER_COLUMNS,
    checked_columns,
    pool_positions,
)

#: Columns of a validated book: ``ORDER_COLUMNS`` and the pool.
BOOK_COLUMNS = (*ORDER_COLUMNS, "pool")


def validated_book(orders: pd.DataFrame) -> pd.DataFrame:
    """Check one interval's orders and return them with canonical dtypes.

    Parameters
    ----------
    orders : pandas.DataFrame
        One row per order with columns ``order_id`` (str, unique), ``participant`` (str),
        ``side`` (``"buy"`` or ``"sell"``), ``quantity_wh`` (whole number > 0) [Wh],
        ``price_usd_per_kwh`` (finite limit price, may be negative) [USD/kWh], ``sequence``
        (integer submission order, lower is earlier) [-] and optionally ``pool`` (one of
        ``POOLS``; every order is ``"non_dispatchable"`` when the column is absent).

    Returns
    -------
    pandas.DataFrame
        Columns ``BOOK_COLUMNS`` in the row order of ``orders``: str ids, participants, sides
        and pools, ``quantity_wh`` and ``sequence`` as int64 [Wh, -], prices as float64
        [USD/kWh].

    Raises
    ------
    ValueError
        If a column is missing, a side or pool is unknown, a quantity is not a positive whole
        number, a price is not finite, a sequence is not a whole number, an order_id or
        participant is missing, or an order_id is repeated. The message names the field, the
        offending values with their order_id and what was expected.

    Examples
    --------
    >>> orders = pd.DataFrame({"order_id": ["b1"], "participant": ["h01"], "side": ["buy"],
    ...                        "quantity_wh": [250.0], "price_usd_per_kwh": [0.12],
    ...                        "sequence": [0]})
    >>> book = validated_book(orders)
    >>> book.loc[0, "quantity_wh"], book.loc[0, "pool"]
    (np.int64(250), 'non_dispatchable')
    """
    checked = checked_columns(orders)
    book = pd.DataFrame(
        {
            "order_id": orders["order_id"].astype(str).to_numpy(dtype=object),
            "participant": orders["participant"].astype(str).to_numpy(dtype=object),
            "side": orders["side"].to_numpy(dtype=object),
        }
    )
    for name in ("quantity_wh", "price_usd_per_kwh", "sequence"):
        book[name] = checked[name]
    book["pool"] = orders["pool"].to_numpy(dtype=object) if "pool" in orders else DEFAULT_POOL
    return book


@dataclass(frozen=True, eq=False)
class RankedBook:
    """One interval's validated orders as arrays in MicroTE priority.

    Orders ``[0, bid_count)`` are the bids, the rest the asks. Each side is sorted by pool (in
    ``POOLS`` order), then by limit price (bids from high to low, asks from low to high), then
    by ``sequence`` (earlier first), then by ``order_id``, as in `ranked_sides`.

    Attributes
    ----------
    sorted_ids : numpy.ndarray or pandas.api.extensions.ExtensionArray
        Every order_id, sorted (object array of str, or a pandas string array).
    id_rank : numpy.ndarray
        Each order's ``order_id`` as an index into ``sorted_ids`` (intp) [-].
    participant_names : numpy.ndarray
        The distinct participants, sorted (object array of str).
    participant_code : numpy.ndarray
        Each order's participant as an index into ``participant_names`` (intp) [-]; codes are
        ordered like the names.
    quantity_wh : numpy.ndarray
        Quantity of each order (int64) [Wh].
    price_usd_per_kwh : numpy.ndarray
        Limit price of each order (float64) [USD/kWh].
    pool : numpy.ndarray
        Pool of each order as an index into ``POOLS`` (intp) [-].
    sequence : numpy.ndarray
        Submission order of each order (int64, lower is earlier) [-].
    bid_count : int
        Number of bids [-].
    """

    sorted_ids: np.ndarray | pd.api.extensions.ExtensionArray
    id_rank: np.ndarray
    participant_names: np.ndarray
    participant_code: np.ndarray
    quantity_wh: np.ndarray
    price_usd_per_kwh: np.ndarray
    pool: np.ndarray
    sequence: np.ndarray
    bid_count: int

    @property
    def order_id(self) -> np.ndarray:
        """Each order's order_id (object array of str)."""
        return np.asarray(self.sorted_ids.take(self.id_rank), dtype=object)

    def pool_slices(self) -> list[tuple[slice, slice]]:
        """The bids and the asks of each pool in ``POOLS`` as slices of the ranked orders."""
        edges = np.arange(len(POOLS) + 1)
        bid_edge = np.searchsorted(self.pool[: self.bid_count], edges).tolist()
        ask_edge = (self.bid_count + np.searchsorted(self.pool[self.bid_count :], edges)).tolist()
        return [
            (slice(bid_edge[k], bid_edge[k + 1]), slice(ask_edge[k], ask_edge[k + 1]))
            for k in range(len(POOLS))
        ]


def ranked_book(orders: pd.DataFrame) -> RankedBook:
    """Validate one interval's orders and rank them for the double auction, as arrays.

    Parameters
    ----------
    orders : pandas.DataFrame
        Orders as for `validated_book`.

    Returns
    -------
    RankedBook
        The orders in MicroTE priority, bids first [Wh, USD/kWh].

    Raises
    ------
    ValueError
        As `validated_book`.

    Notes
    -----
    Same checks and ranking as ``ranked_sides(validated_book(orders))``, with one numpy
    ``lexsort`` over (side, pool, signed price, sequence, order_id rank) instead of per-side
    table sorts. Identifiers and names stay string arrays: they are sorted, and later taken
    from, without converting each to a Python object.

    Examples
    --------
    >>> ranked = ranked_book(pd.DataFrame({
    ...     "order_id": ["a", "b", "c"], "participant": ["h2", "h1", "h2"],
    ...     "side": ["sell", "sell", "buy"], "quantity_wh": [1, 2, 3],
    ...     "price_usd_per_kwh": [0.20, 0.10, 0.30], "sequence": [0, 1, 2]}))
    >>> ranked.order_id.tolist(), ranked.bid_count, ranked.participant_code.tolist()
    (['c', 'b', 'a'], 1, [1, 0, 1])
    """
    checked = checked_columns(orders)
    is_buy = checked["is_buy"]
    rank = _priority(
        is_buy,
        checked["pool_index"],
        checked["price_usd_per_kwh"],
        checked["sequence"],
        checked["id_rank"],
    )
    # Participants as Python str, sorted by code point as pandas sorts its strings (UTF-8
    # bytes): for a few dozen orders a dict beats pandas' factorize.
    participant = checked["participant"]
    names = sorted(set(participant))
    code_of_name = {name: code for code, name in enumerate(names)}
    participant_code = np.array([code_of_name[name] for name in participant], dtype=np.intp)
    return RankedBook(
        sorted_ids=checked["sorted_ids"],
        id_rank=checked["id_rank"][rank],
        participant_names=object_array(names),
        participant_code=participant_code[rank],
        quantity_wh=checked["quantity_wh"][rank],
        price_usd_per_kwh=checked["price_usd_per_kwh"][rank],
        pool=checked["pool_index"][rank],
        sequence=checked["sequence"][rank],
        bid_count=int(is_buy.sum()),
    )


def ranked_sides(book: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a validated book into bids and asks in MicroTE priority, pool by pool.

    Parameters
    ----------
    book : pandas.DataFrame
        A book as from `validated_book` (columns ``BOOK_COLUMNS``).

    Returns
    -------
    bids, asks : pandas.DataFrame
        The buy and the sell orders with a fresh index, each sorted by pool (in ``POOLS``
        order), then by limit price [USD/kWh] (bids from high to low, asks from low to high),
        then by ``sequence`` (earlier first), then by ``order_id``.

    Notes
    -----
    The sort key is total (``order_id`` is unique), so the ranking, and every result derived
    from it, does not depend on the row order of the book.

    Examples
    --------
    >>> book = validated_book(pd.DataFrame({
    ...     "order_id": ["a", "b", "c", "d"], "participant": ["h1", "h2", "h3", "h4"],
    ...     "side": ["sell", "sell", "buy", "sell"], "quantity_wh": [1, 1, 1, 1],
    ...     "price_usd_per_kwh": [0.20, 0.10, 0.30, 0.05], "sequence": [0, 1, 2, 3],
    ...     "pool": ["non_dispatchable", "non_dispatchable", "non_dispatchable", "dispatchable"]}))
    >>> bids, asks = ranked_sides(book)
    >>> asks["order_id"].tolist(), bids["order_id"].tolist()
    (['b', 'a', 'd'], ['c'])
    """
    identifiers = book["order_id"].to_numpy(dtype=object)
    id_rank = np.empty(len(identifiers), dtype=np.intp)
    id_rank[np.argsort(identifiers, kind="stable")] = np.arange(len(identifiers))
    is_buy = book["side"].to_numpy(dtype=object) == "buy"
    rank = _priority(
        is_buy,
        pool_positions(book["pool"].to_numpy(dtype=object)),
        book["price_usd_per_kwh"].to_numpy(dtype=np.float64),
        book["sequence"].to_numpy(dtype=np.int64),
        id_rank,
    )
    bid_count = int(is_buy.sum())
    return (
        book.iloc[rank[:bid_count]].reset_index(drop=True),
        book.iloc[rank[bid_count:]].reset_index(drop=True),
    )


def open_from(next_open: list[int], index: int) -> int:
    """First open order at or after ``index`` in a next-open forest over one side's orders.

    Parameters
    ----------
    next_open : list of int
        One entry per order plus a sentinel at the end: ``next_open[k] == k`` while order ``k``
        is open (and for the sentinel); an exhausted order points to a later index. Paths are
        compressed in place.
    index : int
        Where to start [-].

    Returns
    -------
    int
        The index of the first open order at or after ``index``, ``len(next_open) - 1`` if
        none is [-].

    Notes
    -----
    A union-find forest with path compression: marking order ``k`` exhausted is
    ``next_open[k] = k + 1``, and a walk that always starts from the first open order never
    visits an exhausted one twice.

    Examples
    --------
    Orders 0, 1 and 3 of four are exhausted: the first open one from 0 is 2, from 3 none (4).

    >>> next_open = [1, 2, 2, 4, 4]
    >>> open_from(next_open, 0), open_from(next_open, 3), next_open
    (2, 4, [2, 2, 2, 4, 4])
    """
    root = index
    while next_open[root] != root:
        root = next_open[root]
    while next_open[index] != root:
        next_open[index], index = root, next_open[index]
    return root


def _priority(
    is_buy: np.ndarray,
    pool_index: np.ndarray,
    price_usd_per_kwh: np.ndarray,
    sequence: np.ndarray,
    id_rank: np.ndarray,
) -> np.ndarray:
    """Row positions in MicroTE priority: bids then asks, each by pool, price, sequence, id."""
    signed_price = np.where(is_buy, -price_usd_per_kwh, price_usd_per_kwh)
    return np.lexsort((id_rank, sequence, signed_price, pool_index, ~is_buy))
