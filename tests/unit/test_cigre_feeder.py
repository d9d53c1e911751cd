"""The CIGRE LV residential sub-network generator: carried figures, topology, impedances and a
power flow checked by hand."""

from __future__ import annotations

import cmath
import math

import numpy as np
import opendssdirect as dss
import pandas as pd
import pytest

from tefed.io.feeders.cigre_residential import (
    LINE_TYPES,
    LINES,
    PUBLISHED_LOADS,
    CigreResidentialDesign,
    generate_cigre_residential_feeder,
)
from tefed.io.opendss.model import compile_feeder
from tests.federations import SHARED

CIGRE_DATA = SHARED / "data" / "cigre_lv_residential"
TB1_NODES = tuple(f"R{number}" for number in range(5, 15))


def _solve(design: CigreResidentialDesign, loads: list[str]) -> dict[str, float]:
    """Compile, add ``loads`` (OpenDSS commands), solve; node voltages [pu] by node name."""
    compile_feeder(script_text=generate_cigre_residential_feeder(design).dss_text)
    for command in loads:
        dss.Text.Command(command)
    dss.Text.Command("Set Tolerance=1e-10")
    dss.Solution.Solve()
    assert dss.Solution.Converged()
    return dict(zip(dss.Circuit.AllNodeNames(), dss.Circuit.AllBusMagPu(), strict=True))


@pytest.mark.skipif(not CIGRE_DATA.is_dir(), reason="needs ../shared/data/cigre_lv_residential")
def test_the_carried_figures_equal_the_published_files() -> None:
    lines = pd.read_csv(CIGRE_DATA / "lines.csv")
    carried = pd.DataFrame(LINES, columns=["line", "from_bus", "to_bus", "length_m", "line_type"])
    pd.testing.assert_frame_equal(carried, lines, check_dtype=False)
    types = pd.read_csv(CIGRE_DATA / "line_types.csv").set_index("line_type")
    assert sorted(types.index) == sorted(LINE_TYPES)
    for name, kind in LINE_TYPES.items():
        assert (kind.r_ohm_per_km, kind.x_ohm_per_km, kind.construction) == tuple(
            types.loc[name, ["r_ohm_per_km", "x_ohm_per_km", "construction"]]
        )
    loads = pd.read_csv(CIGRE_DATA / "loads.csv")
    carried_loads = pd.DataFrame(PUBLISHED_LOADS, columns=["bus", "p_kw", "q_kvar"])
    pd.testing.assert_frame_equal(carried_loads, loads, check_dtype=False)
    readme = (CIGRE_DATA / "README.md").read_text()
    for fact in ("20 kV", "100 MVA", "R/X = 1", "500 kVA", "4.123106 %", "ur = 1.0 %"):
        assert fact in readme


def test_topology_is_the_radial_tree_r0_to_r18() -> None:
    _solve(CigreResidentialDesign(n_households=1), [])
    assert sorted(dss.Circuit.AllBusNames(), key=lambda bus: int(bus[1:])) == [
        f"r{number}" for number in range(19)
    ]
    assert len(dss.Lines.AllNames()) == 17
    # Every LV node but the busbar is fed by exactly one line: a radial tree.
    fed = [end for _, _, end, _, _ in LINES]
    assert sorted(fed, key=lambda node: int(node[1:])) == [f"R{n}" for n in range(2, 19)]


def test_line_impedances_and_transformer_are_the_published_ones() -> None:
    _solve(CigreResidentialDesign(n_households=1), [])
    dss.Lines.Name("r3-r11")
    # 30 m of UG3: 0.822 ohm/km * 0.03 km = 0.02466 ohm positive sequence, Z0 = 4 Z1.
    assert dss.Lines.Length() * dss.Lines.R1() == pytest.approx(0.822 * 0.030, rel=1e-9)
    assert dss.Lines.Length() * dss.Lines.X1() == pytest.approx(0.0847 * 0.030, rel=1e-9)
    assert dss.Lines.R0() == pytest.approx(4 * dss.Lines.R1())
    dss.Lines.Name("r9-r10")
    assert dss.Lines.Length() * dss.Lines.R1() == pytest.approx(0.162 * 0.035, rel=1e-9)
    dss.Transformers.Name("t1")
    # uk = 4.123106 %, ur = 1 %: XHL = sqrt(4.123106^2 - 1) = 4.0 %.
    assert dss.Transformers.Xhl() == pytest.approx(4.0, abs=1e-5)
    assert dss.Transformers.kVA() == 500.0
    assert dss.Transformers.R() == pytest.approx(0.5)  # per winding: half of 1 %


