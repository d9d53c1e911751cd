"""Order book of the double auction: ranking as arrays, pool slices and the next-open forest."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from test_double_auction import book
from test_double_auction_reference import crowded_books

from tefed.domain.market.mechanisms.order_book import (
    POOLS,
    open_from,
    ranked_book,
    ranked_sides,
    validated_book,
)

PV, BATTERY = POOLS


def test_ranked_book_by_hand() -> None:
    # Bids first: PV 0.30 (b2) before PV 0.20; at 0.20 sequence 1 (b3) before sequence 4 (b1);
    # then the battery bid. Asks: PV 0.10 tied on price and sequence, so "s_a" before "s_b".
    orders = book(
        ("b1", "h2", "buy", 10, 0.20, 4, PV),
        ("s_b", "h1", "sell", 20, 0.10, 2, PV),
        ("b2", "h3", "buy", 30, 0.30, 5, PV),
        ("b4", "h1", "buy", 40, 0.50, 0, BATTERY),
        ("s_a", "h3", "sell", 50, 0.10, 2, PV),
        ("b3", "h2", "buy", 60, 0.20, 1, PV),
    )
    ranked = ranked_book(orders)
    assert ranked.order_id.tolist() == ["b2", "b3", "b1", "b4", "s_a", "s_b"]
    assert ranked.bid_count == 4
    assert ranked.quantity_wh.tolist() == [30, 60, 10, 40, 50, 20]
    assert ranked.price_usd_per_kwh.tolist() == [0.30, 0.20, 0.20, 0.50, 0.10, 0.10]
    assert ranked.pool.tolist() == [0, 0, 0, 1, 0, 0]
    assert list(ranked.participant_names) == ["h1", "h2", "h3"]
    assert ranked.participant_code.tolist() == [2, 1, 1, 0, 2, 0]
    assert list(ranked.sorted_ids) == ["b1", "b2", "b3", "b4", "s_a", "s_b"]
    # PV: bids 0..3, asks 4..6; batteries: bid 3, no asks.
    assert ranked.pool_slices() == [(slice(0, 3), slice(4, 6)), (slice(3, 4), slice(6, 6))]


def test_ranked_book_of_an_empty_book() -> None:
    ranked = ranked_book(book())
    assert ranked.bid_count == 0
    assert ranked.order_id.tolist() == []
    assert ranked.pool_slices() == [(slice(0, 0), slice(0, 0))] * len(POOLS)


@settings(max_examples=200, deadline=None)
@given(orders=crowded_books(), data=st.data())
def test_ranked_book_agrees_with_ranked_sides(orders: pd.DataFrame, data: st.DataObject) -> None:
    shuffled = orders.iloc[data.draw(st.permutations(range(len(orders))))]
    ranked = ranked_book(shuffled)
    bids, asks = ranked_sides(validated_book(shuffled))
    both = pd.concat([bids, asks], ignore_index=True)
    assert ranked.bid_count == len(bids)
    assert ranked.order_id.tolist() == both["order_id"].tolist()
    assert ranked.quantity_wh.tolist() == both["quantity_wh"].tolist()
    assert ranked.price_usd_per_kwh.tolist() == both["price_usd_per_kwh"].tolist()
    assert [POOLS[k] for k in ranked.pool] == both["pool"].tolist()
    names = ranked.participant_names
    assert list(names) == sorted(set(both["participant"]))
    assert [names[k] for k in ranked.participant_code] == both["participant"].tolist()
    for k, (bid_slice, ask_slice) in enumerate(ranked.pool_slices()):
        assert set(ranked.pool[bid_slice]) <= {k} and set(ranked.pool[ask_slice]) <= {k}
        assert bid_slice.stop - bid_slice.start == int((bids["pool"] == POOLS[k]).sum())
        assert ask_slice.stop - ask_slice.start == int((asks["pool"] == POOLS[k]).sum())


def test_open_from_skips_exhausted_orders_and_compresses_paths() -> None:
    # Five orders, all open, then 1, 2 and 0 are exhausted one by one.
    next_open = list(range(6))
    assert open_from(next_open, 0) == 0
    for order in (1, 2, 0):
        next_open[order] = order + 1
    assert open_from(next_open, 0) == 3
    assert next_open[:3] == [3, 3, 3]  # every order on the path now points at the answer
    next_open[3] = 4
    next_open[4] = 5
    assert open_from(next_open, 1) == 5  # none left: the sentinel
    assert open_from(next_open, 5) == 5


@settings(max_examples=200, deadline=None)
@given(exhausted=st.lists(st.booleans(), max_size=30), data=st.data())
def test_open_from_is_the_first_open_order(exhausted: list, data: st.DataObject) -> None:
    size = len(exhausted)
    next_open = list(range(size + 1))
    gone: set[int] = set()
    for order in data.draw(st.permutations([k for k, out in enumerate(exhausted) if out])):
        next_open[order] = order + 1
        gone.add(order)
        start = data.draw(st.integers(0, size))
        expected = next((k for k in range(start, size) if k not in gone), size)
        assert open_from(next_open, start) == expected
