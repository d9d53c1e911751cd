"""Order intake: each bad order is refused with its reason and a log warning; good ones pass."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tefed.contract.messages import Message
from tefed.contract.time_grid import TimeGrid
from tefed.domain.market.order_intake import (
    MAX_ABS_PRICE_USD_PER_KWH,
    MAX_ORDERS_MESSAGE_BYTES,
    MAX_ORDERS_PER_INTERVAL,
    ORDER_RECORD_COLUMNS,
    OrderIntake,
    with_household_order_ids,
)

GRID = TimeGrid(
    start=datetime(2022, 6, 21, tzinfo=UTC),
    duration_s=4 * 3600,
    grid_step_s=60,
    market_interval_s=900,
    gate_closure_s=60,
)
GOOD = {"order_id": "o1", "side": "buy", "quantity_wh": 300, "price_usd_per_kwh": 0.12}
CURVE = {
    "kind": "curve",
    "order_id": "c1",
    "vertices": [
        {"price_usd_per_kwh": 0.05, "power_kw": 0.0},
        {"price_usd_per_kwh": 0.10, "power_kw": -2.0},
    ],
}
AFFINE = {
    "kind": "affine",
    "order_id": "a1",
    "side": "sell",
    "price_max_usd_per_kwh": 0.12,
    "price_min_usd_per_kwh": 0.07,
    "power_max_kw": 3.0,
    "power_min_kw": 0.0,
}


def _intake(kinds=("simple",), **options) -> OrderIntake:
    return OrderIntake(["h1", "h2"], GRID, kinds, **options)


def _message(orders, interval=2, source="household/h1", **extra) -> Message:
    payload = json.dumps({"type": "orders", "interval_index": interval, "orders": orders, **extra})
    return Message(source=source, destination="market", payload=payload)


def test_a_good_order_is_accepted_and_recorded():
    intake = _intake()
    received = intake.receive(900, _message([GOOD]))
    assert received.rejections == []
    assert received.interval_index == 2
    [row] = received.simple
    assert row["order_id"] == "h1:o1"
    assert (row["quantity_wh"], row["pool"], row["received_time_s"]) == (
        300,
        "non_dispatchable",
        900,
    )
    [record] = intake.records
    assert (record["status"], record["kind"], record["reason"]) == ("accepted", "simple", "")


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"price_usd_per_kwh": float("nan")}, "finite"),
        ({"price_usd_per_kwh": float("inf")}, "finite"),
        ({"quantity_wh": 0}, "greater than 0"),
        ({"quantity_wh": -5}, "greater than 0"),
        ({"quantity_wh": 10**9}, "less than or equal to 1000000"),
        ({"quantity_wh": 12.5}, "quantity_wh"),
        ({"side": "hold"}, "side"),
        ({"colour": "red"}, "colour"),
        ({"pool": "nuclear"}, "pool"),
    ],
)
def test_a_bad_order_is_refused_alone_and_the_rest_accepted(change, words, caplog):
    intake = _intake()
    bad = {**GOOD, "order_id": "bad", **change}
    with caplog.at_level(logging.WARNING, logger="tefed.market"):
        received = intake.receive(900, _message([bad, GOOD]))
    assert [r.order_id for r in received.rejections] == ["bad"]
    assert words in received.rejections[0].reason
    assert [row["order_id"] for row in received.simple] == ["h1:o1"]
    assert "rejected order bad of h1" in caplog.text
    statuses = [(r["order_id"], r["status"]) for r in intake.records]
    assert statuses == [("bad", "rejected"), ("o1", "accepted")]


@pytest.mark.parametrize(
    ("message", "time_s", "words"),
    [
        (Message("household/h9", "market", json.dumps({})), 900, "unknown participant"),
        (Message("grid", "market", "{}"), 900, "unknown participant"),
        (Message("household/h1", "market", "{not json"), 900, "malformed orders message"),
        (Message("household/h1", "market", '{"type": "orders"}'), 900, "malformed"),
        (_message([GOOD], extra_field=1), 900, "malformed"),
        (_message([GOOD], interval=0), 0, "has no market"),
        (_message([GOOD], interval=16), 900, "has no market"),
        (_message([GOOD], interval=2), 1741, "after gate closure of interval 2"),
        (_message([GOOD], interval=3), 100, "more than 1 interval(s) ahead"),
        (_message([]), 900, "malformed"),
    ],
)
def test_a_bad_message_is_refused_whole(message, time_s, words, caplog):
    intake = _intake()
    with caplog.at_level(logging.WARNING, logger="tefed.market"):
        received = intake.receive(time_s, message)
    assert received.simple == []
    [rejection] = received.rejections
    assert rejection.order_id == "*"
    assert words in rejection.reason
    assert "rejected message" in caplog.text
    assert intake.records[-1]["status"] == "rejected"


def test_the_gate_closes_one_minute_before_delivery():
    intake = _intake()
    assert intake.receive(1740, _message([GOOD])).rejections == []
    late = intake.receive(1741, _message([GOOD], source="household/h2"))
    assert "after gate closure" in late.rejections[0].reason


def test_orders_several_intervals_ahead_when_the_market_allows():
    intake = _intake(delivery_ahead_intervals=4)
    assert intake.receive(100, _message([GOOD], interval=4)).rejections == []
    assert "ahead" in intake.receive(100, _message([GOOD], interval=5)).rejections[0].reason


def test_duplicate_ids_are_refused_per_participant_and_interval():
    intake = _intake()
    intake.receive(900, _message([GOOD]))
    again = intake.receive(900, _message([GOOD]))
    assert "duplicate order_id 'o1'" in again.rejections[0].reason
    other = intake.receive(900, _message([GOOD], source="household/h2"))
    assert other.rejections == []
    intake.forget(2)
    assert intake.receive(900, _message([GOOD], interval=2)).rejections == []


def test_kinds_the_mechanism_does_not_take_are_refused():
    intake = _intake(kinds=("simple",))
    received = intake.receive(900, _message([CURVE, AFFINE, GOOD]))
    assert [r.order_id for r in received.rejections] == ["c1", "a1"]
    assert "order kind 'curve' is not taken" in received.rejections[0].reason
    assert len(received.simple) == 1


def test_curve_and_affine_orders_are_taken_where_accepted():
    intake = _intake(kinds=("simple", "curve", "affine"))
    received = intake.receive(900, _message([CURVE, AFFINE]))
    assert received.rejections == []
    assert [v["power_kw"] for v in received.curves] == [0.0, -2.0]
    assert {v["order_id"] for v in received.curves} == {"h1:c1"}
    [affine] = received.affine
    assert (affine["order_id"], affine["side"], affine["power_max_kw"]) == ("h1:a1", "sell", 3.0)


@pytest.mark.parametrize(
    ("vertices", "words"),
    [
        ([{"price_usd_per_kwh": 0.1, "power_kw": 1.0}] * 2, "distinct prices"),
        (
            [
                {"price_usd_per_kwh": 0.1, "power_kw": 1.0},
                {"price_usd_per_kwh": 0.2, "power_kw": 2.0},
            ],
            "must not rise with price",
        ),
        ([{"price_usd_per_kwh": 0.1, "power_kw": float("nan")}], "finite"),
        ([], "at least 1"),
    ],
)
def test_bad_curves_are_refused(vertices, words):
    intake = _intake(kinds=("curve",))
    received = intake.receive(900, _message([{**CURVE, "vertices": vertices}]))
    assert words in received.rejections[0].reason
    assert received.curves == []


def test_affine_orders_with_crossed_bounds_are_refused():
    intake = _intake(kinds=("affine",))
    crossed = {**AFFINE, "price_max_usd_per_kwh": 0.01}
    received = intake.receive(900, _message([crossed]))
    assert "must be at least price_min_usd_per_kwh" in received.rejections[0].reason


def test_one_order_per_side_when_the_mechanism_asks_for_it():
    intake = _intake(kinds=("simple", "affine"), one_order_per_side=True)
    second = {**AFFINE, "order_id": "a2"}
    buy = {**GOOD, "order_id": "b1"}
    received = intake.receive(900, _message([AFFINE, second, buy]))
    assert [r.order_id for r in received.rejections] == ["a2"]
    assert "second sell order" in received.rejections[0].reason
    assert len(received.affine) == 1 and len(received.simple) == 1


def test_submission_sequence_follows_arrival():
    intake = _intake()
    first = intake.receive(900, _message([GOOD]))
    second = intake.receive(900, _message([GOOD], source="household/h2"))
    assert first.simple[0]["sequence"] < second.simple[0]["sequence"]


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
_order_like = st.fixed_dictionaries(
    {},
    optional={
        "kind": st.sampled_from(["simple", "curve", "affine", "other"]),
        "order_id": st.text(max_size=5) | st.integers(),
        "side": st.sampled_from(["buy", "sell", "hold"]),
        "quantity_wh": st.integers(-5, 2_000_000) | st.floats(allow_nan=True),
        "price_usd_per_kwh": st.floats(allow_nan=True, allow_infinity=True),
        "pool": st.sampled_from(["non_dispatchable", "dispatchable", "x"]),
        "vertices": st.lists(
            st.fixed_dictionaries(
                {"price_usd_per_kwh": st.floats(-1, 1), "power_kw": st.floats(-2000, 2000)}
            ),
            max_size=3,
        ),
        "extra": _json_values,
    },
)


@settings(max_examples=300, deadline=None)
@given(
    orders=st.lists(_order_like | _json_values, max_size=5),
    interval=st.integers(-2, 20) | st.text(max_size=3),
    time_s=st.integers(0, 4 * 3600 - 60),
    kinds=st.sampled_from([("simple",), ("simple", "curve", "affine"), ("simple", "affine")]),
)
def test_no_message_makes_the_intake_raise(orders, interval, time_s, kinds):
    intake = _intake(kinds=kinds, one_order_per_side="affine" in kinds and len(kinds) == 2)
    payload = json.dumps({"type": "orders", "interval_index": interval, "orders": orders})
    received = intake.receive(time_s, Message("household/h1", "market", payload))
    accepted = (
        len(received.simple)
        + len(received.affine)
        + len({row["order_id"] for row in received.curves})
    )
    # Every order is either accepted or refused with a reason, never lost.
    if [r.order_id for r in received.rejections] == ["*"]:
        assert accepted == 0
    else:
        assert accepted + len(received.rejections) == len(orders)
    assert all(rejection.reason for rejection in received.rejections)
    assert all(row["quantity_wh"] > 0 for row in received.simple)


# --- hostile messages: refused with a recorded reason, never an exception -----------------

#: An instant at which interval 2 takes orders (its gate closes at 1,740 s) [s].
T2_S = 1700


def _hostile_intake() -> OrderIntake:
    return OrderIntake(["h1", "h2"], GRID, ("simple", "curve", "affine"))


def _orders_text(orders: list[dict], interval: int | str = 2) -> str:
    return f'{{"type": "orders", "interval_index": {interval}, "orders": {json.dumps(orders)}}}'


def _order(order_id: str, price: float, side: str = "buy") -> dict:
    return {"order_id": order_id, "side": side, "quantity_wh": 100, "price_usd_per_kwh": price}


def _table(intake: OrderIntake) -> pd.DataFrame:
    """The order table as the market writes it (fails if a record does not fit its dtype)."""
    return pd.DataFrame(intake.records, columns=list(ORDER_RECORD_COLUMNS)).astype(
        ORDER_RECORD_COLUMNS
    )


HOSTILE_PAYLOADS = {
    "not UTF-8 (as the runtime decodes it)": b"\xff\xfe\x00orders".decode("utf-8", "replace"),
    "JSON nested 100,000 deep": "[" * 100_000 + "]" * 100_000,
    "a 5,000-digit integer": _orders_text([_order("o1", 0.1)], interval="9" * 5000),
    "interval 10**30": _orders_text([_order("o1", 0.1)], interval=str(10**30)),
    "a negative interval": _orders_text([_order("o1", 0.1)], interval=-3),
    "more than the size limit": _orders_text(
        [_order(f"o{k}", 0.1) for k in range(MAX_ORDERS_MESSAGE_BYTES // 50)]
    ),
    "a list, not an object": "[1, 2, 3]",
    "empty": "",
}


@pytest.mark.parametrize("name", HOSTILE_PAYLOADS)
def test_a_hostile_message_is_refused_whole_and_recorded(name: str):
    intake = _hostile_intake()
    message = Message("household/h1", "market", HOSTILE_PAYLOADS[name], 840.0)
    received = intake.receive(840, message)
    assert received.simple == [] and received.curves == [] and received.affine == []
    [rejection] = received.rejections
    assert rejection.order_id == "*" and rejection.reason
    table = _table(intake)
    assert table["status"].tolist() == ["rejected"]
    assert table["participant"].tolist() == ["h1"]
    assert table["interval_index"].isna().all() or table["interval_index"].between(0, 15).all()


def test_prices_beyond_the_bound_are_refused_so_no_mean_price_overflows():
    intake = _hostile_intake()
    orders = [_order("bid", 1e308), _order("ask", -1e308, "sell"), _order("fair", 0.12)]
    received = intake.receive(T2_S, Message("household/h1", "market", _orders_text(orders), T2_S))
    assert [row["order_id"] for row in received.simple] == ["h1:fair"]
    reasons = {r.order_id: r.reason for r in received.rejections}
    assert set(reasons) == {"bid", "ask"}
    assert f"±{MAX_ABS_PRICE_USD_PER_KWH:g} USD/kWh" in reasons["bid"]
    assert "got 1e+308" in reasons["bid"] and "got -1e+308" in reasons["ask"]


def test_a_curve_vertex_price_beyond_the_bound_is_refused():
    intake = _hostile_intake()
    curve = {
        "kind": "curve",
        "order_id": "c1",
        "vertices": [
            {"price_usd_per_kwh": 0.05, "power_kw": 1.0},
            {"price_usd_per_kwh": 5e3, "power_kw": 0.0},
        ],
    }
    received = intake.receive(T2_S, Message("household/h1", "market", _orders_text([curve]), T2_S))
    assert received.curves == []
    [rejection] = received.rejections
    assert rejection.order_id == "c1" and "got 5000" in rejection.reason


def test_a_flood_is_refused_beyond_the_per_household_limit_and_every_order_is_recorded():
    intake = _hostile_intake()
    total = 3 * MAX_ORDERS_PER_INTERVAL
    accepted = refused = 0
    # A flood in many small messages for one interval, as a hostile household sends it.
    for start in range(0, total, 10):
        orders = [_order(f"o{k}", 0.1) for k in range(start, start + 10)]
        received = intake.receive(
            T2_S, Message("household/h1", "market", _orders_text(orders), T2_S)
        )
        accepted += len(received.simple)
        refused += len(received.rejections)
    assert (accepted, refused) == (MAX_ORDERS_PER_INTERVAL, total - MAX_ORDERS_PER_INTERVAL)
    table = _table(intake)
    assert len(table) == total
    assert (table["status"] == "accepted").sum() == MAX_ORDERS_PER_INTERVAL
    flood = table.loc[table["status"] == "rejected", "reason"]
    assert flood.str.contains(f"more than {MAX_ORDERS_PER_INTERVAL} orders").all()
    # Another household's orders for that interval are not affected.
    other = intake.receive(
        T2_S, Message("household/h2", "market", _orders_text([_order("x", 0.1)]), T2_S)
    )
    assert other.rejections == [] and len(other.simple) == 1


def test_the_limit_is_per_interval():
    intake = _hostile_intake()
    orders = [_order(f"o{k}", 0.1) for k in range(MAX_ORDERS_PER_INTERVAL)]
    for interval in (2, 3):
        time_s = T2_S if interval == 2 else T2_S + 900
        received = intake.receive(
            time_s, Message("household/h1", "market", _orders_text(orders, interval), time_s)
        )
        assert received.rejections == []


def test_an_unreadable_batch_is_recorded_through_refuse_message():
    intake = _hostile_intake()
    message = Message("ems/ems", "market", '{"type": "batch", "messages": 7}', 840.0)
    received = intake.refuse_message(840, message, "batch: expected a list")
    assert [r.reason for r in received.rejections] == ["batch: expected a list"]
    table = _table(intake)
    assert table["participant"].tolist() == ["ems/ems"]
    assert table["reason"].tolist() == ["batch: expected a list"]


def test_forget_returns_the_households_own_ids_of_the_book_keys():
    intake = _intake()
    first = intake.receive(900, _message([GOOD]))
    intake.receive(900, _message([GOOD], source="household/h2"))
    book_keys = [row["order_id"] for row in first.simple]
    order_ids = intake.forget(2)
    assert order_ids[book_keys[0]] == "o1"
    assert sorted(order_ids.values()) == ["o1", "o1"]
    assert len(set(order_ids)) == 2
    assert intake.forget(2) == {}


def test_trades_are_renamed_by_lookup_not_by_splitting_the_key():
    trades = pd.DataFrame({"buy_order_id": ["h1:o:1", "zz"], "sell_order_id": ["h2:s", "h2:s"]})
    named = with_household_order_ids(trades, {"h1:o:1": "o:1", "h2:s": "s"})
    assert named["buy_order_id"].tolist() == ["o:1", "zz"]
    assert named["sell_order_id"].tolist() == ["s", "s"]
    assert trades["buy_order_id"].tolist() == ["h1:o:1", "zz"]
    # Plain Python strings in object columns, as the trades tables have always been written
    # (pandas would infer its str dtype for an array of strings).
    assert named[["buy_order_id", "sell_order_id"]].dtypes.tolist() == [object, object]
    assert all(type(name) is str for name in named["buy_order_id"])


def test_order_ids_are_plain_strings_also_in_an_interval_without_trades():
    empty = pd.DataFrame({"buy_order_id": [], "sell_order_id": []}, dtype="string")
    assert with_household_order_ids(empty, {}).dtypes.tolist() == [object, object]


def test_household_order_ids_keep_every_other_column_and_the_index():
    trades = pd.DataFrame(
        {
            "buy_order_id": pd.array(["h1:b", "h1:c"], dtype="str"),
            "sell_order_id": np.array(["h2:s", "unknown"], dtype=object),
            "buyer": pd.array(["h1", "h1"], dtype="str"),
            "quantity_wh": np.array([5, 7], dtype=np.int64),
            "price_usd_per_kwh": [0.1, 0.2],
            "nullable": pd.array([1, None], dtype="Int64"),
            "time": pd.to_datetime(["2022-06-21", "2022-06-22"]),
        },
        index=[4, 9],
    )
    order_ids = {"h1:b": "b", "h1:c": "c", "h2:s": "s"}
    named = with_household_order_ids(trades, order_ids)
    expected = trades.assign(
        buy_order_id=pd.Series(["b", "c"], index=trades.index, dtype=object),
        sell_order_id=pd.Series(["s", "unknown"], index=trades.index, dtype=object),
    )
    pd.testing.assert_frame_equal(named, expected, check_exact=True)
    with pytest.raises(KeyError):
        with_household_order_ids(trades.drop(columns="sell_order_id"), order_ids)
