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

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tefed.domain.market.frames import column_array, create_dataframe_from_blocks, typed_frame
from tefed.domain.market.mechanisms.order_book import POOLS
from tefed.domain.market.mechanisms.order_columns import DEFAULT_POOL
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

#: Pool, side and reason of each delivery row kind (the columns of ``energy`` in
#: `settle_interval`): shortfall per pool, unused per pool, grid import, grid export.
_KIND_POOL = np.array([*POOLS, *POOLS, "", ""], dtype=object)
_KIND_SIDE = np.array(["buy"] * len(POOLS) + ["sell"] * len(POOLS) + ["buy", "sell"], dtype=object)
_KIND_REASON = np.array(
    ["shortfall"] * len(POOLS) + ["unused"] * len(POOLS) + ["grid_import", "grid_export"],
    dtype=object,
)
#: Which of the two grid prices (import, export) each delivery row kind is paid at.
_KIND_PRICE = np.array([0] * len(POOLS) + [1] * len(POOLS) + [0, 1], dtype=np.intp)
_POOL_CODE = {name: code for code, name in enumerate(POOLS)}
#: The trade columns settlement reads (a table without them is refused, even with no rows).
_TRADE_COLUMNS = frozenset({"buyer", "seller", "quantity_wh", "price_usd_per_kwh"})

#: The ledger's columns of each dtype, as the rows of the arrays `settle_interval` fills.
_OBJECT_COLUMNS = [name for name, dtype in LEDGER_COLUMNS.items() if dtype == "object"]
_FLOAT_COLUMNS = [name for name, dtype in LEDGER_COLUMNS.items() if dtype == "float64"]
_LEDGER_LABELS = pd.Index(list(LEDGER_COLUMNS))
# Read only: pandas keeps these arrays in every ledger it builds from them.
_OBJECT_PLACEMENT = _LEDGER_LABELS.get_indexer(_OBJECT_COLUMNS)
_FLOAT_PLACEMENT = _LEDGER_LABELS.get_indexer(_FLOAT_COLUMNS)
for _placement in (_OBJECT_PLACEMENT, _FLOAT_PLACEMENT):
    _placement.flags.writeable = False


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
    participants = participant_rows(energy_wh.index)
    # Two delivery prices, as float64 whatever numbers the caller passed.
    grid_price = np.array([import_price_usd_per_kwh, export_price_usd_per_kwh], dtype=np.float64)
    if len(trades) == 0 and _TRADE_COLUMNS.issubset(trades.columns):
        return _grid_only_ledger(metered_wh, participants.names, grid_price)
    buyer = column_array(trades, "buyer", object)
    seller = column_array(trades, "seller", object)
    quantity_wh = column_array(trades, "quantity_wh", np.float64)
    price = column_array(trades, "price_usd_per_kwh", np.float64)
    amount_usd = quantity_wh / 1000.0 * price

    count = len(metered_wh)
    # Each trade's buyer and seller as a row of ``energy_wh`` (-1: a central counterparty).
    buyer_row = participants.rows_of(buyer)
    seller_row = participants.rows_of(seller)
    codes = _pool_codes(pool)
    bought_wh = _awards_by_pool(buyer_row, codes, quantity_wh, count)
    sold_wh = _awards_by_pool(seller_row, codes, quantity_wh, count)
    bought_total_wh = bought_wh.sum(axis=1)
    sold_total_wh = sold_wh.sum(axis=1)
    deviation_wh = metered_wh - (bought_total_wh - sold_total_wh)
    if unused_energy == "seller_exports":
        returned_wh, given_back_wh = _returned_unused_wh(
            deviation_wh, bought_total_wh, buyer_row, seller_row, quantity_wh
        )
        back = np.flatnonzero(returned_wh > 0)
    else:
        returned_wh, given_back_wh = np.zeros(len(quantity_wh)), np.zeros(count)
        back = np.zeros(0, dtype=np.intp)
    # Sellers take back their trades' shares; buyers give back their whole returned energy.
    returned_by_participant = -given_back_wh
    back_wh = returned_wh[back]
    if back.size:
        np.add.at(returned_by_participant, seller_row[back], back_wh)
    deviation_wh = deviation_wh - returned_by_participant
    surplus_wh = np.maximum(deviation_wh, 0.0)
    deficit_wh = np.maximum(-deviation_wh, 0.0)
    shortfall_wh = np.minimum(surplus_wh, sold_total_wh)
    unused_wh = np.minimum(deficit_wh, bought_total_wh)
    # One column per delivery row kind: shortfall per pool, unused per pool, import, export.
    energy = np.empty((count, len(_KIND_REASON)))
    energy[:, : len(POOLS)] = _in_pool_order(shortfall_wh, sold_wh)
    energy[:, len(POOLS) : -2] = -_in_pool_order(unused_wh, bought_wh)
    energy[:, -2] = surplus_wh - shortfall_wh
    energy[:, -1] = -(deficit_wh - unused_wh)
    row, kind = np.nonzero(energy != 0.0)  # row-major: participant order, then kind order
    delivered_wh = energy[row, kind]
    delivery_price = grid_price[_KIND_PRICE[kind]]

    # Trade rows (buyers', then sellers'), returned energy (buyers', sellers'), delivery rows,
    # written into one object and one float block (the frame is made from them at once).
    sold_at = len(quantity_wh)  # first seller's trade row
    back_at = 2 * sold_at  # first returned-energy row (buyers')
    taken_at = back_at + back.size  # first row of a seller taking energy back
    grid_at = taken_at + back.size  # first delivery row
    objects = np.empty((len(_OBJECT_COLUMNS), grid_at + row.size), dtype=object)
    floats = np.empty((len(_FLOAT_COLUMNS), grid_at + row.size))
    participant, counterparty, pools, side, reason = objects
    energy_col, price_col, amount_col = floats
    participant[:sold_at], participant[sold_at:back_at] = buyer, seller
    counterparty[:sold_at], counterparty[sold_at:back_at] = seller, buyer
    pools[:sold_at], pools[sold_at:back_at] = pool, pool
    side[:sold_at], side[sold_at:back_at] = "buy", "sell"
    reason[:back_at] = "trade"
    energy_col[:sold_at], energy_col[sold_at:back_at] = quantity_wh, -quantity_wh
    price_col[:sold_at], price_col[sold_at:back_at] = price, price
    amount_col[:sold_at], amount_col[sold_at:back_at] = amount_usd, -amount_usd
    participant[back_at:taken_at], participant[taken_at:grid_at] = buyer[back], seller[back]
    counterparty[back_at:taken_at], counterparty[taken_at:grid_at] = seller[back], buyer[back]
    pools[back_at:taken_at], pools[taken_at:grid_at] = pool[back], pool[back]
    side[back_at:taken_at], side[taken_at:grid_at] = "sell", "buy"
    reason[back_at:grid_at] = "unused"
    energy_col[back_at:taken_at], energy_col[taken_at:grid_at] = -back_wh, back_wh
    price_col[back_at:grid_at] = 0.0
    amount_col[back_at:grid_at] = 0.0
    participant[grid_at:] = participants.names[row]
    counterparty[grid_at:] = GRID
    pools[grid_at:] = _KIND_POOL[kind]
    side[grid_at:] = _KIND_SIDE[kind]
    reason[grid_at:] = _KIND_REASON[kind]
    energy_col[grid_at:] = delivered_wh
    price_col[grid_at:] = delivery_price
    amount_col[grid_at:] = delivered_wh / 1000.0 * delivery_price
    return _ledger_frame(objects, floats)


