"""What a run that failed must keep: every table, readable, up to its federates' last flush."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from federations import lockstep_run, short_scenario_data, write_federation

from tefed.contract.federation_file import FederationFile
from tefed.contract.logic import StepInputs, StepOutputs
from tefed.contract.run_folder import RunFolder
from tefed.federates.builtin import builtin_logic
from tefed.federates.market.logic import MarketFederate
from tefed.runtime.lockstep import run_lockstep

#: The market fails in the second hour of the two-hour run: the first hour was flushed.
FAILURE_AT_S = 5400
FIRST_HOUR_STEPS_END_S = 3600


class MarketFailingMidRun(MarketFederate):
    """The built-in market, raising at `FAILURE_AT_S`."""

    def step(self, time_s: int, inputs: StepInputs) -> StepOutputs:
        if time_s >= FAILURE_AT_S:
            raise RuntimeError("injected market failure")
        return super().step(time_s, inputs)


def complete_and_failed_runs(folder: Path) -> tuple[RunFolder, RunFolder]:
    """The short federation run to the end, and run until its market fails (no report)."""
    # Every simulated hour is flushed, the first too, however fast the machine.
    path = write_federation(folder, short_scenario_data(run__flush_min_wall_s=0))
    complete = lockstep_run(path, folder / "complete")
    federation = FederationFile.model_validate_json(path.read_text())
    failed = RunFolder(folder / "failed")
    failed.write_text("federation.json", federation.to_json_text())
    failed.mark_running()
    factories = {**builtin_logic(), "market": MarketFailingMidRun}
    with pytest.raises(RuntimeError, match="injected market failure"):
        run_lockstep(federation, path.parent, failed, factories)
    failed.mark_failed("market", "injected market failure")
    return complete, failed


#: Tables every run of the default scenario writes, and whether they are per step (``time_s``).
TABLES = {
    "prices": False,
    "grid": True,
    "household_voltages": True,
    "grid_taps": True,
    "households": True,
    "household_intervals": False,
    "household_awards": False,
    "household_settlements": False,
    "market_orders": False,
    "market_trades": False,
    "market_awards": False,
    "market_settlements": False,
    "market_ledger": False,
    "market_intervals": False,
}


def read_table(folder: RunFolder, name: str) -> pd.DataFrame:
    """Table ``name`` of a run as pandas reads it: a file, a folder of parts, or of shards."""
    path = folder.path / name
    return pd.read_parquet(path if path.is_dir() else folder.path / f"{name}.parquet")


def kept_steps_end_s(folder: RunFolder) -> dict[str, int]:
    """Per per-step table: the end of the last step it holds [s] (the grid step is 60 s)."""
    return {
        name: int(read_table(folder, name)["time_s"].max()) + 60
        for name, per_step in TABLES.items()
        if per_step
    }
