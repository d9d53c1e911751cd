"""Tests of the North American split-phase feeder generator, in text and solved in OpenDSS."""

from __future__ import annotations

import math
import re

import numpy as np
import opendssdirect as dss
import pandas as pd
import pytest

from tefed.io.feeders.layout import GeneratedFeeder
from tefed.io.feeders.split_phase import (
    PRIMARY_LINE_TYPES,
    TRIPLEX_TYPES,
    SplitPhaseFeederDesign,
    generate_split_phase_feeder,
)

#: Loop resistance of 4/0 triplex for a 240 V load: 2 (r11 - r12) [ohm/kft].
TRIPLEX_4_0_LOOP_OHM_PER_KFT = 2 * (0.40995115 - 0.11809509)  # 0.58371212
FEET_PER_KFT_M = 304.8


def _compile_with_loads(feeder: GeneratedFeeder, load_power_kw: float) -> None:
    """Compile the feeder and put ``load_power_kw`` at 240 V on every household, then solve."""
    dss.Text.Commands(feeder.dss_text)
    assert (feeder.households.connection == "split").all()
    dss.Text.Commands(
        "\n".join(
            f"New Load.h{i} bus1={bus}.1.2 phases=1 kV=0.24 kW={load_power_kw} pf=1 model=1 "
            "vminpu=0.7 vmaxpu=1.3"
            for i, bus in enumerate(feeder.households.bus)
        )
    )
    dss.Text.Command("Set Tolerance=1e-10")
    dss.Text.Command("Set MaxIterations=100")
    dss.Solution.Solve()
    assert dss.Solution.Converged()


def _household_voltages_240_pu(feeder: GeneratedFeeder) -> pd.Series:
    """Voltage across nodes 1 and 2 of each household bus over 240 V [pu]."""
    values = []
    for bus in feeder.households.bus:
        dss.Circuit.SetActiveBus(bus)
        v = dss.Bus.Voltages()
        values.append(abs(complex(v[0], v[1]) - complex(v[2], v[3])) / 240.0)
    return pd.Series(values, index=feeder.households.index)


def _node_voltages_pu() -> dict[str, float]:
    return dict(zip(dss.Circuit.AllNodeNames(), dss.Circuit.AllBusMagPu(), strict=True))


# --- structure --------------------------------------------------------------------------------


def test_hand_computed_layout_of_twenty_households() -> None:
    design = SplitPhaseFeederDesign(n_households=20, service_length_m=(15.0, 15.0))
    feeder = generate_split_phase_feeder(design, seed=0)
    households = feeder.households
    # ceil(20 / 8) = 3 transformers; divmod(20, 3) = (6, 2): 7, 7 and 6 households.
    assert households.transformer.tolist() == ["t1"] * 7 + ["t2"] * 7 + ["t3"] * 6
    # Transformers on primary phases 1, 2, 3 in turn; households inherit them.
    assert households.phase.tolist() == [1] * 7 + [2] * 7 + [3] * 6
    assert households.connection.tolist() == ["split"] * 20
    assert households.bus[13] == "house_00013"
    # Behind t1: laterals 1, 2, 1, 2, ...; two households a pole, so poles 1, 1, 1, 1, 2, 2, 2.
    assert households.lateral[:7].tolist() == [1, 2, 1, 2, 1, 2, 1]
    # Distances: pole n at 35 n m plus the 15 m service drop.
    assert households.distance_m[:7].tolist() == pytest.approx([50.0] * 4 + [85.0] * 3)
    assert feeder.source_bus == "mv"
    assert feeder.lv_base_kv_ln == 0.12
    assert feeder.frequency_hz == 60.0
    transformers = feeder.transformers
    assert transformers.households.tolist() == [7, 7, 6]
    assert transformers.kva.tolist() == [50.0] * 3
    assert transformers.mv_distance_m.tolist() == [150.0, 300.0, 450.0]
    text = feeder.dss_text
    assert "New Line.t2_mv bus1=t1_mv bus2=t2_mv phases=3 " in text
    assert "New Transformer.t2 XfmrCode=center_tap buses=[t2_mv.2.0, t2_lv.1.0, t2_lv.0.2]" in text
    assert "New Transformer.t3 XfmrCode=center_tap buses=[t3_mv.3.0, t3_lv.1.0, t3_lv.0.2]" in text
    assert "New Line.t1_l2_n1 bus1=t1_lv.1.2 bus2=t1_l2_n1.1.2 phases=2 " in text
    assert "New Line.t1_l1_n2 bus1=t1_l1_n1.1.2 bus2=t1_l1_n2.1.2 phases=2 " in text
    # Household 13 is t2's 7th (j = 6): lateral 1, pole (6 // 2) // 2 + 1 = 2.
    assert "New Line.service_00013 bus1=t2_l1_n2.1.2 bus2=house_00013.1.2 phases=2 " in text
    # t3 has 6 households: 3 per lateral, poles 1, 1, 2 -> two poles a lateral.
    assert "t3_l1_n2" in text
    assert "t3_l1_n3" not in text


