"""The grid federate's logic on real OpenDSS feeders, stepped directly (no HELICS)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from federations import SHARED, lockstep_run, short_scenario_data, write_federation

from tefed.analysis.run_tables import read_run_tables
from tefed.cli import main
from tefed.contract import keys
from tefed.contract.errors import InputError
from tefed.contract.federation_file import load_federation_file
from tefed.contract.logic import FederateContext, StepInputs
from tefed.contract.role_configs import OpenDssFeederConfig
from tefed.contract.run_folder import RunFolder
from tefed.federates.grid.logic import GridFederate
from tefed.io.opendss.engine import OpenDssFeeder
from tefed.io.opendss.feeder_loader import load_feeder

IEEE13 = SHARED / "feeders" / "13Bus" / "IEEE13Nodeckt.dss"
needs_ieee13 = pytest.mark.skipif(not IEEE13.is_file(), reason=f"{IEEE13} not found")


def grid_logic(folder: Path, data: dict) -> tuple[GridFederate, list[str]]:
    """The grid federate of a scenario (one ems shard), initialized; returns it and the
    household ids in the order of the shard's vectors."""
    path = write_federation(folder, data)
    federation = load_federation_file(path)
    logic = GridFederate()
    logic.initialize(
        FederateContext(
            name="grid", federation=federation, entry=federation.entry("grid"), base_dir=folder
        )
    )
    return logic, federation.entry("ems").tefed.config["households"]


def inputs(
    household_ids: list[str], power_kw: np.ndarray | float, reactive_kvar: float | None = None
) -> StepInputs:
    """The ems shard's vectors: every household's power [kW] (and reactive power [kvar])."""
    count = len(household_ids)
    values = {keys.shard_power("ems"): np.broadcast_to(np.asarray(power_kw, float), (count,))}
    if reactive_kvar is not None:
        values[keys.shard_reactive_power("ems")] = np.full(count, reactive_kvar)
    return StepInputs(values=values)


def test_split_phase_households_see_240_v_service_voltage(tmp_path: Path) -> None:
    data = short_scenario_data(grid__feeder={"generator": "split_phase_lv"})
    logic, power_keys = grid_logic(tmp_path, data)
    idle = logic.step(0, inputs(power_keys, 0.0)).values
    loaded = logic.step(60, inputs(power_keys, 5.0)).values
    idle_pu = idle[keys.HOUSEHOLD_VOLTAGES]
    loaded_pu = loaded[keys.HOUSEHOLD_VOLTAGES]
    # No load: every secondary sits at the source voltage (1.0 pu) to within the charging rise.
    np.testing.assert_allclose(idle_pu, 1.0, atol=2e-3)
    # 5 kW per house at 240 V is about 21 A per service: a drop of a percent or two.
    assert np.all(loaded_pu < idle_pu - 0.003) and np.all(loaded_pu > 0.95)
    assert loaded[keys.SUBSTATION_POWER] > 5.0 * len(power_keys)
    logic.finalize(RunFolder(tmp_path / "run"))
    attached = pd.read_parquet(tmp_path / "run" / "feeder_households.parquet")
    assert set(attached["connection"]) == {"split"}


def test_non_finite_power_is_an_error_naming_the_household(tmp_path: Path) -> None:
    logic, power_keys = grid_logic(tmp_path, short_scenario_data())
    power_kw = np.zeros(len(power_keys))
    power_kw[3] = np.nan
    with pytest.raises(ValueError, match=rf"ems/ems/power_kw.*\['{power_keys[3]}'\]"):
        logic.step(0, inputs(power_keys, power_kw))


#: A small LV feeder on which OpenDSS may iterate only twice: a jump in load cannot converge.
TWO_ITERATION_FEEDER = """Clear
New Circuit.weak bus1=src basekv=0.4 pu=1.0 phases=3 MVAsc3=0.5 MVAsc1=0.5
New Line.main bus1=src bus2=street phases=3 r1=0.3 x1=0.08 r0=1.2 x0=0.32 length=0.4 units=km
Set VoltageBases=[0.4]
CalcVoltageBases
New Load.street bus1=street.1 phases=1 kV=0.230940 kW=1 kvar=0
Set MaxIterations=2
"""


