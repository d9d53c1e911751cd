"""The energy balance of a run on an OpenDSS feeder that keeps (or scales) its own loads.

The substation supplies the households, the feeder's own loads and the losses: the grid records
the power the feeder's own loads draw at every step (``grid.parquet``'s ``feeder_loads_kw``) and
the summary's balance counts it. The feeder is written by the test (no ``../shared``): a source,
a transformer to a 0.4 kV busbar and a street, with own loads of constant power, constant
impedance and constant current, so what they draw depends on the voltage.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from federations import lockstep_run, short_scenario_data, write_federation

from tefed.analysis.run_tables import read_run_tables
from tefed.analysis.summary import compute_summary
from tefed.contract.federation_file import FederationFile
from tefed.contract.role_configs import OpenDssFeederConfig
from tefed.io.opendss.engine import OpenDssFeeder
from tefed.io.opendss.feeder_loader import load_feeder

#: The feeder's own loads at nominal voltage [kW]: 9 (three-phase) + 8 + 6 + 4 (one per phase).
OWN_LOADS_KW = 27.0


def feeder_with_own_loads(path: Path) -> Path:
    """Write a small OpenDSS feeder with four loads of its own (27 kW at nominal voltage)."""
    phase_kv = 0.4 / np.sqrt(3.0)
    lines = [
        "Clear",
        "New Circuit.own bus1=src basekv=11 pu=1.0 phases=3 MVAsc3=100 MVAsc1=100",
        "New Transformer.t1 phases=3 windings=2 buses=[src lv] conns=[delta wye] "
        "kvs=[11 0.4] kvas=[250 250] %r=1 xhl=4",
        "New Line.street bus1=lv bus2=street phases=3 r1=0.2 x1=0.08 r0=0.8 x0=0.3 "
        "length=0.3 units=km",
        "Set VoltageBases=[11 0.4]",
        "CalcVoltageBases",
        "New Load.shop bus1=lv phases=3 kV=0.4 kW=9 kvar=3 model=1",
        f"New Load.pq bus1=street.1 phases=1 kV={phase_kv:.6f} kW=8 kvar=2 model=1",
        f"New Load.z bus1=street.2 phases=1 kV={phase_kv:.6f} kW=6 kvar=1 model=2",
        f"New Load.i bus1=street.3 phases=1 kV={phase_kv:.6f} kW=4 kvar=0 model=5",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def attached_feeder(tmp_path: Path, existing_loads: str, scale: float = 1.0) -> OpenDssFeeder:
    """The test feeder compiled with three households on the street, one per phase."""
    loaded = load_feeder(
        OpenDssFeederConfig(
            source="opendss",
            master=str(feeder_with_own_loads(tmp_path / "own.dss")),
            commands=[],
            regulators="automatic",
            existing_loads=existing_loads,
            existing_load_scale=scale,
        )
    )
    households = pd.DataFrame(
        {"name": ["ha", "hb", "hc"], "bus": "street", "phase": [1, 2, 3], "connection": "ln"}
    )
    return OpenDssFeeder(households, loaded.existing_loads, loaded.existing_load_scale, (0.7, 1.3))


@pytest.mark.parametrize(
    ("existing_loads", "scale", "nominal_kw"),
    [("keep", 1.0, OWN_LOADS_KW), ("scale", 0.5, OWN_LOADS_KW / 2), ("replace", 1.0, 0.0)],
)
def test_power_flow_reports_what_the_feeders_own_loads_draw(
    tmp_path: Path, existing_loads: str, scale: float, nominal_kw: float
) -> None:
    feeder = attached_feeder(tmp_path, existing_loads, scale)
    household_kw = np.array([3.0, -2.0, 5.0])
    state = feeder.solve(household_kw, np.zeros(3))
    assert state.converged
    # Constant-impedance and constant-current loads draw a little less below nominal voltage.
    assert state.feeder_loads_kw == pytest.approx(nominal_kw, rel=0.05, abs=1e-9)
    # The substation supplies the households, the feeder's own loads and the losses.
    supplied_kw = household_kw.sum() + state.feeder_loads_kw + state.losses_kw
    assert state.substation_power_kw == pytest.approx(supplied_kw, abs=1e-3)


@pytest.fixture(scope="module", params=[("keep", 1.0), ("scale", 0.5)], ids=["keep", "scale"])
def own_loads_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """A one-hour lockstep run of the short default scenario on the test feeder, its own loads
    kept or scaled; returns the run folder and the scale."""
    existing_loads, scale = request.param
    folder = tmp_path_factory.mktemp(f"own_loads_{existing_loads}")
    feeder_with_own_loads(folder / "own.dss")
    data = short_scenario_data(
        grid__feeder={
            "dss": "own.dss",
            "existing_loads": existing_loads,
            "existing_load_scale": scale,
            "placement": "balanced",
        }
    )
    data["time"]["duration_s"] = 3600
    return lockstep_run(write_federation(folder, data), folder / "run"), scale


def test_grid_records_the_power_of_the_feeders_own_loads(own_loads_run) -> None:
    run, scale = own_loads_run
    grid = pd.read_parquet(run.file("grid.parquet"))
    assert grid["converged"].all()
    assert grid["feeder_loads_kw"].to_numpy() == pytest.approx(scale * OWN_LOADS_KW, rel=0.05)


def test_energy_balance_holds_with_the_feeders_own_loads(own_loads_run) -> None:
    run, _ = own_loads_run
    checks = run.read_json("summary.json")["checks"]
    assert checks["energy_balance_ok"]
    assert checks["energy_balance_max_abs_error_wh"] < 0.05
    assert checks["energy_balance_max_abs_error_wh"] <= checks["energy_balance_tolerance_wh"]


def test_energy_balance_finds_a_wrong_record_of_the_feeders_own_loads(own_loads_run) -> None:
    run, _ = own_loads_run
    federation = FederationFile.model_validate(run.read_json("federation.json"))
    tables = read_run_tables(run)
    grid = tables["grid"].copy()
    # 1.2 kW too little for one 60 s step is 20 Wh the balance cannot account for.
    grid.loc[5, "feeder_loads_kw"] -= 1.2
    checks = compute_summary(federation, {**tables, "grid": grid})["checks"]
    assert not checks["energy_balance_ok"]
    assert checks["energy_balance_max_abs_error_wh"] == pytest.approx(20.0, abs=0.05)
