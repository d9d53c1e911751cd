"""Checks of an interval's trades and ledger against the settlement rules and the orders.

The market calls `check_trades` at gate closure, before any award goes out (no award above its
order, no trade outside its two limit prices, no trade mixing pools, no self-trade), and
`check_payments` after settlement (trade payments cancel per pair of participants and in
total). `check_ledger` runs both. Each returns one message per violation, empty when the
interval is sound; the rules themselves are in `tefed.domain.market.settlement`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

from tefed.domain.market.frames import positions
from tefed.domain.market.ledger import column_lists
from tefed.domain.market.mechanisms.bilateral_negotiation import CHARGE_REASONS
from tefed.domain.market.mechanisms.order_book import POOLS
from tefed.domain.market.mechanisms.order_columns import DEFAULT_POOL
from tefed.domain.market.settlement import VIOLATIONS_SHOWN, trade_pools
from tefed.domain.market.trade_tables import MARKET

#: Ledger reasons whose rows come in pairs that cancel: trades, and charges with their mirror.
_PAIRED_REASONS = ("trade", *CHARGE_REASONS)
#: Payments between two participants must cancel within this [USD].
BALANCE_TOLERANCE_USD = 1e-9
#: Slack allowed when comparing a trade price with a limit price [USD/kWh].
PRICE_TOLERANCE_USD_PER_KWH = 1e-12
#: Energy below which int64, uint64 and float64 arithmetic are all exact [Wh].
_EXACT_WH = 2**53
#: The trade columns the market's balance is made of.
_BALANCED_COLUMNS = ("quantity_wh", "price_usd_per_kwh", "seller", "buyer")
#: The trade column with each side's own limit price [USD/kWh].
_LIMIT_COLUMNS = {"buy": "bid_price_usd_per_kwh", "sell": "ask_price_usd_per_kwh"}


def check_ledger(ledger: pd.DataFrame, trades: pd.DataFrame, orders: pd.DataFrame) -> list[str]:
    """Check one interval's ledger and trades against the market's invariants.

    Parameters
    ----------
    ledger : pandas.DataFrame
        The interval's ledger as from `settle_interval` (``participant``, ``counterparty``,
        ``pool``, ``amount_usd`` [USD], ``reason``).
    trades : pandas.DataFrame
        The interval's trades: ``buy_order_id``, ``sell_order_id``, ``buyer``, ``seller``,
        ``quantity_wh`` [Wh], ``price_usd_per_kwh`` [USD/kWh], optionally ``pool`` and the
        limit prices ``bid_price_usd_per_kwh``, ``ask_price_usd_per_kwh`` [USD/kWh].
    orders : pandas.DataFrame
        The interval's orders: ``order_id``, ``participant``, ``side``, ``quantity_wh`` [Wh],
        ``price_usd_per_kwh`` [USD/kWh], optionally ``pool`` (default
        ``"non_dispatchable"``).

    Returns
    -------
    list of str
        One message per violation (at most five per kind, then a count); empty if none:

        - trade payments between two participants in a pool that do not cancel within
          ``BALANCE_TOLERANCE_USD`` (and the total, if it does not cancel either),
        - an order awarded more than its quantity,
        - a trade priced above its bid's or below its ask's limit price (beyond
          ``PRICE_TOLERANCE_USD_PER_KWH``),
        - a trade between orders of different pools, or whose ``pool`` is not its orders'
          (except a non-dispatchable bid buying in the dispatchable pool, where the double
          auction's cascade takes it),
        - a self-trade (same buyer and seller, or both orders of one participant),
        - a trade whose order id names an order of the wrong side.

    Notes
    -----
    Order checks apply to the trade sides whose order id is in ``orders``. A side without an
    order there (a central counterparty with an empty id, or an order kind not passed in, such
    as a curve) is checked against the limit price the trade itself records, when finite.

    Examples
    --------
    >>> from tefed.domain.market.settlement import settle_interval
    >>> orders = pd.DataFrame({"order_id": ["b1", "s1"], "participant": ["a", "b"],
    ...                        "side": ["buy", "sell"], "quantity_wh": [100, 100],
    ...                        "price_usd_per_kwh": [0.20, 0.10]})
    >>> trades = pd.DataFrame({"buy_order_id": ["b1"], "sell_order_id": ["s1"],
    ...                        "buyer": ["a"], "seller": ["b"], "quantity_wh": [100],
    ...                        "price_usd_per_kwh": [0.25]})
    >>> ledger = settle_interval(pd.Series({"a": 100.0, "b": -100.0}), trades, 0.3, 0.05)
    >>> check_ledger(ledger, trades, orders)
    ["trade 0 ('b1' from 's1'): price 0.25 USD/kWh above the bid's limit 0.2"]
    """
    return check_payments(ledger) + check_trades(trades, orders)


def check_payments(ledger: pd.DataFrame) -> list[str]:
    """The payment part of `check_ledger`: trade payments of each pair of participants in a
    pool cancel, and so does their total (within ``BALANCE_TOLERANCE_USD``); fees and
    penalties (``CHARGE_REASONS``) count with the trades, each cancelled by its mirror row."""
    return _unbalanced_payments(ledger)


def check_market_balances(trades: pd.DataFrame) -> list[str]:
    """The central counterparty's books balance: the ``market`` buys as much energy as it
    sells, and pays as much as it is paid (within ``BALANCE_TOLERANCE_USD``), over an
    interval's trades of every market (day-ahead commitments and real-time changes alike).

    Parameters
    ----------
    trades : pandas.DataFrame
        An interval's trades: ``buyer``, ``seller``, ``quantity_wh`` [Wh],
        ``price_usd_per_kwh`` [USD/kWh].

    Returns
    -------
    list of str
        A message per imbalance; empty if none (or the market trades in none of them).

    Examples
    --------
    The market sells 500 Wh at 0.10 to a and buys them from the grid at 0.10:

    >>> trades = pd.DataFrame({"buyer": ["a", "market"], "seller": ["market", "grid"],
    ...     "quantity_wh": [500, 500], "price_usd_per_kwh": [0.10, 0.10]})
    >>> check_market_balances(trades)
    []
    """
    if len(trades) == 0 and all(name in trades.columns for name in _BALANCED_COLUMNS):
        # An interval without trades (common at night) balances.
        return []
    sells = trades["seller"].to_numpy(dtype=object) == MARKET
    buys = trades["buyer"].to_numpy(dtype=object) == MARKET
    if not (sells.any() or buys.any()) and {"quantity_wh", "price_usd_per_kwh"}.issubset(
        trades.columns
    ):
        # Most mechanisms have no central counterparty: nothing to balance, no column to read.
        return []
    quantity_wh = trades["quantity_wh"].to_numpy(dtype=np.float64)
    amount_usd = quantity_wh / 1000.0 * trades["price_usd_per_kwh"].to_numpy(dtype=np.float64)
    energy_wh = quantity_wh[buys].sum() - quantity_wh[sells].sum()
    money_usd = amount_usd[sells].sum() - amount_usd[buys].sum()
    violations = []
    if energy_wh != 0:
        violations.append(
            f"the market bought {quantity_wh[buys].sum():.0f} Wh and sold "
            f"{quantity_wh[sells].sum():.0f} Wh, expected equal energy"
        )
    if abs(money_usd) > BALANCE_TOLERANCE_USD:
        violations.append(f"the market's trade payments leave it {money_usd:.12g} USD, expected 0")
    return violations


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
    order_ids = _as_str(orders["order_id"])
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
            side, _as_str(trades[id_column]), own_limit, traded, order_ids, known, label
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


def _unbalanced_payments(ledger: pd.DataFrame) -> list[str]:
    """Messages for trade payments that do not cancel, per participant pair and pool and total."""
    columns = column_lists(ledger, ("reason", "participant", "counterparty", "pool", "amount_usd"))
    if columns is not None:
        reason, participant, counterparty, pool, amount_usd = columns
        # Fees and penalties paid to the market cancel with its mirror rows, as trades do. For
        # str reasons and missing ones (None, NaN), `in` is `numpy.isin`'s equality.
        plain = all(type(why) is str or why is None or type(why) is float for why in reason)
        rows = [row for row, why in enumerate(reason) if why in _PAIRED_REASONS] if plain else []
        if plain and not rows:
            # An interval without trades or charges (common at night): nothing to cancel.
            return []
        if rows:
            participant = [participant[row] for row in rows]
            counterparty = [counterparty[row] for row in rows]
            pool = [pool[row] for row in rows]
            amount_usd = [amount_usd[row] for row in rows]
            if all(type(name) is str for name in (*participant, *counterparty, *pool)) and all(
                type(amount) is float for amount in amount_usd
            ):
                return _unbalanced_named_payments(participant, counterparty, pool, amount_usd)
    return _unbalanced_payments_of_any_names(ledger)


def _unbalanced_named_payments(
    participant: list[str], counterparty: list[str], pool: list[str], amount_usd: list[float]
) -> list[str]:
    """`_unbalanced_payments` of trade rows whose names and pools are all ``str``.

    A dict per pair and pool, summing in row order: for the few dozen rows of an interval,
    factorizing with pandas costs more. The sums are `numpy.bincount`'s (one addition per row,
    in row order, from 0.0), the total `numpy.sum`'s of the same array.
    """
    # Missing amounts count as nothing, as in a table's sum.
    amount_usd = [0.0 if math.isnan(amount) else amount for amount in amount_usd]
    net_usd: dict[tuple[str, str, str], float] = {}
    for first, second, in_pool, amount in zip(
        participant, counterparty, pool, amount_usd, strict=True
    ):
        # The lesser name first, as `numpy.minimum` orders two str.
        key = (first, second, in_pool) if first <= second else (second, first, in_pool)
        net_usd[key] = net_usd.get(key, 0.0) + amount
    off = sorted(key for key, net in net_usd.items() if abs(net) > BALANCE_TOLERANCE_USD)
    messages = [
        f"trade payments between {lesser!r} and {greater!r} in pool {in_pool!r} "
        f"do not cancel: they sum to {net_usd[lesser, greater, in_pool]:.12g} USD"
        for lesser, greater, in_pool in off[:VIOLATIONS_SHOWN]
    ]
    if len(off) > VIOLATIONS_SHOWN:
        messages.append(
            f"... and {len(off) - VIOLATIONS_SHOWN} more pairs whose trade payments do not cancel"
        )
    # numpy's sum of the same array: its pairwise summation, not one addition after another.
    total = float(np.array(amount_usd, dtype=np.float64).sum())
    if abs(total) > BALANCE_TOLERANCE_USD:
        messages.append(f"trade payments do not cancel: they sum to {total:.12g} USD, expected 0")
    return messages


def _unbalanced_payments_of_any_names(ledger: pd.DataFrame) -> list[str]:
    """`_unbalanced_payments` of any ledger: names not ``str`` are taken as ``str``, rows
    missing a name or pool belong to no pair (but count in the total)."""
    is_trade = np.isin(ledger["reason"].to_numpy(dtype=object), _PAIRED_REASONS)
    participant = _as_str(ledger["participant"])[is_trade]
    counterparty = _as_str(ledger["counterparty"])[is_trade]
    amount_usd = ledger["amount_usd"].to_numpy(dtype=np.float64)[is_trade]
    # One group per pair of participants (the lesser name first) and pool; rows missing a key
    # belong to none. Groups are found by hashing; only those reported are sorted, by key.
    keys = (
        np.minimum(participant, counterparty),
        np.maximum(participant, counterparty),
        ledger["pool"].to_numpy(dtype=object)[is_trade],
    )
    code = np.zeros(amount_usd.size, dtype=np.int64)
    keyed = np.ones(amount_usd.size, dtype=bool)
    for values in keys:
        inverse, distinct = pd.factorize(values)
        code = code * len(distinct) + inverse
        keyed &= inverse >= 0
    group, groups = pd.factorize(code[keyed])
    # Missing amounts count as nothing, as in a table's sum.
    amount_usd = np.where(np.isnan(amount_usd), 0.0, amount_usd)
    net_usd = np.bincount(group, weights=amount_usd[keyed], minlength=len(groups))
    first_row = np.flatnonzero(keyed)[np.unique(group, return_index=True)[1]]
    off = sorted(
        np.flatnonzero(np.abs(net_usd) > BALANCE_TOLERANCE_USD).tolist(),
        key=lambda g: tuple(values[first_row[g]] for values in keys),
    )
    messages = [
        f"trade payments between {keys[0][row]!r} and {keys[1][row]!r} in pool {keys[2][row]!r} "
        f"do not cancel: they sum to {net_usd[k]:.12g} USD"
        for k, row in zip(off[:VIOLATIONS_SHOWN], first_row[off[:VIOLATIONS_SHOWN]], strict=True)
    ]
    if len(off) > VIOLATIONS_SHOWN:
        messages.append(
            f"... and {len(off) - VIOLATIONS_SHOWN} more pairs whose trade payments do not cancel"
        )
    total = float(amount_usd.sum())
    if abs(total) > BALANCE_TOLERANCE_USD:
        messages.append(f"trade payments do not cancel: they sum to {total:.12g} USD, expected 0")
    return messages


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


def _as_str(column: pd.Series) -> np.ndarray:
    """``column.astype(str)`` as an object array; a column of str only is taken as it is."""
    values = column.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(values, skipna=False) in ("string", "empty"):
        return values
    return column.astype(str).to_numpy(dtype=object)


def _each(flagged: np.ndarray, describe: Callable[[int], str]) -> list[str]:
    """``describe(k)`` for the first few flagged trades ``k``, then a count of the rest."""
    positions = np.flatnonzero(flagged)
    messages = [describe(int(k)) for k in positions[:VIOLATIONS_SHOWN]]
    if positions.size > VIOLATIONS_SHOWN:
        messages.append(f"... and {positions.size - VIOLATIONS_SHOWN} more such trades")
    return messages
