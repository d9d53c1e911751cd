"""A sweep's points: the overrides of each run, each point checked and given a stable run id.

The points are the product of the grid's combinations, the zipped lists, the samples and the
replicate seeds, in that order of nesting (the seeds vary fastest). A run id is the start of the
SHA-256 of the point's resolved scenario (validated, with every default filled in, as sorted
JSON): the same scenario has the same id in every sweep and on every machine, so a rerun finds
the runs that are already complete.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tefed.build.validate import check_scenario
from tefed.contract.errors import InputError
from tefed.scenario.files import PATH_FIELDS
from tefed.scenario.model import Scenario
from tefed.sweep.sweep_file import SEED_PATH, SampleSpec, SweepFile

#: Hex digits of the SHA-256 kept in a run id.
RUN_ID_DIGITS = 12


#: The value an unknown key was given, in a problem of `tefed.contract.errors` (a swept key's
#: value differs between points; the point it is named at shows it).
_UNKNOWN_KEY_VALUE = re.compile(r"unknown key \(value .*\); remove or rename it$")


@dataclass(frozen=True)
class SweepPoint:
    """One run of a sweep.

    Attributes
    ----------
    run_id : str
        Stable id from the resolved scenario (`scenario_run_id`).
    parameters : dict
        The varied dotted paths and their values at this point.
    overrides : dict
        Every override of the run: the sweep's ``set`` and then ``parameters``.
    scenario : Scenario
        The resolved, validated scenario.
    inputs : str
        `input_files_fingerprint` of the data files it reads, when it was checked.
    """

    run_id: str
    parameters: dict[str, Any]
    overrides: dict[str, Any]
    scenario: Scenario
    inputs: str = ""


def parameter_rows(sweep: SweepFile) -> list[dict[str, Any]]:
    """The varied paths' values of every run, grid × zip × samples × seeds.

    Examples
    --------
    >>> sweep = SweepFile.model_validate({"base": "b.yaml", "grid": {"a": [1, 2], "b": ["x", "y"]},
    ...                                   "zip": {"c": [1, 2, 3], "d": [4, 5, 6]}, "seeds": [7, 8]})
    >>> rows = parameter_rows(sweep)
    >>> len(rows)  # 2 · 2 grid combinations, 3 zipped, 2 seeds
    24
    >>> rows[0], rows[-1]
    ({'a': 1, 'b': 'x', 'c': 1, 'd': 4, 'seed': 7}, {'a': 2, 'b': 'y', 'c': 3, 'd': 6, 'seed': 8})
    """
    grid = [dict(zip(sweep.grid, values, strict=True)) for values in _grid_values(sweep)]
    zipped = [
        dict(zip(sweep.zipped, values, strict=True))
        for values in zip(*sweep.zipped.values(), strict=True)
    ]
    sampled = sample_rows(sweep.samples) if sweep.samples is not None else []
    seeds = [{SEED_PATH: seed} for seed in sweep.seeds]
    parts = [part or [{}] for part in (grid, zipped, sampled, seeds)]
    return [
        {key: value for row in combination for key, value in row.items()}
        for combination in itertools.product(*parts)
    ]


def _grid_values(sweep: SweepFile) -> Iterator[tuple[Any, ...]]:
    return itertools.product(*sweep.grid.values()) if sweep.grid else iter(())


def sample_rows(samples: SampleSpec) -> list[dict[str, Any]]:
    """``samples.count`` draws from ``samples.ranges``, Latin-hypercube or independent uniform.

    A unit draw ``u`` in [0, 1) maps to ``low + u · (high − low)``; a range of two integers maps
    to ``floor(low + u · (high − low + 1))``, each integer equally likely, both bounds included.
    A Latin hypercube (McKay, Beckman & Conover 1979, doi:10.1080/00401706.1979.10489755) puts
    exactly one draw in each of the ``count`` equal slices of every range.

    Examples
    --------
    >>> spec = SampleSpec(count=4, method="lhs", seed=3, ranges={"x": (0.0, 1.0), "n": (1, 4)})
    >>> rows = sample_rows(spec)
    >>> sorted(int(row["x"] * 4) for row in rows), sorted(row["n"] for row in rows)
    ([0, 1, 2, 3], [1, 2, 3, 4])
    """
    dimensions = len(samples.ranges)
    if samples.method == "lhs":
        # scipy.stats loads only for Latin-hypercube samples: about a second of every sweep's
        # start otherwise.
        from scipy.stats import qmc

        unit = qmc.LatinHypercube(d=dimensions, rng=np.random.default_rng(samples.seed))
        draws = unit.random(samples.count)
    else:
        draws = np.random.default_rng(samples.seed).random((samples.count, dimensions))
    rows: list[dict[str, Any]] = [{} for _ in range(samples.count)]
    for column, (path, (low, high)) in enumerate(samples.ranges.items()):
        unit_values = draws[:, column]
        if isinstance(low, int) and isinstance(high, int):
            values = np.minimum(np.floor(low + unit_values * (high - low + 1)), high)
            for row, value in zip(rows, values, strict=True):
                row[path] = int(value)
        else:
            for row, value in zip(rows, low + unit_values * (high - low), strict=True):
                row[path] = float(value)
    return rows


def scenario_run_id(scenario: Scenario) -> str:
    """Stable id of a resolved scenario: SHA-256 of its sorted JSON, first 12 hex digits."""
    text = json.dumps(scenario.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:RUN_ID_DIGITS]


#: Most files of one data folder that a fingerprint looks at [-] (a feeder's folder with its
#: load shapes has a few hundred).
FINGERPRINT_MAX_FILES = 20_000


def input_files_fingerprint(
    scenario: Scenario,
    scenario_dir: Path,
    seen: dict[Path, list[tuple[str, int, int]]] | None = None,
) -> str:
    """A fingerprint of the data files a scenario reads: each one's path, size and
    modification time (SHA-256, first 12 hex digits).

    The files are those its path fields name (`tefed.scenario.files.PATH_FIELDS`, the results
    root aside): a price or weather file, a load profile file or folder, and for an OpenDSS
    feeder every file in its master file's folder and below (the files it redirects to, its
    load shapes). A file changed since a run, or added or removed there, changes it.

    Parameters
    ----------
    scenario : Scenario
        A resolved scenario.
    scenario_dir : pathlib.Path
        The folder its relative paths resolve against.
    seen : dict, optional
        Listings already made, by folder (reused across the points of one sweep).

    Returns
    -------
    str
        12 hex digits; the same for the same files, unchanged.
    """
    seen = {} if seen is None else seen
    listing: list[tuple[str, int, int]] = []
    for value, is_feeder in _data_paths(scenario):
        path = (scenario_dir / value).resolve()
        folder = path.parent if is_feeder else path
        if folder.is_dir():
            if folder not in seen:
                files = sorted(file for file in folder.rglob("*") if file.is_file())
                seen[folder] = [_stat(file) for file in files[:FINGERPRINT_MAX_FILES]]
            listing += seen[folder]
        if path.is_file():
            listing.append(_stat(path))
    text = json.dumps(sorted(set(listing)), separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:RUN_ID_DIGITS]


def _data_paths(scenario: Scenario) -> Iterator[tuple[str, bool]]:
    """The data paths a scenario names, each with whether it is an OpenDSS master file."""
    data = scenario.model_dump(mode="json")
    for fields in PATH_FIELDS:
        if fields[0] == "run":
            continue
        values: list[Any] = [data]
        for field in fields:
            values = [
                item
                for value in values
                for item in (
                    value
                    if field == "*" and isinstance(value, list)
                    else [value.get(field)]
                    if isinstance(value, dict)
                    else []
                )
            ]
        for value in values:
            if isinstance(value, str):
                yield value, fields == ("grid", "feeder", "dss")


def _stat(file: Path) -> tuple[str, int, int]:
    """A file's path, size [bytes] and modification time [ns]."""
    status = file.stat()
    return str(file), status.st_size, status.st_mtime_ns


