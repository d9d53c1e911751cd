"""Tests of the European LV feeder generator, in text and solved in OpenDSS."""

from __future__ import annotations

import math
import re
from dataclasses import replace

import numpy as np
import opendssdirect as dss
import pandas as pd
import pytest

from tefed.io.feeders.generator import (
    CABLE_TYPES,
    MV_CABLE_TYPES,
    GeneratedFeeder,
    LvFeederDesign,
    generate_lv_feeder,
)


def _solve(feeder: GeneratedFeeder, load_power_kw: float) -> pd.Series:
    """Compile the feeder, put ``load_power_kw`` on every household, solve; voltages [pu]."""
    households = feeder.households
    nodes = households.bus + "." + households.phase.astype(str)
    load = f" phases=1 kV={feeder.lv_base_kv_ln} kW={load_power_kw} pf=1 model=1 vminpu=0.7"
    loads = "New Load.h" + households.index.astype(str) + " bus1=" + nodes + load + " vmaxpu=1.3"
    dss.Text.Commands(feeder.dss_text + "\n".join(loads))
    # A tight tolerance so that power balance and small voltage differences are exact enough.
    dss.Text.Commands("Set Tolerance=1e-10\nSet MaxIterations=100")
    dss.Solution.Solve()
    assert dss.Solution.Converged()
    return pd.Series(pd.Series(_node_voltages_pu())[nodes].to_numpy(), index=households.index)


def _node_voltages_pu() -> dict[str, float]:
    return dict(zip(dss.Circuit.AllNodeNames(), dss.Circuit.AllBusMagPu(), strict=True))


def _line_lengths_m(text: str) -> dict[str, float]:
    return {n: float(m) for n, m in re.findall(r"New Line\.(\S+) .*length=(\S+) units=m", text)}


def _phase_spread(phase: pd.Series) -> int:
    """Largest minus smallest number of households on one of the three phases."""
    return int(np.ptp(np.bincount(phase, minlength=4)[1:]))


# --- structure --------------------------------------------------------------------------------


def test_hand_computed_layout_of_ten_households_two_per_cabinet() -> None:
    design = LvFeederDesign(n_households=10, laterals=2, service_length_m=(20.0, 20.0))
    feeder = generate_lv_feeder(design, seed=0)
    households = feeder.households
    assert households.index.tolist() == list(range(10))
    assert households.bus.tolist() == [f"house_0000{i}" for i in range(10)]
    assert (set(households.connection), set(households.transformer)) == ({"ln"}, {"t1"})
    # Lateral 1 takes households 0, 2, 4, 6, 8 and lateral 2 takes 1, 3, 5, 7, 9; the k-th
    # household of a lateral (k = 0 .. 4) is at cabinet k // 2 + 1 = 1, 1, 2, 2, 3, 35 m apart.
    assert households.lateral.tolist() == [1, 2] * 5
    assert households.distance_m.tolist() == pytest.approx([55.0] * 4 + [90.0] * 4 + [125.0] * 2)
    # Walk: lateral 1 (0, 2, 4, 6, 8) takes phases 1, 2, 3, 1, 2, lateral 2 (1, 3, 5, 7, 9) 3, 1,
    # 2, 3, 1: the two households of a cabinet are on different phases.
    assert households.phase.tolist() == [1, 3, 2, 1, 3, 2, 1, 3, 2, 1]
    assert (feeder.source_bus, feeder.frequency_hz) == ("mv", 50.0)
    assert feeder.lv_base_kv_ln == pytest.approx(0.4 / math.sqrt(3.0))
    assert feeder.transformers.iloc[0].tolist() == ["t1", "t1_mv", "t1_lv", 1, 250.0, 250.0, 10]
    text = feeder.dss_text
    assert "New Line.t1_mv bus1=mv bus2=t1_mv phases=3 " in text
    assert "New Transformer.t1 phases=3 windings=2 buses=[t1_mv, t1_lv] " in text
    assert "New Line.t1_l2_n1 bus1=t1_lv bus2=t1_l2_n1 " in text
    assert "New Line.t1_l1_n3 bus1=t1_l1_n2 bus2=t1_l1_n3 " in text
    assert "t1_l1_n4" not in text
    # Households 4 and 6 share cabinet 2 of lateral 1, on phases 3 and 1.
    assert "New Line.service_00004 bus1=t1_l1_n2.3 bus2=house_00004.3 phases=1 linecode=" in text
    assert "New Line.service_00006 bus1=t1_l1_n2.1 bus2=house_00006.1 phases=1 " in text
    assert text.count("New Line.") == 1 + 6 + 10  # one MV cable, 2 x 3 cabinets, 10 drops


