"""Market KPIs on hand-built tables: statistics per pool and welfare of every mechanism."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_dlmp import BUYER, chain, orders

from federates.market.mechanisms.affine_book import order_welfare, validated_orders
from federates.market.mechanisms.dlmp import DlmpMarket
from federation.market_kpis import (
    curve_benefit_usd,
    market_summary,
    market_welfare_usd,
    order_curves,
)

PRICES = pd.DataFrame(
    {
        "interval_index": [0, 1],
        "import_price_usd_per_kwh": [0.20, 0.20],
        "export_price_usd_per_kwh": [0.05, 0.05],
        "wholesale_price_usd_per_kwh": [0.12, 0.04],
    }
)


def test_statistics_per_pool() -> None:
    trades = pd.DataFrame(
        {
            "buyer": ["h1", "h2", "h3"],
            "seller": ["h4", "h4", "h5"],
            "quantity_wh": [200, 600, 100],
            "price_usd_per_kwh": [0.10, 0.14, 0.08],
            "pool": ["dispatchable", "dispatchable", "non_dispatchable"],
        }
    )
    intervals = pd.DataFrame({"status": ["ok"], "traded_energy_wh": [900]})
    found = market_summary(trades, intervals)
    battery = found["pools"]["dispatchable"]
    assert (battery["trades"], battery["traded_energy_kwh"]) == (2, 0.8)
    assert (battery["min_trade_price_usd_per_kwh"], battery["max_trade_price_usd_per_kwh"]) == (
        0.10,
        0.14,
    )
    assert battery["mean_trade_price_usd_per_kwh"] == pytest.approx(0.12, abs=1e-12)
    # (0.2 kWh x 0.10 + 0.6 kWh x 0.14) / 0.8 kWh = 0.13 USD/kWh.
    assert battery["volume_weighted_price_usd_per_kwh"] == pytest.approx(0.13, abs=1e-12)
    pv = found["pools"]["non_dispatchable"]
    assert (pv["trades"], pv["volume_weighted_price_usd_per_kwh"]) == (1, 0.08)
    assert found["trades"] == 3
    assert found["mean_trade_price_usd_per_kwh"] == pytest.approx(0.32 / 3, abs=1e-12)
    assert found["volume_weighted_price_usd_per_kwh"] == pytest.approx(0.112 / 0.9, abs=1e-12)


def test_a_pool_without_trades_is_listed_with_zero_energy() -> None:
    trades = pd.DataFrame(
        {
            "buyer": ["h1"],
            "seller": ["h2"],
            "quantity_wh": [100],
            "price_usd_per_kwh": [0.1],
            "pool": ["non_dispatchable"],
        }
    )
    found = market_summary(trades, pd.DataFrame({"status": ["ok"], "traded_energy_wh": [100]}))
    assert found["pools"]["dispatchable"]["trades"] == 0
    assert found["pools"]["dispatchable"]["traded_energy_kwh"] == 0.0
    assert math.isnan(found["pools"]["dispatchable"]["volume_weighted_price_usd_per_kwh"])


def _simple_orders(*rows: tuple) -> pd.DataFrame:
    """Simple orders from (interval, participant, order_id, side, quantity_wh, limit price)."""
    table = pd.DataFrame(
        list(rows),
        columns=[
            "interval_index",
            "participant",
            "order_id",
            "side",
            "quantity_wh",
            "price_usd_per_kwh",
        ],
    )
    return table.assign(kind="simple", status="accepted", order_json="{}")


def _awards(*rows: tuple) -> pd.DataFrame:
    """Awards from (interval, participant, order_id, side, quantity_wh)."""
    return pd.DataFrame(
        list(rows), columns=["interval_index", "participant", "order_id", "side", "quantity_wh"]
    )


def test_double_auction_welfare_counts_only_the_filled_part() -> None:
    # h1 bids 1 kWh at 0.20, h2 asks 0.6 kWh at 0.08; 0.6 kWh trade (at any price).
    book = _simple_orders((0, "h1", "b", "buy", 1000, 0.20), (0, "h2", "a", "sell", 600, 0.08))
    awards = _awards((0, "h1", "b", "buy", 600), (0, "h2", "a", "sell", 600))
    found = market_welfare_usd("double_auction", book, awards, PRICES, 900)
    assert found["welfare_usd"] == pytest.approx(0.6 * (0.20 - 0.08), abs=1e-12)
    assert found["grid_cost_usd"] == 0.0


def test_rejected_orders_are_not_curves() -> None:
    book = _simple_orders((0, "h1", "b", "buy", 1000, 0.20))
    book["status"] = "rejected"
    assert order_curves(book, 900).empty


def _curve_order(interval: int, participant: str, vertices: list[tuple[float, float]]) -> dict:
    body = {
        "kind": "curve",
        "order_id": f"{participant}-curve",
        "vertices": [
            {"price_usd_per_kwh": p, "power_kw": q, "continuity": True} for p, q in vertices
        ],
    }
    return {
        "interval_index": interval,
        "participant": participant,
        "order_id": body["order_id"],
        "kind": "curve",
        "side": None,
        "quantity_wh": None,
        "price_usd_per_kwh": np.nan,
        "status": "accepted",
        "order_json": json.dumps(body),
    }


def test_curve_clearing_welfare_charges_the_grid_at_net_billing_prices() -> None:
    # Interval 0 (15 min): h1 needs 2 kW valued at 0.12, h2 offers 1 kW at 0.05; the grid
    # supplies the missing 0.25 kWh at the import price 0.20.
    book = pd.DataFrame(
        [_curve_order(0, "h1", [(0.12, 2.0)]), _curve_order(0, "h2", [(0.05, -1.0)])]
    )
    awards = _awards((0, "h1", "h1-curve", "buy", 500), (0, "h2", "h2-curve", "sell", 250))
    found = market_welfare_usd("curve_clearing", book, awards, PRICES, 900)
    assert found["participants_usd"] == pytest.approx(0.12 * 0.5 - 0.05 * 0.25, abs=1e-12)
    assert found["grid_cost_usd"] == pytest.approx(0.20 * 0.25, abs=1e-12)
    assert found["welfare_usd"] == pytest.approx(-0.0025, abs=1e-12)


def test_curve_clearing_welfare_credits_exports_at_the_export_price() -> None:
    book = pd.DataFrame(
        [_curve_order(1, "h1", [(0.12, 2.0)]), _curve_order(1, "h2", [(0.05, -4.0)])]
    )
    awards = _awards((1, "h1", "h1-curve", "buy", 500), (1, "h2", "h2-curve", "sell", 1000))
    found = market_welfare_usd("curve_clearing", book, awards, PRICES, 900)
    # The grid takes 0.5 kWh at 0.05: it pays 0.025 USD.
    assert found["grid_cost_usd"] == pytest.approx(-0.025, abs=1e-12)
    assert found["welfare_usd"] == pytest.approx(0.06 - 0.05 + 0.025, abs=1e-12)


def test_benefit_of_a_battery_curve_that_buys_and_sells() -> None:
    # 2 kWh bought at 0.05, none at 0.10, 2 kWh sold at 0.15 (linear): selling 1 kWh costs
    # the area under P(x) = 0.10 + x / 40 from 0 to 1 = 0.1125 USD.
    curves = pd.DataFrame(
        {
            "interval_index": 0,
            "participant": "b",
            "order_id": "o",
            "price_usd_per_kwh": [0.05, 0.10, 0.15],
            "energy_kwh": [2.0, 0.0, -2.0],
        }
    )
    awards = pd.DataFrame(
        {"interval_index": [0, 0], "participant": "b", "order_id": "o", "energy_kwh": [-1.0, 1.0]}
    )
    benefit = curve_benefit_usd(curves, awards)
    # Buying 1 kWh is worth the area under P(x) = 0.10 - x / 40: 0.0875 USD.
    np.testing.assert_allclose(benefit, [-0.1125, 0.0875], rtol=0, atol=1e-12)


def test_an_award_without_a_recorded_curve_is_an_error() -> None:
    curves = order_curves(_simple_orders((0, "h1", "b", "buy", 1000, 0.20)), 900)
    awards = pd.DataFrame(
        {"interval_index": [0], "participant": ["h9"], "order_id": ["b"], "energy_kwh": [1.0]}
    )
    with pytest.raises(ValueError, match="h9"):
        curve_benefit_usd(curves, awards)


def test_unknown_mechanism_has_no_welfare() -> None:
    found = market_welfare_usd("sealed_bid", _simple_orders(), _awards(), PRICES, 900)
    assert found["welfare_usd"] is None and "sealed_bid" in found["reason"]


def _affine_orders_table(book: pd.DataFrame, interval: int) -> pd.DataFrame:
    """The market's order records of an affine book (as the market writes them)."""
    rows = []
    for order in book.itertuples(index=False):
        body = {"kind": "affine", **order._asdict()}
        body.pop("participant")
        rows.append(
            {
                "interval_index": interval,
                "participant": order.participant,
                "order_id": order.order_id,
                "kind": "affine",
                "side": order.side,
                "quantity_wh": None,
                "price_usd_per_kwh": np.nan,
                "status": "accepted",
                "order_json": json.dumps(body),
            }
        )
    return pd.DataFrame(rows)


