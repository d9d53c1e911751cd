"""The market's per-interval tables and messages: `interval_first`, `interval_row`,
`settlement_messages` and the column reads and ledger frames they share with settlement."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tefed.domain.market.clearing import ClearingOutcome
from tefed.domain.market.interval_book import IntervalBook
from tefed.domain.market.settlement import (
    LEDGER_COLUMNS,
    charge_rows,
    column_array,
    settle_interval,
)
from tefed.domain.market.trade_tables import TRADE_DTYPES, empty_trades
from tefed.federates.market.interval_tables import (
    interval_first,
    interval_row,
    intervals_first,
    settlement_messages,
)

#: Whether pandas infers its ``str`` dtype for text (pandas >= 3): these tables' text columns
#: are pinned to it.
STR_INFERRED = isinstance(pd.Series(np.array(["a"], dtype=object)).dtype, pd.StringDtype)
pytestmark = pytest.mark.skipif(not STR_INFERRED, reason="pandas without its str dtype")


def _mixed_frame() -> pd.DataFrame:
    """Two rows of every kind of column the market's tables hold, over a non-range index."""
    return pd.DataFrame(
        {
            "quantity_wh": np.array([250, 100], dtype=np.int64),
            "price_usd_per_kwh": [0.1, 0.2],
            "buyer": pd.array(["h1", "h2"], dtype="str"),
            "order_id": pd.Series(["b1", "b2"], index=[7, 9], dtype=object),
            "divisible": [True, False],
        },
        index=[7, 9],
    )


def test_interval_first_puts_the_interval_first_over_a_range_index() -> None:
    table = interval_first(_mixed_frame(), 4)
    assert table.columns.tolist() == [
        "interval_index",
        "quantity_wh",
        "price_usd_per_kwh",
        "buyer",
        "order_id",
        "divisible",
    ]
    assert table["interval_index"].tolist() == [4, 4]
    assert table.index.equals(pd.RangeIndex(2))
    assert isinstance(table.index, pd.RangeIndex)
    expected = ["int64", "int64", "float64", "str", "object", "bool"]
    assert table.dtypes.astype(str).tolist() == expected
    assert table["buyer"].tolist() == ["h1", "h2"]
    assert table["order_id"].tolist() == ["b1", "b2"]
    assert table["price_usd_per_kwh"].tolist() == [0.1, 0.2]


def test_interval_first_replaces_an_interval_column_it_had() -> None:
    frame = pd.DataFrame({"a": [1.5], "interval_index": np.array([9], dtype=np.int64)})
    table = interval_first(frame, 3)
    assert table.columns.tolist() == ["interval_index", "a"]
    assert table["interval_index"].tolist() == [3]
    assert frame.columns.tolist() == ["a", "interval_index"]  # the input is left as it was


def test_interval_first_table_is_independent_of_its_frame() -> None:
    frame = _mixed_frame()
    table = interval_first(frame, 4)
    frame.loc[7, "quantity_wh"] = 1
    frame.loc[7, "buyer"] = "h9"
    assert table["quantity_wh"].tolist() == [250, 100]
    assert table["buyer"].tolist() == ["h1", "h2"]
    table.loc[0, "price_usd_per_kwh"] = 9.0
    assert frame["price_usd_per_kwh"].tolist() == [0.1, 0.2]


@pytest.mark.parametrize(
    "column",
    [
        pd.Series(pd.to_datetime(["2022-06-21", "2022-06-22"]).tz_localize("UTC")),
        pd.Series(["x", "y"], dtype="category"),
    ],
    ids=["datetime", "category"],
)
def test_interval_first_keeps_other_column_kinds(column: pd.Series) -> None:
    frame = pd.DataFrame({"a": [1, 2], "b": column})
    table = interval_first(frame, 5)
    assert table.columns.tolist() == ["interval_index", "a", "b"]
    assert table["b"].dtype == frame["b"].dtype
    assert table["b"].tolist() == frame["b"].tolist()


def test_interval_first_keeps_attrs_of_its_frame() -> None:
    frame = pd.DataFrame({"a": [1]})
    frame.attrs["source"] = "test"
    assert interval_first(frame, 0).attrs == {"source": "test"}


def test_interval_first_of_empty_trades_has_the_trade_dtypes() -> None:
    table = interval_first(empty_trades(), 2)
    assert len(table) == 0
    assert table.dtypes.astype(str).to_dict() == {"interval_index": "int64", **TRADE_DTYPES}


def test_intervals_first_is_the_concatenation_of_each_interval_first() -> None:
    frame = _mixed_frame()
    empty = frame.iloc[:0]
    tables = [(3, empty), (4, frame), (5, empty), (6, frame.iloc[::-1])]
    expected = pd.concat(
        [interval_first(table, interval) for interval, table in tables if len(table)],
        ignore_index=True,
    )
    combined = intervals_first(tables)
    pd.testing.assert_frame_equal(combined, expected, check_exact=True)
    assert combined["interval_index"].tolist() == [4, 4, 6, 6]
    pd.testing.assert_frame_equal(intervals_first(tables[1:2]), interval_first(frame, 4))


