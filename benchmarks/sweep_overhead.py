"""What running runs through ``tefed sweep`` costs beyond the runs themselves.

Two cases: a sweep of ``RUNS`` short runs (one per replicate seed) of the default scenario's
noon hour, and one of ``RUNS`` runs of its whole day, each on a LocalCluster of ``WORKERS``
workers and run as a user runs it: ``tefed sweep SWEEP.yaml --workers 2 --no-progress`` as a
subprocess, timed from start to exit. The overhead is that wall time over the ideal of
perfectly packed workers, the sum of the runs' own wall times (each ``tefed run`` process, from
``sweep.parquet``) divided by the workers: it includes starting the command, checking every
point, starting and closing the cluster, scheduling, writing the table, and workers idle at the
end when the runs do not divide evenly. That fixed cost weighs more on shorter runs. The ratio
is the median of ``REPEATS`` sweeps. ``TEFED_BENCH_SWEEP_RUNS`` sets another number of runs
(e.g. 2, to check that the benchmark works).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

NAME = "sweep_overhead"
#: Runs of the sweep and workers of its LocalCluster [-].
RUNS = 8
WORKERS = 2
#: Sweeps measured; the ratio is their median [-].
REPEATS = 3
#: Environment variable with another number of runs [-].
RUNS_ENV = "TEFED_BENCH_SWEEP_RUNS"
#: Target of issue 16: sweep wall / (sum of run walls / workers) [-].
OVERHEAD_LIMIT = 1.1
#: Simulated time of each run per case [s]: the noon hour (when PV trades), and the whole
#: default day.
DURATIONS_S = {"noon hour": 3600, "whole day": 86400}
SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "default.yaml"
#: Longest the sweep may take before the benchmark gives up [s].
TIMEOUT_S = 3600


def timed_sweep(
    sweep_path: Path, output: Path, workers: int, timeout_s: float
) -> tuple[float, pd.DataFrame]:
    """``tefed sweep SWEEP -o OUTPUT --workers N --no-progress`` as a user runs it: its wall
    time from start to exit [s] and its table (``RuntimeError`` if it fails)."""
    command = [sys.executable, "-m", "tefed", "sweep", str(sweep_path), "-o", str(output),
               "--workers", str(workers), "--no-progress"]  # fmt: skip
    started = time.monotonic()
    completed = subprocess.run(
        command,
        cwd=sweep_path.parent,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    wall_s = time.monotonic() - started
    if completed.returncode != 0:
        raise RuntimeError(f"tefed sweep failed: {completed.stdout}\n{completed.stderr}")
    return wall_s, pd.read_parquet(output / "sweep.parquet")


def _one_sweep(runs: int, duration_s: int, folder: Path) -> dict:
    """One sweep of ``runs`` runs of ``duration_s`` simulated seconds in ``folder``: its wall
    time, its runs' and the ratio."""
    sweep_path = folder / "sweep.yaml"
    sweep = {
        "name": NAME,
        "base": str(SCENARIO),
        "set": {
            "time.start": "2022-06-21T11:00:00" if duration_s < 86400 else "2022-06-21T00:00:00",
            "time.duration_s": duration_s,
            "run.progress_every_s": 900,
        },
        "seeds": list(range(1, runs + 1)),
    }
    sweep_path.write_text(yaml.safe_dump(sweep, sort_keys=False))
    sweep_wall_s, table = timed_sweep(sweep_path, folder / "out", WORKERS, TIMEOUT_S)
    run_walls_s = table["wall_time_s"].tolist()
    return {
        "sweep_wall_s": sweep_wall_s,
        "run_wall_s": [float(wall) for wall in run_walls_s],
        "overhead_ratio": sweep_wall_s / (sum(run_walls_s) / WORKERS),
    }


def run(output: Path) -> dict:
    """Per case, the median overhead ratio of ``REPEATS`` sweeps against its target."""
    runs = int(os.environ.get(RUNS_ENV) or RUNS)
    results: dict = {"runs": runs, "workers": WORKERS, "cases": {}, "targets": []}
    for case, duration_s in DURATIONS_S.items():
        sweeps = []
        for _ in range(REPEATS):
            with tempfile.TemporaryDirectory() as scratch:
                sweeps.append(_one_sweep(runs, duration_s, Path(scratch)))
        overhead = statistics.median(sweep["overhead_ratio"] for sweep in sweeps)
        results["cases"][case] = {"simulated_s_per_run": duration_s, "sweeps": sweeps}
        results["targets"].append(
            {
                "name": f"sweep overhead, {runs} runs of the default scenario's {case} on "
                f"{WORKERS} workers (sweep wall / (sum of run walls / workers), median of "
                f"{REPEATS} sweeps)",
                "measured": overhead,
                "unit": "",
                "comparison": "<=",
                "limit": OVERHEAD_LIMIT,
                "met": overhead <= OVERHEAD_LIMIT,
            }
        )
    return results
