"""``tefed sweep`` on a real Dask LocalCluster of two workers, every point a real ``tefed run``:
a failing point is recorded while the others complete, the table holds every run's KPIs, the
report plots them and ``tefed compare`` reads the sweep folder, and a rerun skips the complete
runs and reruns the failed one."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from federations import DEFAULT_SCENARIO, assert_same_tables

from tefed.cli import main

pytestmark = pytest.mark.federation

SWEEP_TIMEOUT_S = 600
#: A wall-clock limit no federation meets: that run fails after it has started [s].
IMPOSSIBLE_LIMIT_S = 0.5


def tefed_sweep(sweep_path: Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tefed", "sweep", str(sweep_path), "--workers", "2"],
        cwd=cwd,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=SWEEP_TIMEOUT_S,
        check=False,
    )


def check_report_and_compare(output: Path, capsys) -> None:
    """``tefed sweep report`` and ``tefed compare`` of the sweep folder."""
    capacity, limit = "households.pv_battery.battery.capacity_kwh", "run.wall_clock_limit_s"
    assert json.loads((output / "sweep.json").read_text())["parameters"] == [capacity, limit]
    kpis = ["community_bill_usd", "community.self_sufficiency_pct"]
    arguments = ["sweep", "report", str(output), "--kpi", kpis[0], "--kpi", kpis[1]]
    assert main(arguments) == 0
    figures = sorted(path.name for path in (output / "report").glob("*.png"))
    assert figures == sorted(f"{kpi}__vs__{parameter}.png" for kpi in kpis
                             for parameter in (capacity, limit))  # fmt: skip
    page = (output / "report" / "index.html").read_text()
    assert page.count("<img ") == 4
    assert "3 runs, 2 complete, 1 failed" in page
    assert "Failed runs" in page and "exit code 1" in page
    capsys.readouterr()
    assert main(["sweep", "report", str(output), "--kpi", "community_bill"]) == 2
    error = " ".join(capsys.readouterr().err.split())
    assert "--kpi 'community_bill': not a numeric column of sweep.parquet; close:" in error
    assert "'community_bill_usd'" in error

    comparison = output / "compare.csv"
    assert main(["compare", str(output), "--csv", str(comparison)]) == 0
    columns = pd.read_csv(comparison, index_col=0).columns
    assert len(columns) == 2  # the complete runs, labelled by their parameters
    assert all(f"{capacity}=" in column for column in columns)
    assert {column.split(f"{capacity}=")[1].split(",")[0] for column in columns} == {"5", "20"}


def test_a_sweep_runs_records_a_failure_tabulates_and_resumes(tmp_path, capsys):
    sweep_path = tmp_path / "sweep.yaml"
    sweep = {
        "name": "tiny",
        "base": str(DEFAULT_SCENARIO),
        "set": {
            "time.start": "2022-06-21T11:00:00",
            "time.duration_s": 3600,
            "run.progress_every_s": 900,
        },
        "zip": {
            "households.pv_battery.battery.capacity_kwh": [5, 20, 10],
            "run.wall_clock_limit_s": [600, 600, IMPOSSIBLE_LIMIT_S],
        },
    }
    sweep_path.write_text(yaml.safe_dump(sweep, sort_keys=False))

    first = tefed_sweep(sweep_path, tmp_path)
    assert first.returncode == 1, first.stdout + first.stderr  # one run failed
    assert "2 complete, 1 failed" in first.stdout, first.stdout

    output = tmp_path / "results" / "sweeps" / "tiny"
    table = pd.read_parquet(output / "sweep.parquet")
    assert len(table) == 3
    assert len(pd.read_csv(output / "sweep.csv")) == 3
    by_capacity = table.set_index("households.pv_battery.battery.capacity_kwh")
    assert list(by_capacity["status"]) == ["complete", "complete", "failed"]
    complete = by_capacity.loc[[5, 20]]
    assert (complete["wall_time_s"] > 0).all()
    assert complete["seed"].tolist() == [7, 7]
    for kpi in ("community.self_sufficiency_pct", "community_bill_usd", "households.h09.bill_usd"):
        assert all(math.isfinite(value) for value in complete[kpi]), kpi
    # A larger battery stores more of the noon surplus: the community bill differs.
    assert complete.loc[5, "community_bill_usd"] != complete.loc[20, "community_bill_usd"]
    failed = by_capacity.loc[10]
    assert failed["message"].startswith("exit code 1"), failed["message"]
    assert math.isnan(failed["community_bill_usd"])
    # Each run went to its own folder under the sweep, named by its run id.
    for row in table.itertuples():
        record = json.loads((output / "runs" / row.run_id / "record.json").read_text())
        assert record["status"] == row.status
    assert all(Path(folder).is_relative_to(output / "runs") for folder in complete["run_folder"])
    # HELICS federations (the default engine), without figures (the default for a sweep's runs).
    for folder in map(Path, complete["run_folder"]):
        assert (folder / "logs" / "broker.log").is_file()
        assert not (folder / "plots").exists()

    # A run forked from the sweep's preloaded server gives the tables of a new interpreter's.
    direct = subprocess.run(
        [sys.executable, "-m", "tefed", "run", str(DEFAULT_SCENARIO), "--no-progress",
         "--no-plots", "--results", str(tmp_path / "direct"),
         *(f"--set={path}={json.dumps(value)}" for path, value in sweep["set"].items()),
         "--set=households.pv_battery.battery.capacity_kwh=5"],
        cwd=tmp_path, capture_output=True, text=True, timeout=SWEEP_TIMEOUT_S, check=False,
    )  # fmt: skip
    assert direct.returncode == 0, direct.stdout + direct.stderr
    assert_same_tables(Path(complete.loc[5, "run_folder"]), Path(direct.stdout.split()[-1]))

    check_report_and_compare(output, capsys)

    records = {run_id: output / "runs" / run_id / "record.json" for run_id in table["run_id"]}
    written = {run_id: path.stat().st_mtime_ns for run_id, path in records.items()}
    second = tefed_sweep(sweep_path, tmp_path)
    assert second.returncode == 1
    assert second.stdout.count("complete before") == 2, second.stdout
    again = pd.read_parquet(output / "sweep.parquet")
    for row in table.itertuples():
        rerun = records[row.run_id].stat().st_mtime_ns != written[row.run_id]
        assert rerun == (row.status == "failed"), row.run_id
    assert again["run_folder"].tolist()[:2] == table["run_folder"].tolist()[:2]


def test_a_lockstep_sweep_runs_its_points_without_helics(tmp_path):
    sweep_path = tmp_path / "sweep.yaml"
    sweep = {
        "name": "lockstep",
        "base": str(DEFAULT_SCENARIO),
        "set": {"time.start": "2022-06-21T11:00:00", "time.duration_s": 3600},
        "grid": {"households.pv_battery.battery.capacity_kwh": [5, 20]},
        "engine": "lockstep",
        "plots": True,
    }
    sweep_path.write_text(yaml.safe_dump(sweep, sort_keys=False))
    done = tefed_sweep(sweep_path, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    table = pd.read_parquet(tmp_path / "results" / "sweeps" / "lockstep" / "sweep.parquet")
    assert (table["status"] == "complete").all()
    for folder in map(Path, table["run_folder"]):
        assert sorted(path.name for path in (folder / "logs").iterdir()) == ["lockstep.log"]
        assert (folder / "plots" / "community_power.png").is_file()
    bills = table.set_index("households.pv_battery.battery.capacity_kwh")["community_bill_usd"]
    assert bills[5] != bills[20]
