"""DLMP clearing on small networks: hand-computed cases and an independent highspy solution."""

from __future__ import annotations

import math

import highspy
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from tefed.domain.market.mechanisms.affine_book import ORDER_COLUMNS
from tefed.domain.market.mechanisms.dlmp import DlmpMarket
from tefed.domain.network.radial import BRANCH_COLUMNS, RadialNetwork
from tefed.io.highs_solver import HighsSolver

#: 400 V line-to-neutral base [kV]: a 3-phase branch of R ohm has r = R / 160 pu² per kW.
LV_KV_LN = 0.4 / math.sqrt(3.0)


def network(*rows: tuple, source: str = "s") -> RadialNetwork:
    """Network from (name, from, to, R [ohm], X [ohm], rating [kVA]) three-phase LV lines."""
    table = pd.DataFrame(
        [(f"Line.{n}", a, b, "line", 3, r, x, LV_KV_LN, s) for n, a, b, r, x, s in rows],
        columns=list(BRANCH_COLUMNS),
    )
    return RadialNetwork.from_branches(table, source)


def orders(*rows: tuple) -> pd.DataFrame:
    """Orders from (order_id, participant, side, p_max, p_min, q_max, q_min) tuples."""
    return pd.DataFrame(list(rows), columns=list(ORDER_COLUMNS))


def chain(rating_ab_kw: float = math.inf) -> RadialNetwork:
    """s -> a -> b, 0.016 ohm each (r = 1e-4 pu²/kW), Line.ab rated as given."""
    return network(
        ("sa", "s", "a", 0.016, 0.008, 500.0), ("ab", "a", "b", 0.016, 0.008, rating_ab_kw)
    )


#: Buyer consuming 12 kW at <= 0.10 USD/kWh, falling to 2 kW at 0.30 (slope 0.02 USD/kWh/kW).
BUYER = (0.30, 0.10, 12.0, 2.0)


def test_without_congestion_every_dlmp_is_the_wholesale_price() -> None:
    market = DlmpMarket(chain(), pd.Series({"h1": "a", "h2": "b"}), solver=HighsSolver())
    book = orders(("o1", "h1", "buy", *BUYER), ("o2", "h2", "sell", 0.25, 0.05, 9.0, 1.0))
    result = market.clear(book, 0.12)
    assert result.status == "optimal"
    np.testing.assert_allclose(result.dlmp_usd_per_kwh, 0.12, rtol=0, atol=1e-9)
    np.testing.assert_allclose(result.price_usd_per_kwh, 0.12, rtol=0, atol=1e-9)
    # Buyer: 2 + (0.30 - 0.12) / 0.02 = 11 kW; seller: 1 + (0.12 - 0.05) / 0.025 = 3.8 kW.
    assert result.power_kw.to_dict() == pytest.approx({"o1": 11.0, "o2": -3.8}, abs=1e-9)
    assert result.substation_power_kw == pytest.approx(7.2, abs=1e-9)
    # Welfare: 0.3 * 11 - 0.01 * 9² - (0.05 * 3.8 + 0.0125 * 2.8²) - 0.12 * 7.2 = 1.338 USD/h.
    assert result.welfare_usd_per_h == pytest.approx(1.338, abs=1e-9)
    assert result.binding_branches.empty
    # 7.2 kW leave s, 3.8 kW come back over Line.ab: v_a = 1 - 2e-4 * 7.2, v_b = v_a + 2e-4 * 3.8.
    np.testing.assert_allclose(
        result.voltage_pu**2, [1.0, 1 - 2e-4 * 7.2, 1 - 2e-4 * 3.4], rtol=0, atol=1e-12
    )


def test_binding_line_separates_prices_and_is_reported() -> None:
    market = DlmpMarket(
        chain(rating_ab_kw=5.0), pd.Series({"h1": "a", "h2": "b"}), solver=HighsSolver()
    )
    result = market.clear(orders(("o1", "h1", "buy", *BUYER), ("o2", "h2", "buy", *BUYER)), 0.10)
    assert result.status == "optimal"
    # Upstream of the 5 kVA line the buyer takes all 12 kW at 0.10; downstream only 5 kW fit,
    # where its bid is worth 0.30 - 0.02 * (5 - 2) = 0.24 USD/kWh.
    assert result.power_kw.to_dict() == pytest.approx({"o1": 12.0, "o2": 5.0}, abs=1e-9)
    assert result.dlmp_usd_per_kwh.to_dict() == pytest.approx(
        {"s": 0.10, "a": 0.10, "b": 0.24}, abs=1e-9
    )
    assert result.price_usd_per_kwh["o2"] > result.price_usd_per_kwh["o1"]
    binding = result.binding_branches.set_index("branch")
    assert list(binding.index) == ["Line.ab"]
    assert binding.loc["Line.ab", "flow_kw"] == pytest.approx(5.0, abs=1e-9)
    assert binding.loc["Line.ab", "rating_kw"] == 5.0
    assert binding.loc["Line.ab", "shadow_price_usd_per_kwh"] == pytest.approx(0.14, abs=1e-9)


