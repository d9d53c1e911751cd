"""Real-time mode: HELICS paces the federation to the wall clock, at a speed factor.

The one test of tefed that looks at the wall clock, because pacing to it is the feature: it
measures only the paced part (from entering executing mode to the last grant), not start-up or
writing results, so a loaded machine changes it by the federates' lag at most, which is small
at this size and reported.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from federations import write_federation

from tefed.contract.federation_file import load_federation_file
from tefed.contract.run_folder import RunFolder
from tefed.run.runner import run_federation

pytestmark = pytest.mark.federation

#: Two simulated minutes at 60 times real time: two wall-clock seconds.
SCENARIO = {
    "name": "realtime",
    "seed": 3,
    "time": {
        "start": "2022-06-21T12:00:00",
        "timezone": "Europe/Berlin",
        "duration_s": 120,
        "grid_step_s": 60,
        "market_interval_s": 60,
        "gate_closure_s": 60,
    },
    "site": {"latitude_deg": 48.0, "longitude_deg": 7.85, "altitude_m": 280},
    "grid": {"feeder": {"generator": "radial_lv", "laterals": 1, "transformer_kva": 100}},
    "households": [
        {"group": "pv", "count": 2, "strategy": "self_consumption", "pv": {"kwp": 5}},
        {"group": "consumers", "count": 2, "strategy": "self_consumption"},
    ],
    "run": {"realtime": True, "realtime_speed": 60, "wall_clock_limit_s": 120},
}


def run_to_summary(federation, federation_path: Path, tmp_path: Path) -> dict:
    """Run ``federation`` (written at ``federation_path``) into ``tmp_path/run``; its summary."""
    outcome = run_federation(
        federation,
        tmp_path,
        RunFolder(tmp_path / "run"),
        show_progress=False,
        source_path=federation_path,
    )
    assert outcome.ok, outcome.message
    return json.loads((tmp_path / "run" / "summary.json").read_text())


def test_two_simulated_minutes_at_60x_take_two_seconds(tmp_path: Path):
    federation_path = write_federation(tmp_path, SCENARIO)
    federation = load_federation_file(federation_path)
    block = federation.entry("grid").helics
    assert block["realtime"] is True and block["period"] == pytest.approx(1.0)
    summary = run_to_summary(federation, federation_path, tmp_path)
    run = summary["metadata"]
    # The ems steps last, at the end of the run: 120 simulated s = 2 HELICS (wall) s.
    paced_s = run["federates"]["ems"]["realtime_paced_wall_s"]
    assert paced_s == pytest.approx(2.0, rel=0.2)
    # HELICS granted no time ahead of the wall clock (it sleeps off leads above 5 ms).
    assert run["realtime"]["speed"] == pytest.approx(60.0)
    assert 0.0 <= run["realtime"]["lead_max_s"] <= 0.01
    assert run["realtime"]["lag_max_s"] >= 0.0


def test_a_speed_whose_step_is_no_whole_number_of_nanoseconds_runs(tmp_path: Path):
    """At 900x a 60 s step lasts 66,666,666.7 ns, and HELICS, which keeps whole nanoseconds,
    granted a step late (the run failed at its first market interval). The speed is rounded to
    whole nanoseconds per simulated second: thirty minutes then take two seconds."""
    data = {
        **SCENARIO,
        "time": {**SCENARIO["time"], "duration_s": 1800},
        "run": {**SCENARIO["run"], "realtime_speed": 900},
    }
    federation_path = write_federation(tmp_path, data)
    federation = load_federation_file(federation_path)
    for entry in federation.federates:
        if entry.helics and "period" in entry.helics:
            nanoseconds = entry.helics["period"] * 1e9
            assert nanoseconds == pytest.approx(round(nanoseconds), abs=1e-6), entry.name
    summary = run_to_summary(federation, federation_path, tmp_path)
    assert summary["metadata"]["realtime"]["speed"] == pytest.approx(900.0, rel=2e-6)
