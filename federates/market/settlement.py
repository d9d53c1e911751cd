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
    quantity_wh = trades["quantity_wh"].to_numpy(dtype=np.float64)
    price = trades["price_usd_per_kwh"].to_numpy(dtype=np.float64)
    amount_usd = quantity_wh / 1000.0 * price
    count = len(trades)
    trade_rows = pd.DataFrame(
        {
            "participant": np.concatenate([trades["buyer"], trades["seller"]]),
            "counterparty": np.concatenate([trades["seller"], trades["buyer"]]),
            "pool": np.concatenate([pool, pool]),
            "side": np.repeat(["buy", "sell"], count),
            "energy_wh": np.concatenate([quantity_wh, -quantity_wh]),
            "price_usd_per_kwh": np.concatenate([price, price]),
            "amount_usd": np.concatenate([amount_usd, -amount_usd]),
            "reason": "trade",
        }
    )

    bought_wh = _awards_by_pool(trades["buyer"], pool, quantity_wh, energy_wh.index)
    sold_wh = _awards_by_pool(trades["seller"], pool, quantity_wh, energy_wh.index)
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
    pools = len(POOLS)
    kind_price = np.repeat(
        [
            import_price_usd_per_kwh,
            export_price_usd_per_kwh,
            import_price_usd_per_kwh,
            export_price_usd_per_kwh,
        ],
        [pools, pools, 1, 1],
    ).astype(np.float64)
    kind_reason = np.repeat(
        ["shortfall", "unused", "grid_import", "grid_export"], [pools, pools, 1, 1]
    )
    kind_side = np.repeat(["buy", "sell", "buy", "sell"], [pools, pools, 1, 1])
    kind_pool = np.array([*POOLS, *POOLS, "", ""], dtype=object)
    row, kind = np.nonzero(energy != 0.0)  # row-major: participant order, then kind order
    delivered_wh = energy[row, kind]
    delivery_rows = pd.DataFrame(
        {
            "participant": energy_wh.index.to_numpy(dtype=object)[row],
            "counterparty": GRID,
            "pool": kind_pool[kind],
            "side": kind_side[kind],
            "energy_wh": delivered_wh,
            "price_usd_per_kwh": kind_price[kind],
            "amount_usd": delivered_wh / 1000.0 * kind_price[kind],
            "reason": kind_reason[kind],
        }
    )
    ledger = pd.concat([trade_rows, delivery_rows], ignore_index=True)
    return ledger.astype(LEDGER_COLUMNS)


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
    known = orders.assign(
        pool=orders["pool"] if "pool" in orders.columns else DEFAULT_POOL
    ).set_index(orders["order_id"].astype(str))
    label = [
        f"trade {k} ({buy!r} from {sell!r})"
        for k, (buy, sell) in enumerate(
            zip(trades["buy_order_id"], trades["sell_order_id"], strict=True)
        )
    ]
    trade_pool = _trade_pools(trades) if "pool" in trades.columns else None
    violations: list[str] = []
    sides = {}
    for side in ("buy", "sell"):
        messages, sides[side] = _order_checks(trades, known, side, label, trade_pool)
        violations += messages
    found = sides["buy"]["found"] & sides["sell"]["found"]
    buy_pool, sell_pool = sides["buy"]["pool"], sides["sell"]["pool"]
    violations += _each(
        found & (buy_pool != sell_pool),
        lambda k: (
            f"{label[k]}: buy order in pool {buy_pool[k]!r}, sell order in pool {sell_pool[k]!r}"
        ),
    )
    buyer = trades["buyer"].to_numpy(dtype=object)
    seller = trades["seller"].to_numpy(dtype=object)
    buy_owner, sell_owner = sides["buy"]["participant"], sides["sell"]["participant"]
    violations += _each(buyer == seller, lambda k: f"{label[k]}: self-trade of {buyer[k]!r}")
    violations += _each(
        found & (buyer != seller) & (buy_owner == sell_owner),
        lambda k: f"{label[k]}: self-trade, both orders are {buy_owner[k]!r}'s",
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
    unknown = ~pd.Series(pool).isin(POOLS).to_numpy()
    if unknown.any():
        raise ValueError(
            f"trades.pool: got {list(dict.fromkeys(pool[unknown].tolist()))[:_SHOWN]}, "
            f"expected one of {POOLS}"
        )
    return pool


def _awards_by_pool(
    participant: pd.Series, pool: np.ndarray, quantity_wh: np.ndarray, index: pd.Index
) -> np.ndarray:
    """Awarded energy per participant of ``index`` (rows) and pool of ``POOLS`` (columns) [Wh]."""
    awards = pd.Series(quantity_wh).groupby([participant.to_numpy(), pool]).sum()
    table = awards.unstack().reindex(index=index, columns=list(POOLS)) if len(awards) else None
    if table is None:
        return np.zeros((len(index), len(POOLS)))
    return table.fillna(0.0).to_numpy(dtype=np.float64)


def _in_pool_order(total_wh: np.ndarray, capacity_wh: np.ndarray) -> np.ndarray:
    """Split each total over the pools in ``POOLS`` order, each pool up to its capacity [Wh]."""
    filled = np.minimum(total_wh[:, None], np.cumsum(capacity_wh, axis=1))
    return np.diff(filled, axis=1, prepend=0.0)


def _unbalanced_payments(ledger: pd.DataFrame) -> list[str]:
    """Messages for trade payments that do not cancel, per participant pair and pool and total."""
    rows = ledger[ledger["reason"] == "trade"]
    participant = rows["participant"].astype(str).to_numpy()
    counterparty = rows["counterparty"].astype(str).to_numpy()
    first = np.minimum(participant, counterparty)
    second = np.maximum(participant, counterparty)
    net = rows["amount_usd"].groupby([first, second, rows["pool"].to_numpy()]).sum()
    off = net[np.abs(net.to_numpy()) > BALANCE_TOLERANCE_USD]
    messages = [
        f"trade payments between {a!r} and {b!r} in pool {pool!r} do not cancel: they sum to "
        f"{amount:.12g} USD"
        for (a, b, pool), amount in off.iloc[:_SHOWN].items()
    ]
    if len(off) > _SHOWN:
        messages.append(
            f"... and {len(off) - _SHOWN} more pairs whose trade payments do not cancel"
        )
    total = float(rows["amount_usd"].sum())
    if abs(total) > BALANCE_TOLERANCE_USD:
        messages.append(f"trade payments do not cancel: they sum to {total:.12g} USD, expected 0")
    return messages


def _order_checks(
    trades: pd.DataFrame,
    known: pd.DataFrame,
    side: str,
    label: list[str],
    trade_pool: np.ndarray | None,
) -> tuple[list[str], dict[str, np.ndarray]]:
    """Checks of one side of every trade against its order, and that order's facts."""
    id_column, limit_column = (
        ("buy_order_id", "bid_price_usd_per_kwh")
        if side == "buy"
        else ("sell_order_id", "ask_price_usd_per_kwh")
    )
    order_id = trades[id_column].astype(str).to_numpy(dtype=object)
    found = known.index.get_indexer(order_id) >= 0
    order = known.reindex(order_id)
    order_side = order["side"].to_numpy(dtype=object)
    messages = _each(
        found & (order_side != side),
        lambda k: f"{label[k]}: its {side} order {order_id[k]!r} is a {order_side[k]} order",
    )
    awarded_wh = trades["quantity_wh"][found].groupby(order_id[found]).sum()
    allowed_wh = known["quantity_wh"].reindex(awarded_wh.index)
    over = awarded_wh.index[awarded_wh.to_numpy() > allowed_wh.to_numpy()]
    messages += [
        f"order {oid!r} is awarded {int(awarded_wh[oid])} Wh, more than its "
        f"{int(allowed_wh[oid])} Wh"
        for oid in over[:_SHOWN]
    ]
    if len(over) > _SHOWN:
        messages.append(f"... and {len(over) - _SHOWN} more orders awarded more than ordered")
    own_limit = (
        trades[limit_column].to_numpy(dtype=np.float64)
        if limit_column in trades.columns
        else np.full(len(trades), np.nan)
    )
    limit = np.where(found, order["price_usd_per_kwh"].to_numpy(dtype=np.float64), own_limit)
    price = trades["price_usd_per_kwh"].to_numpy(dtype=np.float64)
    sign, word, whose = (1.0, "above", "bid") if side == "buy" else (-1.0, "below", "ask")
    with np.errstate(invalid="ignore"):
        outside = sign * (price - limit) > PRICE_TOLERANCE_USD_PER_KWH
    messages += _each(
        outside,
        lambda k: (
            f"{label[k]}: price {price[k]:.12g} USD/kWh {word} the {whose}'s limit {limit[k]:.12g}"
        ),
    )
    pool = np.where(found, order["pool"].to_numpy(dtype=object), None)
    if trade_pool is not None:
        messages += _each(
            found & (pool != trade_pool),
            lambda k: (
                f"{label[k]}: pool {trade_pool[k]!r} but its {side} order is in pool {pool[k]!r}"
            ),
        )
    participant = np.where(found, order["participant"].to_numpy(dtype=object), None)
    return messages, {"found": found, "pool": pool, "participant": participant}


def _each(flagged: np.ndarray, describe: Callable[[int], str]) -> list[str]:
    """``describe(k)`` for the first few flagged trades ``k``, then a count of the rest."""
    positions = np.flatnonzero(flagged)
    messages = [describe(int(k)) for k in positions[:_SHOWN]]
    if positions.size > _SHOWN:
        messages.append(f"... and {positions.size - _SHOWN} more such trades")
    return messages
