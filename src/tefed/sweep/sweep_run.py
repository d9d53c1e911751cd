"""``tefed sweep``: a sweep file read, every point checked, run on Dask and tabulated."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tefed.sweep.execution import SweepObserver, run_points
from tefed.sweep.points import SweepPoint, resolve_points
from tefed.sweep.results_table import sweep_table, write_sweep_table
from tefed.sweep.sweep_file import SweepFile, read_sweep_file

#: Where a sweep's output goes by default, relative to the working directory.
DEFAULT_SWEEPS_ROOT = Path("results") / "sweeps"


@dataclass(frozen=True)
class PlannedSweep:
    """A sweep file with every point resolved and checked, ready to run.

    Attributes
    ----------
    sweep : SweepFile
        The validated sweep file.
    name : str
        The sweep's name (its ``name``, or the file's stem).
    base_path : pathlib.Path
        The base scenario file.
    points : list of SweepPoint
        Every run, in sweep order.
    output_dir : pathlib.Path
        The sweep's output folder.
    """

    sweep: SweepFile
    name: str
    base_path: Path
    points: list[SweepPoint]
    output_dir: Path


@dataclass(frozen=True)
class SweepOutcome:
    """A finished sweep: its table (one row per run), where it was written, its wall time."""

    table: pd.DataFrame
    parquet: Path
    csv: Path
    wall_time_s: float


def plan_sweep(
    sweep_path: Path,
    output_dir: Path | None = None,
    before_checking: Callable[[int, Path], None] | None = None,
) -> PlannedSweep:
    """Read a sweep file and resolve every point (nothing runs).

    Parameters
    ----------
    sweep_path : pathlib.Path
        The sweep file.
    output_dir : pathlib.Path, optional
        The sweep's output folder; none: ``results/sweeps/<name>`` in the working directory,
        ``<name>`` being the sweep's ``name`` or the file's stem.
    before_checking : callable, optional
        Told the number of runs and the output folder once the file is read, before the
        points are made and checked (tens of milliseconds each).

    Raises
    ------
    InputError
        Naming every problem of the sweep file, or of any of its points.
    """
    sweep = read_sweep_file(sweep_path)
    base_path = sweep_path.parent / sweep.base
    name = sweep.name or sweep_path.stem
    output_dir = output_dir or DEFAULT_SWEEPS_ROOT / name
    if before_checking is not None:
        before_checking(sweep.run_count(), output_dir)
    points = resolve_points(sweep, base_path, Path.cwd())
    return PlannedSweep(sweep, name, base_path, points, output_dir)


def run_sweep(
    planned: PlannedSweep,
    observer: SweepObserver,
    scheduler: str | None = None,
    workers: int | None = None,
    cluster_kind: str | None = None,
) -> SweepOutcome:
    """Run the points not yet complete (see `tefed.sweep.execution`) and write the table.

    ``cluster_kind`` (``slurm``, ``pbs``, ``sge``) runs them in batch jobs described by the
    sweep file's ``cluster`` section instead of on a LocalCluster.
    """
    started = time.monotonic()
    cluster = None if cluster_kind is None else (cluster_kind, planned.sweep.cluster)
    records = run_points(
        planned.points,
        planned.base_path,
        planned.output_dir,
        observer,
        scheduler,
        workers,
        cluster,
        tuple(planned.sweep.run_options()),
    )
    table = sweep_table(planned.points, records)
    parquet, csv = write_sweep_table(
        table, planned.output_dir, planned.name, planned.sweep.varied_paths()
    )
    return SweepOutcome(table, parquet, csv, time.monotonic() - started)
