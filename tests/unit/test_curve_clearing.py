"""Uniform-price curve clearing: hand-computed books (steps, no price, grid, prices)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from curve_books import assert_unpriced, curves, powers

from tefed.domain.market.mechanisms.curve_clearing import clear_curves

# --- the issue's example ---------------------------------------------------------------------


def test_issue_example_clears_at_0_025() -> None:
    # Supplier: 0 kW below 0.01, linear to 25,000 kW at 0.035; load: 15,000 kW at every price.
    # 15,000 / 25,000 = 0.6 of the way: 0.01 + 0.6 * 0.025 = 0.025 USD/kWh.
    vertices = curves(
        ("gen", "plant", 0.01, 0.0, True),
        ("gen", "plant", 0.035, -25_000.0, True),
        ("load", "town", 0.02, 15_000.0, True),
    )
    result = clear_curves(vertices)
    assert result.status == "exact"
    assert result.price_usd_per_kwh == pytest.approx(0.025, abs=1e-12)
    assert result.power_kw["gen"] == pytest.approx(-15_000.0, abs=1e-6)
    assert result.power_kw["load"] == pytest.approx(15_000.0, abs=1e-6)
    assert result.net_power_kw == pytest.approx(0.0, abs=1e-6)
    assert list(result.power_kw.index) == ["gen", "load"]
    assert result.power_kw.dtype == np.float64


def test_row_order_does_not_matter() -> None:
    vertices = curves(
        ("gen", "plant", 0.035, -25_000.0, True),
        ("load", "town", 0.02, 15_000.0, False),
        ("gen", "plant", 0.01, 0.0, True),
    )
    result = clear_curves(vertices)
    assert result.price_usd_per_kwh == pytest.approx(0.025, abs=1e-12)
    assert result.power_kw.to_dict() == powers(clear_curves(vertices.iloc[::-1]))


# --- steps: marginal sellers and buyers ------------------------------------------------------


def test_step_supply_is_curtailed_pro_rata() -> None:
    # s1 offers 20 kW and s2 10 kW from 0.05 (0 below); the load takes 15 kW. At 0.05 the
    # supply step spans 0..30 kW; 15/30 = half of each step is used: s1 -10, s2 -5.
    vertices = curves(
        ("s1", "a", 0.0, 0.0, False),
        ("s1", "a", 0.05, -20.0, True),
        ("s2", "b", 0.0, 0.0, False),
        ("s2", "b", 0.05, -10.0, True),
        ("load", "c", 0.10, 15.0, True),
    )
    result = clear_curves(vertices)
    assert result.status == "marginal_seller"
    assert result.price_usd_per_kwh == pytest.approx(0.05)
    assert result.power_kw.to_dict() == {"load": 15.0, "s1": -10.0, "s2": -5.0}


def test_step_demand_is_curtailed_pro_rata() -> None:
    # b1 bids 20 kW and b2 10 kW up to 0.10 (0 above); an inelastic 15 kW supply. Half of the
    # 30 kW demand step is served: b1 10, b2 5 at 0.10.
    vertices = curves(
        ("b1", "a", 0.0, 20.0, False),
        ("b1", "a", 0.10, 0.0, True),
        ("b2", "b", 0.0, 10.0, False),
        ("b2", "b", 0.10, 0.0, True),
        ("pv", "c", 0.05, -15.0, True),
    )
    result = clear_curves(vertices)
    assert result.status == "marginal_buyer"
    assert result.price_usd_per_kwh == pytest.approx(0.10)
    assert result.power_kw.to_dict() == {"b1": 10.0, "b2": 5.0, "pv": -15.0}


def test_bid_and_ask_steps_at_one_price_maximise_volume() -> None:
    # Bid 20 kW and ask 5 kW, both stepping at 0.10: 5 kW trade (not a pro rata 4 kW each).
    vertices = curves(
        ("bid", "a", 0.0, 20.0, False),
        ("bid", "a", 0.10, 0.0, True),
        ("ask", "b", 0.0, 0.0, False),
        ("ask", "b", 0.10, -5.0, True),
    )
    result = clear_curves(vertices)
    assert result.status == "marginal_buyer"
    assert result.price_usd_per_kwh == pytest.approx(0.10)
    assert result.power_kw.to_dict() == {"ask": -5.0, "bid": 5.0}


def test_matching_steps_trade_fully_and_report_the_seller() -> None:
    vertices = curves(
        ("bid", "a", 0.0, 10.0, False),
        ("bid", "a", 0.10, 0.0, True),
        ("ask", "b", 0.0, 0.0, False),
        ("ask", "b", 0.10, -10.0, True),
    )
    result = clear_curves(vertices)
    assert result.status == "marginal_seller"
    assert result.power_kw.to_dict() == {"ask": -10.0, "bid": 10.0}


def test_supply_step_that_exactly_meets_the_load_sets_the_price() -> None:
    # 10 kW offered from 0.05, 10 kW load: net is 0 from 0.05 up to the highest price 0.05.
    vertices = curves(
        ("s", "a", 0.0, 0.0, False), ("s", "a", 0.05, -10.0, True), ("load", "b", 0.0, 10.0, True)
    )
    result = clear_curves(vertices)
    assert result.status == "marginal_seller"
    assert result.price_usd_per_kwh == pytest.approx(0.05)
    assert result.power_kw.to_dict() == {"load": 10.0, "s": -10.0}


# --- no price --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("load_kw", "supply_kw"), [(30.0, 20.0), (5.0, 30.0)], ids=["shortage", "surplus"]
)
def test_no_crossing(load_kw: float, supply_kw: float) -> None:
    # An inelastic load against an elastic supply that never matches it (shortage), or an
    # inelastic supply against an elastic load that never absorbs it (surplus).
    if load_kw > supply_kw:
        vertices = curves(
            ("load", "a", 0.1, load_kw, True),
            ("gen", "b", 0.0, 0.0, True),
            ("gen", "b", 0.2, -supply_kw, True),
        )
    else:
        vertices = curves(
            ("gen", "b", 0.1, -supply_kw, True),
            ("load", "a", 0.0, 2 * load_kw, True),
            ("load", "a", 0.2, load_kw, True),
        )
    assert_unpriced(clear_curves(vertices), "no_crossing")


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_one_sided(sign: float) -> None:
    vertices = curves(("o1", "a", 0.1, sign * 5.0, True), ("o2", "b", 0.2, sign * 3.0, True))
    result = clear_curves(vertices)
    assert_unpriced(result, "one_sided")
    assert result.power_kw.to_dict() == {"o1": 0.0, "o2": 0.0}


def test_zero_power_orders_are_one_sided_without_grid() -> None:
    assert clear_curves(curves(("o1", "a", 0.1, 0.0, True))).status == "one_sided"


def test_empty() -> None:
    result = clear_curves(curves())
    assert_unpriced(result, "empty")
    assert result.power_kw.empty
    assert result.power_kw.index.name == "order_id"


def test_overflowing_powers_report_failure() -> None:
    vertices = curves(("a", "a", 0.1, 1e308, True), ("b", "b", 0.1, -1e308, True))
    vertices = pd.concat([vertices, curves(("c", "c", 0.2, 1e308, True))])
    assert_unpriced(clear_curves(vertices), "failure")


# --- grid ------------------------------------------------------------------------------------


def elastic_load() -> pd.DataFrame:
    """40 kW at 0.10 falling linearly to 0 at 0.20: 32 kW at 0.12, 20 kW at 0.15."""
    return curves(("load", "a", 0.10, 40.0, True), ("load", "a", 0.20, 0.0, True))


def test_grid_supply_limited_by_capacity() -> None:
    # At 0.12 the load wants 32 kW but the feeder carries 20 kW: the price rises until the
    # load falls to 20 kW, 40 (1 - (p - 0.10)/0.10) = 20 -> p = 0.15.
    result = clear_curves(elastic_load(), import_price_usd_per_kwh=0.12, feeder_capacity_kw=20)
    assert result.status == "exact"
    assert result.price_usd_per_kwh == pytest.approx(0.15)
    assert result.grid_import_kw == pytest.approx(20.0)
    assert result.power_kw["load"] == pytest.approx(20.0)
    assert result.grid_export_kw == 0.0


@pytest.mark.parametrize("capacity_kw", [50.0, None])
def test_grid_supply_at_import_price(capacity_kw: float | None) -> None:
    result = clear_curves(
        elastic_load(), import_price_usd_per_kwh=0.12, feeder_capacity_kw=capacity_kw
    )
    assert result.status == "marginal_seller"
    assert result.price_usd_per_kwh == pytest.approx(0.12)
    assert result.grid_import_kw == pytest.approx(32.0)
    assert result.power_kw["load"] == pytest.approx(32.0)


def test_grid_absorbs_surplus_at_export_price() -> None:
    # 30 kW PV against a 10 kW load: the grid buys the 20 kW surplus at 0.04 (cap 25 kW).
    vertices = curves(("pv", "a", 0.0, -30.0, True), ("load", "b", 0.1, 10.0, True))
    result = clear_curves(
        vertices,
        import_price_usd_per_kwh=0.20,
        export_price_usd_per_kwh=0.04,
        feeder_capacity_kw=25.0,
    )
    assert result.status == "marginal_buyer"
    assert result.price_usd_per_kwh == pytest.approx(0.04)
    assert (result.grid_import_kw, result.grid_export_kw) == (0.0, pytest.approx(20.0))
    assert result.net_power_kw == pytest.approx(0.0)
    # A 15 kW feeder cannot take the 20 kW surplus: no price balances the feeder.
    limited = clear_curves(vertices, export_price_usd_per_kwh=0.04, feeder_capacity_kw=15.0)
    assert_unpriced(limited, "no_crossing")


def test_grid_with_equal_prices_takes_the_imbalance() -> None:
    # Net metering at 0.10: the load wants 30 - 20 (0.10 - 0.05)/0.10 = 20 kW, PV gives 10 kW.
    vertices = curves(
        ("load", "a", 0.05, 30.0, True),
        ("load", "a", 0.15, 10.0, True),
        ("pv", "b", 0.0, -10.0, True),
    )
    result = clear_curves(vertices, import_price_usd_per_kwh=0.1, export_price_usd_per_kwh=0.1)
    assert result.status == "marginal_seller"
    assert result.price_usd_per_kwh == pytest.approx(0.10)
    assert (result.grid_import_kw, result.grid_export_kw) == (pytest.approx(10.0), 0.0)
    assert result.power_kw.to_dict() == {"load": pytest.approx(20.0), "pv": -10.0}


def test_grid_alone_with_only_a_load_is_two_sided() -> None:
    result = clear_curves(curves(("load", "a", 0.1, 7.0, True)), import_price_usd_per_kwh=0.3)
    assert result.status == "marginal_seller"
    assert result.price_usd_per_kwh == pytest.approx(0.3)
    assert result.grid_import_kw == pytest.approx(7.0)


# --- prices below zero and flat ranges -------------------------------------------------------


def test_negative_prices() -> None:
    # Supply 0 kW at -0.05 rising to 20 kW at 0.05; 5 kW load: -0.05 + 0.10 * 5/20 = -0.025.
    vertices = curves(
        ("gen", "a", -0.05, 0.0, True),
        ("gen", "a", 0.05, -20.0, True),
        ("load", "b", -0.2, 5.0, True),
    )
    result = clear_curves(vertices)
    assert result.status == "exact"
    assert result.price_usd_per_kwh == pytest.approx(-0.025)
    assert result.power_kw.to_dict() == {"gen": pytest.approx(-5.0), "load": pytest.approx(5.0)}


def test_zero_volume_gap_clears_at_its_midpoint() -> None:
    # Demand reaches 0 at 0.10, supply starts at 0.20: net power is 0 on [0.10, 0.20].
    vertices = curves(
        ("load", "a", 0.0, 10.0, True),
        ("load", "a", 0.10, 0.0, True),
        ("gen", "b", 0.20, 0.0, True),
        ("gen", "b", 0.30, -10.0, True),
    )
    result = clear_curves(vertices)
    assert result.status == "exact"
    assert result.price_usd_per_kwh == pytest.approx(0.15)
    assert result.power_kw.to_dict() == {"gen": 0.0, "load": 0.0}


def test_flat_balance_is_split_in_the_middle_of_the_price_range() -> None:
    # 10 kW supplied at every price from 0.10 up to the highest vertex 0.30 meets a 10 kW load:
    # the zero-net range [0.10, 0.30] clears at 0.20 with the full 10 kW traded.
    vertices = curves(
        ("gen", "a", 0.0, 0.0, False),
        ("gen", "a", 0.10, -10.0, True),
        ("gen", "a", 0.30, -10.0, True),
        ("load", "b", 0.15, 10.0, True),
    )
    result = clear_curves(vertices)
    assert result.status == "exact"
    assert result.price_usd_per_kwh == pytest.approx(0.20)
    assert result.power_kw.to_dict() == {"gen": -10.0, "load": 10.0}
