"""MicroTE double auction against slow, plain reference walks on random books.

The auction skips exhausted asks through a next-open forest and pairs pro-rata shares with a
heap or a vectorized northwest corner; the references below rescan every order at every step,
as the rules read. Books are drawn with few participants (self-trades are common), few prices
and sequences (ties are common).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from test_double_auction import book

from tefed.domain.market.mechanisms.double_auction import (
    POOLS,
    SETTLEMENT_RULES,
    clear_double_auction,
)
from tefed.domain.market.mechanisms.level_pairing import northwest_corner
from tefed.domain.market.mechanisms.pro_rata import largest_remainder_wh, match_level_pair


@st.composite
def crowded_books(draw: st.DrawFn) -> pd.DataFrame:
    """Up to 40 orders of 1 to 4 participants at 4 prices, often several per participant."""
    size = draw(st.integers(min_value=0, max_value=40))
    participants = draw(st.integers(min_value=1, max_value=4))
    quantity = st.one_of(st.integers(1, 9), st.integers(1, 2_000))
    rows = [
        (
            f"o{index:02d}",
            f"h{draw(st.integers(0, participants - 1))}",
            draw(st.sampled_from(["buy", "sell"])),
            draw(quantity),
            draw(st.sampled_from([0.05, 0.10, 0.12, 0.20])),
            draw(st.integers(0, 3)),
            draw(st.sampled_from(POOLS)),
        )
        for index in range(size)
    ]
    return book(*rows)


def ranked(
    orders: pd.DataFrame, pool: str, carried: list[dict] = ()
) -> tuple[list[dict], list[dict]]:
    """Bids and asks of one pool as dicts, in MicroTE priority (price, sequence, order_id);
    ``carried`` bids (left open by the non-dispatchable pool) join a pool that has asks."""
    rows = [row for row in orders.to_dict("records") if row.get("pool", POOLS[0]) == pool]
    for row in rows:
        row["left_wh"] = row["quantity_wh"]
    if any(row["side"] == "sell" for row in rows):
        rows += [bid for bid in carried if bid["left_wh"] > 0]
    bids = sorted(
        (row for row in rows if row["side"] == "buy"),
        key=lambda row: (-row["price_usd_per_kwh"], row["sequence"], row["order_id"]),
    )
    asks = sorted(
        (row for row in rows if row["side"] == "sell"),
        key=lambda row: (row["price_usd_per_kwh"], row["sequence"], row["order_id"]),
    )
    return bids, asks


def reference_time_walk(bids: list[dict], asks: list[dict], uniform: bool) -> list[tuple]:
    """Steps 2 and 3 and the uniform stop: each bid rescans all asks from the cheapest."""
    trades = []
    highest_ask = -math.inf
    for bid in bids:
        if uniform and bid["price_usd_per_kwh"] < highest_ask:
            break
        crossed = [ask for ask in asks if ask["price_usd_per_kwh"] <= bid["price_usd_per_kwh"]]
        if all(ask["left_wh"] == 0 for ask in crossed):
            break
        for ask in crossed:
            if bid["left_wh"] == 0:
                break
            if ask["left_wh"] > 0 and ask["participant"] != bid["participant"]:
                quantity = min(bid["left_wh"], ask["left_wh"])
                bid["left_wh"] -= quantity
                ask["left_wh"] -= quantity
                trades.append((bid, ask, quantity))
                highest_ask = max(highest_ask, ask["price_usd_per_kwh"])
    return trades


def reference_level_pair(bids: list[dict], asks: list[dict], pairing: str = "rule") -> list[tuple]:
    """Step 4 of the auction for one level pair, read off the rule (see `match_level_pair`).

    ``pairing="rule"``: heaviest first while some participant has unpaired shares on both
    sides, the northwest corner for the rest; ``pairing="heaviest_first"``: heaviest first
    always (the rule before the northwest-corner fast path).
    """
    bids = [bid for bid in bids if bid["left_wh"] > 0]
    asks = [ask for ask in asks if ask["left_wh"] > 0]
    total_bid = sum(bid["left_wh"] for bid in bids)
    total_ask = sum(ask["left_wh"] for ask in asks)

    def own(orders: list[dict], who: str) -> int:
        return sum(order["left_wh"] for order in orders if order["participant"] == who)

    both = sorted({b["participant"] for b in bids} & {a["participant"] for a in asks})
    bounds = [total_bid + total_ask - own(bids, p) - own(asks, p) for p in both]
    volume = min([total_bid, total_ask, *bounds])
    bid_share = largest_remainder_wh(volume, [bid["left_wh"] for bid in bids])
    ask_share = largest_remainder_wh(volume, [ask["left_wh"] for ask in asks])

    def share_of(orders: list[dict], shares: list[int], who: str) -> int:
        return sum(s for o, s in zip(orders, shares, strict=True) if o["participant"] == who)

    crowded = [
        p for p in both if share_of(bids, bid_share, p) + share_of(asks, ask_share, p) > volume
    ]
    if crowded:
        who = crowded[0]
        own_bid = min(own(bids, who), total_ask - own(asks, who))
        bid_share = split(bids, who, own_bid, volume - own_bid)
        ask_share = split(asks, who, volume - own_bid, own_bid)
    if not both and pairing == "rule":
        return reference_northwest_corner(bids, asks, bid_share, ask_share)
    # Pairing: the heaviest participant's first order meets the first order of another.
    load: dict[str, int] = {}
    for orders, shares in ((bids, bid_share), (asks, ask_share)):
        for order, share in zip(orders, shares, strict=True):
            load[order["participant"]] = load.get(order["participant"], 0) + share
    unpaired = volume
    paired: dict[tuple[int, int], int] = {}

    def on_both_sides() -> bool:
        buying = {b["participant"] for b, s in zip(bids, bid_share, strict=True) if s > 0}
        return any(a["participant"] in buying for a, s in zip(asks, ask_share, strict=True) if s)

    while unpaired > 0 and (pairing == "heaviest_first" or on_both_sides()):
        heavy = min(load, key=lambda who: (-load[who], who))
        mine = [i for i, b in enumerate(bids) if bid_share[i] > 0 and b["participant"] == heavy]
        if mine:
            i = mine[0]
            j = next(
                j for j, a in enumerate(asks) if ask_share[j] > 0 and a["participant"] != heavy
            )
        else:
            j = next(
                j for j, a in enumerate(asks) if ask_share[j] > 0 and a["participant"] == heavy
            )
            i = next(
                i for i, b in enumerate(bids) if bid_share[i] > 0 and b["participant"] != heavy
            )
        pair = (bids[i]["participant"], asks[j]["participant"])
        others = max((wh for who, wh in load.items() if who not in pair), default=0)
        quantity = min(bid_share[i], ask_share[j], unpaired - others)
        bid_share[i] -= quantity
        ask_share[j] -= quantity
        load[pair[0]] -= quantity
        load[pair[1]] -= quantity
        unpaired -= quantity
        paired[(i, j)] = paired.get((i, j), 0) + quantity
    rest = reference_northwest_corner(bids, asks, bid_share, ask_share)
    position = {id(order): k for k, order in enumerate(bids + asks)}
    for bid, ask, quantity in rest:
        key = (position[id(bid)], position[id(ask)] - len(bids))
        paired[key] = paired.get(key, 0) + quantity
    return [(bids[i], asks[j], quantity) for (i, j), quantity in sorted(paired.items())]


def reference_northwest_corner(
    bids: list[dict], asks: list[dict], bid_share: list[int], ask_share: list[int]
) -> list[tuple]:
    """Northwest corner: every (bid, ask) trades the overlap of their cumulative intervals."""
    bid_end = list(itertools.accumulate(bid_share))
    ask_end = list(itertools.accumulate(ask_share))
    trades = []
    for i, (bid, bid_wh) in enumerate(zip(bids, bid_share, strict=True)):
        for j, (ask, ask_wh) in enumerate(zip(asks, ask_share, strict=True)):
            low = max(bid_end[i] - bid_wh, ask_end[j] - ask_wh)
            overlap = min(bid_end[i], ask_end[j]) - low
            if overlap > 0:
                trades.append((bid, ask, overlap))
    return trades


def split(orders: list[dict], who: str, own_wh: int, others_wh: int) -> list[int]:
    """Shares when ``who``'s orders share ``own_wh`` and the others ``others_wh`` [Wh]."""
    shares = [0] * len(orders)
    for mine, total_wh in ((True, own_wh), (False, others_wh)):
        members = [k for k, o in enumerate(orders) if (o["participant"] == who) == mine]
        member_shares = largest_remainder_wh(total_wh, [orders[k]["left_wh"] for k in members])
        for k, wh in zip(members, member_shares, strict=True):
            shares[k] = wh
    return shares


