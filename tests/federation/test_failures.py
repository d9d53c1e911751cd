"""A federation never hangs: a failing, stuck or killed federate ends the whole run, named."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
from federations import (
    REPO,
    federate_pid,
    helics_run,
    helics_run_in_background,
    processes_mentioning,
    processes_working_under,
    running_federate,
    short_scenario_data,
    tefed_run,
    write_federation,
)

import tefed.results
from tefed.contract.federation_file import FederationFile
from tefed.contract.run_folder import RunFolder
from tefed.run.runner import run_federation

pytestmark = pytest.mark.federation

FAULTY_FEDERATE = REPO / "tests" / "programs" / "faulty_federate.py"
#: The issue's promise: a crash ends the federation within a minute.
CRASH_DEADLINE_S = 60


def federation_with_faulty_federate(
    folder: Path, name: str, fault: str, fault_at_s: int = 1800, **overrides: object
) -> Path:
    """A short federation whose federate ``name`` is the fault-injecting program: its role's
    built-in logic with ``fault`` (see the program) at simulated time ``fault_at_s`` [s]."""
    path = write_federation(folder, short_scenario_data(**overrides))
    data = json.loads(path.read_text())
    for entry in data["federates"]:
        if entry["name"] == name:
            entry["exec"] = f"{sys.executable} {FAULTY_FEDERATE} {path.name} --name {name}"
            entry["env"] = {"TEFED_TEST_FAULT": fault, "TEFED_TEST_FAULT_AT_S": str(fault_at_s)}
    path.write_text(json.dumps(data, indent=2))
    return path


def federation_with_faulty_market(folder: Path, fault: str, **overrides: object) -> Path:
    """A short federation whose market fails with ``fault`` at t=1800 s."""
    return federation_with_faulty_federate(folder, "market", fault, **overrides)


def tefed_run_in_background(federation_path: Path) -> subprocess.Popen:
    """``tefed run FILE --no-progress`` started in the file's folder, output captured."""
    return subprocess.Popen(
        [sys.executable, "-m", "tefed", "run", str(federation_path), "--no-progress"],
        cwd=federation_path.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


Variant = TypeVar("Variant")
Outcome = TypeVar("Outcome")


#: Fault runs of one test that run side by side at most [-].
AT_ONCE = 4


def side_by_side(
    variants: Sequence[Variant], fault_run: Callable[[Variant, Callable[[], None]], Outcome]
) -> dict[Variant, Outcome]:
    """``fault_run(variant, started)`` for every variant, `AT_ONCE` at a time in threads.

    A fault run is mostly waiting (for the fault to be noticed, for the federation to stop), so
    the variants of a test wait together. Each starts once the one before called ``started()``
    (its federation is up) or ended: a run picks its ports as it starts and binds them as its
    federates start, so runs started at the same moment could pick the same ones. Five at once
    once named the ems for a frozen price feed, most likely through the race fixed in
    `RunFolder.mark_failed` (a federate naming the cause lost its record to the failure's
    claimant between its claim and its write); `AT_ONCE` is four, the built-in federates of one
    run.
    """
    with ThreadPoolExecutor(max_workers=min(AT_ONCE, len(variants))) as pool:
        futures = {}
        for variant in variants:
            up = threading.Event()
            futures[variant] = pool.submit(fault_run, variant, up.set)
            while not up.wait(0.1) and not futures[variant].done():
                pass
        return {variant: future.result() for variant, future in futures.items()}


def signal_and_wait(
    runner: subprocess.Popen, pid: int, fault: signal.Signals
) -> tuple[str, str, float]:
    """Send ``fault`` to federate ``pid`` and wait for its runner to end: the runner's output
    and the seconds it took (a stopped federate is continued afterwards, if still there)."""
    faulted_at = time.monotonic()
    os.kill(pid, fault)
    try:
        stdout, stderr = runner.communicate(timeout=CRASH_DEADLINE_S)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
    return stdout, stderr, time.monotonic() - faulted_at


@pytest.mark.parametrize("fault", ["raise", "kill"])
def test_tefed_run_stops_everything_and_names_the_failed_federate(tmp_path: Path, fault: str):
    path = federation_with_faulty_market(tmp_path, fault)
    federation = FederationFile.model_validate_json(path.read_text())
    started = time.monotonic()
    outcome = run_federation(federation, tmp_path, show_progress=False, source_path=path)
    elapsed = time.monotonic() - started
    assert not outcome.ok
    assert elapsed < CRASH_DEADLINE_S
    assert outcome.failed_federate == "market"
    assert "market" in outcome.message
    if fault == "raise":
        assert "injected market failure" in outcome.message
    status = outcome.run_folder.status()
    assert status["state"] == "failed" and status["failed_federate"] == "market"
    assert outcome.exit_codes["market"] != 0
    assert processes_mentioning(str(outcome.run_folder.path)) == []


#: The built-in federates faulted mid-run. The price feed is not among them: it receives
#: from nobody, so HELICS grants it its whole schedule at once and it has finished within a
#: second of starting, before anything can be done to it mid-run; it is faulted by the faulty
#: program instead, at startup and after its last step
#: (test_a_faulted_price_feed_is_named_under_either_runner).
BUILT_IN = ["ems", "grid", "market"]


def fault_forked_federate(
    folder: Path, name: str, fault: signal.Signals, started: Callable[[], None], **overrides: object
) -> tuple[subprocess.Popen, str, str, float]:
    """Start a week of the short federation under ``tefed run``, send ``fault`` to its built-in
    federate ``name`` once it has run a moment, and wait for the runner to end: the runner, its
    output and the seconds from the fault to its end."""
    path = write_federation(folder, short_scenario_data(time__duration_s=7 * 86400, **overrides))
    runner = tefed_run_in_background(path)
    pid = federate_pid(folder, name)
    started()
    # Every built-in federate marks its run folder as it enters executing mode; a moment later
    # the federation is stepping. (Waiting a fixed 2 s ran the week at full speed meanwhile.)
    deadline = time.monotonic() + 30.0
    while time.monotonic() < deadline and runner.poll() is None:
        folders = list((folder / "results").glob("*/*/.writing"))
        if folders and {item.name for item in folders[0].iterdir()} >= set(BUILT_IN):
            break
        time.sleep(0.05)
    time.sleep(0.3)
    return runner, *signal_and_wait(runner, pid, fault)


def test_a_killed_forked_federate_is_named_and_nothing_is_left(tmp_path: Path, subtests):
    """A built-in federate forked by ``tefed run`` and killed by SIGKILL mid-run."""
    runs = side_by_side(
        BUILT_IN,
        lambda name, started: fault_forked_federate(tmp_path / name, name, signal.SIGKILL, started),
    )
    for name, (runner, stdout, stderr, elapsed) in runs.items():
        with subtests.test(federate=name):
            assert elapsed < CRASH_DEADLINE_S
            assert runner.returncode == 1, stdout + stderr
            assert f"federate '{name}' exited with code -9 (killed by a signal)" in stderr
            run_dir = Path(stdout.strip().splitlines()[-1])
            status = json.loads((run_dir / "status.json").read_text())
            assert status["state"] == "failed" and status["failed_federate"] == name
            assert processes_mentioning(str(run_dir)) == []


def test_a_stopped_federate_is_named_not_the_one_waiting_for_it(tmp_path: Path, subtests):
    """A built-in federate frozen by SIGSTOP answers nothing, not even through its core; the
    federates waiting for it name it.

    Under global time coordination (the learning environments' default): the distributed
    default is covered by the stuck market and the hung federates under ``helics run``, and
    its waiting federates exchange time requests at full speed until the stall is named
    (about 3 s of CPU per federation here).
    """
    runs = side_by_side(
        BUILT_IN,
        lambda name, started: fault_forked_federate(
            tmp_path / name,
            name,
            signal.SIGSTOP,
            started,
            run__stall_timeout_s=3,
            run__time_coordination="global",
        ),
    )
    for name, (runner, stdout, stderr, elapsed) in runs.items():
        with subtests.test(federate=name):
            assert elapsed < CRASH_DEADLINE_S
            assert runner.returncode == 1, stdout + stderr
            assert f"not answering: '{name}'" in stderr
            run_dir = Path(stdout.strip().splitlines()[-1])
            status = json.loads((run_dir / "status.json").read_text())
            assert status["state"] == "failed" and status["failed_federate"] == name
            assert processes_mentioning(str(run_dir)) == []


def test_a_stuck_federate_is_named_and_the_run_ends(tmp_path: Path):
    path = federation_with_faulty_market(tmp_path, "hang", run__stall_timeout_s=3)
    federation = FederationFile.model_validate_json(path.read_text())
    started = time.monotonic()
    outcome = run_federation(federation, tmp_path, show_progress=False, source_path=path)
    assert time.monotonic() - started < CRASH_DEADLINE_S
    assert not outcome.ok
    assert "stalled" in outcome.message
    assert "'market'" in outcome.message
    assert outcome.failed_federate == "market"
    assert processes_mentioning(str(outcome.run_folder.path)) == []


@pytest.mark.parametrize(
    ("fault", "startup_timeout_s", "finding"),
    [
        # Alive but never ready: named once no federate got ready for the startup timeout.
        ("hang_at_start", 15, "not yet ready: 'market'"),
        # Frozen (SIGSTOP) after joining: it answers nothing and is named long before the
        # startup timeout would name it.
        ("stop_at_start", 600, "not answering: 'market'"),
    ],
)
def test_a_federate_that_never_finishes_starting_is_named(
    tmp_path: Path, fault: str, startup_timeout_s: int, finding: str
):
    path = federation_with_faulty_market(
        tmp_path, fault, run__stall_timeout_s=1, run__startup_timeout_s=startup_timeout_s
    )
    federation = FederationFile.model_validate_json(path.read_text())
    started = time.monotonic()
    outcome = run_federation(federation, tmp_path, show_progress=False, source_path=path)
    assert time.monotonic() - started < CRASH_DEADLINE_S
    assert not outcome.ok
    assert "stalled at startup" in outcome.message
    assert finding in outcome.message
    assert outcome.failed_federate == "market"
    assert processes_mentioning(str(outcome.run_folder.path)) == []


def helics_run_folder_when_executing(folder: Path, name: str, timeout_s: float = 60.0) -> Path:
    """The run folder of a ``helics run`` of the federation in ``folder``, once federate
    ``name`` has reported simulated progress into its log there (the grid does every
    ``run.progress_every_s``)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for log in (folder / "results").glob(f"*/helics-*/logs/{name}.log"):
            if "TEFED-PROGRESS" in log.read_text(errors="replace"):
                return log.parent.parent
        time.sleep(0.1)
    raise AssertionError(f"the {name} federate never made progress")


def fault_helics_run_federate(
    folder: Path, name: str, fault: signal.Signals, started: Callable[[], None]
) -> tuple[subprocess.Popen, str, str, float, Path]:
    """Start a week of the short federation under ``helics run``, send ``fault`` to federate
    ``name`` once the grid has reported progress, and wait for ``helics run`` to end: it, its
    output, the seconds from the fault to its end and the run folder."""
    data = short_scenario_data(time__duration_s=7 * 86400, run__stall_timeout_s=3)
    runner = helics_run_in_background(write_federation(folder, data))
    run_dir = helics_run_folder_when_executing(folder, "grid")
    started()
    pid = federate_pid(folder, name)
    return runner, *signal_and_wait(runner, pid, fault), run_dir


@pytest.mark.parametrize("fault", [signal.SIGKILL, signal.SIGSTOP], ids=["killed", "hung"])
def test_helics_run_ends_non_zero_naming_a_killed_or_hung_federate(
    tmp_path: Path, fault: signal.Signals, subtests
):
    """Under ``helics run``, a federate killed by SIGKILL (which helics run itself ignores) or
    frozen by SIGSTOP ends the run: non-zero exit, the federate named, nothing left."""
    runs = side_by_side(
        BUILT_IN,
        lambda name, started: fault_helics_run_federate(tmp_path / name, name, fault, started),
    )
    for name, (runner, stdout, stderr, elapsed, run_dir) in runs.items():
        with subtests.test(federate=name):
            assert elapsed < CRASH_DEADLINE_S
            assert runner.returncode != 0, stdout + stderr
            status = json.loads((run_dir / "status.json").read_text())
            assert status["state"] == "failed" and status["failed_federate"] == name, status
            if fault == signal.SIGKILL:
                assert f"federate '{name}' was killed by signal 9 (SIGKILL)" in stdout + stderr
            else:
                assert f"not answering: '{name}'" in status["message"]
            assert processes_working_under(tmp_path / name) == []


#: How a faulted price feed shows, by fault of the faulty program: what names it in
#: ``status.json``.
PRICE_FEED_FINDINGS = {
    # Killed after joining, before it is ready: its supervisor sees it die (under helics run,
    # when helics run reaped it before the watchdog read its status, without the signal).
    "kill_at_start": ("killed", "ended without finishing its run"),
    # Frozen after joining: it answers no query at startup.
    "stop_at_start": "not answering: 'price_feed'",
    # Alive but never ready: named once no federate got ready for the startup timeout.
    "hang_at_start": "not yet ready: 'price_feed'",
    # Frozen after publishing its last prices, still in the federation: the others wait for it.
    "stop_after_last_step": "not answering: 'price_feed'",
    # Frozen after leaving the federation, before writing its results and exiting: only its
    # supervisor (tefed run, or helics run's watchdog) sees it.
    "stop_after_leaving": "stayed stopped (SIGSTOP)",
}


def run_to_its_end(
    path: Path, runner: str, started: Callable[[], None]
) -> tuple[subprocess.Popen, str, str, Path, float]:
    """Run the federation file ``path`` with ``runner`` (``tefed run`` or ``helics run``)
    until it ends (``started()`` once its price feed has started, or the run has ended): the
    runner, its output, its run folder and the seconds it took."""
    begun = time.monotonic()
    if runner == "tefed run":
        process = tefed_run_in_background(path)
    else:
        process = helics_run_in_background(path)
    while process.poll() is None and running_federate(path.parent, "price_feed") is None:
        time.sleep(0.1)
    started()
    stdout, stderr = process.communicate(timeout=CRASH_DEADLINE_S)
    if runner == "tefed run":
        run_dir = Path(stdout.strip().splitlines()[-1])
    else:
        (run_dir,) = (path.parent / "results" / "default").glob("helics-*")
    return process, stdout, stderr, run_dir, time.monotonic() - begun


@pytest.mark.parametrize("runner", ["tefed run", "helics run"])
def test_a_faulted_price_feed_is_named_under_either_runner(tmp_path: Path, runner: str, subtests):
    def fault_run(fault: str, started: Callable[[], None]):
        # The faults at startup and after leaving come before or after any time grant, and run
        # under the default coordination. The price feed frozen while the others wait for it
        # runs under global coordination (under helics run, the file's broker entry passes it
        # on): under distributed coordination, which the hung federates under helics run cover,
        # the waiting federates exchange time requests at full speed until the stall is named,
        # 13 s of CPU against 3.
        coordination = "global" if fault == "stop_after_last_step" else "distributed"
        path = federation_with_faulty_federate(
            tmp_path / fault,
            "price_feed",
            fault,
            run__stall_timeout_s=3,
            run__startup_timeout_s=15,
            run__time_coordination=coordination,
        )
        return run_to_its_end(path, runner, started)

    runs = side_by_side(list(PRICE_FEED_FINDINGS), fault_run)
    for fault, (process, stdout, stderr, run_dir, elapsed) in runs.items():
        with subtests.test(fault=fault):
            assert elapsed < CRASH_DEADLINE_S
            assert process.returncode != 0, stdout + stderr
            status = json.loads((run_dir / "status.json").read_text())
            assert status["state"] == "failed" and status["failed_federate"] == "price_feed", status
            findings = PRICE_FEED_FINDINGS[fault]
            findings = findings if isinstance(findings, tuple) else (findings,)
            assert any(finding in status["message"] for finding in findings), status
            assert processes_working_under(tmp_path / fault) == []
            assert processes_mentioning(str(run_dir)) == []


def test_a_second_helics_run_of_a_file_fails_fast_and_leaves_the_first_alone(tmp_path: Path):
    # The first run is paced to the wall clock (two hours at 900x: 8 s), so that it is still
    # running when the second fails, whatever the load, without computing a day meanwhile.
    data = short_scenario_data(time__duration_s=7200, run__realtime=True, run__realtime_speed=900)
    path = write_federation(tmp_path, data)
    first = helics_run_in_background(path)
    first_dir = helics_run_folder_when_executing(tmp_path, "grid")
    second = helics_run(path, timeout_s=CRASH_DEADLINE_S)
    assert first.poll() is None, "the second run stopped the first"
    assert second.returncode != 0
    output = second.stdout + second.stderr
    assert f"port {data['run']['broker_port']} in use" in output
    assert "owns this broker" in output
    assert "duplicate federate" not in output
    stdout, stderr = first.communicate(timeout=CRASH_DEADLINE_S)
    assert first.returncode == 0, stdout + stderr
    assert json.loads((first_dir / "status.json").read_text())["state"] == "complete"
    # The second run wrote no run folder of its own, nor into the first one's logs.
    assert list((tmp_path / "results" / "default").glob("helics-*")) == [first_dir]
    assert "owns this broker" not in (first_dir / "logs" / "grid.log").read_text()
    assert processes_working_under(tmp_path) == []


def test_helics_run_ends_non_zero_and_names_the_failed_federate(tmp_path: Path):
    path = federation_with_faulty_market(tmp_path, "raise")
    started = time.monotonic()
    completed = helics_run(path, timeout_s=CRASH_DEADLINE_S + 30)
    assert time.monotonic() - started < CRASH_DEADLINE_S
    assert completed.returncode != 0
    output = completed.stdout + completed.stderr
    # helics run reports each failed process with the end of its log; the market may be killed
    # by it before exiting, but every other federate's log names the market's failure.
    assert "federate 'market' failed" in output
    assert processes_working_under(tmp_path) == []
    run_dir = next((tmp_path / "results" / "default").glob("helics-*"))
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "failed"
    assert status["failed_federate"] == "market"
    assert "injected market failure" in status["message"]


def test_helics_run_ends_non_zero_at_the_wall_clock_limit(tmp_path: Path):
    # The market hangs and the others' stall watchdog waits longer than this test: only the
    # broker's own limit (--maxcosimduration, from run.wall_clock_limit_s) can end the run. The
    # limit counts from the broker's start: it must leave the others time to start and join.
    path = federation_with_faulty_market(
        tmp_path, "hang", run__wall_clock_limit_s=20, run__stall_timeout_s=600
    )
    assert (
        "--maxcosimduration=20s"
        in FederationFile.model_validate_json(path.read_text()).entry("broker").exec
    )
    started = time.monotonic()
    completed = helics_run(path, timeout_s=CRASH_DEADLINE_S + 30)
    assert time.monotonic() - started < CRASH_DEADLINE_S
    assert completed.returncode != 0
    assert processes_working_under(tmp_path) == []


def test_the_faulty_program_is_a_real_market_until_its_fault(tmp_path: Path):
    path = federation_with_faulty_federate(tmp_path, "market", "raise", fault_at_s=999999)
    data = json.loads(path.read_text())
    federation = FederationFile.model_validate(data)
    outcome = run_federation(federation, tmp_path, show_progress=False, source_path=path)
    assert outcome.ok, outcome.message
    assert sys.executable in outcome.run_folder.read_json("federation.json")["federates"][4]["exec"]


def test_a_market_that_leaves_early_fails_the_run_naming_it(tmp_path: Path):
    """A market program whose loop ends at 30 min of a two-hour run, exit 0: HELICS let the
    others go on without it, and the run ended complete with a settlement warning. Now the ems
    misses the settlements of the next interval and the run fails naming the market."""
    path = federation_with_faulty_federate(tmp_path, "market", "leave", fault_at_s=1800)
    federation = FederationFile.model_validate_json(path.read_text())
    outcome = run_federation(federation, tmp_path, show_progress=False, source_path=path)
    assert not outcome.ok
    # Its exit code is not asserted: it may still be writing its tables when the run ends.
    assert outcome.failed_federate == "market", outcome.message
    message = " ".join(outcome.message.split())
    # Its last step settles interval 1 (900-1800 s); interval 2's settlement is missing at 2700 s.
    assert "federate 'market' sent no settlement of interval 2 for households" in message
    assert "by t=2700 s: it left the federation" in message
    status = outcome.run_folder.status()
    assert (status["state"], status["results"]) == ("failed", "incomplete")
    assert processes_mentioning(str(outcome.run_folder.path)) == []


def test_a_federate_program_that_exits_before_the_federation_starts_is_named(tmp_path: Path):
    """A market program that exits 0 before joining: the others waited for it until the
    start-up timeout (here 300 s). Now the run fails as soon as the exit is seen."""
    path = write_federation(tmp_path, short_scenario_data(run__startup_timeout_s=300))
    quitter = tmp_path / "quitter.py"
    quitter.write_text("print('leaving')\n")
    data = json.loads(path.read_text())
    for entry in data["federates"]:
        if entry["name"] == "market":
            entry["exec"] = f"{sys.executable} {quitter}"
    path.write_text(json.dumps(data, indent=2))
    federation = FederationFile.model_validate(data)
    outcome = run_federation(federation, tmp_path, show_progress=False, source_path=path)
    assert not outcome.ok
    assert outcome.failed_federate == "market"
    assert "federate 'market' exited with code 0 before the federation started" in (outcome.message)
    status = outcome.run_folder.status()
    assert (status["state"], status["failed_federate"]) == ("failed", "market")
    assert processes_mentioning(str(outcome.run_folder.path)) == []


def test_terminating_tefed_run_stops_every_process(tmp_path: Path):
    path = write_federation(tmp_path, short_scenario_data(time__duration_s=86400))
    runner = tefed_run_in_background(path)
    deadline = time.monotonic() + 30
    while not list((tmp_path / "results").rglob("logs/grid.log")) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)
    runner.terminate()
    stdout, stderr = runner.communicate(timeout=30)
    assert runner.returncode == 1, stdout + stderr
    assert "interrupted" in stderr
    run_dir = Path(stdout.strip().splitlines()[-1])
    assert json.loads((run_dir / "status.json").read_text())["state"] == "failed"
    assert processes_mentioning(str(run_dir)) == []


def test_a_killed_tefed_run_takes_its_broker_and_federates_with_it(tmp_path: Path):
    """``tefed run`` killed by SIGKILL runs no handler of its own: its broker and federates
    end with it (Linux signals them when it ends), and its folder reads failed, incomplete."""
    path = write_federation(
        tmp_path, short_scenario_data(time__duration_s=7 * 86400, run__flush_min_wall_s=0)
    )
    runner = tefed_run_in_background(path)
    run_dir = None
    deadline = time.monotonic() + 30.0
    while run_dir is None and time.monotonic() < deadline and runner.poll() is None:
        for marks in (tmp_path / "results").glob("*/*/.writing"):
            if {item.name for item in marks.iterdir()} >= set(BUILT_IN):
                run_dir = marks.parent
        time.sleep(0.05)
    assert run_dir is not None, "the federation never started"
    # Stepping, and the grid has written its first hour (a busy machine may take a while): a
    # part renamed into place, not only the table's folder, which exists while the first part
    # is still being written under a hidden name (killed then, the run has no grid rows).
    deadline = time.monotonic() + 60.0
    while not any((run_dir / "grid.parquet").glob("p*.parquet")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert any((run_dir / "grid.parquet").glob("p*.parquet")), "the grid wrote no part in 60 s"
    runner.kill()
    runner.communicate(timeout=CRASH_DEADLINE_S)
    deadline = time.monotonic() + 10.0
    while processes_working_under(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_working_under(tmp_path) == []
    assert processes_mentioning(str(run_dir)) == []
    status = RunFolder(run_dir).status()
    assert status["state"] == "failed" and status["results"] == "incomplete", status
    assert f"process {runner.pid} " in status["message"]
    # What the federates wrote before they were stopped is there to read.
    results = tefed.results.load(run_dir)
    assert not results.status.complete
    assert len(results.tables["grid"]) > 0


def test_a_federate_program_that_does_not_exist_is_an_input_error(tmp_path: Path):
    path = write_federation(tmp_path, short_scenario_data())
    data = json.loads(path.read_text())
    data["federates"][5]["exec"] = "no_such_market_program federation.json --name market"
    path.write_text(json.dumps(data))
    completed = tefed_run(path, timeout_s=CRASH_DEADLINE_S)
    assert completed.returncode == 2
    assert "federates[market].exec" in completed.stderr
    assert "no_such_market_program" in completed.stderr
    assert "Traceback" not in completed.stderr
    run_dir = Path(completed.stdout.strip().splitlines()[-1])
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "failed" and status["failed_federate"] == "market"
    assert processes_mentioning(str(run_dir)) == []


def test_a_federate_rejecting_its_configuration_makes_tefed_run_exit_2(tmp_path: Path):
    path = write_federation(tmp_path, short_scenario_data())
    data = json.loads(path.read_text())
    data["federates"][5]["tefed"]["config"]["mechanism"] = "sealed_bid"
    path.write_text(json.dumps(data))
    completed = tefed_run(path, timeout_s=CRASH_DEADLINE_S)
    assert completed.returncode == 2, completed.stderr
    assert "market.mechanism" in completed.stderr and "sealed_bid" in completed.stderr
    run_dir = Path(completed.stdout.strip().splitlines()[-1])
    assert json.loads((run_dir / "status.json").read_text())["failed_federate"] == "market"
