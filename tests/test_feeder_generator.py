"""Tests of the synthetic LV feeder generator, in text and solved in OpenDSS."""

from __future__ import annotations

import math
import re

import numpy as np
import opendssdirect as dss
import pandas as pd
import pytest

from federates.grid.feeder_generator import (
    CABLE_TYPES,
    GeneratedFeeder,
    LvFeederDesign,
    generate_lv_feeder,
)


def _solve(feeder: GeneratedFeeder, load_power_kw: float) -> pd.Series:
    """Compile the feeder, put ``load_power_kw`` on every household, solve; voltages [pu]."""
    dss.Text.Commands(feeder.dss_text)
    dss.Text.Commands(
        "\n".join(
            f"New Load.h{i} bus1={row.bus}.{row.phase} phases=1 kV={feeder.lv_base_kv_ln} "
            f"kW={load_power_kw} pf=1 model=1 vminpu=0.7 vmaxpu=1.3"
            for i, row in enumerate(feeder.households.itertuples())
        )
    )
    # A tight tolerance so that power balance and small voltage differences are exact enough.
    dss.Text.Command("Set Tolerance=1e-10")
    dss.Text.Command("Set MaxIterations=100")
    dss.Solution.Solve()
    assert dss.Solution.Converged()
    node_voltage_pu = dict(zip(dss.Circuit.AllNodeNames(), dss.Circuit.AllBusMagPu(), strict=True))
    households = feeder.households
    return pd.Series(
        [
            node_voltage_pu[f"{bus}.{phase}"]
            for bus, phase in zip(households.bus, households.phase, strict=True)
        ],
        index=households.index,
    )


def _line_lengths_m(text: str) -> dict[str, float]:
    return {
        name: float(length)
        for name, length in re.findall(r"New Line\.(\S+) .*length=(\S+) units=m", text)
    }


# --- structure --------------------------------------------------------------------------------


def test_hand_computed_layout_of_four_households_on_two_laterals() -> None:
    design = LvFeederDesign(n_households=4, laterals=2, service_length_m=(20.0, 20.0))
    feeder = generate_lv_feeder(design, seed=0)
    households = feeder.households
    assert households.index.tolist() == [0, 1, 2, 3]
    assert households.bus.tolist() == ["house_0000", "house_0001", "house_0002", "house_0003"]
    assert households.lateral.tolist() == [1, 2, 1, 2]
    # Feeder order is lateral 1 outwards (households 0, 2), then lateral 2 (households 1, 3).
    assert households.phase.tolist() == [1, 3, 2, 1]
    # Cabinets at 35 m and 70 m, plus a 20 m service drop.
    assert households.distance_m.tolist() == pytest.approx([55.0, 55.0, 90.0, 90.0])
    assert feeder.source_bus == "mv"
    assert feeder.lv_busbar == "lv_busbar"
    assert feeder.lv_base_kv_ln == pytest.approx(0.4 / math.sqrt(3.0))
    text = feeder.dss_text
    assert "New Line.l1_n2 bus1=l1_n1 bus2=l1_n2 " in text
    assert "New Line.l2_n1 bus1=lv_busbar bus2=l2_n1 " in text
    assert "New Line.service_0003 bus1=l2_n2 bus2=house_0003 " in text


def test_script_frames_and_equipment_data() -> None:
    feeder = generate_lv_feeder(LvFeederDesign(n_households=7), seed=3)
    lines = feeder.dss_text.strip().splitlines()
    assert lines[0] == "Clear"
    assert lines[-2:] == ["Set VoltageBases=[20, 0.4]", "CalcVoltageBases"]
    text = feeder.dss_text.lower()
    assert "solve" not in text
    assert "new load" not in text
    assert "conns=[delta, wye]" in text
    assert "%loadloss=1.44" in text
    assert "%noloadloss=0.32" in text
    # sqrt(6^2 - 1.44^2) = sqrt(33.9264)
    assert re.search(r"xhl=5\.8246", text)
    # Z0 = 4 Z1 for the 4x150 cable: 4 * 0.208 = 0.832, 4 * 0.08 = 0.32.
    assert re.search(r"nayy_4x150_se .*r1=0\.208 x1=0\.08 r0=0\.832 x0=0\.32 c1=261 c0=261", text)
    assert "normamps=270 emergamps=270" in text
    assert text.count("new line.") == 2 * 7


