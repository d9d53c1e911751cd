"""Checking a scenario as ``tefed validate`` does: every problem of every stage in one pass.

Three stages find problems: validating the fields (pydantic), checking the data files the
scenario names, and building the federation (households placed on the feeder's buses and
phases, external households, the community battery's bus). The first two always run together;
building needs a valid scenario and a feeder file, and runs whenever it has them.

A federation that builds is then checked for plausibility (`tefed.build.plausibility`):
households on medium-voltage buses or with no distribution transformer before them, a source
set above 1.04 pu, a wholesale price file nothing reads. These are warnings, not problems: the
scenario runs.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tefed.build.builder import build_federation
from tefed.build.plausibility import feeder_warnings, price_warnings, role_config
from tefed.contract.errors import InputError
from tefed.contract.federation_file import FederationFile
from tefed.contract.role_configs import GridConfig
from tefed.domain.plausibility import PlausibilityWarning
from tefed.io.opendss.feeder_loader import load_feeder
from tefed.scenario.grid_spec import OpenDssFeederSpec
from tefed.scenario.household_spec import MEASURED_PROFILES, LoadSpec
from tefed.scenario.model import Scenario, bounded_problems, read_scenario


@dataclass(frozen=True)
class ScenarioCheck:
    """What checking a scenario file found.

    Attributes
    ----------
    source : str
        How messages name the file (and the bases it extends).
    scenario : Scenario or None
        The validated scenario; None when the fields have problems.
    problems : list of str
        Every problem, each naming its path in the file, the value and what was expected; empty
        when the scenario can be built and run.
    warnings : list of PlausibilityWarning
        What makes the built federation implausible (`tefed.build.plausibility`); empty when
        it does not build.
    federation : FederationFile or None
        The federation built for the check (measured load profiles replaced by generated
        ones, no network file written); None when it does not build.
    """

    source: str
    scenario: Scenario | None
    problems: list[str]
    warnings: list[PlausibilityWarning] = field(default_factory=list)
    federation: FederationFile | None = None


def check_scenario(
    path: str | Path,
    base_dir: Path,
    overrides: Mapping[str, Any] | None = None,
    with_warnings: bool = True,
) -> ScenarioCheck:
    """Check a scenario file through every stage, collecting the problems of each.

    Parameters
    ----------
    path : str or pathlib.Path
        The scenario file.
    base_dir : pathlib.Path
        Working directory the federation would run in (paths resolve against it when building).
    overrides : mapping of str to object, optional
        Dotted scenario paths and values applied to the file first (`tefed.scenario.overrides`).
    with_warnings : bool, default True
        Also compile the feeder for the plausibility warnings (False: problems only, as a
        sweep checks its points).

    Returns
    -------
    ScenarioCheck
        The scenario (if its fields are valid), every problem found and, when the federation
        builds, its plausibility warnings.
    """
    try:
        reading = read_scenario(path, overrides)
    except InputError as error:
        return ScenarioCheck(error.source, None, bounded_problems(error.problems))
    problems = list(reading.problems)
    scenario = reading.scenario
    warnings: list[PlausibilityWarning] = []
    federation: FederationFile | None = None
    if scenario is not None and _feeder_file_exists(scenario, reading.folder):
        try:
            federation = build_federation(
                _generated_loads(scenario),
                reading.folder,
                base_dir / "federation.json",
                base_dir,
                write_network=False,
            )
        except InputError as error:
            problems += [
                problem if problem.startswith(error.source) else f"{error.source}: {problem}"
                for problem in error.problems
            ]
        else:
            if with_warnings:
                try:
                    warnings = compiled_feeder_warnings(federation, base_dir) + price_warnings(
                        federation
                    )
                except ValueError as error:
                    problems.append(f"grid.feeder: {error}")
    return ScenarioCheck(reading.source, scenario, bounded_problems(problems), warnings, federation)


def _generated_loads(scenario: Scenario) -> Scenario:
    """``scenario`` with generated load profiles in place of measured ones.

    Reading the scenario has read the measured profiles and assigned them to households (and
    named every problem); building needs only the households (and the plausibility warnings
    only their buses and the prices), so it checks the rest even when a data file is bad,
    without reading the files again.
    """
    groups = [
        group.model_copy(update={"load": LoadSpec()})
        if group.load.profile in MEASURED_PROFILES
        else group
        for group in scenario.households
    ]
    return scenario.model_copy(update={"households": groups})


def _feeder_file_exists(scenario: Scenario, folder: Path) -> bool:
    feeder = scenario.grid.feeder
    return not isinstance(feeder, OpenDssFeederSpec) or (folder / feeder.dss).is_file()


def compiled_feeder_warnings(
    federation: FederationFile, base_dir: Path
) -> list[PlausibilityWarning]:
    """Warnings about the households' supply points and the source of a federation's feeder,
    compiled in an OpenDSS engine of its own.

    Parameters
    ----------
    federation : FederationFile
        A built federation (its grid entry's feeder and its household table).
    base_dir : pathlib.Path
        The federates' working directory (a relative OpenDSS master path resolves against it).

    Returns
    -------
    list of PlausibilityWarning
        `tefed.build.plausibility.feeder_warnings` of the households and the source; empty
        without a grid.

    Raises
    ------
    ValueError
        If the feeder does not compile (building it would have said so first).
    """
    # Here: OpenDSS loads only for these warnings (a sweep checks its points without them).
    from tefed.io.opendss.model import network_source, supply_points

    grid = role_config(federation, "grid")
    if not isinstance(grid, GridConfig):
        return []
    engine = _checking_engine()
    load_feeder(grid.feeder, base_dir, engine=engine)
    table = federation.households_frame()
    supply = supply_points(table["bus"].tolist(), engine)
    supply.insert(0, "bus", table["bus"].astype(str).str.lower().to_numpy())
    supply.insert(0, "household_id", table["household_id"].to_numpy())
    source_bus, source_voltage_pu = network_source(engine)
    return feeder_warnings(federation, supply, source_bus, source_voltage_pu)


@functools.cache
def _checking_engine() -> Any:
    """The one OpenDSS engine of its own that every check of this process compiles into.

    An engine is never freed (each new one keeps about 10 MB with the IEEE European LV feeder),
    so a sweep checking hundreds of points reuses one; compiling clears it first.
    """
    from tefed.io.opendss.network_extraction import separate_engine

    return separate_engine()
