"""MicroTE double auction over random books: properties of every rule and tie-breaking."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from test_double_auction import book

from tefed.domain.market.mechanisms.double_auction import (
    POOLS,
    SETTLEMENT_RULES,
    STATUSES,
    TIE_BREAKING,
    TRADE_COLUMNS,
    clear_double_auction,
)

BUYERS = ("h01", "h02", "h03")
SELLERS = ("h04", "h05", "h06")


@st.composite
def order_books(draw: st.DrawFn, two_sided_participants: bool = True) -> pd.DataFrame:
    """Small books with few participants and prices, so ties and self-matches are common.

    With ``two_sided_participants=False`` buyers and sellers are different households.
    """
    size = draw(st.integers(min_value=0, max_value=14))
    with_pool = draw(st.booleans())
    rows = []
    for index in range(size):
        side = draw(st.sampled_from(["buy", "sell"]))
        names = BUYERS if side == "buy" else SELLERS
        participant = draw(st.sampled_from(names if not two_sided_participants else BUYERS))
        quantity = draw(st.one_of(st.integers(1, 5), st.integers(1, 1_000)))
        rows.append(
            (
                f"o{index:02d}",
                participant,
                side,
                quantity,
                draw(st.sampled_from([-0.05, 0.0, 0.05, 0.10, 0.12, 0.20, 0.30])),
                draw(st.integers(min_value=0, max_value=4)),
                draw(st.sampled_from(POOLS)) if with_pool else None,
            )
        )
    if not with_pool:
        rows = [row[:6] for row in rows]
    return book(*rows)


def pools_of(orders: pd.DataFrame) -> pd.Series:
    """Each order's pool, indexed by order_id (non-dispatchable without a pool column)."""
    pool = orders["pool"] if "pool" in orders.columns else POOLS[0]
    return orders.assign(pool=pool).set_index("order_id")["pool"]