@pytest.mark.parametrize("rating_kw", [math.inf, 5.0])
def test_dlmp_welfare_from_records_equals_the_clearings_objective(rating_kw: float) -> None:
    market = DlmpMarket(chain(rating_ab_kw=rating_kw), pd.Series({"h1": "a", "h2": "b"}))
    book = orders(("o1", "h1", "buy", *BUYER), ("o2", "h2", "sell", 0.25, 0.05, 9.0, 1.0))
    result = market.clear(book, 0.12)
    assert result.status == "optimal"
    power = result.power_kw
    # One-hour interval: the award in Wh is the power in W, rounded as the market rounds it.
    awards = _awards(
        *(
            (0, participant, order_id, "buy" if kw > 0 else "sell", int(np.rint(abs(kw) * 1000)))
            for order_id, participant, kw in zip(
                book["order_id"], book["participant"], power.reindex(book["order_id"]), strict=True
            )
        )
    )
    found = market_welfare_usd("dlmp", _affine_orders_table(book, 0), awards, PRICES, 3600)
    assert found["welfare_usd"] == pytest.approx(result.welfare_usd_per_h, abs=1e-6)


affine_order = st.tuples(
    st.sampled_from(["buy", "sell"]),
    st.floats(0.0, 0.5),
    st.floats(0.001, 0.5),
    st.floats(0.0, 20.0),
    st.floats(0.1, 20.0),
    st.floats(0.0, 1.0),
)


