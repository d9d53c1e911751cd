"""``tefed powerflow``: one snapshot power flow of a feeder, loaded as the grid federate loads it.

For validation against published test-feeder results: the feeder goes through the same loader
(`tefed.io.opendss.feeder_loader`) and engine as in a run, and the bus voltages come out as a table
``node, phase, vmag_pu, angle_deg`` with phases named A/B/C as in the IEEE test-feeder reports.
Without a scenario the feeder keeps its own loads and no household is attached; with a scenario,
its households are attached as the run would attach them, drawing no power.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tefed.build.builder import build_federation
from tefed.contract.errors import InputError
from tefed.contract.role_configs import OpenDssFeederConfig, read_role_config
from tefed.io.opendss.engine import NO_VOLTAGE_BASES, OpenDssFeeder
from tefed.io.opendss.feeder_loader import household_attachment, load_feeder
from tefed.io.opendss.model import node_voltage_table, solve_snapshot
from tefed.scenario.model import load_scenario


def feeder_powerflow(
    dss_path: Path | None,
    commands: list[str],
    regulators: str,
    scenario_path: Path | None = None,
) -> tuple[pd.DataFrame, bool]:
    """Solve one snapshot and return every node's voltage and whether OpenDSS converged.

    Parameters
    ----------
    dss_path : pathlib.Path or None
        OpenDSS master file (ignored when a scenario is given).
    commands : list of str
        OpenDSS commands applied after compiling (appended to the scenario's own).
    regulators : {"automatic", "locked"}
        Regulator control during the solve (a scenario's own setting wins when given).
    scenario_path : pathlib.Path, optional
        Scenario whose feeder and households to load.

    Returns
    -------
    tuple of (pandas.DataFrame, bool)
        Columns ``node``, ``phase``, ``vmag_pu`` [pu], ``angle_deg`` [degrees]; convergence.

    Raises
    ------
    InputError
        If the feeder cannot be loaded (OpenDSS's own message, with file and line).
    """
    if scenario_path is not None:
        return _scenario_powerflow(scenario_path, commands)
    if dss_path is None:
        raise InputError("tefed powerflow", ["give --dss PATH or --scenario PATH"])
    feeder = OpenDssFeederConfig(
        source="opendss",
        master=str(dss_path),
        commands=commands,
        regulators=regulators,
        existing_loads="keep",
        existing_load_scale=1.0,
    )
    try:
        load_feeder(feeder)
    except ValueError as error:
        raise InputError(str(dss_path), [str(error)]) from None
    converged = solve_snapshot()
    table = node_voltage_table()
    if len(table) and table["vmag_pu"].isna().all():
        # No per-unit voltage to report: refused as a run's grid federate refuses the feeder.
        raise InputError(str(dss_path), [NO_VOLTAGE_BASES])
    return table, converged


def _scenario_powerflow(scenario_path: Path, commands: list[str]) -> tuple[pd.DataFrame, bool]:
    scenario, scenario_dir = load_scenario(scenario_path)
    base_dir = Path.cwd()
    federation = build_federation(
        scenario, scenario_dir, base_dir / "federation.json", base_dir, write_network=False
    )
    config = read_role_config("grid", federation.entry("grid").tefed.config, "grid")
    feeder = config.feeder
    if isinstance(feeder, OpenDssFeederConfig):
        feeder = feeder.model_copy(update={"commands": [*feeder.commands, *commands]})
    elif commands:
        raise InputError(
            "--command",
            ["OpenDSS commands apply to an OpenDSS feeder; this scenario's feeder is generated"],
        )
    try:
        loaded = load_feeder(feeder, base_dir)
    except ValueError as error:
        raise InputError(str(scenario_path), [str(error)]) from None
    households = household_attachment(federation.households_frame())
    attached = OpenDssFeeder(
        households,
        loaded.existing_loads,
        loaded.existing_load_scale,
        config.constant_power_voltage_range_pu,
    )
    zero_kw = np.zeros(len(households))
    state = attached.solve(zero_kw, zero_kw)
    return node_voltage_table(), state.converged
