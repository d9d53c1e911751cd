"""Checks of an interval's trades against its orders and the market's rules.

The market calls `check_trades` at gate closure, before any award goes out: no award above its
order, no trade outside its two limit prices, no trade mixing pools, no self-trade. It returns
one message per violation, empty when the trades are sound: the usual sound interval is decided
on plain lists (`_sound_trades`), any other by the checks that write the messages
(`_trade_violations`). `tefed.domain.market.ledger_checks` adds the payment checks.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

from tefed.domain.market.frames import positions, str_objects
from tefed.domain.market.ledger import column_lists
from tefed.domain.market.mechanisms.order_book import POOLS
from tefed.domain.market.mechanisms.order_columns import DEFAULT_POOL
from tefed.domain.market.settlement import VIOLATIONS_SHOWN, trade_pools

#: Slack allowed when comparing a trade price with a limit price [USD/kWh].
PRICE_TOLERANCE_USD_PER_KWH = 1e-12
#: Energy below which int64, uint64 and float64 arithmetic are all exact [Wh].
_EXACT_WH = 2**53
#: The trade column with each side's own limit price [USD/kWh].
_LIMIT_COLUMNS = {"buy": "bid_price_usd_per_kwh", "sell": "ask_price_usd_per_kwh"}


def check_trades(trades: pd.DataFrame, orders: pd.DataFrame) -> list[str]:
    """The trade part of `check_ledger`, which needs no delivery: awards within their orders'
    quantities and limit prices, pools never mixed (but for a non-dispatchable bid buying in the
    dispatchable pool), no self-trades, sides as ordered.

    Parameters and returned messages as for `check_ledger`.
    """
    if trades.empty or _sound_trades(trades, orders):
        return []
    return _trade_violations(trades, orders)


def _sound_trades(trades: pd.DataFrame, orders: pd.DataFrame) -> bool:
    """Whether `check_trades` finds no violation, decided row by row on lists.

    The common case, cheaply: each table read at once, no array built per check, no message.
    True only where `_trade_violations` returns none; False as well whenever a value is not of
    the plain kind the market's tables hold (str ids and pools, int quantities within
    ``2**53`` Wh, float prices): `_trade_violations` then decides, and raises on an unknown
    pool.
    """
    has_pool = "pool" in orders.columns
    order_columns = column_lists(
        orders,
        ("order_id", "side", "participant", "quantity_wh", "price_usd_per_kwh")
        + (("pool",) if has_pool else ()),
    )
    limit_columns = tuple(name for name in _LIMIT_COLUMNS.values() if name in trades.columns)
    pooled = "pool" in trades.columns
    trade_columns = column_lists(
        trades,
        ("quantity_wh", "price_usd_per_kwh", "buy_order_id", "sell_order_id", "buyer", "seller")
        + limit_columns
        + (("pool",) if pooled else ()),
    )
    if order_columns is None or trade_columns is None:
        return False
    order_ids, order_side, owner, allowed_wh, limit = order_columns[:5]
    order_pool = order_columns[5] if has_pool else [DEFAULT_POOL] * len(order_ids)
    quantity_wh, price, buy_ids, sell_ids, buyer, seller = trade_columns[:6]
    own_limits = dict(zip(limit_columns, trade_columns[6 : 6 + len(limit_columns)], strict=True))
    pool = trade_columns[-1] if pooled else None
    if not (
        all(type(name) is str for name in (*order_ids, *buy_ids, *sell_ids))
        and all(_exact_int(number) for number in (*allowed_wh, *quantity_wh))
        and all(type(number) is float for number in (*limit, *price))
        and all(type(number) is float for column in own_limits.values() for number in column)
        and (pool is None or all(type(name) is str and name in POOLS for name in pool))
    ):
        return False
    # What `positions` finds: the last order of an id.
    position = {order_id: k for k, order_id in enumerate(order_ids)}
    found = {
        "buy": [position.get(order_id, -1) for order_id in buy_ids],
        "sell": [position.get(order_id, -1) for order_id in sell_ids],
    }
    awarded_wh: dict[int, int] = {}
    for side, sign in (("buy", 1.0), ("sell", -1.0)):
        own_limit = own_limits.get(_LIMIT_COLUMNS[side])
        for trade, k in enumerate(found[side]):
            # The same float arithmetic and comparison as `_order_checks`, on one trade.
            if k >= 0:
                trade_limit = limit[k]
            else:
                trade_limit = math.nan if own_limit is None else own_limit[trade]
            if sign * (price[trade] - trade_limit) > PRICE_TOLERANCE_USD_PER_KWH:
                return False
            if k < 0:
                continue
            if order_side[k] != side:
                return False
            awarded_wh[k] = awarded_wh.get(k, 0) + quantity_wh[trade]
            # A non-dispatchable bid may buy in the dispatchable pool (the cascade).
            if (
                pool is not None
                and order_pool[k] != pool[trade]
                and not (
                    side == "buy" and order_pool[k] == DEFAULT_POOL and pool[trade] != DEFAULT_POOL
                )
            ):
                return False
    # Sums short of 2**53 Wh compare alike in int64, float64 and Python ints.
    if any(not _exact_int(awarded) or awarded > allowed_wh[k] for k, awarded in awarded_wh.items()):
        return False
    for trade, (buy, sell) in enumerate(zip(found["buy"], found["sell"], strict=True)):
        if buyer[trade] == seller[trade]:
            return False
        if buy < 0 or sell < 0:
            continue
        if order_pool[buy] != order_pool[sell] and not (
            order_pool[buy] == DEFAULT_POOL and order_pool[sell] != DEFAULT_POOL
        ):
            return False
        if owner[buy] == owner[sell]:
            return False
    return True


def _exact_int(number: object) -> bool:
    """Whether ``number`` is an int that numpy's int64, uint64 and float64 all hold exactly."""
    return type(number) is int and -_EXACT_WH < number < _EXACT_WH