@settings(max_examples=100, deadline=None)
@given(
    orders=order_books(),
    settlement_rule=st.sampled_from(SETTLEMENT_RULES),
    tie_breaking=st.sampled_from(TIE_BREAKING),
)
def test_clearing_properties(orders: pd.DataFrame, settlement_rule: str, tie_breaking: str) -> None:
    result = clear_double_auction(orders, settlement_rule, tie_breaking)
    trades = result.trades
    quantity_wh = orders.set_index("order_id")["quantity_wh"]
    pool = pools_of(orders)

    assert list(trades.columns) == [*TRADE_COLUMNS, "pool"]
    assert trades["quantity_wh"].dtype == np.int64
    assert result.filled_wh.dtype == np.int64
    assert sorted(result.filled_wh.index) == sorted(orders["order_id"])
    assert result.filled_wh.index.is_monotonic_increasing
    filled_wh = result.filled_wh.reindex(quantity_wh.index)
    assert (filled_wh >= 0).all()
    assert (filled_wh <= quantity_wh).all()

    # The filled quantities are exactly what the trades add up to, per order.
    per_order = pd.concat(
        [
            trades.groupby("buy_order_id")["quantity_wh"].sum(),
            trades.groupby("sell_order_id")["quantity_wh"].sum(),
        ]
    )
    assert filled_wh[filled_wh > 0].sort_index().to_dict() == per_order.sort_index().to_dict()

    assert (trades["quantity_wh"] > 0).all()
    assert (trades["price_usd_per_kwh"] >= trades["ask_price_usd_per_kwh"]).all()
    assert (trades["price_usd_per_kwh"] <= trades["bid_price_usd_per_kwh"]).all()
    limit = orders.set_index("order_id")["price_usd_per_kwh"]
    assert (trades["bid_price_usd_per_kwh"].to_numpy() == limit[trades["buy_order_id"]]).all()
    assert (trades["ask_price_usd_per_kwh"].to_numpy() == limit[trades["sell_order_id"]]).all()
    assert (trades["buyer"] != trades["seller"]).all()
    # A trade is in its ask's pool; a bid buys in its own pool or, non-dispatchable, also in
    # the dispatchable pool once its own pool has cleared.
    bid_pool = pool[trades["buy_order_id"]].to_numpy()
    assert (trades["pool"].to_numpy() == pool[trades["sell_order_id"]].to_numpy()).all()
    assert ((trades["pool"].to_numpy() == bid_pool) | (bid_pool == POOLS[0])).all()
    assert trades["pool"].map(POOLS.index).is_monotonic_increasing

    is_buy = orders.set_index("order_id")["side"] == "buy"
    assert int(filled_wh[is_buy].sum()) == int(filled_wh[~is_buy].sum()) == result.traded_energy_wh

    for name in POOLS:
        in_pool = orders[pool.reindex(orders["order_id"]).to_numpy() == name]
        sides = set(in_pool["side"])
        if name == POOLS[1] and "sell" in sides:
            # Bids the non-dispatchable pool left open join the dispatchable pool's asks.
            in_pv = trades[trades["pool"] == POOLS[0]].groupby("buy_order_id")["quantity_wh"].sum()
            pv_bids = (orders["side"] == "buy") & (pool[orders["order_id"]].to_numpy() == POOLS[0])
            open_wh = (
                quantity_wh[orders["order_id"]].to_numpy()
                - in_pv.reindex(orders["order_id"], fill_value=0).to_numpy()
            )
            if (pv_bids.to_numpy() & (open_wh > 0)).any():
                sides.add("buy")
        traded = bool((trades["pool"] == name).any())
        expected = (
            "empty"
            if in_pool.empty
            else "one_sided"
            if len(sides) < 2
            else "cleared"
            if traded
            else "no_crossing"
        )
        assert result.pool_status[name] == expected
        price = result.clearing_price_usd_per_kwh[name]
        if settlement_rule == "uniform" and traded:
            assert (trades.loc[trades["pool"] == name, "price_usd_per_kwh"] == price).all()
        else:
            assert math.isnan(price)
    assert result.status == next(s for s in STATUSES if s in result.pool_status.values())

    # Nothing that could still trade is left: no unfilled bid crosses another participant's
    # unfilled ask in its pool. The uniform rule may stop early, but only after a self-trade
    # skip, so it keeps the property when nobody is on both sides of a pool.
    left = orders.set_index("order_id").assign(left_wh=quantity_wh - filled_wh, pool=pool)
    sides_of = left.groupby(["pool", "participant"])["side"].nunique()
    if settlement_rule != "uniform" or (sides_of < 2).all():
        left = left[left["left_wh"] > 0]
        open_bids, open_asks = left[left["side"] == "buy"], left[left["side"] == "sell"]
        crossing = open_bids.merge(open_asks, on="pool", suffixes=("_bid", "_ask"))
        crossing = crossing[
            (crossing["price_usd_per_kwh_bid"] >= crossing["price_usd_per_kwh_ask"])
            & (crossing["participant_bid"] != crossing["participant_ask"])
        ]
        assert crossing.empty


@settings(max_examples=80, deadline=None)
@given(
    orders=order_books(),
    settlement_rule=st.sampled_from(SETTLEMENT_RULES),
    tie_breaking=st.sampled_from(TIE_BREAKING),
    data=st.data(),
)
def test_row_order_does_not_change_the_result(
    orders: pd.DataFrame, settlement_rule: str, tie_breaking: str, data: st.DataObject
) -> None:
    permutation = data.draw(st.permutations(range(len(orders))))
    shuffled = orders.iloc[list(permutation)].reset_index(drop=True)
    result = clear_double_auction(orders, settlement_rule, tie_breaking)
    shuffled_result = clear_double_auction(shuffled, settlement_rule, tie_breaking)
    pd.testing.assert_frame_equal(shuffled_result.trades, result.trades)
    pd.testing.assert_series_equal(shuffled_result.filled_wh, result.filled_wh)
    assert shuffled_result.status == result.status
    assert shuffled_result.pool_status == result.pool_status
    np.testing.assert_array_equal(
        list(shuffled_result.clearing_price_usd_per_kwh.values()),
        list(result.clearing_price_usd_per_kwh.values()),
    )


def volume_by_price_pair(trades: pd.DataFrame) -> dict:
    """Traded energy per (pool, bid price, ask price) [Wh]."""
    keys = ["pool", "bid_price_usd_per_kwh", "ask_price_usd_per_kwh"]
    return trades.groupby(keys)["quantity_wh"].sum().to_dict()


