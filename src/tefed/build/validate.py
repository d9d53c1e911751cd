"""Checking a scenario as ``tefed validate`` does: every problem of every stage in one pass.

Three stages find problems: validating the fields (pydantic), checking the data files the
scenario names, and building the federation (households placed on the feeder's buses and
phases, external households, the community battery's bus). The first two always run together;
building needs a valid scenario and a feeder file, and runs whenever it has them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tefed.build.builder import build_federation
from tefed.contract.errors import InputError
from tefed.scenario.grid_spec import OpenDssFeederSpec
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
    """

    source: str
    scenario: Scenario | None
    problems: list[str]


def check_scenario(
    path: str | Path, base_dir: Path, overrides: Mapping[str, Any] | None = None
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

    Returns
    -------
    ScenarioCheck
        The scenario (if its fields are valid) and every problem found.
    """
    try:
        reading = read_scenario(path, overrides)
    except InputError as error:
        return ScenarioCheck(error.source, None, bounded_problems(error.problems))
    problems = list(reading.problems)
    scenario = reading.scenario
    if scenario is not None and _feeder_file_exists(scenario, reading.folder):
        try:
            build_federation(
                scenario,
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
    return ScenarioCheck(reading.source, scenario, bounded_problems(problems))


def _feeder_file_exists(scenario: Scenario, folder: Path) -> bool:
    feeder = scenario.grid.feeder
    return not isinstance(feeder, OpenDssFeederSpec) or (folder / feeder.dss).is_file()
