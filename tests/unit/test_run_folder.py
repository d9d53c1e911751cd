"""Run folder: atomic writes, first-failure-wins status, report claim, latest link."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from federations import short_scenario_data, write_federation

from tefed.contract.federation_file import load_federation_file
from tefed.contract.run_folder import (
    RESULTS_COMPLETE,
    RESULTS_INCOMPLETE,
    STATUS_COMPLETE,
    STATUS_FAILED,
    STATUS_RUNNING,
    RunFolder,
    process_alive,
    process_start,
)
from tefed.federates.program import write_report_if_last


def _all_files(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def test_atomic_writes_leave_no_temporary_files(tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "run")
    run.write_text("logs/grid.log", "hello\n")
    run.write_json("summary.json", {"a": 1})
    run.write_parquet("grid.parquet", pd.DataFrame({"x": [1, 2]}))
    run.write_text("logs/grid.log", "again\n")
    assert _all_files(run.path) == ["grid.parquet", "logs/grid.log", "summary.json"]
    assert run.file("logs/grid.log").read_text() == "again\n"


def test_write_json_converts_numpy_scalars_and_paths(tmp_path: Path) -> None:
    run = RunFolder(tmp_path)
    data = {"energy_wh": np.float64(1.5), "steps": np.int64(3), "where": Path("a/b")}
    text = run.write_json("summary.json", data).read_text()
    assert text.endswith("\n")
    assert run.read_json("summary.json") == {"energy_wh": 1.5, "steps": 3, "where": "a/b"}


def test_write_parquet_round_trip(tmp_path: Path) -> None:
    run = RunFolder(tmp_path)
    frame = pd.DataFrame(
        {"time_s": np.array([0, 60], dtype=np.int64), "power_kw": [1.5, -2.25], "id": ["a", "b"]}
    )
    path = run.write_parquet("households.parquet", frame)
    pd.testing.assert_frame_equal(pd.read_parquet(path), frame)


def test_write_parquet_keeps_a_named_index_only(tmp_path: Path) -> None:
    run = RunFolder(tmp_path)
    named = pd.DataFrame(
        {"bill_usd": [0.1, 0.2]}, index=pd.Index(["h1", "h2"], name="household_id")
    )
    back = pd.read_parquet(run.write_parquet("bills.parquet", named))
    pd.testing.assert_frame_equal(back, named)
    unnamed = pd.DataFrame({"x": [3, 4]}, index=[10, 11])
    back = pd.read_parquet(run.write_parquet("x.parquet", unnamed))
    assert back.index.tolist() == [0, 1]
    assert list(back.columns) == ["x"]


def test_status_before_and_after_running(tmp_path: Path) -> None:
    run = RunFolder(tmp_path)
    assert run.status() == {}
    run.mark_running()
    status = run.status()
    assert status["state"] == STATUS_RUNNING
    assert datetime.fromisoformat(status["started_at"]).tzinfo is not None


def test_mark_failed_records_only_the_first_failure(tmp_path: Path) -> None:
    run = RunFolder(tmp_path)
    run.mark_running()
    assert run.mark_failed("grid", "power flow did not converge") is True
    first = run.status()
    started = first.pop("started_at")
    ended = first.pop("ended_at")
    assert datetime.fromisoformat(started) <= datetime.fromisoformat(ended)
    assert first == {
        "state": STATUS_FAILED,
        "failed_federate": "grid",
        "message": "power flow did not converge",
        "results": RESULTS_INCOMPLETE,
    }
    first.update(started_at=started, ended_at=ended)
    assert run.mark_failed("market", "peer disconnected") is False
    assert RunFolder(tmp_path).mark_failed("ems", "also") is False
    assert run.status() == first
    run.mark_running()
    assert run.status() == first


def test_mark_complete_never_overwrites_a_failure(tmp_path: Path) -> None:
    run = RunFolder(tmp_path)
    run.mark_failed("ems", "bad input")
    run.mark_complete()
    assert run.status()["state"] == STATUS_FAILED
    assert run.status()["failed_federate"] == "ems"


def test_mark_partial_lists_the_federates_elsewhere_and_never_overwrites_a_failure(
    tmp_path: Path,
) -> None:
    run = RunFolder(tmp_path)
    run.mark_running()
    run.mark_partial(["ems_3", "ems_2"])
    assert run.status()["state"] == "partial"
    assert run.status()["elsewhere"] == ["ems_2", "ems_3"]
    run.mark_complete()
    assert run.status()["state"] == STATUS_COMPLETE and "elsewhere" not in run.status()
    failed = RunFolder(tmp_path / "failed")
    failed.mark_failed("ems_2", "killed")
    failed.mark_partial(["ems_2"])
    assert failed.status()["state"] == STATUS_FAILED


def test_mark_complete_after_running(tmp_path: Path) -> None:
    run = RunFolder(tmp_path)
    run.mark_running()
    started = run.status()["started_at"]
    run.mark_complete()
    status = run.status()
    assert status["state"] == STATUS_COMPLETE
    assert status["results"] == RESULTS_COMPLETE
    assert status["started_at"] == started
    assert status["ended_at"] >= started


def test_claim_report_is_true_exactly_once(tmp_path: Path) -> None:
    run = RunFolder(tmp_path)
    assert run.claim_report() is True
    assert run.claim_report() is False
    assert RunFolder(tmp_path).claim_report() is False


def _race(count: int, action: Callable[[int], bool]) -> list[bool | None]:
    """Run ``action(index)`` in ``count`` threads released together; None where one raised."""
    barrier = threading.Barrier(count)
    results: list[bool | None] = [None] * count

    def worker(index: int) -> None:
        barrier.wait()
        results[index] = action(index)

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_claim_report_across_threads_has_one_winner(tmp_path: Path) -> None:
    results = _race(8, lambda _: RunFolder(tmp_path).claim_report())
    assert results.count(True) == 1
    assert results.count(False) == 7


def test_first_failure_across_threads_is_the_recorded_one(tmp_path: Path) -> None:
    results = _race(8, lambda index: RunFolder(tmp_path).mark_failed(f"f{index}", "boom"))
    assert results.count(True) == 1
    winner = results.index(True)
    assert RunFolder(tmp_path).status()["failed_federate"] == f"f{winner}"


def test_done_federates(tmp_path: Path) -> None:
    run = RunFolder(tmp_path)
    assert run.done_federates() == set()
    run.mark_done("grid")
    run.mark_done("market")
    run.mark_done("grid")
    assert run.done_federates() == {"grid", "market"}
    assert RunFolder(tmp_path).done_federates() == {"grid", "market"}


def test_update_latest_link_points_to_the_newest_run(tmp_path: Path) -> None:
    first = RunFolder(tmp_path / "run-1")
    second = RunFolder(tmp_path / "run-2")
    first.write_text("marker.txt", "1")
    second.write_text("marker.txt", "2")
    latest = tmp_path / "latest"
    first.update_latest_link()
    assert (latest / "marker.txt").read_text() == "1"
    second.update_latest_link()
    assert (latest / "marker.txt").read_text() == "2"
    # Relative, so the results folder can be moved as a whole.
    assert os.readlink(latest) == "run-2"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["latest", "run-1", "run-2"]


def test_the_report_waits_for_every_federate_writing_tables(tmp_path: Path) -> None:
    """A program on tefed's runtime in place of a built-in (here an extra ``my_market``) marks
    itself writing; the report is not claimed until it is done too."""
    federation = load_federation_file(write_federation(tmp_path, short_scenario_data()))
    run = RunFolder(tmp_path / "run")
    run.mark_writing("my_market")
    builtin = [entry.name for entry in federation.federate_entries() if entry.runs_builtin]
    for name in builtin:
        run.mark_writing(name)
        run.mark_done(name)
    assert run.writing_federates() == {"my_market", *builtin}
    assert write_report_if_last(federation, run, builtin[-1]) == 0
    assert not (run.path / ".report-claim").exists()


def test_a_named_failure_replaces_an_unnamed_one_written_just_after_its_claim(tmp_path: Path):
    """The claimant of the failure writes its record a moment after its claim; a federate that
    names the cause in between waits for that record and then replaces it."""
    run = RunFolder(tmp_path)
    run.mark_running()
    assert run._claim(".failure-claim")  # the claimant, about to write a record naming none
    writer = threading.Timer(0.2, lambda: run.write_json("status.json", {"state": STATUS_FAILED}))
    writer.start()
    assert RunFolder(tmp_path).mark_failed("price_feed", "not answering") is True
    writer.join()
    assert run.status()["failed_federate"] == "price_feed"


def _ended_process_id() -> int:
    """The id of a process that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_run_whose_supervisor_ended_without_a_word_reads_failed(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path)
    folder.mark_running(supervisor_pid=os.getpid())
    recorded = json.loads(folder.file("status.json").read_text())
    assert recorded["supervisor"]["pid"] == os.getpid()
    assert recorded["supervisor"]["host"] == socket.gethostname()
    assert recorded["supervisor"]["process_start"] == process_start(os.getpid())
    # This process supervises it and runs: still running.
    assert folder.status()["state"] == STATUS_RUNNING
    # The supervisor was killed (SIGKILL): nothing recorded, but the run reads failed.
    recorded["supervisor"]["pid"] = _ended_process_id()
    folder.write_json("status.json", recorded)
    status = folder.status()
    assert status["state"] == STATUS_FAILED
    assert status["results"] == RESULTS_INCOMPLETE
    assert status["failed_federate"] is None
    assert f"process {recorded['supervisor']['pid']}" in status["message"]
    assert status["started_at"] == recorded["started_at"]
    # The file itself is left as it was.
    assert json.loads(folder.file("status.json").read_text())["state"] == STATUS_RUNNING


