"""The household battery LP: against an independent matrix LP, its physics, updates and failures."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import scipy.optimize
import scipy.sparse
from hypothesis import given, settings
from hypothesis import strategies as st

from tefed.domain.ems.devices.battery import BatteryParameters
from tefed.domain.ems.strategies.receding_basis import BASIC, advanced_basis
from tefed.domain.ems.strategies.schedule_lp import UPDATE_PATHS, BatterySchedule
from tefed.domain.ems.strategies.schedule_model import (
    COST_TIE_BREAK_KWH_PER_USD,
    THROUGHPUT_PENALTY,
)
from tefed.io.highs_solver import HighsSolver

HOURS = np.arange(24)
#: Time-of-use import price: night, day, evening peak, late [USD/kWh].
IMPORT_PRICE = np.select(
    [HOURS < 6, HOURS < 17, HOURS < 21], [0.10, 0.20, 0.35], default=0.15
).astype(float)
EXPORT_PRICE = np.full(24, 0.05)
#: One household: night base load, PV surplus around noon, evening peak [kW].
HOUSEHOLD_NET_KW = np.array(
    [0.5, 0.4, 0.4, 0.4, 0.5, 0.7, 1.2, 1.5, 0.8, -0.5, -1.8, -2.6,
     -3.0, -2.8, -2.0, -1.0, 0.2, 1.6, 2.4, 2.5, 2.2, 1.5, 1.0, 0.7]
)  # fmt: skip


def community_net_load_kw() -> np.ndarray:
    """About 60 households aggregated: 150 kW at night, PV surplus to -310 kW at 13 h, 460 kW
    at 19 h [kW]."""
    load = (
        150 + 120 * np.exp(-(((HOURS - 8) / 1.5) ** 2)) + 310 * np.exp(-(((HOURS - 19) / 2) ** 2))
    )
    pv = 620 * np.clip(np.sin((HOURS - 6) / 13 * np.pi), 0, None)
    return (load - pv)[None, :]


def reference_objective(battery, net_load_kw, import_price, export_price, soc_kwh, objective):
    """The same LP written as matrices and solved by scipy's HiGHS wrapper (one household).

    Columns: import, export, charge, discharge, stored energy at the end of each period."""
    (h,), dt = net_load_kw.shape, 1.0
    a, b = (0.0, 1.0) if objective == "min_cost" else (1.0, COST_TIE_BREAK_KWH_PER_USD)
    eta_c, eta_d = battery.charge_efficiency[0], battery.discharge_efficiency[0]
    capacity, retention = battery.capacity_kwh[0], (1 - battery.self_discharge_per_h[0]) ** dt
    charge_kw, discharge_kw = battery.charge_power_kw[0], battery.discharge_power_kw[0]
    cost = np.concatenate([
        dt * (a + b * import_price), -dt * b * export_price,
        np.full(2 * h, dt * THROUGHPUT_PENALTY), np.zeros(h),
    ])  # fmt: skip
    eye, shift = scipy.sparse.eye(h), scipy.sparse.eye(h, k=-1)
    balance = scipy.sparse.hstack([eye, -eye, -eye, eye, 0 * eye])
    dynamics = scipy.sparse.hstack(
        [0 * eye, 0 * eye, -dt * eta_c * eye, dt / eta_d * eye, eye - retention * shift]
    )
    terminal = scipy.sparse.csr_matrix(([1.0], ([0], [5 * h - 1])), shape=(1, 5 * h))
    rhs = np.concatenate([net_load_kw, np.r_[soc_kwh, np.zeros(h - 1)], [soc_kwh]])
    rhs[h] *= retention
    bounds = (
        [(0, None)] * 2 * h + [(0, charge_kw)] * h + [(0, discharge_kw)] * h
        + [(battery.soc_min[0] * capacity, battery.soc_max[0] * capacity)] * h
    )  # fmt: skip
    matrix = scipy.sparse.vstack([balance, dynamics, terminal]).tocsr()
    found = scipy.optimize.linprog(cost, A_eq=matrix, b_eq=rhs, bounds=bounds, method="highs")
    assert found.status == 0, found.message
    return found.fun


def household_battery() -> BatteryParameters:
    return BatteryParameters.from_round_trip([10.0], [5.0], 0.9, 0.1, 0.95)


def community_battery() -> BatteryParameters:
    """Rana et al.'s community battery: 1.2 MWh, 0.6 MW, 95 % round trip split as
    sqrt(0.95) on charge and on discharge; state of charge kept within 10-90 %."""
    return BatteryParameters.from_round_trip([1200.0], [600.0], 0.95, 0.1, 0.9)


@pytest.mark.parametrize("objective", ["min_cost", "min_import"])
def test_household_objective_equals_an_independent_matrix_lp(objective):
    battery = household_battery()
    schedule = BatterySchedule(
        battery, horizon=24, period_s=3600.0, objective=objective, solver=HighsSolver()
    )
    result = schedule.solve(HOUSEHOLD_NET_KW[None, :], IMPORT_PRICE, EXPORT_PRICE, [4.0])
    expected = reference_objective(
        battery, HOUSEHOLD_NET_KW, IMPORT_PRICE, EXPORT_PRICE, 4.0, objective
    )
    assert result.status == "optimal"
    assert result.objective_value == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("objective", ["min_cost", "min_import"])
def test_community_battery_objective_equals_an_independent_matrix_lp(objective):
    battery, net_load = community_battery(), community_net_load_kw()
    schedule = BatterySchedule(
        battery, horizon=24, period_s=3600.0, objective=objective, solver=HighsSolver()
    )
    result = schedule.solve(net_load, IMPORT_PRICE, EXPORT_PRICE, [600.0])
    expected = reference_objective(
        battery, net_load[0], IMPORT_PRICE, EXPORT_PRICE, 600.0, objective
    )
    assert result.status == "optimal"
    assert result.objective_value == pytest.approx(expected, rel=1e-6)


def test_arbitrage_raises_the_peak_import_at_the_pcc_above_self_consumption():
    # Rana et al.: the cost-minimizing community battery charges from the grid when energy is
    # cheap, so the PCC sees a higher peak than when it only stores the PV surplus.
    battery, net_load = community_battery(), community_net_load_kw()
    peak_kw = {}
    for objective in ("min_cost", "min_import"):
        schedule = BatterySchedule(
            battery, horizon=24, period_s=3600.0, objective=objective, solver=HighsSolver()
        )
        result = schedule.solve(net_load, IMPORT_PRICE, EXPORT_PRICE, [600.0])
        assert result.status == "optimal"
        peak_kw[objective] = result.grid_power_kw.max()
    assert peak_kw["min_cost"] > net_load.max() > peak_kw["min_import"]


def group_battery() -> BatteryParameters:
    """Three households: lossy and self-discharging, lossless with a narrow band, and one
    without a battery."""
    return BatteryParameters(
        capacity_kwh=np.array([10.0, 6.0, 0.0]),
        power_kw=np.array([5.0, 3.0, 4.0]),
        charge_efficiency=np.array([0.95, 1.0, 0.9]),
        discharge_efficiency=np.array([0.9, 1.0, 0.9]),
        soc_min=np.array([0.1, 0.3, 0.0]),
        soc_max=np.array([0.9, 0.8, 1.0]),
        self_discharge_per_h=np.array([0.002, 0.0, 0.0]),
    )


def group_net_load_kw(shift: int = 0) -> np.ndarray:
    return np.stack([np.roll(HOUSEHOLD_NET_KW, shift), 0.5 * np.roll(HOUSEHOLD_NET_KW, shift + 3),
                     np.roll(HOUSEHOLD_NET_KW, shift) + 0.3])  # fmt: skip


def check_physics(battery, result, net_load_kw, soc_initial_kwh, period_h):
    """Terminal state, limits, power balance and stored-energy bookkeeping of a schedule."""
    capacity = battery.capacity_kwh[:, None]
    charge_kw, discharge_kw = battery.charge_power_kw[:, None], battery.discharge_power_kw[:, None]
    soc, battery_kw = result.soc_kwh, result.battery_power_kw
    np.testing.assert_allclose(soc[:, 0], soc_initial_kwh)
    np.testing.assert_allclose(soc[:, -1], soc_initial_kwh, atol=1e-6)
    assert (soc >= battery.soc_min[:, None] * capacity - 1e-6).all()
    assert (soc <= battery.soc_max[:, None] * capacity + 1e-6).all()
    assert (battery_kw <= np.where(capacity > 0, charge_kw, 0.0) + 1e-6).all()
    assert (-battery_kw <= np.where(capacity > 0, discharge_kw, 0.0) + 1e-6).all()
    np.testing.assert_allclose(result.grid_power_kw, net_load_kw + battery_kw, atol=1e-6)
    # Charging stores eta_c of it, discharging removes 1/eta_d: holds only if the schedule
    # never charges and discharges in the same period.
    eta_c, eta_d = battery.charge_efficiency[:, None], battery.discharge_efficiency[:, None]
    stored = np.where(battery_kw > 0, eta_c * battery_kw, battery_kw / eta_d) * period_h
    kept = (1 - battery.self_discharge_per_h[:, None]) ** period_h * soc[:, :-1]
    np.testing.assert_allclose(soc[:, 1:] - kept, stored, atol=1e-6)


@pytest.mark.parametrize("objective", ["min_cost", "min_import"])
@pytest.mark.parametrize("path", UPDATE_PATHS)
def test_group_schedule_respects_terminal_state_limits_and_energy_balance(objective, path):
    battery, net_load = group_battery(), group_net_load_kw()
    soc = np.array([5.0, 2.0, 0.0])
    schedule = BatterySchedule(
        battery, 24, 3600.0, objective, parameter_updates=path, solver=HighsSolver()
    )
    result = schedule.solve(net_load, IMPORT_PRICE, EXPORT_PRICE, soc)
    assert result.status == "optimal", result.message
    assert result.battery_power_kw.shape == (3, 24) and result.soc_kwh.shape == (3, 25)
    check_physics(battery, result, net_load, soc, 1.0)
    assert np.abs(result.battery_power_kw[2]).max() == 0.0  # no battery
    assert np.abs(result.battery_power_kw[:2]).max() > 1.0  # the others are used


@pytest.mark.parametrize("objective", ["min_cost", "min_import"])
def test_resolving_after_an_update_equals_a_freshly_built_model(objective):
    battery = group_battery()
    first = (group_net_load_kw(), IMPORT_PRICE, EXPORT_PRICE, np.array([5.0, 2.0, 0.0]))
    second = (group_net_load_kw(5), np.roll(IMPORT_PRICE, 5), np.roll(EXPORT_PRICE, 5) * 0.5,
              np.array([8.0, 4.5, 0.0]))  # fmt: skip
    reused = BatterySchedule(battery, 24, 3600.0, objective, solver=HighsSolver())
    model = reused.model
    reused.solve(*first)
    updated = reused.solve(*second)
    fresh = BatterySchedule(battery, 24, 3600.0, objective, solver=HighsSolver()).solve(*second)
    pyomo = BatterySchedule(
        battery, 24, 3600.0, objective, parameter_updates="pyomo", solver=HighsSolver()
    )
    pyomo.solve(*first)
    assert reused.model is model and reused.parameter_updates == "highspy"
    assert updated.status == fresh.status == "optimal"
    assert updated.objective_value == pytest.approx(fresh.objective_value, rel=1e-9, abs=1e-9)
    assert pyomo.solve(*second).objective_value == pytest.approx(fresh.objective_value, rel=1e-9)
    check_physics(battery, updated, second[0], second[3], 1.0)


@pytest.mark.parametrize("objective", ["min_cost", "min_import"])
def test_receding_windows_started_from_the_moved_basis_reach_the_fresh_optimum(objective):
    battery, soc = group_battery(), np.array([5.0, 2.0, 0.0])
    receding = BatterySchedule(battery, 24, 3600.0, objective, solver=HighsSolver())
    for start in range(4):
        window = (group_net_load_kw(-start), np.roll(IMPORT_PRICE, -start),
                  np.roll(EXPORT_PRICE, -start), soc)  # fmt: skip
        moved = receding.solve(*window, periods_advanced=1 if start else 0)
        fresh = BatterySchedule(battery, 24, 3600.0, objective, solver=HighsSolver()).solve(*window)
        assert moved.status == fresh.status == "optimal"
        assert moved.objective_value == pytest.approx(fresh.objective_value, rel=1e-9, abs=1e-9)
        check_physics(battery, moved, window[0], soc, 1.0)
        soc = moved.soc_kwh[:, 1]


def test_moving_the_basis_by_hand():
    # Two households, one kind of column and row, three periods. Household 0 keeps its count
    # of basic statuses (1 + 2 before, 0 + 3 after) when moved; household 1 would go from 1 to
    # 0 and keeps its own statuses.
    columns = np.array([BASIC, 0, 2, BASIC, 0, 0])
    rows = np.array([0, BASIC, BASIC, 2, 0, 0, 4])  # the last row belongs to no period
    period_columns = np.arange(6).reshape(1, 2, 3)
    period_rows = np.arange(6).reshape(1, 2, 3)
    new_columns, new_rows = advanced_basis(columns, rows, period_columns, period_rows, 1)
    assert new_columns.tolist() == [0, 2, 2, BASIC, 0, 0]
    assert new_rows.tolist() == [BASIC, BASIC, BASIC, 2, 0, 0, 4]
    assert columns.tolist() == [BASIC, 0, 2, BASIC, 0, 0]  # inputs untouched
    with pytest.raises(ValueError, match="periods is -1"):
        advanced_basis(columns, rows, period_columns, period_rows, -1)


@settings(max_examples=100, deadline=None)
@given(
    kinds=st.integers(1, 3), households=st.integers(1, 4), horizon=st.integers(1, 6),
    periods=st.integers(0, 8), data=st.data(),
)  # fmt: skip
def test_moved_basis_keeps_each_households_count_and_reads_later_periods(
    kinds, households, horizon, periods, data
):
    size = kinds * households * horizon
    statuses = st.lists(st.integers(0, 4), min_size=size + 2, max_size=size + 2)
    columns, rows = np.array(data.draw(statuses)), np.array(data.draw(statuses))
    order = data.draw(st.permutations(range(size + 2)))
    period_columns = np.array(order[:size]).reshape(kinds, households, horizon)
    period_rows = np.arange(size).reshape(kinds, households, horizon)
    new_columns, new_rows = advanced_basis(columns, rows, period_columns, period_rows, periods)

    def count(status_columns, status_rows):
        blocks = (status_columns[period_columns], status_rows[period_rows])
        return sum((block == BASIC).sum(axis=(0, 2)) for block in blocks)

    np.testing.assert_array_equal(count(new_columns, new_rows), count(columns, rows))
    outside = np.setdiff1d(np.arange(size + 2), period_columns)
    np.testing.assert_array_equal(new_columns[outside], columns[outside])
    np.testing.assert_array_equal(new_rows[size:], rows[size:])
    later = np.minimum(np.arange(horizon) + periods, horizon - 1)
    for household in range(households):
        old, new = columns[period_columns[:, household]], new_columns[period_columns[:, household]]
        assert (new == old).all() or (new == old[:, later]).all()


def test_quarter_hour_periods_scale_energy_by_the_period_length():
    # 4 kW of load for one 15-minute period at 0.30, the battery charged at 0.10 before:
    # 1 kWh bought for 0.10 USD, plus 2 kWh of throughput at the penalty.
    battery = BatteryParameters.from_round_trip([10.0], [5.0], 1.0, 0.0, 1.0)
    schedule = BatterySchedule(battery, horizon=2, period_s=900.0, solver=HighsSolver())
    result = schedule.solve([[0.0, 4.0]], [0.10, 0.30], [0.0, 0.0], [5.0])
    np.testing.assert_allclose(result.battery_power_kw, [[4.0, -4.0]], atol=1e-9)
    np.testing.assert_allclose(result.soc_kwh, [[5.0, 6.0, 5.0]], atol=1e-9)
    assert result.objective_value == pytest.approx(0.10 + 2 * THROUGHPUT_PENALTY, abs=1e-9)


@pytest.mark.parametrize("path", UPDATE_PATHS)
def test_state_below_the_band_out_of_reach_is_infeasible_and_falls_back_to_idle(path):
    # soc_min is 1 kWh; from 0.2 kWh a 0.5 kW charger stores at most 0.2 + 0.5 · 0.95 < 1 kWh
    # by the end of the first hour, so no schedule keeps the band.
    battery = BatteryParameters.from_round_trip([10.0], [0.5], 0.9025, 0.1, 0.95)
    schedule = BatterySchedule(battery, 24, 3600.0, parameter_updates=path, solver=HighsSolver())
    result = schedule.solve(HOUSEHOLD_NET_KW[None, :], IMPORT_PRICE, EXPORT_PRICE, [0.2])
    assert result.status == "infeasible" and not result.optimal
    assert "for household 0 " in result.message and "fallback" in result.message
    assert (result.battery_power_kw == 0).all()
    np.testing.assert_array_equal(result.grid_power_kw, HOUSEHOLD_NET_KW[None, :])
    np.testing.assert_array_equal(result.soc_kwh, np.full((1, 25), 0.2))
    assert np.isnan(result.objective_value)
    # The same object recovers once the state is back in the band.
    assert schedule.solve(HOUSEHOLD_NET_KW[None, :], IMPORT_PRICE, EXPORT_PRICE, [4.0]).optimal


def test_state_below_the_band_within_reach_is_brought_back_and_held_at_the_bound():
    # 0.9 kWh, just under soc_min = 1 kWh (self-discharge of an idle battery): the first
    # period charges back into the band and the horizon ends on the bound.
    battery = household_battery()
    schedule = BatterySchedule(battery, 24, 3600.0, solver=HighsSolver())
    result = schedule.solve(HOUSEHOLD_NET_KW[None, :], IMPORT_PRICE, EXPORT_PRICE, [0.9])
    assert result.status == "optimal"
    assert result.soc_kwh[0, 1] >= 1.0 - 1e-9
    assert result.soc_kwh[0, -1] == pytest.approx(1.0, abs=1e-9)


def test_self_discharge_and_separate_power_limits_enter_the_schedule():
    # 1 %/h self-discharge, charging limited to 2 kW below the 5 kW converter rating.
    battery = BatteryParameters.from_round_trip(
        [10.0], [5.0], 0.9, 0.1, 0.95, charge_power_kw=2.0, self_discharge_per_h=0.01
    )
    schedule = BatterySchedule(battery, 24, 3600.0, solver=HighsSolver())
    result = schedule.solve(HOUSEHOLD_NET_KW[None, :], IMPORT_PRICE, EXPORT_PRICE, [4.0])
    assert result.status == "optimal"
    assert result.battery_power_kw.max() == pytest.approx(2.0, abs=1e-9)  # the limit binds
    assert result.battery_power_kw.min() < -2.0  # discharging is not limited to 2 kW
    check_physics(battery, result, HOUSEHOLD_NET_KW[None, :], [4.0], 1.0)
    expected = reference_objective(
        battery, HOUSEHOLD_NET_KW, IMPORT_PRICE, EXPORT_PRICE, 4.0, "min_cost"
    )
    assert result.objective_value == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("path", UPDATE_PATHS)
@pytest.mark.parametrize("limit", [{"time_limit": 0.0}, {"simplex_iteration_limit": 0}])
def test_a_solver_limit_gives_failed_and_the_fallback(path, limit):
    schedule = BatterySchedule(household_battery(), 24, 3600.0, solver_options=limit,
                               parameter_updates=path, solver=HighsSolver())  # fmt: skip
    result = schedule.solve(HOUSEHOLD_NET_KW[None, :], IMPORT_PRICE, EXPORT_PRICE, [4.0])
    assert result.status == "failed" and "limit" in result.message.lower()
    assert (result.battery_power_kw == 0).all() and np.isnan(result.objective_value)
    np.testing.assert_array_equal(result.grid_power_kw, HOUSEHOLD_NET_KW[None, :])


def test_unknown_solver_option_is_refused():
    with pytest.raises(ValueError, match=r"solver_options\['no_such_option'\]"):
        BatterySchedule(
            household_battery(),
            2,
            3600.0,
            solver_options={"no_such_option": 1},
            solver=HighsSolver(),
        )


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"net_load": np.zeros((1, 23))}, r"net_load_forecast_kw has shape \(1, 23\)"),
        ({"net_load": np.where(HOURS == 7, np.nan, 0.0)[None]}, r"\[0, 7\] is nan.*period 7"),
        ({"import_price": np.r_[IMPORT_PRICE[:-1], np.inf]}, r"import_price.*\[23\] is inf"),
        (
            {"export_price": np.where(HOURS == 3, 0.5, 0.05)},
            r"export_price_usd_per_kwh\[3\] is 0.5",
        ),
        ({"soc": [10.5]}, r"soc_initial_kwh\[0\] is 10.5; expected in \[0, capacity_kwh = 10.0\]"),
        ({"soc": [4.0, 4.0]}, r"soc_initial_kwh has shape \(2,\)"),
    ],
)
def test_invalid_inputs_name_field_position_and_expectation(change, match):
    data = {"net_load": HOUSEHOLD_NET_KW[None, :], "import_price": IMPORT_PRICE,
            "export_price": EXPORT_PRICE, "soc": [4.0]} | change  # fmt: skip
    schedule = BatterySchedule(household_battery(), 24, 3600.0, solver=HighsSolver())
    with pytest.raises(ValueError, match=match):
        schedule.solve(data["net_load"], data["import_price"], data["export_price"], data["soc"])


def test_errors_name_the_household_where_the_battery_names_it():
    battery = BatteryParameters.from_round_trip(
        [10.0, 5.0], [5.0, 2.5], 0.9, 0.1, 0.95, household_ids=["h01", "h02"]
    )
    schedule = BatterySchedule(battery, 2, 3600.0, solver=HighsSolver())
    with pytest.raises(ValueError, match=r"soc_initial_kwh\[1\] is 6.0; .* household 1 \(h02\)"):
        schedule.solve(np.zeros((2, 2)), [0.2, 0.2], [0.1, 0.1], [5.0, 6.0])


@pytest.mark.parametrize(
    ("arguments", "match"),
    [
        ({"horizon": 0}, "horizon"),
        ({"period_s": -900.0}, "period_s"),
        ({"objective": "max_profit"}, "objective"),
        ({"parameter_updates": "gurobi"}, "parameter_updates"),
    ],
)
def test_invalid_construction_is_refused(arguments, match):
    settings_ = {"horizon": 24, "period_s": 3600.0} | arguments
    with pytest.raises(ValueError, match=match):
        BatterySchedule(household_battery(), **settings_, solver=HighsSolver())


@functools.cache
def small_schedule(objective: str) -> BatterySchedule:
    return BatterySchedule(group_battery(), 6, 1800.0, objective, solver=HighsSolver())


@settings(max_examples=40, deadline=None)
@given(
    objective=st.sampled_from(["min_cost", "min_import"]),
    net_load=st.lists(st.floats(-8, 8), min_size=18, max_size=18),
    export_price=st.lists(st.floats(0, 0.3), min_size=6, max_size=6),
    spread=st.lists(st.floats(0, 0.3), min_size=6, max_size=6),
    fill=st.floats(0, 1),
)
def test_any_data_gives_a_physical_optimal_schedule(
    objective, net_load, export_price, spread, fill
):
    battery, schedule = group_battery(), small_schedule(objective)
    low, high = battery.soc_min * battery.capacity_kwh, battery.soc_max * battery.capacity_kwh
    soc = low + fill * (high - low)
    net_load_kw = np.reshape(net_load, (3, 6))
    result = schedule.solve(net_load_kw, np.add(export_price, spread), export_price, soc)
    assert result.status == "optimal", result.message
    check_physics(battery, result, net_load_kw, soc, 0.5)