def reference_level_walk(
    bids: list[dict], asks: list[dict], uniform: bool, pairing: str = "rule"
) -> list[tuple]:
    """Step 4 and the uniform stop: bid levels meet crossed ask levels from the cheapest."""

    def levels(orders: list[dict]) -> list[list[dict]]:
        prices = list(dict.fromkeys(order["price_usd_per_kwh"] for order in orders))
        return [[o for o in orders if o["price_usd_per_kwh"] == p] for p in prices]

    trades = []
    highest_ask = -math.inf
    for bid_level in levels(bids):
        price = bid_level[0]["price_usd_per_kwh"]
        if uniform and price < highest_ask:
            break
        crossed = [level for level in levels(asks) if level[0]["price_usd_per_kwh"] <= price]
        if all(ask["left_wh"] == 0 for level in crossed for ask in level):
            break
        for ask_level in crossed:
            if all(ask["left_wh"] == 0 for ask in ask_level):
                continue
            pairs = reference_level_pair(bid_level, ask_level, pairing)
            for bid, ask, quantity in pairs:
                bid["left_wh"] -= quantity
                ask["left_wh"] -= quantity
            trades.extend(pairs)
            if pairs:
                highest_ask = max(highest_ask, ask_level[0]["price_usd_per_kwh"])
            if all(bid["left_wh"] == 0 for bid in bid_level):
                break
    return trades