def _trade_violations(trades: pd.DataFrame, orders: pd.DataFrame) -> list[str]:
    """`check_trades` of trades that are not empty: every violation's message."""
    order_ids = str_objects(orders["order_id"])
    # Each column of the orders with one missing value appended: position -1 (not an order of
    # ``orders``) takes it.
    known = {
        column: np.append(orders[column].to_numpy(dtype=dtype), missing)
        for column, dtype, missing in (
            ("side", object, None),
            ("participant", object, None),
            ("quantity_wh", None, 0),
            ("price_usd_per_kwh", np.float64, np.nan),
        )
    }
    known["pool"] = np.append(
        orders["pool"].to_numpy(dtype=object)
        if "pool" in orders.columns
        else np.full(len(orders), DEFAULT_POOL, dtype=object),
        None,
    )
    # Each trade column is read once; the order ids as given only to label a violation.
    traded = {
        "quantity_wh": trades["quantity_wh"].to_numpy(),
        "price_usd_per_kwh": trades["price_usd_per_kwh"].to_numpy(dtype=np.float64),
        "pool": trade_pools(trades) if "pool" in trades.columns else None,
    }

    def label(k: int) -> str:
        return (
            f"trade {k} ({trades['buy_order_id'].iloc[k]!r} from "
            f"{trades['sell_order_id'].iloc[k]!r})"
        )

    violations: list[str] = []
    sides = {}
    for side, id_column, limit_column in (
        ("buy", "buy_order_id", "bid_price_usd_per_kwh"),
        ("sell", "sell_order_id", "ask_price_usd_per_kwh"),
    ):
        own_limit = (
            trades[limit_column].to_numpy(dtype=np.float64)
            if limit_column in trades.columns
            else np.full(len(trades), np.nan)
        )
        messages, sides[side] = _order_checks(
            side, str_objects(trades[id_column]), own_limit, traded, order_ids, known, label
        )
        violations += messages
    found = sides["buy"]["found"] & sides["sell"]["found"]
    buy_pool, sell_pool = sides["buy"]["pool"], sides["sell"]["pool"]
    # A non-dispatchable bid may buy in the dispatchable pool too (the double auction's cascade).
    violations += _each(
        found
        & (buy_pool != sell_pool)
        & ~((buy_pool == DEFAULT_POOL) & (sell_pool != DEFAULT_POOL)),
        lambda k: (
            f"{label(k)}: buy order in pool {buy_pool[k]!r}, sell order in pool {sell_pool[k]!r}"
        ),
    )
    buyer = trades["buyer"].to_numpy(dtype=object)
    seller = trades["seller"].to_numpy(dtype=object)
    buy_owner, sell_owner = sides["buy"]["participant"], sides["sell"]["participant"]
    violations += _each(buyer == seller, lambda k: f"{label(k)}: self-trade of {buyer[k]!r}")
    violations += _each(
        found & (buyer != seller) & (buy_owner == sell_owner),
        lambda k: f"{label(k)}: self-trade, both orders are {buy_owner[k]!r}'s",
    )
    return violations


