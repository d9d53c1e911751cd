"""The market's ledger: every order, award and settlement of a run as rows of one table.

Orders come from the intake (accepted or rejected, with the reason), awards from each interval's
trades (a trade awards its buyer and its seller), settlements from `settle_interval`. The
combined table has one row per record with the columns of `LEDGER_COLUMNS`:

``record`` (``order``, ``award``, ``settlement``), ``interval_index``, ``participant``,
``pool``, ``side``, ``quantity_wh`` (energy the row is about [Wh]: ordered, awarded, or
received — negative when delivered — for settlements), ``price_usd_per_kwh``, ``amount_usd``
(settlements: positive when the participant pays [USD]), ``counterparty`` (a participant,
``market`` or ``grid``), ``order_id`` and ``reason`` (why an order was rejected, or what a
settlement pays for).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tefed.contract.messages import Award

LEDGER_COLUMNS = {
    "record": "object",
    "interval_index": "Int64",
    "participant": "object",
    "pool": "object",
    "side": "object",
    "quantity_wh": "float64",
    "price_usd_per_kwh": "float64",
    "amount_usd": "float64",
    "counterparty": "object",
    "order_id": "object",
    "reason": "object",
}


def awards_table(trades: pd.DataFrame) -> pd.DataFrame:
    """One row per award: each trade awards its buyer and its seller.

    Parameters
    ----------
    trades : pandas.DataFrame
        ``interval_index``, ``buy_order_id``, ``sell_order_id``, ``buyer``, ``seller``,
        ``quantity_wh`` [Wh], ``price_usd_per_kwh`` [USD/kWh] and ``pool``.

    Returns
    -------
    pandas.DataFrame
        Columns ``interval_index``, ``participant``, ``order_id``, ``side``, ``pool``,
        ``quantity_wh`` [Wh], ``price_usd_per_kwh`` [USD/kWh] and ``counterparty``, sorted by
        interval, participant and order. A central counterparty (``market``, ``grid``) has no
        order and gets no award row.

    Examples
    --------
    >>> trades = pd.DataFrame({"interval_index": [3], "buy_order_id": ["b"],
    ...     "sell_order_id": ["s"], "buyer": ["h1"], "seller": ["h2"], "quantity_wh": [250],
    ...     "price_usd_per_kwh": [0.1], "pool": ["non_dispatchable"]})
    >>> awards_table(trades)[["participant", "side", "quantity_wh", "counterparty"]]
      participant  side  quantity_wh counterparty
    0          h1   buy          250           h2
    1          h2  sell          250           h1
    """
    if trades.empty:
        # Intervals without trades are common (a one-sided book at night).
        return _NO_AWARDS.copy(deep=False)
    return _awards(trades)


def _awards(trades: pd.DataFrame) -> pd.DataFrame:
    """`awards_table` of any trades table, empty or not."""
    buyer = trades["buyer"].to_numpy(dtype=object)
    seller = trades["seller"].to_numpy(dtype=object)
    both = np.tile(np.arange(len(trades)), 2)
    interval = trades["interval_index"].to_numpy(dtype=np.int64)[both]
    participant = np.concatenate([buyer, seller])
    order_id = np.concatenate(
        [
            trades["buy_order_id"].to_numpy(dtype=object),
            trades["sell_order_id"].to_numpy(dtype=object),
        ]
    )
    columns = {
        "interval_index": interval,
        "participant": participant,
        "order_id": order_id,
        "side": np.repeat(_SIDES, len(trades)),
        "pool": trades["pool"].to_numpy(dtype=object)[both],
        "quantity_wh": trades["quantity_wh"].to_numpy(dtype=np.int64)[both],
        "price_usd_per_kwh": trades["price_usd_per_kwh"].to_numpy(dtype=np.float64)[both],
        "counterparty": np.concatenate([seller, buyer]),
    }
    # A central counterparty's side has no order (an empty id) and no award.
    awarded = np.flatnonzero(order_id.astype(str) != "")
    # Rows of equal interval, participant and order keep their order: buys first, by trade.
    rank = awarded[
        np.lexsort(
            (
                _sort_codes(order_id[awarded]),
                _sort_codes(participant[awarded]),
                interval[awarded],
            )
        )
    ]
    if rank.size == 0:
        # The columns of no rows, with the dtypes pandas infers from all of them.
        return _award_frame(columns).iloc[:0]
    # Rows are taken as arrays, before the one table is built: pandas' take costs more.
    return _award_frame({name: values[rank] for name, values in columns.items()})


def _award_frame(columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """The awards table of award columns of one length (numpy arrays)."""
    # Identifier columns get the dtype pandas infers (str), as award tables always had.
    size = len(columns["interval_index"])
    return pd.DataFrame(columns, index=pd.RangeIndex(size), copy=False)


def awards_by_participant(awards: pd.DataFrame) -> dict[str, list[Award]]:
    """Each participant's awards of one interval, as the ``awards`` message carries them.

    ``awards`` is `awards_table` of the interval's trades named by the households' own order
    ids (`with_household_order_ids`); each `Award` carries that ``order_id``,
    ``quantity_wh`` [Wh] and ``price_usd_per_kwh`` [USD/kWh].
    """
    records: dict[str, list[Award]] = {}
    for participant, order_id, side, pool, quantity_wh, price, counterparty in zip(
        *(awards[column].tolist() for column in _AWARD_MESSAGE_COLUMNS), strict=True
    ):
        records.setdefault(participant, []).append(
            Award(
                order_id=order_id,
                side=side,
                pool=pool,
                quantity_wh=int(quantity_wh),
                price_usd_per_kwh=float(price),
                counterparty=counterparty,
            )
        )
    return records


_SIDES = np.array(["buy", "sell"])
_AWARD_MESSAGE_COLUMNS = (
    "participant",
    "order_id",
    "side",
    "pool",
    "quantity_wh",
    "price_usd_per_kwh",
    "counterparty",
)


def _sort_codes(values: np.ndarray) -> np.ndarray:
    """Each value's rank among the distinct values, in sort order (ties share a code)."""
    return np.unique(values, return_inverse=True)[1]


