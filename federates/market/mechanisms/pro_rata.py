"""Pro-rata matching of tied orders: whole-Wh shares without self-trades.

With ``tie_breaking="pro_rata"`` the double auction (`federates.market.mechanisms.double_auction`)
matches whole price levels instead of single orders: all bids of one pool at one limit price (a
bid level) against all asks of that pool at one limit price (an ask level). This module decides
how much each order of such a level pair trades and who trades with whom.

All quantities are whole Wh held as Python ints, so products such as ``total · quantity`` are
exact however large the orders are.
"""

from __future__ import annotations

from collections.abc import Sequence


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
    if total == 0:
        return [0] * len(quantity)
    share = [total * q // whole for q in quantity]
    remainder = [total * q % whole for q in quantity]
    left_over = total - sum(share)
    # Stable sort: equal remainders keep the priority order.
    for index in sorted(range(len(quantity)), key=lambda k: -remainder[k])[:left_over]:
        share[index] += 1
    return share


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
    4. Pairing. Repeatedly, the participant with the most unpaired Wh on both sides together
       (ties: lowest code) has its first unpaired order paired with the first unpaired order
       of another participant on the other side, for as much as keeps every participant's
       unpaired Wh within the unpaired volume. That keeps Hall's condition, so every share is
       paired, each step pairs at least 1 Wh, and the loop ends.

    Examples
    --------
    Two bids of 300 and 100 Wh at one price against one ask of 200 Wh: 150 and 50 Wh.

    >>> match_level_pair([300, 100], [200], [0, 1], [2])
    [(0, 0, 150), (1, 0, 50)]

    Participant 0 bids 100 Wh and asks 100 Wh, participant 1 bids 100 Wh, participant 2 asks
    10 Wh: participant 0's bid can only buy the 10 Wh, its ask sells 100 Wh to participant 1.

    >>> match_level_pair([100, 100], [100, 10], [0, 1], [0, 2])
    [(0, 1, 10), (1, 0, 100)]
    """
    bid_share, ask_share = _level_pair_shares(
        [int(q) for q in bid_wh], [int(q) for q in ask_wh], bid_participant, ask_participant
    )
    return _paired(bid_share, ask_share, list(bid_participant), list(ask_participant))


def _level_pair_shares(
    bid_wh: list[int], ask_wh: list[int], bid_code: Sequence[int], ask_code: Sequence[int]
) -> tuple[list[int], list[int]]:
    """Shares of each bid and ask [Wh] (steps 1 to 3 of `match_level_pair`)."""
    bid_of = _per_participant(bid_wh, bid_code)
    ask_of = _per_participant(ask_wh, ask_code)
    total_bid, total_ask = sum(bid_wh), sum(ask_wh)
    both = sorted(set(bid_of) & set(ask_of))
    volume = min(
        [total_bid, total_ask, *(total_bid + total_ask - bid_of[c] - ask_of[c] for c in both)]
    )
    bid_share = _shares_of(volume, bid_wh)
    ask_share = _shares_of(volume, ask_wh)
    bid_share_of = _per_participant(bid_share, bid_code)
    ask_share_of = _per_participant(ask_share, ask_code)
    crowded = [c for c in both if bid_share_of[c] + ask_share_of[c] > volume]
    if crowded:
        code = crowded[0]
        own_bid = min(bid_of[code], total_ask - ask_of[code])
        bid_share = _split_by_owner(bid_wh, bid_code, code, own_bid, volume - own_bid)
        ask_share = _split_by_owner(ask_wh, ask_code, code, volume - own_bid, own_bid)
    return bid_share, ask_share


def _paired(
    bid_share: list[int], ask_share: list[int], bid_code: list[int], ask_code: list[int]
) -> list[tuple[int, int, int]]:
    """Pair the shares without self-trades (step 4 of `match_level_pair`)."""
    load: dict[int, int] = {}
    for code, wh in [
        *zip(bid_code, bid_share, strict=True),
        *zip(ask_code, ask_share, strict=True),
    ]:
        load[code] = load.get(code, 0) + wh
    unpaired = sum(bid_share)
    bid_left, ask_left = list(bid_share), list(ask_share)
    paired: dict[tuple[int, int], int] = {}
    while unpaired > 0:
        heavy = min(load, key=lambda code: (-load[code], code))
        own_bids = [i for i, wh in enumerate(bid_left) if wh > 0 and bid_code[i] == heavy]
        if own_bids:
            bid = own_bids[0]
            ask = next(j for j, wh in enumerate(ask_left) if wh > 0 and ask_code[j] != heavy)
        else:
            ask = next(j for j, wh in enumerate(ask_left) if wh > 0 and ask_code[j] == heavy)
            bid = next(i for i, wh in enumerate(bid_left) if wh > 0 and bid_code[i] != heavy)
        pair_codes = (bid_code[bid], ask_code[ask])
        others = max((wh for code, wh in load.items() if code not in pair_codes), default=0)
        quantity = min(bid_left[bid], ask_left[ask], unpaired - others)
        if quantity <= 0:  # unreachable while Hall's condition holds; guards an endless loop
            raise RuntimeError("pro-rata pairing: shares cannot be paired without self-trades")
        bid_left[bid] -= quantity
        ask_left[ask] -= quantity
        load[pair_codes[0]] -= quantity
        load[pair_codes[1]] -= quantity
        unpaired -= quantity
        paired[(bid, ask)] = paired.get((bid, ask), 0) + quantity
    return [(bid, ask, quantity) for (bid, ask), quantity in sorted(paired.items())]


def _per_participant(quantity_wh: Sequence[int], code: Sequence[int]) -> dict[int, int]:
    """Sum of ``quantity_wh`` per participant code [Wh]."""
    total: dict[int, int] = {}
    for participant, wh in zip(code, quantity_wh, strict=True):
        total[participant] = total.get(participant, 0) + wh
    return total


def _shares_of(total_wh: int, quantity_wh: list[int]) -> list[int]:
    """`largest_remainder_wh` over the open orders only (exhausted orders get 0)."""
    open_at = [k for k, wh in enumerate(quantity_wh) if wh > 0]
    share = [0] * len(quantity_wh)
    shares = largest_remainder_wh(total_wh, [quantity_wh[k] for k in open_at])
    for k, wh in zip(open_at, shares, strict=True):
        share[k] = wh
    return share


def _split_by_owner(
    quantity_wh: list[int], code: Sequence[int], owner: int, owner_wh: int, others_wh: int
) -> list[int]:
    """Shares when ``owner``'s orders share ``owner_wh`` and the others ``others_wh`` [Wh]."""
    share = [0] * len(quantity_wh)
    for mine in (True, False):
        members = [k for k in range(len(quantity_wh)) if (code[k] == owner) == mine]
        members_wh = [quantity_wh[k] for k in members]
        shares = _shares_of(owner_wh if mine else others_wh, members_wh)
        for k, wh in zip(members, shares, strict=True):
            share[k] = wh
    return share
