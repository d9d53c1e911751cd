"""Order book of one market interval: validated orders, ranked per pool and side (MicroTE).

T-REX's MicroTE market keeps one book per energy source type: energy from non-dispatchable
sources (PV) and from dispatchable ones (batteries) is traded in separate pools that never
match each other. This module checks an interval's orders and ranks them for the double
auction's walk (`tefed.domain.market.mechanisms.double_auction`): as tables (`validated_book`,
`ranked_sides`) or as arrays (`ranked_book`), and keeps track of the orders still open during
a walk (`open_from`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

# Energy pools of the MicroTE market: PV (non-dispatchable) and batteries (dispatchable).
from tefed.contract.messages import POOLS
from tefed.domain.market.frames import column_array, str_array

#: Pool of every order when ``orders`` has no ``pool`` column.
DEFAULT_POOL = "non_dispatchable"
SIDES = ("buy", "sell")
ORDER_COLUMNS = ("order_id", "participant", "side", "quantity_wh", "price_usd_per_kwh", "sequence")
#: Columns of a validated book: ``ORDER_COLUMNS`` and the pool.
BOOK_COLUMNS = (*ORDER_COLUMNS, "pool")

#: How many offending values an error message lists before it summarises the rest.
_SHOWN_VALUES = 5
_SIDE_NAMES = frozenset(SIDES)
#: Each pool's index into ``POOLS``.
_POOL_POSITION = {name: position for position, name in enumerate(POOLS)}


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
    checked = _checked_columns(orders)
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
    sorted_ids : pandas.api.extensions.ExtensionArray
        Every order_id, sorted (str).
    id_rank : numpy.ndarray
        Each order's ``order_id`` as an index into ``sorted_ids`` (intp) [-].
    participant_names : pandas.api.extensions.ExtensionArray
        The distinct participants, sorted (str).
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

    sorted_ids: pd.api.extensions.ExtensionArray
    id_rank: np.ndarray
    participant_names: pd.api.extensions.ExtensionArray
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
    checked = _checked_columns(orders)
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
        participant_names=str_array(names),
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
        _pool_index(book["pool"].to_numpy(dtype=object)),
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


def _checked_columns(orders: pd.DataFrame) -> dict[str, Any]:
    """Check ``orders`` (see `validated_book`) and return what the ranking needs, as arrays.

    Keys: ``sorted_ids`` (every order_id, sorted, str array), ``id_rank`` (each row's index
    into it), ``participant`` (list of str), ``is_buy``, ``quantity_wh`` [Wh],
    ``price_usd_per_kwh`` [USD/kWh], ``sequence`` and ``pool_index`` (index into ``POOLS``),
    one entry per row.

    Notes
    -----
    A book as the market builds it (str identifiers, int64 quantities and sequences, float64
    prices, all valid) is checked on Python lists of its columns (`_plain_columns`); any other
    book, and every invalid one, takes the general checks, whose messages name the problem.
    """
    plain = _plain_columns(orders)
    if plain is not None:
        return plain
    return _general_columns(orders)


def _plain_columns(orders: pd.DataFrame) -> dict[str, Any] | None:
    """`_checked_columns` of a valid book in canonical dtypes; None for any other book.

    Each column is read once, without building its Series (`frames.column_array`: a column
    read costs pandas more than the checks of a few dozen orders), identifiers as Python str.
    Returns None, so that `_general_columns` checks and describes, as soon as anything is not
    plain: a missing column, repeated labels, an
    identifier that is not a str, an unknown side or pool, a repeated order_id, quantities or
    sequences not int64 (or nullable integers without missing values, which both paths read
    alike), a quantity not above 0, prices not finite float64.
    """
    if type(orders) is not pd.DataFrame or not all(
        column in orders.columns for column in ORDER_COLUMNS
    ):
        return None
    quantity_wh = column_array(orders, "quantity_wh")
    price = column_array(orders, "price_usd_per_kwh")
    sequence = column_array(orders, "sequence")
    if not (
        _is_numpy(quantity_wh, np.int64)
        and _is_numpy(sequence, np.int64)
        and _is_numpy(price, np.float64)
        and bool((quantity_wh > 0).all())
        and bool(np.isfinite(price).all())
    ):
        return None
    order_id = column_array(orders, "order_id", dtype=object).tolist()
    participant = column_array(orders, "participant", dtype=object).tolist()
    side = column_array(orders, "side", dtype=object).tolist()
    if not (
        all(type(value) is str for value in order_id)
        and all(type(value) is str for value in participant)
        and all(type(value) is str and value in _SIDE_NAMES for value in side)
        and len(set(order_id)) == len(order_id)
    ):
        return None
    if "pool" in orders.columns:
        pool = column_array(orders, "pool", dtype=object).tolist()
        if not all(type(value) is str and value in _POOL_POSITION for value in pool):
            return None
        pool_index = np.array([_POOL_POSITION[value] for value in pool], dtype=np.intp)
    else:
        pool_index = np.full(len(order_id), POOLS.index(DEFAULT_POOL), dtype=np.intp)
    # Python sorts str by code point, as pandas sorts its strings (by UTF-8 bytes).
    by_order_id = sorted(range(len(order_id)), key=order_id.__getitem__)
    id_rank = np.empty(len(order_id), dtype=np.intp)
    id_rank[by_order_id] = np.arange(len(order_id))
    return {
        "sorted_ids": str_array([order_id[row] for row in by_order_id]),
        "id_rank": id_rank,
        "participant": participant,
        "is_buy": np.array([value == "buy" for value in side], dtype=bool),
        "quantity_wh": quantity_wh,
        "price_usd_per_kwh": price,
        "sequence": sequence,
        "pool_index": pool_index,
    }


def _is_numpy(values: Any, dtype: type) -> bool:
    """Whether ``values`` is a 1-D numpy array of ``dtype``."""
    return isinstance(values, np.ndarray) and values.ndim == 1 and values.dtype == dtype


def _general_columns(orders: pd.DataFrame) -> dict[str, Any]:
    """`_checked_columns` of any table: checks each column and raises on the first problem."""
    missing = [column for column in ORDER_COLUMNS if column not in orders.columns]
    if missing:
        raise ValueError(
            f"orders: missing column(s) {missing}, expected columns {list(ORDER_COLUMNS)}"
        )
    order_id = orders["order_id"]
    # Each column is read into numpy once; the checks are array operations on it.
    side = orders["side"].to_numpy(dtype=object)
    pool = orders["pool"].to_numpy(dtype=object) if "pool" in orders.columns else None
    for column in ("order_id", "participant"):
        absent = pd.isna(orders[column].to_numpy(dtype=object))
        if absent.any():
            raise ValueError(
                f"orders.{column}: missing value in {int(absent.sum())} row(s) (row positions "
                f"{_listed(np.flatnonzero(absent))}), expected a string"
            )
    identifiers = pd.array(order_id.astype(str), dtype=str)
    by_order_id = np.asarray(identifiers.argsort(), dtype=np.intp)
    sorted_ids = identifiers.take(by_order_id)
    if np.asarray(sorted_ids[1:] == sorted_ids[:-1], dtype=bool).any():
        as_objects = order_id.astype(str).to_numpy(dtype=object)
        repeated = pd.Series(as_objects).duplicated(keep=False).to_numpy()
        raise ValueError(
            f"orders.order_id: repeated value(s) {_listed(np.unique(as_objects[repeated]))},"
            " expected each order_id once"
        )
    id_rank = np.empty(len(by_order_id), dtype=np.intp)
    id_rank[by_order_id] = np.arange(len(by_order_id))

    unknown_side = ~np.isin(side, SIDES)
    if unknown_side.any():
        raise ValueError(
            f"orders.side: got {_offending(order_id, orders['side'], unknown_side)}, "
            f"expected one of {SIDES}"
        )

    quantity_wh = _whole_numbers(orders, "quantity_wh")
    not_positive = quantity_wh <= 0
    if not_positive.any():
        raise ValueError(
            f"orders.quantity_wh: got {_offending(order_id, orders['quantity_wh'], not_positive)}"
            ", expected a whole number of Wh greater than 0"
        )

    price = pd.to_numeric(orders["price_usd_per_kwh"], errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    not_finite = ~np.isfinite(price)
    if not_finite.any():
        raise ValueError(
            "orders.price_usd_per_kwh: got "
            f"{_offending(order_id, orders['price_usd_per_kwh'], not_finite)}, "
            "expected a finite number [USD/kWh]"
        )

    sequence = _whole_numbers(orders, "sequence")

    if pool is not None:
        unknown_pool = ~np.isin(pool, POOLS)
        if unknown_pool.any():
            raise ValueError(
                f"orders.pool: got {_offending(order_id, orders['pool'], unknown_pool)}, "
                f"expected one of {POOLS}"
            )
        pool_index = _pool_index(pool)
    else:
        pool_index = np.full(len(id_rank), POOLS.index(DEFAULT_POOL), dtype=np.intp)
    return {
        "sorted_ids": sorted_ids,
        "id_rank": id_rank,
        "participant": pd.array(orders["participant"].astype(str), dtype=str).tolist(),
        # Every side is "buy" or "sell" now, so the comparison has no missing values.
        "is_buy": side == "buy",
        "quantity_wh": quantity_wh,
        "price_usd_per_kwh": price,
        "sequence": sequence,
        "pool_index": pool_index,
    }


def _pool_index(pool: np.ndarray) -> np.ndarray:
    """Index into ``POOLS`` of each valid pool name."""
    index = np.zeros(len(pool), dtype=np.intp)
    for k, name in enumerate(POOLS[1:], start=1):
        index[pool == name] = k
    return index


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


def _whole_numbers(orders: pd.DataFrame, column: str) -> np.ndarray:
    """Return ``orders[column]`` as int64, or raise if any value is not a whole number."""
    values = orders[column]
    if pd.api.types.is_bool_dtype(values):
        raise ValueError(f"orders.{column}: got booleans, expected whole numbers")
    if pd.api.types.is_integer_dtype(values) and not values.hasnans:
        return values.to_numpy(dtype=np.int64)
    as_float = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        whole = np.isfinite(as_float) & (np.floor(as_float) == as_float)
    # Values beyond the int64 range cannot be represented exactly either.
    whole &= np.abs(np.where(whole, as_float, 0.0)) < 2.0**63
    if not whole.all():
        raise ValueError(
            f"orders.{column}: got {_offending(orders['order_id'], values, ~whole)}, "
            "expected whole numbers"
        )
    return as_float.astype(np.int64)


def _offending(order_id: pd.Series, values: pd.Series, bad: np.ndarray) -> str:
    """Describe the bad values as ``value for order_id 'x'``, listing the first few."""
    described = [
        f"{value!r} for order_id {identifier!r}"
        for identifier, value in zip(
            order_id.to_numpy()[bad][:_SHOWN_VALUES].tolist(),
            values.to_numpy()[bad][:_SHOWN_VALUES].tolist(),
            strict=True,
        )
    ]
    extra = int(bad.sum()) - len(described)
    return ", ".join(described) + (f" and {extra} more" if extra > 0 else "")


def _listed(values: np.ndarray) -> str:
    """List the first few of ``values``, summarising the rest."""
    shown = ", ".join(repr(value) for value in values[:_SHOWN_VALUES].tolist())
    extra = len(values) - _SHOWN_VALUES
    return f"[{shown}{f' and {extra} more' if extra > 0 else ''}]"
