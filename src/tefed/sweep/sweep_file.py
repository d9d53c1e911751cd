"""The sweep file: a base scenario and the dotted scenario paths to vary.

.. code-block:: yaml

    name: battery_market            # names the output folder (default: the file's stem)
    base: ../default.yaml           # the base scenario, relative to this file
    set:                            # the same overrides for every run
      time.duration_s: 3600
    grid:                           # every combination of these values
      households.pv_battery.battery.capacity_kwh: [5, 10, 20]
      market.mechanism: [double_auction, curve_clearing]
    zip:                            # these lists side by side (equal lengths)
      households.pv.count: [2, 4]
      households.consumers.count: [6, 4]
    samples:                        # N draws from ranges
      count: 8
      method: lhs                   # lhs (Latin hypercube, scipy.stats.qmc) or random
      seed: 1
      ranges:
        prices.export_price_usd_per_kwh: [0.03, 0.09]
        households.pv.count: [1, 6]     # two integers: integers, both bounds included
        households.pv_battery.battery.capacity_kwh: [5.0, 20.0]  # 5.0, not 5: floats
    seeds: [1, 2, 3]                # replicates: the scenario's seed, per point
    engine: helics                  # helics (a federation per run) or lockstep (see below)
    plots: false                    # each run's figures (default: none; tefed report draws them)
    cluster:                        # batch jobs of tefed sweep --cluster slurm|pbs|sge
      jobs: 4                       # batch jobs to submit
      runs_per_job: 2               # Dask workers per job, one run at a time each
      cores_per_run: 2
      memory_per_run_gb: 4
      walltime: "02:00:00"
      queue: normal
      account: my_project
      job_directives: ["--constraint=intel"]
      prologue: ["module load python/3.11", "source ~/venvs/tefed/bin/activate"]

Paths address the scenario as ``tefed run --set`` does (`tefed.scenario.overrides`). The runs
are the product grid × zip × samples × seeds (an absent part contributes one empty point).

Every run is ``tefed run`` of its point. With ``engine: lockstep`` it is ``tefed run
--lockstep``: the same federates' code stepped in one process without HELICS, which gives the
same tables for about two thirds of the CPU time (a sweep runs more points per core); every
federate of every point must then be built in. Runs leave their figures out unless ``plots:
true`` (hundreds of runs rarely need theirs; ``tefed report RUN_FOLDER`` draws them later).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from tefed.contract.errors import InputError, describe_validation_error
from tefed.scenario.bounded_yaml import read_yaml
from tefed.scenario.household_spec import NAME_PATTERN, NAME_RULE
from tefed.scenario.overrides import check_path
from tefed.scenario.section import NumbersNotBooleans

#: The scenario path the replicate seeds set.
SEED_PATH = "seed"
#: Most runs one sweep file may define [-]. A cluster study fits below it (100,000 default
#: days are about 250 core-hours of federations), and checking them all before the first run
#: already takes about 50 min and 2.7 GB (29 ms and 27 KiB per point, 2-core machine,
#: 2026-12-07); a file with more is refused before its runs are made, not expanded in memory.
MAX_RUNS = 100_000


class _Section(NumbersNotBooleans):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, populate_by_name=True)


def _check_paths(values: dict[str, Any]) -> dict[str, Any]:
    for path in values:
        check_path(path)
    return values


class SampleSpec(_Section):
    """Random or Latin-hypercube draws of the paths in ``ranges``.

    A range is of integers only if both bounds are written as integers (YAML ``5``, not
    ``5.0``); any other two numbers draw floats. Strict types keep pydantic from reading ``5.0``
    as the integer 5 (a range of ``[0.0, 1.0]`` would draw only 0 or 1) or a boolean as a number.
    """

    count: int = Field(ge=1, description="number of draws [-]")
    method: str = Field("lhs", pattern="^(lhs|random)$", description="lhs or random")
    seed: int = Field(0, ge=0, description="seed of the draws")
    ranges: dict[str, tuple[StrictInt, StrictInt] | tuple[StrictFloat, StrictFloat]] = Field(
        min_length=1,
        description="dotted path → [low, high]; two integers draw integers (bounds included)",
    )

    _paths = field_validator("ranges")(_check_paths)

    @field_validator("ranges", mode="before")
    @classmethod
    def _two_numbers(cls, ranges: Any) -> Any:
        if not isinstance(ranges, dict):
            return ranges  # pydantic names it
        bad = [
            f"{path}: got {bounds!r}"
            for path, bounds in ranges.items()
            if not (
                isinstance(bounds, list | tuple)
                and len(bounds) == 2
                and all(
                    isinstance(bound, int | float)
                    and not isinstance(bound, bool)
                    and math.isfinite(bound)
                    for bound in bounds
                )
            )
        ]
        if bad:
            raise ValueError(
                f"expected [low, high], two finite numbers (two integers draw integers); "
                f"{'; '.join(bad)}"
            )
        return ranges

    @field_validator("ranges")
    @classmethod
    def _ordered(cls, ranges: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        reversed_paths = [path for path, (low, high) in ranges.items() if low > high]
        if reversed_paths:
            raise ValueError(f"expected [low, high] with low <= high for {reversed_paths}")
        return ranges


class ClusterSpec(_Section):
    """The batch jobs of ``tefed sweep --cluster slurm|pbs|sge`` (dask-jobqueue).

    Each job starts ``runs_per_job`` single-threaded Dask workers, each running one federation
    at a time, and asks the batch system for ``runs_per_job · cores_per_run`` cores and
    ``runs_per_job · memory_per_run_gb`` of memory for ``walltime``.
    """

    jobs: int = Field(1, ge=1, le=10_000, description="batch jobs to submit [-]")
    runs_per_job: int = Field(
        1, ge=1, le=256, description="Dask workers per job, each running one federation [-]"
    )
    cores_per_run: int = Field(
        2, ge=1, le=256, description="cores requested per run (a federation keeps 1-2 busy) [-]"
    )
    memory_per_run_gb: float = Field(4.0, gt=0, le=4096, description="memory per run [GB]")
    walltime: str = Field(
        "01:00:00",
        pattern=r"^\d{1,4}:[0-5]\d:[0-5]\d$",
        description="wall-time limit of each job, HH:MM:SS",
    )
    queue: str | None = Field(None, min_length=1, description="queue (partition) of the jobs")
    account: str | None = Field(
        None, min_length=1, description="account (project) the jobs are charged to"
    )
    job_directives: list[str] = Field(
        default_factory=list,
        description="extra scheduler directives, e.g. --constraint=intel (Slurm), without the "
        "#SBATCH / #PBS / #$ prefix",
    )
    prologue: list[str] = Field(
        default_factory=list,
        description="shell lines run before the worker starts (module load, venv activation)",
    )
    sge_parallel_environment: str = Field(
        "smp", min_length=1, description="SGE parallel environment of the cores (-pe NAME N)"
    )

    @field_validator("job_directives", "prologue")
    @classmethod
    def _single_lines(cls, lines: list[str]) -> list[str]:
        broken = [line for line in lines if any(ord(character) < 32 for character in line)]
        if broken:
            raise ValueError(f"expected one line each, without control characters; got {broken}")
        return lines


class SweepFile(_Section):
    """A whole sweep file (see the module docstring)."""

    name: str | None = Field(None, description="names the output folder; none: the file's stem")
    base: str = Field(description="base scenario file, relative to the sweep file")
    fixed: dict[str, Any] = Field(
        default_factory=dict, alias="set", description="overrides of every run"
    )
    grid: dict[str, list[Any]] = Field(
        default_factory=dict, description="dotted path → values; every combination"
    )
    zipped: dict[str, list[Any]] = Field(
        default_factory=dict, alias="zip", description="dotted path → values, side by side"
    )
    samples: SampleSpec | None = Field(None, description="random or Latin-hypercube draws")
    seeds: list[int] = Field(
        default_factory=list, description="replicate seeds (the scenario's seed); none: the base's"
    )

    engine: Literal["helics", "lockstep"] = Field(
        "helics",
        description="helics: each run a HELICS federation (tefed run); lockstep: the same "
        "built-in federates stepped in one process (tefed run --lockstep)",
    )
    plots: bool = Field(False, description="draw each run's figures (tefed report draws them)")
    cluster: ClusterSpec = Field(
        default_factory=ClusterSpec, description="batch jobs of tefed sweep --cluster"
    )

    _paths = field_validator("fixed", "grid", "zipped")(_check_paths)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not NAME_PATTERN.fullmatch(value):
            raise ValueError(NAME_RULE)
        return value

    @field_validator("grid", "zipped")
    @classmethod
    def _nonempty(cls, values: dict[str, list[Any]]) -> dict[str, list[Any]]:
        empty = [path for path, listed in values.items() if not listed]
        if empty:
            raise ValueError(f"expected at least one value for {empty}")
        return values

    @model_validator(mode="after")
    def _consistent(self) -> SweepFile:
        lengths = {path: len(values) for path, values in self.zipped.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"zip: expected lists of one length, got {lengths}")
        varied = [*self.grid, *self.zipped, *(self.samples.ranges if self.samples else {})]
        if self.seeds:
            varied.append(SEED_PATH)
        repeated = sorted({path for path in varied if varied.count(path) > 1})
        fixed_and_varied = sorted(set(self.fixed) & set(varied))
        if repeated or fixed_and_varied:
            raise ValueError(
                f"each path is varied in one place only (grid, zip, samples or seeds) and is "
                f"not also under set; repeated: {repeated + fixed_and_varied}"
            )
        return self

    def run_options(self) -> list[str]:
        """Options of every run's ``tefed run`` that ``engine`` and ``plots`` ask for."""
        return (["--lockstep"] if self.engine == "lockstep" else []) + (
            [] if self.plots else ["--no-plots"]
        )

    def run_count_factors(self) -> dict[str, list[int]]:
        """Where the runs come from: each grid list's length, the zip length, the sample count
        and the number of seeds (only the parts the file has)."""
        factors = {
            "grid": [len(values) for values in self.grid.values()],
            "zip": [len(next(iter(self.zipped.values())))] if self.zipped else [],
            "samples": [self.samples.count] if self.samples is not None else [],
            "seeds": [len(self.seeds)] if self.seeds else [],
        }
        return {part: lengths for part, lengths in factors.items() if lengths}

    def run_count(self) -> int:
        """The runs the file defines, grid × zip × samples × seeds, counted without making
        them (an absent part counts once)."""
        factors = self.run_count_factors().values()
        return math.prod(length for lengths in factors for length in lengths)

    def varied_paths(self) -> list[str]:
        """The dotted paths that differ between runs, in file order (``seed`` last)."""
        paths = [*self.grid, *self.zipped, *(self.samples.ranges if self.samples else {})]
        return [*paths, SEED_PATH] if self.seeds else paths