def test_a_supervisor_pid_given_to_another_process_is_not_the_supervisor(tmp_path: Path):
    folder = RunFolder(tmp_path)
    folder.mark_running(supervisor_pid=os.getpid())
    recorded = json.loads(folder.file("status.json").read_text())
    recorded["supervisor"]["process_start"] -= 1
    folder.write_json("status.json", recorded)
    assert folder.status()["state"] == STATUS_FAILED


def test_a_supervisor_on_another_host_is_not_judged_here(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path)
    folder.write_json(
        "status.json",
        {
            "state": STATUS_RUNNING,
            "started_at": "2026-12-06T10:00:00.000+00:00",
            "supervisor": {"pid": _ended_process_id(), "host": "elsewhere", "process_start": 1},
        },
    )
    assert folder.status()["state"] == STATUS_RUNNING


def test_a_run_without_a_supervisor_keeps_its_recorded_state(tmp_path: Path) -> None:
    # helics run has no supervisor of tefed's: its federates record the run themselves.
    folder = RunFolder(tmp_path)
    folder.mark_running()
    assert "supervisor" not in folder.status()
    assert folder.status()["state"] == STATUS_RUNNING


def test_process_start_reads_this_process_and_nothing_for_an_ended_one() -> None:
    assert isinstance(process_start(os.getpid()), int)
    assert process_start(_ended_process_id()) is None
    assert process_alive(os.getpid(), process_start(os.getpid()))
    assert not process_alive(_ended_process_id(), None)
    assert not process_alive("12", None) and not process_alive(True, None)
