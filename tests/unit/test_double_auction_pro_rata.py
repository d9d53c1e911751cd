"""Pro-rata tie-breaking: hand-computed shares, rounding, self-trades and level-pair properties."""

from __future__ import annotations

from collections import deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_double_auction import assert_trades_match, book

from tefed.domain.market.mechanisms.double_auction import clear_double_auction
from tefed.domain.market.mechanisms.pro_rata import largest_remainder_wh, match_level_pair


@pytest.mark.parametrize(
    ("total_wh", "quantity_wh", "expected_wh"),
    [
        (200, [300, 100], [150, 50]),
        # 33⅓ each; the one Wh left goes to the first of equal remainders.
        (100, [100, 100, 100], [34, 33, 33]),
        # 166.5, 99.9, 66.6: floors 166 + 99 + 66 = 331; the 2 Wh left go to .9 and .6.
        (333, [250, 150, 100], [166, 100, 67]),
        (0, [5, 7], [0, 0]),
        (12, [5, 7], [5, 7]),
    ],
)
def test_largest_remainder_by_hand(total_wh: int, quantity_wh: list, expected_wh: list) -> None:
    assert largest_remainder_wh(total_wh, quantity_wh) == expected_wh


def test_largest_remainder_is_exact_for_huge_quantities() -> None:
    # 2**62 Wh over 2**62 + 1 and 2**62 - 1 Wh: entitlements 2**61 ± 1/2 (total·quantity
    # exceeds int64). Floors 2**61 and 2**61 - 1; the equal remainders give the Wh left over
    # to the first order. A float computation could not tell the entitlements apart.
    shares = largest_remainder_wh(2**62, [2**62 + 1, 2**62 - 1])
    assert shares == [2**61 + 1, 2**61 - 1]


@pytest.mark.parametrize("total_wh", [-1, 13])
def test_largest_remainder_rejects_a_total_out_of_range(total_wh: int) -> None:
    with pytest.raises(ValueError, match=r"total_wh: got .*expected between 0 and"):
        largest_remainder_wh(total_wh, [5, 7])


def test_two_bids_share_one_ask_in_proportion() -> None:
    # The brief's example: 300 and 100 Wh at 0.12 against 200 Wh at 0.10 -> 150 and 50 Wh.
    orders = book(
        ("b1", "h01", "buy", 300, 0.12, 0),
        ("b2", "h02", "buy", 100, 0.12, 1),
        ("s1", "h03", "sell", 200, 0.10, 2),
    )
    result = clear_double_auction(orders, tie_breaking="pro_rata")
    assert_trades_match(result, [("b1", "s1", 150, 0.11), ("b2", "s1", 50, 0.11)])
    assert result.filled_wh.to_dict() == {"b1": 150, "b2": 50, "s1": 200}
    time = clear_double_auction(orders, tie_breaking="time")
    assert time.filled_wh.to_dict() == {"b1": 200, "b2": 0, "s1": 200}


def test_remainder_ties_go_by_submission_sequence() -> None:
    # Three bids of 100 Wh share 200 Wh: 66⅔ each, floors 66; the 2 Wh left go to the two
    # earliest submissions (sequence 1: "b", sequence 3: "c"), not to order_id "a".
    orders = book(
        ("a", "h01", "buy", 100, 0.12, 5),
        ("b", "h02", "buy", 100, 0.12, 1),
        ("c", "h03", "buy", 100, 0.12, 3),
        ("s", "h04", "sell", 200, 0.10, 0),
    )
    filled = clear_double_auction(orders, tie_breaking="pro_rata").filled_wh.to_dict()
    assert filled == {"a": 66, "b": 67, "c": 67, "s": 200}


def test_pro_rata_rounding_with_unequal_quantities() -> None:
    # 250, 150, 100 Wh at 0.12 share 333 Wh: 166.5, 99.9, 66.6 -> 166, 100, 67.
    orders = book(
        ("x", "h01", "buy", 250, 0.12, 0),
        ("y", "h02", "buy", 150, 0.12, 1),
        ("z", "h03", "buy", 100, 0.12, 2),
        ("s", "h04", "sell", 333, 0.10, 3),
    )
    filled = clear_double_auction(orders, tie_breaking="pro_rata").filled_wh.to_dict()
    assert filled == {"x": 166, "y": 100, "z": 67, "s": 333}


def test_asks_at_one_price_share_a_bid() -> None:
    orders = book(
        ("b1", "h01", "buy", 200, 0.12, 0),
        ("s1", "h02", "sell", 300, 0.10, 1),
        ("s2", "h03", "sell", 100, 0.10, 2),
    )
    result = clear_double_auction(orders, tie_breaking="pro_rata")
    assert_trades_match(result, [("b1", "s1", 150, 0.11), ("b1", "s2", 50, 0.11)])


