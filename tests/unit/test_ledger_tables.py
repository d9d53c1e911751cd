"""awards_table, awards_by_participant and the payment checks on hand-made intervals: the
row-by-row paths for plain tables give what the column-wise paths give for any other."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tefed.contract.messages import Award
from tefed.domain.market.ledger import (
    awards_by_participant,
    awards_table,
    column_lists,
    trade_awards_by_participant,
)
from tefed.domain.market.ledger_checks import check_market_balances, check_payments
from tefed.domain.market.trade_checks import check_trades

#: Whether pandas infers its ``str`` dtype for text (pandas >= 3): these tables' text columns
#: are pinned to it.
STR_INFERRED = isinstance(pd.Series(np.array(["a"], dtype=object)).dtype, pd.StringDtype)

PV, BATTERY = "non_dispatchable", "dispatchable"


def trades(**columns: list) -> pd.DataFrame:
    """Three trades of interval 7: h2 sells to h1 twice, the grid sells to h3 (no order)."""
    table = {
        "interval_index": [7, 7, 7],
        "buy_order_id": ["b1", "b1", "b3"],
        "sell_order_id": ["s2", "s2b", ""],
        "buyer": ["h1", "h1", "h3"],
        "seller": ["h2", "h2", "grid"],
        "quantity_wh": [100, 50, 20],
        "price_usd_per_kwh": [0.125, 0.25, 0.5],
        "pool": [PV, BATTERY, PV],
    }
    return pd.DataFrame(table | columns)


def expected_awards() -> pd.DataFrame:
    """The awards of `trades`, by interval, participant and order (the grid has none)."""
    return pd.DataFrame(
        {
            "interval_index": np.array([7, 7, 7, 7, 7], dtype=np.int64),
            "participant": ["h1", "h1", "h2", "h2", "h3"],
            "order_id": ["b1", "b1", "s2", "s2b", "b3"],
            "side": ["buy", "buy", "sell", "sell", "buy"],
            "pool": [PV, BATTERY, PV, BATTERY, PV],
            "quantity_wh": np.array([100, 50, 100, 50, 20], dtype=np.int64),
            "price_usd_per_kwh": [0.125, 0.25, 0.125, 0.25, 0.5],
            "counterparty": ["h2", "h2", "h1", "h1", "grid"],
        }
    )


@pytest.mark.skipif(not STR_INFERRED, reason="pandas without its str dtype")
@pytest.mark.parametrize("text", ["str", object])
def test_awards_table_rows_and_inferred_dtypes(text: object) -> None:
    names = ["buy_order_id", "sell_order_id", "buyer", "seller", "pool"]
    table = trades().astype(dict.fromkeys(names, text))
    awards = awards_table(table)
    pd.testing.assert_frame_equal(awards, expected_awards(), check_exact=True)
    assert isinstance(awards.index, pd.RangeIndex)


@pytest.mark.skipif(not STR_INFERRED, reason="pandas without its str dtype")
def test_awards_table_of_other_values_as_pandas_infers_them() -> None:
    # A missing pool is no str: the table is built column by column, its dtypes inferred.
    table = trades(pool=[PV, None, PV]).astype({"pool": object})
    awards = awards_table(table)
    expected = expected_awards().astype({"pool": object})
    expected["pool"] = pd.array([PV, np.nan, PV, np.nan, PV], dtype="str")
    pd.testing.assert_frame_equal(awards, expected, check_exact=True)


def test_awards_table_without_any_award_keeps_the_columns() -> None:
    only_grid = trades(buy_order_id=["", "", ""], sell_order_id=["", "", ""])
    awards = awards_table(only_grid)
    assert awards.empty
    assert list(awards.columns) == list(expected_awards().columns)
    assert awards_by_participant(awards) == {}


def test_awards_by_participant_in_order_of_first_award() -> None:
    awards = awards_by_participant(awards_table(trades()))
    assert list(awards) == ["h1", "h2", "h3"]
    sold = {"side": "sell", "counterparty": "h1"}
    assert awards["h2"] == [
        Award(order_id="s2", pool=PV, quantity_wh=100, price_usd_per_kwh=0.125, **sold),
        Award(order_id="s2b", pool=BATTERY, quantity_wh=50, price_usd_per_kwh=0.25, **sold),
    ]


def random_trades(seed: int, size: int) -> pd.DataFrame:
    """``size`` trades among three households and the grid, with orders whose ids repeat and
    sort apart from their trade order, some bought and sold by the same household."""
    rng = np.random.default_rng(seed)
    names = np.array(["h1", "h2", "h3", "grid"], dtype=object)
    buyer = names[rng.integers(0, 4, size)]
    seller = names[rng.integers(0, 4, size)]
    ids = np.array(["o9", "o10", "a", "o2"], dtype=object)

    def order_ids(party: np.ndarray) -> np.ndarray:
        return np.where(party == "grid", "", ids[rng.integers(0, 4, size)]).astype(object)

    return pd.DataFrame(
        {
            "buy_order_id": order_ids(buyer),
            "sell_order_id": order_ids(seller),
            "buyer": buyer,
            "seller": seller,
            "quantity_wh": rng.integers(1, 500, size),
            "price_usd_per_kwh": rng.uniform(-0.1, 0.3, size),
            "pool": np.array([PV, BATTERY], dtype=object)[rng.integers(0, 2, size)],
        }
    )


@pytest.mark.parametrize("seed", range(12))
def test_awards_of_trades_are_those_of_the_awards_table(seed: int) -> None:
    table = random_trades(seed, size=seed * 3)
    expected = awards_by_participant(awards_table(table.assign(interval_index=4)))
    assert trade_awards_by_participant(table) == expected
    as_str = table.astype(dict.fromkeys(["buyer", "seller", "pool"], "str"))
    assert trade_awards_by_participant(as_str) == expected


def test_awards_of_unusual_trades_take_the_awards_table() -> None:
    for table in (trades(quantity_wh=[100.0, 50.0, 20.0]), trades(price_usd_per_kwh=[1, 2, 3])):
        expected = awards_by_participant(awards_table(table))
        assert trade_awards_by_participant(table) == expected
    assert trade_awards_by_participant(trades().iloc[:0]) == {}
    only_grid = trades(buy_order_id=["", "", ""], sell_order_id=["", "", ""])
    assert trade_awards_by_participant(only_grid) == {}


def test_column_lists_reads_what_each_column_holds() -> None:
    table = trades().astype({"buyer": object})
    assert column_lists(table, ["seller", "quantity_wh", "price_usd_per_kwh"]) == [
        ["h2", "h2", "grid"],
        [100, 50, 20],
        [0.125, 0.25, 0.5],
    ]
    with pytest.raises(KeyError):
        column_lists(table, ["nothing"])
    twice = pd.concat([table[["buyer"]], table[["buyer"]]], axis=1)
    assert column_lists(twice, ["buyer"]) is None


def test_column_lists_of_every_kind_of_column_as_each_series_converts() -> None:
    table = pd.DataFrame(
        {
            "int": np.array([1, 2, 3], dtype=np.int32),
            "float": [0.5, np.nan, 2.0],
            "bool": [True, False, True],
            "text": pd.array(["a", None, "c"], dtype="str"),
            "objects": np.array(["a", None, 3], dtype=object),
            "nullable": pd.array([1, None, 3], dtype="Int64"),
            "time": pd.to_datetime(["2022-06-21", "2022-06-22", None]),
            "zoned": pd.date_range("2022-06-21", periods=3, freq="h", tz="America/Chicago"),
            "category": pd.Categorical(["x", "y", "x"]),
            "complex": np.array([1 + 2j, 0j, -1j]),
        }
    )
    names = list(table.columns)
    expected = [table[name].to_numpy(dtype=object).tolist() for name in names]
    listed = column_lists(table, names[::-1])
    for name, got, want in zip(names[::-1], listed, expected[::-1], strict=True):
        assert [type(value) for value in got] == [type(value) for value in want], name
        assert pd.Series(got, dtype=object).equals(pd.Series(want, dtype=object)), name


def payments(amounts: list[float]) -> pd.DataFrame:
    """Trade payments between h1 and h2 in the PV pool, one row per amount (h1 and h2 paying in
    turn), then a grid import, which is no trade payment."""
    size = len(amounts)
    payers = [("h1", "h2") if row % 2 == 0 else ("h2", "h1") for row in range(size)]
    table = pd.DataFrame(
        {
            "participant": [payer for payer, _ in payers] + ["h1"],
            "counterparty": [payee for _, payee in payers] + ["grid"],
            "pool": [PV] * size + [""],
            "amount_usd": [*amounts, 0.5],
            "reason": ["trade"] * size + ["grid_import"],
        }
    )
    return table.astype(dict.fromkeys(["participant", "counterparty", "pool", "reason"], object))


def test_pair_sums_row_by_row_and_total_as_numpy_sums() -> None:
    # Nine amounts whose running sum (numpy.bincount's, per pair) and pairwise sum (numpy.sum's,
    # of the total) differ from the 11th digit on: 1.901999999977648 and 1.9019999999320134.
    amounts = [1e6, 0.1, 0.001, 0.2, -1e6, 0.7, 0.7, 0.001, 0.2]
    assert check_payments(payments(amounts)) == [
        f"trade payments between 'h1' and 'h2' in pool '{PV}' do not cancel: they sum to "
        "1.90199999998 USD",
        "trade payments do not cancel: they sum to 1.90199999993 USD, expected 0",
    ]


def test_missing_amounts_and_reasons_count_as_nothing() -> None:
    ledger = payments([0.25, -0.25, np.nan])
    assert check_payments(ledger) == []
    ledger["reason"] = ledger["reason"].astype(object)
    ledger.loc[0, "reason"] = None
    assert check_payments(ledger) == [
        f"trade payments between 'h1' and 'h2' in pool '{PV}' do not cancel: they sum to -0.25 USD",
        "trade payments do not cancel: they sum to -0.25 USD, expected 0",
    ]


def test_pairs_are_reported_by_name_whatever_the_row_order() -> None:
    ledger = pd.DataFrame(
        {
            "participant": ["h3", "h1", "h2"],
            "counterparty": ["h2", "h2", "h1"],
            "pool": [PV, PV, BATTERY],
            "amount_usd": [0.5, 0.25, -0.75],
            "reason": ["trade", "trade", "trade"],
        }
    ).astype(object)
    ledger["amount_usd"] = ledger["amount_usd"].astype(float)
    assert check_payments(ledger) == [
        f"trade payments between 'h1' and 'h2' in pool '{BATTERY}' do not cancel: they sum to "
        "-0.75 USD",
        f"trade payments between 'h1' and 'h2' in pool '{PV}' do not cancel: they sum to 0.25 USD",
        f"trade payments between 'h2' and 'h3' in pool '{PV}' do not cancel: they sum to 0.5 USD",
    ]


def test_market_balances_without_and_with_the_market() -> None:
    assert check_market_balances(trades().iloc[:0]) == []
    with pytest.raises(KeyError):
        check_market_balances(pd.DataFrame())
    assert check_market_balances(trades()) == []
    sold = trades(seller=["h2", "h2", "market"])
    assert check_market_balances(sold) == [
        "the market bought 0 Wh and sold 20 Wh, expected equal energy",
        "the market's trade payments leave it 0.01 USD, expected 0",
    ]


@pytest.mark.parametrize("ids", ["str", object])
def test_check_trades_reads_ids_of_either_dtype(ids: object) -> None:
    orders = pd.DataFrame(
        {
            "order_id": ["b1", "s2"],
            "participant": ["h1", "h2"],
            "side": ["buy", "sell"],
            "quantity_wh": [100, 100],
            "price_usd_per_kwh": [0.2, 0.1],
        }
    ).astype({"order_id": ids})
    sound = trades().iloc[:1].astype({"buy_order_id": ids, "sell_order_id": ids})
    assert check_trades(sound, orders) == []
    # 2**53 Wh and more are left to the column-wise checks, which find the same.
    huge = orders.assign(quantity_wh=[2**60, 2**60])
    assert check_trades(sound.assign(quantity_wh=[2**60 + 1]), huge) == [
        f"order 'b1' is awarded {2**60 + 1} Wh, more than its {2**60} Wh",
        f"order 's2' is awarded {2**60 + 1} Wh, more than its {2**60} Wh",
    ]
