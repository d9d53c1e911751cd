"""The synchronized time grid every federate advances on.

Simulated time is seconds since the scenario start. Two time scales:

- the grid step ``grid_step_s``: households publish net power, the grid solves;
- the market interval ``market_interval_s`` (a multiple of the grid step): orders for delivery
  interval ``k`` are submitted during interval ``k - 1``, the market clears at gate closure
  ``gate_closure_s`` before interval ``k`` starts, and awards reach households before delivery.

Within one grid instant ``t`` the federates act in a fixed order, expressed as small HELICS time
offsets (``phase_offsets_s``): the price feed at ``t``, the households at ``t + 1 ms``, the grid at
``t + 2 ms``, the market at ``t + 3 ms``. A value published in one phase is read in a later phase
of the same instant or in a later instant, never in the same phase, so every run is deterministic.
See ``docs/interfaces.md`` for the timing diagram.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

#: Order of the roles inside one grid instant, and the default HELICS offset of each [s].
DEFAULT_PHASE_OFFSETS_S: dict[str, float] = {
    "price_feed": 0.0,
    "ems": 0.001,
    "grid": 0.002,
    "market": 0.003,
}


#: Seconds in a (calendar-free) day [s].
SECONDS_PER_DAY = 86400
#: Seconds in an hour [s].
SECONDS_PER_HOUR = 3600
#: Nanoseconds in a second, the unit of pandas' integer instants [ns/s].
NS_PER_S = 1_000_000_000


@dataclass(frozen=True)
class TimeGrid:
    """Calendar anchor and step sizes of one federation.

    Parameters
    ----------
    start : datetime
        Calendar time of simulated time 0, time-zone aware.
    duration_s : int
        Simulated duration [s]; a multiple of ``market_interval_s``.
    grid_step_s : int
        Grid (power-flow) step [s].
    market_interval_s : int
        Market (delivery) interval [s]; a multiple of ``grid_step_s``.
    gate_closure_s : int
        Time before the start of a delivery interval at which its order book closes [s]; a
        multiple of ``grid_step_s``, from one grid step (so awards arrive before delivery) up to
        one market interval (orders for ``k`` are placed during ``k − 1``).
    phase_offsets_s : dict of str to float
        HELICS time offset of each role within a grid instant [s].
    helics_time_scale : float
        HELICS seconds per simulated second [-]: 1, or ``1 / speed`` in real-time mode, where
        HELICS paces its time to the wall clock (``run.realtime_speed``).
    """

    start: datetime
    duration_s: int
    grid_step_s: int
    market_interval_s: int
    gate_closure_s: int
    phase_offsets_s: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_PHASE_OFFSETS_S))
    helics_time_scale: float = 1.0

    def __post_init__(self) -> None:
        problems = self.consistency_problems()
        if problems:
            raise ValueError("; ".join(problems))

    def consistency_problems(self) -> list[str]:
        """Every way the grid is inconsistent, each with how to fix it (empty when valid)."""
        problems = []
        if self.start.tzinfo is None:
            problems.append("time.start has no time zone: give time.timezone, e.g. Europe/Berlin")
        if self.grid_step_s <= 0:
            problems.append(f"time.grid_step_s is {self.grid_step_s}; expected a positive integer")
            return problems
        if self.market_interval_s <= 0 or self.market_interval_s % self.grid_step_s:
            problems.append(
                f"time.market_interval_s is {self.market_interval_s}; expected a positive "
                f"multiple of time.grid_step_s ({self.grid_step_s})"
            )
            return problems
        if self.duration_s <= 0 or self.duration_s % self.market_interval_s:
            problems.append(
                f"time.duration_s is {self.duration_s}; expected a positive multiple of "
                f"time.market_interval_s ({self.market_interval_s})"
            )
        gate = self.gate_closure_s
        if gate % self.grid_step_s or not self.grid_step_s <= gate <= self.market_interval_s:
            problems.append(
                f"time.gate_closure_s is {gate}; expected a multiple of time.grid_step_s "
                f"({self.grid_step_s}) from {self.grid_step_s} up to "
                f"time.market_interval_s ({self.market_interval_s})"
            )
        roles = list(DEFAULT_PHASE_OFFSETS_S)
        offsets = [self.phase_offsets_s.get(role) for role in roles]
        if (
            None in offsets
            or any(later <= earlier for earlier, later in itertools.pairwise(offsets))
            or offsets[0] < 0
            or offsets[-1] >= min(self.grid_step_s, 1.0)
        ):
            problems.append(
                f"time.phase_offsets_s is {self.phase_offsets_s}; expected an offset for each of "
                f"{roles}, increasing in that order, from 0 s to below 1 s and the grid step"
            )
        return problems

    @property
    def steps_per_interval(self) -> int:
        """Number of grid steps in one market interval."""
        return self.market_interval_s // self.grid_step_s

    @property
    def intervals_per_day(self) -> int:
        """Market intervals in one day (at least 1) [-]."""
        return max(1, SECONDS_PER_DAY // self.market_interval_s)

    @property
    def steps_per_day(self) -> int:
        """Grid steps in one day (at least 1) [-]."""
        return max(1, SECONDS_PER_DAY // self.grid_step_s)

    @property
    def n_steps(self) -> int:
        """Number of grid steps in the run."""
        return self.duration_s // self.grid_step_s

    @property
    def n_intervals(self) -> int:
        """Number of market (delivery) intervals in the run."""
        return self.duration_s // self.market_interval_s

    def step_times_s(self) -> np.ndarray:
        """Start of every grid step [s], ``0, Δg, …, duration − Δg``."""
        return np.arange(self.n_steps, dtype=np.int64) * self.grid_step_s

    def interval_start_s(self, interval_index: int | np.ndarray) -> int | np.ndarray:
        """Start of delivery interval ``k`` [s]."""
        return interval_index * self.market_interval_s

    def interval_of(self, time_s: int | np.ndarray) -> int | np.ndarray:
        """Index of the delivery interval containing ``time_s``."""
        return time_s // self.market_interval_s

    def gate_closure_time_s(self, interval_index: int) -> int:
        """Grid instant at which orders for interval ``k`` close and the market clears [s]."""
        return interval_index * self.market_interval_s - self.gate_closure_s

    def interval_cleared_at(self, time_s: int) -> int | None:
        """Delivery interval whose gate closes at ``time_s``, or None.

        Interval 0 has no market (its gate would close before the run starts); so does any
        interval beyond the end of the run.
        """
        following = time_s + self.gate_closure_s
        if following % self.market_interval_s:
            return None
        interval_index = following // self.market_interval_s
        if 1 <= interval_index < self.n_intervals:
            return interval_index
        return None

    def interval_completed_at(self, time_s: int) -> int | None:
        """Delivery interval whose last grid step starts at ``time_s``, or None."""
        if (time_s + self.grid_step_s) % self.market_interval_s:
            return None
        return (time_s + self.grid_step_s) // self.market_interval_s - 1

    def helics_time(self, time_s: float, role: str) -> float:
        """HELICS time of grid instant ``time_s`` for a federate of ``role`` [s].

        Examples
        --------
        >>> from datetime import datetime, timezone
        >>> grid = TimeGrid(datetime(2022, 6, 21, tzinfo=timezone.utc), 3600, 60, 900, 60,
        ...                 helics_time_scale=1 / 60)
        >>> round(grid.helics_time(120, "grid") * 60, 9)
        120.002
        """
        return (float(time_s) + self.phase_offsets_s[role]) * self.helics_time_scale

    def calendar(self, time_s: np.ndarray | int) -> pd.DatetimeIndex:
        """Calendar timestamps (time-zone aware) of simulated times [s]."""
        import pandas as pd  # here: processes that only read the time grid skip pandas (0.4 s)

        seconds = np.atleast_1d(np.asarray(time_s, dtype=np.int64))
        return pd.DatetimeIndex(pd.Timestamp(self.start) + pd.to_timedelta(seconds, unit="s"))


def parse_start(start: str, timezone: str) -> datetime:
    """Calendar start of a run from an ISO date-time and an IANA time-zone name.

    A ``start`` that already carries a UTC offset must agree with ``timezone`` at that instant.
    """
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"time.timezone: {timezone!r} is not a known IANA time zone; expected a name such "
            "as Europe/Berlin or America/Chicago"
        ) from None
    try:
        naive_or_aware = datetime.fromisoformat(start)
    except ValueError:
        raise ValueError(
            f"time.start: {start!r} is not an ISO 8601 date-time; expected e.g. 2022-06-21T00:00:00"
        ) from None
    if naive_or_aware.tzinfo is None:
        return naive_or_aware.replace(tzinfo=zone)
    localized = naive_or_aware.astimezone(zone)
    if localized.utcoffset() != naive_or_aware.utcoffset():
        raise ValueError(
            f"time.start {start!r} has UTC offset {naive_or_aware.utcoffset()} but time zone "
            f"{timezone} has {localized.utcoffset()} at that instant; drop the offset from "
            "time.start or make the two agree"
        )
    return localized