def test_hand_computed_layout_of_four_households_one_per_cabinet() -> None:
    design = LvFeederDesign(4, 2, service_length_m=(20.0, 20.0), households_per_node=1)
    feeder = generate_lv_feeder(design, seed=0)
    # Lateral 1 holds households 0, 2 and lateral 2 holds 1, 3, at cabinets 1 and 2 (35 m and
    # 70 m, plus a 20 m drop); walking lateral 1 outwards, then lateral 2, gives phases 1, 2, 3, 1.
    assert feeder.households.phase.tolist() == [1, 3, 2, 1]
    assert feeder.households.distance_m.tolist() == pytest.approx([55.0, 55.0, 90.0, 90.0])
    assert "New Line.t1_l1_n2 bus1=t1_l1_n1 bus2=t1_l1_n2 " in feeder.dss_text
    assert "New Line.service_00003 bus1=t1_l2_n2.1 bus2=house_00003.1 phases=1 " in feeder.dss_text


def test_hand_computed_layout_of_seven_households_on_two_transformers() -> None:
    design = LvFeederDesign(
        n_households=7, laterals=2, transformers=2, transformers_per_mv_branch=1, mv_spacing_m=300.0
    )
    feeder = generate_lv_feeder(design, seed=0)
    households = feeder.households
    # divmod(7, 2) = (3, 1): t1 takes households 0-3, t2 takes 4-6.
    assert households.transformer.tolist() == ["t1"] * 4 + ["t2"] * 3
    assert households.lateral.tolist() == [1, 2, 1, 2, 1, 2, 1]
    # Walk: t1 lateral 1 (0, 2), lateral 2 (1, 3), t2 lateral 1 (4, 6), lateral 2 (5), taking
    # phases 1, 2, 3, 1, 2, 3, 1 in that order.
    assert households.phase.tolist() == [1, 3, 2, 1, 2, 1, 3]
    text = feeder.dss_text
    # One transformer per branch: both MV cables start at the source bus.
    assert "New Line.t1_mv bus1=mv bus2=t1_mv " in text
    assert "New Line.t2_mv bus1=mv bus2=t2_mv " in text
    # Two households a cabinet: t2's lateral 1 holds households 4 and 6, both at cabinet 1.
    assert "New Line.service_00006 bus1=t2_l1_n1.3 bus2=house_00006.3 " in text
    assert "New Line.service_00005 bus1=t2_l2_n1.1 bus2=house_00005.1 " in text
    assert "t2_l1_n2" not in text
    columns = ["name", "mv_branch", "mv_distance_m", "households"]
    assert feeder.transformers[columns].values.tolist() == [["t1", 1, 300, 4], ["t2", 2, 300, 3]]


def test_transformers_chain_along_one_mv_branch() -> None:
    design = LvFeederDesign(n_households=200, households_per_transformer=50)
    feeder = generate_lv_feeder(design, seed=0)
    text = feeder.dss_text
    assert "New Line.t1_mv bus1=mv bus2=t1_mv " in text
    assert "New Line.t4_mv bus1=t3_mv bus2=t4_mv " in text
    assert feeder.transformers.mv_distance_m.tolist() == [250.0, 500.0, 750.0, 1000.0]
    assert text.count("New Transformer.") == 4


