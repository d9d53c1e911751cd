"""A federation at the scale of a real feeder builds, starts and runs under ``tefed run``.

One simulated hour of 1,000 households in two ems shards (and one household run by its own
program) on a generated feeder: a regression in startup, interfaces or transport at scale fails
here. No timing is asserted; ``make bench`` measures speed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
from federations import REPO, short_scenario_data, tefed_run, write_federation

pytestmark = pytest.mark.federation

HOUSEHOLDS = 1_000
AGENT = REPO / "examples" / "household_agent.py"


def scale_scenario() -> dict:
    """The default scenario's households scaled to 1,000, one hour around noon."""
    data = short_scenario_data()
    data["name"] = "scale_1000"
    data["time"]["duration_s"] = 3600
    data["grid"]["feeder"] = {
        "generator": "radial_lv",
        "households_per_transformer": 100,
        "transformer_kva": 250,
        "laterals": 4,
    }
    groups = data["households"]
    total = sum(group["count"] for group in groups)
    for group in groups:
        group["count"] = group["count"] * HOUSEHOLDS // total
    groups[0]["count"] += HOUSEHOLDS - sum(group["count"] for group in groups)
    data["ems"] = {
        "shards": 2,
        "external": [{"household_id": "h0500", "exec": f"{sys.executable} {AGENT}"}],
    }
    data["run"]["stall_timeout_s"] = 120
    return data


def test_a_thousand_households_run_an_hour_with_every_check_passing(tmp_path: Path) -> None:
    path = write_federation(tmp_path, scale_scenario())
    federation = json.loads(path.read_text())
    assert len(federation["tefed"]["households"]["household_id"]) == HOUSEHOLDS
    # Two shards, each one vector and one endpoint; the household program its own keys.
    grid = next(entry for entry in federation["federates"] if entry["name"] == "grid")
    assert len(grid["helics"]["subscriptions"]) == 3

    completed = tefed_run(path, timeout_s=900)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    run = Path(completed.stdout.strip().splitlines()[-1])
    assert json.loads((run / "status.json").read_text())["state"] == "complete"
    summary = json.loads((run / "summary.json").read_text())
    assert all(value for key, value in summary["checks"].items() if key.endswith("_ok"))
    assert summary["checks"]["bills_not_received"] == 0

    households = pd.concat(pd.read_parquet(p) for p in (run / "households").glob("*.parquet"))
    assert households["household_id"].nunique() == HOUSEHOLDS - 1  # h0500 runs on its own
    voltages = pd.read_parquet(run / "household_voltages.parquet")
    assert len(voltages) == HOUSEHOLDS * 60
    # Every built-in household received its settlement of every interval through its shard.
    intervals = pd.concat(
        pd.read_parquet(p) for p in (run / "household_intervals").glob("*.parquet")
    )
    assert len(intervals) == (HOUSEHOLDS - 1) * 4
    assert intervals["bill_usd"].notna().all()