def combined_ledger(
    orders: pd.DataFrame, awards: pd.DataFrame, settlements: pd.DataFrame
) -> pd.DataFrame:
    """Orders, awards and settlements of a run as one table with `LEDGER_COLUMNS`.

    ``orders`` are the intake's records (``status``, ``reason``), ``awards`` as from
    `awards_table`, ``settlements`` as from `settle_interval` plus ``interval_index``.
    """
    order_rows = pd.DataFrame(
        {
            "record": "order",
            "interval_index": orders["interval_index"],
            "participant": orders["participant"],
            "pool": orders["pool"],
            "side": orders["side"],
            "quantity_wh": orders["quantity_wh"].astype("float64"),
            "price_usd_per_kwh": orders["price_usd_per_kwh"],
            "amount_usd": np.nan,
            "counterparty": None,
            "order_id": orders["order_id"],
            "reason": np.where(orders["status"] == "accepted", "accepted", orders["reason"]),
        }
    )
    award_rows = pd.DataFrame(
        {
            "record": "award",
            "interval_index": awards["interval_index"],
            "participant": awards["participant"],
            "pool": awards["pool"],
            "side": awards["side"],
            "quantity_wh": awards["quantity_wh"].astype("float64"),
            "price_usd_per_kwh": awards["price_usd_per_kwh"],
            "amount_usd": np.nan,
            "counterparty": awards["counterparty"],
            "order_id": awards["order_id"],
            "reason": "cleared",
        }
    )
    settlement_rows = pd.DataFrame(
        {
            "record": "settlement",
            "interval_index": settlements["interval_index"],
            "participant": settlements["participant"],
            "pool": settlements["pool"],
            "side": settlements["side"],
            "quantity_wh": settlements["energy_wh"].astype("float64"),
            "price_usd_per_kwh": settlements["price_usd_per_kwh"],
            "amount_usd": settlements["amount_usd"],
            "counterparty": settlements["counterparty"],
            "order_id": None,
            "reason": settlements["reason"],
        }
    )
    frames = [frame for frame in (order_rows, award_rows, settlement_rows) if not frame.empty]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=d) for c, d in LEDGER_COLUMNS.items()})
    return pd.concat(frames, ignore_index=True)[list(LEDGER_COLUMNS)].astype(LEDGER_COLUMNS)


#: The awards of no trades (the dtypes depend on no value).
_NO_AWARDS = _awards(
    pd.DataFrame(
        {
            name: np.empty(0, dtype=dtype)
            for name, dtype in (
                ("interval_index", np.int64),
                ("buy_order_id", object),
                ("sell_order_id", object),
                ("buyer", object),
                ("seller", object),
                ("quantity_wh", np.int64),
                ("price_usd_per_kwh", np.float64),
                ("pool", object),
            )
        }
    )
)
