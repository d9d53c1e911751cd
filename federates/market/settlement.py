"""Settlement of delivered energy against market awards under MicroTE's delivery rules.

After delivery interval ``k``, each participant's metered net energy ``E`` (import positive) is
compared with its awarded net energy ``A = Σ bought − Σ sold``. Awards are paid at their trade
prices between the two participants; the deviation ``D = E − A`` is settled with the grid at
the net-billing prices, labelled by T-REX's delivery rules (MicroTE): a seller that delivered
less than it sold buys the shortfall from the grid at the import price (its buyers still get
their energy), a buyer that used less than it bought still pays its trades and the unused
energy is credited at the export price, and what remains is plain grid import or export.

Every payment is one ledger row; ``amount_usd`` is positive when the participant pays. Trade rows
come in pairs that cancel, so the participants' payments sum to the grid's net revenue.
`check_ledger` checks an interval's ledger and trades against these rules and the orders.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from federates.market.frames import typed_frame
from federates.market.mechanisms.order_book import DEFAULT_POOL, POOLS
from federates.market.trade_tables import GRID

#: Ledger row reasons, in the order a participant's delivery rows are listed.
REASONS = ("trade", "shortfall", "unused", "grid_import", "grid_export")
#: Payments between two participants must cancel within this [USD].
BALANCE_TOLERANCE_USD = 1e-9
#: Slack allowed when comparing a trade price with a limit price [USD/kWh].
PRICE_TOLERANCE_USD_PER_KWH = 1e-12

LEDGER_COLUMNS = {
    "participant": "object",
    "counterparty": "object",
    "pool": "object",
    "side": "object",
    "energy_wh": "float64",
    "price_usd_per_kwh": "float64",
    "amount_usd": "float64",
    "reason": "object",
}

#: How many violations of one kind `check_ledger` lists before it summarises the rest.
_SHOWN = 5

_SIDES = np.array(["buy", "sell"], dtype=object)
#: Pool, side and reason of each delivery row kind (the columns of ``energy`` in
#: `settle_interval`): shortfall per pool, unused per pool, grid import, grid export.
_KIND_POOL = np.array([*POOLS, *POOLS, "", ""], dtype=object)
_KIND_SIDE = np.array(["buy"] * len(POOLS) + ["sell"] * len(POOLS) + ["buy", "sell"], dtype=object)
_KIND_REASON = np.array(
    ["shortfall"] * len(POOLS) + ["unused"] * len(POOLS) + ["grid_import", "grid_export"],
    dtype=object,
)


def settle_interval(
    energy_wh: pd.Series,
    trades: pd.DataFrame,
    import_price_usd_per_kwh: float,
    export_price_usd_per_kwh: float,
) -> pd.DataFrame:
    """Ledger rows that pay for one interval's metered energy.

    Parameters
    ----------
    energy_wh : pandas.Series
        Metered net energy of each participant in the interval [Wh], import positive, indexed by
        participant. Every participant appears, also those without awards.
    trades : pandas.DataFrame
        The interval's trades: ``buyer``, ``seller``, ``quantity_wh`` [Wh],
        ``price_usd_per_kwh`` [USD/kWh] and optionally ``pool`` (one of ``POOLS``, default
        ``"non_dispatchable"``), as from ``clear_double_auction``.
    import_price_usd_per_kwh : float
        Net-billing price of energy drawn from the grid [USD/kWh].
    export_price_usd_per_kwh : float
        Net-billing price of energy fed into the grid [USD/kWh].

    Returns
    -------
    pandas.DataFrame
        Columns ``LEDGER_COLUMNS``: ``participant``, ``counterparty`` (another participant or
        ``"grid"``), ``pool`` (the trade's pool; ``""`` for grid rows not tied to a trade),
        ``side`` (``"buy"``/``"sell"``: the participant's side of the row; a grid row is
        ``"buy"`` when the participant takes energy from the grid), ``energy_wh`` (energy the
        participant receives, negative when it delivers) [Wh], ``price_usd_per_kwh``,
        ``amount_usd`` (positive: the participant pays) [USD] and ``reason`` (``REASONS``).
        Trade rows come first (buyers', then sellers'), then each participant's delivery rows
        in the order of ``energy_wh`` and of ``REASONS``.

    Raises
    ------
    ValueError
        If a trade's pool is not one of ``POOLS`` or a metered energy is not finite.

    Notes
    -----
    Per participant, with :math:`S_k` its sold and :math:`B_k` its bought awards in pool
    :math:`k`, :math:`S = \\sum_k S_k`, :math:`B = \\sum_k B_k` and :math:`D = E - (B - S)`:

    - ``trade``: one row per trade and side, :math:`\\pm q` at the trade price.
    - ``shortfall`` (:math:`D > 0`): :math:`\\min(D, S)` Wh the participant sold but did not
      deliver; it buys them from the grid at the import price, so it compensates its buyers at
      net-metering prices while they keep their traded energy.
    - ``grid_import``: the rest of a positive deviation, :math:`D - \\min(D, S)`, at the
      import price.
    - ``unused`` (:math:`D < 0`): :math:`\\min(-D, B)` Wh the participant bought but did not
      use; it paid the trade, the energy flows to the grid and is credited at the export price.
    - ``grid_export``: the rest of a negative deviation at the export price.

    A participant with both sold and bought awards is read the same way: only its net energy
    is metered, so a positive deviation is first its own sales falling short (up to :math:`S`)
    and a negative one first its own purchases left unused (up to :math:`B`). Shortfall and
    unused energy are split over pools in ``POOLS`` order (non-dispatchable first, up to
    :math:`S_k` or :math:`B_k`): T-REX settles dispatchable (battery) deliveries before
    non-dispatchable (PV) ones, so delivered energy counts against battery awards first.
    Shortfall and grid import share the import price, unused and grid export the export price,
    so each participant's grid payments are the net billing of :math:`D`; the rules only
    label them. A trade counterparty missing from ``energy_wh`` (a central counterparty) has
    trade rows only.

    References
    ----------
    .. [1] D. Zhang, H. Gül, P. Musilek, "T-REX: a transactive energy market simulator",
       https://github.com/trex-ai/TREX-Core (MicroTE ``__process_energy_exchange``).

    Examples
    --------
    Household a bought 1000 Wh from b at 0.10 USD/kWh and used 800 Wh; b delivered 900 Wh:

    >>> energy = pd.Series({"a": 800.0, "b": -900.0})
    >>> trades = pd.DataFrame({"buyer": ["a"], "seller": ["b"], "quantity_wh": [1000],
    ...                        "price_usd_per_kwh": [0.10]})
    >>> ledger = settle_interval(energy, trades, 0.15, 0.05)
    >>> ledger[["participant", "side", "energy_wh", "amount_usd", "reason"]].round(4)
      participant  side  energy_wh  amount_usd     reason
    0           a   buy     1000.0       0.100      trade
    1           b  sell    -1000.0      -0.100      trade
    2           a  sell     -200.0      -0.010     unused
    3           b   buy      100.0       0.015  shortfall

    a pays 0.10 for the trade and gets 200 Wh × 0.05 = 0.01 back; b receives 0.10 and pays
    100 Wh × 0.15 = 0.015 for the shortfall.
    """
    pool = _trade_pools(trades)
    metered_wh = energy_wh.to_numpy(dtype=np.float64)
    not_finite = ~np.isfinite(metered_wh)
    if not_finite.any():
        raise ValueError(
            f"energy_wh: got {metered_wh[not_finite][:_SHOWN].tolist()} for participant(s) "
            f"{energy_wh.index[not_finite][:_SHOWN].tolist()}, expected finite numbers [Wh]"
        )
    buyer = trades["buyer"].to_numpy(dtype=object)
    seller = trades["seller"].to_numpy(dtype=object)
    quantity_wh = trades["quantity_wh"].to_numpy(dtype=np.float64)
    price = trades["price_usd_per_kwh"].to_numpy(dtype=np.float64)
    amount_usd = quantity_wh / 1000.0 * price

    participants = energy_wh.index
    bought_wh = _awards_by_pool(buyer, pool, quantity_wh, participants)
    sold_wh = _awards_by_pool(seller, pool, quantity_wh, participants)
    deviation_wh = metered_wh - (bought_wh.sum(axis=1) - sold_wh.sum(axis=1))
    surplus_wh = np.maximum(deviation_wh, 0.0)
    deficit_wh = np.maximum(-deviation_wh, 0.0)
    shortfall_wh = np.minimum(surplus_wh, sold_wh.sum(axis=1))
    unused_wh = np.minimum(deficit_wh, bought_wh.sum(axis=1))
    # One column per delivery row kind: shortfall per pool, unused per pool, import, export.
    energy = np.column_stack(
        [
            _in_pool_order(shortfall_wh, sold_wh),
            -_in_pool_order(unused_wh, bought_wh),
            surplus_wh - shortfall_wh,
            -(deficit_wh - unused_wh),
        ]
    )
    kind_price = np.array(
        [
            *[import_price_usd_per_kwh] * len(POOLS),
            *[export_price_usd_per_kwh] * len(POOLS),
            import_price_usd_per_kwh,
            export_price_usd_per_kwh,
        ],
        dtype=np.float64,
    )
    row, kind = np.nonzero(energy != 0.0)  # row-major: participant order, then kind order
    delivered_wh = energy[row, kind]
    delivery_price = kind_price[kind]
    # Trade rows (buyers', then sellers'), then the delivery rows.
    return typed_frame(
        {
            "participant": np.concatenate(
                [buyer, seller, participants.to_numpy(dtype=object)[row]]
            ),
            "counterparty": np.concatenate([seller, buyer, np.full(row.size, GRID, dtype=object)]),
            "pool": np.concatenate([pool, pool, _KIND_POOL[kind]]),
            "side": np.concatenate([np.repeat(_SIDES, len(trades)), _KIND_SIDE[kind]]),
            "energy_wh": np.concatenate([quantity_wh, -quantity_wh, delivered_wh]),
            "price_usd_per_kwh": np.concatenate([price, price, delivery_price]),
            "amount_usd": np.concatenate(
                [amount_usd, -amount_usd, delivered_wh / 1000.0 * delivery_price]
            ),
            "reason": np.concatenate(
                [np.full(2 * len(trades), "trade", dtype=object), _KIND_REASON[kind]]
            ),
        }
    )


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
        - a trade between orders of different pools, or whose ``pool`` is not its orders',
        - a self-trade (same buyer and seller, or both orders of one participant),
        - a trade whose order id names an order of the wrong side.

    Notes
    -----
    Order checks apply to the trade sides whose order id is in ``orders``. A side without an
    order there (a central counterparty with an empty id, or an order kind not passed in, such
    as a curve) is checked against the limit price the trade itself records, when finite.

    Examples
    --------
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
    pool cancel, and so does their total (within ``BALANCE_TOLERANCE_USD``)."""
    return _unbalanced_payments(ledger)


def check_trades(trades: pd.DataFrame, orders: pd.DataFrame) -> list[str]:
    """The trade part of `check_ledger`, which needs no delivery: awards within their orders'
    quantities and limit prices, pools never mixed, no self-trades, sides as ordered.

    Parameters and returned messages as for `check_ledger`.
    """
    if trades.empty:
        return []
    order_ids = pd.Index(_as_str(orders["order_id"]))
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
        "pool": _trade_pools(trades) if "pool" in trades.columns else None,
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
    violations += _each(
        found & (buy_pool != sell_pool),
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


def net_billing_amount_usd(
    energy_wh: np.ndarray,
    import_price_usd_per_kwh: float | np.ndarray,
    export_price_usd_per_kwh: float | np.ndarray,
) -> np.ndarray:
    """What each participant pays for one interval under net billing without trading [USD].

    Parameters
    ----------
    energy_wh : numpy.ndarray
        Net energy drawn from the grid in the interval [Wh], import positive.
    import_price_usd_per_kwh, export_price_usd_per_kwh : float or numpy.ndarray
        Net-billing prices [USD/kWh], scalars or one per entry of ``energy_wh``.

    Returns
    -------
    numpy.ndarray
        Payment per participant [USD], negative when it is paid.

    Examples
    --------
    >>> net_billing_amount_usd(np.array([500.0, -400.0]), 0.1449, 0.069).round(4)
    array([ 0.0724, -0.0276])
    """
    price = np.where(energy_wh > 0, import_price_usd_per_kwh, export_price_usd_per_kwh)
    return energy_wh / 1000.0 * price


def _trade_pools(trades: pd.DataFrame) -> np.ndarray:
    """The pool of each trade (default ``DEFAULT_POOL``), checked against ``POOLS``."""
    if "pool" not in trades.columns:
        return np.full(len(trades), DEFAULT_POOL, dtype=object)
    pool = trades["pool"].to_numpy(dtype=object)
    unknown = ~np.isin(pool, POOLS)
    if unknown.any():
        raise ValueError(
            f"trades.pool: got {list(dict.fromkeys(pool[unknown].tolist()))[:_SHOWN]}, "
            f"expected one of {POOLS}"
        )
    return pool


def _awards_by_pool(
    participant: np.ndarray, pool: np.ndarray, quantity_wh: np.ndarray, index: pd.Index
) -> np.ndarray:
    """Awarded energy per participant of ``index`` (rows) and pool of ``POOLS`` (columns) [Wh].

    Participants not in ``index`` (a central counterparty) are left out.
    """
    row = index.get_indexer(participant)
    listed = row >= 0
    table = np.zeros((len(index), len(POOLS)))
    # Whole Wh in float64 add up exactly in any order.
    np.add.at(table, (row[listed], _pool_codes(pool[listed])), quantity_wh[listed])
    return table


def _pool_codes(pool: np.ndarray) -> np.ndarray:
    """Index into ``POOLS`` of each (valid) pool name."""
    codes = np.zeros(len(pool), dtype=np.intp)
    for k, name in enumerate(POOLS[1:], start=1):
        codes[pool == name] = k
    return codes


def _in_pool_order(total_wh: np.ndarray, capacity_wh: np.ndarray) -> np.ndarray:
    """Split each total over the pools in ``POOLS`` order, each pool up to its capacity [Wh]."""
    filled = np.minimum(total_wh[:, None], np.cumsum(capacity_wh, axis=1))
    return np.diff(filled, axis=1, prepend=0.0)


def _unbalanced_payments(ledger: pd.DataFrame) -> list[str]:
    """Messages for trade payments that do not cancel, per participant pair and pool and total."""
    is_trade = ledger["reason"].to_numpy(dtype=object) == "trade"
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
        for k, row in zip(off[:_SHOWN], first_row[off[:_SHOWN]], strict=True)
    ]
    if len(off) > _SHOWN:
        messages.append(
            f"... and {len(off) - _SHOWN} more pairs whose trade payments do not cancel"
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
    order_ids: pd.Index,
    known: dict[str, np.ndarray],
    label: Callable[[int], str],
) -> tuple[list[str], dict[str, np.ndarray]]:
    """Checks of one side of every trade against its order, and that order's facts.

    ``order_id`` and ``own_limit`` [USD/kWh] are each trade's order and limit price of this
    side, ``traded`` its ``quantity_wh`` [Wh], ``price_usd_per_kwh`` and ``pool`` (or None).
    ``known`` holds the orders' columns (in the order of ``order_ids``) with a missing value
    appended, which the trades whose order is not in ``order_ids`` take.
    """
    position = order_ids.get_indexer(order_id)
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
    over = over[np.argsort(order_ids.to_numpy(dtype=object)[over], kind="stable")]
    messages += [
        f"order {order_ids[k]!r} is awarded {int(awarded_wh[k])} Wh, more than its "
        f"{int(allowed_wh[k])} Wh"
        for k in over[:_SHOWN]
    ]
    if len(over) > _SHOWN:
        messages.append(f"... and {len(over) - _SHOWN} more orders awarded more than ordered")
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
        messages += _each(
            found & (pool != trade_pool),
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
    messages = [describe(int(k)) for k in positions[:_SHOWN]]
    if positions.size > _SHOWN:
        messages.append(f"... and {positions.size - _SHOWN} more such trades")
    return messages
