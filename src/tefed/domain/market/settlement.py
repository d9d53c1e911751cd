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
`tefed.domain.market.ledger_checks` checks an interval's ledger and trades against these rules
and the orders.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tefed.domain.market.frames import positions, typed_frame
from tefed.domain.market.mechanisms.order_book import DEFAULT_POOL, POOLS
from tefed.domain.market.trade_tables import GRID

#: Ledger row reasons, in the order a participant's delivery rows are listed.
REASONS = ("trade", "shortfall", "unused", "grid_import", "grid_export")

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

#: How many offending values one message lists before it summarises the rest.
VIOLATIONS_SHOWN = 5

_SIDES = np.array(["buy", "sell"], dtype=object)
#: Pool, side and reason of each delivery row kind (the columns of ``energy`` in
#: `settle_interval`): shortfall per pool, unused per pool, grid import, grid export.
_KIND_POOL = np.array([*POOLS, *POOLS, "", ""], dtype=object)
_KIND_SIDE = np.array(["buy"] * len(POOLS) + ["sell"] * len(POOLS) + ["buy", "sell"], dtype=object)
_KIND_REASON = np.array(
    ["shortfall"] * len(POOLS) + ["unused"] * len(POOLS) + ["grid_import", "grid_export"],
    dtype=object,
)


#: Who is credited for awarded energy a buyer did not use (``market.unused_energy``):
#: ``seller_exports`` (T-REX rule 10: the buyer pays its trades, the energy goes back to its
#: sellers and is their export) or ``buyer_credited`` (the buyer gets the export credit).
UNUSED_ENERGY_RULES = ("seller_exports", "buyer_credited")