def _order_checks(
    side: str,
    order_id: np.ndarray,
    own_limit: np.ndarray,
    traded: dict[str, np.ndarray | None],
    order_ids: np.ndarray,
    known: dict[str, np.ndarray],
    label: Callable[[int], str],
) -> tuple[list[str], dict[str, np.ndarray]]:
    """Checks of one side of every trade against its order, and that order's facts.

    ``order_id`` and ``own_limit`` [USD/kWh] are each trade's order and limit price of this
    side, ``traded`` its ``quantity_wh`` [Wh], ``price_usd_per_kwh`` and ``pool`` (or None).
    ``known`` holds the orders' columns (in the order of ``order_ids``) with a missing value
    appended, which the trades whose order is not in ``order_ids`` take.
    """
    position = positions(order_ids, order_id)
    found = position >= 0
    order_side = known["side"][position]
    messages = _each(
        found & (order_side != side),
        lambda k: f"{label(k)}: its {side} order {order_id[k]!r} is a {order_side[k]} order",
    )
    quantity_wh = traded["quantity_wh"]
    awarded_wh = np.zeros(len(order_ids), dtype=quantity_wh.dtype)
    np.add.at(awarded_wh, position[found], quantity_wh[found])
    awarded = np.zeros(len(order_ids), dtype=bool)
    awarded[position[found]] = True
    allowed_wh = known["quantity_wh"][:-1]
    over = np.flatnonzero(awarded & (awarded_wh > allowed_wh))
    # Listed by order id, as a table grouped by order id lists them.
    over = over[np.argsort(order_ids[over], kind="stable")]
    messages += [
        f"order {order_ids[k]!r} is awarded {int(awarded_wh[k])} Wh, more than its "
        f"{int(allowed_wh[k])} Wh"
        for k in over[:VIOLATIONS_SHOWN]
    ]
    if len(over) > VIOLATIONS_SHOWN:
        messages.append(
            f"... and {len(over) - VIOLATIONS_SHOWN} more orders awarded more than ordered"
        )
    limit = np.where(found, known["price_usd_per_kwh"][position], own_limit)
    price = traded["price_usd_per_kwh"]
    sign, word, whose = (1.0, "above", "bid") if side == "buy" else (-1.0, "below", "ask")
    with np.errstate(invalid="ignore"):
        outside = sign * (price - limit) > PRICE_TOLERANCE_USD_PER_KWH
    messages += _each(
        outside,
        lambda k: (
            f"{label(k)}: price {price[k]:.12g} USD/kWh {word} the {whose}'s limit {limit[k]:.12g}"
        ),
    )
    pool = known["pool"][position]
    trade_pool = traded["pool"]
    if trade_pool is not None:
        crossed = (pool == DEFAULT_POOL) & (trade_pool != DEFAULT_POOL) if side == "buy" else False
        messages += _each(
            found & (pool != trade_pool) & ~crossed,
            lambda k: (
                f"{label(k)}: pool {trade_pool[k]!r} but its {side} order is in pool {pool[k]!r}"
            ),
        )
    return messages, {"found": found, "pool": pool, "participant": known["participant"][position]}


def _each(flagged: np.ndarray, describe: Callable[[int], str]) -> list[str]:
    """``describe(k)`` for the first few flagged trades ``k``, then a count of the rest."""
    positions = np.flatnonzero(flagged)
    messages = [describe(int(k)) for k in positions[:VIOLATIONS_SHOWN]]
    if positions.size > VIOLATIONS_SHOWN:
        messages.append(f"... and {positions.size - VIOLATIONS_SHOWN} more such trades")
    return messages
