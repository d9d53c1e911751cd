"""What a federate's runtime measures and reports, apart from HELICS itself.

`TimingRecord`: its wall-clock accounting (busy, waiting, per-step times, real-time lag and
lead), written to ``timing/<federate>.json``. `ProgressReport`: when it prints a progress line
(``PROGRESS_PREFIX``) that its supervisor reads from its standard output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tefed.contract.parted_table import FlushClock

#: Prefix of the progress lines a supervisor reads from a federate's standard output:
#: ``TEFED-PROGRESS <federate> <simulated time covered [s]> <duration [s]>``.
PROGRESS_PREFIX = "TEFED-PROGRESS"


@dataclass
class TimingRecord:
    """Wall-clock accounting of one federate [s]."""

    busy_s: float = 0.0
    waiting_s: float = 0.0
    steps: int = 0
    step_busy_s: list[float] = field(default_factory=list)
    #: Wall-clock time at which the federation granted executing mode [s since the epoch].
    executing_since_unix_s: float | None = None
    #: Real-time mode: how each grant came against the wall clock, as wall time since entering
    #: executing mode minus the granted HELICS time [s] (positive: behind the clock).
    realtime_deviations_s: list[float] | None = None
    #: Real-time mode: wall time from entering executing mode to the last grant [s].
    realtime_paced_wall_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """Summary for ``timing/<federate>.json``; in real-time mode also the largest lag and
        lead of a grant against the wall clock and the wall time of the paced part (entering
        executing mode to the last grant) [s]."""
        step_times = np.asarray(self.step_busy_s) if self.step_busy_s else np.zeros(1)
        record = {
            "busy_s": round(self.busy_s, 6),
            "waiting_s": round(self.waiting_s, 6),
            "steps": self.steps,
            "step_busy_median_s": float(np.median(step_times)),
            "step_busy_max_s": float(step_times.max()),
            "executing_since_unix_s": self.executing_since_unix_s,
        }
        if self.realtime_deviations_s:
            deviations = np.asarray(self.realtime_deviations_s)
            record["realtime_lag_max_s"] = round(float(max(deviations.max(), 0.0)), 6)
            record["realtime_lead_max_s"] = round(float(max(-deviations.min(), 0.0)), 6)
            record["realtime_paced_wall_s"] = round(self.realtime_paced_wall_s, 6)
        return record


class ProgressReport:
    """When a federate reports its progress, and how far it has simulated.

    It reports after its first step (so a supervisor knows that it has started stepping) and
    then after its first step at or after each multiple of ``every_s`` of simulated time
    covered, whatever instants it steps at (the market steps only at gate closures and at the
    last step of each interval, never at a whole hour). After its last step the runtime reports
    the whole duration.

    Parameters
    ----------
    every_s : int
        Simulated time between reports [s] (``runtime.progress_every_s``).
    grid_step_s : int
        The grid step [s]: the step at ``t`` covers ``[t, t + grid_step_s)``.
    duration_s : int
        The run's duration [s].

    Examples
    --------
    >>> report = ProgressReport(3600, 60, 7200)
    >>> [report.covered_s(t) for t in (840, 1740, 3540, 4440, 7140)]
    [900, None, 3600, None, 7200]
    """

    def __init__(self, every_s: int, grid_step_s: int, duration_s: int):
        self._clock = FlushClock(every_s, grid_step_s)
        self._grid_step_s = int(grid_step_s)
        self._duration_s = int(duration_s)
        self._started = False

    def covered_s(self, time_s: int) -> int | None:
        """Simulated time covered after the step at ``time_s`` [s] when a report is due, else
        None."""
        due = self._clock.due(time_s)
        if self._started and not due:
            return None
        self._started = True
        return min(int(time_s) + self._grid_step_s, self._duration_s)
