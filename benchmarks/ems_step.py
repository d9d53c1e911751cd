"""The ems federate's own work for 1,000 households with rule-based strategies.

A scenario of 1,000 households (self-consumption traders with PV, T-REX expert traders with PV
and two Powerwalls, net-billing references, EV owners) is built into a federation file; one ems
federate hosts them all. Its logic is stepped through a whole day at one-minute steps with the
price feed's forecast vectors as input, as the runtime would call it: take in prices, quote at
gate closures, dispatch batteries, publish. The figure is the median time of a step (over all
steps, ordering steps included) and its 95th percentile.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from tefed.build.builder import build_federation
from tefed.contract import keys
from tefed.contract.federation_file import FederationFile
from tefed.contract.logic import FederateContext, StepInputs
from tefed.contract.run_folder import RunFolder
from tefed.federates.ems.logic import EmsFederate
from tefed.scenario.model import Scenario

NAME = "ems_step"
HOUSEHOLDS = 1000
#: Target of issue 5 [ms per grid step, median].
MEDIAN_STEP_LIMIT_MS = 5.0
SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "default.yaml"


def run(output: Path) -> dict:
    """Median and 95th-percentile ems step time for 1,000 rule-based households."""
    with tempfile.TemporaryDirectory() as scratch:
        figures = _measure(Path(scratch))
    return {
        **figures,
        "targets": [
            {
                "name": f"ems step, {HOUSEHOLDS} rule-based households (median)",
                "measured": figures["median_step_ms"],
                "unit": "ms",
                "comparison": "<=",
                "limit": MEDIAN_STEP_LIMIT_MS,
                "met": figures["median_step_ms"] <= MEDIAN_STEP_LIMIT_MS,
            }
        ],
    }


def _scenario(folder: Path) -> FederationFile:
    data = yaml.safe_load(SCENARIO.read_text())
    share = HOUSEHOLDS // 10
    pv = {"kwp": [4, 8], "tilt_deg": 30, "azimuth_deg": [150, 210]}
    data["households"] = [
        {"group": "reference", "count": share, "strategy": "net_billing"},
        {"group": "pv", "count": 5 * share, "strategy": "self_consumption", "pv": pv},
        {
            "group": "experts",
            "count": 2 * share,
            "strategy": "ma_crossover",
            "pv": pv,
            "battery": {"preset": "two_powerwalls"},
        },
        {"group": "ev", "count": 2 * share, "strategy": "self_consumption", "ev": {}},
    ]
    data["grid"]["feeder"].pop("transformer_kva", None)
    scenario = Scenario.model_validate(data)
    federation = build_federation(scenario, SCENARIO.parent, folder / "federation.json", folder)
    return FederationFile.model_validate_json(federation.to_json_text())


def _measure(folder: Path) -> dict:
    federation = _scenario(folder)
    logic = EmsFederate()
    started = time.perf_counter()
    logic.initialize(
        FederateContext(
            name="ems", federation=federation, entry=federation.entry("ems"), base_dir=folder
        )
    )
    initialize_s = time.perf_counter() - started
    forecast = {
        keys.IMPORT_PRICE_FORECAST: [0.1449] * 96,
        keys.EXPORT_PRICE_FORECAST: [0.069] * 96,
    }
    elapsed = []
    for time_s in logic.schedule_s():
        begun = time.perf_counter()
        logic.step(int(time_s), StepInputs(values=forecast))
        elapsed.append(time.perf_counter() - begun)
    logic.finalize(RunFolder(folder / "run"))
    milliseconds = np.array(elapsed) * 1000
    return {
        "households": HOUSEHOLDS,
        "steps": len(elapsed),
        "median_step_ms": float(np.median(milliseconds)),
        "mean_step_ms": float(milliseconds.mean()),
        "p95_step_ms": float(np.percentile(milliseconds, 95)),
        "max_step_ms": float(milliseconds.max()),
        "initialize_s": initialize_s,
    }
