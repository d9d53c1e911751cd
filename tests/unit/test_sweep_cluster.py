"""Batch clusters of a sweep (the job scripts dask-jobqueue generates; no batch system needed),
bad cluster sections and options, and the progress display."""

from __future__ import annotations

import contextlib
import io
import socket
import time
from pathlib import Path

import pytest
import yaml
from federations import DEFAULT_SCENARIO
from rich.console import Console

from tefed.cli import main, sweep_commands
from tefed.sweep import execution
from tefed.sweep.batch_cluster import CLUSTER_KINDS, job_script
from tefed.sweep.progress_display import SweepProgress
from tefed.sweep.run_record import RunRecord
from tefed.sweep.sweep_file import ClusterSpec
from tefed.sweep.sweep_run import plan_sweep

CLUSTER = {
    "jobs": 3,
    "runs_per_job": 2,
    "cores_per_run": 3,
    "memory_per_run_gb": 2.5,
    "walltime": "02:30:00",
    "queue": "short",
    "account": "lem_project",
    "job_directives": ["--constraint=intel"],
    "prologue": ["module load python/3.11", "source /opt/venvs/tefed/bin/activate"],
}


def write_sweep(folder: Path, cluster: object = None) -> Path:
    path = folder / "sweep.yaml"
    data: dict = {"base": str(DEFAULT_SCENARIO), "grid": {"seed": [1, 2]}}
    if cluster is not None:
        data["cluster"] = cluster
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_the_slurm_job_script_asks_for_every_run_of_a_job(tmp_path, capsys):
    sweep = write_sweep(tmp_path, CLUSTER)
    assert main(["sweep", str(sweep), "--cluster", "slurm", "--print-job-script"]) == 0
    script = capsys.readouterr().out
    lines = script.splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    for directive in (
        "#SBATCH -J tefed-sweep",
        "#SBATCH -p short",
        "#SBATCH -A lem_project",
        "#SBATCH --cpus-per-task=6",  # 2 runs of 3 cores
        "#SBATCH --mem=5GB",  # 2 runs of 2.5 GB
        "#SBATCH -t 02:30:00",
        "#SBATCH --constraint=intel",
    ):
        assert directive in lines, (directive, script)
    prologue = lines.index("module load python/3.11")
    assert lines[prologue + 1] == "source /opt/venvs/tefed/bin/activate"
    worker = lines[-1]
    assert "distributed.cli.dask_worker tcp://" in worker
    # One single-threaded worker per run: each runs one federation at a time.
    assert "--nthreads 1" in worker and "--nworkers 2" in worker
    # Nothing was run: no output folder.
    assert not (tmp_path / "results").exists()


def test_pbs_and_sge_scripts_request_the_cores_and_memory_their_own_way():
    spec = ClusterSpec.model_validate(CLUSTER)
    pbs = job_script("pbs", spec)
    assert "#PBS -l select=1:ncpus=6:mem=5GB" in pbs
    assert "#PBS -l walltime=02:30:00" in pbs
    sge = job_script("sge", spec)
    assert "#$ -pe smp 6" in sge
    assert "#$ -l h_vmem=0.833333G" in sge  # 5 GB over 6 slots
    assert "#$ -P lem_project" in sge


def test_the_command_line_offers_every_batch_system():
    assert set(sweep_commands.CLUSTER_KINDS) == set(CLUSTER_KINDS)


@pytest.mark.parametrize(
    ("cluster", "fragments"),
    [
        ({"walltime": "2h"}, ["cluster.walltime", "'2h'"]),
        ({"runs_per_job": 0}, ["cluster.runs_per_job", "greater than or equal to 1"]),
        ({"memory_per_run_gb": -1}, ["cluster.memory_per_run_gb", "greater than 0"]),
        ({"nodes": 2}, ["cluster.nodes: unknown key"]),
        ({"job_directives": ["--a\n#SBATCH --b"]}, ["cluster.job_directives", "one line each"]),
        ("slurm", ["cluster"]),
    ],
)
def test_a_bad_cluster_section_is_named_with_exit_2(tmp_path, capsys, cluster, fragments):
    sweep = write_sweep(tmp_path, cluster)
    assert main(["sweep", str(sweep), "--cluster", "slurm", "--print-job-script"]) == 2
    message = " ".join(capsys.readouterr().err.split())
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    assert "Traceback" not in message


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (["--print-job-script"], "--print-job-script: 1 problem(s) - needs --cluster"),
        (["--cluster", "slurm", "--workers", "2"], "--workers: 1 problem(s) - sizes the local"),
    ],
)
def test_options_that_do_not_go_together_are_refused(tmp_path, capsys, options, fragment):
    assert main(["sweep", str(write_sweep(tmp_path)), *options]) == 2
    assert fragment in " ".join(capsys.readouterr().err.split())
    assert not (tmp_path / "results").exists()


def test_the_progress_bar_counts_runs_and_estimates_the_time_left(tmp_path):
    points = plan_sweep(write_sweep(tmp_path), tmp_path / "out").points
    output = io.StringIO()
    console = Console(file=output, force_terminal=True, width=160, color_system=None)
    with SweepProgress(len(points), True, console) as progress:
        progress.recorded(points[0], RunRecord(points[0].run_id, "complete", "", 1.0, ""), True)
        progress.running(1)
        failed = RunRecord(points[1].run_id, "failed", "exit code 1: boom", 2.0, "")
        progress.recorded(points[1], failed, False)
        progress.running(0)
    text = output.getvalue()
    assert f"[1/2] {points[0].run_id} complete before  seed=1" in text
    assert f"[2/2] {points[1].run_id} failed in 2.0 s  seed=2\n    exit code 1: boom" in text
    assert "1 running, 0 failed" in text
    assert "2/2" in text and "0 running, 1 failed" in text
    assert "ETA 0:00:00" in text