def read_sweep_file(path: str | Path) -> SweepFile:
    """Read and validate a sweep file (not yet its runs: see `tefed.sweep.points`).

    Raises
    ------
    InputError
        Naming every problem (path in the file, value, expectation), more than `MAX_RUNS`
        runs, or a missing base file.
    """
    path = Path(path)
    try:
        # Within the bounds of a scenario file: size, encoding, nesting, aliases, unique keys.
        data = read_yaml(path)
    except FileNotFoundError:
        raise InputError(str(path), ["file not found"]) from None
    if not isinstance(data, dict):
        raise InputError(str(path), ["expected a mapping (base, grid, zip, samples, seeds)"])
    try:
        sweep = SweepFile.model_validate(data)
    except ValidationError as error:
        raise InputError(str(path), describe_validation_error(error)) from None
    count = sweep.run_count()
    if count > MAX_RUNS:
        origin = " × ".join(
            f"{part} {' × '.join(str(length) for length in lengths)}"
            for part, lengths in sweep.run_count_factors().items()
        )
        raise InputError(
            str(path),
            [
                f"grid, zip, samples and seeds: defines {count} runs ({origin}); expected at "
                f"most {MAX_RUNS} runs in one sweep (README, Sweeps): split it into several "
                f"sweep files, or draw fewer samples of the ranges"
            ],
        )
    base = path.parent / sweep.base
    if not base.is_file():
        raise InputError(str(path), [f"base: got {sweep.base!r}; no such file ({base.resolve()})"])
    return sweep