def test_households_sit_on_their_nodes_with_cable_distances() -> None:
    feeder = generate_cigre_residential_feeder(
        CigreResidentialDesign(n_households=10, household_nodes=TB1_NODES)
    )
    table = feeder.households
    assert table.bus.tolist() == [node.lower() for node in TB1_NODES]
    assert (table.connection == "three_phase").all()
    # R5-R10 along the main cable (4 ... 9 spans of 35 m); R11 two spans and 30 m; R14: three
    # spans to R4, then R4-R12-R13-R14 (3 x 35 m).
    assert table.distance_m.tolist() == [140, 175, 210, 245, 280, 315, 100, 140, 175, 210]
    single = generate_cigre_residential_feeder(
        CigreResidentialDesign(n_households=4, connection="single_phase")
    ).households
    assert single.phase.tolist() == [1, 2, 3, 1]
    assert (single.connection == "ln").all()
    assert single.bus.tolist() == ["r2", "r3", "r4", "r5"]


def test_a_balanced_load_at_r10_drops_the_voltage_as_computed_by_hand() -> None:
    """One 60 kW, 20 kvar balanced load at R10: the series path source - transformer - nine
    spans of UG1, solved per phase in closed form on the LV side."""
    p_kw, q_kvar = 60.0, 20.0
    voltages = _solve(
        CigreResidentialDesign(n_households=1),
        [f"New Load.x bus1=r10 phases=3 kV=0.4 kW={p_kw} kvar={q_kvar} model=1 vminpu=0.5"],
    )
    base_v = 400.0 / math.sqrt(3.0)
    source_z = 0.4**2 / 100.0 * complex(1.0, 1.0) / math.sqrt(2.0)  # 100 MVA, R/X = 1
    transformer_z = 0.4**2 / 0.5 * complex(0.01, 0.04)  # ur 1 %, ux 4 % on 500 kVA
    span_z = 0.035 * complex(0.162, 0.0832)  # one 35 m span of UG1
    path_z = source_z + transformer_z + 9 * span_z
    per_phase_va = complex(p_kw, q_kvar) * 1e3 / 3.0
    voltage = complex(base_v, 0.0)
    for _ in range(50):  # fixed point of V = V0 - Z conj(S / V)
        current = (per_phase_va / voltage).conjugate()
        voltage = base_v - path_z * current
    assert voltages["r10.1"] == pytest.approx(abs(voltage) / base_v, abs=1e-6)
    # Halfway, at R5, the current has crossed four spans fewer.
    at_r5 = base_v - (source_z + transformer_z + 4 * span_z) * current
    assert voltages["r5.2"] == pytest.approx(abs(at_r5) / base_v, abs=1e-6)
    assert cmath.isfinite(voltage)


def test_published_loads_are_built_only_when_asked_for() -> None:
    without = _solve(CigreResidentialDesign(n_households=1), [])
    assert np.allclose(list(without.values()), 1.0, atol=1e-9)
    with_loads = _solve(CigreResidentialDesign(n_households=1, published_loads=True), [])
    assert dss.Loads.Count() == len(PUBLISHED_LOADS)
    total_kw = -dss.Circuit.TotalPower()[0]
    assert total_kw > sum(p_kw for _, p_kw, _ in PUBLISHED_LOADS)  # plus the losses
    # The far end of the feeder sags most under the benchmark's peak loads.
    assert min(with_loads, key=with_loads.get).split(".")[0] in {"r15", "r18"}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"n_households": 2, "household_nodes": ("R5",)}, "lists 1 nodes; expected one per"),
        ({"n_households": 1, "household_nodes": ("R19",)}, "names 'R19'; expected nodes R1"),
        ({"n_households": 1, "connection": "delta"}, "connection is 'delta'"),
        ({"n_households": 0}, "n_households is 0"),
    ],
)
def test_a_bad_design_is_refused_naming_the_field(fields: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CigreResidentialDesign(**fields)