@pytest.mark.parametrize(
    ("n_households", "expected"),
    [
        (60, [60]),
        (61, [31, 30]),
        (120, [60, 60]),
        (130, [44, 43, 43]),
        # divmod(5000, 84) = (59, 44): 44 transformers of 60, 40 of 59.
        (5000, [60] * 44 + [59] * 40),
    ],
)
def test_default_transformer_count_is_the_ceiling_of_households_over_60(
    n_households: int, expected: list[int]
) -> None:
    design = LvFeederDesign(n_households=n_households)
    assert design.n_transformers == len(expected)
    feeder = generate_lv_feeder(design, seed=0)
    assert feeder.transformers.households.tolist() == expected
    assert feeder.households.transformer.value_counts(sort=False).tolist() == expected


def test_mv_branches_hold_at_most_the_configured_transformers() -> None:
    # 5000 households -> 84 transformers -> ceil(84 / 20) = 5 branches of 17, 17, 17, 17, 16.
    feeder = generate_lv_feeder(LvFeederDesign(n_households=5000), seed=0)
    per_branch = feeder.transformers.groupby("mv_branch").size().tolist()
    assert per_branch == [17, 17, 17, 17, 16]
    assert feeder.transformers.mv_distance_m.max() == 17 * 250.0


def test_bus_and_line_names_are_unique() -> None:
    feeder = generate_lv_feeder(LvFeederDesign(n_households=300, transformers=4), seed=1)
    line_names = re.findall(r"New Line\.(\S+) ", feeder.dss_text)
    ends = re.findall(r" bus2=(\S+) ", feeder.dss_text)
    assert len(set(line_names)) == len(line_names)
    assert len(set(ends)) == len(ends)
    households = feeder.households
    assert households.bus.is_unique
    for i, (bus, phase) in enumerate(zip(households.bus, households.phase, strict=True)):
        assert f"New Line.service_{i:05d} bus1=t" in feeder.dss_text
        assert f" bus2={bus}.{phase} phases=1 " in feeder.dss_text


def test_script_frames_and_equipment_data() -> None:
    feeder = generate_lv_feeder(LvFeederDesign(n_households=7), seed=3)
    lines = feeder.dss_text.strip().splitlines()
    assert lines[0] == "Clear"
    assert lines[-2:] == ["Set VoltageBases=[20, 0.4]", "CalcVoltageBases"]
    text = feeder.dss_text.lower()
    assert not re.search("solve|new load", text)
    assert "conns=[delta, wye]" in text
    assert "%loadloss=1.44" in text
    assert "%noloadloss=0.32" in text
    # sqrt(6^2 - 1.44^2) = sqrt(33.9264)
    assert re.search(r"xhl=5\.8246", text)
    # Z0 = 4 Z1 for the 4x150 cable: 4 * 0.208 = 0.832, 4 * 0.08 = 0.32.
    assert re.search(r"nayy_4x150_se .*r1=0\.208 x1=0\.08 r0=0\.832 x0=0\.32 c1=261 c0=261", text)
    assert "normamps=270 emergamps=270" in text
    # The service drops' single-phase code: the self terms Zs = (2 Z1 + Z0) / 3 = 2 Z1 of the
    # 4x50 cable, 2 * 0.642 = 1.284 and 2 * 0.083 = 0.166, and Cs = (2 C1 + C0) / 3 = 210.
    assert (
        "new linecode.nayy_4x50_se_1ph nphases=1 units=km rmatrix=[1.284] xmatrix=[0.166] "
        "cmatrix=[210] normamps=142 emergamps=142"
    ) in text
    assert "new linecode.nayy_4x50_se " not in text
    # The MV cable: Z0 = Z1, C0 = C1, pandapower figures of NA2XS2Y 1x185 RM/25 12/20 kV.
    assert (
        "new linecode.na2xs2y_1x185_rm_25_12_20_kv nphases=3 units=km r1=0.161 x1=0.117 "
        "r0=0.161 x0=0.117 c1=273 c0=273 normamps=362 emergamps=362"
    ) in text
    # 3 laterals: lateral 1 holds households 0, 3, 6 at cabinets 1, 1, 2, laterals 2 and 3 hold
    # two households at cabinet 1. 4 cabinets, 7 service drops, one MV cable.
    assert text.count("new line.") == 4 + 7 + 1


