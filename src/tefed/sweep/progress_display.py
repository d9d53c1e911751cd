"""What ``tefed sweep`` shows while it runs: a line per finished run and a progress bar.

The bar counts runs done (complete or failed, including those complete before this sweep
started), shows how many are running and how many failed, the elapsed time and an ETA. The ETA
assumes runs keep finishing at the rate of this sweep so far: elapsed time / runs finished in
this sweep × runs not finished (runs skipped as complete before do not count toward the rate).
Without a bar (``--no-progress``, or output that is not a terminal) only the lines are printed.
"""

from __future__ import annotations

import time
from datetime import timedelta
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tefed.sweep.points import SweepPoint
from tefed.sweep.run_record import STATUS_FAILED, RunRecord


def parameters_text(parameters: dict[str, Any]) -> str:
    """A point's varied values as ``path=value, …``.

    Examples
    --------
    >>> parameters_text({"households.pv.count": 4, "market.mechanism": "dlmp"})
    "households.pv.count=4, market.mechanism='dlmp'"
    """
    return ", ".join(f"{path}={value!r}" for path, value in parameters.items())


def eta_s(elapsed_s: float, finished: int, remaining: int) -> float | None:
    """Time left if runs keep finishing at this sweep's rate so far [s]; None before the first.

    Examples
    --------
    >>> eta_s(120.0, 4, 6)  # 4 runs in 120 s: 30 s each, 6 left
    180.0
    >>> eta_s(10.0, 0, 6) is None
    True
    """
    return elapsed_s / finished * remaining if finished else None


class SweepProgress:
    """A `tefed.sweep.execution.SweepObserver` printing to the terminal (a context manager).

    Parameters
    ----------
    total : int
        Runs in the sweep.
    show_bar : bool
        Draw the progress bar (on a terminal); the lines are printed either way.
    console : rich.console.Console, optional
        Where to print (default: standard output).
    """

    def __init__(self, total: int, show_bar: bool, console: Console | None = None):
        self.console = console or Console(highlight=False)
        self._total = total
        self._done = 0
        self._failed = 0
        self._finished_here = 0
        self._running = 0
        self._started = time.monotonic()
        self._bar: Progress | None = None
        if show_bar and self.console.is_terminal:
            self._bar = Progress(
                TextColumn("runs"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[state]}"),
                TimeElapsedColumn(),
                TextColumn("ETA {task.fields[eta]}"),
                console=self.console,
            )
            self._task = self._bar.add_task("sweep", total=total, state="", eta="-")

    def __enter__(self) -> SweepProgress:
        self._started = time.monotonic()
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()

    def recorded(self, point: SweepPoint, record: RunRecord, skipped: bool) -> None:
        """Print the run's line and count it."""
        self._done += 1
        self._failed += record.status == STATUS_FAILED
        self._finished_here += not skipped
        state = "complete before" if skipped else f"{record.status} in {record.wall_time_s:.1f} s"
        line = (
            f"[{self._done}/{self._total}] {point.run_id} {state}  "
            f"{parameters_text(point.parameters)}"
        )
        if record.message and not skipped:
            line += "\n    " + record.message.replace("\n", "\n    ")
        self.console.print(line, markup=False, soft_wrap=True)
        self._refresh()

    def running(self, count: int) -> None:
        """Show how many runs execute now."""
        self._running = count
        self._refresh()

    def _refresh(self) -> None:
        if self._bar is None:
            return
        left = eta_s(
            time.monotonic() - self._started, self._finished_here, self._total - self._done
        )
        self._bar.update(
            self._task,
            completed=self._done,
            state=f"{self._running} running, {self._failed} failed",
            eta="-" if left is None else str(timedelta(seconds=round(left))),
            refresh=True,
        )
