"""The tables and messages the market makes of each interval it clears and settles.

A row of ``market_intervals.parquet`` per interval (`interval_row`), each participant's
``settlement`` message (`settlement_messages`), tables given their interval as a first column
(`interval_first`), the rows of ``market_orders.parquet`` and ``market_ledger.parquet``
(`orders_frame`, `ledger_rows`, in the ledger's sections), and every table the market writes
in its empty form (`EMPTY_TABLES`).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from tefed.contract import keys
from tefed.contract.logic import Message
from tefed.contract.messages import SettlementMessage
from tefed.domain.market.clearing import ClearingOutcome, IntervalBook
from tefed.domain.market.frames import column_array, create_dataframe_from_blocks, positions
from tefed.domain.market.ledger import awards_table, combined_ledger
from tefed.domain.market.order_intake import ORDER_RECORD_COLUMNS
from tefed.domain.market.settlement import LEDGER_COLUMNS, participant_rows
from tefed.domain.market.trade_tables import empty_trades


def interval_row(interval: int, book: IntervalBook, outcome: ClearingOutcome) -> dict:
    """The row of ``market_intervals.parquet`` of a cleared interval: its status, order counts,
    traded energy [Wh] and mean trade price [USD/kWh] (settlement prices are added once it is
    settled)."""
    # Column reads cost more than counting a few dozen sides, so empty tables are not read.
    sides = column_array(book.simple, "side", object).tolist()
    if len(book.affine):
        sides += column_array(book.affine, "side", object).tolist()
    # IntervalBook counts curves by reading their order ids, and again for its order count;
    # here once, and not at all for a book without curve vertices (it has none).
    curve_count = book.curve_count if len(book.curves) else 0
    return {
        "interval_index": interval,
        "status": outcome.status,
        "orders": len(book.simple) + curve_count + len(book.affine),  # book.order_count
        "bids": sides.count("buy"),
        "asks": sides.count("sell"),
        "curves": curve_count,
        "traded_energy_wh": outcome.traded_energy_wh,
        "mean_trade_price_usd_per_kwh": outcome.mean_price_usd_per_kwh,
        "prices_usd_per_kwh": json.dumps(outcome.prices_usd_per_kwh, sort_keys=True),
    }


def settlement_messages(
    interval: int,
    participants: pd.Index,
    endpoints: list[str],
    energy_wh: np.ndarray,
    ledger: pd.DataFrame,
) -> list[Message]:
    """One ``settlement`` message per participant from the interval's ledger rows.

    ``endpoints`` and ``energy_wh`` (metered energy [Wh]) are each participant's, in the order
    of ``participants``; ledger rows of other parties (a central counterparty) are not sent.
    """
    ledger_participant = column_array(ledger, "participant", object)
    if isinstance(participants, pd.Index):
        # The market's one participant index: its look-up is kept between intervals.
        owner = participant_rows(participants).rows_of(ledger_participant)
    else:
        owner = positions(participants, ledger_participant)
    # Each participant's rows together, in participant order, each in ledger order.
    rows = np.flatnonzero(owner >= 0)
    rows = rows[np.argsort(owner[rows], kind="stable")]
    bounds = np.searchsorted(owner[rows], np.arange(len(participants) + 1)).tolist()
    columns = {
        name: column_array(ledger, name, dtype)[rows].tolist()
        for name, dtype in (
            ("counterparty", object),
            ("energy_wh", np.float64),
            ("price_usd_per_kwh", np.float64),
            ("amount_usd", np.float64),
            ("reason", object),
        )
    }
    lines = [
        {
            "counterparty": counterparty,
            "energy_wh": line_energy_wh,
            "price_usd_per_kwh": price,
            "amount_usd": amount_usd,
            "reason": reason,
        }
        for counterparty, line_energy_wh, price, amount_usd, reason in zip(
            *columns.values(), strict=True
        )
    ]
    messages = []
    for k, (endpoint, metered_wh) in enumerate(zip(endpoints, energy_wh.tolist(), strict=True)):
        own = slice(bounds[k], bounds[k + 1])
        awarded_wh = sum(
            line_energy_wh
            for line_energy_wh, reason in zip(
                columns["energy_wh"][own], columns["reason"][own], strict=True
            )
            if reason == "trade"
        )
        payload = SettlementMessage(
            interval_index=interval,
            energy_wh=metered_wh,
            awarded_net_energy_wh=round(awarded_wh),
            amount_usd=float(sum(columns["amount_usd"][own])),
            lines=lines[own],
        ).model_dump_json()
        messages.append(Message(source=keys.MARKET_ENDPOINT, destination=endpoint, payload=payload))
    return messages


def interval_first(frame: pd.DataFrame, interval: int | np.ndarray) -> pd.DataFrame:
    """``frame``'s rows as rows of ``interval``: a first column ``interval_index`` (int64, in
    place of any it had) over a fresh ``RangeIndex``; ``frame`` itself is left as it is.
    ``interval`` is one interval for every row, or each row's (an array of ``len(frame)``)."""
    labels = frame.columns
    simple = (
        create_dataframe_from_blocks is not None
        and type(frame) is pd.DataFrame
        and not frame.attrs
        and frame.flags.allows_duplicate_labels
        and not isinstance(labels, pd.MultiIndex)
        and labels.is_unique
    )
    columns = [frame._get_column_array(k) for k in range(len(labels))] if simple else []
    if not simple or not all(map(_plain_column, columns)):
        return _interval_first_by_insert(frame, interval)
    # A new table made from its blocks: for a few dozen rows cheaper than a shallow copy and
    # DataFrame.insert (~150 µs). The columns are copied, since a table made from blocks keeps
    # no copy-on-write reference to ``frame``: a later change to one would show in the other.
    names = labels.tolist()
    kept = [k for k, name in enumerate(names) if name != "interval_index"]
    length = len(frame)
    blocks = [(_interval_column(interval, length)[np.newaxis], np.zeros(1, dtype=np.intp))]
    # Numpy columns of one dtype as one block (each block costs pandas ~5 µs to make).
    by_dtype: dict[np.dtype, list[int]] = {}
    for place, k in enumerate(kept, start=1):
        values = columns[k]
        if isinstance(values, np.ndarray):
            by_dtype.setdefault(values.dtype, []).append(place)
        else:
            blocks.append((values.copy(), np.array([place], dtype=np.intp)))
    for dtype, places in by_dtype.items():
        block = np.empty((len(places), length), dtype=dtype)
        for row, place in enumerate(places):
            block[row] = columns[kept[place - 1]]  # copied into the new block
        blocks.append((block, np.array(places, dtype=np.intp)))
    # A view: renaming the new table's index leaves the caller's as it is.
    index = (
        frame.index.view() if frame.index.equals(pd.RangeIndex(length)) else pd.RangeIndex(length)
    )
    return create_dataframe_from_blocks(
        blocks, index=index, columns=_interval_labels(labels, names).view()
    )


