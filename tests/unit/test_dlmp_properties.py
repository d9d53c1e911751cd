"""DLMP clearing over random small radial networks and order books: what every clearing must hold.

Checks are KKT-style: with the DLMPs as prices, every award is what its own curve asks for, the
flows come from the awards through the tree and respect every limit, and the welfare is at least
that of serving only the inelastic parts whenever those alone are feasible.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tefed.domain.market.mechanisms.affine_book import ORDER_COLUMNS
from tefed.domain.market.mechanisms.dlmp import STATUSES, DlmpMarket
from tefed.domain.network.radial import BRANCH_COLUMNS, RadialNetwork
from tefed.io.highs_solver import HighsSolver

#: Power [kW] and price [USD/kWh] tolerances of the checks (HiGHS works to 1e-7).
POWER_TOL, PRICE_TOL = 1e-5, 1e-6
BAND_PU = (0.95, 1.05)


@st.composite
def cases(draw: st.DrawFn):
    """A random tree of 2-6 buses, 1-5 participants and at most one order per side each."""
    n_bus = draw(st.integers(2, 6))
    rows = []
    for j in range(1, n_bus):
        parent = draw(st.integers(0, j - 1))
        ohm = draw(st.integers(1, 40)) / 100
        rating = draw(st.sampled_from([math.inf, 5.0, 10.0, 20.0, 40.0]))
        ends = (f"b{parent}", f"b{j}") if draw(st.booleans()) else (f"b{j}", f"b{parent}")
        rows.append((f"Line.l{j}", *ends, "line", 3, ohm, ohm / 2, 0.23, rating))
    network = RadialNetwork.from_branches(pd.DataFrame(rows, columns=list(BRANCH_COLUMNS)), "b0")
    n_part = draw(st.integers(1, 5))
    participant_bus = pd.Series(
        [f"b{draw(st.integers(0, n_bus - 1))}" for _ in range(n_part)],
        index=[f"h{i}" for i in range(n_part)],
    )
    power_factor = pd.Series(
        [draw(st.sampled_from([1.0, 1.0, 0.9])) for _ in range(n_part)], index=participant_bus.index
    )
    book = []
    for i in range(n_part):
        for side in ("buy", "sell"):
            if draw(st.booleans()):
                low_cents = draw(st.integers(0, 30))
                high_cents = low_cents + draw(st.integers(0, 30))
                low_kw = draw(st.integers(0, 6))
                high_kw = low_kw + draw(st.integers(0, 12))
                book.append(
                    (
                        f"{side}{i}",
                        f"h{i}",
                        side,
                        high_cents / 100,
                        low_cents / 100,
                        float(high_kw),
                        float(low_kw),
                    )
                )
    wholesale = draw(st.integers(1, 40)) / 100
    limit = draw(st.sampled_from([None, 0.0, 10.0]))
    orders = pd.DataFrame(book, columns=list(ORDER_COLUMNS))
    return network, participant_bus, power_factor, orders, wholesale, limit


def flows_and_voltages(network, participant_bus, tan, power_kw, orders):
    """Flows [kW, kvar] into every non-source bus and squared voltages, from the awards."""
    bus = network.buses.get_indexer(participant_bus[orders["participant"]].to_numpy())
    reactive = power_kw * tan[participant_bus.index.get_indexer(orders["participant"])]
    p = network.downstream @ np.bincount(bus, power_kw, network.n_buses)
    q = network.downstream @ np.bincount(bus, reactive, network.n_buses)
    drop = network.resistance_pu2_per_kw * p + network.reactance_pu2_per_kvar * q
    return p, q, 1.0 - 2.0 * (network.downstream.T @ drop)


def feasible(network, p, q, v_pu2, import_kw, limit) -> bool:
    s = network.rating_kw
    within = (np.abs(p) <= s) & (np.abs(q) <= s) & (np.abs(p) + np.abs(q) <= math.sqrt(2) * s)
    band = (v_pu2[1:] >= BAND_PU[0] ** 2) & (v_pu2[1:] <= BAND_PU[1] ** 2)
    return bool(within.all() and band.all() and (limit is None or abs(import_kw) <= limit))


def welfare(orders, power_kw, wholesale) -> float:
    """Benefit - cost - wholesale x import, inelastic parts at the curve's end prices."""
    served = np.abs(power_kw)
    p_max, p_min = orders["price_max_usd_per_kwh"], orders["price_min_usd_per_kwh"]
    q_max, q_min = orders["power_max_kw"], orders["power_min_kw"]
    width = (q_max - q_min).to_numpy()
    slope = np.divide((p_max - p_min).to_numpy(), width, out=np.zeros(len(orders)), where=width > 0)
    buy = (orders["side"] == "buy").to_numpy()
    benefit = p_max * served - slope / 2 * (served - q_min) ** 2
    cost = p_min * served + slope / 2 * (served - q_min) ** 2
    return float(np.where(buy, benefit, -cost).sum() - wholesale * np.sum(power_kw))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_random_clearings_satisfy_balance_limits_and_optimality(case) -> None:
    network, participant_bus, power_factor, orders, wholesale, limit = case
    market = DlmpMarket(
        network,
        participant_bus,
        *BAND_PU,
        power_factor=power_factor,
        substation_limit_kw=limit,
        solver=HighsSolver(),
    )
    result = market.clear(orders, wholesale)
    assert result.status in STATUSES
    tan = np.tan(np.arccos(power_factor.to_numpy()))
    inelastic = np.where(orders["side"] == "buy", 1.0, -1.0) * orders["power_min_kw"].to_numpy()
    base = flows_and_voltages(network, participant_bus, tan, inelastic, orders)
    base_feasible = feasible(network, *base, inelastic.sum(), limit)
    if len(orders) == 0:
        assert result.status == "empty"
        return
    if result.status != "optimal":
        assert not base_feasible, "the inelastic parts alone fit, so a clearing must exist"
        assert result.status == "infeasible" and (result.power_kw == 0).all()
        return

    power = result.power_kw.to_numpy()
    p, q, v_pu2 = flows_and_voltages(network, participant_bus, tan, power, orders)
    # Balance: the reported flows are the awards carried through the tree, the import their sum.
    np.testing.assert_allclose(result.branch_flow_kw.to_numpy(), p, atol=POWER_TOL)
    assert result.substation_power_kw == np.float64(power.sum()) or math.isclose(
        result.substation_power_kw, power.sum(), abs_tol=POWER_TOL
    )
    np.testing.assert_allclose(result.voltage_pu**2, v_pu2, atol=1e-7)
    s = network.rating_kw
    assert (np.abs(p) <= s + POWER_TOL).all() and (np.abs(q) <= s + POWER_TOL).all()
    assert (np.abs(p) + np.abs(q) <= math.sqrt(2) * s + POWER_TOL).all()
    assert (v_pu2[1:] >= BAND_PU[0] ** 2 - 1e-7).all() and (
        v_pu2[1:] <= BAND_PU[1] ** 2 + 1e-7
    ).all()
    if limit is not None:
        assert abs(result.substation_power_kw) <= limit + POWER_TOL

    # Each award is on its own curve at its bus's effective price (DLMP + tan phi x reactive).
    served = np.abs(power)
    q_max, q_min = orders["power_max_kw"].to_numpy(), orders["power_min_kw"].to_numpy()
    p_max = orders["price_max_usd_per_kwh"].to_numpy()
    p_min = orders["price_min_usd_per_kwh"].to_numpy()
    assert (served >= q_min - POWER_TOL).all() and (served <= q_max + POWER_TOL).all()
    who = participant_bus.index.get_indexer(orders["participant"])
    bus = participant_bus[orders["participant"]].to_numpy()
    price = (
        result.dlmp_usd_per_kwh[bus].to_numpy()
        + tan[who] * result.reactive_dlmp_usd_per_kvarh[bus].to_numpy()
    )
    np.testing.assert_allclose(result.price_usd_per_kwh, result.dlmp_usd_per_kwh[bus], atol=0)
    buy = (orders["side"] == "buy").to_numpy()
    top = np.where(buy, q_max, q_min)  # award at prices below p_min
    bottom = np.where(buy, q_min, q_max)  # award at prices above p_max
    below, above = price < p_min - PRICE_TOL, price > p_max + PRICE_TOL
    np.testing.assert_allclose(served[below], top[below], atol=POWER_TOL)
    np.testing.assert_allclose(served[above], bottom[above], atol=POWER_TOL)
    width = q_max - q_min
    inside = (served > q_min + POWER_TOL) & (served < q_max - POWER_TOL) & (width > 0)
    slope = np.divide(p_max - p_min, width, out=np.zeros_like(width), where=width > 0)
    asked = np.where(buy, p_max - slope * (served - q_min), p_min + slope * (served - q_min))
    np.testing.assert_allclose(asked[inside], price[inside], atol=1e-5)

    # Welfare is reported consistently and beats serving only the inelastic parts.
    assert math.isclose(result.welfare_usd_per_h, welfare(orders, power, wholesale), abs_tol=1e-7)
    if base_feasible:
        assert result.welfare_usd_per_h >= welfare(orders, inelastic, wholesale) - 1e-7


@settings(max_examples=15, deadline=None)
@given(cases())
def test_uncongested_prices_equal_the_wholesale_price(case) -> None:
    network, participant_bus, power_factor, orders, wholesale, _ = case
    loose = RadialNetwork(
        **{**network.__dict__, "rating_kw": np.full(network.n_buses - 1, math.inf)}
    )
    market = DlmpMarket(
        loose, participant_bus, 0.01, 10.0, power_factor=power_factor, solver=HighsSolver()
    )
    result = market.clear(orders, wholesale)
    if len(orders):
        assert result.status == "optimal"
        np.testing.assert_allclose(result.dlmp_usd_per_kwh, wholesale, atol=1e-9)
