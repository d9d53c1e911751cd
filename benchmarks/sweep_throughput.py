"""How fast ``tefed sweep`` gets through many whole runs on this machine, per engine.

A sweep of ``VARIANTS`` variants of the default scenario (its whole day; a grid of battery
capacities × export prices) on ``WORKERS`` workers, run as a user runs it (``tefed sweep
SWEEP.yaml --workers 2 --no-progress`` as a subprocess, timed from start to exit), once with
each engine of the sweep file: ``helics`` (every run a HELICS federation, the default) and
``lockstep`` (every run ``tefed run --lockstep``). Each is set against its baseline, measured
in the same benchmark: one run of the default scenario alone, as the sweep runs it (``tefed
run`` with the same options: ``--no-plots``, and ``--lockstep`` for the lockstep engine),
median of ``BASELINE_REPEATS``. The target (issue 16): the sweep's wall time ≤ variants × the
baseline / workers × 1.2. ``TEFED_BENCH_SWEEP_VARIANTS`` sets another number of variants (a
multiple of 10, e.g. 10 to check that the benchmark works); ``TEFED_BENCH_SWEEP_ENGINES`` a
comma-separated subset of the engines.
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

from benchmarks.sweep_overhead import timed_sweep

NAME = "sweep_throughput"
#: Variants of the sweep and workers of its LocalCluster [-].
VARIANTS = 100
WORKERS = 2
#: Environment variables with another number of variants, and a subset of the engines.
VARIANTS_ENV = "TEFED_BENCH_SWEEP_VARIANTS"
ENGINES_ENV = "TEFED_BENCH_SWEEP_ENGINES"
ENGINES = ("helics", "lockstep")
#: Target of issue 16: sweep wall ≤ variants × one run's wall / workers × this [-].
PACKING_LIMIT = 1.2
#: Solo runs whose median is the baseline [-].
BASELINE_REPEATS = 3
SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "default.yaml"
#: Export prices of the grid (× 10 battery capacities per tenth of the variants) [USD/kWh].
EXPORT_PRICES_USD_PER_KWH = (0.04, 0.06, 0.08, 0.10, 0.12, 0.14, 0.16, 0.18, 0.20, 0.22)
#: Longest a sweep may take before the benchmark gives up [s].
TIMEOUT_S = 3 * 3600


def _options(engine: str) -> list[str]:
    """The options of ``tefed run`` that a sweep of ``engine`` gives every run."""
    return ["--no-plots", *(["--lockstep"] if engine == "lockstep" else [])]


def _solo_wall_s(engine: str, folder: Path) -> list[float]:
    """Wall times of ``BASELINE_REPEATS`` runs of the default scenario alone [s]."""
    walls = []
    for _ in range(BASELINE_REPEATS):
        command = [sys.executable, "-m", "tefed", "run", str(SCENARIO), "--no-progress",
                   "--results", str(folder / "solo"), *_options(engine)]  # fmt: skip
        started = time.monotonic()
        subprocess.run(command, cwd=folder, capture_output=True, check=True, timeout=600)
        walls.append(time.monotonic() - started)
    return walls


def _sweep_wall_s(engine: str, variants: int, folder: Path) -> tuple[float, pd.DataFrame]:
    """Wall time of the sweep of ``variants`` variants [s], and its table."""
    capacities = [2.0 + 2.0 * k for k in range(variants // len(EXPORT_PRICES_USD_PER_KWH))]
    sweep = {
        "name": f"throughput_{engine}",
        "base": str(SCENARIO),
        "grid": {
            "households.pv_battery.battery.capacity_kwh": capacities,
            "prices.export_price_usd_per_kwh": list(EXPORT_PRICES_USD_PER_KWH),
        },
        "engine": engine,
    }
    sweep_path = folder / f"sweep_{engine}.yaml"
    sweep_path.write_text(yaml.safe_dump(sweep, sort_keys=False))
    return timed_sweep(sweep_path, folder / f"out_{engine}", WORKERS, TIMEOUT_S)


def run(output: Path) -> dict:
    """Per engine: the sweep's wall time, the baseline and the target."""
    variants = int(os.environ.get(VARIANTS_ENV) or VARIANTS)
    if variants % len(EXPORT_PRICES_USD_PER_KWH):
        raise ValueError(f"{VARIANTS_ENV}: got {variants}; expected a multiple of 10")
    engines = [e for e in (os.environ.get(ENGINES_ENV) or ",".join(ENGINES)).split(",") if e]
    results: dict = {"variants": variants, "workers": WORKERS, "engines": {}, "targets": []}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        for engine in engines:
            solo_s = _solo_wall_s(engine, folder)
            baseline_s = statistics.median(solo_s)
            sweep_s, table = _sweep_wall_s(engine, variants, folder)
            limit_s = variants * baseline_s / WORKERS * PACKING_LIMIT
            results["engines"][engine] = {
                "solo_run_wall_s": solo_s,
                "baseline_s": baseline_s,
                "sweep_wall_s": sweep_s,
                "complete": int((table["status"] == "complete").sum()),
                "mean_run_wall_in_sweep_s": float(table["wall_time_s"].mean()),
                "limit_s": limit_s,
            }
            results["targets"].append(
                {
                    "name": f"{variants} variants of the default scenario, engine {engine}, "
                    f"on {WORKERS} workers (limit: {variants} × {baseline_s:.2f} s alone / "
                    f"{WORKERS} × {PACKING_LIMIT})",
                    "measured": sweep_s,
                    "unit": "s",
                    "comparison": "<=",
                    "limit": limit_s,
                    "met": sweep_s <= limit_s
                    and int((table["status"] == "complete").sum()) == variants,
                }
            )
    return results
