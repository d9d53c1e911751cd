"""Communities of communities: a local market per community and an upper market across them.

The hybrid topology of the weak-grids survey, and Rana et al.'s market platform coordinating
several local energy communities (LECs): every household belongs to one community (in tefed,
the households one LV transformer feeds). Each interval

1. every community clears its members' simple orders on its own, in a uniform-price double
   auction per pool (`clear_double_auction` with the ``uniform`` rule): the community's
   price;
2. what is left of each order after its local market forms the community's net residual curve:
   no residual bid of a community reaches one of its residual asks (its market has no crossing
   left), so at any price a community is a buyer or a seller across, never both. The upper
   market clears the sum of the communities' residual curves at one uniform price per pool,
   the price across, by the same pool walk as the communities' markets (the PV pool's
   unfilled bids move on to the battery pool); its trades pair the households of exporting
   communities with those of importing ones;
3. what neither market matched is settled with the grid at the net-billing prices.

A household therefore trades first inside its community, at the community's price, and only
its residual crosses to other communities, at the upper price.

References
----------
.. [1] R. Rana et al., local energy communities with a market layer coordinating several
   communities (the three-layer platform of tefed's design).
.. [2] "Transactive energy in weak grids" survey: P2P, community and hybrid market topologies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tefed.domain.market.frames import typed_frame
from tefed.domain.market.mechanisms.double_auction import clear_double_auction, clear_pools
from tefed.domain.market.mechanisms.order_book import POOLS, ranked_book

#: Market level of a trade: inside a community, or across communities.
LEVELS = ("community", "upper")

COMMUNITY_DTYPES = {
    "community": "object",
    "pool": "object",
    "local_price_usd_per_kwh": "float64",
    "local_energy_wh": "int64",
    "upper_bought_wh": "int64",
    "upper_sold_wh": "int64",
}


@dataclass(frozen=True, eq=False)
class CommunitiesResult:
    """One interval of community markets and the upper market.

    Attributes
    ----------
    trades : pandas.DataFrame
        Every trade (double-auction columns and ``pool``), local ones first, with ``level``
        (one of ``LEVELS``).
    communities : pandas.DataFrame
        Per community and pool with orders: columns ``COMMUNITY_DTYPES``: its local price
        (NaN without a local trade) [USD/kWh], energy traded inside it, and what it bought and
        sold across [Wh].
    upper_price_usd_per_kwh : dict of str to float
        The upper market's price per pool with trades [USD/kWh].
    status : str
        ``cleared`` when either level traded, else the upper market's status.
    """

    trades: pd.DataFrame
    communities: pd.DataFrame
    upper_price_usd_per_kwh: dict[str, float]
    status: str


def residual_orders(orders: pd.DataFrame, filled_wh: pd.Series) -> pd.DataFrame:
    """What is left of each order after a clearing: quantities less their fills [Wh].

    Orders filled in full are dropped; the others keep every column.

    Examples
    --------
    >>> orders = pd.DataFrame({"order_id": ["a", "b"], "quantity_wh": [500, 200]})
    >>> residual_orders(orders, pd.Series({"a": 200, "b": 200}))["quantity_wh"].tolist()
    [300]
    """
    left_wh = orders["quantity_wh"].to_numpy(np.int64) - filled_wh.reindex(
        orders["order_id"]
    ).fillna(0).to_numpy(np.int64)
    return orders.assign(quantity_wh=left_wh)[left_wh > 0].reset_index(drop=True)


@dataclass(frozen=True, eq=False)
class UpperMarketResult:
    """The upper market's clearing.

    Attributes
    ----------
    trades : pandas.DataFrame
        Cross-community trades, double-auction columns and ``pool``.
    price_usd_per_kwh : dict of str to float
        The uniform price of each pool with trades [USD/kWh].
    status : str
        ``cleared``, ``no_crossing``, ``one_sided`` or ``empty`` (as a double auction's).
    """

    trades: pd.DataFrame
    price_usd_per_kwh: dict[str, float]
    status: str


def clear_upper_market(residual: pd.DataFrame) -> UpperMarketResult:
    """Clear the communities' net residual curves together, one uniform price per pool.

    Parameters
    ----------
    residual : pandas.DataFrame
        The residual simple orders of every community (as `residual_orders` returns them).

    Returns
    -------
    UpperMarketResult
        The cross-community trades and the uniform price per pool.

    Notes
    -----
    The sum of the communities' residual curves is the curve of all residual orders, and the
    upper market is the MicroTE double auction's uniform rule with time priority on it
    (`clear_double_auction`), pools and all: bids ranked from high to low price, asks from low
    to high (equal prices by ``sequence``), each pool's trades at the midpoint of its last
    matched pair, and the PV pool's unfilled bids moving on to the battery pool, as in every
    community's own market. After each local clearing a community's residual bids lie below
    its residual asks, so no participant is on both sides, the walk is the cumulative-quantity
    segments of the two sides (`_segment_walk`, vectorised), and no trade of the upper market
    stays inside one community. A participant on both sides (not from `clear_communities`)
    is matched by the double auction's own walk, which skips self-trades.

    Examples
    --------
    >>> residual = pd.DataFrame({"order_id": ["s", "b"], "participant": ["a1", "b1"],
    ...     "side": ["sell", "buy"], "quantity_wh": [200, 300],
    ...     "price_usd_per_kwh": [0.07, 0.12], "pool": "non_dispatchable", "sequence": [0, 1]})
    >>> result = clear_upper_market(residual)
    >>> result.trades[["seller", "buyer", "quantity_wh"]].to_numpy().tolist()
    [['a1', 'b1', 200]]
    >>> round(result.price_usd_per_kwh["non_dispatchable"], 3)
    0.095
    """
    book = ranked_book(residual)
    bidders = book.participant_code[: book.bid_count]
    if np.intersect1d(bidders, book.participant_code[book.bid_count :]).size:
        auction = clear_double_auction(residual, settlement_rule="uniform", tie_breaking="time")
    else:
        auction = clear_pools(book, _segment_walk, "uniform")
    return UpperMarketResult(
        trades=auction.trades,
        price_usd_per_kwh={
            pool: price
            for pool, price in auction.clearing_price_usd_per_kwh.items()
            if np.isfinite(price)
        },
        status=auction.status,
    )


def _segment_walk(
    bid_price: np.ndarray,
    ask_price: np.ndarray,
    bid_code: np.ndarray,
    ask_code: np.ndarray,
    bid_left_wh: np.ndarray,
    ask_left_wh: np.ndarray,
    uniform: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The double auction's time walk of one pool without a participant on both sides
    (`double_auction.PoolWalk`; the codes and the uniform flag change nothing then).

    The ranked bids' and asks' cumulative quantities cut the volume axis into segments, each
    between one bid and one ask, in the order the time walk matches them; it trades the
    segments up to the first whose bid price is below its ask price (bid prices fall and ask
    prices rise along the segments). Nothing is skipped, so asks are taken in rank order and
    the uniform stop never applies.
    """
    if bid_price.size == 0 or ask_price.size == 0:
        empty = np.empty(0, dtype=np.intp)
        return empty, empty, np.empty(0, dtype=np.int64)
    bid_end = np.cumsum(bid_left_wh)
    ask_end = np.cumsum(ask_left_wh)
    ends = np.union1d(bid_end, ask_end)
    ends = ends[ends <= min(bid_end[-1], ask_end[-1])]
    bid = np.searchsorted(bid_end, ends, side="left")
    ask = np.searchsorted(ask_end, ends, side="left")
    crossing = np.logical_and.accumulate(bid_price[bid] >= ask_price[ask])
    bid, ask, ends = bid[crossing], ask[crossing], ends[crossing]
    quantity_wh = np.diff(ends, prepend=0).astype(np.int64)
    np.subtract.at(bid_left_wh, bid, quantity_wh)
    np.subtract.at(ask_left_wh, ask, quantity_wh)
    return bid.astype(np.intp), ask.astype(np.intp), quantity_wh


def clear_communities(
    orders: pd.DataFrame, community_of: pd.Series, tie_breaking: str = "time"
) -> CommunitiesResult:
    """Clear each community's market, then the upper market on their residuals.

    Parameters
    ----------
    orders : pandas.DataFrame
        The interval's simple orders, as `clear_double_auction` takes them.
    community_of : pandas.Series
        Community of each participant, indexed by participant.
    tie_breaking : str
        ``time`` or ``pro_rata`` among equal prices in the communities' markets (the upper
        market ranks equal prices by submission time).

    Returns
    -------
    CommunitiesResult
        Trades of both levels, the per-community table and the upper prices.

    Raises
    ------
    ValueError
        If an order's participant has no community.

    Examples
    --------
    Community A has a 300 Wh ask at 0.08 and a 100 Wh bid at 0.12; community B a 200 Wh bid at
    0.10. A trades 100 Wh inside at 0.10 (midpoint of 0.12 and 0.08) and sells its remaining
    200 Wh to B at 0.09:

    >>> orders = pd.DataFrame({"order_id": ["s", "b1", "b2"], "participant": ["a1", "a2", "b1"],
    ...     "side": ["sell", "buy", "buy"], "quantity_wh": [300, 100, 200],
    ...     "price_usd_per_kwh": [0.08, 0.12, 0.10], "sequence": [0, 1, 2]})
    >>> result = clear_communities(orders, pd.Series({"a1": "A", "a2": "A", "b1": "B"}))
    >>> result.trades[["level", "buyer", "quantity_wh", "price_usd_per_kwh"]].round(3)
           level buyer  quantity_wh  price_usd_per_kwh
    0  community    a2          100               0.10
    1      upper    b1          200               0.09
    """
    participant = orders["participant"].to_numpy(dtype=object)
    community = community_of.reindex(participant).to_numpy(dtype=object)
    missing = pd.isna(community)
    if missing.any():
        raise ValueError(
            f"orders.participant: got {sorted(set(participant[missing].tolist()))[:5]} without "
            "a community; expected participants of the community table"
        )
    names = sorted(set(community.tolist()))
    local = [
        clear_double_auction(orders[community == name], "uniform", tie_breaking) for name in names
    ]
    filled_wh = pd.concat([result.filled_wh for result in local]) if local else pd.Series()
    upper = clear_upper_market(residual_orders(orders, filled_wh))
    trades = pd.concat(
        [result.trades.assign(level="community") for result in local]
        + [upper.trades.assign(level="upper")],
        ignore_index=True,
    )
    statuses = [result.status for result in local] + [upper.status]
    return CommunitiesResult(
        trades=trades,
        communities=_community_table(names, local, upper.trades, community_of),
        upper_price_usd_per_kwh=upper.price_usd_per_kwh,
        status="cleared" if "cleared" in statuses else upper.status,
    )


def _community_table(names, local, upper_trades: pd.DataFrame, community_of) -> pd.DataFrame:
    """Per community and pool: local price and energy, energy bought and sold across."""
    buyer_of = community_of.reindex(upper_trades["buyer"]).to_numpy(dtype=object)
    seller_of = community_of.reindex(upper_trades["seller"]).to_numpy(dtype=object)
    upper_pool = upper_trades["pool"].to_numpy(dtype=object)
    upper_wh = upper_trades["quantity_wh"].to_numpy(np.int64)
    rows = {name: [] for name in COMMUNITY_DTYPES}
    for name, result in zip(names, local, strict=True):
        local_pool = result.trades["pool"].to_numpy(dtype=object)
        local_wh = result.trades["quantity_wh"].to_numpy(np.int64)
        for pool in POOLS:
            if result.pool_status[pool] == "empty":
                continue
            rows["community"].append(name)
            rows["pool"].append(pool)
            rows["local_price_usd_per_kwh"].append(result.clearing_price_usd_per_kwh[pool])
            rows["local_energy_wh"].append(int(local_wh[local_pool == pool].sum()))
            rows["upper_bought_wh"].append(
                int(upper_wh[(buyer_of == name) & (upper_pool == pool)].sum())
            )
            rows["upper_sold_wh"].append(
                int(upper_wh[(seller_of == name) & (upper_pool == pool)].sum())
            )
    return typed_frame(
        {
            name: np.array(values, dtype=dtype)
            for (name, dtype), values in zip(COMMUNITY_DTYPES.items(), rows.values(), strict=True)
        }
    )
