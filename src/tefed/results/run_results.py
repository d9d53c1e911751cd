"""A run folder loaded for analysis in Python: its tables, summary, status and federation file.

`load` reads what a run has written so far, so it works on a run that finished, failed or is
still going: a table whose federate has not finished is read from its Parquet parts
(`tefed.contract.parted_table`), and ``completed_intervals`` says how many market intervals
every table holds.

Every time-indexed table comes with the same two time columns, first:

- ``time_s`` [s]: simulated time since the scenario start: the start of the grid step for a
  per-step table, the start of the market interval ``interval_index`` for a per-interval table
  (orders: of the interval they are for);
- ``timestamp``: the same instant as a time-zone-aware calendar time in the scenario's zone.

Tables without a time (the feeder's households, node, element and unbalance statistics) are
as written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict

from tefed.analysis.run_tables import completed_intervals, read_run_tables
from tefed.contract.errors import InputError
from tefed.contract.federation_file import FederationFile
from tefed.contract.run_folder import (
    RESULTS_COMPLETE,
    RESULTS_INCOMPLETE,
    STATUS_COMPLETE,
    RunFolder,
)
from tefed.contract.time_grid import TimeGrid
from tefed.results.summary_model import RunSummary


class RunStatus(BaseModel):
    """``status.json`` of a run: where it stands and whether its tables are whole."""

    model_config = ConfigDict(extra="allow", frozen=True)

    #: ``running``, ``complete``, ``failed``, ``partial`` (one host's part of a run over several
    #: hosts), or ``unknown`` before the run recorded a state.
    state: str = "unknown"
    #: ``complete``: every table holds the whole run; ``incomplete``: they stop early.
    results: str = RESULTS_INCOMPLETE
    failed_federate: str | None = None
    message: str | None = None
    started_at: str | None = None
    ended_at: str | None = None

    @property
    def complete(self) -> bool:
        """Whether the run finished and its tables hold all of it."""
        return self.state == STATUS_COMPLETE and self.results == RESULTS_COMPLETE


@dataclass(frozen=True)
class RunResults:
    """One run's results, as `load` returns them.

    Attributes
    ----------
    path : Path
        The run folder.
    federation : FederationFile
        The federation file the run executed (households, time grid, federates' configuration);
        ``federation.households_frame()`` is the household table.
    status : RunStatus
        The run's state and whether its results are complete.
    summary : RunSummary or None
        ``summary.json`` as typed objects; None until the run's report is written (``tefed
        report RUN`` writes one for a failed run).
    tables : dict of str to pandas.DataFrame
        Every table the run has written so far, by name (``grid``, ``households``, ``prices``,
        ``market_trades``, ...); also reachable as attributes (``run.grid``).
    completed_intervals : int
        Market intervals, from the first, that every table holds completely.
    """

    path: Path
    federation: FederationFile
    status: RunStatus
    summary: RunSummary | None
    tables: dict[str, pd.DataFrame]
    completed_intervals: int

    @property
    def time_grid(self) -> TimeGrid:
        """The run's time grid (start, time zone, grid step, market interval)."""
        return self.federation.tefed.time.to_time_grid()

    def table(self, name: str) -> pd.DataFrame:
        """The table ``name``.

        Raises
        ------
        KeyError
            Naming the tables the run has, when it has not written ``name`` (yet).
        """
        try:
            return self.tables[name]
        except KeyError:
            raise KeyError(
                f"run {self.path.name} has no table {name!r} (yet); it has: "
                f"{', '.join(sorted(self.tables)) or 'none'}"
            ) from None

    def __getattr__(self, name: str) -> pd.DataFrame:
        # Only called for names that are not attributes: the tables, for notebooks.
        if name.startswith("_") or "tables" not in self.__dict__:
            raise AttributeError(name)
        try:
            return self.table(name)
        except KeyError as error:
            raise AttributeError(error.args[0]) from None

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *self.tables})


def load(run_folder: str | Path) -> RunResults:
    """Load a run folder (``results/<scenario>/<run-id>``, or ``.../latest``).

    Parameters
    ----------
    run_folder : str or Path
        The folder ``tefed run`` wrote.

    Returns
    -------
    RunResults
        Tables with the shared time columns (see the module), the typed summary, the status
        and the federation file.

    Raises
    ------
    InputError
        When the folder is not a run folder (it has no ``federation.json``).

    Examples
    --------
    >>> import tefed.results                                            # doctest: +SKIP
    >>> run = tefed.results.load("results/default/latest")              # doctest: +SKIP
    >>> run.grid.set_index("timestamp")["substation_power_kw"].plot()   # doctest: +SKIP
    """
    path = Path(run_folder).resolve()
    if not (path / "federation.json").is_file():
        raise InputError(
            str(run_folder),
            ["no federation.json here; expected a run folder of tefed run (results/<scenario>/"
             "<run-id>)"],
        )  # fmt: skip
    folder = RunFolder(path)
    federation = FederationFile.model_validate(folder.read_json("federation.json"))
    raw = read_run_tables(folder)
    grid = federation.tefed.time.to_time_grid()
    tables = {name: with_time_columns(frame, grid) for name, frame in raw.items()}
    summary_path = folder.file("summary.json")
    summary = (
        RunSummary.model_validate(folder.read_json("summary.json"))
        if summary_path.exists()
        else None
    )
    return RunResults(
        path=path,
        federation=federation,
        status=_status(folder.status()),
        summary=summary,
        tables=tables,
        completed_intervals=completed_intervals(federation, raw),
    )


def _status(recorded: dict[str, Any]) -> RunStatus:
    """The run's status; a run that has not recorded ``results`` (it is still running) has
    incomplete tables."""
    return RunStatus.model_validate({"results": RESULTS_INCOMPLETE, **recorded})


def with_time_columns(frame: pd.DataFrame, grid: TimeGrid) -> pd.DataFrame:
    """A table with ``time_s`` [s] and ``timestamp`` first (see the module), if it has a time.

    Parameters
    ----------
    frame : pandas.DataFrame
        A table of a run: per step (``time_s``), per market interval (``interval_index``), or
        without time (returned unchanged).
    grid : TimeGrid
        The run's time grid: its calendar start and market interval [s].

    Examples
    --------
    >>> from datetime import datetime
    >>> from zoneinfo import ZoneInfo
    >>> grid = TimeGrid(datetime(2022, 6, 21, tzinfo=ZoneInfo("Europe/Berlin")), 86400, 60, 900, 60)
    >>> frame = with_time_columns(pd.DataFrame({"interval_index": [0, 2]}), grid)
    >>> frame["time_s"].tolist(), str(frame["timestamp"].iloc[1])
    ([0, 1800], '2022-06-21 00:30:00+02:00')
    """
    if "time_s" in frame:
        time_s = frame["time_s"]
    elif "interval_index" in frame:
        # Nullable while some rows (ledger records of no interval) have none.
        time_s = frame["interval_index"].astype("Int64") * int(grid.market_interval_s)
        if not time_s.isna().any():
            time_s = time_s.astype("int64")
    else:
        return frame
    timestamp = pd.Timestamp(grid.start) + pd.to_timedelta(time_s, unit="s")
    rest = frame.drop(columns=[c for c in ("time_s", "timestamp") if c in frame])
    return pd.concat(
        [
            pd.DataFrame({"time_s": time_s, "timestamp": timestamp}, index=frame.index),
            rest,
        ],
        axis=1,
    )
