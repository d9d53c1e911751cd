"""Grid metrics on hand-built voltage, loading, tap and power series with hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import opendssdirect as dss
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tefed.domain.grid_metrics import (
    FORTESCUE_A,
    LoadingStatistics,
    VoltageStatistics,
    count_tap_changes,
    energy_summary,
    voltage_unbalance_factor_pct,
)

NAN = np.nan

# 3 steps x 4 nodes; node 3 is not energized at the second step.
VOLTAGES_PU = np.array(
    [
        [1.00, 0.94, 1.050, 1.045],
        [0.96, 0.93, 1.051, NAN],
        [1.02, 0.95, 1.060, 1.041],
    ]
)


def _three_steps(step_s: float = 30.0) -> VoltageStatistics:
    stats = VoltageStatistics(4, step_s)
    for step, voltage in enumerate(VOLTAGES_PU):
        stats.update(step * int(step_s), voltage)
    return stats


def test_voltage_statistics_per_node() -> None:
    stats = _three_steps()
    assert stats.n_steps == 3
    np.testing.assert_array_equal(stats.min_pu, [0.96, 0.93, 1.05, 1.041])
    np.testing.assert_array_equal(stats.max_pu, [1.02, 0.95, 1.06, 1.045])
    np.testing.assert_array_equal(stats.steps_energized, [3, 3, 3, 2])
    # 0.95 and 1.05 lie on the bounds and comply.
    np.testing.assert_array_equal(stats.steps_below, [0, 2, 0, 0])
    np.testing.assert_array_equal(stats.steps_above, [0, 0, 2, 0])
    # Above 1.04: 1.050, 1.051, 1.060 at node 2; 1.045 and 1.041 at node 3.
    np.testing.assert_array_equal(stats.steps_above_upper_limit, [0, 0, 3, 2])


def test_voltage_statistics_worst_instant() -> None:
    stats = _three_steps()
    # Largest |V - 1| per step: 0.06, 0.07 (node 1 at 0.93), 0.06.
    assert stats.worst_time_s == 30
    assert stats.worst_deviation_pu == pytest.approx(0.07, abs=1e-12)
    np.testing.assert_array_equal(stats.worst_voltage_pu, VOLTAGES_PU[1])


def test_worst_instant_ties_keep_the_earliest_and_copy_the_vector() -> None:
    stats = VoltageStatistics(2, 60.0)
    first = np.array([0.5, 1.0])
    stats.update(0, first)
    first[0] = 9.0  # the caller reuses its buffer
    stats.update(60, np.array([1.0, 1.5]))  # the same deviation, 0.5
    assert stats.worst_time_s == 0
    np.testing.assert_array_equal(stats.worst_voltage_pu, [0.5, 1.0])
    stats.update(120, np.array([1.0, 0.4]))
    assert stats.worst_time_s == 120


def test_voltage_node_table() -> None:
    table = _three_steps(step_s=30.0).node_table(["a.1", "a.2", "b.1", "c.3"])
    assert table.index.name == "node"
    assert table.index.tolist() == ["a.1", "a.2", "b.1", "c.3"]
    assert table.columns.tolist() == [
        "min_pu",
        "max_pu",
        "steps_energized",
        "steps_below",
        "steps_above",
        "steps_above_upper_limit",
        "minutes_below",
        "minutes_above",
        "minutes_above_upper_limit",
    ]
    # 30 s steps: half a minute each.
    assert table["minutes_below"].tolist() == [0.0, 1.0, 0.0, 0.0]
    assert table["minutes_above_upper_limit"].tolist() == [0.0, 0.0, 1.5, 1.0]
    assert table.loc["c.3", "max_pu"] == 1.045


def test_voltage_violation_totals() -> None:
    table = _three_steps(step_s=30.0).node_table(["a.1", "b.1", "c.3", "d.2"])
    assert (table["min_pu"].min(), table["max_pu"].max()) == (0.93, 1.06)
    totals = table[["steps_below", "steps_above", "steps_above_upper_limit"]].sum().tolist()
    assert totals == [2, 2, 5]
    assert (table["steps_below"] > 0).sum() == 1 and (table["steps_above"] > 0).sum() == 1
    assert (table["steps_above_upper_limit"] > 0).sum() == 2
    assert table["minutes_above_upper_limit"].sum() == 2.5


def test_custom_limits() -> None:
    stats = VoltageStatistics(2, 60.0, range_pu=(0.9, 1.1), upper_limit_pu=1.05)
    stats.update(0, np.array([0.92, 1.06]))
    assert (stats.steps_below + stats.steps_above).sum() == 0
    assert stats.steps_above_upper_limit.sum() == 1


def test_unenergized_steps_and_nodes() -> None:
    stats = VoltageStatistics(2, 60.0)
    stats.update(0, np.array([NAN, NAN]))
    assert stats.n_steps == 1
    assert stats.worst_time_s is None
    assert np.isnan(stats.min_pu).all() and np.isnan(stats.max_pu).all()
    stats.update(60, np.array([1.0, NAN]))
    assert stats.worst_time_s == 60
    assert np.isnan(stats.min_pu[1]) and stats.min_pu[0] == 1.0
    assert stats.steps_energized.tolist() == [1, 0]


@pytest.mark.parametrize(
    ("time_s", "voltage", "message"),
    [
        (60, np.ones(3), r"voltage_pu: got shape \(3,\); expected \(2,\)"),
        (60, np.array([1.0, np.inf]), "voltage_pu: got inf at index 1"),
        (0, np.ones(2), "time_s: got 0; expected > 0"),
        (60.0, np.ones(2), "time_s: got 60.0; expected an integer"),
    ],
)
def test_voltage_update_rejects_bad_input(time_s, voltage, message) -> None:
    stats = VoltageStatistics(2, 60.0)
    stats.update(0, np.ones(2))
    with pytest.raises(ValueError, match=message):
        stats.update(time_s, voltage)
    assert stats.n_steps == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_nodes": 0, "step_s": 60.0}, "n_nodes: got 0; expected a finite integer > 0"),
        ({"n_nodes": 2, "step_s": -1.0}, "step_s: got -1.0"),
        ({"n_nodes": 2, "step_s": 60.0, "range_pu": (1.05, 0.95)}, "range_pu: got"),
        ({"n_nodes": 2, "step_s": 60.0, "upper_limit_pu": 0}, "upper_limit_pu: got 0"),
    ],
)
def test_voltage_statistics_rejects_bad_parameters(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        VoltageStatistics(**kwargs)


def test_node_table_needs_one_name_per_node() -> None:
    with pytest.raises(ValueError, match="names: got 3 values; expected 4"):
        _three_steps().node_table(["a", "b", "c"])


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(
        float,
        st.tuples(st.integers(1, 6), st.integers(1, 5)),
        elements=st.one_of(st.floats(0.85, 1.15), st.just(np.nan)),
    )
)
def test_streaming_equals_whole_run(voltages: np.ndarray) -> None:
    """One step at a time gives what the whole (steps, nodes) array gives at once."""
    stats = VoltageStatistics(voltages.shape[1], 60.0)
    for step, voltage in enumerate(voltages):
        stats.update(60 * step, voltage)
    energized = ~np.isnan(voltages)
    ever = energized.any(axis=0)
    np.testing.assert_array_equal(np.isnan(stats.min_pu), ~ever)
    low = np.where(energized, voltages, np.inf).min(axis=0)
    np.testing.assert_array_equal(stats.min_pu[ever], low[ever])
    np.testing.assert_array_equal(stats.steps_below, (voltages < 0.95).sum(axis=0))
    np.testing.assert_array_equal(stats.steps_above, (voltages > 1.05).sum(axis=0))
    np.testing.assert_array_equal(stats.steps_above_upper_limit, (voltages > 1.04).sum(axis=0))
    deviation = np.where(energized, np.abs(voltages - 1.0), -1.0).max(axis=1)
    if energized.any():
        worst = int(np.argmax(deviation))  # argmax returns the first maximum
        assert stats.worst_time_s == 60 * worst
        np.testing.assert_array_equal(stats.worst_voltage_pu, voltages[worst])
    else:
        assert stats.worst_time_s is None


def _from_sequences(v0: complex, v1: complex, v2: complex) -> tuple[complex, complex, complex]:
    a = FORTESCUE_A
    return v0 + v1 + v2, v0 + a**2 * v1 + a * v2, v0 + a * v1 + a**2 * v2


def test_unbalance_of_a_balanced_set_is_zero() -> None:
    magnitude = np.array([1.0, 0.97, 230.0])
    v_a = magnitude * np.exp(1j * np.array([0.0, 0.3, -1.0]))
    vuf = voltage_unbalance_factor_pct(v_a, v_a * FORTESCUE_A**2, v_a * FORTESCUE_A)
    np.testing.assert_allclose(vuf, 0.0, atol=1e-12)


def test_unbalance_hand_computed() -> None:
    a = FORTESCUE_A
    # Phase C lost: V1 = (1 + a·a²)/3 = 2/3, V2 = (1 + a²·a²)/3 = (1 + a)/3, |1 + a| = 1.
    lost = voltage_unbalance_factor_pct(np.array([1.0]), np.array([a**2]), np.array([0.0]))
    assert lost[0] == pytest.approx(50.0, abs=1e-12)
    # Phase C at 0.9 pu: V1 = 2.9/3, |V2| = 0.1/3.
    sagged = voltage_unbalance_factor_pct(1.0, a**2, 0.9 * a)
    assert float(sagged) == pytest.approx(100 * 0.1 / 2.9, abs=1e-12)


def test_unbalance_of_line_to_line_equals_line_to_neutral_with_zero_sequence() -> None:
    v_a, v_b, v_c = _from_sequences(0.2 * np.exp(0.5j), 1.0, 0.03 * np.exp(-2.0j))
    line_to_neutral = voltage_unbalance_factor_pct(v_a, v_b, v_c)
    line_to_line = voltage_unbalance_factor_pct(v_a - v_b, v_b - v_c, v_c - v_a)
    assert float(line_to_neutral) == pytest.approx(3.0, abs=1e-12)
    assert float(line_to_line) == pytest.approx(3.0, abs=1e-12)
    # The NEMA-style magnitude ratio would see the zero sequence: the magnitudes differ a lot.
    magnitudes = np.abs([v_a, v_b, v_c])
    assert magnitudes.max() - magnitudes.min() > 0.1


@settings(max_examples=80, deadline=None)
@given(
    st.complex_numbers(max_magnitude=2.0, allow_nan=False, allow_infinity=False),
    st.floats(0.5, 2.0),
    st.floats(-np.pi, np.pi),
    st.complex_numbers(max_magnitude=0.4, allow_nan=False, allow_infinity=False),
)
def test_unbalance_is_the_negative_to_positive_ratio(v0, v1_magnitude, v1_angle, v2) -> None:
    v1 = v1_magnitude * np.exp(1j * v1_angle)
    v_a, v_b, v_c = _from_sequences(v0, v1, v2)
    expected = 100 * abs(v2) / abs(v1)
    assert float(voltage_unbalance_factor_pct(v_a, v_b, v_c)) == pytest.approx(
        expected, rel=1e-9, abs=1e-9
    )
    line_to_line = voltage_unbalance_factor_pct(v_a - v_b, v_b - v_c, v_c - v_a)
    assert float(line_to_line) == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_unbalance_undefined_without_positive_sequence() -> None:
    v_a, v_b, v_c = _from_sequences(0.0, 0.0, 1.0)
    assert np.isnan(voltage_unbalance_factor_pct(v_a, v_b, v_c))
    assert np.isnan(voltage_unbalance_factor_pct(0.0, 0.0, 0.0))  # a de-energized bus
    assert np.isnan(voltage_unbalance_factor_pct(NAN, 1.0, 1.0))


def test_unbalance_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match=r"v_a, v_b, v_c: got shapes \(2,\), \(2,\), \(3,\)"):
        voltage_unbalance_factor_pct(np.ones(2), np.ones(2), np.ones(3))


def test_unbalance_agrees_with_opendss_sequence_voltages() -> None:
    """An unbalanced 4-wire LV feeder: VUF from node phasors vs OpenDSS's own |V2|/|V1|."""
    dss.Text.Command("clear")
    for command in (
        "new circuit.vuf basekv=0.4 bus1=src phases=3 pu=1.0 mvasc3=20 mvasc1=20",
        "new linecode.cable nphases=3 r1=0.3 x1=0.08 r0=1.2 x0=0.3 units=km",
        "new line.l1 bus1=src bus2=mid linecode=cable length=300 units=m",
        "new line.l2 bus1=mid bus2=end linecode=cable length=200 units=m",
        "new load.a bus1=mid.1 phases=1 kv=0.23 kw=30 pf=0.95",
        "new load.b bus1=end.2 phases=1 kv=0.23 kw=10 pf=0.95",
        "new load.c bus1=end.3 phases=1 kv=0.23 kw=25 pf=0.9",
        "set voltagebases=[0.4]",
        "calcvoltagebases",
        "solve",
    ):
        dss.Text.Command(command)
    assert dss.Solution.Converged()
    for bus in ("mid", "end"):
        dss.Circuit.SetActiveBus(bus)
        phasors = np.array(dss.Bus.Voltages()).reshape(-1, 2) @ np.array([1.0, 1j])
        v1, v2 = dss.Bus.SeqVoltages()[1:3]
        vuf = float(voltage_unbalance_factor_pct(*phasors[:3]))
        assert vuf == pytest.approx(100 * v2 / v1, rel=1e-6)
        assert vuf > 0.5  # the loads do unbalance the feeder
    dss.Text.Command("clear")


