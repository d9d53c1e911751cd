"""Pro-rata matching of tied orders: whole-Wh shares without self-trades.

With ``tie_breaking="pro_rata"`` the double auction (`double_auction`) matches whole price
levels instead of single orders: all bids of one pool at one limit price (a
bid level) against all asks of that pool at one limit price (an ask level). This module decides
how much each order of such a level pair trades (`match_level_pair`) and walks a pool's levels
pair by pair (`walk_levels`); who trades with whom is decided by
`tefed.domain.market.mechanisms.level_pairing`.

All quantities are whole Wh held as Python ints, so products such as ``total · quantity`` are
exact however large the orders are.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import compress

import numpy as np

from tefed.domain.market.mechanisms.level_pairing import heaviest_first, northwest_corner
from tefed.domain.market.mechanisms.order_book import open_from


def largest_remainder_wh(total_wh: int, quantity_wh: Sequence[int]) -> list[int]:
    """Split ``total_wh`` whole Wh in proportion to ``quantity_wh`` (largest remainder).

    Parameters
    ----------
    total_wh : int
        Energy to share [Wh], ``0 <= total_wh <= sum(quantity_wh)``.
    quantity_wh : sequence of int
        Quantity of each order [Wh], each > 0, in priority order (submission sequence, then
        order_id).

    Returns
    -------
    list of int
        The share of each order [Wh]; the shares sum to ``total_wh`` and none exceeds its
        order's quantity.

    Notes
    -----
    Order :math:`i` is entitled to :math:`T q_i / \\sum q`. It gets the floor of that, and the
    Wh left over (fewer than the number of orders) go one each to the orders with the largest
    remainders :math:`T q_i \\bmod \\sum q`; equal remainders go to the order earlier in
    ``quantity_wh``. A share exceeds its floor only if the entitlement is fractional, hence
    below :math:`q_i`, so no share exceeds its quantity.

    Examples
    --------
    200 Wh shared by bids of 300 and 100 Wh: 150 and 50. 100 Wh shared by three orders of
    100 Wh: 33⅓ each, the one Wh left over goes to the first.

    >>> largest_remainder_wh(200, [300, 100])
    [150, 50]
    >>> largest_remainder_wh(100, [100, 100, 100])
    [34, 33, 33]
    """
    quantity = [int(q) for q in quantity_wh]
    total = int(total_wh)
    whole = sum(quantity)
    if not 0 <= total <= whole:
        raise ValueError(f"total_wh: got {total}, expected between 0 and sum(quantity_wh)={whole}")
    return _largest_remainder(total, quantity, whole)


def match_level_pair(
    bid_wh: Sequence[int],
    ask_wh: Sequence[int],
    bid_participant: Sequence[int],
    ask_participant: Sequence[int],
) -> list[tuple[int, int, int]]:
    """Match a bid level with an ask level pro-rata, never a participant with itself.

    Parameters
    ----------
    bid_wh, ask_wh : sequence of int
        Open quantity of each bid and each ask of the two levels [Wh], in priority order
        (sequence, then order_id); zeros are allowed (exhausted orders).
    bid_participant, ask_participant : sequence of int
        Participant code of each bid and each ask; codes are ordered like participant names.

    Returns
    -------
    list of (int, int, int)
        ``(bid position, ask position, quantity [Wh])`` per matched pair, sorted by bid and
        then ask position, quantities > 0.

    Notes
    -----
    Let :math:`B, A` be the open quantity of the bid and the ask level and :math:`b_P, a_P`
    participant P's part of each.

    1. Volume. The level pair trades the most it can without self-trades,
       :math:`V = \\min(B, A, \\min_P (B - b_P + A - a_P))`: P's bids can only buy the others'
       asks and P's asks only sell to the others' bids, which bounds the volume when P is on
       both sides (a max-flow/min-cut bound that is attained).
    2. Shares. Bids share :math:`V` in proportion to their open quantities and asks share
       :math:`V` likewise (`largest_remainder_wh`).
    3. Self-trade. Shares can be paired without self-trades if and only if every participant's
       bid and ask shares together are at most :math:`V`, :math:`X_P + Y_P \\le V` (Hall's
       condition; a set of bids of two participants can reach every ask). At most one
       participant can break it, since the shares sum to :math:`2V`. If P breaks it, the
       maximum volume leaves it no choice: its bids get :math:`\\min(b_P, A - a_P)`, its asks
       the rest of :math:`V`, which equals :math:`\\min(a_P, B - b_P)`; the other participants
       share the remaining volume of each side pro-rata. So pro-rata holds among everyone but
       a participant whose own orders on the other side block it.
    4. Pairing. While some participant has unpaired shares on both sides, heaviest first
       (`level_pairing.heaviest_first`): the participant with the most unpaired Wh on both
       sides together (ties: lowest code) has its first unpaired order paired with the first
       unpaired order of another participant on the other side, for as much as keeps every
       participant's unpaired Wh within the unpaired volume. That keeps Hall's condition, so
       every share can be paired without a self-trade. The rest (all of it when no participant
       is on both sides) is paired by the northwest-corner rule in rank order
       (`level_pairing.northwest_corner`): with cumulative shares, bid :math:`i` holds
       :math:`[B_{i-1}, B_i)`, ask :math:`j` holds :math:`[A_{j-1}, A_j)`, and each
       overlapping pair trades the overlap; no self-trade is possible any more. The pairing
       decides only who trades with whom: every order's fill and the level pair's volume are
       fixed by steps 1-3.

    Examples
    --------
    Two bids of 300 and 100 Wh at one price against one ask of 200 Wh: 150 and 50 Wh.

    >>> match_level_pair([300, 100], [200], [0, 1], [2])
    [(0, 0, 150), (1, 0, 50)]

    The same bids against two asks of 100 Wh: the shares 150 and 50 are paired in rank order,
    [0, 150) meets [0, 100) and [100, 200), [150, 200) meets [100, 200).

    >>> match_level_pair([300, 100], [100, 100], [0, 1], [2, 3])
    [(0, 0, 100), (0, 1, 50), (1, 1, 50)]

    Participant 0 bids 100 Wh and asks 100 Wh, participant 1 bids 100 Wh, participant 2 asks
    10 Wh: participant 0's bid can only buy the 10 Wh, its ask sells 100 Wh to participant 1.

    >>> match_level_pair([100, 100], [100, 10], [0, 1], [0, 2])
    [(0, 1, 10), (1, 0, 100)]
    """
    bid_wh, ask_wh = [int(q) for q in bid_wh], [int(q) for q in ask_wh]
    bids = [k for k, wh in enumerate(bid_wh) if wh > 0]
    asks = [k for k, wh in enumerate(ask_wh) if wh > 0]
    # Local codes 0, 1, ... in the order of the participant codes.
    local = {code: k for k, code in enumerate(sorted({*bid_participant, *ask_participant}))}
    bid_code = [local[bid_participant[k]] for k in bids]
    ask_code = [local[ask_participant[k]] for k in asks]
    bid_share, ask_share, _, conflicted = _level_pair_shares(
        [bid_wh[k] for k in bids], [ask_wh[k] for k in asks], bid_code, ask_code
    )
    if not conflicted:
        bid, ask, quantity_wh = northwest_corner(np.array(bid_share), np.array(ask_share))
        return [
            (bids[i], asks[j], wh)
            for i, j, wh in zip(bid.tolist(), ask.tolist(), quantity_wh.tolist(), strict=True)
        ]
    pairs: list[int] = []
    scratch = [0] * len(local), [-1] * len(local), [-1] * len(local), len(local).bit_length()
    bid_rest, bid_rest_wh, ask_rest, ask_rest_wh = heaviest_first(
        (bid_share, bid_code, bids), (ask_share, ask_code, asks), scratch, pairs
    )
    bid, ask, quantity_wh = northwest_corner(np.array(bid_rest_wh), np.array(ask_rest_wh))
    for i, j, wh in zip(bid.tolist(), ask.tolist(), quantity_wh.tolist(), strict=True):
        pairs.extend((bid_rest[i], ask_rest[j], wh))
    paired: dict[tuple[int, int], int] = {}
    for k in range(0, len(pairs), 3):
        key = (pairs[k], pairs[k + 1])
        paired[key] = paired.get(key, 0) + pairs[k + 2]
    return [(bid, ask, quantity) for (bid, ask), quantity in sorted(paired.items())]


def walk_levels(
    bid_price: np.ndarray,
    ask_price: np.ndarray,
    bid_code: np.ndarray,
    ask_code: np.ndarray,
    bid_left_wh: np.ndarray,
    ask_left_wh: np.ndarray,
    uniform: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Walk one pool's ranked book level pair by level pair (pro-rata tie-breaking).

    Parameters
    ----------
    bid_price, ask_price : numpy.ndarray
        Limit prices of the pool's bids (from high to low) and asks (from low to high), each
        side in rank order [USD/kWh].
    bid_code, ask_code : numpy.ndarray
        Participant code of each bid and ask, codes ordered like the names [-].
    bid_left_wh, ask_left_wh : numpy.ndarray
        Open quantity of each bid and ask (int64) [Wh]; consumed in place, they hold the
        unfilled remainders afterwards.
    uniform : bool
        Stop at the first bid level priced below an ask level already matched (the uniform
        settlement rule of `tefed.domain.market.mechanisms.double_auction`).

    Returns
    -------
    pair_bid, pair_ask, pair_wh : numpy.ndarray
        Bid index, ask index and quantity [Wh] of each matched pair: level pair by level pair
        in walking order, within one sorted by bid and then ask index, quantities > 0.

    Notes
    -----
    Each bid level meets the open ask levels it crosses from the cheapest on, each level pair
    matched as in `match_level_pair`, until the bid level is filled; the walk stops at the first
    bid level that crosses no open ask level. Exhausted ask levels are skipped through a
    next-open forest (`tefed.domain.market.mechanisms.order_book.open_from`). The shares of a
    level pair depend on what earlier pairs left, so they are found pair by pair. The pairing of
    shares (step 4 of `match_level_pair`) is heaviest first, recorded as it goes, while a
    participant of the level pair has unpaired shares on both sides; the remaining shares of
    every level pair are concatenated and paired by one vectorized northwest-corner call at the
    end (their bid and ask totals agree pair by pair, so no pair straddles two level pairs).
    All pairs are sorted once.

    Examples
    --------
    Bids of 300 and 100 Wh at 0.12 against one ask of 200 Wh at 0.10: 150 and 50 Wh.

    >>> bid_left_wh, ask_left_wh = np.array([300, 100]), np.array([200])
    >>> pairs = walk_levels(np.array([0.12, 0.12]), np.array([0.10]), np.array([0, 1]),
    ...                     np.array([2]), bid_left_wh, ask_left_wh, uniform=False)
    >>> [part.tolist() for part in pairs], bid_left_wh.tolist()
    ([[0, 1], [0, 0], [150, 50]], [150, 50])
    """
    bid_start, bid_end = _levels(bid_price)
    ask_start, ask_end = _levels(ask_price)
    crossing = np.searchsorted(ask_price[ask_start], bid_price[bid_start], side="right").tolist()
    bid_left, ask_left = bid_left_wh.tolist(), ask_left_wh.tolist()
    bid_owner, ask_owner = bid_code.tolist(), ask_code.tolist()
    ask_bounds = list(zip(ask_start.tolist(), ask_end.tolist(), strict=True))
    level_left = [sum(ask_left[a0:a1]) for a0, a1 in ask_bounds]
    next_open = list(range(len(ask_bounds) + 1))
    codes = max(bid_owner + ask_owner, default=-1) + 1
    scratch = [0] * codes, [-1] * codes, [-1] * codes, codes.bit_length()
    pairs: list[int] = []  # (bid, ask, quantity [Wh]) per heaviest-first step, flat
    # Bids and asks of the level pairs without a participant on both sides, with their shares.
    corner_bid: list[int] = []
    corner_ask: list[int] = []
    corner_bid_wh: list[int] = []
    corner_ask_wh: list[int] = []
    highest_ask_price = -np.inf
    for b0, b1, end in zip(bid_start.tolist(), bid_end.tolist(), crossing, strict=True):
        if uniform and bid_price[b0] < highest_ask_price:
            break
        level = open_from(next_open, 0)
        if level >= end:
            break
        bids, bid_wh, bid_who = list(range(b0, b1)), bid_left[b0:b1], bid_owner[b0:b1]
        while level < end:
            a0, a1 = ask_bounds[level]
            asks, ask_wh, ask_who = range(a0, a1), ask_left[a0:a1], ask_owner[a0:a1]
            if 0 in ask_wh:
                asks = [a for a in asks if ask_left[a]]
                ask_wh, ask_who = [ask_left[a] for a in asks], [ask_owner[a] for a in asks]
            bid_share, ask_share, traded_wh, conflicted = _level_pair_shares(
                bid_wh, ask_wh, bid_who, ask_who
            )
            if traded_wh:
                if len(asks) == a1 - a0:
                    ask_left[a0:a1] = [wh - s for wh, s in zip(ask_wh, ask_share, strict=True)]
                else:
                    for a, share in zip(asks, ask_share, strict=True):
                        ask_left[a] -= share
                bid_wh = [wh - share for wh, share in zip(bid_wh, bid_share, strict=True)]
                if conflicted:  # the pairing consumes the share lists
                    bid_rest, bid_rest_wh, ask_rest, ask_rest_wh = heaviest_first(
                        (bid_share, bid_who, bids), (ask_share, ask_who, asks), scratch, pairs
                    )
                    corner_bid.extend(bid_rest)
                    corner_bid_wh.extend(bid_rest_wh)
                    corner_ask.extend(ask_rest)
                    corner_ask_wh.extend(ask_rest_wh)
                else:  # paired all at once at the end
                    corner_bid.extend(bids)
                    corner_bid_wh.extend(bid_share)
                    corner_ask.extend(asks)
                    corner_ask_wh.extend(ask_share)
                highest_ask_price = max(highest_ask_price, ask_price[a0])
                level_left[level] -= traded_wh
                if level_left[level] == 0:
                    next_open[level] = level + 1
                if 0 in bid_wh:
                    for b, wh in zip(bids, bid_wh, strict=True):
                        bid_left[b] = wh
                    keep = [k for k, wh in enumerate(bid_wh) if wh]
                    if not keep:
                        break
                    bids = [bids[k] for k in keep]
                    bid_wh, bid_who = [bid_wh[k] for k in keep], [bid_who[k] for k in keep]
            level = open_from(next_open, level + 1)
        for b, wh in zip(bids, bid_wh, strict=True):
            bid_left[b] = wh
    bid_left_wh[:] = bid_left
    ask_left_wh[:] = ask_left
    steps = np.fromiter(pairs, dtype=np.int64, count=len(pairs)).reshape(-1, 3)
    bid, ask, quantity_wh = northwest_corner(
        np.array(corner_bid_wh, dtype=np.int64), np.array(corner_ask_wh, dtype=np.int64)
    )
    corner = np.column_stack(
        (np.array(corner_bid, dtype=np.int64)[bid], np.array(corner_ask, dtype=np.int64)[ask])
    )
    steps = np.concatenate((steps, np.column_stack((corner, quantity_wh))))
    return _sorted_pairs(steps, bid_start, ask_start)


