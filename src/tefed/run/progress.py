"""What ``tefed run`` shows while a federation runs: its stage and the simulated time covered."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from tefed.run.processes import FederateProcess


def simulated_progress_s(processes: list[FederateProcess]) -> float | None:
    """Simulated time every built-in federate has covered [s]; None while one of them has not
    made its first step (the federation is starting), or when none reports its progress."""
    reached = [process.progress_s for process in processes if process.builtin]
    if not reached or None in reached:
        return None
    return min(reached)


class RunProgress:
    """A rich progress display: "starting federates" until the first `update`, then a bar of
    simulated time; nothing when disabled.

    Parameters
    ----------
    duration_s : float
        The run's simulated duration [s].
    enabled : bool
        Whether to draw anything.
    console : rich.console.Console, optional
        Where to draw (default: the terminal).
    """

    def __init__(self, duration_s: float, enabled: bool, console: Console | None = None):
        self._duration_s = duration_s
        self._bar = None
        if enabled:
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[simulated]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=console,
                transient=False,
            )
            # No total yet: the bar pulses while the federates start.
            self._task = self._bar.add_task(STARTING, total=None, simulated="")

    def __enter__(self) -> RunProgress:
        if self._bar is not None:
            self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def update(self, simulated_s: float) -> None:
        """Show the simulated time reached [s]; the first call ends the starting stage, the
        end of the simulated time starts the writing of results."""
        if self._bar is not None:
            self._bar.update(
                self._task,
                description=SIMULATING if simulated_s < self._duration_s else WRITING,
                total=self._duration_s,
                completed=simulated_s,
                simulated=f"{simulated_s:,.0f} / {self._duration_s:,.0f} s",
            )

    def finish(self) -> None:
        """Show the whole run simulated and its results written."""
        self.update(self._duration_s)
        if self._bar is not None:
            self._bar.update(self._task, description=SIMULATING)


#: What the progress display says while the federates start, once they step, and once every
#: step is done (the federates write their tables, the last one the summary and plots).
STARTING = "starting federates"
SIMULATING = "simulated time"
WRITING = "writing results"