def resolve_points(sweep: SweepFile, base_path: Path, base_dir: Path) -> list[SweepPoint]:
    """Every point of the sweep, each checked as ``tefed validate`` checks a scenario (its
    problems; plausibility warnings are ``tefed validate``'s, of the base).

    Parameters
    ----------
    sweep : SweepFile
        The validated sweep file.
    base_path : pathlib.Path
        The base scenario file (resolved against the sweep file's folder).
    base_dir : pathlib.Path
        Working directory of the check (as for `tefed.build.validate.check_scenario`).

    Raises
    ------
    InputError
        Naming every problem of every point; a problem shared by several points is named once,
        with the first point that has it and how many do. Two points that resolve to the same
        scenario are a problem too.
    """
    problems: dict[str, list[str]] = {}
    points: list[SweepPoint] = []
    seen: dict[Path, list[tuple[str, int, int]]] = {}
    for parameters in parameter_rows(sweep):
        overrides = {**sweep.fixed, **parameters}
        check = check_scenario(base_path, base_dir, overrides, with_warnings=False)
        described = ", ".join(f"{path}={value!r}" for path, value in parameters.items())
        found = list(check.problems)
        if sweep.engine == "lockstep" and check.federation is not None:
            found += [
                f"engine: lockstep steps only tefed's built-in federates; federates[{name}] "
                f"runs {check.federation.entry(name).exec!r} (use engine: helics)"
                for name in check.federation.external_federates()
            ]
        for problem in found:
            # An unknown key varied over values is one problem, not one per value.
            problem = _UNKNOWN_KEY_VALUE.sub("unknown key; remove or rename it", problem)
            problems.setdefault(problem, []).append(described or "the base")
        if not found and check.scenario is not None:
            points.append(
                SweepPoint(
                    scenario_run_id(check.scenario),
                    parameters,
                    overrides,
                    check.scenario,
                    input_files_fingerprint(check.scenario, base_path.parent, seen),
                )
            )
    messages = [
        f"{problem} (at {where[0]}" + (f"; in {len(where)} runs)" if len(where) > 1 else ")")
        for problem, where in problems.items()
    ]
    ids: dict[str, list[dict[str, Any]]] = {}
    for point in points:
        ids.setdefault(point.run_id, []).append(point.parameters)
    messages += [
        f"runs {same} resolve to the same scenario (run id {run_id})"
        for run_id, same in ids.items()
        if len(same) > 1
    ]
    if messages:
        raise InputError(f"sweep of {base_path}", messages)
    return points