def test_every_household_bus_appears_as_a_service_line_end() -> None:
    feeder = generate_lv_feeder(LvFeederDesign(n_households=23, laterals=4), seed=5)
    for i, bus in enumerate(feeder.households.bus):
        assert f"New Line.service_{i:04d} " in feeder.dss_text
        assert f" bus2={bus} " in feeder.dss_text


def test_distance_equals_cable_length_along_the_path() -> None:
    design = LvFeederDesign(n_households=11, laterals=3, node_spacing_m=40.0)
    feeder = generate_lv_feeder(design, seed=9)
    length_m = _line_lengths_m(feeder.dss_text)
    households = feeder.households
    node = households.index.to_numpy() // design.laterals + 1
    service_m = np.array([length_m[f"service_{i:04d}"] for i in households.index])
    assert households.distance_m.to_numpy() == pytest.approx(node * 40.0 + service_m, abs=1e-9)
    assert service_m.min() >= 10.0
    assert service_m.max() <= 30.0


def test_same_seed_gives_identical_text() -> None:
    design = LvFeederDesign(n_households=40, laterals=4)
    first = generate_lv_feeder(design, seed=42)
    second = generate_lv_feeder(design, seed=42)
    assert first.dss_text == second.dss_text
    pd.testing.assert_frame_equal(first.households, second.households)


def test_different_seed_gives_different_service_lengths() -> None:
    design = LvFeederDesign(n_households=40, laterals=4)
    first = generate_lv_feeder(design, seed=1).households.distance_m.to_numpy()
    second = generate_lv_feeder(design, seed=2).households.distance_m.to_numpy()
    assert np.all(first != second)


@pytest.mark.parametrize("n_households", [1, 2, 3, 4, 10, 31, 100])
@pytest.mark.parametrize("laterals", [1, 2, 3, 5])
def test_phases_are_balanced_overall_and_per_lateral(n_households: int, laterals: int) -> None:
    feeder = generate_lv_feeder(
        LvFeederDesign(n_households=n_households, laterals=laterals), seed=0
    )
    households = feeder.households
    assert set(households.phase) <= {1, 2, 3}
    counts = np.bincount(households.phase, minlength=4)[1:]
    assert counts.max() - counts.min() <= 1
    for _, group in households.groupby("lateral"):
        counts = np.bincount(group.phase, minlength=4)[1:]
        assert counts.max() - counts.min() <= 1


def test_fewer_households_than_laterals_builds_only_used_laterals() -> None:
    feeder = generate_lv_feeder(LvFeederDesign(n_households=2, laterals=5), seed=0)
    assert feeder.households.lateral.tolist() == [1, 2]
    assert "l3_n1" not in feeder.dss_text