def filled_by_level(orders: pd.DataFrame, filled_wh: pd.Series) -> dict:
    """Filled energy per (pool, side, limit price) [Wh]; bids of both pools together, as a
    non-dispatchable bid may fill in the dispatchable pool too."""
    levels = orders.set_index("order_id").assign(pool=pools_of(orders), filled_wh=filled_wh)
    levels["pool"] = levels["pool"].where(levels["side"] == "sell", "any")
    return levels.groupby(["pool", "side", "price_usd_per_kwh"])["filled_wh"].sum().to_dict()


@settings(max_examples=100, deadline=None)
@given(
    orders=order_books(two_sided_participants=False),
    settlement_rule=st.sampled_from(SETTLEMENT_RULES),
)
def test_pro_rata_only_redistributes_among_ties(orders: pd.DataFrame, settlement_rule: str) -> None:
    # With no participant on both sides of a pool no self-trade can block a match, and the
    # two tie-breakings trade the same energy between every pair of limit prices: every price
    # level fills the same total, so the prices (and a uniform price) are the same too.
    time = clear_double_auction(orders, settlement_rule, "time")
    pro_rata = clear_double_auction(orders, settlement_rule, "pro_rata")
    assert volume_by_price_pair(pro_rata.trades) == volume_by_price_pair(time.trades)
    assert filled_by_level(orders, pro_rata.filled_wh) == filled_by_level(orders, time.filled_wh)
    assert pro_rata.traded_energy_wh == time.traded_energy_wh
    assert pro_rata.pool_status == time.pool_status
    np.testing.assert_allclose(
        list(pro_rata.clearing_price_usd_per_kwh.values()),
        list(time.clearing_price_usd_per_kwh.values()),
        rtol=0,
        atol=1e-15,
    )
    # Pro-rata: orders tied at one price, pool and side fill in proportion to their size. Each
    # level pair a level meets adds less than 1 Wh of rounding per order (shares of
    # proportional remainders stay proportional), so the error is below the number of level
    # pairs the level traded in.
    by_level = orders.set_index("order_id").assign(
        pool=pools_of(orders), filled_wh=pro_rata.filled_wh
    )
    trades = pro_rata.trades
    for (pool, side, price), level in by_level.groupby(["pool", "side", "price_usd_per_kwh"]):
        own, other = (
            ("bid_price_usd_per_kwh", "ask_price_usd_per_kwh")
            if side == "buy"
            else ("ask_price_usd_per_kwh", "bid_price_usd_per_kwh")
        )
        if side == "buy" and pool == POOLS[0]:
            crossed = (trades["pool"] != pool) & (trades[own] == price)
            if crossed.any():
                # What the level left open was shared again in the dispatchable pool, in
                # proportion to the open quantities, not to the orders' sizes.
                continue
        met = trades.loc[(trades["pool"] == pool) & (trades[own] == price), other].nunique()
        exact = level["quantity_wh"] * level["filled_wh"].sum() / level["quantity_wh"].sum()
        error_wh = (level["filled_wh"] - exact).abs()
        assert (error_wh < met).all() if met else (level["filled_wh"] == 0).all()


@settings(max_examples=200, deadline=None)
@given(orders=order_books(two_sided_participants=False))
def test_uniform_price_is_the_midpoint_of_the_last_matched_pair(orders: pd.DataFrame) -> None:
    # Without self-trade skips asks are taken in rank order: the last matched pair of a pool
    # holds its lowest matched bid and its highest matched ask.
    result = clear_double_auction(orders, settlement_rule="uniform")
    for name in POOLS:
        trades = result.trades[result.trades["pool"] == name]
        if trades.empty:
            continue
        last = trades.iloc[-1]
        midpoint = (last["bid_price_usd_per_kwh"] + last["ask_price_usd_per_kwh"]) / 2
        assert result.clearing_price_usd_per_kwh[name] == midpoint
        assert last["bid_price_usd_per_kwh"] == trades["bid_price_usd_per_kwh"].min()
        assert last["ask_price_usd_per_kwh"] == trades["ask_price_usd_per_kwh"].max()
