"""``tefed sweep`` under faults, with real Dask processes and real ``tefed run`` federations:
a Dask worker killed mid-run (its run stops and is rescheduled on another worker), and a sweep
interrupted by SIGINT and resumed without rerunning its complete runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml
from distributed import Client
from federations import DEFAULT_SCENARIO, processes_working_under

from tefed.run.ports import free_port

pytestmark = pytest.mark.federation

SWEEP_TIMEOUT_S = 300
#: How long a test waits for a sweep to reach the state it acts on [s].
WAIT_S = 120
DASK_CLI = Path(sys.executable).parent / "dask"


def write_sweep(
    folder: Path, capacities: list[float], duration_s: int = 1800, speed: float | None = None
) -> Path:
    """``duration_s`` around noon of the default scenario, one run per battery capacity (paced
    to the wall clock at ``speed``, simulated s per wall s, if given)."""
    path = folder / "sweep.yaml"
    paced = {"run.realtime": True, "run.realtime_speed": speed} if speed else {}
    sweep = {
        "name": "faults",
        "base": str(DEFAULT_SCENARIO),
        "set": {
            "time.start": "2022-06-21T11:00:00",
            "time.duration_s": duration_s,
            "run.progress_every_s": 900,
            **paced,
        },
        "grid": {"households.pv_battery.battery.capacity_kwh": capacities},
    }
    path.write_text(yaml.safe_dump(sweep, sort_keys=False))
    return path


def _as_in_a_terminal() -> None:
    """Give the child SIGINT's default action, as a terminal's foreground job has.

    A test process started in the background of a shell without job control (``make test &``,
    a CI runner's script) ignores SIGINT, and children inherit that: Python then never raises
    KeyboardInterrupt, so a sweep started from it would rightly not stop on Ctrl-C's signal.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_sweep(sweep_path: Path, output: Path, *options: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tefed", "sweep", str(sweep_path), "-o", str(output), *options],
        cwd=sweep_path.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_as_in_a_terminal,
    )


def tefed_runs_under(folder: Path) -> dict[int, int]:
    """Live ``tefed run`` processes working under ``folder``: pid → parent pid."""
    return {
        process.pid: process.parent_pid
        for process in processes_working_under(folder)
        if " -m tefed run " in f"{process.command} "
    }