def test_intervals_first_without_rows_is_the_first_table_empty() -> None:
    trades = empty_trades()
    combined = intervals_first([(8, trades), (9, trades)])
    pd.testing.assert_frame_equal(combined, interval_first(trades, 8), check_exact=True)
    assert intervals_first([]) is None


def test_column_array_reads_like_series_to_numpy() -> None:
    frame = _mixed_frame()
    quantity_wh = column_array(frame, "quantity_wh", np.float64)
    assert quantity_wh.dtype == np.float64
    assert quantity_wh.tolist() == [250.0, 100.0]
    buyer = column_array(frame, "buyer", object)
    assert buyer.dtype == object
    assert buyer.tolist() == ["h1", "h2"]
    price = column_array(frame, "price_usd_per_kwh", np.float64)
    assert not price.flags.writeable  # the frame's own array: read only
    with pytest.raises(KeyError):
        column_array(frame, "seller", object)


def test_column_array_of_a_repeated_label_takes_the_series_path() -> None:
    frame = pd.DataFrame([[1.0, 2.0]], columns=["a", "a"])
    assert column_array(frame, "a", np.float64).shape == (1, 2)


def test_ledgers_have_the_ledger_columns_and_their_own_labels() -> None:
    energy = pd.Series({"a": 800.0, "b": -900.0})
    trades = pd.DataFrame(
        {"buyer": ["a"], "seller": ["b"], "quantity_wh": [1000], "price_usd_per_kwh": [0.1]}
    )
    charges = pd.DataFrame(
        {
            "participant": ["a"],
            "counterparty": ["market"],
            "price_usd_per_kwh": [0.002],
            "amount_usd": [0.002],
            "reason": ["service_fee"],
        }
    )
    ledgers = [
        settle_interval(energy, trades, 0.15, 0.05),
        settle_interval(energy, trades.iloc[:0], 0.15, 0.05),
        charge_rows(charges),
    ]
    for ledger in ledgers:
        assert ledger.dtypes.astype(str).to_dict() == LEDGER_COLUMNS
        assert isinstance(ledger.index, pd.RangeIndex)
    ledgers[0].columns.name = "renamed"
    assert ledgers[1].columns.name is None
    # Without trades each participant's metered energy is its grid import or export.
    no_trades = ledgers[1]
    assert no_trades["reason"].tolist() == ["grid_import", "grid_export"]
    assert no_trades["side"].tolist() == ["buy", "sell"]
    assert no_trades["pool"].tolist() == ["", ""]
    assert no_trades["amount_usd"].tolist() == [800.0 / 1000.0 * 0.15, -900.0 / 1000.0 * 0.05]


def test_settlement_messages_of_the_docstring_example() -> None:
    participants = pd.Index(["a", "b"])
    energy_wh = np.array([800.0, -900.0])
    trades = pd.DataFrame(
        {"buyer": ["a"], "seller": ["b"], "quantity_wh": [1000], "price_usd_per_kwh": [0.1]}
    )
    ledger = settle_interval(pd.Series(energy_wh, index=participants), trades, 0.15, 0.05)
    messages = settlement_messages(3, participants, ["to/a", "to/b"], energy_wh, ledger)
    assert [message.destination for message in messages] == ["to/a", "to/b"]
    a, b = (json.loads(message.payload) for message in messages)
    assert a["interval_index"] == 3
    assert a["awarded_net_energy_wh"] == 1000
    assert b["awarded_net_energy_wh"] == -1000
    assert [line["reason"] for line in a["lines"]] == ["trade", "unused"]
    assert [line["reason"] for line in b["lines"]] == ["trade", "unused", "grid_export"]
    assert a["amount_usd"] == 0.1 + 0.0
    assert b["amount_usd"] == -0.1 + 0.0 + -100.0 / 1000.0 * 0.05


def test_interval_row_counts_orders_bids_asks_and_curves() -> None:
    book = IntervalBook(
        interval_index=5,
        interval_s=900,
        simple=pd.DataFrame({"side": ["buy", "sell", "buy"]}),
        curves=pd.DataFrame({"order_id": ["c1", "c1", "c2"]}),
        affine=pd.DataFrame({"side": ["sell"]}),
    )
    outcome = ClearingOutcome(trades=empty_trades(), status="cleared")
    row = interval_row(5, book, outcome)
    assert {key: row[key] for key in ("orders", "bids", "asks", "curves")} == {
        "orders": 6,
        "bids": 2,
        "asks": 2,
        "curves": 2,
    }
    no_curves = IntervalBook(5, 900, book.simple, book.curves.iloc[:0], book.affine.iloc[:0])
    row = interval_row(5, no_curves, outcome)
    assert (row["orders"], row["bids"], row["asks"], row["curves"]) == (3, 2, 1, 0)
    assert row["traded_energy_wh"] == 0