def test_ties_on_both_sides_are_paired_heaviest_participant_first() -> None:
    # Bids 300 (h1) and 100 (h2) at 0.12 and asks 150 (h3) and 50 (h4) at 0.10: both sides
    # share 200 Wh as 150/50. h1 and h3 carry the most (150 each; h1 first by name).
    orders = book(
        ("b1", "h1", "buy", 300, 0.12, 0),
        ("b2", "h2", "buy", 100, 0.12, 1),
        ("s1", "h3", "sell", 150, 0.10, 2),
        ("s2", "h4", "sell", 50, 0.10, 3),
    )
    result = clear_double_auction(orders, tie_breaking="pro_rata")
    assert_trades_match(result, [("b1", "s1", 150, 0.11), ("b2", "s2", 50, 0.11)])


def test_pro_rata_walks_ask_levels_from_the_cheapest() -> None:
    # Bids 100 (h1) and 100 (h2) at 0.20. The 0.05 level (50 Wh) is shared 25/25 at 0.125;
    # the 0.10 level (100 + 100 Wh) meets the 75 + 75 Wh left: 75 each at 0.15.
    orders = book(
        ("b1", "h1", "buy", 100, 0.20, 0),
        ("b2", "h2", "buy", 100, 0.20, 1),
        ("s3", "h3", "sell", 50, 0.05, 2),
        ("s4", "h4", "sell", 100, 0.10, 3),
        ("s5", "h5", "sell", 100, 0.10, 4),
    )
    result = clear_double_auction(orders, tie_breaking="pro_rata")
    assert_trades_match(
        result,
        [("b1", "s3", 25, 0.125), ("b2", "s3", 25, 0.125), ("b1", "s4", 75, 0.15),
         ("b2", "s5", 75, 0.15)],
    )  # fmt: skip
    # Time priority trades the same volume per pair of prices: 50 Wh at 0.125, 150 at 0.15.
    time = clear_double_auction(orders, tie_breaking="time")
    assert_trades_match(
        time,
        [("b1", "s3", 50, 0.125), ("b1", "s4", 50, 0.15), ("b2", "s4", 50, 0.15),
         ("b2", "s5", 50, 0.15)],
    )  # fmt: skip


def test_self_trade_refused_and_shares_forced_by_it() -> None:
    # h1 bids 300 and asks 300 at the level pair, h2 bids 100, h3 asks 100. Without self-trades
    # at most 200 Wh trade (h1's bid can only buy h3's 100, h1's ask only sell to h2's 100).
    # Plain shares (bids 150/50, asks 150/50) would make h1 trade with itself; instead h1's
    # bid gets 100 (from h3) and h2's 100 (from h1).
    orders = book(
        ("b1", "h1", "buy", 300, 0.30, 0),
        ("b2", "h2", "buy", 100, 0.30, 1),
        ("s1", "h1", "sell", 300, 0.10, 2),
        ("s2", "h3", "sell", 100, 0.10, 3),
    )
    result = clear_double_auction(orders, tie_breaking="pro_rata")
    assert_trades_match(result, [("b1", "s2", 100, 0.20), ("b2", "s1", 100, 0.20)])
    assert (result.trades["buyer"] != result.trades["seller"]).all()


def test_pro_rata_can_trade_more_than_time_when_self_trades_block() -> None:
    # Time: h1's bid (earlier) buys h3's ask, then h2's bid only crosses its own ask: 100 Wh.
    # Pro-rata: the level pair trades its maximum, 200 Wh: h1 buys from h2, h2 from h3.
    orders = book(
        ("b1", "h1", "buy", 100, 0.20, 0),
        ("b2", "h2", "buy", 100, 0.20, 1),
        ("s1", "h3", "sell", 100, 0.10, 2),
        ("s2", "h2", "sell", 100, 0.10, 3),
    )
    assert clear_double_auction(orders, tie_breaking="time").traded_energy_wh == 100
    result = clear_double_auction(orders, tie_breaking="pro_rata")
    assert_trades_match(result, [("b1", "s2", 100, 0.15), ("b2", "s1", 100, 0.15)])


def test_only_self_matches_at_a_level_falls_through_to_the_next_level() -> None:
    # h1's bid at 0.30 only finds its own ask at the 0.05 level and buys h2's 0.20 ask; h3's
    # 0.10 bid then buys h1's 0.05 ask (each at its pair's midpoint).
    orders = book(
        ("b1", "h1", "buy", 100, 0.30, 0),
        ("s1", "h1", "sell", 100, 0.05, 1),
        ("s2", "h2", "sell", 100, 0.20, 2),
        ("b2", "h3", "buy", 100, 0.10, 3),
    )
    result = clear_double_auction(orders, tie_breaking="pro_rata")
    assert_trades_match(result, [("b1", "s2", 100, 0.25), ("b2", "s1", 100, 0.075)])