def settle_interval(
    energy_wh: pd.Series,
    trades: pd.DataFrame,
    import_price_usd_per_kwh: float,
    export_price_usd_per_kwh: float,
    unused_energy: str = "seller_exports",
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
    unused_energy : str
        One of ``UNUSED_ENERGY_RULES``: who is credited for energy a buyer bought from another
        participant and did not use (see Notes).

    Returns
    -------
    pandas.DataFrame
        Columns ``LEDGER_COLUMNS``: ``participant``, ``counterparty`` (another participant or
        ``"grid"``), ``pool`` (the trade's pool; ``""`` for grid rows not tied to a trade),
        ``side`` (``"buy"``/``"sell"``: the participant's side of the row; a grid row is
        ``"buy"`` when the participant takes energy from the grid), ``energy_wh`` (energy the
        participant receives, negative when it delivers) [Wh], ``price_usd_per_kwh``,
        ``amount_usd`` (positive: the participant pays) [USD] and ``reason`` (``REASONS``).
        Trade rows come first (buyers', then sellers'), then under ``seller_exports`` the
        rows returning unused energy (buyers', then sellers'), then each participant's
        delivery rows in the order of ``energy_wh`` and of ``REASONS``.

    Raises
    ------
    ValueError
        If a trade's pool is not one of ``POOLS``, a metered energy is not finite or
        ``unused_energy`` is not one of ``UNUSED_ENERGY_RULES``.

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

    ``unused_energy="seller_exports"`` (the default, T-REX's rule 10): a buyer's unused energy
    :math:`U = \\min(D^-, B)` was its sellers' generation, which flowed to the grid. The buyer
    still pays every trade; :math:`U` is split over its trades in proportion to their
    quantities, and each share bought from another participant goes back to that seller in
    two ``unused`` rows at price 0 (the buyer delivers :math:`-u`, the seller receives
    :math:`+u`; shares bought from a central counterparty stay with the buyer). The delivery
    rows above are then computed from :math:`D' = D - R`, :math:`R` the energy returned
    (negative for the buyer, positive for the seller), so the seller is paid the export price
    for that energy (its ``grid_export``) and the buyer nothing. Each participant's rows still
    add up to its metered energy and its grid payments are the net billing of :math:`D'`.
    ``unused_energy="buyer_credited"`` credits :math:`U` to the buyer at the export price.

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
    >>> columns = ["participant", "side", "energy_wh", "amount_usd", "reason"]
    >>> settle_interval(energy, trades, 0.15, 0.05, "buyer_credited")[columns].round(4)
      participant  side  energy_wh  amount_usd     reason
    0           a   buy     1000.0       0.100      trade
    1           b  sell    -1000.0      -0.100      trade
    2           a  sell     -200.0      -0.010     unused
    3           b   buy      100.0       0.015  shortfall

    a pays 0.10 for the trade and gets 200 Wh × 0.05 = 0.01 back; b receives 0.10 and pays
    100 Wh × 0.15 = 0.015 for the shortfall. Under T-REX's rule 10 the 200 Wh go back to b,
    whose deviation becomes 100 − 200 = −100 Wh: it exports 100 Wh at 0.05 (−0.005):

    >>> settle_interval(energy, trades, 0.15, 0.05)[columns].round(4)
      participant  side  energy_wh  amount_usd       reason
    0           a   buy     1000.0       0.100        trade
    1           b  sell    -1000.0      -0.100        trade
    2           a  sell     -200.0       0.000       unused
    3           b   buy      200.0       0.000       unused
    4           b  sell     -100.0      -0.005  grid_export
    """
    if unused_energy not in UNUSED_ENERGY_RULES:
        raise ValueError(
            f"unused_energy: got {unused_energy!r}, expected one of {UNUSED_ENERGY_RULES}"
        )
    pool = trade_pools(trades)
    metered_wh = energy_wh.to_numpy(dtype=np.float64)
    not_finite = ~np.isfinite(metered_wh)
    if not_finite.any():
        raise ValueError(
            f"energy_wh: got {metered_wh[not_finite][:VIOLATIONS_SHOWN].tolist()} for "
            f"participant(s) {energy_wh.index[not_finite][:VIOLATIONS_SHOWN].tolist()}, expected "
            "finite numbers [Wh]"
        )
    buyer = trades["buyer"].to_numpy(dtype=object)
    seller = trades["seller"].to_numpy(dtype=object)
    quantity_wh = trades["quantity_wh"].to_numpy(dtype=np.float64)
    price = trades["price_usd_per_kwh"].to_numpy(dtype=np.float64)
    amount_usd = quantity_wh / 1000.0 * price

    participants = energy_wh.index
    # Each trade's buyer and seller as a row of ``energy_wh`` (-1: a central counterparty).
    names = participants.tolist()
    buyer_row = positions(names, buyer)
    seller_row = positions(names, seller)
    bought_wh = _awards_by_pool(buyer_row, pool, quantity_wh, len(participants))
    sold_wh = _awards_by_pool(seller_row, pool, quantity_wh, len(participants))
    deviation_wh = metered_wh - (bought_wh.sum(axis=1) - sold_wh.sum(axis=1))
    if unused_energy == "seller_exports":
        returned_wh, given_back_wh = _returned_unused_wh(
            deviation_wh, bought_wh.sum(axis=1), buyer_row, seller_row, quantity_wh
        )
    else:
        returned_wh, given_back_wh = np.zeros(len(trades)), np.zeros(len(participants))
    # Sellers take back their trades' shares; buyers give back their whole returned energy.
    returned_by_participant = -given_back_wh
    np.add.at(returned_by_participant, seller_row[returned_wh > 0], returned_wh[returned_wh > 0])
    deviation_wh = deviation_wh - returned_by_participant
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
    back = np.flatnonzero(returned_wh > 0)
    back_wh = returned_wh[back]
    # Trade rows (buyers', then sellers'), returned energy (buyers', sellers'), delivery rows.
    return typed_frame(
        {
            "participant": np.concatenate(
                [buyer, seller, buyer[back], seller[back], participants.to_numpy(dtype=object)[row]]
            ),
            "counterparty": np.concatenate(
                [seller, buyer, seller[back], buyer[back], np.full(row.size, GRID, dtype=object)]
            ),
            "pool": np.concatenate([pool, pool, pool[back], pool[back], _KIND_POOL[kind]]),
            "side": np.concatenate(
                [
                    np.repeat(_SIDES, len(trades)),
                    np.repeat(_SIDES[::-1], back.size),
                    _KIND_SIDE[kind],
                ]
            ),
            "energy_wh": np.concatenate(
                [quantity_wh, -quantity_wh, -back_wh, back_wh, delivered_wh]
            ),
            "price_usd_per_kwh": np.concatenate(
                [price, price, np.zeros(2 * back.size), delivery_price]
            ),
            "amount_usd": np.concatenate(
                [
                    amount_usd,
                    -amount_usd,
                    np.zeros(2 * back.size),
                    delivered_wh / 1000.0 * delivery_price,
                ]
            ),
            "reason": np.concatenate(
                [
                    np.full(2 * len(trades), "trade", dtype=object),
                    np.full(2 * back.size, "unused", dtype=object),
                    _KIND_REASON[kind],
                ]
            ),
        }
    )


def charge_rows(charges: pd.DataFrame) -> pd.DataFrame:
    """Ledger rows of money paid to the market besides trades (fees, penalties).

    Parameters
    ----------
    charges : pandas.DataFrame
        ``participant``, ``counterparty``, ``price_usd_per_kwh`` (the rate) [USD/kWh],
        ``amount_usd`` (positive: the participant pays) [USD] and ``reason``.

    Returns
    -------
    pandas.DataFrame
        Columns ``LEDGER_COLUMNS``: each charge as the participant's row, then the
        counterparty's mirror row (``-amount_usd``), so charges cancel as trade rows do. No
        energy changes hands (``energy_wh`` 0; ``pool`` and ``side`` empty).

    Examples
    --------
    >>> rows = charge_rows(pd.DataFrame({"participant": ["a"], "counterparty": ["market"],
    ...     "price_usd_per_kwh": [0.002], "amount_usd": [0.001], "reason": ["service_fee"]}))
    >>> rows[["participant", "counterparty", "amount_usd", "reason"]].to_numpy().tolist()
    [['a', 'market', 0.001, 'service_fee'], ['market', 'a', -0.001, 'service_fee']]
    """
    participant = charges["participant"].to_numpy(dtype=object)
    counterparty = charges["counterparty"].to_numpy(dtype=object)
    amount_usd = charges["amount_usd"].to_numpy(dtype=np.float64)
    count = 2 * len(charges)
    return typed_frame(
        {
            "participant": np.concatenate([participant, counterparty]),
            "counterparty": np.concatenate([counterparty, participant]),
            "pool": np.full(count, "", dtype=object),
            "side": np.full(count, "", dtype=object),
            "energy_wh": np.zeros(count),
            "price_usd_per_kwh": np.tile(charges["price_usd_per_kwh"].to_numpy(np.float64), 2),
            "amount_usd": np.concatenate([amount_usd, -amount_usd]),
            "reason": np.tile(charges["reason"].to_numpy(dtype=object), 2),
        }
    )


def _returned_unused_wh(
    deviation_wh: np.ndarray,
    bought_wh: np.ndarray,
    buyer_row: np.ndarray,
    seller_row: np.ndarray,
    quantity_wh: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Energy each trade returns from its buyer to its seller under T-REX's rule 10, and
    what each participant gives back in all as a buyer [Wh].

    ``deviation_wh`` and ``bought_wh`` are per participant [Wh]; ``buyer_row`` and
    ``seller_row`` each trade's parties as participant positions (-1: not a participant) and
    ``quantity_wh`` its energy [Wh]. A buyer's unused energy ``min(D⁻, B)`` is split over its
    trades in proportion to their quantities; trades whose seller is not a participant (a
    central counterparty) return nothing (their share stays with the buyer).

    A buyer whose every trade returns a share gives back exactly ``min(D⁻, B)``, not the float
    sum of its shares: that sum misses it by rounding (about 1e-13 Wh), which left a buyer
    returning all its unused energy with a grid row for the difference.
    """
    unused_wh = np.minimum(np.maximum(-deviation_wh, 0.0), bought_wh)
    returned_wh = np.zeros(len(quantity_wh))
    between = (buyer_row >= 0) & (seller_row >= 0)
    rows = buyer_row[between]
    # bought_wh > 0 wherever a listed buyer has a trade, so the shares are well defined.
    returned_wh[between] = unused_wh[rows] * quantity_wh[between] / bought_wh[rows]
    # Quantities are whole Wh, so these sums are exact and comparable with bought_wh.
    between_wh = np.zeros(len(bought_wh))
    np.add.at(between_wh, rows, quantity_wh[between])
    partial_wh = np.divide(
        unused_wh * between_wh, bought_wh, out=np.zeros(len(bought_wh)), where=bought_wh > 0
    )
    given_back_wh = np.where(between_wh == bought_wh, unused_wh, partial_wh)
    return returned_wh, given_back_wh


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


def trade_pools(trades: pd.DataFrame) -> np.ndarray:
    """The pool of each trade (default ``DEFAULT_POOL``), checked against ``POOLS``."""
    if "pool" not in trades.columns:
        return np.full(len(trades), DEFAULT_POOL, dtype=object)
    pool = trades["pool"].to_numpy(dtype=object)
    unknown = ~np.isin(pool, POOLS)
    if unknown.any():
        raise ValueError(
            f"trades.pool: got {list(dict.fromkeys(pool[unknown].tolist()))[:VIOLATIONS_SHOWN]}, "
            f"expected one of {POOLS}"
        )
    return pool


def _awards_by_pool(
    row: np.ndarray, pool: np.ndarray, quantity_wh: np.ndarray, participants: int
) -> np.ndarray:
    """Awarded energy per participant (rows) and pool of ``POOLS`` (columns) [Wh].

    ``row`` is each award's participant position; -1 (a central counterparty) is left out.
    """
    listed = row >= 0
    table = np.zeros((participants, len(POOLS)))
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