def test_loading_statistics() -> None:
    stats = LoadingStatistics(3, 900.0, limit_pct=100.0)
    stats.update(np.array([80.0, 100.0, 120.0]))  # 100 % is at the limit: complies
    stats.update(np.array([101.0, NAN, 130.0]))
    stats.update(np.array([90.0, 99.0, 95.0]))
    assert stats.n_steps == 3
    np.testing.assert_array_equal(stats.max_pct, [101.0, 100.0, 130.0])
    np.testing.assert_array_equal(stats.steps_over, [1, 0, 2])
    np.testing.assert_array_equal(stats.overload_minutes, [15.0, 0.0, 30.0])
    table = stats.element_table(["l1", "l2", "t1"], ["Line", "line", "transformer"])
    assert table.index.name == "element"
    assert table.columns.tolist() == ["kind", "max_pct", "steps_over", "overload_minutes"]
    assert table["kind"].tolist() == ["line", "line", "transformer"]
    assert table.loc["t1", "overload_minutes"] == 30.0


def test_loading_rejects_bad_input() -> None:
    stats = LoadingStatistics(2, 60.0)
    with pytest.raises(ValueError, match=r"loading_pct: got shape \(3,\)"):
        stats.update(np.ones(3))
    with pytest.raises(ValueError, match="kinds: got 1 values; expected 2"):
        stats.element_table(["l1", "l2"], ["line"])
    with pytest.raises(ValueError, match="limit_pct: got nan"):
        LoadingStatistics(2, 60.0, limit_pct=float("nan"))


