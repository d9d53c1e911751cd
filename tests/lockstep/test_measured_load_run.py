"""A run with measured load profiles: the run folder records which profile each household took,
and the households' recorded load is that profile."""

from __future__ import annotations

import numpy as np
import pandas as pd
from federations import lockstep_run, short_scenario_data, write_federation

from tefed.analysis.run_tables import read_run_tables
from tefed.contract.federation_file import FederationFile


def test_the_run_folder_records_each_households_profile_and_the_load_follows_it(tmp_path):
    times = pd.date_range("2022-06-21", periods=96, freq="15min").strftime("%Y-%m-%d %H:%M")
    # Energy per quarter hour in Wh: column k uses 100 (k + 1) Wh, so 0.4 (k + 1) kW.
    frame = pd.DataFrame({f"meter_{k}": np.full(96, 100.0 * (k + 1)) for k in range(4)})
    frame.insert(0, "time", times)
    frame.to_csv(tmp_path / "meters.csv", index=False)
    data = short_scenario_data()
    load = {"path": "meters.csv", "profile": "csv", "unit": "Wh", "timezone": "Europe/Berlin"}
    data["households"] = [
        {"group": "a", "count": 2, "load": {**load, "assign": ["meter_3", "meter_0"]}},
        {"group": "b", "count": 2, "load": load, "pv": {"kwp": 3}},
    ]
    run = lockstep_run(write_federation(tmp_path, data), tmp_path / "run")
    table = FederationFile.model_validate(run.read_json("federation.json")).households_frame()
    assert table["load_profile_name"].to_dict() == {
        "h01": "meter_3",
        "h02": "meter_0",
        "h03": "meter_1",  # in order: b takes the file's first profiles that a did not list
        "h04": "meter_2",
    }
    recorded = read_run_tables(run)["households"]
    load_kw = recorded.groupby("household_id")["load_power_kw"]
    np.testing.assert_allclose(load_kw.min().to_numpy(), [1.6, 0.4, 0.8, 1.2])
    np.testing.assert_allclose(load_kw.max().to_numpy(), [1.6, 0.4, 0.8, 1.2])
