"""Checks of an interval's ledger against the settlement rules and the orders.

The market calls `check_payments` after settlement (trade payments cancel per pair of
participants and in total) and `check_market_balances` (a central counterparty's trades
balance); `check_ledger` runs the payment checks and the trade checks of
`tefed.domain.market.trade_checks`. Each returns one message per violation, empty when the
interval is sound; the rules themselves are in `tefed.domain.market.settlement`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from tefed.domain.market.frames import column_array, str_objects
from tefed.domain.market.ledger import column_lists
from tefed.domain.market.mechanisms.bilateral_negotiation import CHARGE_REASONS
from tefed.domain.market.settlement import VIOLATIONS_SHOWN
from tefed.domain.market.trade_checks import check_trades
from tefed.domain.market.trade_tables import MARKET

#: Ledger reasons whose rows come in pairs that cancel: trades, and charges with their mirror.
_PAIRED_REASONS = ("trade", *CHARGE_REASONS)
#: Payments between two participants must cancel within this [USD].
BALANCE_TOLERANCE_USD = 1e-9
#: The trade columns the market's balance is made of.
_BALANCED_COLUMNS = ("quantity_wh", "price_usd_per_kwh", "seller", "buyer")


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
          `tefed.domain.market.trade_checks.PRICE_TOLERANCE_USD_PER_KWH`),
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
    sells = column_array(trades, "seller", object) == MARKET
    buys = column_array(trades, "buyer", object) == MARKET
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
    participant = str_objects(ledger["participant"])[is_trade]
    counterparty = str_objects(ledger["counterparty"])[is_trade]
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
