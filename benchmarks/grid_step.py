"""Cost of one grid step on generated feeders: apply household powers, solve, read voltages."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from federates.grid.feeder_generator import LvFeederDesign, generate_lv_feeder
from federates.grid.opendss_engine import OpenDssFeeder

NAME = "grid_step"
SIZES = (12, 100, 1000)
STEPS = 200
#: Target for issue 3 (grid federate at scale), tracked here from the start [ms].
MEDIAN_STEP_LIMIT_MS = 10.0


def run(output: Path) -> dict:
    """Median and 95th-percentile step time per feeder size."""
    rng = np.random.default_rng(0)
    rows = []
    for size in SIZES:
        laterals = max(3, size // 40)
        design = LvFeederDesign(
            n_households=size, laterals=laterals, transformer_kva=max(100.0, 2.0 * size)
        )
        feeder = generate_lv_feeder(design, seed=1)
        engine = OpenDssFeeder(
            feeder.dss_text,
            [f"hh_{i}" for i in range(size)],
            feeder.households["bus"].tolist(),
            feeder.households["phase"].tolist(),
            feeder.lv_base_kv_ln,
            constant_power_voltage_range_pu=(0.7, 1.3),
        )
        elapsed = []
        for _ in range(STEPS):
            power_kw = rng.uniform(-3.0, 4.0, size)
            started = time.perf_counter()
            state = engine.solve(power_kw, np.zeros(size))
            elapsed.append(time.perf_counter() - started)
            if not state.converged:
                raise RuntimeError(f"power flow did not converge with {size} households")
        milliseconds = np.array(elapsed) * 1000
        rows.append(
            {
                "households": size,
                "laterals": laterals,
                "median_ms": float(np.median(milliseconds)),
                "p95_ms": float(np.percentile(milliseconds, 95)),
            }
        )
    largest = rows[-1]
    return {
        "steps_per_size": STEPS,
        "sizes": rows,
        "targets": [
            {
                "name": f"grid step, {largest['households']} households (median)",
                "measured": largest["median_ms"],
                "unit": "ms",
                "comparison": "<=",
                "limit": MEDIAN_STEP_LIMIT_MS,
                "met": largest["median_ms"] <= MEDIAN_STEP_LIMIT_MS,
            }
        ],
    }