# --- match_level_pair against an independent max-flow ---------------------------------------


def max_flow_wh(bid_wh: list, ask_wh: list, bid_code: list, ask_code: list) -> int:
    """Largest self-trade-free volume of a level pair (Edmonds-Karp on a dense network)."""
    n_bid, n_ask = len(bid_wh), len(ask_wh)
    source, sink = n_bid + n_ask, n_bid + n_ask + 1
    capacity = [[0] * (n_bid + n_ask + 2) for _ in range(n_bid + n_ask + 2)]
    for i, wh in enumerate(bid_wh):
        capacity[source][i] = wh
        for j in range(n_ask):
            if bid_code[i] != ask_code[j]:
                capacity[i][n_bid + j] = wh
    for j, wh in enumerate(ask_wh):
        capacity[n_bid + j][sink] = wh
    flow = 0
    while True:
        parent = {source: None}
        queue = deque([source])
        while queue and sink not in parent:
            node = queue.popleft()
            for nxt, cap in enumerate(capacity[node]):
                if cap > 0 and nxt not in parent:
                    parent[nxt] = node
                    queue.append(nxt)
        if sink not in parent:
            return flow
        path, node = [], sink
        while parent[node] is not None:
            path.append((parent[node], node))
            node = parent[node]
        pushed = min(capacity[a][b] for a, b in path)
        for a, b in path:
            capacity[a][b] -= pushed
            capacity[b][a] += pushed
        flow += pushed


@st.composite
def level_pairs(draw: st.DrawFn) -> tuple[list, list, list, list]:
    """Small level pairs: open quantities (some exhausted) and participant codes 0..3."""
    n_bid = draw(st.integers(1, 5))
    n_ask = draw(st.integers(1, 5))
    quantity = st.one_of(st.integers(0, 5), st.integers(1, 400))
    bid_wh = draw(st.lists(quantity, min_size=n_bid, max_size=n_bid))
    ask_wh = draw(st.lists(quantity, min_size=n_ask, max_size=n_ask))
    bid_code = draw(st.lists(st.integers(0, 3), min_size=n_bid, max_size=n_bid))
    ask_code = draw(st.lists(st.integers(0, 3), min_size=n_ask, max_size=n_ask))
    return bid_wh, ask_wh, bid_code, ask_code


@settings(max_examples=400, deadline=None)
@given(level_pairs())
def test_level_pair_trades_the_maximum_without_self_trades(case: tuple) -> None:
    bid_wh, ask_wh, bid_code, ask_code = case
    pairs = match_level_pair(bid_wh, ask_wh, bid_code, ask_code)
    bought = [0] * len(bid_wh)
    sold = [0] * len(ask_wh)
    for bid, ask, quantity in pairs:
        assert quantity > 0
        assert bid_code[bid] != ask_code[ask]
        bought[bid] += quantity
        sold[ask] += quantity
    assert all(b <= q for b, q in zip(bought, bid_wh, strict=True))
    assert all(s <= q for s, q in zip(sold, ask_wh, strict=True))
    assert sum(bought) == sum(sold) == max_flow_wh(bid_wh, ask_wh, bid_code, ask_code)
    assert pairs == sorted(pairs)
    if not set(bid_code) & set(ask_code):
        # Nobody on both sides: exactly the largest-remainder shares of the volume.
        volume = min(sum(bid_wh), sum(ask_wh))
        open_bid = [k for k, q in enumerate(bid_wh) if q > 0]
        open_ask = [k for k, q in enumerate(ask_wh) if q > 0]
        assert [bought[k] for k in open_bid] == largest_remainder_wh(
            volume, [bid_wh[k] for k in open_bid]
        )
        assert [sold[k] for k in open_ask] == largest_remainder_wh(
            volume, [ask_wh[k] for k in open_ask]
        )


@settings(max_examples=200, deadline=None)
@given(
    total=st.integers(0, 10_000),
    quantity=st.lists(st.integers(1, 10_000), min_size=1, max_size=8),
)
def test_largest_remainder_properties(total: int, quantity: list) -> None:
    total = min(total, sum(quantity))
    shares = largest_remainder_wh(total, quantity)
    assert sum(shares) == total
    for share, q in zip(shares, quantity, strict=True):
        # Within one Wh of the exact proportional entitlement, never above the order.
        assert 0 <= share <= q
        assert abs(share * sum(quantity) - total * q) < sum(quantity)
