"""MicroTE double auction with two pools (PV and batteries) in one book: hand-computed cases."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from test_double_auction import assert_trades_match, book

from tefed.domain.market.mechanisms.double_auction import POOLS, clear_double_auction

PV, BATTERY = POOLS


def test_pv_clears_first_and_its_open_bids_move_to_the_battery_pool() -> None:
    # PV: b1 0.15 (400 Wh) vs s1 0.08 (300 Wh) -> 300 Wh at (0.15 + 0.08)/2 = 0.115.
    # Batteries: b2 0.20 (200 Wh) and b1's open 100 Wh (0.15) vs s2 0.12 (500 Wh): b2 first,
    # 200 Wh at (0.20 + 0.12)/2 = 0.16, then b1 100 Wh at (0.15 + 0.12)/2 = 0.135.
    # b2 would cross s1, but a battery-pool bid never buys PV.
    orders = book(
        ("s2", "h04", "sell", 500, 0.12, 3, BATTERY),
        ("b1", "h01", "buy", 400, 0.15, 0, PV),
        ("b2", "h03", "buy", 200, 0.20, 2, BATTERY),
        ("s1", "h02", "sell", 300, 0.08, 1, PV),
    )
    result = clear_double_auction(orders)
    assert_trades_match(
        result, [("b1", "s1", 300, 0.115), ("b2", "s2", 200, 0.16), ("b1", "s2", 100, 0.135)]
    )
    assert result.trades["pool"].tolist() == [PV, BATTERY, BATTERY]
    assert result.filled_wh.to_dict() == {"b1": 400, "b2": 200, "s1": 300, "s2": 300}
    assert result.status == "cleared"
    assert result.pool_status == {PV: "cleared", BATTERY: "cleared"}
    assert result.traded_energy_wh == 600
    # (300·0.115 + 200·0.16 + 100·0.135) / 600 = 80 / 600
    assert result.mean_price_usd_per_kwh == pytest.approx(80 / 600)


def test_crossing_prices_in_different_pools_do_not_trade() -> None:
    orders = book(
        ("s1", "h01", "sell", 100, 0.05, 0, PV),
        ("b1", "h02", "buy", 100, 0.30, 1, BATTERY),
    )
    result = clear_double_auction(orders)
    assert result.trades.empty
    assert result.pool_status == {PV: "one_sided", BATTERY: "one_sided"}
    assert result.status == "one_sided"
    assert result.filled_wh.to_dict() == {"b1": 0, "s1": 0}


@pytest.mark.parametrize(
    ("rows", "pool_status", "status"),
    [
        # PV has both sides but no crossing, batteries only a bid: the book is "no_crossing".
        (
            [
                ("b1", "h01", "buy", 100, 0.05, 0, PV),
                ("s1", "h02", "sell", 100, 0.10, 1, PV),
                ("b2", "h03", "buy", 100, 0.30, 2, BATTERY),
            ],
            {PV: "no_crossing", BATTERY: "one_sided"},
            "no_crossing",
        ),
        # One pool trading is enough for "cleared".
        (
            [
                ("b1", "h01", "buy", 100, 0.05, 0, PV),
                ("s1", "h02", "sell", 100, 0.10, 1, PV),
                ("b2", "h03", "buy", 100, 0.30, 2, BATTERY),
                ("s2", "h04", "sell", 100, 0.20, 3, BATTERY),
            ],
            {PV: "no_crossing", BATTERY: "cleared"},
            "cleared",
        ),
        # Only batteries, one-sided: the empty PV pool does not hide that.
        (
            [("s2", "h04", "sell", 100, 0.20, 3, BATTERY)],
            {PV: "empty", BATTERY: "one_sided"},
            "one_sided",
        ),
    ],
)
def test_overall_status_is_the_most_informative_pool_status(
    rows: list[tuple], pool_status: dict[str, str], status: str
) -> None:
    result = clear_double_auction(book(*rows))
    assert result.pool_status == pool_status
    assert result.status == status


def test_uniform_price_per_pool() -> None:
    # PV: b1 0.20 (200) takes s1 0.06 (150) and 50 of s2 0.10; b2 0.14 (100) takes 100 of s2.
    # Last pair (0.14, 0.10): every PV trade settles at 0.12.
    # Batteries: b3 0.25 vs s3 0.15, 100 Wh at 0.20.
    orders = book(
        ("b1", "h01", "buy", 200, 0.20, 0, PV),
        ("b2", "h02", "buy", 100, 0.14, 1, PV),
        ("s1", "h03", "sell", 150, 0.06, 2, PV),
        ("s2", "h04", "sell", 200, 0.10, 3, PV),
        ("b3", "h05", "buy", 100, 0.25, 4, BATTERY),
        ("s3", "h06", "sell", 100, 0.15, 5, BATTERY),
    )
    result = clear_double_auction(orders, settlement_rule="uniform")
    assert_trades_match(
        result,
        [("b1", "s1", 150, 0.12), ("b1", "s2", 50, 0.12), ("b2", "s2", 100, 0.12),
         ("b3", "s3", 100, 0.20)],
    )  # fmt: skip
    assert result.clearing_price_usd_per_kwh == pytest.approx({PV: 0.12, BATTERY: 0.20})


def test_clearing_price_is_nan_for_a_pool_without_trades() -> None:
    orders = book(
        ("b1", "h01", "buy", 100, 0.30, 0, PV),
        ("s1", "h02", "sell", 100, 0.10, 1, PV),
    )
    price = clear_double_auction(orders, settlement_rule="uniform").clearing_price_usd_per_kwh
    assert price[PV] == pytest.approx(0.20)
    assert math.isnan(price[BATTERY])


def test_book_without_pool_column_is_all_pv() -> None:
    rows = [
        ("b1", "h01", "buy", 300, 0.30, 0),
        ("s1", "h02", "sell", 200, 0.10, 1),
    ]
    without = clear_double_auction(book(*rows))
    with_pool = clear_double_auction(book(*[(*row, PV) for row in rows]))
    pd.testing.assert_frame_equal(without.trades, with_pool.trades)
    pd.testing.assert_series_equal(without.filled_wh, with_pool.filled_wh)
    assert without.trades["pool"].tolist() == [PV]
    assert without.pool_status == {PV: "cleared", BATTERY: "empty"}


def test_participant_in_both_pools_trades_in_each() -> None:
    # h01 sells PV (0.08) and buys battery energy (0.18): two trades, each in its own pool,
    # neither with itself. h01's PV ask does not serve its own battery bid.
    orders = book(
        ("s1", "h01", "sell", 100, 0.08, 0, PV),
        ("b1", "h01", "buy", 100, 0.18, 1, BATTERY),
        ("b2", "h02", "buy", 100, 0.12, 2, PV),
        ("s2", "h03", "sell", 100, 0.14, 3, BATTERY),
    )
    result = clear_double_auction(orders)
    assert_trades_match(result, [("b2", "s1", 100, 0.10), ("b1", "s2", 100, 0.16)])
    assert result.trades["pool"].tolist() == [PV, BATTERY]


@pytest.mark.parametrize("tie_breaking", ["time", "pro_rata"])
def test_equal_prices_in_two_pools_stay_apart(tie_breaking: str) -> None:
    # Same limit prices in both pools: pro-rata shares are computed per pool, never across.
    # PV: bids 300 and 100 at 0.12 vs an ask of 200; batteries: one bid of 50 vs an ask of 400.
    orders = book(
        ("b1", "h01", "buy", 300, 0.12, 0, PV),
        ("b2", "h02", "buy", 100, 0.12, 1, PV),
        ("s1", "h03", "sell", 200, 0.10, 2, PV),
        ("b3", "h04", "buy", 50, 0.12, 3, BATTERY),
        ("s2", "h05", "sell", 400, 0.10, 4, BATTERY),
    )
    result = clear_double_auction(orders, tie_breaking=tie_breaking)
    pv = result.trades[result.trades["pool"] == PV].groupby("buy_order_id")["quantity_wh"].sum()
    pv_bids = {"time": (200, 0), "pro_rata": (150, 50)}[tie_breaking]
    assert (pv.get("b1", 0), pv.get("b2", 0)) == pv_bids
    # What PV left open (200 Wh of b1 and b2) then buys from the battery ask with b3.
    filled = result.filled_wh.to_dict()
    assert (filled["b1"], filled["b2"], filled["s1"], filled["b3"], filled["s2"]) == (
        300,
        100,
        200,
        50,
        250,
    )
