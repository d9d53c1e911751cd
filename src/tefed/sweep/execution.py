"""Running a sweep's points on Dask, each as its own ``tefed run`` process, and recording them.

Every point runs as ``python -m tefed run BASE --set PATH=VALUE …`` in its own folder,
``OUTPUT/runs/<run-id>/``, forked from a server process that has imported tefed once
(`tefed.sweep.preloaded_runs`: 1.85 s less CPU per default run, measured 2026-12-07), or, in
a Dask worker process that may not have children of its own, started as a new interpreter of
the worker's Python. ``tefed run`` gives each run a free broker
port and a broker key of its own, so runs share a machine without meeting, and the point's
``run.results_root`` is set to ``runs/<run-id>/results``. When the run ends its record
(`tefed.sweep.run_record`) is written beside it. A run that fails is recorded with the end of
its error output and the sweep goes on; a point whose record says ``complete`` is not run again
(a rerun of the sweep resumes it).

A worker that dies (killed, out of memory, its node lost) takes its ``tefed run`` with it
(`tefed.run.bound_to_parent`), and the Dask scheduler gives the point to another worker; a
point that loses ``ALLOWED_WORKER_DEATHS`` workers is recorded as failed with that reason (a
running scheduler of ``--scheduler`` counts by its own ``allowed-failures`` setting).

Clusters: a federation is about five processes (``tefed run``, the HELICS broker, the grid, the
market and one ems per shard), but they step in turn, each waiting for the others' time grants:
the default day keeps 1.4 cores busy on average (8.9 s of CPU in 6.5 s), a lockstep run one.
Two federations at once on two cores still finish 1.5 times as many runs per hour as one at a
time (10 default days: 43 s on two workers, 65 s one after the other), so the default
``LocalCluster`` has one single-threaded worker per core; a worker runs one run at a time.
Its workers are threads of the sweep's own process: a worker only starts a ``tefed run``
process and waits for it, so worker processes would add nothing but their start (about a second
of imports before the first run); a sweep that is interrupted stops its runs itself
(`stop_runs_here`), and one killed takes its runs with it (the preloaded server ends with it).
With ``scheduler`` the sweep joins an existing Dask scheduler instead; with
``cluster_kind`` it submits batch jobs of workers (`tefed.sweep.batch_cluster`). Workers of
either must see the base scenario and the output folder at the same paths (a shared file
system).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import dask
from distributed import Client, Future, LocalCluster, wait

from tefed.contract.errors import InputError
from tefed.run.bound_to_parent import bound_command
from tefed.run.interrupts import raise_if_interrupted
from tefed.sweep.batch_cluster import job_queue_cluster
from tefed.sweep.points import SweepPoint
from tefed.sweep.preloaded_runs import (
    PreloadedRun,
    preloaded_runs_available,
    start_server,
    wait_for_server,
)
from tefed.sweep.run_record import (
    STATUS_COMPLETE,
    STATUS_FAILED,
    RunRecord,
    completed_record,
    point_folder,
    write_record,
)
from tefed.sweep.sweep_file import ClusterSpec

#: Lines of a failed run's error output kept in its record.
MESSAGE_LINES = 12
#: Cores given to one run when sizing the default cluster [-].
CORES_PER_RUN = 1
#: How long past the scenario's own wall-clock limit the sweep waits before stopping a run [s].
TIMEOUT_MARGIN_S = 120.0
#: Time a timed-out run gets to stop its federates after SIGTERM, before SIGKILL [s].
STOP_GRACE_S = 20.0
#: Workers a point may lose (each rescheduling it) before it is recorded as failed [-].
ALLOWED_WORKER_DEATHS = 3
#: How often the observer hears how many runs are running [s].
OBSERVE_EVERY_S = 1.0
#: How long the sweep tries to reach the scheduler of ``--scheduler`` (Dask's default: 30 s; a
#: refused connection is retried until then) [s].
SCHEDULER_CONNECT_TIMEOUT_S = 10.0
#: Address schemes of a Dask scheduler that a sweep can join from another process.
SCHEDULER_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")
#: Dask's periodic work that a sweep has no use for: its tasks are whole runs that wait for a
#: process, so profiling the worker threads every 10 ms, stealing work, and sampling memory
#: and the system several times a second only take CPU from the runs (the sweep process used
#: 8 % of a core while its runs ran; 2 % with these, measured 2026-12-07). Set for the sweep's
#: own process: a LocalCluster's scheduler and workers, or the client of another scheduler.
QUIET_DASK = {
    "distributed.worker.profile.enabled": False,
    "distributed.scheduler.work-stealing": False,
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
}

#: A ``tefed run`` process: a new interpreter, or a child of the preloaded server.
_Run = subprocess.Popen | PreloadedRun
#: ``tefed run`` processes started by workers of this process (thread workers), by pid.
_RUNS_HERE: dict[int, _Run] = {}
_RUNS_HERE_LOCK = threading.Lock()
#: Set while this process's sweep is being stopped: a worker that has not started its run
#: (still waiting for the preloaded-run server) does not start it.
_STOPPING = threading.Event()


class SweepObserver(Protocol):
    """What a sweep tells whoever shows its progress."""

    def recorded(self, point: SweepPoint, record: RunRecord, skipped: bool) -> None:
        """A point finished (``skipped``: it was complete before this sweep started)."""

    def running(self, count: int) -> None:
        """``count`` runs are executing on workers now (called every ``OBSERVE_EVERY_S``)."""


def default_worker_count() -> int:
    """Workers of the default LocalCluster: one per ``CORES_PER_RUN`` cores, at least one."""
    return max(1, (os.cpu_count() or 1) // CORES_PER_RUN)


def scheduler_address_problem(address: str) -> str | None:
    """What is wrong with the address of a Dask scheduler (``[scheme://]host:port``, the scheme
    ``tcp`` if none), or None.

    Examples
    --------
    >>> scheduler_address_problem("tcp://host:8786") is None
    True
    >>> scheduler_address_problem("notanaddress")
    'missing port (host:port)'
    >>> scheduler_address_problem("tcp://host:0")
    "port '0' is not a whole number from 1 to 65535"
    """
    scheme, location = address.split("://", 1) if "://" in address else ("tcp", address)
    if scheme not in SCHEDULER_SCHEMES:
        return f"scheme {scheme!r} is not one of {', '.join(SCHEDULER_SCHEMES)}"
    host, separator, port = location.rpartition(":")
    if not separator:
        return "missing port (host:port)"
    if not host.strip("[]"):
        return "no host before the port"
    if not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65_535):
        return f"port {port!r} is not a whole number from 1 to 65535"
    return None


def run_point(
    base_path: str,
    overrides: dict,
    run_dir: str,
    run_id: str,
    timeout_s: float,
    options: tuple[str, ...] = (),
    inputs: str = "",
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
        Wall time after which the run is stopped (SIGTERM, then SIGKILL) [s].
    options : tuple of str
        More options of ``tefed run`` (``--lockstep``, ``--no-plots``).
    inputs : str
        Fingerprint of the data files the point reads (recorded; `points.SweepPoint`).

    Returns
    -------
    RunRecord
        Also written to ``run_dir/record.json``.
    """
    folder = Path(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    settings = {**overrides, "run.results_root": str(folder / "results")}
    arguments = ["run", base_path, "--no-progress", *options]
    for path, value in settings.items():
        arguments += ["--set", f"{path}={json.dumps(value)}"]
    stdout_path, stderr_path = folder / "tefed_run.stdout", folder / "tefed_run.stderr"
    # Waited for outside the lock, which an interrupted sweep needs to stop its runs.
    preloaded = (
        preloaded_runs_available() and not _STOPPING.is_set() and wait_for_server(stop=_STOPPING)
    )
    started = time.monotonic()
    with _RUNS_HERE_LOCK:
        if _STOPPING.is_set():
            # Not recorded: the point has no record, and a rerun of the sweep runs it.
            return RunRecord(run_id, STATUS_FAILED, "sweep stopped before the run started", 0.0, "")
        process = _start_run(arguments, folder, stdout_path, stderr_path, preloaded)
        _RUNS_HERE[process.pid] = process
    try:
        process.wait(timeout_s)
        timed_out = False
    except subprocess.TimeoutExpired:
        _stop(process)
        timed_out = True
    finally:
        with _RUNS_HERE_LOCK:
            _RUNS_HERE.pop(process.pid, None)
    wall_time_s = time.monotonic() - started
    stdout, stderr = _read_and_remove(stdout_path), _read_and_remove(stderr_path)
    command = " ".join([sys.executable, "-m", "tefed", *arguments])
    (folder / "tefed_run.log").write_text(f"$ {command}\n{stdout}\n{stderr}")
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
        message = f"stopped after {timeout_s:.0f} s (timeout)"
    else:
        tail = [line for line in stderr.splitlines() if line.strip()][-MESSAGE_LINES:]
        message = f"exit code {process.returncode}: " + "\n".join(tail)
    status = STATUS_COMPLETE if complete else STATUS_FAILED
    record = RunRecord(run_id, status, message, wall_time_s, run_folder, inputs)
    write_record(folder, record)
    return record


def _start_run(
    arguments: list[str], folder: Path, stdout_path: Path, stderr_path: Path, preloaded: bool
) -> _Run:
    """Start ``tefed ARGUMENTS…`` in ``folder`` in a session of its own, its output to the two
    files: forked from the preloaded server if ``preloaded`` (`tefed.sweep.preloaded_runs`:
    this process can, and the server has finished importing), else as a new interpreter that
    ends with this process (`tefed.run.bound_to_parent`)."""
    if preloaded:
        return PreloadedRun(arguments, folder, stdout_path, stderr_path)
    command = bound_command([sys.executable, "-m", "tefed", *arguments])
    with stdout_path.open("w") as stdout, stderr_path.open("w") as stderr:
        return subprocess.Popen(
            command,
            cwd=folder,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )


def _read_and_remove(path: Path) -> str:
    """The text of ``path`` ("" if there is none), and the file removed."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    path.unlink()
    return text


def stop_runs_here() -> int:
    """Stop every ``tefed run`` that workers of this process started and that still runs
    (SIGTERM to its process group: it stops its federates), and start no other until the next
    sweep (`run_points`); the number signalled [-]."""
    with _RUNS_HERE_LOCK:
        _STOPPING.set()
        running = [process for process in _RUNS_HERE.values() if process.poll() is None]
    for process in running:
        _signal_run(process, signal.SIGTERM)
    return len(running)


def _stop(process: _Run) -> None:
    """Stop a ``tefed run`` (SIGTERM: it stops its federates; SIGKILL after the grace)."""
    _signal_run(process, signal.SIGTERM)
    try:
        process.wait(STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        _signal_run(process, signal.SIGKILL)
        process.wait()


def _signal_run(process: _Run, signal_number: int) -> None:
    """Signal a run's process group (the run and what it started), or the run alone if it has
    not made its group yet (a child of the preloaded server that has only just started)."""
    try:
        os.killpg(process.pid, signal_number)
    except ProcessLookupError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal_number)


def run_points(
    points: list[SweepPoint],
    base_path: Path,
    output_dir: Path,
    observer: SweepObserver,
    scheduler: str | None = None,
    workers: int | None = None,
    cluster: tuple[str, ClusterSpec] | None = None,
    run_options: tuple[str, ...] = (),
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
    observer : SweepObserver
        Told of every point's record (complete ones first, as skipped) and of the running count.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``).
    workers : int, optional
        Workers of the LocalCluster (at least 1; no more are started than there are points to
        run); none: `default_worker_count`.
    cluster : (str, ClusterSpec), optional
        A batch system (``slurm``, ``pbs``, ``sge``) and its jobs, instead of a LocalCluster.
    run_options : tuple of str
        More options of every run's ``tefed run`` (`SweepFile.run_options`).
    """
    records: dict[str, RunRecord] = {}
    pending: list[SweepPoint] = []
    for point in points:
        earlier = completed_record(point_folder(output_dir, point.run_id), point.inputs)
        if earlier is None:
            pending.append(point)
            continue
        records[point.run_id] = earlier
        observer.recorded(point, earlier, True)
    if not pending:
        return records
    _STOPPING.clear()  # an earlier sweep of this process may have been interrupted
    with (
        dask.config.set(
            {"distributed.scheduler.allowed-failures": ALLOWED_WORKER_DEATHS - 1, **QUIET_DASK}
        ),
        _client(
            scheduler, None if workers is None else min(workers, len(pending)), cluster
        ) as client,
    ):
        futures = {
            client.submit(
                run_point,
                str(base_path.resolve()),
                point.overrides,
                str(point_folder(output_dir, point.run_id).resolve()),
                point.run_id,
                point.scenario.run.wall_clock_limit_s + TIMEOUT_MARGIN_S,
                tuple(run_options),
                point.inputs,
                key=f"tefed-run-{point.run_id}",
                pure=False,
            ): point
            for point in pending
        }
        waiting = set(futures)
        try:
            while waiting:
                raise_if_interrupted()
                for future in _finished_within(waiting, OBSERVE_EVERY_S):
                    waiting.discard(future)
                    point = futures[future]
                    records[point.run_id] = _record_of(future, point)
                    observer.recorded(point, records[point.run_id], False)
                keys = {future.key for future in waiting}
                observer.running(_running(client, keys, scheduler is None and cluster is None))
        except BaseException:
            # Interrupted: the runs of thread workers end with this process's cluster only
            # once they are stopped (worker processes take theirs with them when they end).
            stop_runs_here()
            raise
    return records


def _finished_within(futures: set[Future], timeout_s: float) -> set[Future]:
    """The futures that are finished, waiting up to ``timeout_s`` for one to finish [s]."""
    with contextlib.suppress(TimeoutError):
        wait(futures, timeout_s, return_when="FIRST_COMPLETED")
    return {future for future in futures if future.done()}


def _record_of(future: Future, point: SweepPoint) -> RunRecord:
    """The record a finished future returned, or a failed one naming why it has none."""
    try:
        return future.result()
    except Exception as error:  # a task that lost its workers, or could not run at all
        return RunRecord(point.run_id, STATUS_FAILED, f"{type(error).__name__}: {error}", 0.0, "")


def _running(client: Client, keys: set[str], local: bool) -> int:
    """How many runs are under way now.

    ``local`` (thread workers of this process): the ``tefed run`` processes they have started,
    exactly. Otherwise the tasks of ``keys`` the scheduler has given to workers, which also
    counts one queued on a busy worker (Dask's ``worker-saturation`` lets a single-threaded
    worker hold two) or still starting; asking every worker for what it executes would be a
    round trip to each of them every second.
    """
    if local:
        with _RUNS_HERE_LOCK:
            return len(_RUNS_HERE)
    processing = client.processing()
    return sum(1 for tasks in processing.values() for key in tasks if key in keys)


def _first_cause(error: BaseException) -> BaseException:
    """The exception that started a chain (Dask's time-out names no refused connection or
    unknown host; the first error does)."""
    while (cause := error.__cause__ or error.__context__) is not None:
        error = cause
    return error


@contextlib.contextmanager
def _client(
    scheduler: str | None, workers: int | None, cluster: tuple[str, ClusterSpec] | None
) -> Iterator[Client]:
    """A client of the scheduler at ``scheduler``, of batch jobs, or of a LocalCluster."""
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=SCHEDULER_CONNECT_TIMEOUT_S)
        except OSError as error:  # refused, timed out, unknown host: Dask retries until then
            raise InputError(
                "--scheduler",
                [
                    f"no Dask scheduler answered at {scheduler} within "
                    f"{SCHEDULER_CONNECT_TIMEOUT_S:g} s ({_first_cause(error)}); start one "
                    f"(dask scheduler) or check the address"
                ],
            ) from None
        with client:
            yield client
        return
    if cluster is not None:
        kind, spec = cluster
        with job_queue_cluster(kind, spec) as batch, Client(batch) as client:
            batch.scale(jobs=spec.jobs)
            yield client
        return
    if preloaded_runs_available():
        start_server()  # its imports overlap the cluster's start
    with (
        LocalCluster(
            n_workers=workers or default_worker_count(),
            threads_per_worker=1,
            processes=False,
            dashboard_address=None,
        ) as local,
        Client(local) as client,
    ):
        yield client