def test_distance_equals_cable_length_along_the_path() -> None:
    design = LvFeederDesign(n_households=11, laterals=3, node_spacing_m=40.0)
    feeder = generate_lv_feeder(design, seed=9)
    length_m = _line_lengths_m(feeder.dss_text)
    households = feeder.households
    # One transformer: household i is the (i // 3)-th on its lateral, two households a cabinet.
    node = (households.index.to_numpy() // design.laterals) // 2 + 1
    service_m = np.array([length_m[f"service_{i:05d}"] for i in households.index])
    assert households.distance_m.to_numpy() == pytest.approx(node * 40.0 + service_m, abs=1e-9)
    assert 10.0 <= service_m.min() <= service_m.max() <= 30.0


def test_distance_restarts_at_each_transformer() -> None:
    # Two transformers of 3 households on one lateral each: cabinets 1, 1, 2 behind each (two
    # a cabinet), or 1, 2, 3 with one a cabinet.
    design = LvFeederDesign(6, laterals=1, transformers=2, service_length_m=(10.0, 10.0))
    feeder = generate_lv_feeder(design, seed=0)
    assert feeder.households.distance_m.tolist() == pytest.approx([45.0, 45.0, 80.0] * 2)
    single = generate_lv_feeder(replace(design, households_per_node=1), seed=0)
    assert single.households.distance_m.tolist() == pytest.approx([45.0, 80.0, 115.0] * 2)


def test_same_seed_gives_identical_text_and_another_seed_other_service_lengths() -> None:
    design = LvFeederDesign(n_households=140, laterals=4)
    first, second = generate_lv_feeder(design, seed=42), generate_lv_feeder(design, seed=42)
    assert first.dss_text == second.dss_text
    pd.testing.assert_frame_equal(first.households, second.households)
    pd.testing.assert_frame_equal(first.transformers, second.transformers)
    other = generate_lv_feeder(design, seed=2).households.distance_m.to_numpy()
    assert np.all(first.households.distance_m.to_numpy() != other)


@pytest.mark.parametrize("n_households", [1, 2, 3, 4, 10, 31, 100, 247])
@pytest.mark.parametrize("laterals", [1, 2, 3, 5])
@pytest.mark.parametrize(("per_transformer", "per_node"), [(7, 1), (7, 2), (60, 2), (60, 3)])
def test_phases_are_balanced_overall_per_transformer_and_per_lateral(
    n_households: int, laterals: int, per_transformer: int, per_node: int
) -> None:
    design = LvFeederDesign(
        n_households,
        laterals,
        households_per_transformer=per_transformer,
        households_per_node=per_node,
    )
    households = generate_lv_feeder(design, seed=0).households
    assert set(households.phase) <= {1, 2, 3}
    assert _phase_spread(households.phase) <= 1
    assert households.groupby(["transformer", "lateral"]).phase.agg(_phase_spread).max() <= 1
    assert households.groupby("transformer").phase.agg(_phase_spread).max() <= 1


def test_fewer_households_than_laterals_builds_only_used_laterals() -> None:
    feeder = generate_lv_feeder(LvFeederDesign(n_households=2, laterals=5), seed=0)
    assert feeder.households.lateral.tolist() == [1, 2]
    assert "t1_l3_n1" not in feeder.dss_text


def test_other_cable_types_are_used() -> None:
    lv_cable, mv_cable = "NAYY 4x120 SE", "NA2XS2Y 1x240 RM/25 12/20 kV"
    design = LvFeederDesign(3, main_cable=lv_cable, service_cable=lv_cable, mv_cable=mv_cable)
    text = generate_lv_feeder(design, seed=0).dss_text
    # Main cable, its single-phase service code and the MV cable.
    assert text.count("New LineCode.") == 3
    assert "New LineCode.nayy_4x120_se " in text
    assert "r1=0.225" in text
    # 2 * 0.225 = 0.45, 2 * 0.08 = 0.16
    assert "nayy_4x120_se_1ph nphases=1 units=km rmatrix=[0.45] xmatrix=[0.16] " in text
    assert "New LineCode.na2xs2y_1x240_rm_25_12_20_kv " in text
    assert "r1=0.122 x1=0.112" in text
    assert set(CABLE_TYPES) >= {"NAYY 4x150 SE", "NAYY 4x120 SE", "NAYY 4x50 SE"}
    assert "NA2XS2Y 1x185 RM/25 12/20 kV" in MV_CABLE_TYPES


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"n_households": 0}, "n_households"),
        ({"n_households": 2.5}, "n_households"),
        ({"laterals": 0}, "laterals"),
        ({"households_per_node": 0}, "households_per_node"),
        ({"households_per_node": True}, "households_per_node"),
        ({"transformer_kva": 0.0}, "transformer_kva"),
        ({"mv_kv": -20.0}, "mv_kv"),
        ({"lv_kv": 0.0}, "lv_kv"),
        ({"mv_short_circuit_mva": float("inf")}, "mv_short_circuit_mva"),
        ({"source_voltage_pu": 0.0}, "source_voltage_pu"),
        ({"node_spacing_m": -1.0}, "node_spacing_m"),
        ({"main_cable": "NAYY 4x95 SE"}, "main_cable"),
        ({"service_cable": "copper"}, "service_cable"),
        ({"main_cable": "NA2XS2Y 1x185 RM/25 12/20 kV"}, "main_cable"),
        ({"service_length_m": (30.0, 10.0)}, "service_length_m"),
        ({"service_length_m": (0.0, 10.0)}, "service_length_m"),
        ({"service_length_m": (10.0,)}, "service_length_m"),
        ({"households_per_transformer": 0}, "households_per_transformer"),
        ({"transformers": 0}, "transformers"),
        ({"transformers": 6}, "transformers"),
        ({"transformers": 2.0}, "transformers"),
        ({"transformers_per_mv_branch": 0}, "transformers_per_mv_branch"),
        ({"mv_cable": "NAYY 4x150 SE"}, "mv_cable"),
        ({"mv_spacing_m": 0.0}, "mv_spacing_m"),
    ],
)
def test_bad_design_fields_are_rejected_by_name(changes: dict, field: str) -> None:
    with pytest.raises(ValueError, match=rf"LvFeederDesign\.{field} is "):
        LvFeederDesign(**{"n_households": 5, **changes})


