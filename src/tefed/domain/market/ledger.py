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

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from tefed.contract.messages import Award
from tefed.domain.market.frames import create_dataframe_from_blocks

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


def column_lists(frame: pd.DataFrame, names: Sequence[str]) -> list[list] | None:
    """The named columns of ``frame`` as lists, read from the table's own arrays.

    Each list holds what ``frame[name].to_numpy(dtype=object).tolist()`` holds (Python ints,
    floats, str, or the column's missing value). Only the named columns are read, without a
    Series each: for a trades table of a few dozen rows, converting the whole table to objects
    at once cost four times as much (its string columns converted whether asked for or not).

    Parameters
    ----------
    frame : pandas.DataFrame
        Any table; a name it lacks raises ``KeyError``, as ``frame[name]`` does.
    names : sequence of str
        Column labels.

    Returns
    -------
    list of list, or None
        One list per name, in order; None when the labels of ``frame`` are not unique (a label
        may then name several columns).

    Examples
    --------
    >>> column_lists(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}), ["b", "a"])
    [['x', 'y'], [1, 2]]
    """
    labels = frame.columns
    if not labels.is_unique:
        return None
    at = [labels.get_loc(name) for name in names]
    if type(frame) is not pd.DataFrame:
        return [frame.iloc[:, k].to_numpy(dtype=object).tolist() for k in at]
    lists = []
    for k in at:
        values = frame._get_column_array(k)
        if isinstance(values, np.ndarray) and values.dtype.kind in _LISTED_KINDS:
            lists.append(values.tolist())  # Python bools, ints, floats or the objects
        elif isinstance(values, np.ndarray):
            lists.append(frame.iloc[:, k].to_numpy(dtype=object).tolist())
        else:
            lists.append(values.to_numpy(dtype=object).tolist())
    return lists


#: Numpy kinds whose ``tolist`` holds what their conversion to objects does.
_LISTED_KINDS = frozenset("biufO")


def _awards(trades: pd.DataFrame) -> pd.DataFrame:
    """`awards_table` of any trades table, empty or not."""
    named = _named_awards(trades) if _STR_DTYPE is not None else None
    if named is not None:
        return named
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


def _named_awards(trades: pd.DataFrame) -> pd.DataFrame | None:
    """`_awards` of trades whose names, order ids and pools are all ``str`` (of at least one
    award), with int intervals and quantities and float prices; None for any other trades.

    The columns are read at once, the rows sorted as lists, and the table built from its
    blocks, the text columns as the ``str`` arrays pandas infers for them: for an interval's
    few dozen awards, reading columns one by one and inferring the dtypes of object columns
    cost most of the table.
    """
    columns = column_lists(trades, _TRADE_COLUMNS)
    if columns is None:
        return None
    buyer, seller, days, buy_order_id, sell_order_id, pools, quantity_wh, price = columns
    participant = buyer + seller
    order_id = buy_order_id + sell_order_id
    if not (
        all(type(name) is str for name in (*participant, *order_id, *pools))
        and all(type(number) is int for number in (*days, *quantity_wh))
        and all(type(number) is float for number in price)
    ):
        return None
    count = len(buyer)
    # A central counterparty's side has no order (an empty id, or NULs only: numpy's str pads
    # with them) and no award.
    awarded = [row for row, name in enumerate(order_id) if name.rstrip("\x00")]
    if not awarded:
        return None
    # Rows of equal interval, participant and order keep their order: buys first, by trade
    # (a stable sort, as `numpy.lexsort`'s of the values' ranks).
    awarded.sort(key=lambda row: (days[row % count], participant[row], order_id[row]))
    trade = [row % count for row in awarded]
    numbers = np.array([[days[k] for k in trade], [quantity_wh[k] for k in trade]], dtype=np.int64)
    counterparty = participant[count:] + participant[:count]
    # One string array for the five text columns, cut into one slice (a view) per column.
    text = pd.array(
        [
            value
            for column in (participant, order_id, counterparty)
            for value in (column[row] for row in awarded)
        ]
        + ["buy" if row < count else "sell" for row in awarded]
        + [pools[k] for k in trade],
        dtype=_STR_DTYPE,
    )
    size = len(awarded)
    blocks = [
        (numbers, _INT_PLACEMENT),
        (np.array([[price[k] for k in trade]], dtype=np.float64), _FLOAT_PLACEMENT),
    ] + [
        (text[k * size : (k + 1) * size], placement) for k, placement in enumerate(_TEXT_PLACEMENTS)
    ]
    # A view of the shared labels: renaming one table's columns leaves the others as they are.
    return create_dataframe_from_blocks(
        blocks, index=pd.RangeIndex(size), columns=_AWARD_LABELS.view()
    )


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
    columns = column_lists(awards, _AWARD_MESSAGE_COLUMNS)
    if columns is None or not (
        all(type(text) is str for k in _MESSAGE_TEXT for text in columns[k])
        and all(type(number) is int for number in columns[_MESSAGE_QUANTITY])
        and all(type(number) is float for number in columns[_MESSAGE_PRICE])
    ):
        # Any other values as each column's own list holds them.
        columns = [awards[column].tolist() for column in _AWARD_MESSAGE_COLUMNS]
    return _grouped_awards(zip(*columns, strict=True))


def _grouped_awards(rows: Iterable[tuple]) -> dict[str, list[Award]]:
    """Each participant's `Award` of ``rows`` in their order: (participant, order id, side,
    pool, quantity [Wh], price [USD/kWh], counterparty)."""
    records: dict[str, list[Award]] = {}
    for participant, order_id, side, pool, quantity_wh, price, counterparty in rows:
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


