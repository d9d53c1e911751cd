"""Branch extraction from OpenDSS: the IEEE 13-node feeder and a project-generated LV feeder.

The IEEE feeder comes from ``../shared/feeders`` beside the repository; without it those tests are
skipped with that reason. The generated feeder needs nothing outside the repository.
"""

from __future__ import annotations

import math
from pathlib import Path

import opendssdirect as dss
import pytest

from tefed.contract.role_configs import GeneratedFeederConfig
from tefed.domain.network.radial import RadialNetwork
from tefed.io.opendss.feeder_loader import load_feeder
from tefed.io.opendss.model import compile_feeder
from tefed.io.opendss.network_extraction import BRANCH_COLUMNS, network_branches, network_source

IEEE13 = Path(__file__).resolve().parents[3] / "shared/feeders/13Bus/IEEE13Nodeckt.dss"
needs_ieee13 = pytest.mark.skipif(
    not IEEE13.is_file(), reason=f"IEEE 13-node feeder not found at {IEEE13}"
)
FEET_PER_MILE = 5280.0
#: 4.16 kV line-to-neutral base [kV].
IEEE13_KV_LN = 4.16 / math.sqrt(3.0)


def row(table, branch: str):
    return table.set_index("branch").loc[branch]


@needs_ieee13
def test_ieee13_branches_and_source() -> None:
    compile_feeder(master_path=IEEE13)
    table = network_branches()
    assert list(table.columns) == list(BRANCH_COLUMNS)
    # 11 lines + the closed switch 671-692, substation, 3 regulators and XFM-1.
    assert len(table) == 17
    assert network_source() == ("sourcebus", 1.0001)
    kinds = table.set_index("branch")["kind"]
    assert kinds["Transformer.reg2"] == "regulator" and kinds["Transformer.xfm1"] == "transformer"
    assert set(table["from_bus"]) | set(table["to_bus"]) == set(dss.Circuit.AllBusNames())


@needs_ieee13
def test_ieee13_three_phase_line_by_hand() -> None:
    compile_feeder(master_path=IEEE13)
    line = row(network_branches(), "Line.650632")
    assert (line.from_bus, line.to_bus, line.phases) == ("rg60", "632", 3)
    # mtx601 [ohm/mi]: R self mean (0.3465 + 0.3375 + 0.3414) / 3 = 0.3418, mutual mean
    # (0.1560 + 0.1580 + 0.1535) / 3 = 0.155833; X 1.0335 and 0.436733; 2000 ft.
    miles = 2000.0 / FEET_PER_MILE
    assert line.resistance_ohm == pytest.approx((0.3418 - 0.4675 / 3) * miles, rel=1e-9)
    assert line.reactance_ohm == pytest.approx((1.0335 - 1.3102 / 3) * miles, rel=1e-9)
    assert line.base_kv_ln == pytest.approx(IEEE13_KV_LN, rel=1e-9)
    # 400 A (OpenDSS default NormAmps) x 3 x 2.40178 kV = 2882.13 kVA.
    assert line.rating_kva == pytest.approx(400.0 * 3 * IEEE13_KV_LN, rel=1e-9)


@needs_ieee13
def test_ieee13_single_phase_line_and_transformer_by_hand() -> None:
    compile_feeder(master_path=IEEE13)
    table = network_branches()
    lateral = row(table, "Line.684652")  # mtx607: 1.3425 + j0.5124 ohm/mi, 800 ft
    assert lateral.phases == 1
    assert lateral.resistance_ohm == pytest.approx(1.3425 * 800 / FEET_PER_MILE, rel=1e-9)
    assert lateral.reactance_ohm == pytest.approx(0.5124 * 800 / FEET_PER_MILE, rel=1e-9)
    assert lateral.rating_kva == pytest.approx(400.0 * IEEE13_KV_LN, rel=1e-9)
    xfm = row(table, "Transformer.xfm1")  # 500 kVA, 4.16/0.48 kV, %R 0.55 + 0.55, XHL 2 %
    base_ohm = 0.48**2 * 1000 / 500  # 0.4608 ohm on the 480 V side
    assert xfm.resistance_ohm == pytest.approx(0.011 * base_ohm, rel=1e-9)
    assert xfm.reactance_ohm == pytest.approx(0.02 * base_ohm, rel=1e-9)
    assert (xfm.to_bus, xfm.rating_kva) == ("634", 500.0)
    assert xfm.base_kv_ln == pytest.approx(0.48 / math.sqrt(3.0), rel=1e-9)


