"""MicroTE double auction: pairwise matching of sorted bids and asks (T-REX)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

SETTLEMENT_RULES = ("midpoint", "pay_as_bid", "pay_as_ask")

ORDER_COLUMNS = ("order_id", "participant", "side", "quantity_wh", "price_usd_per_kwh", "sequence")
SIDES = ("buy", "sell")
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

#: How many offending values an error message lists before it summarises the rest.
_SHOWN_VALUES = 5


@dataclass(frozen=True, eq=False)
class AuctionResult:
    """Outcome of one double auction.

    Attributes
    ----------
    trades : pandas.DataFrame
        One row per matched (bid, ask) pair in matching order, columns ``buy_order_id``,
        ``sell_order_id``, ``buyer``, ``seller``, ``quantity_wh`` (int64) [Wh],
        ``price_usd_per_kwh`` (settled price) [USD/kWh], ``bid_price_usd_per_kwh`` and
        ``ask_price_usd_per_kwh`` (the two limit prices) [USD/kWh].
    filled_wh : pandas.Series
        Awarded quantity per order [Wh], int64, indexed by ``order_id`` in sorted order; every
        input order is present, 0 where it was not filled.
    status : str
        ``"cleared"`` (at least one trade), ``"no_crossing"`` (both sides present, no trade),
        ``"one_sided"`` (only bids or only asks) or ``"empty"`` (no orders).
    """

    trades: pd.DataFrame
    filled_wh: pd.Series
    status: str

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


def clear_double_auction(orders: pd.DataFrame, settlement_rule: str = "midpoint") -> AuctionResult:
    """Clear one market interval with the MicroTE pairwise double auction.

    Parameters
    ----------
    orders : pandas.DataFrame
        One row per order with columns ``order_id`` (str, unique), ``participant`` (str),
        ``side`` (``"buy"`` or ``"sell"``), ``quantity_wh`` (whole number > 0) [Wh],
        ``price_usd_per_kwh`` (finite limit price, may be negative) [USD/kWh] and ``sequence``
        (integer submission order, lower is earlier) [-]. Row order does not matter.
    settlement_rule : str
        How a matched pair is priced: ``"midpoint"`` (default), ``"pay_as_bid"`` or
        ``"pay_as_ask"``.

    Returns
    -------
    AuctionResult
        The trades [Wh, USD/kWh], the filled quantity of every order [Wh] and the book status.

    Raises
    ------
    ValueError
        If a column is missing, a side is unknown, a quantity is not a positive whole number, a
        price is not finite, a sequence is not a whole number, an order_id or participant is
        missing, an order_id is repeated, or ``settlement_rule`` is not one of
        ``SETTLEMENT_RULES``.

    Notes
    -----
    The rule is the MicroTE double auction of the T-REX simulator:

    1. Bids (``buy``) are ranked by limit price from high to low, asks (``sell``) from low to
       high; equal prices are ranked by ``sequence`` (earlier first), then by ``order_id``, so
       the ranking is total and the result does not depend on the row order of ``orders``.
    2. The best remaining bid is matched with the best remaining ask while the bid price is at
       least the ask price. The pair trades :math:`q = \\min(q_b, q_a)` whole Wh; whichever order
       has quantity left stays at the head of its side for the next pair.
    3. A participant never trades with itself: when the best remaining ask belongs to the
       bidder, the bid is matched with the best remaining ask of another participant, still only
       if that ask's price is at most the bid price. The skipped ask keeps its rank and remains
       available to later bids. A bid that finds no such ask is left (partly) unfilled and the
       walk continues with the next bid, because its own asks may suit the next bidder.
    4. Each pair is settled at :math:`p = (p_b + p_a)/2` for ``"midpoint"`` (the rule of the
       paper), at :math:`p = p_b` for ``"pay_as_bid"`` and at :math:`p = p_a` for
       ``"pay_as_ask"``. Every trade therefore satisfies :math:`p_a \\le p \\le p_b`.

    Matching is sequential by nature (each pair depends on the quantities left by the previous
    ones), so the walk loops over bids and matched pairs; ranking, validation and the result
    tables are array operations.

    References
    ----------
    .. [1] D. Zhang, H. Gül, P. Musilek, "T-REX: a transactive energy market simulator".

    Examples
    --------
    Two bids and one ask: the 0.30 bid is served first, the 0.20 bid takes the remaining
    100 Wh, each at the midpoint of its pair: (0.30 + 0.10)/2 = 0.20 and (0.20 + 0.10)/2 = 0.15.

    >>> orders = pd.DataFrame({
    ...     "order_id": ["b1", "b2", "s1"],
    ...     "participant": ["h01", "h02", "h03"],
    ...     "side": ["buy", "buy", "sell"],
    ...     "quantity_wh": [300, 200, 400],
    ...     "price_usd_per_kwh": [0.30, 0.20, 0.10],
    ...     "sequence": [0, 1, 2],
    ... })
    >>> result = clear_double_auction(orders)
    >>> result.trades[["buy_order_id", "quantity_wh", "price_usd_per_kwh"]]
      buy_order_id  quantity_wh  price_usd_per_kwh
    0           b1          300               0.20
    1           b2          100               0.15
    >>> result.filled_wh.to_dict()
    {'b1': 300, 'b2': 100, 's1': 400}
    >>> result.status, result.traded_energy_wh
    ('cleared', 400)
    """
    if settlement_rule not in SETTLEMENT_RULES:
        raise ValueError(
            f"settlement_rule: got {settlement_rule!r}, expected one of {SETTLEMENT_RULES}"
        )
    book = _validated_book(orders)

    is_buy = book["side"].to_numpy() == "buy"
    bids = book[is_buy].sort_values(
        ["price_usd_per_kwh", "sequence", "order_id"], ascending=[False, True, True]
    )
    asks = book[~is_buy].sort_values(
        ["price_usd_per_kwh", "sequence", "order_id"], ascending=[True, True, True]
    )

    # Integer participant codes shared by both sides make the self-trade test an array compare.
    participant_code, _ = pd.factorize(pd.concat([bids["participant"], asks["participant"]]))
    bid_code, ask_code = participant_code[: len(bids)], participant_code[len(bids) :]
    bid_price = bids["price_usd_per_kwh"].to_numpy(dtype=np.float64)
    ask_price = asks["price_usd_per_kwh"].to_numpy(dtype=np.float64)
    bid_left_wh = bids["quantity_wh"].to_numpy(dtype=np.int64).copy()
    ask_left_wh = asks["quantity_wh"].to_numpy(dtype=np.int64).copy()

    pair_bid, pair_ask, pair_wh = _match(
        bid_price, ask_price, bid_code, ask_code, bid_left_wh, ask_left_wh
    )

    trades = _trades_table(bids, asks, pair_bid, pair_ask, pair_wh, settlement_rule)
    filled_wh = pd.Series(
        np.concatenate(
            [
                bids["quantity_wh"].to_numpy() - bid_left_wh,
                asks["quantity_wh"].to_numpy() - ask_left_wh,
            ]
        ).astype(np.int64),
        index=pd.Index(
            np.concatenate([bids["order_id"].to_numpy(), asks["order_id"].to_numpy()]),
            dtype=str,
            name="order_id",
        ),
        name="filled_wh",
    ).sort_index()

    if book.empty:
        status = "empty"
    elif bids.empty or asks.empty:
        status = "one_sided"
    elif trades.empty:
        status = "no_crossing"
    else:
        status = "cleared"
    return AuctionResult(trades=trades, filled_wh=filled_wh, status=status)


def _match(
    bid_price: np.ndarray,
    ask_price: np.ndarray,
    bid_code: np.ndarray,
    ask_code: np.ndarray,
    bid_left_wh: np.ndarray,
    ask_left_wh: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Walk the ranked book; return (bid index, ask index, quantity [Wh]) of each matched pair.

    ``bid_left_wh`` and ``ask_left_wh`` are consumed in place and hold the unfilled remainders
    afterwards [Wh].
    """
    pair_bid: list[int] = []
    pair_ask: list[int] = []
    pair_wh: list[int] = []
    # Asks are ranked by ascending price, so those a bid may take are a prefix of the ranking.
    crossing_asks = np.searchsorted(ask_price, bid_price, side="right")
    for bid in range(bid_price.size):
        open_asks = ask_left_wh[: crossing_asks[bid]] > 0
        if not open_asks.any():
            # Later bids are cheaper, so they cross no more asks than this one.
            break
        candidates = np.flatnonzero(open_asks & (ask_code[: crossing_asks[bid]] != bid_code[bid]))
        for ask in candidates:
            quantity_wh = min(bid_left_wh[bid], ask_left_wh[ask])
            bid_left_wh[bid] -= quantity_wh
            ask_left_wh[ask] -= quantity_wh
            pair_bid.append(bid)
            pair_ask.append(int(ask))
            pair_wh.append(int(quantity_wh))
            if bid_left_wh[bid] == 0:
                break
    return (
        np.asarray(pair_bid, dtype=np.intp),
        np.asarray(pair_ask, dtype=np.intp),
        np.asarray(pair_wh, dtype=np.int64),
    )