def _grid_only_ledger(
    metered_wh: np.ndarray, names: np.ndarray, grid_price: np.ndarray
) -> pd.DataFrame:
    """The ledger of an interval without trades: each participant's metered energy is its
    grid import or export (what `settle_interval` computes when nothing was awarded)."""
    row = np.flatnonzero(metered_wh != 0.0)
    delivered_wh = metered_wh[row]
    exports = delivered_wh < 0
    # The row kind `settle_interval` gives a deviation with no awards: import or export.
    kind = np.where(exports, _KIND_REASON.size - 1, _KIND_REASON.size - 2)
    delivery_price = grid_price[exports.view(np.int8)]
    objects = np.empty((len(_OBJECT_COLUMNS), row.size), dtype=object)
    objects[0] = names[row]
    objects[1] = GRID
    objects[2] = _KIND_POOL[kind]
    objects[3] = _KIND_SIDE[kind]
    objects[4] = _KIND_REASON[kind]
    floats = np.empty((len(_FLOAT_COLUMNS), row.size))
    floats[0] = delivered_wh
    floats[1] = delivery_price
    floats[2] = delivered_wh / 1000.0 * delivery_price
    return _ledger_frame(objects, floats)


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
    participant = column_array(charges, "participant", object)
    counterparty = column_array(charges, "counterparty", object)
    amount_usd = column_array(charges, "amount_usd", np.float64)
    count = len(participant)
    objects = np.empty((len(_OBJECT_COLUMNS), 2 * count), dtype=object)
    objects[0, :count], objects[0, count:] = participant, counterparty
    objects[1, :count], objects[1, count:] = counterparty, participant
    objects[2:4] = ""  # pool, side
    objects[4] = np.tile(column_array(charges, "reason", object), 2)
    floats = np.empty((len(_FLOAT_COLUMNS), 2 * count))
    floats[0] = 0.0
    floats[1] = np.tile(column_array(charges, "price_usd_per_kwh", np.float64), 2)
    floats[2, :count], floats[2, count:] = amount_usd, -amount_usd
    return _ledger_frame(objects, floats)


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
    pool = column_array(trades, "pool", object)
    # Set look-ups: numpy's isin on object arrays costs more for a few dozen trades.
    if not set(pool.tolist()) <= _POOL_CODE.keys():
        unknown = np.array([name not in _POOL_CODE for name in pool.tolist()], dtype=bool)
        raise ValueError(
            f"trades.pool: got {list(dict.fromkeys(pool[unknown].tolist()))[:VIOLATIONS_SHOWN]}, "
            f"expected one of {POOLS}"
        )
    return pool