@pytest.mark.parametrize("seed", [-1, 1.5, True])
def test_bad_seed_is_rejected(seed: object) -> None:
    with pytest.raises(ValueError, match="seed"):
        generate_lv_feeder(LvFeederDesign(n_households=2), seed=seed)  # type: ignore[arg-type]


# --- solved in OpenDSS ------------------------------------------------------------------------


@pytest.mark.parametrize(("households_per_node", "cabinets"), [(1, 12), (2, 6), (3, 6), (4, 3)])
def test_compiles_to_the_expected_circuit(households_per_node: int, cabinets: int) -> None:
    # 12 households on 3 laterals: 4 a lateral on ceil(4 / households_per_node) cabinets.
    n = 12
    design = LvFeederDesign(n_households=n, laterals=3, households_per_node=households_per_node)
    dss.Text.Commands(generate_lv_feeder(design, seed=4).dss_text)
    # mv, t1_mv, t1_lv, the cabinets and one house bus per household.
    assert dss.Circuit.NumBuses() == 3 + cabinets + n
    assert dss.Lines.Count() == 1 + cabinets + n
    # Three nodes on mv, t1_mv, t1_lv and every cabinet; one node (its phase) on a house bus.
    assert dss.Circuit.NumNodes() == 3 * (3 + cabinets) + n
    assert dss.Transformers.Count() == 1
    assert dss.Solution.Frequency() == pytest.approx(50.0)
    dss.Circuit.SetActiveBus("house_00000")
    assert dss.Bus.kVBase() == pytest.approx(0.4 / math.sqrt(3.0))
    dss.Circuit.SetActiveBus("t1_mv")
    assert dss.Bus.kVBase() == pytest.approx(20.0 / math.sqrt(3.0))


