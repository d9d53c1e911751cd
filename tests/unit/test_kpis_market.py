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

from tefed.analysis.congestion_kpis import consumer_prices, dlmp_congestion
from tefed.analysis.market_kpis import market_summary
from tefed.analysis.market_welfare import curve_benefit_usd, market_welfare_usd, order_curves
from tefed.domain.market.mechanisms.affine_book import order_welfare, validated_orders
from tefed.domain.market.mechanisms.dlmp import DlmpMarket
from tefed.io.highs_solver import HighsSolver

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
    market = DlmpMarket(
        chain(rating_ab_kw=rating_kw), pd.Series({"h1": "a", "h2": "b"}), solver=HighsSolver()
    )
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


def _dlmp_table(prices_by_interval: dict[int, dict[str, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            (interval, bus, price)
            for interval, prices in prices_by_interval.items()
            for bus, price in prices.items()
        ],
        columns=["interval_index", "bus", "dlmp_usd_per_kwh"],
    )


def test_congestion_counts_spread_and_binding_intervals_and_skips_unsolved_ones() -> None:
    dlmp = _dlmp_table(
        {
            1: {"s": 0.05, "a": 0.05, "b": 0.05},
            2: {"s": 0.04, "a": 0.10, "b": 0.25},  # spread 0.21
            3: {"s": np.nan, "a": np.nan, "b": np.nan},  # not solved: no prices
            4: {"s": 0.06, "a": 0.06, "b": 0.09},  # spread 0.03
        }
    )
    binding = pd.DataFrame(
        {"interval_index": [2, 2, 4], "branch": ["Line.sa", "Line.ab", "Line.ab"]}
    )
    found = dlmp_congestion(dlmp, binding)
    assert found["intervals_priced"] == 3
    assert found["max_dlmp_spread_usd_per_kwh"] == pytest.approx(0.21, abs=1e-12)
    assert found["mean_dlmp_spread_usd_per_kwh"] == pytest.approx((0 + 0.21 + 0.03) / 3, abs=1e-12)
    assert found["intervals_with_dlmp_spread"] == 2
    assert found["intervals_with_binding_branch"] == 2  # two branches in interval 2 count once
    assert found["binding_branch_intervals"] == {"Line.ab": 2, "Line.sa": 1}


def test_congestion_of_a_real_clearing_behind_a_binding_line() -> None:
    # test_dlmp's case: the 5 kVA line a-b binds, b is priced at 0.24, s and a at 0.10.
    market = DlmpMarket(
        chain(rating_ab_kw=5.0), pd.Series({"h1": "a", "h2": "b"}), solver=HighsSolver()
    )
    result = market.clear(orders(("o1", "h1", "buy", *BUYER), ("o2", "h2", "buy", *BUYER)), 0.10)
    dlmp = _dlmp_table({7: result.dlmp_usd_per_kwh.to_dict()})
    binding = result.binding_branches.assign(interval_index=7)
    found = dlmp_congestion(dlmp, binding)
    assert found["max_dlmp_spread_usd_per_kwh"] == pytest.approx(0.14, abs=1e-9)
    assert found["binding_branch_intervals"] == {"Line.ab": 1}
    uniform = DlmpMarket(chain(), pd.Series({"h1": "a", "h2": "b"}), solver=HighsSolver()).clear(
        orders(("o1", "h1", "buy", *BUYER), ("o2", "h2", "buy", *BUYER)), 0.10
    )
    found = dlmp_congestion(_dlmp_table({7: uniform.dlmp_usd_per_kwh.to_dict()}), binding[:0])
    assert found["max_dlmp_spread_usd_per_kwh"] < 1e-9
    assert found["intervals_with_dlmp_spread"] == 0
    assert found["intervals_with_binding_branch"] == 0


HOUSEHOLD_INTERVALS = pd.DataFrame(
    {
        "interval_index": [1, 1, 1, 2, 2, 2, 3],
        "household_id": ["h1", "h2", "battery", "h1", "h2", "battery", "h1"],
        "energy_wh": [1000.0, 3000.0, 5000.0, 2000.0, -800.0, 5000.0, 1500.0],
        "bill_usd": [0.10, 0.60, 0.20, 0.50, -0.05, 0.20, np.nan],
    }
)
DLMP = _dlmp_table({1: {"a": 0.10, "b": 0.20}, 2: {"a": 0.25, "b": np.nan}, 3: {"a": 0.3}})


def test_consumer_price_is_the_bills_of_buying_intervals_over_their_energy() -> None:
    # Counted: h1 in 1 and 2 (3 kWh, 0.60 USD), h2 in 1 (3 kWh, 0.60 USD); h2 exports in 2,
    # interval 3 is not settled, the battery's agent is not a household: 1.20 / 6 = 0.20.
    found = consumer_prices(HOUSEHOLD_INTERVALS, pd.Series({"h1": "A", "h2": "B"}))
    assert found == pytest.approx(
        {"consumer_energy_kwh": 6.0, "consumer_price_usd_per_kwh": 0.20}, abs=1e-12
    )


def test_consumer_dlmp_values_the_drawn_energy_at_each_households_bus() -> None:
    # h1: 1 kWh at 0.10 + 2 kWh at 0.25; h2: 3 kWh at 0.20 -> 1.2 / 6 = 0.20 USD/kWh.
    found = consumer_prices(HOUSEHOLD_INTERVALS, pd.Series({"h1": "A", "h2": "B"}), DLMP)
    assert found["consumer_dlmp_usd_per_kwh"] == pytest.approx(0.20, abs=1e-12)
    assert found["consumer_energy_unpriced_kwh"] == 0.0
    # h2 at bus a instead: interval 1 at 0.10 -> (0.1 + 0.5 + 0.3) / 6 = 0.15.
    moved = consumer_prices(HOUSEHOLD_INTERVALS, pd.Series({"h1": "a", "h2": "a"}), DLMP)
    assert moved["consumer_dlmp_usd_per_kwh"] == pytest.approx(0.15, abs=1e-12)


def test_energy_drawn_where_the_bus_has_no_dlmp_is_counted_apart() -> None:
    # h1 at b: interval 2 has no price there (an unsolved clearing), so 2 kWh go unpriced and
    # the 1 kWh of interval 1 (at 0.20) and h2's 3 kWh at a (0.10) make 0.5 / 4 = 0.125.
    found = consumer_prices(HOUSEHOLD_INTERVALS, pd.Series({"h1": "b", "h2": "a"}), DLMP)
    assert found["consumer_energy_unpriced_kwh"] == pytest.approx(2.0, abs=1e-12)
    assert found["consumer_dlmp_usd_per_kwh"] == pytest.approx(0.125, abs=1e-12)
    assert found["consumer_energy_kwh"] == pytest.approx(6.0, abs=1e-12)


@given(
    # Metered energies to the mWh: far below that (2e-313 Wh, say) a product with the price
    # underflows to a subnormal number and the ratio loses digits, which no meter produces.
    st.lists(st.floats(-5000.0, 5000.0).map(lambda e: round(e, 3)), min_size=1, max_size=12),
    st.floats(-0.2, 0.5),
)
def test_one_price_everywhere_is_the_consumer_dlmp(energies_wh: list[float], price: float) -> None:
    count = len(energies_wh)
    intervals = pd.DataFrame(
        {
            "interval_index": np.arange(count) // 3,
            "household_id": [f"h{k % 3}" for k in range(count)],
            "energy_wh": energies_wh,
            "bill_usd": np.zeros(count),
        }
    )
    buses = pd.Series({f"h{k}": f"bus{k}" for k in range(3)})
    dlmp = _dlmp_table({k: {f"bus{b}": price for b in range(3)} for k in range(count // 3 + 1)})
    found = consumer_prices(intervals, buses, dlmp)
    drawn = sum(e for e in energies_wh if e > 0)
    if drawn > 0:
        assert found["consumer_dlmp_usd_per_kwh"] == pytest.approx(price, abs=1e-12)
        assert found["consumer_energy_kwh"] == pytest.approx(drawn / 1000.0, rel=1e-12)
    else:
        assert math.isnan(found["consumer_dlmp_usd_per_kwh"])