def test_script_frames_and_equipment_data() -> None:
    feeder = generate_split_phase_feeder(SplitPhaseFeederDesign(n_households=9), seed=3)
    lines = feeder.dss_text.strip().splitlines()
    assert lines[0] == "Clear"
    assert lines[1] == "Set DefaultBaseFrequency=60"
    # 0.12 kV to ground times sqrt(3): the list value whose line-to-neutral base is 0.12 kV.
    assert lines[-2:] == ["Set VoltageBases=[12.47, 0.207846096908]", "CalcVoltageBases"]
    text = feeder.dss_text
    assert "solve" not in text.lower()
    assert "new load" not in text.lower()
    assert (
        "New XfmrCode.center_tap phases=1 windings=3 kVs=[7.2, 0.12, 0.12] kVAs=[50, 50, 50] "
        "%Rs=[0.6, 1.2, 1.2] XHL=2.04 XHT=2.04 XLT=1.36 %noloadloss=0.2 %imag=0.5"
    ) in text
    assert (
        "New LineCode.triplex_4_0 nphases=2 units=kft rmatrix=[0.40995115 | 0.11809509 "
        "0.40995115] xmatrix=[0.16681819 | 0.1275925 0.16681819] cmatrix=[3 | -2.4 3] "
        "normamps=156 emergamps=195"
    ) in text
    assert (
        "New LineCode.acsr_556_5_config_601 nphases=3 units=mi rmatrix=[0.3465 | 0.156 0.3375 "
        "| 0.158 0.1535 0.3414] xmatrix=[1.0179 | 0.5017 1.0478 | 0.4236 0.3849 1.0348] "
        "cmatrix=[0 | 0 0 | 0 0 0] normamps=730 emergamps=730"
    ) in text
    # ceil(9 / 8) = 2 transformers of 5 and 4 households, one MV line each. t1: lateral 1 holds
    # 3 households (poles 1, 1, 2), lateral 2 holds 2 (pole 1); t2: 2 + 2 (pole 1 each). So
    # 3 + 2 poles and 9 service drops.
    assert text.count("New Transformer.") == 2
    assert text.count("New Line.") == 2 + 5 + 9


def test_other_line_types_and_ratings_are_used() -> None:
    design = SplitPhaseFeederDesign(
        n_households=4,
        transformer_kva=25.0,
        primary_line="4/0 ACSR",
        secondary_cable="750 triplex",
        mv_kv=13.2,
        primary_kv=7.62,
    )
    text = generate_split_phase_feeder(design, seed=0).dss_text
    assert "kVs=[7.62, 0.12, 0.12] kVAs=[25, 25, 25]" in text
    assert "New LineCode.acsr_4_0_config_602 " in text
    assert "rmatrix=[0.7526 | 0.158 0.7475 | 0.156 0.1535 0.7436]" in text
    assert "New LineCode.triplex_750 " in text
    assert "normamps=580 emergamps=725" in text
    assert "New LineCode.triplex_4_0 " in text  # the service drops keep 4/0
    assert "Set VoltageBases=[13.2, 0.207846096908]" in text
    assert set(PRIMARY_LINE_TYPES) == {"556.5 ACSR", "4/0 ACSR"}
    assert set(TRIPLEX_TYPES) == {"4/0 triplex", "750 triplex"}


