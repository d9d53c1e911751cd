"""A run's tables as the summary, the report and `tefed.results` read them: every Parquet table
of the run folder (sharded tables and parts concatenated), how many market intervals all of them
cover completely, and the tables cut to those intervals (what a failed run's summary counts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tefed.contract.federation_file import FederationFile
from tefed.contract.run_folder import RunFolder


def read_run_tables(folder: RunFolder) -> dict[str, pd.DataFrame]:
    """Every Parquet table of a run that exists, keyed by name (sharded tables concatenated)."""
    tables = {}
    for name, sort in (
        ("households", ["time_s", "household_id"]),
        ("household_intervals", ["interval_index", "household_id"]),
        ("household_awards", ["interval_index", "household_id"]),
        ("household_settlements", ["interval_index", "household_id"]),
        ("household_voltages", None),
        ("grid", None),
        ("prices", None),
        ("market_orders", None),
        ("market_trades", None),
        ("market_awards", None),
        ("market_settlements", None),
        ("market_intervals", None),
        ("market_ledger", None),
        ("market_dlmp", None),
        ("market_binding_branches", None),
        ("market_negotiations", None),
        ("market_communities", None),
        ("market_day_ahead", None),
        ("market_day_ahead_clearings", None),
        ("market_day_ahead_orders", None),
        ("feeder_households", None),
        ("feeder_source", None),
        ("grid_nodes", None),
        ("grid_elements", None),
        ("grid_unbalance", None),
        ("grid_taps", None),
        ("optimizing_plans", ["interval_index", "group_index"]),
    ):
        path = folder.path / name
        if not path.is_dir():
            path = folder.path / f"{name}.parquet"
        if not path.exists() or (path.is_dir() and not _has_parts(path)):
            continue
        frame = pd.read_parquet(path)
        if sort:
            frame = frame.sort_values(sort, kind="stable").reset_index(drop=True)
        tables[name] = frame
    return tables


#: Tables with one row per grid step (and household), by ``time_s`` [s].
_STEP_TABLES = ("households", "household_voltages", "grid", "grid_taps")
#: Tables whose rows belong to a market interval, by ``interval_index``.
_INTERVAL_TABLES = (
    "household_intervals",
    "household_awards",
    "household_settlements",
    "prices",
    "market_trades",
    "market_awards",
    "market_settlements",
    "market_intervals",
    "market_ledger",
    "market_dlmp",
    "market_binding_branches",
    "market_negotiations",
    "market_communities",
    "market_day_ahead",
    "optimizing_plans",
)
#: Tables whose last row says how far their federate got (the others are written ahead:
#: prices at the start, orders for intervals to come).
_PROGRESS_TABLES = ("households", "household_voltages", "grid", "household_intervals")


def _has_parts(folder: Path) -> bool:
    """Whether a folder of a table (parts, or shards' tables) holds a Parquet file to read; a
    federate killed while starting its first part leaves only a hidden temporary file."""
    return any(
        not any(part.startswith((".", "_")) for part in path.relative_to(folder).parts)
        for path in folder.rglob("*.parquet")
        if path.is_file()
    )


def completed_intervals(federation: FederationFile, tables: dict[str, pd.DataFrame]) -> int:
    """Market intervals that every federate's tables hold completely.

    A failed run's tables stop where each federate last wrote them: per-step tables at a
    grid step, the households' per-interval table and the market's settlements at an interval.
    The intervals all of them cover, from the first, are the ones a summary can count; with
    every table whole that is every interval of the run.

    Parameters
    ----------
    federation : FederationFile
        The run's federation file (its time grid).
    tables : dict of str to pandas.DataFrame
        The run's tables, as `read_run_tables` returns them.

    Returns
    -------
    int
        Number of market intervals, from interval 0, that every table covers (0 when the run
        has none of the tables that say how far it got).
    """
    grid = federation.tefed.time.to_time_grid()
    covered = [grid.n_intervals]
    for name in _PROGRESS_TABLES:
        frame = tables.get(name)
        if frame is None:
            continue
        if name == "household_intervals":
            last = frame.groupby("household_id")["interval_index"].max() if len(frame) else None
            covered.append(0 if last is None else int(last.min()) + 1)
            continue
        if "household_id" in frame and len(frame):
            last_s = frame.groupby("household_id")["time_s"].max().min()
        else:
            last_s = frame["time_s"].max() if len(frame) else -grid.grid_step_s
        covered.append(int(last_s + grid.grid_step_s) // grid.market_interval_s)
    settled = _settled_intervals(tables)
    if settled is not None:
        covered.append(settled)
    # A run without any of these tables has completed nothing that can be counted.
    return max(0, min(covered)) if len(covered) > 1 else 0


def _settled_intervals(tables: dict[str, pd.DataFrame]) -> int | None:
    """Market intervals, from interval 0, that the market's tables show settled; None when
    they do not bound the run (no market tables, or a market that finished its run).

    A settled interval has settlement rows only for participants that exchanged energy or
    traded (none when every household's meter read 0 Wh), but always its row in
    ``market_intervals`` with the settlement's import price; interval 0, never cleared
    (its gate closed before the run), has no such row. The market writes an interval's row
    once it settled, so rows without prices are only the unsettled intervals a finished run
    adds at its end.
    """
    bounds = []
    settlements = tables.get("market_settlements")
    if settlements is not None and len(settlements):
        bounds.append(int(settlements["interval_index"].max()) + 1)
    intervals = tables.get("market_intervals")
    if intervals is not None and "import_price_usd_per_kwh" in intervals:
        settled_rows = intervals["interval_index"][intervals["import_price_usd_per_kwh"].notna()]
        if len(settled_rows):
            bounds.append(int(settled_rows.max()) + 1)
    if bounds:
        return max(bounds)
    if settlements is not None and intervals is not None:
        # Both written and neither shows a settlement: the market's run ended and wrote
        # them whole (a run of one interval, or one nobody drew energy in).
        return None
    # A market that has flushed no settlement yet has settled nothing the tables show.
    return 0 if settlements is not None or intervals is not None else None


def tables_until(
    federation: FederationFile, tables: dict[str, pd.DataFrame], intervals: int
) -> dict[str, pd.DataFrame]:
    """The run's tables cut to their first ``intervals`` market intervals.

    Per-step tables keep the steps of those intervals, per-interval tables their intervals,
    orders those received before the cut; the grid's statistics (nodes, elements, unbalance)
    stay as written, up to the grid's last write.
    """
    grid = federation.tefed.time.to_time_grid()
    end_s = intervals * grid.market_interval_s
    cut = dict(tables)
    for name in _STEP_TABLES:
        if name in cut:
            cut[name] = _rows(cut[name], cut[name]["time_s"] < end_s)
    for name in _INTERVAL_TABLES:
        if name in cut and "interval_index" in cut[name]:
            interval = cut[name]["interval_index"]
            cut[name] = _rows(cut[name], (interval < intervals).fillna(False).to_numpy(bool))
    if "market_orders" in cut:
        orders = cut["market_orders"]
        cut["market_orders"] = _rows(orders, orders["received_time_s"] < end_s)
    return cut


def _rows(frame: pd.DataFrame, keep: Any) -> pd.DataFrame:
    return frame[np.asarray(keep, dtype=bool)].reset_index(drop=True)