@needs_ieee13
def test_ieee13_radial_tree_merges_the_regulator_bank() -> None:
    compile_feeder(master_path=IEEE13)
    network = RadialNetwork.from_branches(network_branches(), network_source()[0])
    assert network.n_buses == 16 and network.buses[0] == "sourcebus"
    position = {bus: i for i, bus in enumerate(network.buses)}
    regulator = position["rg60"] - 1
    assert network.branch[regulator] == "Transformer.reg1+Transformer.reg2+Transformer.reg3"
    assert network.rating_kw[regulator] == pytest.approx(3 * 1666.0)
    assert network.buses[network.parent[position["652"]]] == "684"


@needs_ieee13
def test_ieee13_open_switch_and_disabled_line_leave_the_table() -> None:
    compile_feeder(master_path=IEEE13, commands=["Open Line.671692 1", "Line.645646.enabled=no"])
    table = network_branches()
    assert "Line.671692" not in set(table["branch"])
    assert "Line.645646" not in set(table["branch"])
    assert "646" not in set(table["to_bus"])  # no enabled branch reaches it any more
    with pytest.raises(ValueError, match=r"not reachable.*\['692', '675'\]"):
        RadialNetwork.from_branches(table, "sourcebus")


def generated(households: int) -> None:
    load_feeder(
        GeneratedFeederConfig(
            source="generated",
            generator="radial_lv",
            seed=0,
            design={
                "n_households": households,
                "laterals": 3,
                "transformer_kva": 100.0,
                "service_length_m": [10.0, 30.0],
            },
        )
    )


def test_generated_feeder_bus_count_and_tree() -> None:
    generated(12)
    table = network_branches()
    network = RadialNetwork.from_branches(table, network_source()[0])
    # mv, t1_mv, t1_lv, 3 laterals x 2 cabinets (2 households each) and 12 houses.
    assert network.n_buses == 3 + 6 + 12 == len(dss.Circuit.AllBusNames())
    assert network.source_bus == "mv"
    assert sum(bus.startswith("house_") for bus in network.buses) == 12
    assert (table["kind"] == "transformer").sum() == 1


def test_generated_feeder_cable_and_transformer_by_hand() -> None:
    generated(12)
    table = network_branches()
    cable = row(table, "Line.t1_l1_n1")  # NAYY 4x150 SE: 0.208 + j0.080 ohm/km, 270 A, 35 m
    assert (cable.from_bus, cable.to_bus, cable.phases) == ("t1_lv", "t1_l1_n1", 3)
    assert cable.resistance_ohm == pytest.approx(0.208 * 0.035, rel=1e-9)
    assert cable.reactance_ohm == pytest.approx(0.080 * 0.035, rel=1e-9)
    assert cable.rating_kva == pytest.approx(270.0 * 3 * 0.4 / math.sqrt(3.0), rel=1e-9)
    service = row(table, "Line.service_00000")  # single core + neutral loop: 2 x 0.642 ohm/km
    assert service.phases == 1
    assert service.resistance_ohm / service.reactance_ohm == pytest.approx(0.642 / 0.083)
    transformer = row(table, "Transformer.t1")  # 100 kVA 20/0.4 kV: 1.44 % R, 5.8246 % X
    base_ohm = 0.4**2 * 1000 / 100.0
    assert transformer.resistance_ohm == pytest.approx(0.0144 * base_ohm, rel=1e-6)
    assert transformer.reactance_ohm == pytest.approx(
        math.sqrt(6.0**2 - 1.44**2) / 100 * base_ohm, rel=1e-4
    )
    assert transformer.rating_kva == 100.0


def test_no_rating_means_infinite_rating() -> None:
    compile_feeder(
        script_text="\n".join(
            [
                "New Circuit.demo bus1=s basekv=0.4 pu=1.0",
                "New Line.a bus1=s bus2=b phases=1 r1=0.1 x1=0.05 units=km length=1 normamps=0",
                "Set VoltageBases=[0.4]",
                "CalcVoltageBases",
            ]
        )
    )
    line = network_branches().iloc[0]
    assert line.rating_kva == math.inf
    assert (line.from_bus, line.to_bus, line.phases) == ("s", "b", 1)


def test_a_separate_engine_leaves_the_process_circuit_alone() -> None:
    generated(12)
    context = dss.NewContext()
    for command in (
        "New Circuit.other bus1=x basekv=0.4 pu=0.98",
        "New Line.xy bus1=x bus2=y phases=3 r1=0.2 x1=0.1 units=km length=0.25 normamps=50",
        "Set VoltageBases=[0.4]",
        "CalcVoltageBases",
    ):
        context.Text.Command(command)
    table = network_branches(context)
    assert table["branch"].tolist() == ["Line.xy"]
    assert table.loc[0, "resistance_ohm"] == pytest.approx(0.05)
    assert network_source(context) == ("x", 0.98)
    assert network_source() == ("mv", 1.0)  # the generated feeder is still compiled
    assert len(network_branches()) == len(dss.Circuit.AllBusNames()) - 1