def test_distance_equals_cable_length_along_the_path() -> None:
    design = SplitPhaseFeederDesign(n_households=37, laterals=3, households_per_node=1)
    feeder = generate_split_phase_feeder(design, seed=9)
    length_m = {
        name: float(length)
        for name, length in re.findall(r"New Line\.(\S+) .*length=(\S+) units=m", feeder.dss_text)
    }
    households = feeder.households
    for i, row in households.iterrows():
        path = [f"service_{i:05d}"]
        cabinet = re.search(rf"New Line\.service_{i:05d} bus1=(\S+)\.1\.2 ", feeder.dss_text)
        assert cabinet is not None
        prefix, node = cabinet.group(1).rsplit("_n", 1)
        path += [f"{prefix}_n{n}" for n in range(1, int(node) + 1)]
        assert row.distance_m == pytest.approx(sum(length_m[name] for name in path), abs=1e-9)
        assert prefix.startswith(f"{row.transformer}_l{row.lateral}")


def test_same_seed_gives_identical_text() -> None:
    design = SplitPhaseFeederDesign(n_households=75)
    first = generate_split_phase_feeder(design, seed=42)
    second = generate_split_phase_feeder(design, seed=42)
    assert first.dss_text == second.dss_text
    pd.testing.assert_frame_equal(first.households, second.households)
    pd.testing.assert_frame_equal(first.transformers, second.transformers)


def test_different_seed_gives_different_service_lengths() -> None:
    design = SplitPhaseFeederDesign(n_households=40)
    first = generate_split_phase_feeder(design, seed=1).households.distance_m.to_numpy()
    second = generate_split_phase_feeder(design, seed=2).households.distance_m.to_numpy()
    assert np.all(first != second)


@pytest.mark.parametrize("n_households", [1, 2, 5, 10, 23, 100, 997, 5000])
@pytest.mark.parametrize("transformers", [None, 4, 7])
def test_primary_phases_are_balanced(n_households: int, transformers: int | None) -> None:
    if transformers is not None:
        transformers = min(transformers, n_households)  # more would be rejected
    design = SplitPhaseFeederDesign(n_households=n_households, transformers=transformers)
    feeder = generate_split_phase_feeder(design, seed=0)
    n_transformers = design.n_transformers
    transformer_phase = feeder.households.groupby("transformer", sort=False).phase.first()
    assert transformer_phase.tolist() == [k % 3 + 1 for k in range(n_transformers)]
    per_phase_transformers = np.bincount(transformer_phase, minlength=4)[1:]
    assert per_phase_transformers.max() - per_phase_transformers.min() <= 1
    # Household counts never rise from phase 1 to 3 and differ by at most one transformer's.
    counts = np.bincount(feeder.households.phase, minlength=4)[1:]
    assert np.all(np.diff(counts) <= 0)
    assert counts[0] - counts[2] <= math.ceil(n_households / n_transformers)


def test_default_feeder_of_5000_households_is_balanced_to_one_transformer() -> None:
    feeder = generate_split_phase_feeder(SplitPhaseFeederDesign(n_households=5000), seed=0)
    # 625 transformers of exactly 8: 209, 208, 208 transformers on phases 1, 2, 3.
    counts = feeder.households.groupby("phase").size().tolist()
    assert counts == [209 * 8, 208 * 8, 208 * 8]
    # ceil(625 / 30) = 21 primary branches of 30 or 29 transformers.
    assert feeder.transformers.groupby("mv_branch").size().tolist() == [30] * 16 + [29] * 5