def test_without_a_terminal_only_the_lines_are_printed(tmp_path):
    points = plan_sweep(write_sweep(tmp_path), tmp_path / "out").points
    output = io.StringIO()
    with SweepProgress(len(points), True, Console(file=output)) as progress:
        progress.recorded(points[0], RunRecord(points[0].run_id, "complete", "", 3.0, ""), False)
        progress.running(1)
    assert output.getvalue() == f"[1/2] {points[0].run_id} complete in 3.0 s  seed=1\n"


def test_a_point_whose_sweep_is_being_stopped_does_not_start_its_run(tmp_path: Path):
    # Ctrl-C while workers still wait for the preloaded-run server: they start nothing that
    # nobody would stop, and the point keeps no record (a rerun of the sweep runs it).
    execution.stop_runs_here()
    try:
        record = execution.run_point(
            str(DEFAULT_SCENARIO), {}, str(tmp_path / "point"), "0123456789ab", 60.0
        )
    finally:
        execution._STOPPING.clear()
    assert record.status == "failed"
    assert record.message == "sweep stopped before the run started"
    assert not (tmp_path / "point" / "record.json").exists()
    assert not list((tmp_path / "point").glob("tefed_run.*"))


@pytest.mark.parametrize("workers", ["0", "-1", "-5"])
def test_fewer_than_one_worker_is_refused_before_anything_runs(
    tmp_path, capsys, monkeypatch, workers
):
    # -1 hung for ever (a LocalCluster of no workers), 0 silently meant the default.
    def must_not_run(*arguments, **options):
        raise AssertionError("the sweep ran")

    monkeypatch.setattr("tefed.sweep.sweep_run.run_sweep", must_not_run)
    output = tmp_path / "out"
    sweep = str(write_sweep(tmp_path))
    assert main(["sweep", sweep, "--workers", workers, "-o", str(output), "--no-progress"]) == 2
    message = " ".join(capsys.readouterr().err.split())
    assert f"--workers: 1 problem(s) - got {workers}; expected a whole number, at least 1" in (
        message
    ), message
    assert "Traceback" not in message
    assert not output.exists()


def test_a_local_cluster_has_no_more_workers_than_runs_to_do(tmp_path, monkeypatch):
    # --workers 100000 would start that many worker threads for two runs.
    asked = []

    @contextlib.contextmanager
    def client(scheduler, workers, cluster):
        asked.append(workers)
        raise KeyboardInterrupt  # stop before anything is submitted
        yield

    monkeypatch.setattr(execution, "_client", client)
    planned = plan_sweep(write_sweep(tmp_path), tmp_path / "out")
    for workers in (100_000, 1, None):
        with pytest.raises(KeyboardInterrupt):
            execution.run_points(
                planned.points, planned.base_path, planned.output_dir, None, workers=workers
            )
    execution._STOPPING.clear()
    assert asked == [2, 1, None]


@pytest.mark.parametrize(
    ("address", "fragment"),
    [
        ("notanaddress", "missing port"),
        ("tcp://host", "missing port"),
        ("tcp://:8786", "no host"),
        ("tcp://host:99999", "port '99999'"),
        ("tcp://host:abc", "port 'abc'"),
        ("foo://host:8786", "scheme 'foo'"),
        ("", "missing port"),
    ],
)
def test_a_malformed_scheduler_address_is_named_with_exit_2(tmp_path, capsys, address, fragment):
    output = tmp_path / "out"
    sweep = str(write_sweep(tmp_path))
    assert main(["sweep", sweep, "--scheduler", address, "-o", str(output)]) == 2
    message = " ".join(capsys.readouterr().err.split())
    assert f"--scheduler: 1 problem(s) - got {address!r};" in message, message
    assert fragment in message and "expected an address such as tcp://host:8786" in message
    assert "Traceback" not in message
    assert not output.exists()


def test_an_unreachable_scheduler_is_named_in_a_line(tmp_path, capsys, monkeypatch):
    # A 60-line traceback after 30 s before.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free once closed: nobody answers there
    monkeypatch.setattr(execution, "SCHEDULER_CONNECT_TIMEOUT_S", 1.0)
    address = f"tcp://127.0.0.1:{port}"
    sweep = str(write_sweep(tmp_path))
    started = time.monotonic()
    arguments = ["sweep", sweep, "--scheduler", address, "-o", str(tmp_path / "out")]
    assert main([*arguments, "--no-progress"]) == 2
    assert time.monotonic() - started < 30
    error = capsys.readouterr().err
    message = " ".join(error.split())
    assert f"--scheduler: 1 problem(s) - no Dask scheduler answered at {address} within 1 s" in (
        message
    ), message
    assert "Traceback" not in error and len(error.splitlines()) <= 3, error


def test_a_local_sweep_counts_as_running_only_the_runs_it_has_started(monkeypatch):
    # The scheduler's "processing" also holds a task queued on a busy single-threaded worker,
    # and one still waiting for the preloaded-run server: "N running" counted those too.
    class Scheduler:
        def processing(self):
            return {"worker-1": ["tefed-run-a", "tefed-run-b"], "worker-2": ["tefed-run-c"]}

    monkeypatch.setattr(execution, "_RUNS_HERE", {101: object()})
    keys = {"tefed-run-a", "tefed-run-b", "tefed-run-c"}
    assert execution._running(Scheduler(), keys, local=True) == 1
    # Workers elsewhere (--scheduler, --cluster): what the scheduler knows.
    assert execution._running(Scheduler(), keys, local=False) == 3
