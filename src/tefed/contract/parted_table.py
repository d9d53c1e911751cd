"""Tables written while the run goes on, so that a run that fails keeps what it computed.

A federate appends to a `PartedTable` at every flush (`results_flush_clock`: at the end of a
simulated hour, or of a market interval when intervals are longer, once the run's
``runtime.flush_min_wall_s`` of wall-clock time (default `FLUSH_MIN_WALL_S`) have passed since
the last flush, or since the federate's first step). While the run goes on, the table is a
folder
named like the table file (``market_trades.parquet/``) holding one Parquet file per flush::

    market_trades.parquet/p000000-000000000.parquet
    market_trades.parquet/p000000-000000001.parquet
    ...

Each part is written to a hidden temporary name and renamed into place, so a reader (and
``pandas.read_parquet`` of the folder, which skips names starting with ``.`` and reads the parts
in name order) never sees half a part. A run that stops at any moment — an exception, SIGKILL,
a stopped federation — keeps every part written so far. When the federate finishes, `finish`
streams the parts into the one file ``market_trades.parquet`` a complete run always had (same
rows, order and dtypes), one part in memory at a time.

Parts of one table share one Arrow schema: a part whose column is all missing (``None``, typed
``null``) and a later one with values are reconciled by widening the schema (``null`` becomes
the values' type) and rewriting the earlier parts once, so that the folder always reads as one
table. Sections (``p000000-``, ``p000001-``, …) order parts when a table is several blocks one
after the other (the market's ledger: orders, then awards, then settlements; an ems's plans,
group by group).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tefed.contract.federation_file import FLUSH_MIN_WALL_S
from tefed.contract.time_grid import TimeGrid

#: Simulated time between two flushes of a federate's tables [s], unless a market interval is
#: longer (then every interval).
FLUSH_PERIOD_S = 3600


#: Sections a table may have (parts are named by section, then by number).
MAX_SECTIONS = 1_000_000


def flush_period_s(market_interval_s: int) -> int:
    """Simulated time between flushes [s]: the whole market intervals in `FLUSH_PERIOD_S`.

    >>> flush_period_s(900), flush_period_s(7200)
    (3600, 7200)
    """
    intervals = max(1, -(-FLUSH_PERIOD_S // market_interval_s))
    return intervals * market_interval_s


class FlushClock:
    """Says when a federate's results are due: at its first step at or after each boundary.

    Parameters
    ----------
    period_s : int
        Simulated time between flushes [s] (`flush_period_s`).
    grid_step_s : int
        The grid step [s]: a step at ``t`` covers ``[t, t + grid_step_s)``, so the step ending
        at a boundary already completes it.
    min_wall_s : float
        A boundary reached sooner than this after the last flush, or after the first call of
        `due`, is passed over [s of wall-clock time]. 0 (the default): every boundary.
    wall_clock_s : Callable[[], float]
        The wall clock [s] (``time.monotonic``).
    """

    def __init__(
        self,
        period_s: int,
        grid_step_s: int,
        min_wall_s: float = 0.0,
        wall_clock_s: Callable[[], float] = time.monotonic,
    ):
        if period_s <= 0 or grid_step_s <= 0:
            raise ValueError(f"flush period {period_s} s and grid step {grid_step_s} s must be > 0")
        self.period_s = int(period_s)
        self.grid_step_s = int(grid_step_s)
        self.min_wall_s = float(min_wall_s)
        self._wall_clock_s = wall_clock_s
        self._next_s = self.period_s
        #: Wall-clock time of the last flush, or of the first step before any [s].
        self._last_due_wall_s: float | None = None

    def due(self, time_s: int) -> bool:
        """True at most once per boundary: when the step at ``time_s`` [s] reaches the next
        boundary and ``min_wall_s`` have passed since the last time it was due (or since the
        first call: a run shorter than ``min_wall_s`` writes its tables once, at the end)."""
        if self._last_due_wall_s is None:
            self._last_due_wall_s = self._wall_clock_s()
        covered_until_s = int(time_s) + self.grid_step_s
        if covered_until_s < self._next_s:
            return False
        self._next_s = (covered_until_s // self.period_s + 1) * self.period_s
        now_s = self._wall_clock_s()
        if now_s - self._last_due_wall_s < self.min_wall_s:
            return False
        self._last_due_wall_s = now_s
        return True


def results_flush_clock(grid: TimeGrid, min_wall_s: float = FLUSH_MIN_WALL_S) -> FlushClock:
    """When a federate appends its results: `flush_period_s` boundaries, ``min_wall_s`` apart.

    Parameters
    ----------
    grid : TimeGrid
        The federation's time grid (its market interval and grid step [s]).
    min_wall_s : float
        Wall-clock time between flushes, and before the first, at least [s] (the federation
        file's ``runtime.flush_min_wall_s``).
    """
    return FlushClock(
        flush_period_s(grid.market_interval_s), grid.grid_step_s, min_wall_s=min_wall_s
    )


class PartedTable:
    """One table of a run folder, appended part by part and made one file at the end.

    Parameters
    ----------
    run_dir : Path
        The run folder.
    name : str
        The table's path in the run folder (``households/ems_0.parquet``).
    """

    def __init__(self, run_dir: Path, name: str):
        self.name = name
        self.path = Path(run_dir) / name
        self._schema: pa.Schema | None = None
        self._parts: list[Path] = []
        self._finished = False

    @property
    def part_count(self) -> int:
        """Parts written so far."""
        return len(self._parts)

    def append(self, frame: pd.DataFrame, section: int = 0) -> None:
        """Write ``frame`` as the next part of the table (in ``section``), atomically.

        Its index is kept only when it is named (as `RunFolder.write_parquet` does). An empty
        frame writes nothing.
        """
        if self._finished:
            raise RuntimeError(f"{self.name}: table already finished")
        if not 0 <= section < MAX_SECTIONS:
            raise ValueError(f"{self.name}: section {section} is not in [0, {MAX_SECTIONS})")
        if frame.empty:
            return
        table = pa.Table.from_pandas(frame, preserve_index=frame.index.name is not None)
        if self._schema is None:
            self._schema = table.schema
        elif not table.schema.equals(self._schema):
            widened = _widened(self._schema, table.schema)
            if not widened.equals(self._schema):
                self._schema = widened
                for part in self._parts:
                    self._write(part, _conformed(pq.read_table(part), widened))
        self.path.mkdir(parents=True, exist_ok=True)
        part = self.path / f"p{section:06d}-{len(self._parts):09d}.parquet"
        self._write(part, _conformed(table, self._schema))
        self._parts.append(part)

    def finish(self, empty: pd.DataFrame | None = None) -> Path:
        """Make the parts one file at the table's path (streamed, one part in memory).

        Parameters
        ----------
        empty : pandas.DataFrame, optional
            What to write when no part was appended (a table with no rows and its dtypes); with
            none and no part, nothing is written.

        Returns the path of the table.
        """
        if self._finished:
            return self.path
        self._finished = True
        temporary = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self._schema is None:
            if empty is not None:
                empty.to_parquet(temporary, index=empty.index.name is not None)
                _replace_folder_with(temporary, self.path)
            return self.path
        if len(self._parts) == 1:
            # The one part already is the table, in its schema: moved, not read and rewritten
            # (every table of a run shorter than the flush period). The folder is parked first,
            # as `_replace_folder_with` does, so the part is never outside a table folder.
            parked = self.path.with_name(f".{self.path.name}.parts-{os.getpid()}")
            os.replace(self.path, parked)
            os.replace(parked / self._parts[0].name, self.path)
            shutil.rmtree(parked)
            return self.path
        ordered = sorted(self._parts, key=lambda part: part.name)
        with pq.ParquetWriter(temporary, self._schema) as writer:
            for part in ordered:
                writer.write_table(_conformed(pq.read_table(part), self._schema))
        _replace_folder_with(temporary, self.path)
        return self.path

    @staticmethod
    def _write(part: Path, table: pa.Table) -> None:
        temporary = part.with_name(f".{part.name}.tmp-{os.getpid()}")
        pq.write_table(table, temporary)
        os.replace(temporary, part)


def _widened(schema: pa.Schema, other: pa.Schema) -> pa.Schema:
    """``schema`` with columns of ``other`` it lacks and its ``null`` columns typed by
    ``other`` (the pandas metadata stays ``schema``'s)."""
    try:
        unified = pa.unify_schemas(
            [schema.remove_metadata(), other.remove_metadata()], promote_options="permissive"
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
        raise ValueError(f"parts of one table do not share columns: {error}") from None
    return unified.with_metadata(schema.metadata)


def _conformed(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with the columns of ``schema``, in its order and types (missing ones null)."""
    columns = [
        table.column(field.name).cast(field.type)
        if field.name in table.column_names
        else pa.nulls(table.num_rows, field.type)
        for field in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def _replace_folder_with(file: Path, target: Path) -> None:
    """Put ``file`` at ``target``, where a folder of parts may be (removed after the swap)."""
    if target.is_dir():
        parked = target.with_name(f".{target.name}.parts-{os.getpid()}")
        os.replace(target, parked)
        os.replace(file, target)
        shutil.rmtree(parked)
    else:
        os.replace(file, target)