@pytest.mark.parametrize("policy", ["continue", "stop"])
def test_a_power_flow_that_does_not_converge_is_recorded(tmp_path: Path, policy: str) -> None:
    (tmp_path / "weak.dss").write_text(TWO_ITERATION_FEEDER)
    data = short_scenario_data(
        grid__on_nonconvergence=policy,
        grid__feeder={"dss": "weak.dss", "placement": "proportional"},
    )
    logic, power_keys = grid_logic(tmp_path, data)
    first = logic.step(0, inputs(power_keys, 0.1)).values
    if policy == "stop":
        with pytest.raises(RuntimeError, match="did not converge at t=60 s"):
            logic.step(60, inputs(power_keys, 8.0))
        return
    failed = logic.step(60, inputs(power_keys, 8.0)).values
    key = keys.HOUSEHOLD_VOLTAGES
    # The last converged voltages are published again.
    np.testing.assert_array_equal(failed[key], first[key])
    logic.finalize(RunFolder(tmp_path / "run"))
    grid = pd.read_parquet(tmp_path / "run" / "grid.parquet")
    assert grid["converged"].head(2).tolist() == [True, False]
    assert np.isnan(grid.loc[1, "substation_power_kw"])


def test_regulator_taps_move_under_automatic_control_and_are_counted(tmp_path: Path) -> None:
    if not IEEE13.is_file():
        pytest.skip(f"{IEEE13} not found")
    data = short_scenario_data(
        grid__feeder={"dss": str(IEEE13), "existing_loads": "keep", "placement": "balanced"}
    )
    logic, power_keys = grid_logic(tmp_path, data)
    for step, power_kw in enumerate([0.0, 0.0, 300.0, 300.0, -200.0]):
        logic.step(60 * step, inputs(power_keys, power_kw))
    logic.finalize(RunFolder(tmp_path / "run"))
    taps = pd.read_parquet(tmp_path / "run" / "grid_taps.parquet")
    assert list(taps.columns) == ["time_s", "reg1", "reg2", "reg3"]
    moved = taps[["reg1", "reg2", "reg3"]].head(5).diff().abs().sum().sum()
    assert moved > 0


@needs_ieee13
@pytest.mark.parametrize(
    ("existing_loads", "scale", "expected_kw"),
    [("keep", 1.0, 3466.0), ("scale", 0.5, 1733.0), ("replace", 1.0, 0.0)],
)
def test_existing_loads_kept_scaled_or_replaced(
    existing_loads: str, scale: float, expected_kw: float
) -> None:
    loaded = load_feeder(
        OpenDssFeederConfig(
            source="opendss",
            master=str(IEEE13),
            commands=[],
            regulators="automatic",
            existing_loads=existing_loads,
            existing_load_scale=scale,
        )
    )
    households = pd.DataFrame(
        {"name": ["hh_a", "hh_b"], "bus": ["634", "675"], "phase": [1, 3], "connection": "ln"}
    )
    feeder = OpenDssFeeder(
        households, loaded.existing_loads, loaded.existing_load_scale, (0.7, 1.3)
    )
    state = feeder.solve(np.array([10.0, 20.0]), np.zeros(2))
    served_kw = state.substation_power_kw - state.losses_kw
    # The IEEE 13-node loads total 3,466 kW at nominal voltage; some are constant impedance or
    # current, so the power drawn differs from the nameplate by a few percent.
    assert served_kw == pytest.approx(expected_kw + 30.0, rel=0.05, abs=1.0)


