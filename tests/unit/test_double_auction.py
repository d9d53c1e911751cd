"""MicroTE double auction, one pool, time priority: hand-computed books and input checks."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tefed.domain.market.mechanisms.double_auction import (
    POOLS,
    SETTLEMENT_RULES,
    TIE_BREAKING,
    TRADE_COLUMNS,
    AuctionResult,
    clear_double_auction,
)

ORDER_COLUMNS = ["order_id", "participant", "side", "quantity_wh", "price_usd_per_kwh", "sequence"]
TRADE_DTYPES = {
    "buy_order_id": "string",
    "sell_order_id": "string",
    "buyer": "string",
    "seller": "string",
    "quantity_wh": "int64",
    "price_usd_per_kwh": "float64",
    "bid_price_usd_per_kwh": "float64",
    "ask_price_usd_per_kwh": "float64",
    "pool": "string",
}


def book(*rows: tuple) -> pd.DataFrame:
    """Orders from (order_id, participant, side, quantity_wh, price_usd_per_kwh, sequence[, pool]).

    The ``pool`` column is added only when every row names a pool.
    """
    with_pool = bool(rows) and all(len(row) == 7 for row in rows)
    columns = [*ORDER_COLUMNS, "pool"] if with_pool else ORDER_COLUMNS
    orders = pd.DataFrame([row[: len(columns)] for row in rows], columns=columns)
    return orders.astype(
        {"quantity_wh": "int64", "price_usd_per_kwh": "float64", "sequence": "int64"}
    )


def trades_as_tuples(result: AuctionResult) -> list[tuple]:
    """(buy, sell, quantity_wh, price_usd_per_kwh) per trade, in matching order."""
    columns = ["buy_order_id", "sell_order_id", "quantity_wh", "price_usd_per_kwh"]
    return list(result.trades[columns].itertuples(index=False, name=None))


def assert_trades_match(result: AuctionResult, expected: list[tuple]) -> None:
    actual = trades_as_tuples(result)
    assert [row[:3] for row in actual] == [row[:3] for row in expected]
    assert [row[3] for row in actual] == pytest.approx([row[3] for row in expected])


def assert_empty_trades(result: AuctionResult) -> None:
    assert result.trades.empty
    assert list(result.trades.columns) == list(TRADE_DTYPES)
    for column, kind in TRADE_DTYPES.items():
        if kind == "string":
            assert pd.api.types.is_string_dtype(result.trades[column]), column
        else:
            assert result.trades[column].dtype == np.dtype(kind), column
    assert result.traded_energy_wh == 0
    assert math.isnan(result.mean_price_usd_per_kwh)


def test_full_fill_at_midpoint() -> None:
    orders = book(
        ("b1", "h01", "buy", 200, 0.25, 0),
        ("s1", "h02", "sell", 200, 0.15, 1),
    )
    result = clear_double_auction(orders)
    assert result.status == "cleared"
    assert_trades_match(result, [("b1", "s1", 200, 0.20)])
    row = result.trades.iloc[0]
    assert (row["buyer"], row["seller"]) == ("h01", "h02")
    assert (row["bid_price_usd_per_kwh"], row["ask_price_usd_per_kwh"]) == (0.25, 0.15)
    assert result.filled_wh.to_dict() == {"b1": 200, "s1": 200}
    assert result.traded_energy_wh == 200
    assert result.mean_price_usd_per_kwh == pytest.approx(0.20)


def test_partial_fills_across_several_orders() -> None:
    # Bids 0.30 (500 Wh) > 0.25 (300 Wh) > 0.12 (400 Wh); asks 0.10 (200) < 0.20 (450) < 0.28 (300).
    # b1 takes s1 whole (200 @ 0.20) and 300 of s2 (@ 0.25); b2 takes the 150 left on s2
    # (@ 0.225); then b2's 0.25 is below s3's 0.28 and the walk stops.
    orders = book(
        ("s3", "h06", "sell", 300, 0.28, 5),
        ("b2", "h02", "buy", 300, 0.25, 1),
        ("s1", "h04", "sell", 200, 0.10, 3),
        ("b3", "h03", "buy", 400, 0.12, 2),
        ("b1", "h01", "buy", 500, 0.30, 0),
        ("s2", "h05", "sell", 450, 0.20, 4),
    )
    result = clear_double_auction(orders)
    expected = pd.DataFrame(
        {
            "buy_order_id": ["b1", "b1", "b2"],
            "sell_order_id": ["s1", "s2", "s2"],
            "buyer": ["h01", "h01", "h02"],
            "seller": ["h04", "h05", "h05"],
            "quantity_wh": np.array([200, 300, 150], dtype=np.int64),
            "price_usd_per_kwh": [0.20, 0.25, 0.225],
            "bid_price_usd_per_kwh": [0.30, 0.30, 0.25],
            "ask_price_usd_per_kwh": [0.10, 0.20, 0.20],
            "pool": ["non_dispatchable"] * 3,
        }
    )
    pd.testing.assert_frame_equal(result.trades, expected, check_dtype=False, rtol=1e-12)
    assert result.trades["quantity_wh"].dtype == np.int64
    assert result.status == "cleared"
    assert result.filled_wh.to_dict() == {
        "b1": 500,
        "b2": 150,
        "b3": 0,
        "s1": 200,
        "s2": 450,
        "s3": 0,
    }
    assert result.filled_wh.dtype == np.int64
    assert result.traded_energy_wh == 650
    # (200·0.20 + 300·0.25 + 150·0.225) / 650 = 148.75 / 650
    assert result.mean_price_usd_per_kwh == pytest.approx(148.75 / 650)


def test_no_crossing() -> None:
    orders = book(
        ("b1", "h01", "buy", 100, 0.10, 0),
        ("s1", "h02", "sell", 100, 0.20, 1),
    )
    result = clear_double_auction(orders)
    assert result.status == "no_crossing"
    assert result.pool_status == {"non_dispatchable": "no_crossing", "dispatchable": "empty"}
    assert_empty_trades(result)
    assert result.filled_wh.to_dict() == {"b1": 0, "s1": 0}


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_one_sided_book(side: str) -> None:
    orders = book(
        ("o1", "h01", side, 100, 0.10, 0),
        ("o2", "h02", side, 250, 0.30, 1),
    )
    result = clear_double_auction(orders)
    assert result.status == "one_sided"
    assert_empty_trades(result)
    assert result.filled_wh.to_dict() == {"o1": 0, "o2": 0}


def test_empty_book() -> None:
    result = clear_double_auction(book())
    assert result.status == "empty"
    assert result.pool_status == dict.fromkeys(POOLS, "empty")
    assert all(math.isnan(price) for price in result.clearing_price_usd_per_kwh.values())
    assert_empty_trades(result)
    assert result.filled_wh.empty
    assert result.filled_wh.dtype == np.int64


def test_ask_price_tie_resolved_by_sequence() -> None:
    # Same ask price: the earlier submission (lower sequence) sells first, whatever its id or row.
    orders = book(
        ("a_late", "h02", "sell", 100, 0.10, 5),
        ("z_early", "h03", "sell", 100, 0.10, 2),
        ("b1", "h01", "buy", 150, 0.20, 7),
    )
    result = clear_double_auction(orders)
    assert_trades_match(result, [("b1", "z_early", 100, 0.15), ("b1", "a_late", 50, 0.15)])


def test_bid_price_tie_resolved_by_sequence() -> None:
    orders = book(
        ("a_late", "h01", "buy", 100, 0.20, 9),
        ("z_early", "h02", "buy", 100, 0.20, 4),
        ("s1", "h03", "sell", 100, 0.10, 0),
    )
    result = clear_double_auction(orders)
    assert_trades_match(result, [("z_early", "s1", 100, 0.15)])
    assert result.filled_wh["a_late"] == 0


def test_full_tie_resolved_by_order_id() -> None:
    orders = book(
        ("s_b", "h02", "sell", 100, 0.10, 3),
        ("s_a", "h03", "sell", 100, 0.10, 3),
        ("b1", "h01", "buy", 100, 0.20, 0),
    )
    result = clear_double_auction(orders)
    assert_trades_match(result, [("b1", "s_a", 100, 0.15)])


def test_negative_prices() -> None:
    # A seller paying to get rid of energy (-0.05) meets a buyer asking to be paid less (-0.02):
    # they trade at (-0.02 - 0.05)/2 = -0.035; the -0.06 bid does not cross the -0.04 ask.
    orders = book(
        ("b1", "h01", "buy", 100, -0.02, 0),
        ("b2", "h02", "buy", 100, -0.06, 1),
        ("s1", "h03", "sell", 100, -0.05, 2),
        ("s2", "h04", "sell", 100, -0.04, 3),
    )
    result = clear_double_auction(orders)
    assert_trades_match(result, [("b1", "s1", 100, -0.035)])
    assert result.filled_wh.to_dict() == {"b1": 100, "b2": 0, "s1": 100, "s2": 0}


@pytest.mark.parametrize(
    ("settlement_rule", "expected_price_usd_per_kwh"),
    [("midpoint", 0.20), ("pay_as_bid", 0.30), ("pay_as_ask", 0.10), ("uniform", 0.20)],
)
def test_settlement_rules(settlement_rule: str, expected_price_usd_per_kwh: float) -> None:
    orders = book(
        ("b1", "h01", "buy", 100, 0.30, 0),
        ("s1", "h02", "sell", 100, 0.10, 1),
    )
    result = clear_double_auction(orders, settlement_rule=settlement_rule)
    assert_trades_match(result, [("b1", "s1", 100, expected_price_usd_per_kwh)])
    assert result.mean_price_usd_per_kwh == pytest.approx(expected_price_usd_per_kwh)


def test_constants() -> None:
    assert SETTLEMENT_RULES == ("midpoint", "pay_as_bid", "pay_as_ask", "uniform")
    assert TIE_BREAKING == ("time", "pro_rata")
    assert POOLS == ("non_dispatchable", "dispatchable")
    # The trades table is TRADE_COLUMNS followed by the pool (callers append "pool" themselves).
    assert "pool" not in TRADE_COLUMNS


def test_self_trade_skips_to_another_participants_ask() -> None:
    # h01 both bids (0.30) and asks (0.05). Its bid skips its own cheaper ask and buys h02's
    # (0.20) at 0.25; the skipped ask stays in the book and sells to h03's 0.10 bid at 0.075.
    orders = book(
        ("b1", "h01", "buy", 100, 0.30, 0),
        ("s1", "h01", "sell", 100, 0.05, 1),
        ("s2", "h02", "sell", 100, 0.20, 2),
        ("b2", "h03", "buy", 100, 0.10, 3),
    )
    result = clear_double_auction(orders)
    assert_trades_match(result, [("b1", "s2", 100, 0.25), ("b2", "s1", 100, 0.075)])
    assert (result.trades["buyer"] != result.trades["seller"]).all()


def test_self_trade_skip_respects_price_of_next_ask() -> None:
    # The only ask below h01's bid is its own; h02's ask (0.20) is above the bid (0.15).
    orders = book(
        ("b1", "h01", "buy", 100, 0.15, 0),
        ("s1", "h01", "sell", 100, 0.05, 1),
        ("s2", "h02", "sell", 100, 0.20, 2),
    )
    result = clear_double_auction(orders)
    assert result.status == "no_crossing"
    assert_empty_trades(result)


def test_only_self_matches_is_no_crossing() -> None:
    orders = book(
        ("b1", "h01", "buy", 100, 0.30, 0),
        ("s1", "h01", "sell", 100, 0.10, 1),
    )
    assert clear_double_auction(orders).status == "no_crossing"


VALID = (
    ("b1", "h01", "buy", 100, 0.30, 0),
    ("s1", "h02", "sell", 100, 0.10, 1),
)


@pytest.mark.parametrize(
    ("change", "field", "value"),
    [
        ({"side": ["buy", "bid"]}, "orders.side", "'bid'"),
        ({"quantity_wh": [100, 0]}, "orders.quantity_wh", "0"),
        ({"quantity_wh": [-5, 100]}, "orders.quantity_wh", "-5"),
        ({"quantity_wh": [100.0, 12.5]}, "orders.quantity_wh", "12.5"),
        ({"price_usd_per_kwh": [np.nan, 0.10]}, "orders.price_usd_per_kwh", "nan"),
        ({"price_usd_per_kwh": [0.30, np.inf]}, "orders.price_usd_per_kwh", "inf"),
        ({"order_id": ["x1", "x1"]}, "orders.order_id", "'x1'"),
        ({"sequence": [0.0, 1.5]}, "orders.sequence", "1.5"),
    ],
)
def test_invalid_orders_name_field_and_value(change: dict, field: str, value: str) -> None:
    orders = book(*VALID).assign(**change)
    with pytest.raises(ValueError, match="expected") as error:
        clear_double_auction(orders)
    assert field in str(error.value)
    assert value in str(error.value)


def test_invalid_order_names_the_offending_order() -> None:
    orders = book(*VALID).assign(side=["buy", "offer"])
    with pytest.raises(ValueError, match=r"'offer' for order_id 's1'"):
        clear_double_auction(orders)


def test_missing_columns() -> None:
    orders = book(*VALID).drop(columns=["price_usd_per_kwh", "sequence"])
    with pytest.raises(ValueError, match=r"missing column.*'price_usd_per_kwh', 'sequence'"):
        clear_double_auction(orders)


def test_unknown_settlement_rule() -> None:
    with pytest.raises(ValueError, match=r"settlement_rule: got 'vickrey', expected one of"):
        clear_double_auction(book(*VALID), settlement_rule="vickrey")


def test_unknown_tie_breaking() -> None:
    with pytest.raises(ValueError, match=r"tie_breaking: got 'random', expected one of"):
        clear_double_auction(book(*VALID), tie_breaking="random")


@pytest.mark.parametrize("pool", ["pv", None])
def test_unknown_pool_names_the_order(pool: object) -> None:
    orders = book(*VALID).assign(pool=["dispatchable", pool])
    with pytest.raises(
        ValueError, match=r"orders\.pool: got .* for order_id 's1', expected one of"
    ):
        clear_double_auction(orders)
