"""Continuous double auction over random order sequences, against a re-sorting reference book."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from tefed.domain.market.mechanisms.matching_engine import PRIORITY_RULES, MatchingEngine

# --- properties of random order sequences ------------------------------------------------------


class ReferenceBook:
    """Oracle: the same rules on a plain list re-sorted at every arrival (no heaps, no ids)."""

    def __init__(self, priority: str) -> None:
        self.priority = priority
        self.orders: list[dict] = []
        self.sequence = 0

    def rank(self, order: dict) -> tuple:
        price = -order["price"] if order["side"] == "buy" else order["price"]
        if self.priority == "age":
            return (price, order["time_s"], order["sequence"])
        return (price, -order["quantity_wh"], order["time_s"], order["sequence"])

    def advance_to(self, time_s: float) -> None:
        self.orders = [order for order in self.orders if order["expires_s"] > time_s]

    def cancel(self, parent: str) -> None:
        self.orders = [order for order in self.orders if order["parent"] != parent]

    def submit(self, parent, participant, side, quantity_wh, price, time_s, expires_s, divisible):
        self.advance_to(time_s)
        self.sequence += 1
        others = sorted((o for o in self.orders if o["side"] != side), key=self.rank)
        need_wh, plan = quantity_wh, []
        for other in others:
            crosses = other["price"] <= price if side == "buy" else other["price"] >= price
            if need_wh == 0 or not crosses:
                break
            if other["participant"] == participant or (
                not other["divisible"] and other["quantity_wh"] > need_wh
            ):
                continue
            plan.append((other, min(need_wh, other["quantity_wh"])))
            need_wh -= plan[-1][1]
        if need_wh and not divisible:
            plan, need_wh = [], quantity_wh
        for other, traded_wh in plan:
            other["quantity_wh"] -= traded_wh
        self.orders = [order for order in self.orders if order["quantity_wh"] > 0]
        if need_wh:
            self.orders.append(
                {"parent": parent, "participant": participant, "side": side,
                 "quantity_wh": need_wh, "price": price, "time_s": time_s,
                 "expires_s": expires_s, "divisible": divisible, "sequence": self.sequence}
            )  # fmt: skip
        return [(other["parent"], traded_wh, other["price"]) for other, traded_wh in plan]

    def book(self) -> list[tuple]:
        ranked = sorted(self.orders, key=lambda o: (o["side"] != "buy", self.rank(o)))
        return [(order["parent"], order["quantity_wh"]) for order in ranked]


submission = st.tuples(
    st.just("submit"),
    st.sampled_from(["h01", "h02", "h03"]),
    st.sampled_from(["buy", "sell"]),
    st.integers(min_value=1, max_value=600),
    st.integers(min_value=-3, max_value=5).map(lambda cents: cents / 100),
    st.sampled_from([True, True, True, False]),
    st.integers(min_value=0, max_value=30),  # time step [s]
    st.integers(min_value=1, max_value=1_200),  # lifetime [s]
)


@st.composite
def operation(draw: st.DrawFn) -> tuple:
    """Mostly submissions, sometimes a cancel or a clock advance."""
    kind = draw(st.sampled_from(["submit"] * 6 + ["cancel", "advance"]))
    if kind == "cancel":
        return ("cancel", draw(st.integers(min_value=0, max_value=50)))
    if kind == "advance":
        return ("advance", draw(st.integers(min_value=0, max_value=300)))
    return draw(submission)


operations = st.lists(operation(), min_size=10, max_size=50)


def assert_book_invariant(book: pd.DataFrame) -> None:
    """Rule 6: a crossing pair of different participants has an indivisible member that is
    larger than the other order."""
    columns = ["side", "participant", "price_usd_per_kwh", "divisible", "quantity_wh"]
    rows = list(book[columns].itertuples(index=False, name=None))
    bids = [row[1:] for row in rows if row[0] == "buy"]
    asks = [row[1:] for row in rows if row[0] == "sell"]
    for bidder, bid_price, bid_divisible, bid_wh in bids:
        for seller, ask_price, ask_divisible, ask_wh in asks:
            if bid_price < ask_price or bidder == seller:
                continue
            assert not (bid_divisible and ask_divisible), (bidder, bid_price, seller, ask_price)
            if bid_divisible != ask_divisible:
                indivisible_wh, other_wh = (ask_wh, bid_wh) if bid_divisible else (bid_wh, ask_wh)
                assert indivisible_wh > other_wh, (bidder, bid_wh, seller, ask_wh)


@settings(max_examples=60, deadline=None)
@given(ops=operations, priority=st.sampled_from(PRIORITY_RULES))
def test_random_sequences_keep_the_rules(ops: list[tuple], priority: str) -> None:
    engine = MatchingEngine(priority=priority)
    reference = ReferenceBook(priority)
    submitted: dict[str, dict] = {}
    removed_wh: dict[str, int] = {}  # cancelled or expired [Wh]
    clock_s, expired_count = 0, 0
    book = engine.book()

    def expire(frame: pd.DataFrame) -> None:
        for parent, quantity_wh in zip(frame["parent_order_id"], frame["quantity_wh"], strict=True):
            removed_wh[parent] = removed_wh.get(parent, 0) + int(quantity_wh)

    for step, op in enumerate(ops):
        if op[0] == "advance":
            clock_s += op[1]
            expired = engine.advance_to(clock_s)
            expired_count += len(expired)
            expire(expired)
            reference.advance_to(clock_s)
        elif op[0] == "cancel":
            if submitted:
                parent = list(submitted)[op[1] % len(submitted)]
                removed_wh[parent] = removed_wh.get(parent, 0) + engine.cancel(parent)
                reference.cancel(parent)
        else:
            _, participant, side, quantity_wh, price, divisible, step_s, lifetime_s = op
            clock_s += step_s
            order_id = f"o{step}"
            before = dict(zip(book["parent_order_id"], book["quantity_wh"], strict=True))
            fills = engine.submit(
                order_id, participant, side, quantity_wh, price, clock_s,
                clock_s + lifetime_s, divisible,
            )  # fmt: skip
            expired = engine.expired.iloc[expired_count:]  # expired inside the submit
            expired_count += len(expired)
            expire(expired)
            for parent in expired["parent_order_id"]:
                before.pop(parent)
            submitted[order_id] = {"side": side, "quantity_wh": quantity_wh, "price": price,
                                   "participant": participant, "divisible": divisible}  # fmt: skip

            expected = reference.submit(
                order_id, participant, side, quantity_wh, price, clock_s, clock_s + lifetime_s,
                divisible,
            )  # fmt: skip
            resting_side = "sell" if side == "buy" else "buy"
            actual = [
                (getattr(f, f"{resting_side}_parent_order_id"), f.quantity_wh, f.price_usd_per_kwh)
                for f in fills
            ]
            assert actual == expected

            arriving_left_wh = quantity_wh
            for fill in fills:
                buy, sell = (
                    submitted[fill.buy_parent_order_id],
                    submitted[fill.sell_parent_order_id],
                )
                resting = fill.sell_parent_order_id if side == "buy" else fill.buy_parent_order_id
                # No fill exceeds what is left of either order.
                assert 0 < fill.quantity_wh <= min(before[resting], arriving_left_wh)
                before[resting] -= fill.quantity_wh
                arriving_left_wh -= fill.quantity_wh
                # Price between the limits, equal to the resting limit; no self-trade.
                assert buy["price"] >= fill.price_usd_per_kwh >= sell["price"]
                assert fill.price_usd_per_kwh == submitted[resting]["price"]
                assert fill.buyer != fill.seller
                assert fill.buyer == buy["participant"] and fill.seller == sell["participant"]

        book = engine.book()
        assert_book_invariant(book)
        assert list(zip(book["parent_order_id"], book["quantity_wh"], strict=True)) == (
            reference.book()
        )
        assert book["order_id"].is_unique and book["parent_order_id"].is_unique

    # Conservation: filled + standing + cancelled/expired == submitted, per submitted order.
    fills = engine.fills
    book = engine.book()
    filled_wh = (
        pd.concat(
            [
                fills.groupby("buy_parent_order_id")["quantity_wh"].sum(),
                fills.groupby("sell_parent_order_id")["quantity_wh"].sum(),
            ]
        )
        .groupby(level=0)
        .sum()
    )
    standing_wh = book.set_index("parent_order_id")["quantity_wh"]
    for order_id, order in submitted.items():
        total_wh = (
            int(filled_wh.get(order_id, 0))
            + int(standing_wh.get(order_id, 0))
            + removed_wh.get(order_id, 0)
        )
        assert total_wh == order["quantity_wh"], order_id
        if not order["divisible"]:
            assert int(filled_wh.get(order_id, 0)) in (0, order["quantity_wh"])
    # Ids: a standing instance is its submitted order or a child "<parent>.k".
    for order_id, parent in zip(book["order_id"], book["parent_order_id"], strict=True):
        assert order_id == parent or (
            order_id.startswith(parent + ".") and order_id[len(parent) + 1 :].isdigit()
        )
    indivisible = book[~book["divisible"]]
    assert (indivisible["order_id"] == indivisible["parent_order_id"]).all()
