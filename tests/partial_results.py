"""What a run that failed must keep: every table, readable, up to its federates' last flush."""

from __future__ import annotations

import pandas as pd

from tefed.contract.run_folder import RunFolder

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