def _interval_column(interval: int | np.ndarray, length: int) -> np.ndarray:
    """The ``interval_index`` column of ``length`` rows of ``interval`` (one, or each row's)."""
    column = np.empty(length, dtype=np.int64)
    column[:] = interval
    return column


def intervals_first(tables: list[tuple[int, pd.DataFrame]]) -> pd.DataFrame | None:
    """The rows of several intervals' tables as one, each given its interval (`interval_first`).

    Parameters
    ----------
    tables : list of (int, pandas.DataFrame)
        Interval index and table, in the order the rows are wanted; tables of one kind (the
        same columns, in order).

    Returns
    -------
    pandas.DataFrame or None
        The non-empty tables' rows, ``interval_index`` first: what concatenating each table's
        `interval_first` gives, made once. With no rows, the first table's `interval_first`
        (its columns, empty); None when ``tables`` is empty.
    """
    if not tables:
        return None
    filled = [(interval, table) for interval, table in tables if not table.empty]
    if not filled:
        interval, table = tables[0]
        return interval_first(table, interval)
    rows = (
        filled[0][1]
        if len(filled) == 1
        else pd.concat([table for _, table in filled], ignore_index=True)
    )
    intervals = np.repeat(
        np.array([interval for interval, _ in filled], dtype=np.int64),
        [len(table) for _, table in filled],
    )
    return interval_first(rows, intervals)