@pytest.mark.parametrize(("n", "source_pu"), [(30, 1.0), (30, 1.03), (240, 1.0)])
def test_no_load_voltages_equal_the_source_voltage(n: int, source_pu: float) -> None:
    design = LvFeederDesign(n, households_per_transformer=40, source_voltage_pu=source_pu)
    voltage_pu = _solve(generate_lv_feeder(design, seed=7), load_power_kw=0.0)
    # Without load only the iron-loss current (0.32 % of 250 kVA = 0.8 kW) and the cable charging
    # current (about 13 var per km of LV cable, 8.6 kvar for the 250 m MV cable) flow. 0.8 kW
    # through the 1.44 % transformer resistance moves the voltage by about 0.0032 * 0.0144 =
    # 5e-5 pu, and 8.6 kvar through the 100 MVA source by 8.6e-5 pu; 1e-3 pu bounds this with a
    # wide margin yet catches any wrong ratio or base (>= 0.5 %). With 240 households, 6
    # transformers and 1.5 km of MV cable: 1.5 * 34.3 kvar of charging lifts it by 5e-4 pu.
    assert np.abs(voltage_pu.to_numpy() - source_pu).max() < 1e-3


def test_single_household_voltage_drop_matches_hand_calculation_and_the_3_phase_drop() -> None:
    design = LvFeederDesign(n_households=1, laterals=1, service_length_m=(20.0, 20.0))
    feeder = generate_lv_feeder(design, seed=0)
    no_load_voltage_pu, voltage_pu = (_solve(feeder, power)[0] for power in (0.0, 2.0))
    # A single-phase load on a Z0 = 4 Z1 cable sees the loop resistance Zs = (2 Z1 + Z0) / 3 =
    # 2 r1 per metre, in the 3-phase main cable and in the single-phase drop alike; through the
    # Dyn transformer its phase sees the short-circuit resistance (Z0 = Z1 from the LV side):
    # 1.44 % of 0.4^2 / 0.25 ohm = 9.216 mohm. Reactances give only second-order drops at pf = 1,
    # and the MV cable (0.04 ohm at 20 kV, 16 uohm seen from 0.4 kV) adds nothing visible. Loop:
    # 2 * 0.208 * 0.035 + 2 * 0.642 * 0.020 + 0.009216 = 0.01456 + 0.02568 + 0.009216 = 0.049456.
    base_v = 400.0 / math.sqrt(3.0)  # 230.94 V
    current_a = 2000.0 / (voltage_pu * base_v)  # 8.68 A
    resistance_ohm = 2 * 0.208 * 0.035 + 2 * 0.642 * 0.020 + 0.0144 * 0.4**2 / 0.25
    drop_pu = no_load_voltage_pu - voltage_pu
    assert drop_pu == pytest.approx(current_a * resistance_ohm / base_v, rel=0.01)  # 1.858e-3 pu
    # The drop modelled as before, a 3-phase line to a 3-node house bus with the 4x50 cable's
    # sequence code (Z0 = 4 Z1: 4 * 0.642 = 2.568, 4 * 0.083 = 0.332), gives the same drop to
    # 1e-9 pu (2e-11); the voltages differ by 4e-9 pu, the cable charging current seen by 3 cores.
    kron_text, found = re.subn(
        r"New Line\.service_00000 .*",
        "New LineCode.kron nphases=3 units=km r1=0.642 x1=0.083 r0=2.568 x0=0.332 c1=210 c0=210\n"
        "New Line.service_00000 bus1=t1_l1_n1 bus2=house_00000 linecode=kron length=20 units=m",
        feeder.dss_text,
    )
    assert found == 1
    kron = replace(feeder, dss_text=kron_text)
    kron_no_load_voltage_pu, kron_voltage_pu = (_solve(kron, power)[0] for power in (0.0, 2.0))
    assert drop_pu == pytest.approx(kron_no_load_voltage_pu - kron_voltage_pu, abs=1e-9)
    assert voltage_pu == pytest.approx(kron_voltage_pu, abs=1e-8)