@given(affine_order)
def test_benefit_of_an_affine_award_matches_opengridgyms_welfare(order: tuple) -> None:
    side, p_min, p_range, q_min, q_range, where = order
    q_max = q_min + q_range
    book = pd.DataFrame(
        {
            "order_id": ["o"],
            "participant": ["h"],
            "side": [side],
            "price_max_usd_per_kwh": [p_min + p_range],
            "price_min_usd_per_kwh": [p_min],
            "power_max_kw": [q_max],
            "power_min_kw": [q_min],
        }
    )
    award_kw = (q_min + where * q_range) * (1.0 if side == "buy" else -1.0)
    curves = order_curves(_affine_orders_table(book, 0), 3600)
    awards = pd.DataFrame(
        {"interval_index": [0], "participant": ["h"], "order_id": ["o"], "energy_kwh": [award_kw]}
    )
    expected = order_welfare(validated_orders(book, pd.Index(["h"])), np.array([award_kw]))
    assert curve_benefit_usd(curves, awards).iloc[0] == pytest.approx(expected, abs=1e-9)


@given(st.integers(1, 100_000), st.floats(-0.5, 1.0), st.floats(0.0, 1.0))
def test_a_partly_filled_bid_is_worth_its_limit_times_the_fill(
    quantity_wh: int, limit: float, fill: float
) -> None:
    filled_wh = int(quantity_wh * fill)
    curves = order_curves(_simple_orders((0, "h", "b", "buy", quantity_wh, limit)), 900)
    awards = pd.DataFrame(
        {
            "interval_index": [0],
            "participant": ["h"],
            "order_id": ["b"],
            "energy_kwh": [filled_wh / 1000.0],
        }
    )
    benefit = curve_benefit_usd(curves, awards).iloc[0]
    assert benefit == pytest.approx(limit * filled_wh / 1000.0, abs=1e-9)