def _trades_table(
    bids: pd.DataFrame,
    asks: pd.DataFrame,
    pair_bid: np.ndarray,
    pair_ask: np.ndarray,
    pair_wh: np.ndarray,
    settlement_rule: str,
) -> pd.DataFrame:
    """Build the trades table [Wh, USD/kWh] from matched index pairs into the ranked sides."""
    bid_price = bids["price_usd_per_kwh"].to_numpy(dtype=np.float64)[pair_bid]
    ask_price = asks["price_usd_per_kwh"].to_numpy(dtype=np.float64)[pair_ask]
    if settlement_rule == "midpoint":
        price = (bid_price + ask_price) / 2.0
    elif settlement_rule == "pay_as_bid":
        price = bid_price
    else:
        price = ask_price
    return pd.DataFrame(
        {
            "buy_order_id": pd.Series(bids["order_id"].to_numpy()[pair_bid], dtype=str),
            "sell_order_id": pd.Series(asks["order_id"].to_numpy()[pair_ask], dtype=str),
            "buyer": pd.Series(bids["participant"].to_numpy()[pair_bid], dtype=str),
            "seller": pd.Series(asks["participant"].to_numpy()[pair_ask], dtype=str),
            "quantity_wh": pd.Series(pair_wh, dtype=np.int64),
            "price_usd_per_kwh": pd.Series(price, dtype=np.float64),
            "bid_price_usd_per_kwh": pd.Series(bid_price, dtype=np.float64),
            "ask_price_usd_per_kwh": pd.Series(ask_price, dtype=np.float64),
        },
        columns=list(TRADE_COLUMNS),
    )


def _validated_book(orders: pd.DataFrame) -> pd.DataFrame:
    """Check ``orders`` and return a copy with canonical dtypes (str ids, int64 Wh, float price)."""
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
    return book


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