def test_voltage_falls_with_distance_along_each_lateral_and_phase() -> None:
    # Equal service drops: with random ones the last same-phase household of a lateral can sit
    # higher than the one before, because the loads of the other two phases beyond it return
    # through the neutral and lift its phase (neutral shift) while a short service drop of the
    # last house saves more than the main cable costs; that is physics, not a fault.
    design = LvFeederDesign(n_households=60, laterals=3, service_length_m=(20.0, 20.0))
    feeder = generate_lv_feeder(design, seed=11)
    voltage_pu = _solve(feeder, load_power_kw=2.0)
    households = feeder.households.assign(voltage_pu=voltage_pu)
    groups = households.groupby(["lateral", "phase"])
    assert groups.ngroups == 9
    for _, group in groups:
        ordered = group.sort_values("distance_m")
        assert len(ordered) >= 6
        assert np.all(np.diff(ordered.voltage_pu.to_numpy()) < 0)
    assert voltage_pu.min() > 0.9


def test_farthest_household_is_lower_than_nearest_with_random_service_drops() -> None:
    design = LvFeederDesign(n_households=36, laterals=3)
    feeder = generate_lv_feeder(design, seed=11)
    voltage_pu = _solve(feeder, load_power_kw=2.0)
    households = feeder.households.assign(voltage_pu=voltage_pu)
    for _, group in households.groupby(["lateral", "phase"]):
        ordered = group.sort_values("distance_m").voltage_pu.to_numpy()
        assert ordered[-1] < ordered[0]
    assert voltage_pu.max() < 1.0


def test_lv_busbar_voltage_falls_along_the_mv_chain() -> None:
    # Four identical transformers chained on one MV branch: each MV cable carries the load of
    # all transformers beyond it, so the LV busbars sit lower the farther out they are.
    design = LvFeederDesign(n_households=160, households_per_transformer=40, mv_spacing_m=2000.0)
    feeder = generate_lv_feeder(design, seed=3)
    _solve(feeder, load_power_kw=3.0)
    voltage_pu = _node_voltages_pu()
    busbar_pu = [
        np.mean([voltage_pu[f"{bus}.{p}"] for p in (1, 2, 3)]) for bus in feeder.transformers.lv_bus
    ]
    assert np.all(np.diff(busbar_pu) < 0)


def test_substation_power_equals_loads_plus_losses() -> None:
    n = 150
    feeder = generate_lv_feeder(LvFeederDesign(n_households=n, laterals=3), seed=2)
    assert len(feeder.transformers) == 3
    _solve(feeder, load_power_kw=2.0)
    substation_power_kw = -dss.Circuit.TotalPower()[0]
    losses_kw = dss.Circuit.Losses()[0] / 1000.0
    assert losses_kw > 3 * 0.8  # at least the transformers' iron losses
    assert substation_power_kw == pytest.approx(n * 2.0 + losses_kw, rel=1e-6)


def test_five_hundred_households_compile_and_converge() -> None:
    design = LvFeederDesign(n_households=500, laterals=10, transformer_kva=630.0)
    feeder = generate_lv_feeder(design, seed=0)
    voltage_pu = _solve(feeder, load_power_kw=0.5)
    # ceil(500 / 60) = 9 transformers of 56 or 55 households, 6 or 5 a lateral on 3 cabinets:
    # mv, 9 MV and 9 LV terminals, 9 * 10 * 3 cabinets and 500 houses.
    assert dss.Circuit.NumBuses() == 1 + 2 * 9 + 9 * 10 * 3 + 500
    assert voltage_pu.between(0.85, 1.0).all()


def test_five_thousand_households_compile_and_converge() -> None:
    feeder = generate_lv_feeder(LvFeederDesign(n_households=5000), seed=0)
    voltage_pu = _solve(feeder, load_power_kw=1.0)
    # 84 transformers of 60 or 59 households: 20 or 19 on each of 3 laterals, 10 cabinets each.
    assert dss.Circuit.NumBuses() == 1 + 2 * 84 + 84 * 3 * 10 + 5000
    assert dss.Transformers.Count() == 84
    assert voltage_pu.between(0.9, 1.05).all()