def _plain_column(values: np.ndarray | pd.api.extensions.ExtensionArray) -> bool:
    """Whether `interval_first` may pass a column's values on as a block of its own: numbers,
    booleans and objects in numpy, and pandas' strings (not datetimes or categoricals)."""
    if isinstance(values, np.ndarray):
        return values.ndim == 1 and values.dtype.kind in "biufcO"
    return isinstance(values.dtype, pd.StringDtype)


#: The column labels `interval_first` gives each table's labels, by their names, dtype and
#: name: building a str Index of labels costs ~50 µs, and the market writes a few schemas.
_INTERVAL_LABELS: dict[tuple, pd.Index] = {}


def _interval_labels(labels: pd.Index, names: list) -> pd.Index:
    """``labels`` without ``interval_index``, then with it first, as DataFrame.insert makes
    them (kept by ``names``, dtype and name)."""
    key = (tuple(names), labels.dtype, labels.name)  # str dtypes differ by their storage
    found = _INTERVAL_LABELS.get(key)
    if found is None:
        rest = labels.drop("interval_index") if "interval_index" in names else labels
        found = rest.insert(0, "interval_index")
        if len(_INTERVAL_LABELS) < 256:  # a few schemas in practice; bounded all the same
            _INTERVAL_LABELS[key] = found
    return found


def _interval_first_by_insert(frame: pd.DataFrame, interval: int | np.ndarray) -> pd.DataFrame:
    """`interval_first` through pandas' own drop and insert, for any frame."""
    table = (
        frame.drop(columns="interval_index")
        if "interval_index" in frame.columns
        else frame.copy(deep=False)
    )
    # Inserted into a shallow copy: reordering the columns of a new table costs more.
    table.insert(0, "interval_index", _interval_column(interval, len(table)))
    if not table.index.equals(pd.RangeIndex(len(table))):
        table = table.reset_index(drop=True)
    return table


#: Sections of ``market_ledger.parquet``: every order, then every award, then every settlement.
ORDERED, AWARDED, SETTLED = 0, 1, 2


def orders_frame(records: list[dict]) -> pd.DataFrame:
    """``market_orders.parquet`` rows of the intake's records."""
    return pd.DataFrame(records, columns=list(ORDER_RECORD_COLUMNS)).astype(ORDER_RECORD_COLUMNS)


_NO_ORDERS = orders_frame([])
_NO_SETTLEMENTS = interval_first(
    pd.DataFrame({c: pd.Series(dtype=d) for c, d in LEDGER_COLUMNS.items()}), 0
)
_NO_TRADES = interval_first(empty_trades(), 0)
_NO_AWARDS = awards_table(_NO_TRADES)


def ledger_rows(
    orders: pd.DataFrame = _NO_ORDERS,
    awards: pd.DataFrame = _NO_AWARDS,
    settlements: pd.DataFrame = _NO_SETTLEMENTS,
) -> pd.DataFrame:
    """Rows of ``market_ledger.parquet`` of some orders, awards or settlements."""
    return combined_ledger(orders, awards, settlements)


#: Every table the market always writes, empty (when no frame of it was ever kept).
EMPTY_TABLES = {
    "market_orders.parquet": _NO_ORDERS,
    "market_trades.parquet": _NO_TRADES,
    "market_awards.parquet": _NO_AWARDS,
    "market_settlements.parquet": _NO_SETTLEMENTS,
    "market_ledger.parquet": ledger_rows(),
    "market_intervals.parquet": pd.DataFrame(),
}
