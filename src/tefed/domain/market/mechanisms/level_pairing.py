"""Who trades with whom inside a pro-rata level pair, once every order's share is fixed.

`tefed.domain.market.mechanisms.pro_rata` fixes how much each bid and each ask of a (bid level,
ask level) pair trades; this module pairs those shares into trades:

- `northwest_corner`: bids and asks in rank order, a bid meets every ask whose cumulative-share
  interval overlaps its own (the northwest-corner rule of transportation problems), vectorized
  over any number of level pairs at once. Used when no participant is on both sides.
- `heaviest_first`: the participant with the most unpaired Wh goes first; never pairs a
  participant with itself. Used while some participant has unpaired Wh on both sides; what is
  left after that goes to the northwest corner.

All quantities are whole Wh.
"""

from __future__ import annotations

from collections.abc import Sequence
from heapq import heapify, heappop, heapreplace

import numpy as np


def northwest_corner(
    bid_share_wh: np.ndarray, ask_share_wh: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pair bid and ask shares in rank order by the northwest-corner rule.

    Parameters
    ----------
    bid_share_wh, ask_share_wh : numpy.ndarray
        Share of each bid and each ask [Wh], whole numbers >= 0, in rank order; the two sides
        sum to the same total. Zeros are allowed (orders that trade nothing).

    Returns
    -------
    bid, ask, quantity_wh : numpy.ndarray
        Position of the bid and the ask of each pair and its quantity [Wh] (> 0), sorted by bid
        and then ask position; each (bid, ask) pair comes once.

    Raises
    ------
    ValueError
        If a share is negative or the two sides sum to different totals.

    Notes
    -----
    With cumulative shares :math:`B_i = \\sum_{k \\le i} b_k` and :math:`A_j = \\sum_{k \\le j}
    a_k`, bid :math:`i` holds the interval :math:`[B_{i-1}, B_i)` and ask :math:`j` the interval
    :math:`[A_{j-1}, A_j)`; they trade the length of the overlap,
    :math:`\\max(0, \\min(B_i, A_j) - \\max(B_{i-1}, A_{j-1}))`. The pairs are the segments
    between consecutive points of :math:`\\{B_i\\} \\cup \\{A_j\\}`; a segment starting at
    :math:`s` belongs to the first bid with :math:`B_i > s` and the first ask with
    :math:`A_j > s`. That is :math:`O((n_b + n_a) \\log(n_b + n_a))` with at most
    :math:`n_b + n_a - 1` pairs. Several level pairs can be paired in one call by concatenating
    their shares: each pair's bid and ask shares have the same total, so the level-pair
    boundaries are common points and no segment straddles two level pairs.

    Examples
    --------
    Bid shares 150 and 50 Wh, ask shares 100 and 100 Wh: the first bid takes the first ask and
    half of the second, [0, 150) overlaps [0, 100) by 100 and [100, 200) by 50.

    >>> bid, ask, quantity_wh = northwest_corner(np.array([150, 50]), np.array([100, 100]))
    >>> bid.tolist(), ask.tolist(), quantity_wh.tolist()
    ([0, 0, 1], [0, 1, 1], [100, 50, 50])
    """
    bid_end = np.cumsum(np.asarray(bid_share_wh, dtype=np.int64))
    ask_end = np.cumsum(np.asarray(ask_share_wh, dtype=np.int64))
    for name, share in (("bid_share_wh", bid_share_wh), ("ask_share_wh", ask_share_wh)):
        if np.any(np.asarray(share) < 0):
            raise ValueError(f"{name}: got {np.asarray(share).min()}, expected shares >= 0")
    bid_total = int(bid_end[-1]) if bid_end.size else 0
    ask_total = int(ask_end[-1]) if ask_end.size else 0
    if bid_total != ask_total:
        raise ValueError(
            f"ask_share_wh: sums to {ask_total}, expected the bid total {bid_total} Wh"
        )
    # Three sorted runs; a stable (merge) sort of runs is linear.
    bounds = np.concatenate((np.zeros(1, dtype=np.int64), bid_end, ask_end))
    bounds.sort(kind="stable")
    length = np.diff(bounds)
    piece = length > 0
    start = bounds[:-1][piece]
    bid = np.searchsorted(bid_end, start, side="right")
    ask = np.searchsorted(ask_end, start, side="right")
    return bid, ask, length[piece]


def heaviest_first(
    bids: tuple[list[int], list[int], Sequence[int]],
    asks: tuple[list[int], list[int], Sequence[int]],
    scratch: tuple[list[int], list[int], list[int], int],
    pairs: list[int],
) -> tuple[list[int], list[int], list[int], list[int]]:
    """Pair shares without self-trades, the heaviest participant first, while one is on both sides.

    Parameters
    ----------
    bids, asks : tuple of (list of int, list of int, sequence of int)
        (share [Wh], participant code, reference) per order in rank order; shares >= 0, both
        sides summing to the same volume [Wh]. The share lists are consumed.
    scratch : tuple of (list of int, list of int, list of int, int)
        (load [Wh], first bid, first ask) per participant code ``0 <= code < 2**bits``, and
        ``bits``; its lists hold only zeros and -1 (none) before and after.
    pairs : list of int
        Extended by (bid reference, ask reference, quantity [Wh]) per pairing step; a (bid, ask)
        pair may come more than once.

    Returns
    -------
    bid_reference, bid_share_wh, ask_reference, ask_share_wh : list of int
        The orders left unpaired once no participant has unpaired Wh on both sides, with their
        unpaired shares [Wh] (> 0), in rank order; both sides sum to the same volume. Any pairing
        of them, such as `northwest_corner`, is free of self-trades.

    Raises
    ------
    RuntimeError
        If the shares cannot be paired without self-trades (some participant's bid and ask
        shares together exceed the volume, which `pro_rata` never produces).

    Notes
    -----
    Repeatedly, the participant with the most unpaired Wh on both sides together (ties: lowest
    code) has its first unpaired order paired with the first unpaired order of another
    participant on the other side, for as much as keeps every participant's unpaired Wh within
    the unpaired volume. That keeps Hall's condition (every participant's unpaired Wh at most
    the unpaired volume), so every share is paired, each step pairs at least 1 Wh, and the loop
    ends. It stops as soon as no participant has unpaired Wh on both sides: from then on no
    pairing can be a self-trade, and the rest is returned for a vectorized pairing.

    The heaviest participant is the top of a heap with one entry ``code - (load << bits)`` per
    participant (most load, then lowest code). Loads only fall, so an entry may overstate a
    load but never understate it: an outdated top is updated before it is used, and a valid
    top is the heaviest. Each step pairs the first unpaired order of both participants, so a
    participant's orders are used up in rank order: ``first`` per participant (in
    ``scratch``) and ``after`` per order (its participant's next one) yield them.

    Examples
    --------
    Participant 0 bids 10 Wh and asks 10 Wh, participant 1 bids 10 Wh and participant 2 asks
    10 Wh: participant 0 (20 Wh) goes first and buys from participant 2, then (10 Wh each, the
    lowest code first) sells to participant 1.

    >>> pairs = []
    >>> heaviest_first(([10, 10], [0, 1], [0, 1]), ([10, 10], [0, 2], [0, 1]),
    ...                ([0] * 3, [-1] * 3, [-1] * 3, 2), pairs)
    ([1], [10], [0], [10])
    >>> pairs
    [0, 1, 10]

    After the first step participant 0 only sells, so its ask and participant 1's bid are
    returned unpaired.
    """
    load, first_bid, first_ask, bits = scratch
    sides = []
    for (share, owner, reference), first in ((bids, first_bid), (asks, first_ask)):
        if 0 in share:
            kept = [k for k, wh in enumerate(share) if wh]
            share = [share[k] for k in kept]
            owner, reference = [owner[k] for k in kept], [reference[k] for k in kept]
        after = [0] * len(share)
        for k in range(len(share) - 1, -1, -1):
            code = owner[k]
            load[code] += share[k]
            after[k], first[code] = first[code], k
        sides.append((share, owner, reference, after))
    (bid_left, bid_owner, bid_at, bid_after), (ask_left, ask_owner, ask_at, ask_after) = sides
    buyers = set(bid_owner)
    members = list(buyers.union(ask_owner))
    on_both_sides = len(buyers.intersection(ask_owner))
    heap = [code - (load[code] << bits) for code in members]
    heapify(heap)
    mask = (1 << bits) - 1
    unpaired = sum(bid_left)
    front_bid = front_ask = 0
    extend = pairs.extend
    while on_both_sides:
        key = heap[0]
        heavy = key & mask
        heavy_load = load[heavy]
        while key != heavy - (heavy_load << bits):  # an outdated entry: update it, look again
            if heavy_load:
                heapreplace(heap, heavy - (heavy_load << bits))
            else:
                heappop(heap)
            key = heap[0]
            heavy = key & mask
            heavy_load = load[heavy]
        bid = first_bid[heavy]
        if bid >= 0:  # the heaviest buys: its first bid meets the first ask of another
            while not ask_left[front_ask]:
                front_ask += 1
            ask = front_ask
            partner = ask_owner[ask]
            while partner == heavy or not ask_left[ask]:
                ask += 1
                partner = ask_owner[ask]
            buyer, seller = heavy, partner
        else:  # the heaviest only sells: its first ask meets the first bid of another
            ask = first_ask[heavy]
            while not bid_left[front_bid]:
                front_bid += 1
            bid = front_bid
            partner = bid_owner[bid]
            while partner == heavy or not bid_left[bid]:
                bid += 1
                partner = bid_owner[bid]
            buyer, seller = partner, heavy
        bid_wh, ask_wh = bid_left[bid], ask_left[ask]
        quantity = bid_wh if bid_wh < ask_wh else ask_wh
        # Every other load is at most the heaviest and at most the larger entry below the top
        # (entries overstate loads), so the cap can only bind when both tests hold.
        if unpaired - heavy_load < quantity and unpaired - quantity < -(
            min(heap[1:3], default=0) >> bits
        ):
            quantity = _capped(load, members, (buyer, seller), unpaired, quantity)
        bid_left[bid] = bid_wh - quantity
        if bid_wh == quantity:
            first_bid[buyer] = bid_after[bid]
            if first_bid[buyer] < 0 <= first_ask[buyer]:
                on_both_sides -= 1
        ask_left[ask] = ask_wh - quantity
        if ask_wh == quantity:
            first_ask[seller] = ask_after[ask]
            if first_ask[seller] < 0 <= first_bid[seller]:
                on_both_sides -= 1
        heavy_load -= quantity
        load[heavy] = heavy_load
        if heavy_load:
            heapreplace(heap, heavy - (heavy_load << bits))
        else:
            heappop(heap)
        load[partner] -= quantity
        unpaired -= quantity
        extend((bid_at[bid], ask_at[ask], quantity))
    for code in members:
        load[code], first_bid[code], first_ask[code] = 0, -1, -1
    bid_rest = [k for k in range(len(bid_left)) if bid_left[k]]
    ask_rest = [k for k in range(len(ask_left)) if ask_left[k]]
    return (
        [bid_at[k] for k in bid_rest],
        [bid_left[k] for k in bid_rest],
        [ask_at[k] for k in ask_rest],
        [ask_left[k] for k in ask_rest],
    )


def _capped(
    load: list[int], members: list[int], pair: tuple[int, int], unpaired: int, quantity: int
) -> int:
    """``min(quantity, unpaired - most load of a member not in pair)`` [Wh]; must be > 0."""
    kept = [load[code] for code in pair]
    for code in pair:
        load[code] = 0
    others = max(map(load.__getitem__, members))
    for code, wh in zip(pair, kept, strict=True):
        load[code] = wh
    quantity = min(quantity, unpaired - others)
    if quantity <= 0:  # unreachable while Hall's condition holds; guards an endless loop
        raise RuntimeError("pro-rata pairing: shares cannot be paired without self-trades")
    return quantity