@settings(max_examples=100, deadline=None)
@given(
    orders=crowded_books(),
    settlement_rule=st.sampled_from(SETTLEMENT_RULES),
    tie_breaking=st.sampled_from(["time", "pro_rata"]),
)
# A conflict-free level pair where the northwest corner and heaviest first pair differently.
@example(
    orders=book(
        ("b1", "h0", "buy", 1, 0.20, 0),
        ("b2", "h1", "buy", 2, 0.20, 1),
        ("s1", "h2", "sell", 1, 0.10, 2),
        ("s2", "h3", "sell", 2, 0.10, 3),
    ),
    settlement_rule="midpoint",
    tie_breaking="pro_rata",
)
def test_auction_equals_the_reference_walk(
    orders: pd.DataFrame, settlement_rule: str, tie_breaking: str
) -> None:
    uniform = settlement_rule == "uniform"
    walk = reference_time_walk if tie_breaking == "time" else reference_level_walk
    expected, filled = [], {order_id: 0 for order_id in orders["order_id"]}
    carried: list[dict] = []
    for pool in POOLS:
        bids, asks = ranked(orders, pool, carried)
        carried = bids
        for bid, ask, quantity in walk(bids, asks, uniform):
            expected.append((bid["order_id"], ask["order_id"], quantity, pool))
            filled[bid["order_id"]] += quantity
            filled[ask["order_id"]] += quantity
    result = clear_double_auction(orders, settlement_rule, tie_breaking)
    columns = ["buy_order_id", "sell_order_id", "quantity_wh", "pool"]
    assert list(result.trades[columns].itertuples(index=False, name=None)) == expected
    assert result.filled_wh.to_dict() == filled


@st.composite
def level_pairs(draw: st.DrawFn) -> tuple[list, list, list, list]:
    """Level pairs of up to 6 orders a side (some exhausted), participant codes 0..3."""
    n_bid, n_ask = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    quantity = st.one_of(st.integers(0, 6), st.integers(0, 6), st.integers(1, 500))
    code = st.integers(0, 3)
    return (
        draw(st.lists(quantity, min_size=n_bid, max_size=n_bid)),
        draw(st.lists(quantity, min_size=n_ask, max_size=n_ask)),
        draw(st.lists(code, min_size=n_bid, max_size=n_bid)),
        draw(st.lists(code, min_size=n_ask, max_size=n_ask)),
    )


@settings(max_examples=300, deadline=None)
@given(level_pairs())
# The volume cap binds while the heaviest participant's load leaves exactly 1 Wh of slack.
@example(([4, 2, 3, 0, 4], [6, 3, 2, 4, 1], [2, 1, 1, 1, 0], [2, 3, 0, 0, 1]))
def test_level_pair_equals_the_reference_pairing(case: tuple) -> None:
    bid_wh, ask_wh, bid_code, ask_code = case
    bids = [
        {"order_id": k, "participant": c, "left_wh": q}
        for k, (q, c) in enumerate(zip(bid_wh, bid_code, strict=True))
    ]
    asks = [
        {"order_id": k, "participant": c, "left_wh": q}
        for k, (q, c) in enumerate(zip(ask_wh, ask_code, strict=True))
    ]
    expected = [(b["order_id"], a["order_id"], q) for b, a, q in reference_level_pair(bids, asks)]
    assert match_level_pair(bid_wh, ask_wh, bid_code, ask_code) == expected