def test_bus_and_line_names_are_unique() -> None:
    feeder = generate_split_phase_feeder(SplitPhaseFeederDesign(n_households=333), seed=1)
    line_names = re.findall(r"New Line\.(\S+) ", feeder.dss_text)
    ends = re.findall(r" bus2=(\S+) ", feeder.dss_text)
    assert len(set(line_names)) == len(line_names)
    assert len(set(ends)) == len(ends)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"n_households": 0}, "n_households"),
        ({"households_per_transformer": 0}, "households_per_transformer"),
        ({"transformers": 0}, "transformers"),
        ({"transformers": 6}, "transformers"),
        ({"transformer_kva": -50.0}, "transformer_kva"),
        ({"laterals": 0}, "laterals"),
        ({"households_per_node": True}, "households_per_node"),
        ({"mv_kv": 0.0}, "mv_kv"),
        ({"primary_kv": float("nan")}, "primary_kv"),
        ({"mv_short_circuit_mva": 0.0}, "mv_short_circuit_mva"),
        ({"source_voltage_pu": -1.0}, "source_voltage_pu"),
        ({"primary_line": "336.4 ACSR"}, "primary_line"),
        ({"secondary_cable": "1/0 triplex"}, "secondary_cable"),
        ({"service_cable": "NAYY 4x50 SE"}, "service_cable"),
        ({"node_spacing_m": 0.0}, "node_spacing_m"),
        ({"service_length_m": (20.0, 10.0)}, "service_length_m"),
        ({"service_length_m": 10.0}, "service_length_m"),
        ({"transformers_per_mv_branch": 0}, "transformers_per_mv_branch"),
        ({"mv_spacing_m": -150.0}, "mv_spacing_m"),
    ],
)
def test_bad_design_fields_are_rejected_by_name(changes: dict, field: str) -> None:
    with pytest.raises(ValueError, match=rf"SplitPhaseFeederDesign\.{field} is "):
        SplitPhaseFeederDesign(**{"n_households": 5, **changes})


@pytest.mark.parametrize("seed", [-1, 2.0, False])
def test_bad_seed_is_rejected(seed: object) -> None:
    with pytest.raises(ValueError, match="seed is"):
        generate_split_phase_feeder(SplitPhaseFeederDesign(n_households=2), seed=seed)  # type: ignore[arg-type]


# --- solved in OpenDSS ------------------------------------------------------------------------


def test_compiles_to_the_expected_circuit() -> None:
    feeder = generate_split_phase_feeder(SplitPhaseFeederDesign(n_households=16), seed=4)
    dss.Text.Commands(feeder.dss_text)
    # mv; per transformer t_mv, t_lv and 2 laterals x 2 poles; 16 houses.
    assert dss.Circuit.NumBuses() == 1 + 2 * (2 + 4) + 16
    assert dss.Lines.Count() == 2 * (1 + 4) + 16
    assert dss.Transformers.Count() == 2
    assert dss.Solution.Frequency() == pytest.approx(60.0)
    dss.Circuit.SetActiveBus("house_00000")
    assert dss.Bus.kVBase() == pytest.approx(0.12, abs=1e-9)
    assert list(dss.Bus.Nodes()) == [1, 2]
    dss.Circuit.SetActiveBus("t2_mv")
    assert dss.Bus.kVBase() == pytest.approx(12.47 / math.sqrt(3.0))


@pytest.mark.parametrize("source_voltage_pu", [1.0, 1.04])
def test_no_load_voltages_equal_the_source_voltage(source_voltage_pu: float) -> None:
    design = SplitPhaseFeederDesign(n_households=60, source_voltage_pu=source_voltage_pu)
    feeder = generate_split_phase_feeder(design, seed=7)
    _compile_with_loads(feeder, load_power_kw=0.0)
    node_voltage_pu = _node_voltages_pu()
    legs_pu = np.array(
        [node_voltage_pu[f"{bus}.{node}"] for bus in feeder.households.bus for node in (1, 2)]
    )
    # The 12.47 kV system gives 7199.6 V to neutral on a 7.2 kV winding: 0.99994 of the ratio.
    # Magnetizing (0.5 %) and no-load loss (0.2 %) currents through the transformer (2.04 % X,
    # 0.6 % R) move the secondary by about 1e-4 pu (2.2e-4 pu measured in all). 5e-4 pu bounds
    # this yet catches a wrong ratio or base: the 8500-node feeder's 0.208 kV gives a 120.09 V
    # base, 7.4e-4 pu lower, 9.6e-4 pu off in all.
    assert np.abs(legs_pu - source_voltage_pu).max() < 5e-4
    # Each leg is 120 V to ground and the two legs 240 V apart.
    assert np.abs(_household_voltages_240_pu(feeder).to_numpy() - source_voltage_pu).max() < 5e-4