def test_count_tap_changes() -> None:
    taps = np.array([[0, 5, -2], [2, 5, -1], [1, 5, -2], [1, 5, 0], [1, 5, 0]])
    # |2| + |-1| = 3; none; 1 + 1 + 2 = 4.
    assert count_tap_changes(taps).tolist() == [3, 0, 4]
    assert count_tap_changes(taps.astype(float)).tolist() == [3, 0, 4]
    assert count_tap_changes(np.array([[3, 7]])).tolist() == [0, 0]


def test_count_tap_changes_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match=r"tap_position: got shape \(3,\)"):
        count_tap_changes(np.array([1, 2, 3]))
    with pytest.raises(ValueError, match=r"got 1\.5 at step 1, regulator 0"):
        count_tap_changes(np.array([[1.0, 0.0], [1.5, 0.0]]))


def test_energy_summary() -> None:
    # 15 min steps: import 100, 40 kW; reverse flow 20 kW while households inject 70 kW.
    summary = energy_summary(
        np.array([100.0, 40.0, -20.0]),
        np.array([4.0, 1.0, 3.0]),
        np.array([0.0, 10.0, 70.0]),
        900.0,
    )
    assert summary == pytest.approx(
        {
            "substation_import_kwh": 35.0,
            "substation_export_kwh": 5.0,
            "peak_import_kw": 100.0,
            "peak_export_kw": 20.0,
            "losses_kwh": 2.0,
            "household_export_kwh": 20.0,
            "supplied_kwh": 55.0,
            "losses_pct": 100 * 2.0 / 55.0,
        },
        abs=1e-12,
    )