def wait_for(condition, what: str, timeout_s: float = WAIT_S):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def is_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.fixture
def dask_cluster(tmp_path: Path) -> Iterator[str]:
    """A ``dask scheduler`` and two ``dask worker`` processes on loopback; yields the address."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = tmp_path / "dask_logs"
    logs.mkdir()
    commands = [
        [str(DASK_CLI), "scheduler", "--host", "127.0.0.1", "--port", str(port),
         "--no-dashboard"],
        *(
            [str(DASK_CLI), "worker", address, "--nthreads", "1", "--name", f"w{k}",
             "--host", "127.0.0.1", "--no-dashboard"]
            for k in (1, 2)
        ),
    ]  # fmt: skip
    processes = [
        subprocess.Popen(
            command,
            cwd=logs,
            stdout=(logs / f"{k}.log").open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for k, command in enumerate(commands)
    ]
    try:
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_a_killed_worker_stops_its_run_which_is_rescheduled(tmp_path: Path, dask_cluster: str):
    sweep_path = write_sweep(tmp_path, [5, 10, 20])
    output = tmp_path / "out"
    sweep = start_sweep(sweep_path, output, "--scheduler", dask_cluster, "--no-progress")
    try:
        # A run under way: tefed run has made its run folder and started the federation.
        started = wait_for(
            lambda: list(output.glob("runs/*/results/default/2*/federation.json")),
            "a run to start",
        )
        point = started[0].parents[3]
        runs = wait_for(lambda: tefed_runs_under(point), "its tefed run process")
        victim_run, worker = next(iter(runs.items()))
        os.kill(worker, signal.SIGKILL)  # the Dask worker process running that point
        # The run goes down with its worker (SIGTERM from the kernel on the worker's death).
        wait_for(lambda: not is_alive(victim_run), "the killed worker's tefed run to stop", 60)
        stdout, stderr = sweep.communicate(timeout=SWEEP_TIMEOUT_S)
    finally:
        sweep.kill()
    assert sweep.returncode == 0, stdout + stderr
    assert "3 complete, 0 failed" in stdout, stdout
    table = pd.read_parquet(output / "sweep.parquet")
    assert (table["status"] == "complete").all()
    # One point was started twice: the stopped run's folder and the complete rerun's.
    run_folders = {
        row.run_id: len(list((output / "runs" / row.run_id / "results" / "default").glob("2*")))
        for row in table.itertuples()
    }
    assert run_folders[point.name] == 2, run_folders
    assert sorted(run_folders.values()) == [1, 1, 2], run_folders
    assert processes_working_under(output) == []


def test_an_interrupted_sweep_resumes_without_rerunning_complete_runs(tmp_path: Path):
    # Runs paced to eight seconds (two hours at 900x), so that the interrupt comes while the
    # second one runs and the sweep has stopped before that run could end (runs of half an hour
    # took 3.4 s, and the interrupted one then ended while the cluster closed). Paced, they wait
    # for the clock instead of computing two days each.
    sweep_path = write_sweep(tmp_path, [5, 20], duration_s=7200, speed=900)
    output = tmp_path / "out"
    sweep = start_sweep(sweep_path, output, "--workers", "1", "--no-progress")
    try:
        records = wait_for(
            lambda: list((output / "runs").glob("*/record.json")), "the first run's record"
        )
        wait_for(
            lambda: list((output / "runs").glob("*/results/default/*/federation.json"))[1:],
            "the second run to start",
        )
        second = wait_for(lambda: tefed_runs_under(output), "the second run's process")
        time.sleep(1.0)  # into the second run, past the sweep's bookkeeping of the first
        assert all(is_alive(pid) for pid in second), "the second run ended before the interrupt"
        sweep.send_signal(signal.SIGINT)
        stdout, stderr = sweep.communicate(timeout=WAIT_S)
    finally:
        sweep.kill()
    assert sweep.returncode == 130, stdout + stderr
    assert "interrupted; run the same command again to resume" in stderr
    assert "Traceback" not in stderr
    wait_for(lambda: not processes_working_under(output), "every process of the sweep to end", 60)
    (first_record,) = records
    assert json.loads(first_record.read_text())["status"] == "complete"
    first_written = first_record.stat().st_mtime_ns

    resumed = start_sweep(sweep_path, output, "--workers", "1", "--no-progress")
    stdout, stderr = resumed.communicate(timeout=SWEEP_TIMEOUT_S)
    assert resumed.returncode == 0, stdout + stderr
    assert stdout.count("complete before") == 1, stdout
    assert "2 complete, 0 failed" in stdout, stdout
    assert first_record.stat().st_mtime_ns == first_written
    assert len(list((output / "runs").glob("*/record.json"))) == 2


def test_a_killed_sweep_takes_its_preloaded_runs_with_it(tmp_path: Path):
    """A LocalCluster's runs are forked from the sweep's preloaded server once it is ready
    (`tefed.sweep.preloaded_runs`), not started by the sweep process itself: killed by SIGKILL,
    the sweep runs no handler, and such a run still ends (the server ends with the sweep, and
    each run with the server)."""
    # One worker; the first run is paced to 8 s (two hours at 900x), the second to 96 s (a
    # day): the kill comes while the second runs, and it cannot have ended by itself in the
    # test.
    sweep_path = write_sweep(tmp_path, [5], speed=900)
    sweep = yaml.safe_load(sweep_path.read_text())
    sweep["zip"] = {
        "households.pv_battery.battery.capacity_kwh": [5, 20],
        "time.duration_s": [7200, 86400],
    }
    del sweep["grid"], sweep["set"]["time.duration_s"]
    sweep_path.write_text(yaml.safe_dump(sweep, sort_keys=False))
    output = tmp_path / "out"
    sweep = start_sweep(sweep_path, output, "--workers", "1", "--no-progress")
    try:
        wait_for(lambda: list((output / "runs").glob("*/record.json")), "the first run's record")
        runs = wait_for(lambda: tefed_runs_under(output), "the second run's process")
        servers = set(runs.values())
        assert sweep.pid not in servers, "the run was started by the sweep itself"
        assert all(os.getppid() != server and is_alive(server) for server in servers)
        sweep.kill()
        sweep.wait(timeout=10)  # not communicate: a process left behind may hold its pipes
        wait_for(lambda: not tefed_runs_under(output), "the runs to end with their sweep", 30)
        wait_for(lambda: not processes_working_under(output), "every process to end", 30)
        assert not any(is_alive(server) for server in servers)
    finally:
        sweep.kill()


@pytest.mark.parametrize("after_s", [0.3, 1.5])
def test_a_sweep_interrupted_while_it_starts_exits_130_without_a_traceback(
    tmp_path: Path, after_s: float
):
    """Ctrl-C while the sweep imports (0.3 s) or plans and its run server imports (1.5 s on a
    2-core machine; on a faster one its first runs may have started): exit 130 with a line, not
    a traceback (neither the sweep's own nor the server's, which ignores SIGINT while it
    imports), and nothing it started is left running."""
    sweep_path = write_sweep(tmp_path, [5, 20])
    output = tmp_path / "out"
    sweep = start_sweep(sweep_path, output, "--workers", "2", "--no-progress")
    try:
        time.sleep(after_s)
        sweep.send_signal(signal.SIGINT)
        stdout, stderr = sweep.communicate(timeout=WAIT_S)
    finally:
        sweep.kill()
    assert sweep.returncode == 130, stdout + stderr
    assert "Traceback" not in stderr, stderr
    assert "interrupted" in stderr
    wait_for(lambda: not processes_working_under(tmp_path), "every process of the sweep to end", 60)
    records = [json.loads(path.read_text()) for path in output.glob("runs/*/record.json")]
    assert all(record["status"] == "failed" for record in records), records
