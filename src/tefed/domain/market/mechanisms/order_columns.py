"""An interval's orders checked and read as the arrays the order book ranks.

`checked_columns` reads an orders table once: the usual table of plain columns (int
quantities and sequences, finite float prices, str identifiers) on a fast path over lists, any
other through pandas, which also writes every error message (the field, the offending values
with their order_id, what was expected). `tefed.domain.market.mechanisms.order_book` ranks what
it returns.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

# Energy pools of the MicroTE market: PV (non-dispatchable) and batteries (dispatchable).
from tefed.contract.messages import POOLS
from tefed.domain.market.frames import column_array, object_array

#: Pool of every order when ``orders`` has no ``pool`` column.
DEFAULT_POOL = "non_dispatchable"
SIDES = ("buy", "sell")
ORDER_COLUMNS = ("order_id", "participant", "side", "quantity_wh", "price_usd_per_kwh", "sequence")

#: How many offending values an error message lists before it summarises the rest.
_SHOWN_VALUES = 5
_SIDE_NAMES = frozenset(SIDES)
#: Each pool's index into ``POOLS``.
_POOL_POSITION = {name: position for position, name in enumerate(POOLS)}


def checked_columns(orders: pd.DataFrame) -> dict[str, Any]:
    """Check ``orders`` (see `validated_book`) and return what the ranking needs, as arrays.

    Keys: ``sorted_ids`` (every order_id, sorted: object array of str, or a pandas string
    array from the general checks), ``id_rank`` (each row's index
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
    """`checked_columns` of a valid book in canonical dtypes; None for any other book.

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
        "sorted_ids": object_array([order_id[row] for row in by_order_id]),
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
    """`checked_columns` of any table: checks each column and raises on the first problem."""
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
        pool_index = pool_positions(pool)
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


def pool_positions(pool: np.ndarray) -> np.ndarray:
    """Index into ``POOLS`` of each valid pool name."""
    index = np.zeros(len(pool), dtype=np.intp)
    for k, name in enumerate(POOLS[1:], start=1):
        index[pool == name] = k
    return index


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