def test_energy_summary_without_export_or_supply() -> None:
    summary = energy_summary(np.array([10.0, 0.0]), np.zeros(2), np.zeros(2), 3600.0)
    assert summary["peak_export_kw"] == 0.0
    assert math.copysign(1.0, summary["peak_export_kw"]) == 1.0
    assert summary["substation_export_kwh"] == 0.0
    idle = energy_summary(np.zeros(2), np.zeros(2), np.zeros(2), 60.0)
    assert math.isnan(idle["losses_pct"])


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ((np.ones(2), np.ones(3), np.zeros(2)), r"losses_kw: got shape \(3,\); expected \(2,\)"),
        ((np.ones(2), np.ones(2), np.array([0.0, -1.0])), "household_export_kw: got -1.0"),
        ((np.array([1.0, NAN]), np.ones(2), np.zeros(2)), "substation_power_kw: got nan"),
    ],
)
def test_energy_summary_rejects_bad_input(arrays, message) -> None:
    with pytest.raises(ValueError, match=message):
        energy_summary(*arrays, 60.0)


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(float, st.integers(1, 20), elements=st.floats(-500, 500)))
def test_energy_import_minus_export_is_net_energy(power_kw: np.ndarray) -> None:
    summary = energy_summary(power_kw, np.zeros_like(power_kw), np.zeros_like(power_kw), 900.0)
    net_kwh = power_kw.sum() * 0.25
    assert summary["substation_import_kwh"] - summary["substation_export_kwh"] == pytest.approx(
        net_kwh, abs=1e-9
    )
    assert summary["peak_import_kw"] >= 0 and summary["peak_export_kw"] >= 0