def _awards_by_pool(
    row: np.ndarray, codes: np.ndarray, quantity_wh: np.ndarray, participants: int
) -> np.ndarray:
    """Awarded energy per participant (rows) and pool of ``POOLS`` (columns) [Wh].

    ``row`` is each award's participant position, -1 (a central counterparty) left out;
    ``codes`` each award's pool as an index into ``POOLS``.
    """
    listed = row >= 0
    # Whole Wh in float64 add up exactly in any order; bincount adds in trade order, as
    # np.add.at did, so even fractional quantities give the same sums.
    flat = np.bincount(
        row[listed] * len(POOLS) + codes[listed],
        weights=quantity_wh[listed],
        minlength=participants * len(POOLS),
    )
    return flat.reshape(participants, len(POOLS))


def _pool_codes(pool: np.ndarray) -> np.ndarray:
    """Index into ``POOLS`` of each (valid) pool name."""
    return np.array([_POOL_CODE[name] for name in pool.tolist()], dtype=np.intp)


def _in_pool_order(total_wh: np.ndarray, capacity_wh: np.ndarray) -> np.ndarray:
    """Split each total over the pools in ``POOLS`` order, each pool up to its capacity [Wh]."""
    filled = np.minimum(total_wh[:, None], np.cumsum(capacity_wh, axis=1))
    # The first pool takes filled[:, 0] (x - 0.0 is x, also for -0.0), each next one the
    # increment: np.diff(filled, prepend=0.0) without building the padded array.
    split = filled.copy()
    np.subtract(filled[:, 1:], filled[:, :-1], out=split[:, 1:])
    return split


@dataclass(frozen=True)
class Participants:
    """The participants of an index (``energy_wh``'s in `settle_interval`): their names
    (object) and each name's row (position)."""

    names: np.ndarray
    row_of: dict[object, int]

    def rows_of(self, values: np.ndarray) -> np.ndarray:
        """Each value's row, -1 where it is not a participant (`frames.positions`)."""
        row_of = self.row_of
        return np.array([row_of.get(value, -1) for value in values.tolist()], dtype=np.intp)


#: The last index `participant_rows` was asked for and its answer, as one tuple (read and
#: replaced whole, so threads settling markets of other indices never mix two): the market
#: settles every interval against one participant index, and listing an index of str costs
#: ~15 µs.
_last_participants: list[tuple] = [(None, None)]


def participant_rows(index: pd.Index) -> Participants:
    """The participants of ``index``: names and rows, kept for the last index asked for (an
    Index is immutable, so the kept answer stays valid while it is the same object; an Index
    made with ``copy=False`` over an array its caller goes on changing is not supported)."""
    kept_index, kept = _last_participants[0]
    if kept_index is not index:
        names = index.to_numpy(dtype=object)
        # Later duplicates win, as in `frames.positions`.
        kept = Participants(names, {name: row for row, name in enumerate(names.tolist())})
        _last_participants[0] = (index, kept)
    return kept


def _ledger_frame(objects: np.ndarray, floats: np.ndarray) -> pd.DataFrame:
    """The ledger table of ``LEDGER_COLUMNS`` whose object and float columns are the rows of
    ``objects`` and ``floats`` (in ``LEDGER_COLUMNS`` order), over a ``RangeIndex``.

    The two arrays become the frame's blocks as they are (not copied into new ones, as
    `typed_frame` does), under a view of one label index: ~15 µs, where pandas' constructor
    spends ~600 µs on a loaded 2-core machine converting columns and inferring the labels.
    """
    index = pd.RangeIndex(objects.shape[1])
    if create_dataframe_from_blocks is None:  # pragma: no cover - pandas 2
        columns = dict(zip(_OBJECT_COLUMNS, objects, strict=True))
        columns |= dict(zip(_FLOAT_COLUMNS, floats, strict=True))
        return typed_frame({name: columns[name] for name in LEDGER_COLUMNS})
    # A view of the shared labels: renaming one ledger's columns leaves the others as they are.
    return create_dataframe_from_blocks(
        [(objects, _OBJECT_PLACEMENT), (floats, _FLOAT_PLACEMENT)],
        index=index,
        columns=_LEDGER_LABELS.view(),
    )
