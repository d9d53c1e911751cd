"""One federation over two "hosts" on loopback: two ``tefed run --only`` processes join one
broker, give the tables of a one-host run, and end together, named, when a federate of either
one is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from federations import (
    federate_pid,
    processes_mentioning,
    short_scenario_data,
    tefed_run,
    write_federation,
)
from test_failures import CRASH_DEADLINE_S
from test_federation_run import RUN_TIMEOUT_S, assert_same_tables

from tefed.cli import main
from tefed.contract.run_folder import RunFolder

pytestmark = pytest.mark.federation

MAIN_HOST = "grid,market,price_feed,ems_1"
JOINING_HOST = "ems_2"


def start_host(federation_path: Path, only: str, *options: str) -> subprocess.Popen:
    """``tefed run FILE --only ONLY`` started in the file's folder, its output captured; the
    joining host writes under ``joined/`` (as on another machine, a folder of its own)."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tefed",
            "run",
            str(federation_path),
            "--no-progress",
            "--only",
            only,
            *options,
        ],
        cwd=federation_path.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def start_both_hosts(federation_path: Path) -> tuple[subprocess.Popen, subprocess.Popen]:
    """The main host (broker, grid, market, price feed, first shard), then the joining host
    (second shard), which joins the main host's broker over loopback."""
    main_host = start_host(federation_path, MAIN_HOST)
    joining = start_host(
        federation_path, JOINING_HOST, "--broker-address", "127.0.0.1", "--results", "joined"
    )
    return main_host, joining


def run_folder_of(stdout: str) -> Path:
    return Path(stdout.strip().splitlines()[-1])


def test_two_hosts_give_the_tables_of_a_one_host_run(tmp_path: Path, capsys):
    federation_path = write_federation(
        tmp_path, short_scenario_data(time__duration_s=3600, ems__shards=2)
    )
    main_host, joining = start_both_hosts(federation_path)
    main_out, main_err = main_host.communicate(timeout=RUN_TIMEOUT_S)
    joining_out, joining_err = joining.communicate(timeout=RUN_TIMEOUT_S)
    assert main_host.returncode == 0, main_out + main_err
    assert joining.returncode == 0, joining_out + joining_err
    assert "--only ems_2 --broker-address" in main_err
    main_folder, joined_folder = run_folder_of(main_out), run_folder_of(joining_out)
    assert joined_folder.parent.parent == tmp_path / "joined"
    for folder, elsewhere in (
        (main_folder, ["ems_2"]),
        (joined_folder, ["ems_1", "grid", "market", "price_feed"]),
    ):
        status = RunFolder(folder).status()
        assert (status["state"], status["elsewhere"]) == ("partial", elsewhere)
    # The joining host wrote its own shard's tables and nothing else.
    assert {path.name for path in joined_folder.glob("*/*.parquet")} == {"ems_2.parquet"}
    assert not list(joined_folder.glob("*.parquet"))

    assert main(["report", str(main_folder), "--merge", str(joined_folder)]) == 0
    assert "merged the results of ems_2" in capsys.readouterr().out
    assert RunFolder(main_folder).status()["state"] == "complete"
    assert (main_folder / "report.html").exists()
    summary = RunFolder(main_folder).read_json("summary.json")
    assert set(summary["metadata"]["federates"]) == {
        "price_feed",
        "ems_1",
        "ems_2",
        "grid",
        "market",
    }

    one_host = tefed_run(federation_path, timeout_s=RUN_TIMEOUT_S)
    assert one_host.returncode == 0, one_host.stdout + one_host.stderr
    assert_same_tables(run_folder_of(one_host.stdout), main_folder)


def wait_until_stepping(joined_root: Path, timeout_s: float = 60.0) -> None:
    """Wait until the joining host's shard has written a part of its table: the federation has
    started and is mid-run."""
    deadline = time.monotonic() + timeout_s
    while not list(joined_root.glob("*/*/households/*")):
        assert time.monotonic() < deadline, "the joining host never started stepping"
        time.sleep(0.1)


@pytest.mark.parametrize(
    ("name", "host_root"), [("ems_2", "joined"), ("grid", "results")], ids=["joining", "main"]
)
def test_a_federate_killed_on_one_host_ends_both_runs_naming_it(
    tmp_path: Path, name: str, host_root: str
):
    # Every simulated hour is flushed, so the joining host's first part shows it is stepping.
    federation_path = write_federation(
        tmp_path,
        short_scenario_data(time__duration_s=86400, ems__shards=2, run__flush_min_wall_s=0),
    )
    main_host, joining = start_both_hosts(federation_path)
    try:
        wait_until_stepping(tmp_path / "joined")
        os.kill(federate_pid(tmp_path / host_root, name), signal.SIGKILL)
        outputs = [
            process.communicate(timeout=CRASH_DEADLINE_S) for process in (main_host, joining)
        ]
    finally:
        for process in (main_host, joining):
            if process.poll() is None:
                process.kill()
    for process, (stdout, stderr) in zip((main_host, joining), outputs, strict=True):
        assert process.returncode == 1, stdout + stderr
        assert f"federate '{name}' exited with code -9 (killed by a signal)" in stderr
        status = RunFolder(run_folder_of(stdout)).status()
        assert (status["state"], status["failed_federate"]) == ("failed", name)
    assert processes_mentioning(str(tmp_path)) == []