@settings(max_examples=100, deadline=None)
@given(orders=crowded_books(), settlement_rule=st.sampled_from(SETTLEMENT_RULES))
def test_pro_rata_fills_equal_those_of_heaviest_first_pairing(
    orders: pd.DataFrame, settlement_rule: str
) -> None:
    # The northwest corner only changes who meets whom inside a conflict-free level pair.
    uniform = settlement_rule == "uniform"
    filled = dict.fromkeys(orders["order_id"], 0)
    volume: Counter = Counter()
    carried: list[dict] = []
    for pool in POOLS:
        bids, asks = ranked(orders, pool, carried)
        carried = bids
        for bid, ask, quantity in reference_level_walk(bids, asks, uniform, "heaviest_first"):
            filled[bid["order_id"]] += quantity
            filled[ask["order_id"]] += quantity
            volume[pool, bid["price_usd_per_kwh"], ask["price_usd_per_kwh"]] += quantity
    result = clear_double_auction(orders, settlement_rule, "pro_rata")
    assert result.filled_wh.to_dict() == filled
    columns = ["pool", "bid_price_usd_per_kwh", "ask_price_usd_per_kwh", "quantity_wh"]
    actual: Counter = Counter()
    for pool, bid_price, ask_price, quantity in result.trades[columns].itertuples(index=False):
        actual[pool, bid_price, ask_price] += quantity
    assert actual == volume


@settings(max_examples=200, deadline=None)
@given(level_pairs())
def test_level_pair_fills_equal_those_of_heaviest_first_pairing(case: tuple) -> None:
    bid_wh, ask_wh, bid_code, ask_code = case
    bids = [
        {"order_id": k, "participant": c, "left_wh": q}
        for k, (q, c) in enumerate(zip(bid_wh, bid_code, strict=True))
    ]
    asks = [
        {"order_id": k, "participant": c, "left_wh": q}
        for k, (q, c) in enumerate(zip(ask_wh, ask_code, strict=True))
    ]
    expected_bought, expected_sold = Counter(), Counter()
    for bid, ask, quantity in reference_level_pair(bids, asks, "heaviest_first"):
        expected_bought[bid["order_id"]] += quantity
        expected_sold[ask["order_id"]] += quantity
    bought, sold = Counter(), Counter()
    for bid, ask, quantity in match_level_pair(bid_wh, ask_wh, bid_code, ask_code):
        bought[bid] += quantity
        sold[ask] += quantity
    assert (bought, sold) == (expected_bought, expected_sold)


def test_conflict_free_level_pair_is_paired_in_rank_order() -> None:
    # Bids of 1 and 2 Wh meet asks of 1 and 2 Wh at one price each, four participants: the
    # northwest corner pairs [0, 1) with [0, 1) and [1, 3) with [1, 3). Heaviest first would
    # have started with h1's 2 Wh bid (tie with h3, lower name) against the first ask, s1.
    orders = book(
        ("b1", "h0", "buy", 1, 0.20, 0),
        ("b2", "h1", "buy", 2, 0.20, 1),
        ("s1", "h2", "sell", 1, 0.10, 2),
        ("s2", "h3", "sell", 2, 0.10, 3),
    )
    result = clear_double_auction(orders, "midpoint", "pro_rata")
    columns = ["buy_order_id", "sell_order_id", "quantity_wh"]
    assert list(result.trades[columns].itertuples(index=False, name=None)) == [
        ("b1", "s1", 1),
        ("b2", "s2", 2),
    ]


def test_northwest_corner_by_hand() -> None:
    # Bids [0, 3), [3, 3) (empty), [3, 5); asks [0, 2), [2, 5): pieces 2, 1 and 2 Wh.
    bid, ask, quantity_wh = northwest_corner(np.array([3, 0, 2]), np.array([2, 3]))
    assert (bid.tolist(), ask.tolist(), quantity_wh.tolist()) == ([0, 0, 2], [0, 1, 1], [2, 1, 2])
    # Two level pairs concatenated (totals 5 and 4): no piece straddles them.
    bid, ask, quantity_wh = northwest_corner(np.array([5, 4]), np.array([2, 3, 1, 3]))
    assert list(zip(bid.tolist(), ask.tolist(), quantity_wh.tolist(), strict=True)) == [
        (0, 0, 2),
        (0, 1, 3),
        (1, 2, 1),
        (1, 3, 3),
    ]
    assert [part.size for part in northwest_corner(np.array([0]), np.array([]))] == [0, 0, 0]


def test_northwest_corner_rejects_bad_shares() -> None:
    with pytest.raises(ValueError, match=r"ask_share_wh.*sums to 4.*5"):
        northwest_corner(np.array([5]), np.array([4]))
    with pytest.raises(ValueError, match=r"bid_share_wh.*-1"):
        northwest_corner(np.array([-1, 2]), np.array([1]))
