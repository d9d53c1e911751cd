"""The market's per-interval fast paths give what the pandas calls they replace give."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tefed.domain.market.frames import column_array, str_array, typed_frame
from tefed.domain.market.mechanisms.order_book import ranked_book
from tefed.domain.market.pool_prices import grouped_sums, pool_prices

#: Whether pandas infers its ``str`` dtype for text (pandas >= 3): these tables' text columns
#: are pinned to it.
STR_INFERRED = isinstance(pd.Series(np.array(["a"], dtype=object)).dtype, pd.StringDtype)


def _constructed(columns: dict) -> pd.DataFrame:
    index = pd.RangeIndex(len(next(iter(columns.values()))))
    return pd.DataFrame(
        {
            name: pd.Series(values, index=index, dtype=object) if values.dtype == object else values
            for name, values in columns.items()
        },
        index=index,
    )


@pytest.mark.parametrize("rows", [0, 1, 7])
def test_typed_frame_is_the_constructed_table(rows: int) -> None:
    columns = {
        "order_id": np.array([f"o{k}" for k in range(rows)], dtype=object),
        "quantity_wh": np.arange(rows, dtype=np.int64),
        "price_usd_per_kwh": np.linspace(0.1, 0.2, rows),
        "sequence": np.arange(rows, dtype=np.int64) * 2,
        "divisible": np.ones(rows, dtype=bool),
        "pool": pd.array(["dispatchable"] * rows, dtype=str),
    }
    frame = typed_frame(columns)
    pd.testing.assert_frame_equal(frame, _constructed(columns), check_exact=True)
    assert frame.columns.dtype == pd.Index(list(columns)).dtype


@pytest.mark.skipif(not STR_INFERRED, reason="pandas 2 keeps a lone numpy column uncopied")
def test_typed_frame_copies_numpy_columns() -> None:
    quantity_wh = np.array([1, 2], dtype=np.int64)
    frame = typed_frame({"quantity_wh": quantity_wh})
    quantity_wh[0] = 99
    assert frame["quantity_wh"].tolist() == [1, 2]


def test_typed_frame_converts_other_columns_as_pandas_does() -> None:
    # numpy str is not kept as it is: the constructor infers pandas' str dtype
    columns = {"x": np.array(["a", "b"]), "y": np.array([1.0, 2.0])}
    pd.testing.assert_frame_equal(
        typed_frame(columns), pd.DataFrame(columns, index=pd.RangeIndex(2))
    )


def test_column_array_is_the_series_array_read_only() -> None:
    frame = typed_frame(
        {"q": np.array([3, 4], dtype=np.int64), "s": pd.array(["a", "b"], dtype=str)}
    )
    q = column_array(frame, "q")
    assert q.tolist() == [3, 4] and not q.flags.writeable
    assert column_array(frame, "q", dtype=float).dtype == np.float64
    assert column_array(frame, "s", dtype=object).tolist() == ["a", "b"]
    with pytest.raises(KeyError):
        column_array(frame, "missing")


def test_str_array_is_pandas_str_array() -> None:
    values = ["h02", "h01", "ü"]
    pd.testing.assert_extension_array_equal(str_array(values), pd.array(values, dtype=str))


@pytest.mark.parametrize("seed", range(40))
def test_grouped_sums_are_pandas_grouped_sums(seed: int) -> None:
    rng = np.random.default_rng(seed)
    size = int(rng.integers(1, 80))
    values = rng.uniform(-1.0, 1.0, size) * 10.0 ** rng.integers(-3, 9, size)
    groups = rng.integers(0, 3, size)
    if seed % 2:
        groups = np.sort(groups)
    groups = np.unique(groups, return_inverse=True)[1].astype(np.intp)
    expected = pd.Series(values).groupby(groups).sum().to_numpy()
    got = grouped_sums(values, groups.tolist(), int(groups.max()) + 1)
    assert got.tobytes() == expected.tobytes()


def test_pool_prices_by_hand() -> None:
    trades = pd.DataFrame(
        {
            "quantity_wh": [100, 300, 50],
            "price_usd_per_kwh": [0.10, 0.20, 0.40],
            "pool": ["non_dispatchable", "non_dispatchable", "dispatchable"],
        }
    )
    prices = pool_prices(trades)
    assert list(prices) == ["pool:dispatchable", "pool:non_dispatchable"]
    assert prices["pool:dispatchable"] == pytest.approx(0.40)
    assert prices["pool:non_dispatchable"] == pytest.approx((10.0 + 60.0) / 400)


def test_ranked_book_of_object_and_str_columns_agree() -> None:
    orders = pd.DataFrame(
        {
            "order_id": ["b", "a", "c", "d"],
            "participant": ["h2", "h1", "h2", "h3"],
            "side": ["buy", "sell", "buy", "sell"],
            "quantity_wh": [10, 20, 30, 40],
            "price_usd_per_kwh": [0.3, 0.1, 0.3, 0.2],
            "sequence": [3, 2, 1, 0],
        }
    )
    as_str = ranked_book(orders)
    as_objects = ranked_book(orders.astype({"order_id": object, "participant": object}))
    # float quantities take the general checks
    general = ranked_book(orders.astype({"quantity_wh": float}))
    for book in (as_objects, general):
        assert book.order_id.tolist() == as_str.order_id.tolist() == ["c", "b", "a", "d"]
        assert book.participant_names.tolist() == ["h1", "h2", "h3"]
        assert book.participant_code.tolist() == as_str.participant_code.tolist() == [1, 1, 0, 2]
        assert book.quantity_wh.dtype == np.int64 and book.bid_count == 2
