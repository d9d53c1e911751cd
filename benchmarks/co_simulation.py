"""Co-simulation cost of the default scenario: HELICS processes versus one lockstep process.

The same federate logic runs once stepped in one process (no HELICS) and once as a real
federation (``tefed run``: broker plus four processes). The difference is what co-simulation
costs; each federate's wall time splits into computing and waiting for HELICS.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from federates.builtin import builtin_logic
from federates.runtime.lockstep import run_lockstep
from federates.runtime.run_folder import RunFolder
from federation.builder import build_federation
from federation.runner import run_federation
from federation.scenario import load_scenario

NAME = "co_simulation"
#: The issue's target: the default scenario end to end in under a minute on a 2-core machine.
END_TO_END_LIMIT_S = 60.0


def run(output: Path) -> dict:
    """Time the default day both ways; returns the figures."""
    scenario, scenario_dir = load_scenario(Path("scenarios") / "default.yaml")
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        federation_path = base / "federation.json"
        federation = build_federation(scenario, scenario_dir, federation_path, base)
        federation_path.write_text(federation.to_json_text())
        folder = RunFolder(base / "lockstep")
        started = time.perf_counter()
        lockstep_busy = run_lockstep(federation, base, folder, builtin_logic())
        lockstep_s = time.perf_counter() - started
        outcome = run_federation(
            federation,
            base,
            RunFolder(base / "helics"),
            show_progress=False,
            source_path=federation_path,
        )
        if not outcome.ok:
            raise RuntimeError(f"benchmark run failed: {outcome.message}")
        timing = outcome.run_folder.read_json("summary.json")["metadata"]["federates"]
    return {
        "scenario": "default (12 households, 1 day, 60 s steps, 15 min market)",
        "lockstep_wall_s": lockstep_s,
        "lockstep_busy_s": lockstep_busy,
        "helics_wall_s": outcome.wall_time_s,
        "helics_overhead_factor": outcome.wall_time_s / lockstep_s,
        "helics_federates": timing,
        "targets": [
            {
                "name": "default scenario end to end (tefed run)",
                "measured": outcome.wall_time_s,
                "unit": "s",
                "comparison": "<=",
                "limit": END_TO_END_LIMIT_S,
                "met": outcome.wall_time_s <= END_TO_END_LIMIT_S,
            }
        ],
    }