def test_binding_voltage_limit_raises_the_downstream_price() -> None:
    # One line, r = 0.16 / 160 = 1e-3 pu²/kW, no rating: v_b = 1 - 2e-3 P >= 0.95² caps P at
    # (1 - 0.9025) / 2e-3 = 48.75 kW, where the bid (0.5 -> 0.1 over 10 -> 100 kW) is worth
    # 0.5 - 0.4 / 90 * 38.75 = 0.327778 USD/kWh.
    market = DlmpMarket(
        network(("sb", "s", "b", 0.16, 0.0, math.inf)), pd.Series({"h": "b"}), solver=HighsSolver()
    )
    result = market.clear(orders(("o", "h", "buy", 0.5, 0.1, 100.0, 10.0)), 0.10)
    assert result.status == "optimal"
    assert result.power_kw["o"] == pytest.approx(48.75, abs=1e-8)
    assert result.voltage_pu["b"] == pytest.approx(0.95, abs=1e-10)
    assert result.dlmp_usd_per_kwh["b"] == pytest.approx(0.5 - 0.4 / 90 * 38.75, abs=1e-9)
    assert result.dlmp_usd_per_kwh["s"] == pytest.approx(0.10, abs=1e-9)
    assert result.binding_branches.empty


def test_inelastic_demand_beyond_a_rating_is_infeasible_with_zero_awards() -> None:
    market = DlmpMarket(
        chain(rating_ab_kw=5.0), pd.Series({"h1": "a", "h2": "b"}), solver=HighsSolver()
    )
    book = orders(("o1", "h1", "buy", *BUYER), ("o2", "h2", "buy", 0.3, 0.1, 12.0, 10.0))
    result = market.clear(book, 0.10)
    assert result.status == "infeasible"
    assert result.reason.startswith("no dispatch meets the inelastic parts and the network limits")
    assert (result.power_kw == 0).all() and list(result.power_kw.index) == ["o1", "o2"]
    assert result.price_usd_per_kwh.isna().all() and result.dlmp_usd_per_kwh.isna().all()
    assert result.binding_branches.empty and result.welfare_usd_per_h == 0.0
    # The same market clears the next interval normally.
    assert market.clear(book.iloc[:1], 0.10).status == "optimal"


def test_step_seller_against_a_substation_export_limit() -> None:
    # 4 kW inelastic load, a 0..10 kW seller at 0.05, grid at 0.10 but at most 3 kW export:
    # the seller runs 7 kW and sets the price at its own 0.05.
    market = DlmpMarket(
        chain(), pd.Series({"load": "a", "pv": "b"}), substation_limit_kw=3.0, solver=HighsSolver()
    )
    book = orders(
        ("l", "load", "buy", 0.3, 0.3, 4.0, 4.0), ("p", "pv", "sell", 0.05, 0.05, 10.0, 0)
    )
    result = market.clear(book, 0.10)
    assert result.power_kw.to_dict() == pytest.approx({"l": 4.0, "p": -7.0}, abs=1e-9)
    assert result.substation_power_kw == pytest.approx(-3.0, abs=1e-9)
    np.testing.assert_allclose(result.dlmp_usd_per_kwh, 0.05, atol=1e-9)


def test_reactive_power_tightens_the_thermal_octagon() -> None:
    # pf 0.8: Q = 0.75 P. |P| + |Q| <= sqrt(2) * 10 binds first: P = 14.1421 / 1.75 = 8.0812 kW.
    market = DlmpMarket(
        network(("sb", "s", "b", 0.016, 0.008, 10.0)),
        pd.Series({"h": "b"}),
        power_factor=0.8,
        solver=HighsSolver(),
    )
    result = market.clear(orders(("o", "h", "buy", 0.5, 0.1, 30.0, 0.0)), 0.10)
    power = math.sqrt(2.0) * 10.0 / 1.75
    assert result.power_kw["o"] == pytest.approx(power, abs=1e-9)
    assert list(result.binding_branches["branch"]) == ["Line.sb"]
    # The buyer's marginal value equals its bus's DLMP plus tan(phi) times the reactive DLMP.
    value = 0.5 - 0.4 / 30.0 * power
    effective = result.dlmp_usd_per_kwh["b"] + 0.75 * result.reactive_dlmp_usd_per_kvarh["b"]
    assert effective == pytest.approx(value, abs=1e-9)