def trade_awards_by_participant(trades: pd.DataFrame) -> dict[str, list[Award]]:
    """Each participant's awards of one interval's trades, without the awards table between:
    ``awards_by_participant(awards_table(trades))``.

    Parameters
    ----------
    trades : pandas.DataFrame
        One interval's trades, named by the households' own order ids: ``buy_order_id``,
        ``sell_order_id``, ``buyer``, ``seller``, ``quantity_wh`` [Wh],
        ``price_usd_per_kwh`` [USD/kWh] and ``pool``.

    Returns
    -------
    dict of str to list of Award
        Per participant, its awards by order id, a trade's buy before its sell and trades in
        table order; a central counterparty's side (an empty order id) is not an award.

    Notes
    -----
    The market builds the awards table of a flush's intervals once, when it writes them; the
    messages of each clearing need only these lists, which the awards table cost several times
    over to make for a few dozen trades.

    Examples
    --------
    >>> trades = pd.DataFrame({"buy_order_id": ["b"], "sell_order_id": ["s"],
    ...     "buyer": ["h1"], "seller": ["h2"], "quantity_wh": [250],
    ...     "price_usd_per_kwh": [0.1], "pool": ["non_dispatchable"]})
    >>> [(award.side, award.quantity_wh) for award in trade_awards_by_participant(trades)["h2"]]
    [('sell', 250)]
    """
    if trades.empty:
        return {}
    columns = column_lists(trades, _MESSAGE_TRADE_COLUMNS)
    if columns is None or not (
        all(type(text) is str for k in _TRADE_TEXT for text in columns[k])
        and all(type(number) is int for number in columns[_TRADE_QUANTITY])
        and all(type(number) is float for number in columns[_TRADE_PRICE])
    ):
        # Any other values as the awards table reads them (the interval is not in an award).
        return awards_by_participant(awards_table(trades.assign(interval_index=0)))
    buyer, seller, buy_order_id, sell_order_id, pools, quantity_wh, price = columns
    rows = [
        (buyer[k], buy_order_id[k], "buy", pools[k], quantity_wh[k], price[k], seller[k])
        for k in range(len(buyer))
        if buy_order_id[k].rstrip("\x00")
    ] + [
        (seller[k], sell_order_id[k], "sell", pools[k], quantity_wh[k], price[k], buyer[k])
        for k in range(len(seller))
        if sell_order_id[k].rstrip("\x00")
    ]
    # Stable, as the awards table's sort: buys first, in trade order, within one order id.
    rows.sort(key=lambda row: (row[0], row[1]))
    return _grouped_awards(rows)


#: The columns of a trades table its awards are made of (`trade_awards_by_participant`),
#: and the positions among them of the text columns, the quantity and the price.
_MESSAGE_TRADE_COLUMNS = (
    "buyer",
    "seller",
    "buy_order_id",
    "sell_order_id",
    "pool",
    "quantity_wh",
    "price_usd_per_kwh",
)
_TRADE_TEXT, _TRADE_QUANTITY, _TRADE_PRICE = range(5), 5, 6

_SIDES = np.array(["buy", "sell"])
#: The columns of a trades table an award is made of (in the order `_awards` reads them).
_TRADE_COLUMNS = (
    "buyer",
    "seller",
    "interval_index",
    "buy_order_id",
    "sell_order_id",
    "pool",
    "quantity_wh",
    "price_usd_per_kwh",
)
#: Labels of the awards table and where each kind of column goes: ``interval_index`` and
#: ``quantity_wh`` (int64), ``price_usd_per_kwh`` (float64), then the text columns
#: ``participant``, ``order_id``, ``counterparty``, ``side`` and ``pool``.
_AWARD_LABELS = pd.Index(
    [
        "interval_index",
        "participant",
        "order_id",
        "side",
        "pool",
        "quantity_wh",
        "price_usd_per_kwh",
        "counterparty",
    ]
)
_INT_PLACEMENT = np.array([0, 5])
_FLOAT_PLACEMENT = np.array([6])
_TEXT_PLACEMENTS = tuple(np.array([k]) for k in (1, 2, 7, 3, 4))
# Read only: pandas keeps these arrays in every awards table it builds from them.
for _placement in (_INT_PLACEMENT, _FLOAT_PLACEMENT, *_TEXT_PLACEMENTS):
    _placement.flags.writeable = False


def _inferred_str_dtype() -> pd.StringDtype | None:
    """The dtype pandas infers for a column of str when it is pyarrow's ``str``, else None."""
    if create_dataframe_from_blocks is None:  # pragma: no cover - pandas 2
        return None
    dtype = pd.DataFrame({"x": np.array(["x"], dtype=object)}).dtypes.iloc[0]
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        return dtype
    return None  # pragma: no cover - pandas without the str dtype


#: The dtype of an awards table's text columns, as pandas infers it (None: pandas keeps such
#: columns as objects, and the table is built as any other).
_STR_DTYPE = _inferred_str_dtype()
#: The awards table's columns an award message is made of: all but ``interval_index``.
_AWARD_MESSAGE_COLUMNS = tuple(_AWARD_LABELS[1:])
#: Positions in `_AWARD_MESSAGE_COLUMNS` of the text columns, the quantity and the price.
_MESSAGE_TEXT, _MESSAGE_QUANTITY, _MESSAGE_PRICE = (0, 1, 2, 3, 6), 4, 5


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
