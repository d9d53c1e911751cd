"""Running a sweep's points on Dask, each as its own ``tefed run`` process, and recording them.

Every point runs as ``python -m tefed run BASE --set PATH=VALUE …`` (the interpreter of the Dask
worker) in its own folder, ``OUTPUT/runs/<run-id>/``: ``tefed run`` gives each run a free broker
port and a broker key of its own, so runs share a machine without meeting, and the point's
``run.results_root`` is set to ``runs/<run-id>/results``. When the run ends its record
(``record.json``: status, message, wall time, run folder) is written beside it. A run that
fails is recorded with the end of its error output and the sweep goes on; a point whose record
says ``complete`` is not run again (a rerun of the sweep resumes it).

Cluster sizing: a federation is about five processes (``tefed run``, the HELICS broker, the
grid, the market and one ems per shard), but they step in turn, each waiting for the others'
time grants, so one run keeps one to two cores busy. The default ``LocalCluster`` therefore has
one single-threaded worker per two cores (at least one); a worker runs one federation at a time.
With ``scheduler`` the sweep joins an existing Dask scheduler instead; its workers must see the
base scenario and the output folder at the same paths (a shared file system).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from distributed import Client, LocalCluster, as_completed

from tefed.sweep.points import SweepPoint

#: Status of a run that finished with its summary.
STATUS_COMPLETE = "complete"
#: Status of a run that failed, timed out or left no summary.
STATUS_FAILED = "failed"
#: File of a run's record in its sweep folder.
RECORD_FILE = "record.json"
#: Lines of a failed run's error output kept in its record.
MESSAGE_LINES = 12
#: Cores one federation keeps busy, for sizing the default cluster [-].
CORES_PER_RUN = 2
#: How long past the scenario's own wall-clock limit the sweep waits before killing a run [s].
TIMEOUT_MARGIN_S = 120.0


@dataclass(frozen=True)
class RunRecord:
    """What became of one point of a sweep.

    Attributes
    ----------
    run_id : str
        The point's stable id.
    status : str
        ``complete`` or ``failed``.
    message : str
        Why it failed (the end of ``tefed run``'s error output); empty when complete.
    wall_time_s : float
        Wall time of the ``tefed run`` process [s].
    run_folder : str
        The run folder ``tefed run`` wrote (its summary.json holds the KPIs); empty if none.
    """

    run_id: str
    status: str
    message: str
    wall_time_s: float
    run_folder: str


def default_worker_count() -> int:
    """Workers of the default LocalCluster: one per ``CORES_PER_RUN`` cores, at least one."""
    return max(1, (os.cpu_count() or 1) // CORES_PER_RUN)


def run_point(
    base_path: str, overrides: dict, run_dir: str, run_id: str, timeout_s: float
) -> RunRecord:
    """Run one point as ``tefed run`` in ``run_dir`` and write its record there.

    Parameters
    ----------
    base_path : str
        The base scenario file (absolute).
    overrides : dict
        Dotted path → value, passed as ``--set PATH=VALUE`` (values as JSON, which YAML reads).
    run_dir : str
        The point's folder (absolute); created if missing.
    run_id : str
        The point's stable id (recorded).
    timeout_s : float
        Wall time after which the run's process group is killed [s].

    Returns
    -------
    RunRecord
        Also written to ``run_dir/record.json``.
    """
    folder = Path(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    settings = {**overrides, "run.results_root": str(folder / "results")}
    command = [sys.executable, "-m", "tefed", "run", base_path, "--no-progress"]
    for path, value in settings.items():
        command += ["--set", f"{path}={json.dumps(value)}"]
    started = time.monotonic()
    process = subprocess.Popen(
        command,
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout_s)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        timed_out = True
    wall_time_s = time.monotonic() - started
    (folder / "tefed_run.log").write_text(f"$ {' '.join(command)}\n{stdout}\n{stderr}")
    lines = [line for line in stdout.splitlines() if line.strip()]
    run_folder = lines[-1].strip() if lines and Path(lines[-1].strip()).is_dir() else ""
    complete = (
        not timed_out
        and process.returncode == 0
        and bool(run_folder)
        and (Path(run_folder) / "summary.json").is_file()
    )
    if complete:
        message = ""
    elif timed_out:
        message = f"killed after {timeout_s:.0f} s (timeout)"
    else:
        tail = [line for line in stderr.splitlines() if line.strip()][-MESSAGE_LINES:]
        message = f"exit code {process.returncode}: " + "\n".join(tail)
    record = RunRecord(
        run_id,
        STATUS_COMPLETE if complete else STATUS_FAILED,
        message,
        wall_time_s,
        run_folder,
    )
    record_path = folder / RECORD_FILE
    partial = record_path.with_suffix(".json.part")
    partial.write_text(json.dumps(asdict(record), indent=2))
    partial.replace(record_path)
    return record


def read_record(run_dir: Path) -> RunRecord | None:
    """The record of a point's earlier run, or None if it has none (or an unreadable one)."""
    try:
        return RunRecord(**json.loads((run_dir / RECORD_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def completed_record(run_dir: Path) -> RunRecord | None:
    """The point's record if its run is complete and its summary is still there, else None."""
    record = read_record(run_dir)
    if record is None or record.status != STATUS_COMPLETE:
        return None
    return record if (Path(record.run_folder) / "summary.json").is_file() else None


def run_points(
    points: list[SweepPoint],
    base_path: Path,
    output_dir: Path,
    scheduler: str | None = None,
    workers: int | None = None,
    on_record: Callable[[SweepPoint, RunRecord, bool], None] | None = None,
) -> dict[str, RunRecord]:
    """Run every point not already complete on Dask; return every point's record by run id.

    Parameters
    ----------
    points : list of SweepPoint
        The sweep's resolved points.
    base_path : pathlib.Path
        The base scenario file.
    output_dir : pathlib.Path
        The sweep's output folder; point folders go to ``output_dir/runs/<run-id>``.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``); none: a LocalCluster.
    workers : int, optional
        Workers of the LocalCluster; none: `default_worker_count`.
    on_record : callable, optional
        Called with each point, its record and whether it was skipped (complete before).
    """
    records: dict[str, RunRecord] = {}
    pending: list[SweepPoint] = []
    for point in points:
        earlier = completed_record(output_dir / "runs" / point.run_id)
        if earlier is None:
            pending.append(point)
            continue
        records[point.run_id] = earlier
        if on_record is not None:
            on_record(point, earlier, True)
    if not pending:
        return records
    by_id = {point.run_id: point for point in pending}
    with _client(scheduler, workers) as client:
        futures = [
            client.submit(
                run_point,
                str(base_path.resolve()),
                point.overrides,
                str((output_dir / "runs" / point.run_id).resolve()),
                point.run_id,
                point.scenario.run.wall_clock_limit_s + TIMEOUT_MARGIN_S,
                key=f"tefed-run-{point.run_id}",
                pure=False,
            )
            for point in pending
        ]
        for future in as_completed(futures):
            record = future.result()
            records[record.run_id] = record
            if on_record is not None:
                on_record(by_id[record.run_id], record, False)
    return records


@contextlib.contextmanager
def _client(scheduler: str | None, workers: int | None) -> Iterator[Client]:
    """A client of the scheduler at ``scheduler``, or of a LocalCluster closed with it."""
    if scheduler is not None:
        with Client(scheduler) as client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=workers or default_worker_count(),
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client
