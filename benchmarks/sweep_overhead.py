"""What running runs through ``tefed sweep`` costs beyond running the same runs by hand.

Two cases: ``RUNS`` short runs (one per replicate seed) of the default scenario's noon hour, and
``RUNS`` runs of its whole day, each run two ways on this machine, as a user runs them:

- by hand (the baseline): each run as its own ``tefed run BASE --set …`` process with the
  options a sweep gives its runs (``--no-plots``), ``WORKERS`` at a time, each timed from start
  to exit;
- as a sweep: ``tefed sweep SWEEP.yaml --workers 2 --no-progress`` as a subprocess on a
  LocalCluster of ``WORKERS`` workers, timed from start to exit.

The overhead is the sweep's wall time over the ideal of perfectly packed workers running the
runs by hand: the sum of the by-hand runs' wall times divided by the workers (issue 16's
"sweep wall / sum of run walls / workers"). It includes starting the command, checking every
point, starting and closing the cluster, scheduling, writing the table, and workers idle at the
end when the runs do not divide evenly, less what the sweep saves on each run (it forks runs
from a process that imported tefed once, `tefed.sweep.preloaded_runs`). The ratio is the
median of ``REPEATS`` repeats, each measuring both ways one after the other (which goes first
alternates).

Also reported, not a target: the same ratio over the runs' walls inside the sweep
(``sweep.parquet``'s ``wall_time_s``), the definition of this benchmark until its runs were
forked; a sweep's runs are shorter than runs by hand, so it weighs the sweep's fixed start
(Python, Dask, the run server's imports) against less, and it rose from 1.14 to 1.23 when
preloading halved the sweep's wall time (2026-12-07). ``TEFED_BENCH_SWEEP_RUNS`` sets another
number of runs (e.g. 2, to check that the benchmark works).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
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
#: Target of issue 16: sweep wall / (sum of by-hand run walls / workers) [-].
OVERHEAD_LIMIT = 1.1
#: Simulated time of each run per case [s]: the noon hour (when PV trades), and the whole
#: default day.
DURATIONS_S = {"noon hour": 3600, "whole day": 86400}
SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "default.yaml"
#: Longest the sweep may take before the benchmark gives up [s].
TIMEOUT_S = 3600
#: Longest one run by hand may take before the benchmark gives up [s].
RUN_TIMEOUT_S = 600
#: Options of ``tefed run`` a sweep gives its runs (its sweep file leaves ``plots`` false).
RUN_OPTIONS = ("--no-progress", "--no-plots")


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


def _settings(duration_s: int) -> dict:
    """The scenario paths every run of a case sets (beside its seed)."""
    return {
        "time.start": "2022-06-21T11:00:00" if duration_s < 86400 else "2022-06-21T00:00:00",
        "time.duration_s": duration_s,
        "run.progress_every_s": 900,
    }


def _by_hand(runs: int, duration_s: int, folder: Path) -> dict:
    """The baseline: the runs of a case as ``tefed run`` processes, ``WORKERS`` at a time."""

    def one(seed: int) -> float:
        results_root = str(folder / f"seed_{seed}")
        settings = {**_settings(duration_s), "seed": seed, "run.results_root": results_root}
        command = [sys.executable, "-m", "tefed", "run", str(SCENARIO), *RUN_OPTIONS]
        for path, value in settings.items():
            command += ["--set", f"{path}={json.dumps(value)}"]
        started = time.monotonic()
        subprocess.run(command, cwd=folder, capture_output=True, check=True, timeout=RUN_TIMEOUT_S)
        return time.monotonic() - started

    started = time.monotonic()
    with ThreadPoolExecutor(WORKERS) as pool:
        run_walls_s = list(pool.map(one, range(1, runs + 1)))
    return {"wall_s": time.monotonic() - started, "run_wall_s": run_walls_s}


def _one_sweep(runs: int, duration_s: int, folder: Path) -> dict:
    """One sweep of ``runs`` runs of ``duration_s`` simulated seconds in ``folder``: its wall
    time and its runs' [s]."""
    sweep_path = folder / "sweep.yaml"
    sweep = {
        "name": NAME,
        "base": str(SCENARIO),
        "set": _settings(duration_s),
        "seeds": list(range(1, runs + 1)),
    }
    sweep_path.write_text(yaml.safe_dump(sweep, sort_keys=False))
    sweep_wall_s, table = timed_sweep(sweep_path, folder / "out", WORKERS, TIMEOUT_S)
    return {"wall_s": sweep_wall_s, "run_wall_s": [float(w) for w in table["wall_time_s"]]}


def _one_repeat(runs: int, duration_s: int, sweep_first: bool) -> dict:
    """The runs of a case by hand and as a sweep (in the order given), and the ratios."""

    def by_hand() -> dict:
        with tempfile.TemporaryDirectory() as scratch:
            return _by_hand(runs, duration_s, Path(scratch))

    def sweep() -> dict:
        with tempfile.TemporaryDirectory() as scratch:
            return _one_sweep(runs, duration_s, Path(scratch))

    if sweep_first:
        swept = sweep()
        manual = by_hand()
    else:
        manual = by_hand()
        swept = sweep()
    return {
        "by_hand": manual,
        "sweep": swept,
        "sweep_first": sweep_first,
        "overhead_ratio": swept["wall_s"] / (sum(manual["run_wall_s"]) / WORKERS),
        "in_sweep_ratio": swept["wall_s"] / (sum(swept["run_wall_s"]) / WORKERS),
    }


def run(output: Path) -> dict:
    """Per case, the median overhead ratio of ``REPEATS`` repeats against its target."""
    runs = int(os.environ.get(RUNS_ENV) or RUNS)
    results: dict = {"runs": runs, "workers": WORKERS, "cases": {}, "targets": []}
    for case, duration_s in DURATIONS_S.items():
        # The two ways take turns at going first, so neither always runs on a warm cache.
        repeats = [_one_repeat(runs, duration_s, k % 2 == 1) for k in range(REPEATS)]
        overhead = statistics.median(repeat["overhead_ratio"] for repeat in repeats)
        results["cases"][case] = {
            "simulated_s_per_run": duration_s,
            "repeats": repeats,
            "in_sweep_ratio_median": statistics.median(r["in_sweep_ratio"] for r in repeats),
            "sweep_wall_s_median": statistics.median(r["sweep"]["wall_s"] for r in repeats),
            "by_hand_wall_s_median": statistics.median(r["by_hand"]["wall_s"] for r in repeats),
        }
        results["targets"].append(
            {
                "name": f"sweep overhead, {runs} runs of the default scenario's {case} on "
                f"{WORKERS} workers (sweep wall / (sum of the runs' walls by hand / workers), "
                f"median of {REPEATS} repeats)",
                "measured": overhead,
                "unit": "",
                "comparison": "<=",
                "limit": OVERHEAD_LIMIT,
                "met": overhead <= OVERHEAD_LIMIT,
            }
        )
    return results
