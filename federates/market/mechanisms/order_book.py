"""Order book of one market interval: validated orders, ranked per pool and side (MicroTE).

T-REX's MicroTE market keeps one book per energy source type: energy from non-dispatchable
sources (PV) and from dispatchable ones (batteries) is traded in separate pools that never
match each other. This module checks an interval's orders and ranks them for the double
auction's walk (`federates.market.mechanisms.double_auction`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Energy pools of the MicroTE market: PV (non-dispatchable) and batteries (dispatchable).
POOLS = ("non_dispatchable", "dispatchable")
#: Pool of every order when ``orders`` has no ``pool`` column.
DEFAULT_POOL = "non_dispatchable"
SIDES = ("buy", "sell")
ORDER_COLUMNS = ("order_id", "participant", "side", "quantity_wh", "price_usd_per_kwh", "sequence")
#: Columns of a validated book: ``ORDER_COLUMNS`` and the pool.
BOOK_COLUMNS = (*ORDER_COLUMNS, "pool")

#: How many offending values an error message lists before it summarises the rest.
_SHOWN_VALUES = 5


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
    missing = [column for column in ORDER_COLUMNS if column not in orders.columns]
    if missing:
        raise ValueError(
            f"orders: missing column(s) {missing}, expected columns {list(ORDER_COLUMNS)}"
        )
    order_id = orders["order_id"]
    for column in ("order_id", "participant"):
        absent = orders[column].isna().to_numpy()
        if absent.any():
            raise ValueError(
                f"orders.{column}: missing value in {int(absent.sum())} row(s) (row positions "
                f"{_listed(np.flatnonzero(absent))}), expected a string"
            )
    book = pd.DataFrame(
        {
            "order_id": orders["order_id"].astype(str).to_numpy(dtype=object),
            "participant": orders["participant"].astype(str).to_numpy(dtype=object),
            "side": orders["side"].to_numpy(dtype=object),
        }
    )

    repeated = book["order_id"].duplicated(keep=False).to_numpy()
    if repeated.any():
        raise ValueError(
            f"orders.order_id: repeated value(s) {_listed(np.unique(book['order_id'][repeated]))},"
            " expected each order_id once"
        )

    unknown_side = ~book["side"].isin(SIDES).to_numpy()
    if unknown_side.any():
        raise ValueError(
            f"orders.side: got {_offending(order_id, orders['side'], unknown_side)}, "
            f"expected one of {SIDES}"
        )

    book["quantity_wh"] = _whole_numbers(orders, "quantity_wh")
    not_positive = book["quantity_wh"].to_numpy() <= 0
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
    book["price_usd_per_kwh"] = price

    book["sequence"] = _whole_numbers(orders, "sequence")

    if "pool" in orders.columns:
        pool = orders["pool"].to_numpy(dtype=object)
        unknown_pool = ~pd.Series(pool).isin(POOLS).to_numpy()
        if unknown_pool.any():
            raise ValueError(
                f"orders.pool: got {_offending(order_id, orders['pool'], unknown_pool)}, "
                f"expected one of {POOLS}"
            )
        book["pool"] = pool
    else:
        book["pool"] = DEFAULT_POOL
    return book[list(BOOK_COLUMNS)]


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
    keyed = book.assign(_pool_rank=book["pool"].map({pool: k for k, pool in enumerate(POOLS)}))
    is_buy = keyed["side"].to_numpy() == "buy"
    keys = ["_pool_rank", "price_usd_per_kwh", "sequence", "order_id"]
    bids = keyed[is_buy].sort_values(keys, ascending=[True, False, True, True])
    asks = keyed[~is_buy].sort_values(keys, ascending=[True, True, True, True])
    return (
        bids.drop(columns="_pool_rank").reset_index(drop=True),
        asks.drop(columns="_pool_rank").reset_index(drop=True),
    )


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
