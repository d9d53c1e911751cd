"""Radial network model: hand-computed LinDistFlow coefficients, merging, ordering and refusals."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tefed.domain.network.radial import BRANCH_COLUMNS, RadialNetwork

#: Line-to-neutral base of a 400 V network [kV]; V_LN² = 160000/3 V².
LV_KV_LN = 0.4 / math.sqrt(3.0)


def branches(*rows: tuple) -> pd.DataFrame:
    """Branch table from (branch, from, to, kind, phases, R, X, base kV, rating) tuples."""
    return pd.DataFrame(list(rows), columns=list(BRANCH_COLUMNS))


def chain() -> pd.DataFrame:
    """s -> a (3-phase, 0.1 + j0.05 ohm, 100 kVA) -> b (1-phase, 0.2 + j0.1 ohm, no rating)."""
    return branches(
        ("Line.sa", "s", "a", "line", 3, 0.1, 0.05, LV_KV_LN, 100.0),
        ("Line.ab", "a", "b", "line", 1, 0.2, 0.1, LV_KV_LN, math.inf),
    )


def test_three_bus_chain_coefficients_by_hand() -> None:
    network = RadialNetwork.from_branches(chain(), "s")
    assert list(network.buses) == ["s", "a", "b"]
    assert network.parent.tolist() == [-1, 0, 1]
    assert network.branch.tolist() == ["Line.sa", "Line.ab"]
    # r = 1000 R / (n V_LN²): 1000 * 0.1 / (3 * 160000/3) = 6.25e-4; 1000 * 0.2 / (160000/3).
    np.testing.assert_allclose(network.resistance_pu2_per_kw, [6.25e-4, 3.75e-3], rtol=1e-12)
    np.testing.assert_allclose(network.reactance_pu2_per_kvar, [3.125e-4, 1.875e-3], rtol=1e-12)
    assert network.rating_kw.tolist() == [100.0, math.inf]
    assert network.source_bus == "s" and network.n_buses == 3


def test_downstream_incidence_turns_injections_into_flows() -> None:
    network = RadialNetwork.from_branches(chain(), "s")
    np.testing.assert_array_equal(network.downstream.toarray(), [[0, 1, 1], [0, 0, 1]])
    # 2 kW at a and 3 kW at b: 5 kW enters a, 3 kW enters b.
    np.testing.assert_allclose(network.downstream @ np.array([0.0, 2.0, 3.0]), [5.0, 3.0])
    # LinDistFlow voltage at b with 1 kW to b only: 1 - 2 (6.25e-4 + 3.75e-3) [pu²].
    drops = network.resistance_pu2_per_kw * (network.downstream @ np.array([0.0, 0.0, 1.0]))
    v_pu2 = 1.0 - 2.0 * (network.downstream.T @ drops)
    np.testing.assert_allclose(v_pu2, [1.0, 1.0 - 1.25e-3, 1.0 - 8.75e-3])


def test_lindistflow_and_bus_positions() -> None:
    network = RadialNetwork.from_branches(chain(), "s")
    # 2 kW + 1 kvar at a, 3 kW at b: P = [5, 3], Q = [1, 0];
    # v_a = 1 - 2 (6.25e-4 * 5 + 3.125e-4 * 1), v_b = v_a - 2 * 3.75e-3 * 3.
    p, q, v_pu2 = network.lindistflow(np.array([0.0, 2.0, 3.0]), np.array([0.0, 1.0, 0.0]), 1.0)
    np.testing.assert_allclose(p, [5.0, 3.0])
    np.testing.assert_allclose(q, [1.0, 0.0])
    v_a = 1 - 2 * (6.25e-4 * 5 + 3.125e-4)
    np.testing.assert_allclose(v_pu2, [1.0, v_a, v_a - 2 * 3.75e-3 * 3], rtol=0, atol=1e-15)
    assert network.bus_positions(pd.Series({"x": "b", "y": "s"})).tolist() == [2, 0]
    with pytest.raises(ValueError, match=r"got bus\(es\) \{'y': 'q'\} not in the network"):
        network.bus_positions(pd.Series({"x": "b", "y": "q"}))


def test_buses_come_parent_before_child_whatever_the_row_order_and_direction() -> None:
    table = branches(
        ("Line.cd", "d", "c", "line", 3, 0.1, 0.1, LV_KV_LN, 50.0),  # written upstream-first
        ("Line.ab", "a", "b", "line", 3, 0.1, 0.1, LV_KV_LN, 50.0),
        ("Line.bc", "b", "c", "line", 3, 0.1, 0.1, LV_KV_LN, 50.0),
        ("Line.sa", "s", "a", "line", 3, 0.1, 0.1, LV_KV_LN, 50.0),
    )
    network = RadialNetwork.from_branches(table, "s")
    assert list(network.buses) == ["s", "a", "b", "c", "d"]
    assert network.branch.tolist() == ["Line.sa", "Line.ab", "Line.bc", "Line.cd"]
    parent = network.parent
    assert all(parent[j] < j for j in range(1, network.n_buses))


def test_parallel_single_phase_regulators_merge_into_one_three_phase_branch() -> None:
    table = branches(
        ("Transformer.sub", "s", "m", "transformer", 3, 0.01, 0.02, 2.4, 5000.0),
        ("Transformer.reg1", "m", "r", "regulator", 1, 0.3, 0.6, 2.4, 1666.0),
        ("Transformer.reg2", "m", "r", "regulator", 1, 0.5, 0.6, 2.4, 1666.0),
        ("Transformer.reg3", "r", "m", "regulator", 1, 0.4, 0.9, 2.4, 1666.0),  # reversed
    )
    network = RadialNetwork.from_branches(table, "s")
    assert list(network.buses) == ["s", "m", "r"]
    assert network.branch[1] == "Transformer.reg1+Transformer.reg2+Transformer.reg3"
    assert network.kind[1] == "regulator"
    assert network.rating_kw[1] == pytest.approx(3 * 1666.0)
    # Mean per-phase impedance 0.4 + j0.7 ohm over 3 phases at 2400 V.
    assert network.resistance_pu2_per_kw[1] == pytest.approx(1000 * 0.4 / (3 * 2400.0**2))
    assert network.reactance_pu2_per_kvar[1] == pytest.approx(1000 * 0.7 / (3 * 2400.0**2))


def test_two_identical_parallel_cables_halve_the_coefficient() -> None:
    table = branches(
        ("Line.one", "s", "a", "line", 3, 0.1, 0.05, LV_KV_LN, 100.0),
        ("Line.two", "s", "a", "line", 3, 0.1, 0.05, LV_KV_LN, 100.0),
    )
    network = RadialNetwork.from_branches(table, "s")
    assert network.resistance_pu2_per_kw[0] == pytest.approx(6.25e-4 / 2)
    assert network.rating_kw[0] == 200.0


def test_mesh_is_refused_naming_the_branch_that_closes_the_loop() -> None:
    table = pd.concat(
        [chain(), branches(("Line.bs", "b", "s", "line", 3, 0.1, 0.1, LV_KV_LN, 10.0))]
    )
    with pytest.raises(ValueError, match=r"meshed.*Line\.(ab|bs)"):
        RadialNetwork.from_branches(table, "s")


def test_unreachable_buses_are_listed() -> None:
    table = pd.concat(
        [chain(), branches(("Line.xy", "x", "y", "line", 3, 0.1, 0.1, LV_KV_LN, 10.0))]
    )
    with pytest.raises(ValueError, match=r"not reachable.*\['x', 'y'\]"):
        RadialNetwork.from_branches(table, "s")


def test_unknown_source_is_refused() -> None:
    with pytest.raises(ValueError, match="source_bus: got 'nowhere'"):
        RadialNetwork.from_branches(chain(), "nowhere")


def test_source_alone_is_a_one_bus_network() -> None:
    network = RadialNetwork.from_branches(chain().iloc[:0], "s")
    assert list(network.buses) == ["s"]
    assert network.downstream.shape == (0, 1)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("phases", 0, r"branches\.phases: got 0 for branch 'Line\.sa', expected an integer >= 1"),
        ("phases", 1.5, "phases: got 1.5"),
        ("resistance_ohm", -0.1, r"resistance_ohm: got -0\.1 .* expected finite and >= 0"),
        ("reactance_ohm", math.nan, "reactance_ohm: got nan"),
        ("base_kv_ln", 0.0, r"base_kv_ln: got 0\.0 .* voltage bases"),
        ("rating_kva", 0.0, r"rating_kva: got 0\.0 .* expected > 0"),
        ("kind", "switch", "kind: got 'switch'"),
        ("to_bus", "s", "to_bus: got 's' .* other than from_bus"),
        ("from_bus", "", "from_bus: got ''"),
    ],
)
def test_bad_values_are_refused_naming_field_value_and_expectation(
    column: str, value: object, message: str
) -> None:
    table = chain().astype({column: object})
    table.loc[0, column] = value
    with pytest.raises(ValueError, match=message):
        RadialNetwork.from_branches(table, "s")


def test_missing_column_and_duplicate_names_are_refused() -> None:
    with pytest.raises(ValueError, match=r"missing column\(s\) \['rating_kva'\]"):
        RadialNetwork.from_branches(chain().drop(columns="rating_kva"), "s")
    with pytest.raises(ValueError, match=r"branch: got 'Line\.sa' .* unique"):
        RadialNetwork.from_branches(chain().assign(branch="Line.sa"), "s")