def reference_clearing(net, participant_bus, book, wholesale, tan, band=(0.95, 1.05)):
    """The same welfare maximization, written independently: variables d, g, s only, flows and
    voltages as path sums, solved with highspy; DLMP_j = d(min cost)/d(extra load at bus j)
    from the row duals (HiGHS: dual = change of the minimum per unit of the row bound)."""
    n_part, n_bus = len(participant_bus), net.n_buses
    who = participant_bus.index.get_indexer(book["participant"])
    buy = (book["side"] == "buy").to_numpy()
    col = np.where(buy, who, n_part + who)  # column of each order: d_i or g_i
    p_max, p_min = book["price_max_usd_per_kwh"].to_numpy(), book["price_min_usd_per_kwh"]
    q_max, q_min = book["power_max_kw"].to_numpy(), book["power_min_kw"].to_numpy()
    slope = (p_max - p_min.to_numpy()) / (q_max - q_min)
    n_col = 2 * n_part + 1
    cost, hessian = np.zeros(n_col), np.zeros(n_col)
    lower, upper = np.zeros(n_col), np.zeros(n_col)
    lower[-1], upper[-1], cost[-1] = -np.inf, np.inf, wholesale
    cost[col] = np.where(buy, -(p_max + slope * q_min), p_min + -slope * q_min)
    hessian[col], lower[col], upper[col] = slope, q_min, q_max
    bus = net.buses.get_indexer(participant_bus.to_numpy())
    at_bus = sparse.csr_array((np.ones(n_part), (bus, np.arange(n_part))), shape=(n_bus, n_part))
    net_load = sparse.hstack([at_bus, -at_bus, sparse.csr_array((n_bus, 1))]).tocsr()
    flow_p = net.downstream @ net_load
    flow_q = net.downstream @ (net_load @ sparse.diags(np.r_[tan, tan, 0.0]))
    drop = sparse.diags(net.resistance_pu2_per_kw) @ flow_p
    drop = drop + sparse.diags(net.reactance_pu2_per_kvar) @ flow_q
    rated = np.isfinite(net.rating_kw)
    s, root2 = net.rating_kw[rated], math.sqrt(2.0)
    balance = sparse.csr_array(np.r_[-np.ones(n_part), np.ones(n_part), 1.0][None, :])
    rows = [balance, flow_p[rated], flow_q[rated], (flow_p + flow_q)[rated]]
    rows += [(flow_p - flow_q)[rated], 2 * (net.downstream.T @ drop)[1:]]
    row_lo = np.r_[0.0, -s, -s, -root2 * s, -root2 * s, np.full(n_bus - 1, 1 - band[1] ** 2)]
    row_hi = np.r_[0.0, s, s, root2 * s, root2 * s, np.full(n_bus - 1, 1 - band[0] ** 2)]
    matrix = sparse.vstack(rows).tocsc()
    model = highspy.HighsModel()
    lp = model.lp_
    lp.num_col_, lp.num_row_ = n_col, matrix.shape[0]
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = cost, lower, upper
    lp.row_lower_, lp.row_upper_ = row_lo, row_hi
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_ = matrix.indptr, matrix.indices
    lp.a_matrix_.value_ = matrix.data
    diagonal = sparse.diags(hessian).tocsc()
    model.hessian_.dim_, model.hessian_.format_ = n_col, highspy.HessianFormat.kTriangular
    model.hessian_.start_, model.hessian_.index_ = diagonal.indptr, diagonal.indices
    model.hessian_.value_ = diagonal.data
    solver = highspy.Highs()
    solver.setOptionValue("output_flag", False)
    solver.setOptionValue("qp_regularization_value", 0.0)
    solver.passModel(model)
    solver.run()
    assert solver.getModelStatus() == highspy.HighsModelStatus.kOptimal
    x, y = np.asarray(solver.getSolution().col_value), np.asarray(solver.getSolution().row_dual)
    # Extra load l at bus j: balance bound +1, each P-carrying row bound -D[k, j], voltage
    # rows -2 (D' diag(r) D)[bus, j].
    n_rated = int(rated.sum())
    y_p, y_sum, y_diff = (y[1 + i * n_rated : 1 + (i + 1) * n_rated] for i in (0, 2, 3))
    y_v = y[1 + 4 * n_rated :]
    sensitivity = 2 * (net.downstream.T @ sparse.diags(net.resistance_pu2_per_kw) @ net.downstream)
    dlmp = y[0] - net.downstream[rated].T @ (y_p + y_sum + y_diff) - sensitivity[1:].T @ y_v
    power = np.where(buy, x[col], -x[col])
    return pd.Series(power, index=book["order_id"]), pd.Series(dlmp, index=net.buses)


