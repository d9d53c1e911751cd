"""MicroTE double auction pricing rules: pay-as-bid, pay-as-ask and the uniform price by hand."""

from __future__ import annotations

import math

import pytest
from test_double_auction import assert_trades_match, book

from tefed.domain.market.mechanisms.double_auction import POOLS, clear_double_auction

PV = POOLS[0]

# Bids 0.30 (500 Wh) > 0.25 (300 Wh) > 0.12 (400 Wh); asks 0.10 (200) < 0.20 (450) < 0.28 (300).
# The walk: b1 takes s1 whole (200) and 300 of s2; b2 takes the 150 left on s2; b2's 0.25 is
# below s3's 0.28 and the walk stops.
PARTIAL_FILLS = book(
    ("s3", "h06", "sell", 300, 0.28, 5),
    ("b2", "h02", "buy", 300, 0.25, 1),
    ("s1", "h04", "sell", 200, 0.10, 3),
    ("b3", "h03", "buy", 400, 0.12, 2),
    ("b1", "h01", "buy", 500, 0.30, 0),
    ("s2", "h05", "sell", 450, 0.20, 4),
)


@pytest.mark.parametrize(
    ("settlement_rule", "prices", "mean_price"),
    [
        # Each pair at its bid: 0.30, 0.30, 0.25; (200·0.30 + 300·0.30 + 150·0.25)/650.
        ("pay_as_bid", [0.30, 0.30, 0.25], 187.5 / 650),
        # Each pair at its ask: 0.10, 0.20, 0.20; (200·0.10 + 300·0.20 + 150·0.20)/650.
        ("pay_as_ask", [0.10, 0.20, 0.20], 110.0 / 650),
        # Last matched pair (b2 0.25, s2 0.20): every trade at 0.225.
        ("uniform", [0.225, 0.225, 0.225], 0.225),
    ],
)
def test_partial_fills_priced_by_rule(
    settlement_rule: str, prices: list[float], mean_price: float
) -> None:
    result = clear_double_auction(PARTIAL_FILLS, settlement_rule=settlement_rule)
    pairs = [("b1", "s1", 200), ("b1", "s2", 300), ("b2", "s2", 150)]
    assert_trades_match(result, [(*pair, price) for pair, price in zip(pairs, prices, strict=True)])
    assert result.filled_wh.to_dict() == {
        "b1": 500,
        "b2": 150,
        "b3": 0,
        "s1": 200,
        "s2": 450,
        "s3": 0,
    }
    assert result.mean_price_usd_per_kwh == pytest.approx(mean_price)
    uniform_price = result.clearing_price_usd_per_kwh[PV]
    if settlement_rule == "uniform":
        assert uniform_price == pytest.approx(0.225)
    else:
        assert math.isnan(uniform_price)


def test_uniform_price_lies_within_every_matched_pair() -> None:
    # Matched bids 0.30, 0.25 >= last bid 0.25 >= 0.225 >= last ask 0.20 >= matched asks.
    trades = clear_double_auction(PARTIAL_FILLS, settlement_rule="uniform").trades
    assert (trades["price_usd_per_kwh"] <= trades["bid_price_usd_per_kwh"]).all()
    assert (trades["price_usd_per_kwh"] >= trades["ask_price_usd_per_kwh"]).all()


def test_uniform_price_after_a_self_trade_skip_uses_the_highest_matched_ask() -> None:
    # h01 bids 0.30 for 300 Wh and asks 0.05. Its bid skips its own ask and takes s1 (0.10)
    # and s2 (0.25); h02's 0.28 bid then takes the skipped 0.05 ask. The last pair's midpoint,
    # (0.28 + 0.05)/2 = 0.165, is below s2's limit 0.25, so the uniform price is the midpoint
    # of the lowest matched bid and the highest matched ask: (0.28 + 0.25)/2 = 0.265.
    orders = book(
        ("b1", "h01", "buy", 300, 0.30, 0),
        ("s0", "h01", "sell", 100, 0.05, 1),
        ("s1", "h03", "sell", 100, 0.10, 2),
        ("s2", "h04", "sell", 100, 0.25, 3),
        ("b2", "h02", "buy", 100, 0.28, 4),
    )
    midpoint = clear_double_auction(orders)
    assert_trades_match(
        midpoint, [("b1", "s1", 100, 0.20), ("b1", "s2", 100, 0.275), ("b2", "s0", 100, 0.165)]
    )
    uniform = clear_double_auction(orders, settlement_rule="uniform")
    assert_trades_match(
        uniform, [("b1", "s1", 100, 0.265), ("b1", "s2", 100, 0.265), ("b2", "s0", 100, 0.265)]
    )
    assert uniform.clearing_price_usd_per_kwh[PV] == pytest.approx(0.265)


@pytest.mark.parametrize("tie_breaking", ["time", "pro_rata"])
def test_uniform_walk_stops_below_a_matched_ask(tie_breaking: str) -> None:
    # h01's 0.30 bid skips its own 0.05 ask and buys h03's 0.25 ask. h02's 0.10 bid could buy
    # the 0.05 ask (midpoint: at 0.075), but no single price is >= 0.25 and <= 0.10, so under
    # the uniform rule the walk stops there: one trade at 0.275.
    orders = book(
        ("b1", "h01", "buy", 100, 0.30, 0),
        ("s0", "h01", "sell", 100, 0.05, 1),
        ("s2", "h03", "sell", 100, 0.25, 2),
        ("b2", "h02", "buy", 100, 0.10, 3),
    )
    midpoint = clear_double_auction(orders, tie_breaking=tie_breaking)
    assert_trades_match(midpoint, [("b1", "s2", 100, 0.275), ("b2", "s0", 100, 0.075)])
    uniform = clear_double_auction(orders, settlement_rule="uniform", tie_breaking=tie_breaking)
    assert_trades_match(uniform, [("b1", "s2", 100, 0.275)])
    assert uniform.filled_wh.to_dict() == {"b1": 100, "b2": 0, "s0": 0, "s2": 100}


def test_uniform_price_with_pro_rata_ties() -> None:
    # Bids 300 and 100 Wh at 0.12 share the 200 Wh ask at 0.10: 150 and 50, both at 0.11.
    orders = book(
        ("b1", "h01", "buy", 300, 0.12, 0),
        ("b2", "h02", "buy", 100, 0.12, 1),
        ("s1", "h03", "sell", 200, 0.10, 2),
    )
    result = clear_double_auction(orders, settlement_rule="uniform", tie_breaking="pro_rata")
    assert_trades_match(result, [("b1", "s1", 150, 0.11), ("b2", "s1", 50, 0.11)])


def test_negative_uniform_price() -> None:
    # Bids -0.02 and -0.03 against asks -0.06 and -0.05 (100 Wh each): the last pair is
    # (-0.03, -0.05), so both trades settle at -0.04 USD/kWh (the buyers are paid).
    orders = book(
        ("b1", "h01", "buy", 100, -0.02, 0),
        ("b2", "h02", "buy", 100, -0.03, 1),
        ("s1", "h03", "sell", 100, -0.06, 2),
        ("s2", "h04", "sell", 100, -0.05, 3),
    )
    result = clear_double_auction(orders, settlement_rule="uniform")
    assert_trades_match(result, [("b1", "s1", 100, -0.04), ("b2", "s2", 100, -0.04)])
