"""A federation never hangs: a failing, stuck or killed federate ends the whole run, named."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from federations import (
    REPO,
    helics_run,
    short_scenario_data,
    tefed_run,
    write_federation,
)

from tefed.contract.federation_file import FederationFile
from tefed.run.runner import run_federation

pytestmark = pytest.mark.federation

FAULTY_MARKET = REPO / "tests" / "programs" / "faulty_market.py"
#: The issue's promise: a crash ends the federation within a minute.
CRASH_DEADLINE_S = 60


def federation_with_faulty_market(folder: Path, fault: str, **overrides: object) -> Path:
    """A short federation whose market is the fault-injecting program."""
    path = write_federation(folder, short_scenario_data(**overrides))
    data = json.loads(path.read_text())
    for entry in data["federates"]:
        if entry["name"] == "market":
            entry["exec"] = f"{sys.executable} {FAULTY_MARKET} {path.name} --name market"
            entry["env"] = {"TEFED_TEST_FAULT": fault, "TEFED_TEST_FAULT_AT_S": "1800"}
    path.write_text(json.dumps(data, indent=2))
    return path


def processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that mention ``text`` (this test excluded)."""
    return [command for _, command in process_ids_mentioning(text)]


def tefed_run_in_background(federation_path: Path) -> subprocess.Popen:
    """``tefed run FILE --no-progress`` started in the file's folder, output captured."""
    return subprocess.Popen(
        [sys.executable, "-m", "tefed", "run", str(federation_path), "--no-progress"],
        cwd=federation_path.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def federate_pid(folder: Path, name: str, timeout_s: float = 30.0) -> int:
    """Process id of federate ``name`` of the run under ``folder``, once it has started."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = [
            pid
            for pid, command in process_ids_mentioning(f"--name {name}")
            if str(folder) in command
        ]
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"the {name} federate never started")


def process_ids_mentioning(text: str) -> list[tuple[int, str]]:
    """Process id and command line of live processes that mention ``text`` (this test excluded).

    A federate forked by ``tefed run`` shows its ``exec`` line as its command line.
    """
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().split()[2]
        except OSError:
            continue
        if text in command and state != "Z":
            found.append((int(entry.name), command))
    return found


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


#: The built-in federates of the fault matrix. The price feed is not among them: it receives
#: from nobody, so HELICS grants it its whole schedule at once and it has finished within a
#: second of starting, before anything can be done to it mid-run.
BUILT_IN = ["ems", "grid", "market"]


@pytest.mark.parametrize("name", BUILT_IN)
def test_a_killed_forked_federate_is_named_and_nothing_is_left(tmp_path: Path, name: str):
    """A built-in federate forked by ``tefed run`` and killed by SIGKILL mid-run."""
    path = write_federation(tmp_path, short_scenario_data(time__duration_s=7 * 86400))
    runner = tefed_run_in_background(path)
    pid = federate_pid(tmp_path, name)
    time.sleep(1.0)
    killed_at = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    stdout, stderr = runner.communicate(timeout=CRASH_DEADLINE_S)
    assert time.monotonic() - killed_at < CRASH_DEADLINE_S
    assert runner.returncode == 1, stdout + stderr
    assert f"federate '{name}' exited with code -9 (killed by a signal)" in stderr
    run_dir = Path(stdout.strip().splitlines()[-1])
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "failed" and status["failed_federate"] == name
    assert processes_mentioning(str(run_dir)) == []


@pytest.mark.parametrize("name", BUILT_IN)
def test_a_stopped_federate_is_named_not_the_one_waiting_for_it(tmp_path: Path, name: str):
    """A built-in federate frozen by SIGSTOP answers nothing, not even through its core; the
    federates waiting for it name it."""
    data = short_scenario_data(time__duration_s=7 * 86400, run__stall_timeout_s=3)
    path = write_federation(tmp_path, data)
    runner = tefed_run_in_background(path)
    pid = federate_pid(tmp_path, name)
    time.sleep(2.0)
    stopped_at = time.monotonic()
    os.kill(pid, signal.SIGSTOP)
    try:
        stdout, stderr = runner.communicate(timeout=CRASH_DEADLINE_S)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
    assert time.monotonic() - stopped_at < CRASH_DEADLINE_S
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


def test_a_federate_that_never_finishes_starting_is_named(tmp_path: Path):
    path = federation_with_faulty_market(
        tmp_path, "hang_at_start", run__stall_timeout_s=1, run__startup_timeout_s=15
    )
    federation = FederationFile.model_validate_json(path.read_text())
    outcome = run_federation(federation, tmp_path, show_progress=False, source_path=path)
    assert not outcome.ok
    assert "stalled at startup" in outcome.message
    assert "not yet ready: 'market'" in outcome.message
    assert outcome.failed_federate == "market"
    assert processes_mentioning(str(outcome.run_folder.path)) == []


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
    assert processes_mentioning(str(path)) == []
    run_dir = next((tmp_path / "results" / "default").glob("helics-*"))
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "failed"
    assert status["failed_federate"] == "market"
    assert "injected market failure" in status["message"]


def test_helics_run_ends_non_zero_at_the_wall_clock_limit(tmp_path: Path):
    # The market hangs and the others' stall watchdog waits longer than this test: only the
    # broker's own limit (--maxcosimduration, from run.wall_clock_limit_s) can end the run.
    path = federation_with_faulty_market(
        tmp_path, "hang", run__wall_clock_limit_s=5, run__stall_timeout_s=600
    )
    assert (
        "--maxcosimduration=5s"
        in FederationFile.model_validate_json(path.read_text()).entry("broker").exec
    )
    started = time.monotonic()
    completed = helics_run(path, timeout_s=CRASH_DEADLINE_S + 30)
    assert time.monotonic() - started < CRASH_DEADLINE_S
    assert completed.returncode != 0
    assert processes_mentioning(str(path)) == []


def test_the_faulty_program_is_a_real_market_until_its_fault(tmp_path: Path):
    path = federation_with_faulty_market(tmp_path, "raise")
    data = json.loads(path.read_text())
    market = next(entry for entry in data["federates"] if entry["name"] == "market")
    market["env"]["TEFED_TEST_FAULT_AT_S"] = "999999"
    path.write_text(json.dumps(data))
    federation = FederationFile.model_validate(data)
    outcome = run_federation(federation, tmp_path, show_progress=False, source_path=path)
    assert outcome.ok, outcome.message
    assert sys.executable in outcome.run_folder.read_json("federation.json")["federates"][4]["exec"]


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


def test_a_federate_program_that_does_not_exist_is_an_input_error(tmp_path: Path):
    path = write_federation(tmp_path, short_scenario_data())
    data = json.loads(path.read_text())
    data["federates"][4]["exec"] = "no_such_market_program federation.json --name market"
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
    data["federates"][4]["tefed"]["config"]["mechanism"] = "sealed_bid"
    path.write_text(json.dumps(data))
    completed = tefed_run(path, timeout_s=CRASH_DEADLINE_S)
    assert completed.returncode == 2, completed.stderr
    assert "market.mechanism" in completed.stderr and "sealed_bid" in completed.stderr
    run_dir = Path(completed.stdout.strip().splitlines()[-1])
    assert json.loads((run_dir / "status.json").read_text())["failed_federate"] == "market"
