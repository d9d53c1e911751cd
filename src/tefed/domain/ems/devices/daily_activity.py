"""Local days and the smooth daily activity of households in the load model.

:class:`LocalCalendar` cuts a run's time steps at local midnights and maps each local day (23,
24 or 25 h long) linearly onto 24 behavioural hours. :class:`DailyShape` is a relative rate
over the clock day, a floor plus sech² bumps; :func:`shape_antiderivative` integrates it in
closed form. :func:`activity_piece_energy_kws` spreads each household's daily activity energy
(TV, computers, small appliances) over the run with a household-specific shape.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tefed.domain.ems.devices.hashed_random import Draw, normal

HOURS_PER_DAY = 24.0

#: Standard deviation of the log of a household's factor on each activity peak and floor [-].
HOUSEHOLD_SIGMA = 0.25

_WRAPS_H = (-HOURS_PER_DAY, 0.0, HOURS_PER_DAY)


@dataclass(frozen=True)
class DailyShape:
    """Relative rate over the clock day: a floor plus sech² bumps, repeated every 24 h.

    Attributes
    ----------
    floor : float
        Constant part of the rate, relative to the bump heights [-].
    centres_h : tuple of float
        Clock hour of each bump's peak [h].
    widths_h : tuple of float
        Width of each bump, the scale of its sech² [h].
    heights : tuple of float
        Peak height of each bump above the floor [-].
    """

    floor: float
    centres_h: tuple[float, ...]
    widths_h: tuple[float, ...]
    heights: tuple[float, ...]


#: Activity (TV, computers, small appliances, ...) by day type: weekday, weekend. Both have the
#: same number of bumps so that they can be evaluated together.
_ACTIVITY = (
    DailyShape(0.35, (7.5, 12.75, 16.0, 19.75), (0.6, 1.2, 1.5, 1.3), (1.2, 0.25, 0.3, 2.0)),
    DailyShape(0.35, (9.0, 12.75, 16.0, 19.5), (1.0, 0.8, 1.5, 1.4), (1.0, 0.9, 0.4, 1.9)),
)


@dataclass(frozen=True)
class LocalCalendar:
    """Breakpoints of the output steps and local midnights, in seconds after ``times[0]``.

    Days are local calendar days from the day before ``times[0]`` (whose late events reach into
    the first day) to the day of the last instant. ``breaks_s`` holds the step boundaries and
    the midnights between them, so that every piece between two breakpoints lies in one day and
    one step.

    Attributes
    ----------
    step_s : int
        Output step [s].
    start_epoch_s : float
        ``times[0]`` as seconds since the Unix epoch [s].
    breaks_s : numpy.ndarray
        Step boundaries and the midnights between them, ascending [s].
    piece_day : numpy.ndarray of int
        Day index of each piece between consecutive breakpoints [-].
    step_starts : numpy.ndarray of int
        Index of the first piece of each step [-].
    midnight_s : numpy.ndarray
        Local midnights, one more than the days [s].
    day_ordinal : numpy.ndarray of int
        Each day's date as days since 1970-01-01 [-].
    weekend : numpy.ndarray of int
        1 on Saturdays and Sundays, 0 otherwise [-].

    Examples
    --------
    One Monday in 6-hour steps: the Sunday before and the Monday, three midnights, no inner
    breakpoint:

    >>> times = pd.date_range("2024-06-03", periods=4, freq="6h", tz="Europe/Berlin")
    >>> calendar = LocalCalendar.build(times, 6 * 3600)
    >>> calendar.midnight_s / 3600
    array([-24.,   0.,  24.])
    >>> calendar.piece_day
    array([1, 1, 1, 1])
    >>> calendar.weekend
    array([1, 0])
    """

    step_s: int
    start_epoch_s: float
    breaks_s: np.ndarray
    piece_day: np.ndarray
    step_starts: np.ndarray
    midnight_s: np.ndarray
    day_ordinal: np.ndarray
    weekend: np.ndarray

    @classmethod
    def build(cls, times: pd.DatetimeIndex, step_s: int) -> LocalCalendar:
        """Calendar of regular, time-zone-aware ``times`` with step ``step_s`` [s]."""
        start_ns = int(times.as_unit("ns").asi8[0])
        end = times[-1] + pd.Timedelta(seconds=step_s)
        first_date = times[0].tz_localize(None).normalize()
        last_date = (end - pd.Timedelta(1, "ns")).tz_localize(None).normalize()
        dates = pd.date_range(
            first_date - pd.Timedelta(days=1), last_date + pd.Timedelta(days=1), freq="D"
        )
        midnights = dates.tz_localize(
            times.tz, ambiguous=np.ones(len(dates), dtype=bool), nonexistent="shift_forward"
        )
        midnight_s = (midnights.as_unit("ns").asi8 - start_ns) / 1e9
        step_bounds_s = np.arange(len(times) + 1, dtype=float) * step_s
        inner = midnight_s[(midnight_s > 0) & (midnight_s < step_bounds_s[-1])]
        breaks_s = np.union1d(step_bounds_s, inner)
        days = dates[:-1]
        return cls(
            step_s=step_s,
            start_epoch_s=start_ns / 1e9,
            breaks_s=breaks_s,
            piece_day=np.searchsorted(midnight_s, breaks_s[:-1], side="right") - 1,
            step_starts=np.searchsorted(breaks_s, step_bounds_s[:-1]),
            midnight_s=midnight_s,
            day_ordinal=days.as_unit("s").asi8 // 86_400,
            weekend=(days.day_of_week >= 5).astype(np.int64),
        )

    @property
    def day_length_s(self) -> np.ndarray:
        """Length of each local day: 82 800, 86 400 or 90 000 s [s]."""
        return np.diff(self.midnight_s)


def activity_piece_energy_kws(
    hh_keys: np.ndarray,
    shift_h: np.ndarray,
    activity_day_kws: np.ndarray,
    cal: LocalCalendar,
) -> np.ndarray:
    """Activity energy of every piece, from the within-day antiderivative.

    Parameters
    ----------
    hh_keys : numpy.ndarray of numpy.uint64
        Household stream keys, shape ``(households, 1)`` [-].
    shift_h : numpy.ndarray
        Routine shift of each household's peaks [h].
    activity_day_kws : numpy.ndarray
        Activity energy of each household in each local day, shape ``(households, days)``
        [kW·s].
    cal : LocalCalendar
        Pieces and days of the run [-].

    Returns
    -------
    numpy.ndarray
        Activity energy in each piece, shape ``(households, pieces)`` [kW·s].

    Notes
    -----
    Each household scales the floor and each bump of the weekday and weekend shapes by its own
    log-normal factor (:data:`HOUSEHOLD_SIGMA`) and moves every bump by ``shift_h``. The share
    of a day's activity energy before behavioural hour :math:`h` is
    :math:`(F(h) - F(0)) / (F(24) - F(0))`, with :math:`F` from :func:`shape_antiderivative`.
    """
    point_day = np.append(cal.piece_day, cal.piece_day[-1])
    hour = (
        HOURS_PER_DAY * (cal.breaks_s - cal.midnight_s[point_day]) / (cal.day_length_s[point_day])
    )
    day_type = cal.weekend[point_day]
    bumps = len(_ACTIVITY[0].centres_h)
    types = np.arange(2)
    floor_factor = np.exp(HOUSEHOLD_SIGMA * normal(hh_keys, Draw.FLOOR, types))
    bump_factor = np.exp(
        HOUSEHOLD_SIGMA
        * normal(hh_keys[..., np.newaxis], Draw.BUMP, types[:, np.newaxis], np.arange(bumps))
    )
    floor = np.array([shape.floor for shape in _ACTIVITY]) * floor_factor
    centres = np.array([shape.centres_h for shape in _ACTIVITY])
    widths = np.array([shape.widths_h for shape in _ACTIVITY])
    heights = np.array([shape.heights for shape in _ACTIVITY]) * bump_factor
    shift = shift_h[:, np.newaxis]

    def antiderivative(at_hour: np.ndarray, kind: np.ndarray) -> np.ndarray:
        return shape_antiderivative(
            at_hour,
            floor[:, kind],
            [centres[kind, j] + shift for j in range(bumps)],
            [widths[kind, j] for j in range(bumps)],
            [heights[:, kind, j] for j in range(bumps)],
        )

    at_midnight = antiderivative(np.zeros(2), types)
    per_day = antiderivative(np.full(2, HOURS_PER_DAY), types) - at_midnight
    fraction = (antiderivative(hour, day_type) - at_midnight[:, day_type]) / per_day[:, day_type]
    cumulative = activity_day_kws[:, point_day] * fraction
    right = cumulative[:, 1:].copy()
    ends_day = np.flatnonzero(point_day[1:] != point_day[:-1])
    right[:, ends_day] = activity_day_kws[:, cal.piece_day[ends_day]]
    return right - cumulative[:, :-1]


def shape_antiderivative(
    hour: np.ndarray,
    floor: np.ndarray,
    centres_h: list[np.ndarray],
    widths_h: list[np.ndarray],
    heights: list[np.ndarray],
) -> np.ndarray:
    """An antiderivative in ``hour`` of ``floor + Σ heights·sech²((hour − centre)/width)``.

    Parameters
    ----------
    hour : numpy.ndarray
        Behavioural hours at which to evaluate [h].
    floor : numpy.ndarray
        Floor of the rate, broadcast with ``hour`` [-].
    centres_h : list of numpy.ndarray
        Peak hour of each bump [h].
    widths_h : list of numpy.ndarray
        Width of each bump [h].
    heights : list of numpy.ndarray
        Height of each bump [-].

    Returns
    -------
    numpy.ndarray
        The antiderivative at ``hour`` [h].

    Notes
    -----
    :math:`\\int \\mathrm{sech}^2((x - c)/w)\\,dx = w \\tanh((x - c)/w)`. Each bump is
    repeated every 24 h so that the evening reaches past midnight continuously.

    Examples
    --------
    A floor of 1 without bumps accumulates one unit per hour:

    >>> shape_antiderivative(np.array([0.0, 6.0, 24.0]), np.asarray(1.0), [], [], [])
    array([ 0.,  6., 24.])
    """
    total = floor * hour
    for centre, width, height in zip(centres_h, widths_h, heights, strict=True):
        for wrap in _WRAPS_H:
            total = total + height * width * np.tanh((hour - centre + wrap) / width)
    return total