def test_single_household_voltage_drop_matches_hand_calculation() -> None:
    design = SplitPhaseFeederDesign(n_households=1, service_length_m=(20.0, 20.0))
    feeder = generate_split_phase_feeder(design, seed=0)
    _compile_with_loads(feeder, load_power_kw=0.0)
    no_load_v = 240.0 * _household_voltages_240_pu(feeder)[0]
    _compile_with_loads(feeder, load_power_kw=5.0)
    loaded_v = 240.0 * _household_voltages_240_pu(feeder)[0]
    # 5 kW at pf = 1 across 240 V. Loop resistance: 55 m (35 m secondary span + 20 m drop) of
    # 4/0 triplex at 2 (0.40995115 - 0.11809509) = 0.58371212 ohm/kft, i.e. 0.105329 ohm, plus
    # the transformer: 0.6 % + (1.2 % + 1.2 %) / 2 = 1.2 % of 0.24^2 / 0.05 = 1.152 ohm, i.e.
    # 0.013824 ohm; total 0.119153 ohm. Reactances add second-order terms only; the primary
    # (0.69 A through 0.03 ohm of line and the 0.78 ohm source, 0.19 ohm of it resistive) adds
    # about 0.2 %.
    resistance_ohm = TRIPLEX_4_0_LOOP_OHM_PER_KFT * 55.0 / FEET_PER_KFT_M + 0.012 * 0.24**2 / 0.05
    assert resistance_ohm == pytest.approx(0.119153, abs=1e-6)
    current_a = 5000.0 / loaded_v  # 21.06 A
    assert no_load_v - loaded_v == pytest.approx(current_a * resistance_ohm, rel=0.01)  # 2.51 V


def test_voltage_falls_with_distance_along_each_secondary() -> None:
    design = SplitPhaseFeederDesign(
        n_households=48, households_per_node=1, service_length_m=(20.0, 20.0)
    )
    feeder = generate_split_phase_feeder(design, seed=11)
    _compile_with_loads(feeder, load_power_kw=3.0)
    households = feeder.households.assign(voltage_pu=_household_voltages_240_pu(feeder))
    groups = households.groupby(["transformer", "lateral"])
    assert groups.ngroups == 12
    for _, group in groups:
        ordered = group.sort_values("distance_m").voltage_pu.to_numpy()
        assert len(ordered) == 4
        assert np.all(np.diff(ordered) < 0)
    assert households.voltage_pu.between(0.95, 1.0).all()


def test_substation_phases_carry_equal_power_for_equal_transformers() -> None:
    # 24 households on 3 transformers of 8, one on each primary phase, equal loads.
    feeder = generate_split_phase_feeder(
        SplitPhaseFeederDesign(n_households=24, service_length_m=(20.0, 20.0)), seed=5
    )
    _compile_with_loads(feeder, load_power_kw=2.0)
    dss.Circuit.SetActiveElement("Vsource.source")
    phase_power_kw = -np.array(dss.CktElement.Powers()[0:6:2])
    total_kw = phase_power_kw.sum()
    losses_kw = dss.Circuit.Losses()[0] / 1000.0
    assert total_kw == pytest.approx(24 * 2.0 + losses_kw, rel=1e-6)
    assert phase_power_kw == pytest.approx(np.full(3, total_kw / 3), rel=0.01)


def test_substation_power_equals_loads_plus_losses() -> None:
    n = 130
    feeder = generate_split_phase_feeder(SplitPhaseFeederDesign(n_households=n), seed=2)
    _compile_with_loads(feeder, load_power_kw=2.5)
    substation_power_kw = -dss.Circuit.TotalPower()[0]
    losses_kw = dss.Circuit.Losses()[0] / 1000.0
    # At least the no-load losses: 0.2 % of 50 kVA on each of the 17 transformers.
    assert losses_kw > 17 * 0.1
    assert substation_power_kw == pytest.approx(n * 2.5 + losses_kw, rel=1e-6)


def test_five_thousand_households_compile_and_converge() -> None:
    feeder = generate_split_phase_feeder(SplitPhaseFeederDesign(n_households=5000), seed=0)
    _compile_with_loads(feeder, load_power_kw=2.0)
    assert dss.Transformers.Count() == 625
    # mv; 625 x (t_mv, t_lv, 4 poles); 5000 houses.
    assert dss.Circuit.NumBuses() == 1 + 625 * 6 + 5000
    voltage_pu = _household_voltages_240_pu(feeder)
    assert voltage_pu.between(0.9, 1.0).all()