def test_other_cable_types_are_used() -> None:
    design = LvFeederDesign(
        n_households=3, main_cable="NAYY 4x120 SE", service_cable="NAYY 4x120 SE"
    )
    text = generate_lv_feeder(design, seed=0).dss_text
    assert text.count("New LineCode.") == 1
    assert "New LineCode.nayy_4x120_se " in text
    assert "r1=0.225" in text
    assert set(CABLE_TYPES) >= {"NAYY 4x150 SE", "NAYY 4x120 SE", "NAYY 4x50 SE"}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"n_households": 0}, "n_households"),
        ({"n_households": 2.5}, "n_households"),
        ({"laterals": 0}, "laterals"),
        ({"transformer_kva": 0.0}, "transformer_kva"),
        ({"mv_kv": -20.0}, "mv_kv"),
        ({"lv_kv": 0.0}, "lv_kv"),
        ({"mv_short_circuit_mva": float("inf")}, "mv_short_circuit_mva"),
        ({"source_voltage_pu": 0.0}, "source_voltage_pu"),
        ({"node_spacing_m": -1.0}, "node_spacing_m"),
        ({"main_cable": "NAYY 4x95 SE"}, "main_cable"),
        ({"service_cable": "copper"}, "service_cable"),
        ({"service_length_m": (30.0, 10.0)}, "service_length_m"),
        ({"service_length_m": (0.0, 10.0)}, "service_length_m"),
        ({"service_length_m": (10.0,)}, "service_length_m"),
    ],
)
def test_bad_design_fields_are_rejected_by_name(changes: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        LvFeederDesign(**{"n_households": 5, **changes})


@pytest.mark.parametrize("seed", [-1, 1.5, True])
def test_bad_seed_is_rejected(seed: object) -> None:
    with pytest.raises(ValueError, match="seed"):
        generate_lv_feeder(LvFeederDesign(n_households=2), seed=seed)  # type: ignore[arg-type]


# --- solved in OpenDSS ------------------------------------------------------------------------


def test_compiles_to_the_expected_circuit() -> None:
    n = 12
    feeder = generate_lv_feeder(LvFeederDesign(n_households=n, laterals=3), seed=4)
    dss.Text.Commands(feeder.dss_text)
    # mv, lv_busbar, one cabinet and one service bus per household.
    assert dss.Circuit.NumBuses() == 2 + 2 * n
    assert dss.Lines.Count() == 2 * n
    assert dss.Transformers.Count() == 1
    assert dss.Solution.Frequency() == pytest.approx(50.0)
    dss.Circuit.SetActiveBus("house_0000")
    assert dss.Bus.kVBase() == pytest.approx(0.4 / math.sqrt(3.0))
    dss.Circuit.SetActiveBus("mv")
    assert dss.Bus.kVBase() == pytest.approx(20.0 / math.sqrt(3.0))


@pytest.mark.parametrize("source_voltage_pu", [1.0, 1.03])
def test_no_load_voltages_equal_the_source_voltage(source_voltage_pu: float) -> None:
    design = LvFeederDesign(n_households=30, source_voltage_pu=source_voltage_pu)
    voltage_pu = _solve(generate_lv_feeder(design, seed=7), load_power_kw=0.0)
    # Without load only the iron-loss current (0.32 % of 250 kVA = 0.8 kW) and the cable charging
    # current (about 13 var per km of cable at 400 V) flow. 0.8 kW through the 100 MVA source and
    # the 1.44 % transformer resistance moves the voltage by about 0.0032 * 0.0144 = 5e-5 pu;
    # 1e-3 pu bounds this with a wide margin yet catches any wrong ratio or base (>= 0.5 %).
    assert np.abs(voltage_pu.to_numpy() - source_voltage_pu).max() < 1e-3


def test_single_household_voltage_drop_matches_hand_calculation() -> None:
    design = LvFeederDesign(n_households=1, laterals=1, service_length_m=(20.0, 20.0))
    feeder = generate_lv_feeder(design, seed=0)
    no_load_voltage_pu = _solve(feeder, load_power_kw=0.0)[0]
    voltage_pu = _solve(feeder, load_power_kw=2.0)[0]
    # A single-phase load on a Z0 = 4 Z1 cable sees the loop resistance Zs = (2 Z1 + Z0) / 3 =
    # 2 r1 per metre; through the Dyn transformer its phase sees the short-circuit resistance
    # (Z0 = Z1 from the LV side): 1.44 % of 0.4^2 / 0.25 ohm = 9.216 mohm. Reactances give only
    # second-order drops at pf = 1. Loop: 2 * 0.208 * 0.035 + 2 * 0.642 * 0.020 + 0.009216
    # = 0.014560 + 0.025680 + 0.009216 = 0.049456 ohm.
    base_v = 400.0 / math.sqrt(3.0)  # 230.94 V
    current_a = 2000.0 / (voltage_pu * base_v)  # 8.68 A
    resistance_ohm = 2 * 0.208 * 0.035 + 2 * 0.642 * 0.020 + 0.0144 * 0.4**2 / 0.25
    expected_drop_pu = current_a * resistance_ohm / base_v  # 1.858e-3 pu
    assert no_load_voltage_pu - voltage_pu == pytest.approx(expected_drop_pu, rel=0.01)


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


def test_substation_power_equals_loads_plus_losses() -> None:
    n = 36
    feeder = generate_lv_feeder(LvFeederDesign(n_households=n, laterals=3), seed=2)
    _solve(feeder, load_power_kw=2.0)
    substation_power_kw = -dss.Circuit.TotalPower()[0]
    losses_kw = dss.Circuit.Losses()[0] / 1000.0
    assert losses_kw > 0.8  # at least the transformer's iron losses
    assert substation_power_kw == pytest.approx(n * 2.0 + losses_kw, rel=1e-6)


def test_five_hundred_households_compile_and_converge() -> None:
    design = LvFeederDesign(n_households=500, laterals=10, transformer_kva=630.0)
    feeder = generate_lv_feeder(design, seed=0)
    voltage_pu = _solve(feeder, load_power_kw=0.5)
    assert dss.Circuit.NumBuses() == 2 + 2 * 500
    assert voltage_pu.between(0.85, 1.0).all()