def congested_case():
    """A branched feeder where a thermal limit and the voltage band both bind (pf 0.9 for two)."""
    net = network(
        ("sa", "s", "a", 0.16, 0.08, 60.0),
        ("ab", "a", "b", 0.32, 0.16, 8.0),
        ("ac", "a", "c", 0.8, 0.4, math.inf),
        ("cd", "c", "d", 0.8, 0.2, 30.0),
    )
    participant_bus = pd.Series({"h1": "a", "h2": "b", "h3": "c", "h4": "d", "h5": "b"})
    power_factor = pd.Series({"h1": 1.0, "h2": 0.9, "h3": 1.0, "h4": 0.9, "h5": 1.0})
    book = orders(
        ("o1", "h1", "buy", 0.40, 0.08, 20.0, 1.0),
        ("o2", "h2", "buy", 0.35, 0.05, 15.0, 2.0),
        ("o3", "h3", "buy", 0.45, 0.10, 25.0, 3.0),
        ("o4", "h4", "buy", 0.50, 0.12, 18.0, 1.0),
        ("o5", "h5", "sell", 0.30, 0.02, 4.0, 0.5),
        ("o6", "h4", "sell", 0.28, 0.04, 6.0, 0.0),
    )
    return net, participant_bus, power_factor, book


def test_pyomo_model_matches_an_independent_highspy_formulation() -> None:
    net, participant_bus, power_factor, book = congested_case()
    market = DlmpMarket(net, participant_bus, power_factor=power_factor, solver=HighsSolver())
    result = market.clear(book, 0.09)
    assert result.status == "optimal"
    assert not result.binding_branches.empty, "the case must bind a thermal limit"
    assert result.voltage_pu.min() == pytest.approx(0.95, abs=1e-9), "and the voltage band"
    tan = np.tan(np.arccos(power_factor.to_numpy()))
    power, dlmp = reference_clearing(net, participant_bus, book, 0.09, tan)
    np.testing.assert_allclose(result.power_kw, power.to_numpy(), rtol=0, atol=1e-6)
    np.testing.assert_allclose(result.dlmp_usd_per_kwh, dlmp.to_numpy(), rtol=0, atol=1e-6)
    assert result.dlmp_usd_per_kwh.max() > 0.09 + 1e-3


def test_updating_one_market_equals_building_a_fresh_one_each_interval() -> None:
    net, participant_bus, power_factor, book = congested_case()
    intervals = [
        (book, 0.09),
        (book.iloc[[0, 2, 5]], 0.15),  # fewer orders: the others get zero bounds
        (book.assign(power_max_kw=book["power_max_kw"] * 0.5), 0.05),
        (book.assign(side=["sell", "buy", "sell", "buy", "buy", "sell"]), 0.11),
        (book, 0.09),
    ]
    market = DlmpMarket(net, participant_bus, power_factor=power_factor, solver=HighsSolver())
    model = market.model
    first = market.clear(*intervals[0])
    instances = []
    market._solver._pyomo.set_instance = instances.append  # a rebuild of the model would show
    for interval in intervals:
        updated = market.clear(*interval)
        fresh = DlmpMarket(
            net, participant_bus, power_factor=power_factor, solver=HighsSolver()
        ).clear(*interval)
        assert updated.status == fresh.status == "optimal"
        pd.testing.assert_series_equal(updated.power_kw, fresh.power_kw, rtol=0, atol=1e-8)
        pd.testing.assert_series_equal(
            updated.dlmp_usd_per_kwh, fresh.dlmp_usd_per_kwh, rtol=0, atol=1e-8
        )
    assert market.model is model and instances == []
    np.testing.assert_allclose(market.clear(*intervals[0]).power_kw, first.power_kw, atol=1e-9)


