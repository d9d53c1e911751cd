"""The grid federate's own work on generated feeders, as it runs in a federation.

For each size, a scenario with that many households on a generated feeder is built into a
federation file; the grid federate's logic is initialized from it and stepped through a whole
day at one-minute steps (half a day at 1,500 households, two hours at 5,000) with household powers
drawn at random (-3 to 4 kW), delivered on the keys the federation file has the households
publish. One step is what the runtime calls between receiving powers and publishing: apply
powers, solve, read voltages and loadings, record, and build the publications. The run's figure
adds initialization and writing the results.
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
from tefed.federates.grid.logic import GridFederate
from tefed.scenario.model import Scenario

NAME = "grid_step"
#: (households, grid steps simulated): a full day at one-minute steps, shorter for the large sizes.
SIZES = ((100, 1440), (1000, 1440), (1500, 720), (5000, 120))
#: Targets of issue 3 at 1,000 households [ms per step] and [s per simulated day].
MEDIAN_STEP_LIMIT_MS = 10.0
DAY_LIMIT_S = 20.0
SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "default.yaml"


def run(output: Path) -> dict:
    """Median and 95th-percentile step time, and the whole run's time, per feeder size."""
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for households, steps in SIZES:
            rows.append(_measure(Path(scratch) / str(households), households, steps))
    thousand = next(row for row in rows if row["households"] == 1000)
    return {
        "sizes": rows,
        "targets": [
            {
                "name": "grid step, 1000 households (median)",
                "measured": thousand["median_step_ms"],
                "unit": "ms",
                "comparison": "<=",
                "limit": MEDIAN_STEP_LIMIT_MS,
                "met": thousand["median_step_ms"] <= MEDIAN_STEP_LIMIT_MS,
            },
            {
                "name": "grid federate work for a day at 1-min steps, 1000 households",
                "measured": thousand["run_s"],
                "unit": "s",
                "comparison": "<=",
                "limit": DAY_LIMIT_S,
                "met": thousand["run_s"] <= DAY_LIMIT_S,
            },
        ],
    }


def _measure(folder: Path, households: int, steps: int) -> dict:
    folder.mkdir(parents=True)
    data = yaml.safe_load(SCENARIO.read_text())
    data["time"]["duration_s"] = steps * data["time"]["grid_step_s"]
    data["households"] = [
        {
            "group": "homes",
            "count": households,
            "strategy": "self_consumption",
            "load_daily_energy_kwh": [6, 14],
        }
    ]
    data["grid"]["feeder"].pop("transformer_kva", None)
    scenario = Scenario.model_validate(data)
    federation = build_federation(scenario, SCENARIO.parent, folder / "federation.json", folder)
    federation = FederationFile.model_validate_json(federation.to_json_text())
    logic = GridFederate()
    started = time.perf_counter()
    logic.initialize(
        FederateContext(
            name="grid", federation=federation, entry=federation.entry("grid"), base_dir=folder
        )
    )
    initialize_s = time.perf_counter() - started
    publications = _power_publications(federation)
    n_households = len(federation.households_frame())
    rng = np.random.default_rng(0)
    elapsed = []
    for time_s in logic.schedule_s():
        power_kw = rng.uniform(-3.0, 4.0, n_households)
        inputs = StepInputs(
            values={
                key: power_kw[rows] if is_vector else float(power_kw[rows[0]])
                for key, rows, is_vector in publications
            }
        )
        begun = time.perf_counter()
        logic.step(int(time_s), inputs)
        elapsed.append(time.perf_counter() - begun)
    begun = time.perf_counter()
    logic.finalize(RunFolder(folder / "run"))
    finalize_s = time.perf_counter() - begun
    milliseconds = np.array(elapsed) * 1000
    design = federation.entry("grid").tefed.config["feeder"]["design"]
    return {
        "households": households,
        "steps": steps,
        "feeder_design": design,
        "median_step_ms": float(np.median(milliseconds)),
        "p95_step_ms": float(np.percentile(milliseconds, 95)),
        "initialize_s": initialize_s,
        "finalize_s": finalize_s,
        "run_s": initialize_s + float(np.sum(elapsed)) + finalize_s,
    }


def _power_publications(federation: FederationFile) -> list[tuple[str, np.ndarray, bool]]:
    """The household power publications the grid subscribes to, as the ems entries declare them.

    Returns
    -------
    list of (str, numpy.ndarray, bool)
        Key, the household-table rows whose power [kW] it carries (in its element order), and
        whether it is a vector (all households of an ems entry) or a double (one household).
    """
    household_ids = [str(h) for h in federation.households_frame()["household_id"]]
    row_of = {household: row for row, household in enumerate(household_ids)}
    row_of_key = {keys.household_power(h): row for h, row in row_of.items()}
    grid_keys = {sub["key"] for sub in federation.entry("grid").helics["subscriptions"]}
    publications = []
    for entry in federation.federate_entries():
        if entry.tefed is None or entry.tefed.role != "ems":
            continue
        hosted = np.array([row_of[str(h)] for h in entry.tefed.config["households"]])
        for publication in entry.helics["publications"]:
            key = publication["key"]
            if key not in grid_keys or publication.get("unit") != "kW":
                continue
            is_vector = publication["type"] == "vector"
            rows = hosted if is_vector else np.array([row_of_key[key]])
            publications.append((key, rows, is_vector))
    return publications