@needs_ieee13
def test_household_on_a_missing_bus_or_phase_names_both(tmp_path: Path, capsys) -> None:
    data = short_scenario_data(
        grid__feeder={
            "dss": str(IEEE13),
            "placement": "explicit",
            "household_nodes": ["634.A"] * 10 + ["999.A", "645.A"],
        }
    )
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(yaml.safe_dump(data))
    assert main(["validate", str(scenario)]) == 2
    error = " ".join(capsys.readouterr().err.split())
    assert "bus '999' is not in the feeder" in error
    assert "bus '645' has no phase A" in error


def test_zero_households_and_missing_feeder_are_input_errors(tmp_path: Path) -> None:
    data = short_scenario_data(grid__feeder={"dss": "nowhere.dss"})
    expected = re.escape("grid.feeder.dss: got 'nowhere.dss'; no such file")
    with pytest.raises(InputError, match=expected):
        write_federation(tmp_path / "missing", data)
    with pytest.raises(InputError, match="households"):
        write_federation(tmp_path / "empty", short_scenario_data(households=[]))


def test_powerflow_of_a_scenario_attaches_its_households(tmp_path: Path) -> None:
    out = tmp_path / "voltages.csv"
    scenario = Path(__file__).resolve().parents[2] / "scenarios" / "default.yaml"
    assert main(["powerflow", "--scenario", str(scenario), "--out", str(out)]) == 0
    table = pd.read_csv(out)
    houses = table[table["node"].str.startswith("house_")]
    assert len(houses) == 12  # one node per house: the household's own phase
    assert houses["vmag_pu"].between(1.0, 1.03).all()


def test_powerflow_of_a_feeder_without_voltage_bases_is_refused(tmp_path: Path, capsys) -> None:
    # It solves, but no bus has a per-unit voltage: the CSV would have an empty vmag_pu.
    dss = tmp_path / "no_bases.dss"
    dss.write_text(
        "clear\nnew circuit.bare basekv=0.4\n"
        "new line.l1 bus1=sourcebus bus2=b2 length=0.1 units=km\n"
        "new load.l bus1=b2 kw=10 kv=0.4\n"
    )
    out = tmp_path / "voltages.csv"
    assert main(["powerflow", "--dss", str(dss), "--out", str(out)]) == 2
    refusal = capsys.readouterr().err
    assert "the feeder has no voltage bases: add 'Set VoltageBases=[...]'" in refusal
    assert not out.exists()
    dss.write_text(dss.read_text() + "set voltagebases=[0.4]\ncalcvoltagebases\n")
    assert main(["powerflow", "--dss", str(dss), "--out", str(out)]) == 0
    assert pd.read_csv(out)["vmag_pu"].between(0.9, 1.1).all()


def test_reactive_power_from_each_households_power_factor(tmp_path: Path) -> None:
    data = short_scenario_data()
    data["households"] = [
        {"group": "unity", "count": 3, "load_daily_energy_kwh": 10},
        {"group": "motors", "count": 3, "load_daily_energy_kwh": 10, "power_factor": 0.8},
    ]
    logic, power_keys = grid_logic(tmp_path, data)
    idle = logic.step(0, inputs(power_keys, 0.0)).values[keys.SUBSTATION_REACTIVE_POWER]
    importing = logic.step(60, inputs(power_keys, 2.0)).values[keys.SUBSTATION_REACTIVE_POWER]
    exporting = logic.step(120, inputs(power_keys, -2.0)).values[keys.SUBSTATION_REACTIVE_POWER]
    # Against the idle feeder (whose MV cable charging supplies a few kvar): tan(acos(0.8)) =
    # 0.75, so three households importing 2 kW draw 3 × 1.5 kvar, plus the cables' own reactive
    # losses. Exporting inverters run at unity power factor.
    assert importing - idle == pytest.approx(4.5, abs=0.15)
    assert abs(exporting - idle) < 0.1