def _largest_remainder(total: int, quantity: list[int], whole: int) -> list[int]:
    """`largest_remainder_wh` without the range check; ``whole == sum(quantity)``."""
    if total == whole:
        return list(quantity)
    share = [total * q // whole for q in quantity]
    left_over = total - sum(share)
    if left_over:
        remainder = [total * q % whole for q in quantity]
        # Stable sort (also with reverse=True): equal remainders keep the priority order.
        ranked = sorted(range(len(quantity)), key=remainder.__getitem__, reverse=True)
        for index in ranked[:left_over]:
            share[index] += 1
    return share


def _level_pair_shares(
    bid_wh: list[int], ask_wh: list[int], bid_code: list[int], ask_code: list[int]
) -> tuple[list[int], list[int], int, bool]:
    """Shares of open orders (quantities > 0), the volume [Wh] (`match_level_pair` 1-3) and
    whether a participant is on both sides."""
    total_bid, total_ask = sum(bid_wh), sum(ask_wh)
    both = set(bid_code).intersection(ask_code)
    if not both:
        volume = min(total_bid, total_ask)
        bid_share = _largest_remainder(volume, bid_wh, total_bid)
        return bid_share, _largest_remainder(volume, ask_wh, total_ask), volume, False
    bid_of = _per_participant(bid_wh, bid_code, both)
    ask_of = _per_participant(ask_wh, ask_code, both)
    volume = min(
        [total_bid, total_ask, *(total_bid + total_ask - bid_of[c] - ask_of[c] for c in both)]
    )
    bid_share = _largest_remainder(volume, bid_wh, total_bid)
    ask_share = _largest_remainder(volume, ask_wh, total_ask)
    bid_share_of = _per_participant(bid_share, bid_code, both)
    ask_share_of = _per_participant(ask_share, ask_code, both)
    crowded = sorted(c for c in both if bid_share_of[c] + ask_share_of[c] > volume)
    if crowded:
        code = crowded[0]
        own_bid = min(bid_of[code], total_ask - ask_of[code])
        bid_share = _split_by_owner(bid_wh, bid_code, code, own_bid, volume - own_bid)
        ask_share = _split_by_owner(ask_wh, ask_code, code, volume - own_bid, own_bid)
    return bid_share, ask_share, volume, True


def _sorted_pairs(
    steps: np.ndarray, bid_start: np.ndarray, ask_start: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Steps (bid, ask, quantity [Wh]) by bid level, ask level, bid, ask; repeats summed."""
    bid, ask, quantity_wh = steps[:, 0].astype(np.intp), steps[:, 1].astype(np.intp), steps[:, 2]
    # Level pair, then (bid, ask); both keys fit int64 for any book that fits in memory.
    level_pair = np.searchsorted(bid_start, bid, side="right") * (ask_start.size + 1)
    level_pair += np.searchsorted(ask_start, ask, side="right")
    order = np.lexsort((bid * (ask.max(initial=0) + 1) + ask, level_pair))
    bid, ask = bid[order], ask[order]
    first = np.flatnonzero(np.diff(bid, prepend=-1) | np.diff(ask, prepend=-1))
    return bid[first], ask[first], np.add.reduceat(quantity_wh[order], first)


def _levels(price: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end index of each run of equal prices in a ranked side."""
    start = np.flatnonzero(np.diff(price, prepend=np.nan) != 0)
    return start, np.append(start, price.size)[1:]


def _per_participant(
    quantity_wh: list[int], code: list[int], participants: set[int]
) -> dict[int, int]:
    """Sum of ``quantity_wh`` of each of ``participants`` [Wh]."""
    return {who: sum(compress(quantity_wh, map(who.__eq__, code))) for who in participants}


def _split_by_owner(
    quantity_wh: list[int], code: Sequence[int], owner: int, owner_wh: int, others_wh: int
) -> list[int]:
    """Shares when ``owner``'s orders share ``owner_wh`` and the others ``others_wh`` [Wh]."""
    share = [0] * len(quantity_wh)
    for mine in (True, False):
        members = [k for k in range(len(quantity_wh)) if (code[k] == owner) == mine]
        shares = largest_remainder_wh(
            owner_wh if mine else others_wh, [quantity_wh[k] for k in members]
        )
        for k, wh in zip(members, shares, strict=True):
            share[k] = wh
    return share
