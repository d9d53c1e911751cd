"""Real federations: ``helics run`` and ``tefed run`` on a short default scenario."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import pytest
from federations import (
    assert_same_tables,
    helics_run,
    run_program,
    short_scenario_data,
    tefed_run,
    write_federation,
)

from tefed.contract.run_folder import RunFolder
from tefed.run.ports import free_port
from tefed.run.processes import START_METHOD_ENV, fork_hazard

pytestmark = pytest.mark.federation

RUN_TIMEOUT_S = 180
PROGRAMS = Path(__file__).resolve().parent.parent / "programs"


@pytest.fixture(scope="module")
def helics_run_dir(short_federation: Path) -> Path:
    """Run the short federation file with ``helics run --path`` from its folder."""
    completed = helics_run(short_federation, timeout_s=RUN_TIMEOUT_S)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    runs = sorted((short_federation.parent / "results" / "default").glob("helics-*"))
    assert len(runs) == 1
    return runs[0]


def test_helics_run_writes_a_complete_run_folder(helics_run_dir: Path):
    folder = RunFolder(helics_run_dir)
    assert folder.status()["state"] == "complete"
    assert (helics_run_dir.parent / "latest").resolve() == helics_run_dir.resolve()
    assert folder.file("federation.json").exists()
    for name in ("price_feed", "ems", "grid", "market"):
        log = folder.file(f"logs/{name}.log").read_text()
        # Nothing routine is reported as an error (the federate writing the report forks to
        # draw its figures on two cores: that once printed "Exception ignored" every run).
        assert "Exception ignored" not in log and "Traceback" not in log, log
        timing = folder.read_json(f"timing/{name}.json")
        assert timing["busy_s"] > 0 and timing["waiting_s"] >= 0
    summary = folder.read_json("summary.json")
    assert summary["checks"]["energy_balance_ok"] and summary["checks"]["settlement_ok"]
    assert summary["checks"]["state_of_charge_within_limits"]
    assert set(summary["metadata"]["federates"]) == {"price_feed", "ems", "grid", "market"}
    assert summary["metadata"]["versions"]["helics"]
    assert len(list(helics_run_dir.glob("plots/*.png"))) >= 2


def test_helics_run_gives_the_same_numbers_as_the_lockstep_runner(
    helics_run_dir: Path, short_lockstep_run
):
    assert_same_tables(helics_run_dir, short_lockstep_run.path)


def test_tefed_run_twice_gives_identical_results(tmp_path: Path):
    """Once with the built-in federates forked from ``tefed run`` under distributed time
    coordination (the defaults), once started from their ``exec`` lines with the broker
    granting time (``run.time_coordination: global``): the same tables."""
    data = short_scenario_data(**{"time__duration_s": 3600, "ems__shards": 2})
    federation_path = write_federation(tmp_path, data)
    global_data = short_scenario_data(
        **{"time__duration_s": 3600, "ems__shards": 2, "run__time_coordination": "global"}
    )
    global_path = write_federation(tmp_path / "global", global_data)
    assert "--globaltime" in global_path.read_text()
    assert "--globaltime" not in federation_path.read_text()
    run_dirs = []
    for path, start in ((federation_path, "fork"), (global_path, "exec")):
        completed = tefed_run(path, timeout_s=RUN_TIMEOUT_S, environment={START_METHOD_ENV: start})
        assert completed.returncode == 0, completed.stdout + completed.stderr
        last_line = completed.stdout.strip().splitlines()[-1]
        run_dirs.append(Path(last_line))
        assert "household bills" in completed.stdout
        assert "self-sufficiency" in completed.stdout
    assert run_dirs[0] != run_dirs[1]
    assert_same_tables(run_dirs[0], run_dirs[1])
    assert sorted(p.name for p in (run_dirs[0] / "households").iterdir()) == [
        "ems_1.parquet",
        "ems_2.parquet",
    ]
    logs = {p.name for p in (run_dirs[0] / "logs").iterdir()}
    assert logs == {
        "broker.log",
        "price_feed.log",
        "ems_1.log",
        "ems_2.log",
        "grid.log",
        "market.log",
    }


def test_an_unknown_start_method_is_an_input_error(tmp_path: Path):
    federation_path = write_federation(tmp_path, short_scenario_data())
    completed = tefed_run(federation_path, environment={START_METHOD_ENV: "spawn"})
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert f"{START_METHOD_ENV}='spawn'" in completed.stderr
    assert "expected 'fork' or 'exec'" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_a_process_that_ran_helics_runs_a_federation_without_forking(tmp_path: Path):
    """A script that used pyhelics before (a ZeroMQ context is left in it) runs a federation:
    its built-in federates start as new interpreters, since forked ones could not reach their
    broker (they gave up after 40 s, "unable to register federate")."""
    path = write_federation(tmp_path, short_scenario_data(time__duration_s=3600))
    completed = run_program(
        [sys.executable, str(PROGRAMS / "run_after_helics.py"), str(path), str(free_port())],
        tmp_path,
        RUN_TIMEOUT_S,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    (line,) = [line for line in completed.stdout.splitlines() if line.startswith("OUTCOME ")]
    outcome = json.loads(line.removeprefix("OUTCOME "))
    assert outcome["ok"], outcome["message"]
    assert any("this process has run HELICS" in warning for warning in outcome["warnings"])


def test_federates_are_not_forked_from_a_thread_other_than_the_main_one():
    found: list[str | None] = []
    worker = threading.Thread(target=lambda: found.append(fork_hazard()))
    worker.start()
    worker.join()
    assert found == ["the federation is run from a thread other than the process's main thread"]
    assert fork_hazard() is None  # this test's main thread, in a process without HELICS