def test_published_reactive_power_is_applied_as_given(tmp_path: Path) -> None:
    logic, power_keys = grid_logic(tmp_path, short_scenario_data(grid__reactive_power="published"))
    reactive = keys.SUBSTATION_REACTIVE_POWER
    without = logic.step(0, inputs(power_keys, 1.0, reactive_kvar=0.0)).values[reactive]
    injecting = logic.step(60, inputs(power_keys, 1.0, reactive_kvar=-0.5)).values[reactive]
    # Twelve households injecting 0.5 kvar each (a volt-var inverter, say): 6 kvar less.
    assert injecting - without == pytest.approx(-6.0, abs=0.1)
    missing = inputs(power_keys, 1.0, reactive_kvar=0.0)
    missing.values[keys.shard_reactive_power("ems")][2] = float("nan")
    with pytest.raises(ValueError, match=rf"reactive_power_kvar.*\['{power_keys[2]}'\]"):
        logic.step(120, missing)


def test_built_in_households_publish_reactive_power_when_asked(tmp_path: Path) -> None:
    data = short_scenario_data(grid__reactive_power="published", grid__household_power_factor=0.9)
    run = lockstep_run(write_federation(tmp_path, data), tmp_path / "run")
    grid = pd.read_parquet(run.path / "grid.parquet")
    households = read_run_tables(run)["households"]
    imported_kw = households["power_kw"].clip(lower=0).groupby(households["time_s"]).sum()
    # Whatever the households import, they draw tan(acos(0.9)) = 0.4843 kvar per kW with it;
    # the feeder's cables (charging of the MV cable above all) add a nearly constant offset.
    drawn_kvar = grid["substation_reactive_power_kvar"].to_numpy()
    expected_kvar = imported_kw.to_numpy() * np.tan(np.arccos(0.9))
    offset = drawn_kvar - expected_kvar
    assert np.ptp(offset) < 0.3
    assert np.ptp(expected_kvar) > 1.0  # the households' kvar does vary over the run


@needs_ieee13
def test_ieee13_unbalance_matches_a_hand_calculation_from_the_published_phasors() -> None:
    """The grid's unbalance factor at the published operating point (published regulator taps,
    the feeder's own loads, one idle household) against symmetrical components computed by hand from
    the IEEE 13-node report's voltages, at every three-phase bus it lists."""
    published = pd.read_csv(IEEE13.parent / "published-voltages.csv", dtype={"node": str})
    loaded = load_feeder(
        OpenDssFeederConfig(
            source="opendss",
            master=str(IEEE13),
            commands=[
                "Transformer.Reg1.Taps=[1.0 1.0625]",
                "Transformer.Reg2.Taps=[1.0 1.0500]",
                "Transformer.Reg3.Taps=[1.0 1.0687]",
            ],
            regulators="locked",
            existing_loads="keep",
            existing_load_scale=1.0,
        )
    )
    # One household drawing nothing: the feeder's own loads make the published case.
    idle = pd.DataFrame({"name": ["hh"], "bus": ["634"], "phase": [1], "connection": "ln"})
    feeder = OpenDssFeeder(idle, loaded.existing_loads, loaded.existing_load_scale, (0.7, 1.3))
    state = feeder.solve(np.zeros(1), np.zeros(1))
    computed = dict(zip(feeder.three_phase_buses, state.unbalance_pct, strict=True))
    a = np.exp(2j * np.pi / 3)
    checked = []
    for node, rows in published.groupby("node"):
        if set(rows["phase"]) != {"A", "B", "C"} or node.lower() not in computed:
            continue
        phasor = {
            row.phase: row.vmag_pu * np.exp(1j * np.deg2rad(row.angle_deg))
            for row in rows.itertuples()
        }
        positive = (phasor["A"] + a * phasor["B"] + a**2 * phasor["C"]) / 3
        negative = (phasor["A"] + a**2 * phasor["B"] + a * phasor["C"]) / 3
        by_hand_pct = abs(negative) / abs(positive) * 100
        # The report gives magnitudes to 0.001 pu and angles to 0.01°: about 0.05 % of unbalance.
        assert computed[node.lower()] == pytest.approx(by_hand_pct, abs=0.06), node
        assert by_hand_pct < 5.0, node  # a few percent on this feeder, never thousands
        checked.append(node)
    assert {"632", "671", "675", "633"} <= set(checked)
