"""Grid KPIs on hand-built tables: PCC peaks and losses, violation and overload minutes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tefed.analysis.grid_kpis import (
    grid_summary,
    loading_summary,
    node_voltage_summary,
    unbalance_summary,
    voltage_summary,
)


def test_pcc_peaks_and_losses_from_the_grid_table() -> None:
    # Three 15 min steps: import 40 kW, export 10 kW (households inject 30 kW), import 20 kW.
    grid = pd.DataFrame(
        {
            "time_s": [0, 900, 1800],
            "converged": [True, True, True],
            "substation_power_kw": [40.0, -10.0, 20.0],
            "losses_kw": [2.0, 1.0, 1.0],
            "household_export_kw": [0.0, 30.0, 0.0],
            "max_unbalance_pct": [0.1, 0.2, 0.1],
        }
    )
    nodes = pd.DataFrame(
        {
            "node": ["a.1"],
            "bus": ["a"],
            "min_pu": [1.0],
            "max_pu": [1.0],
            **{f"steps_{k}": [0] for k in ("below", "above", "above_upper_limit")},
            **{f"minutes_{k}": [0.0] for k in ("below", "above", "above_upper_limit")},
        }
    )
    elements = pd.DataFrame(
        {"element": ["Line.a"], "kind": ["line"], "max_pct": [10.0], "overload_minutes": [0.0]}
    )
    unbalance = pd.DataFrame({"bus": ["a"], "max_unbalance_pct": [0.2]})
    taps = pd.DataFrame({"time_s": [0, 900, 1800]})
    pcc = grid_summary(grid, nodes, elements, unbalance, taps, 900.0)["pcc"]
    # Import (40 + 20) kW x 0.25 h = 15 kWh; export 2.5 kWh; losses 1 kWh of 15 + 7.5 supplied.
    assert pcc["substation_import_kwh"] == pytest.approx(15.0, abs=1e-12)
    assert pcc["substation_export_kwh"] == pytest.approx(2.5, abs=1e-12)
    assert (pcc["peak_import_kw"], pcc["peak_export_kw"]) == (40.0, 10.0)
    assert pcc["losses_kwh"] == pytest.approx(1.0, abs=1e-12)
    assert pcc["losses_pct"] == pytest.approx(100.0 / 22.5, abs=1e-12)


def _nodes() -> pd.DataFrame:
    """Three nodes on two buses over 15 min steps: a.1 low twice, a.2 and b.1 high."""
    return pd.DataFrame(
        {
            "node": ["a.1", "a.2", "b.1"],
            "bus": ["a", "a", "b"],
            "min_pu": [0.93, 0.99, 1.0],
            "max_pu": [1.0, 1.06, 1.045],
            "steps_below": [2, 0, 0],
            "steps_above": [0, 1, 0],
            "steps_above_upper_limit": [0, 1, 3],
            "minutes_below": [30.0, 0.0, 0.0],
            "minutes_above": [0.0, 15.0, 0.0],
            "minutes_above_upper_limit": [0.0, 15.0, 45.0],
        }
    )


def test_node_voltage_violations_count_minutes_worst_and_buses() -> None:
    found = node_voltage_summary(_nodes())
    assert (found["voltage_min_pu"], found["lowest_node"]) == (0.93, "a.1")
    assert (found["voltage_max_pu"], found["highest_node"]) == (1.06, "a.2")
    assert (found["node_steps_below"], found["node_minutes_below"]) == (2, 30.0)
    assert (found["node_steps_above"], found["node_minutes_above"]) == (1, 15.0)
    assert found["node_minutes_above_upper_limit"] == 60.0
    assert (found["buses_below_count"], found["buses_above_upper_limit_count"]) == (1, 2)
    # Bus a: 30 min below on a.1 and 15 min above on a.2.
    assert found["buses_outside_range"] == {"a": 45.0}
    assert found["buses_above_upper_limit"] == {"b": 45.0, "a": 15.0}


def test_node_voltage_summary_names_only_the_worst_buses() -> None:
    assert node_voltage_summary(_nodes(), worst_listed=1)["buses_above_upper_limit"] == {"b": 45.0}


def test_overload_minutes_steps_and_worst_loading() -> None:
    elements = pd.DataFrame(
        {
            "element": ["Line.a", "Line.b", "Transformer.t"],
            "kind": ["line", "line", "transformer"],
            "max_pct": [130.0, 105.0, 90.0],
            "steps_over": [3, 1, 0],
            "overload_minutes": [3.0, 1.0, 0.0],
        }
    )
    found = loading_summary(elements)
    assert (found["max_line_loading_pct"], found["most_loaded_line"]) == (130.0, "Line.a")
    assert (found["line_overload_minutes"], found["line_overload_steps"]) == (4.0, 4)
    assert found["lines_overloaded"] == 2
    assert (found["max_transformer_loading_pct"], found["transformers_overloaded"]) == (90.0, 0)
    assert list(found["most_loaded"]) == ["Line.a", "Line.b", "Transformer.t"]


def test_loading_summary_without_transformers() -> None:
    elements = pd.DataFrame(
        {"element": ["Line.a"], "kind": ["line"], "max_pct": [50.0], "overload_minutes": [0.0]}
    )
    found = loading_summary(elements)
    assert found["max_transformer_loading_pct"] is None
    assert found["transformer_overload_minutes"] == 0.0


def test_unbalance_minutes_above_the_limit() -> None:
    unbalance = pd.DataFrame({"bus": ["a", "b"], "max_unbalance_pct": [2.6, 1.0]})
    per_step = pd.Series([1.0, 2.6, np.nan, 2.0, 2.1])
    found = unbalance_summary(unbalance, per_step, 60.0)
    # 2.6 and 2.1 exceed 2 %; 2.0 is on the limit and complies; NaN (not solved) does not count.
    assert found == {
        "three_phase_buses": 2,
        "max_unbalance_pct": 2.6,
        "bus": "a",
        "limit_pct": 2.0,
        "minutes_above_limit": 2.0,
    }


def test_unbalance_without_three_phase_buses() -> None:
    found = unbalance_summary(
        pd.DataFrame({"bus": pd.Series([], dtype=object), "max_unbalance_pct": []}),
        pd.Series([np.nan, np.nan]),
        60.0,
    )
    assert found["three_phase_buses"] == 0
    assert found["max_unbalance_pct"] is None and found["minutes_above_limit"] is None


def test_household_voltage_violations_against_both_bands() -> None:
    voltages = pd.DataFrame(
        {
            "time_s": [0, 300, 600] * 2,
            "household_id": ["h1"] * 3 + ["h2"] * 3,
            "voltage_pu": [0.94, 1.0, 1.06, 1.0, 1.045, np.nan],
        }
    )
    found = voltage_summary(voltages, 300.0, range_pu=(0.9, 1.1), upper_limit_pu=1.04)
    # Nothing outside 0.9-1.1; ANSI range A still counts 0.94 and 1.06 (5 min each).
    assert found["outside_range_household_minutes"] == 0.0
    assert found["outside_ansi_range_a_household_steps"] == 2
    assert found["outside_ansi_range_a_household_minutes"] == 10.0
    assert found["above_upper_limit_household_minutes"] == 10.0
    assert found["households_above_upper_limit"] == ["h1", "h2"]
    assert found["lowest"] == {"household_id": "h1", "time_s": 0}
    assert found["highest"] == {"household_id": "h1", "time_s": 600}


def test_household_minutes_outside_the_range_per_household() -> None:
    voltages = pd.DataFrame(
        {
            "time_s": [0, 60, 120] * 2,
            "household_id": ["h1"] * 3 + ["h2"] * 3,
            "voltage_pu": [0.94, 0.94, 1.0, 1.06, 1.0, 1.0],
        }
    )
    found = voltage_summary(voltages, 60.0)
    assert found["below_range_household_minutes"] == 2.0
    assert found["above_range_household_minutes"] == 1.0
    assert found["household_minutes_outside_range"] == {"h1": 2.0, "h2": 1.0}


@given(
    st.lists(st.floats(0.8, 1.2, allow_nan=False), min_size=1, max_size=40),
    st.sampled_from([30.0, 60.0, 900.0]),
)
def test_voltage_minutes_split_into_below_and_above(values: list[float], step_s: float) -> None:
    voltages = pd.DataFrame(
        {"time_s": np.arange(len(values)) * 60, "household_id": "h", "voltage_pu": values}
    )
    found = voltage_summary(voltages, step_s)
    assert found["outside_range_household_minutes"] == pytest.approx(
        found["below_range_household_minutes"] + found["above_range_household_minutes"]
    )
    expected = sum(v < 0.95 or v > 1.05 for v in values) * step_s / 60.0
    assert found["outside_range_household_minutes"] == pytest.approx(expected)
