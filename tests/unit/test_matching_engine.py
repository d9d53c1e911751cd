"""Continuous double auction: hand-checked books and validation of orders."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tefed.domain.market.mechanisms.matching_engine import (
    BOOK_COLUMNS,
    FILL_COLUMNS,
    Fill,
    MatchingEngine,
)

EXPIRES_S = 3_600.0


def submit(engine: MatchingEngine, order_id, participant, side, quantity_wh, price, time_s=0.0,
           expires_s=EXPIRES_S, divisible=True) -> list[Fill]:  # fmt: skip
    return engine.submit(
        order_id, participant, side, quantity_wh, price, time_s, expires_s, divisible
    )


def trades(fills: list[Fill]) -> list[tuple]:
    """(buy instance, sell instance, quantity_wh, price_usd_per_kwh) per fill."""
    return [(f.buy_order_id, f.sell_order_id, f.quantity_wh, f.price_usd_per_kwh) for f in fills]


def standing(engine: MatchingEngine) -> list[tuple]:
    """(order_id, parent_order_id, quantity_wh) of the book, bids then asks in rank order."""
    columns = ["order_id", "parent_order_id", "quantity_wh"]
    return list(engine.book()[columns].itertuples(index=False, name=None))


# --- hand-checked books ----------------------------------------------------------------------


def test_price_priority_cheapest_ask_first_at_resting_prices() -> None:
    engine = MatchingEngine()
    submit(engine, "s1", "h01", "sell", 200, 0.12, time_s=0)
    submit(engine, "s2", "h02", "sell", 200, 0.10, time_s=1)
    submit(engine, "s3", "h03", "sell", 200, 0.11, time_s=2)
    fills = submit(engine, "b1", "h04", "buy", 500, 0.12, time_s=3)
    # 200 @ 0.10, then 200 @ 0.11, then 100 of the 0.12 ask: the bidder pays each ask's price.
    assert trades(fills) == [
        ("b1", "s2", 200, 0.10),
        ("b1.1", "s3", 200, 0.11),
        ("b1.2", "s1", 100, 0.12),
    ]
    assert [f.buy_child_order_id for f in fills] == ["b1.1", "b1.2", None]
    assert standing(engine) == [("s1.1", "s1", 100)]


def test_bid_price_priority_for_an_arriving_ask() -> None:
    engine = MatchingEngine()
    submit(engine, "b1", "h01", "buy", 100, 0.09, time_s=0)
    submit(engine, "b2", "h02", "buy", 100, 0.13, time_s=1)
    fills = submit(engine, "s1", "h03", "sell", 150, 0.05, time_s=2)
    # The dearest bid first, each at the bid's (resting) price, not at the ask's 0.05.
    assert trades(fills) == [("b2", "s1", 100, 0.13), ("b1", "s1.1", 50, 0.09)]
    assert [f.resting_order_id for f in fills] == ["b2", "b1"]
    assert standing(engine) == [("b1.1", "b1", 50)]


@pytest.mark.parametrize(
    ("priority", "expected_trades", "expected_book"),
    [
        # Age: the older 100 Wh ask s1 first, then 100 Wh of s2; 200 Wh of s2 remain.
        ("age", [("b1", "s1", 100, 0.10), ("b1.1", "s2", 100, 0.10)], [("s2.1", "s2", 200)]),
        # Volume: the larger 300 Wh ask s2 alone; s1 and the 100 Wh rest of s2 tie on volume
        # and rank by age.
        ("volume", [("b1", "s2", 200, 0.10)], [("s1", "s1", 100), ("s2.1", "s2", 100)]),
    ],
)
def test_age_and_volume_priority_differ_at_equal_price(
    priority: str, expected_trades: list, expected_book: list
) -> None:
    engine = MatchingEngine(priority=priority)
    submit(engine, "s1", "h01", "sell", 100, 0.10, time_s=0)
    submit(engine, "s2", "h02", "sell", 300, 0.10, time_s=10)
    fills = submit(engine, "b1", "h03", "buy", 200, 0.10, time_s=20)
    assert trades(fills) == expected_trades
    assert standing(engine) == expected_book


def test_volume_priority_ranks_the_book_by_size_within_a_price() -> None:
    engine = MatchingEngine(priority="volume")
    submit(engine, "s1", "h01", "sell", 100, 0.10, time_s=0)
    submit(engine, "s2", "h02", "sell", 300, 0.10, time_s=10)
    submit(engine, "s3", "h03", "sell", 900, 0.11, time_s=20)
    assert engine.book()["order_id"].tolist() == ["s2", "s1", "s3"]


def test_partial_fills_create_traceable_children() -> None:
    engine = MatchingEngine()
    submit(engine, "s1", "h01", "sell", 500, 0.10, time_s=0)

    (first,) = submit(engine, "b1", "h02", "buy", 200, 0.10, time_s=1)
    assert (first.sell_order_id, first.sell_parent_order_id, first.sell_child_order_id) == (
        "s1",
        "s1",
        "s1.1",
    )
    assert first.buy_child_order_id is None
    assert standing(engine) == [("s1.1", "s1", 300)]

    (second,) = submit(engine, "b2", "h03", "buy", 100, 0.10, time_s=2)
    assert (second.sell_order_id, second.sell_parent_order_id, second.sell_child_order_id) == (
        "s1.1",
        "s1",
        "s1.2",
    )
    assert standing(engine) == [("s1.2", "s1", 200)]

    # An arriving bid larger than the book: the rest stands as its own child b3.1.
    (third,) = submit(engine, "b3", "h04", "buy", 450, 0.11, time_s=3)
    assert trades([third]) == [("b3", "s1.2", 200, 0.10)]
    assert (third.sell_child_order_id, third.buy_child_order_id) == (None, "b3.1")
    assert standing(engine) == [("b3.1", "b3", 250)]
    assert engine.book()["price_usd_per_kwh"].tolist() == [0.11]
    assert engine.book()["time_s"].tolist() == [3.0]

    sold_wh = engine.fills.groupby("sell_parent_order_id")["quantity_wh"].sum()
    assert sold_wh.to_dict() == {"s1": 500}
    assert engine.cancel("b3") == 250
    assert engine.cancel("b3.1") == 0
    assert engine.book().empty


def test_child_keeps_the_time_priority_of_its_parent() -> None:
    engine = MatchingEngine()
    submit(engine, "s1", "h01", "sell", 300, 0.10, time_s=0)
    submit(engine, "s2", "h02", "sell", 300, 0.10, time_s=5)
    submit(engine, "b1", "h03", "buy", 100, 0.10, time_s=10)
    # s1.1 (200 Wh left of s1, submitted at 0 s) still goes before s2 (5 s).
    fills = submit(engine, "b2", "h04", "buy", 300, 0.10, time_s=20)
    assert trades(fills) == [("b2", "s1.1", 200, 0.10), ("b2.1", "s2", 100, 0.10)]


def test_child_id_skips_an_id_already_submitted() -> None:
    engine = MatchingEngine()
    submit(engine, "s1", "h01", "sell", 500, 0.10, time_s=0)
    submit(engine, "s1.1", "h01", "sell", 100, 0.20, time_s=0)
    (fill,) = submit(engine, "b1", "h02", "buy", 200, 0.10, time_s=1)
    assert fill.sell_child_order_id == "s1.2"
    with pytest.raises(ValueError, match=r"order 's1.2': order_id already used"):
        submit(engine, "s1.2", "h03", "sell", 1, 0.10, time_s=1)


def test_indivisible_arriving_order_that_cannot_fill_stands_whole() -> None:
    engine = MatchingEngine()
    submit(engine, "s1", "h01", "sell", 300, 0.10, time_s=0)
    assert submit(engine, "b1", "h02", "buy", 500, 0.12, time_s=1, divisible=False) == []
    # The book looks crossed (0.12 bid over a 0.10 ask): the exception of rule 6.
    assert standing(engine) == [("b1", "b1", 500), ("s1", "s1", 300)]
    assert engine.book()["divisible"].tolist() == [False, True]

    # A 200 Wh ask cannot take the indivisible 500 Wh bid and stands too.
    assert submit(engine, "s2", "h03", "sell", 200, 0.11, time_s=2) == []
    # A 600 Wh ask takes all 500 Wh at the bid's resting price 0.12; 100 Wh stand.
    fills = submit(engine, "s3", "h04", "sell", 600, 0.12, time_s=3)
    assert trades(fills) == [("b1", "s3", 500, 0.12)]
    assert standing(engine) == [("s1", "s1", 300), ("s2", "s2", 200), ("s3.1", "s3", 100)]


def test_indivisible_arriving_order_one_wh_short_does_not_trade() -> None:
    engine = MatchingEngine()
    submit(engine, "s1", "h01", "sell", 200, 0.10, time_s=0)
    submit(engine, "s2", "h02", "sell", 299, 0.11, time_s=0)
    assert submit(engine, "b1", "h03", "buy", 500, 0.11, time_s=1, divisible=False) == []
    assert engine.fills.empty
    assert standing(engine) == [("b1", "b1", 500), ("s1", "s1", 200), ("s2", "s2", 299)]


def test_indivisible_arriving_order_fills_from_several_asks() -> None:
    engine = MatchingEngine()
    submit(engine, "s1", "h01", "sell", 200, 0.10, time_s=0)
    submit(engine, "s2", "h02", "sell", 300, 0.11, time_s=0)
    fills = submit(engine, "b1", "h03", "buy", 500, 0.11, time_s=1, divisible=False)
    assert trades(fills) == [("b1", "s1", 200, 0.10), ("b1.1", "s2", 300, 0.11)]
    assert engine.book().empty


def test_indivisible_standing_order_skipped_by_smaller_arriving_order() -> None:
    engine = MatchingEngine()
    submit(engine, "s1", "h01", "sell", 400, 0.08, time_s=0, divisible=False)
    submit(engine, "s2", "h02", "sell", 300, 0.10, time_s=1)
    # 200 Wh cannot take the cheaper indivisible 400 Wh ask, so it buys from s2 at 0.10.
    fills = submit(engine, "b1", "h03", "buy", 200, 0.12, time_s=2)
    assert trades(fills) == [("b1", "s2", 200, 0.10)]
    assert standing(engine) == [("s1", "s1", 400), ("s2.1", "s2", 100)]
    # A 400 Wh bid takes it whole at its price 0.08.
    fills = submit(engine, "b2", "h04", "buy", 400, 0.09, time_s=3)
    assert trades(fills) == [("b2", "s1", 400, 0.08)]
    assert standing(engine) == [("s2.1", "s2", 100)]


def test_expiry_removes_orders_and_their_children() -> None:
    engine = MatchingEngine()
    submit(engine, "s1", "h01", "sell", 300, 0.10, time_s=0, expires_s=600)
    submit(engine, "s2", "h02", "sell", 100, 0.11, time_s=0, expires_s=1_200)
    assert engine.advance_to(99).empty
    submit(engine, "b1", "h03", "buy", 100, 0.12, time_s=100)
    assert engine.advance_to(599).empty

    expired = engine.advance_to(600)  # an order stands while time_s < expires_s
    assert list(expired.columns) == list(BOOK_COLUMNS)
    assert expired[["order_id", "parent_order_id", "quantity_wh", "expires_s"]].values.tolist() == [
        ["s1.1", "s1", 200, 600.0]
    ]
    assert engine.time_s == 600.0
    assert standing(engine) == [("s2", "s2", 100)]

    # s2 expires inside the submit at 1_200 s, before the bid is matched.
    assert submit(engine, "b2", "h03", "buy", 300, 0.12, time_s=1_200, expires_s=1_800) == []
    assert engine.expired["order_id"].tolist() == ["s1.1", "s2"]
    assert standing(engine) == [("b2", "b2", 300)]
    assert engine.cancel("s2") == 0


def test_self_trade_is_skipped() -> None:
    engine = MatchingEngine()
    submit(engine, "s1", "h01", "sell", 100, 0.10, time_s=0)
    submit(engine, "s2", "h02", "sell", 100, 0.11, time_s=1)
    fills = submit(engine, "b1", "h01", "buy", 150, 0.12, time_s=2)
    # h01's own cheaper ask is passed over; it keeps its rank for other buyers.
    assert trades(fills) == [("b1", "s2", 100, 0.11)]
    assert standing(engine) == [("b1.1", "b1", 50), ("s1", "s1", 100)]
    fills = submit(engine, "b2", "h03", "buy", 100, 0.10, time_s=3)
    assert trades(fills) == [("b2", "s1", 100, 0.10)]


def test_negative_prices() -> None:
    engine = MatchingEngine()
    submit(engine, "s1", "h01", "sell", 200, -0.05, time_s=0)
    submit(engine, "s2", "h02", "sell", 200, 0.02, time_s=1)
    # A bid of -0.01 (paid to take energy) crosses only the -0.05 ask.
    fills = submit(engine, "b1", "h03", "buy", 300, -0.01, time_s=2)
    assert trades(fills) == [("b1", "s1", 200, -0.05)]
    assert standing(engine) == [("b1.1", "b1", 100), ("s2", "s2", 200)]
    # An ask at -0.03 crosses the -0.01 bid and trades at the bid's resting price.
    fills = submit(engine, "s3", "h04", "sell", 100, -0.03, time_s=3)
    assert trades(fills) == [("b1.1", "s3", 100, -0.01)]


def test_no_trade_when_prices_do_not_cross() -> None:
    engine = MatchingEngine()
    submit(engine, "s1", "h01", "sell", 100, 0.10, time_s=0)
    assert submit(engine, "b1", "h02", "buy", 100, 0.09, time_s=1) == []
    assert standing(engine) == [("b1", "b1", 100), ("s1", "s1", 100)]


def test_cancel() -> None:
    engine = MatchingEngine()
    submit(engine, "s1", "h01", "sell", 100, 0.10, time_s=0)
    assert engine.cancel("s1") == 100
    assert submit(engine, "b1", "h02", "buy", 100, 0.12, time_s=1) == []
    with pytest.raises(ValueError, match=r"order_id: got 'nope', expected an id submitted"):
        engine.cancel("nope")


def test_many_cancels_keep_matching_correct() -> None:
    engine = MatchingEngine()
    for index in range(200):
        submit(engine, f"s{index}", "h01", "sell", 10, index / 1_000, time_s=0)
    for index in range(190):
        assert engine.cancel(f"s{index}") == 10
    # Dead heap entries were dropped (lazy deletion with a bounded backlog).
    assert len(engine._heaps["sell"]) <= 2 * 10 + 64
    fills = submit(engine, "b1", "h02", "buy", 25, 1.0, time_s=1)
    assert trades(fills) == [
        ("b1", "s190", 10, 0.19),
        ("b1.1", "s191", 10, 0.191),
        ("b1.2", "s192", 5, 0.192),
    ]


def test_tables_have_fixed_columns_and_dtypes() -> None:
    engine = MatchingEngine()
    for table in (engine.fills, engine.book(), engine.expired, engine.advance_to(0)):
        assert table.empty
    assert list(engine.fills.columns) == list(FILL_COLUMNS)
    assert list(engine.book().columns) == list(BOOK_COLUMNS)
    submit(engine, "s1", "h01", "sell", 300, 0.10, time_s=0)
    submit(engine, "b1", "h02", "buy", 100, 0.10, time_s=1)
    for table in (engine.fills, MatchingEngine().fills):
        assert table["quantity_wh"].dtype == np.int64
        assert table["price_usd_per_kwh"].dtype == np.float64
        assert pd.api.types.is_string_dtype(table["buy_child_order_id"])
    assert engine.fills["buy_child_order_id"].isna().tolist() == [True]
    book = engine.book()
    assert book["quantity_wh"].dtype == np.int64
    assert book["divisible"].dtype == bool


# --- validation --------------------------------------------------------------------------------

VALID = {
    "order_id": "x1",
    "participant": "h01",
    "side": "buy",
    "quantity_wh": 100,
    "price_usd_per_kwh": 0.1,
    "time_s": 10.0,
    "expires_s": 20.0,
    "divisible": True,
}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"price_usd_per_kwh": math.nan}, "price_usd_per_kwh"),
        ({"price_usd_per_kwh": math.inf}, "price_usd_per_kwh"),
        ({"price_usd_per_kwh": "0.1"}, "price_usd_per_kwh"),
        ({"quantity_wh": 1.5}, "quantity_wh"),
        ({"quantity_wh": 0}, "quantity_wh"),
        ({"quantity_wh": -5}, "quantity_wh"),
        ({"quantity_wh": math.nan}, "quantity_wh"),
        ({"quantity_wh": True}, "quantity_wh"),
        ({"side": "bid"}, "side"),
        ({"participant": ""}, "participant"),
        ({"time_s": math.inf}, "time_s"),
        ({"time_s": 4.0}, "time_s"),  # before the engine clock (5 s)
        ({"expires_s": 10.0}, "expires_s"),
        ({"expires_s": 9.0}, "expires_s"),
        ({"expires_s": math.nan}, "expires_s"),
        ({"divisible": "no"}, "divisible"),
        ({"order_id": "s0"}, "order_id"),  # already used
    ],
)
def test_invalid_order_names_order_and_field(change: dict, field: str) -> None:
    engine = MatchingEngine()
    submit(engine, "s0", "h09", "sell", 1, 9.0, time_s=5)
    order = VALID | change
    with pytest.raises(ValueError, match="expected") as error:
        engine.submit(**order)
    assert f"order {order['order_id']!r}" in str(error.value)
    assert field in str(error.value)
    assert standing(engine) == [("s0", "s0", 1)]  # a rejected order leaves no trace


def test_whole_float_and_numpy_quantities_are_accepted() -> None:
    engine = MatchingEngine()
    submit(engine, "s1", "h01", "sell", np.int64(100), np.float64(0.1), time_s=np.float64(0))
    submit(engine, "s2", "h01", "sell", 100.0, 0.1, time_s=0, divisible=np.bool_(False))
    assert engine.book()["quantity_wh"].tolist() == [100, 100]


def test_invalid_order_id_priority_and_clock() -> None:
    with pytest.raises(ValueError, match=r"order_id: got '', expected a non-empty string"):
        MatchingEngine().submit(**(VALID | {"order_id": ""}))
    with pytest.raises(ValueError, match=r"priority: got 'size', expected one of"):
        MatchingEngine(priority="size")
    engine = MatchingEngine()
    engine.advance_to(100)
    with pytest.raises(ValueError, match=r"advance_to: time_s got 99.0, expected >= 100.0"):
        engine.advance_to(99)
    with pytest.raises(ValueError, match=r"advance_to: time_s got nan"):
        engine.advance_to(math.nan)