@pytest.mark.parametrize("wholesale", [0.02, 0.09, 0.30])
def test_starting_point_changes_nothing_but_the_work(wholesale: float) -> None:
    net, participant_bus, power_factor, book = congested_case()
    started = DlmpMarket(net, participant_bus, power_factor=power_factor, solver=HighsSolver())
    cold = DlmpMarket(net, participant_bus, power_factor=power_factor, solver=HighsSolver())
    cold._positions = None  # no starting point: HiGHS from scratch
    with_start, without = started.clear(book, wholesale), cold.clear(book, wholesale)
    assert started.hot_started and not cold.hot_started
    pd.testing.assert_series_equal(with_start.power_kw, without.power_kw, rtol=0, atol=1e-7)
    pd.testing.assert_series_equal(
        with_start.dlmp_usd_per_kwh, without.dlmp_usd_per_kwh, rtol=0, atol=1e-7
    )


def test_a_solver_that_stops_early_clears_nothing() -> None:
    net, participant_bus, power_factor, book = congested_case()
    market = DlmpMarket(net, participant_bus, power_factor=power_factor, solver=HighsSolver())
    limit = market._solver.options["qp_iteration_limit"]
    market._solver.options["qp_iteration_limit"] = 0  # every attempt stops
    result = market.clear(book, 0.09)
    assert result.status == "failure" and not market.hot_started  # the last try: from scratch
    assert "iterationLimit" in result.reason and f"limits: {limit} active-set" in result.reason
    assert (result.power_kw == 0).all() and result.dlmp_usd_per_kwh.isna().all()
    market._solver.options["qp_iteration_limit"] = limit
    cleared = market.clear(book, 0.09)
    assert cleared.status == "optimal" and cleared.reason == ""


def test_a_solve_over_its_time_limit_fails_and_says_so() -> None:
    # The safety net against a solver that does not return: no solve takes under 1e-12 s.
    net, participant_bus, power_factor, book = congested_case()
    market = DlmpMarket(
        net, participant_bus, power_factor=power_factor, solver=HighsSolver(), time_limit_s=1e-12
    )
    result = market.clear(book, 0.09)
    assert result.status == "failure" and (result.power_kw == 0).all()
    assert "maxTimeLimit" in result.reason and "1e-12 s" in result.reason


def test_no_orders_is_empty() -> None:
    market = DlmpMarket(chain(), pd.Series({"h1": "a"}), solver=HighsSolver())
    result = market.clear(orders(), 0.1)
    assert result.status == "empty" and result.power_kw.empty


def test_second_order_on_a_side_and_bad_market_inputs_are_refused() -> None:
    market = DlmpMarket(chain(), pd.Series({"h1": "a"}), solver=HighsSolver())
    book = orders(("o1", "h1", "buy", *BUYER), ("o2", "h1", "buy", *BUYER))
    with pytest.raises(ValueError, match=r"participant: got 'h1' for order_id 'o2'.* one order"):
        market.clear(book, 0.1)
    with pytest.raises(ValueError, match="order_id: got 'o1'"):
        market.clear(book.assign(order_id="o1", side=["buy", "sell"]), 0.1)
    with pytest.raises(ValueError, match="wholesale_price_usd_per_kwh: got nan"):
        market.clear(book.iloc[:1], math.nan)
    with pytest.raises(ValueError, match=r"participant_bus: got bus\(es\) \{'h2': 'z'\}"):
        DlmpMarket(chain(), pd.Series({"h1": "a", "h2": "z"}), solver=HighsSolver())
    with pytest.raises(ValueError, match=r"power_factor: got \{'h1': 0\.0\}"):
        DlmpMarket(chain(), pd.Series({"h1": "a"}), power_factor=0.0, solver=HighsSolver())
    with pytest.raises(ValueError, match=r"voltage_min_pu, voltage_max_pu: got 1\.1, 0\.9"):
        DlmpMarket(
            chain(),
            pd.Series({"h1": "a"}),
            voltage_min_pu=1.1,
            voltage_max_pu=0.9,
            solver=HighsSolver(),
        )
    with pytest.raises(ValueError, match="substation_limit_kw: got -1"):
        DlmpMarket(chain(), pd.Series({"h1": "a"}), substation_limit_kw=-1, solver=HighsSolver())
    with pytest.raises(ValueError, match=r"time_limit_s: got 0\.0, expected finite and > 0"):
        DlmpMarket(chain(), pd.Series({"h1": "a"}), time_limit_s=0.0, solver=HighsSolver())
