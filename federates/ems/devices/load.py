"""Synthetic household load profiles: tefed's own bottom-up model, offline and seeded.

:func:`synthetic_load_profiles` builds the consumption of many households at once from a base
load, a daily activity shape and stochastic appliance events, then rescales every household's
day to its daily energy. :func:`resample_energy_preserving` changes the time step of a profile
without changing its energy.

Every household draws its random numbers from its own counter-based stream (a hash of the seed,
the household index, the purpose of the draw, the local date and the event number), so a
household's profile depends only on the seed, its index, its daily energy and the calendar,
never on how many other households are generated with it, and all draws are array operations.
"""

from __future__ import annotations

import enum
import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd

SECONDS_PER_HOUR = 3600.0
HOURS_PER_DAY = 24.0

#: Daily energy of the household for which the appliance event rates are stated [kWh].
REFERENCE_DAILY_ENERGY_KWH = 10.0
#: Appliance event rates grow with daily energy up to this multiple of the reference rates [-].
MAX_EVENT_RATE_FACTOR = 5.0
#: Largest shift of a household's daily routine against the population, either way [h].
MAX_ROUTINE_SHIFT_H = 0.75
#: Shares of the daily energy in standby, fridge and activity load, each drawn uniformly [-].
STANDBY_SHARE = (0.04, 0.08)
FRIDGE_SHARE = (0.05, 0.10)
ACTIVITY_SHARE = (0.50, 0.70)
#: Fridge compressor cycle: period [min] and fraction of it the compressor runs [-].
FRIDGE_PERIOD_MIN = (40.0, 70.0)
FRIDGE_DUTY = (0.30, 0.45)
#: Standard deviations of the log of the household and day-to-day activity factors [-].
HOUSEHOLD_SIGMA = 0.25
DAY_SIGMA = 0.15
USAGE_SIGMA = 0.4

#: Upper bound on the breakpoints times households held in memory at once [-].
_BLOCK_ELEMENTS = 1 << 21
_GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_WRAPS_H = (-HOURS_PER_DAY, 0.0, HOURS_PER_DAY)


@dataclass(frozen=True)
class _DailyShape:
    """Relative rate over the clock day: a floor plus sech² bumps, repeated every 24 h."""

    floor: float
    centres_h: tuple[float, ...]
    widths_h: tuple[float, ...]
    heights: tuple[float, ...]


@dataclass(frozen=True)
class _Appliance:
    """One appliance type; ranges are (low, high) of uniform draws."""

    label: int
    ownership: float
    events_per_day: tuple[float, float]  # weekday, weekend, for the reference household
    poisson: bool  # False: exactly one event per day (lighting)
    start_shapes: tuple[_DailyShape, _DailyShape]  # weekday, weekend
    household_power_kw: tuple[float, float]
    event_power_factor: tuple[float, float]
    duration_min: tuple[float, float]
    tail_power_kw: tuple[float, float] = (0.0, 0.0)
    tail_duration_min: tuple[float, float] = (0.0, 0.0)


#: Activity (TV, computers, small appliances, ...) by day type: weekday, weekend. Both have the
#: same number of bumps so that they can be evaluated together.
_ACTIVITY = (
    _DailyShape(0.35, (7.5, 12.75, 16.0, 19.75), (0.6, 1.2, 1.5, 1.3), (1.2, 0.25, 0.3, 2.0)),
    _DailyShape(0.35, (9.0, 12.75, 16.0, 19.5), (1.0, 0.8, 1.5, 1.4), (1.0, 0.9, 0.4, 1.9)),
)

_APPLIANCES = (
    _Appliance(
        label=1,
        ownership=0.8,
        events_per_day=(3.0, 4.0),
        poisson=True,
        start_shapes=(
            _DailyShape(0.01, (7.25, 10.5, 15.5, 19.5), (0.5, 1.0, 1.2, 1.2), (1.0, 0.3, 0.4, 0.6)),
            _DailyShape(0.01, (9.0, 12.5, 15.5, 19.5), (0.8, 1.0, 1.2, 1.2), (1.0, 0.5, 0.6, 0.5)),
        ),
        household_power_kw=(1.8, 3.0),
        event_power_factor=(1.0, 1.0),
        duration_min=(2.0, 4.0),
    ),
    _Appliance(
        label=2,
        ownership=0.7,
        events_per_day=(0.9, 1.1),
        poisson=True,
        start_shapes=(
            _DailyShape(0.01, (7.25, 12.5, 18.5), (0.4, 0.6, 0.7), (0.3, 0.3, 1.5)),
            _DailyShape(0.01, (9.0, 12.5, 18.5), (0.6, 0.6, 0.7), (0.4, 1.0, 1.2)),
        ),
        household_power_kw=(1.5, 2.2),
        event_power_factor=(0.65, 1.35),
        duration_min=(20.0, 60.0),
    ),
    _Appliance(
        label=3,
        ownership=0.9,
        events_per_day=(0.35, 0.6),
        poisson=True,
        start_shapes=(
            _DailyShape(0.02, (9.5, 18.5), (1.5, 1.5), (0.6, 0.6)),
            _DailyShape(0.02, (10.5, 15.0), (1.5, 2.0), (1.0, 0.6)),
        ),
        household_power_kw=(1.8, 2.2),
        event_power_factor=(1.0, 1.0),
        duration_min=(15.0, 25.0),
        tail_power_kw=(0.15, 0.3),
        tail_duration_min=(45.0, 95.0),
    ),
    _Appliance(
        label=4,
        ownership=0.55,
        events_per_day=(0.5, 0.6),
        poisson=True,
        start_shapes=(
            _DailyShape(0.02, (13.5, 20.5), (0.8, 0.8), (0.3, 1.0)),
            _DailyShape(0.02, (14.0, 20.5), (0.8, 0.8), (0.6, 1.0)),
        ),
        household_power_kw=(1.8, 2.2),
        event_power_factor=(1.0, 1.0),
        duration_min=(20.0, 30.0),
        tail_power_kw=(0.05, 0.15),
        tail_duration_min=(40.0, 90.0),
    ),
    _Appliance(
        label=5,
        ownership=1.0,
        events_per_day=(1.0, 1.0),
        poisson=False,
        start_shapes=(
            _DailyShape(0.001, (18.5,), (0.4,), (1.0,)),
            _DailyShape(0.001, (18.5,), (0.4,), (1.0,)),
        ),
        household_power_kw=(0.08, 0.3),
        event_power_factor=(0.8, 1.2),
        duration_min=(150.0, 330.0),
    ),
)


class _Draw(enum.IntEnum):
    """Purpose of a random draw; part of the hash so that purposes never share numbers."""

    STANDBY = 1
    FRIDGE_SHARE = 2
    FRIDGE_PERIOD = 3
    FRIDGE_DUTY = 4
    FRIDGE_PHASE = 5
    ACTIVITY_SHARE = 6
    ROUTINE_SHIFT = 7
    FLOOR = 8
    BUMP = 9
    DAY_FACTOR = 10
    OWNERSHIP = 11
    USAGE = 12
    POWER = 13
    TAIL_POWER = 14
    COUNT = 15
    START = 16
    DURATION = 17
    EVENT_POWER = 18
    TAIL_DURATION = 19


def synthetic_load_profiles(
    times: pd.DatetimeIndex,
    daily_energy_kwh: np.ndarray,
    seed: int,
    household_keys: np.ndarray | None = None,
) -> np.ndarray:
    """Consumption of ``n`` households, each rescaled to its daily energy.

    Parameters
    ----------
    times : pandas.DatetimeIndex
        Start of each step: regular, time-zone aware, at least two entries, step a whole number
        of seconds from 1 to 3600 [-]. The local clock of this time zone drives behaviour.
    daily_energy_kwh : numpy.ndarray
        Energy each household consumes per local calendar day, finite and ``>= 0``; its length
        is ``n`` [kWh].
    seed : int
        Non-negative seed; equal seeds give equal profiles [-].
    household_keys : numpy.ndarray of int, optional
        Non-negative identity of each household's random stream [-] (default ``0 … n−1``). A
        household keeps its profile whatever other households are computed with it, so a
        population split over several processes gives the same profiles as one process.

    Returns
    -------
    numpy.ndarray
        ``load_power_kw`` of shape ``(len(times), n)``: mean power of each household over each
        step ``[times[k], times[k] + step)``, ``>= 0`` [kW].

    Raises
    ------
    ValueError
        If ``times`` is not regular, not time-zone aware, has fewer than two entries or a step
        outside 1 s to 1 h, if a daily energy is negative or not finite, or if ``seed`` is not a
        non-negative integer.

    Notes
    -----
    This is tefed's own bottom-up model, written for tefed; it is not a published or
    measured profile set. For household :math:`i` the raw power is the sum of

    - standby: a constant :math:`p_s = s_i D_i / 24` with :math:`s_i \\sim U(0.04, 0.08)` and
      :math:`D_i` the daily energy;
    - fridge: a compressor cycle in absolute time with period :math:`U(40, 70)` min, duty
      :math:`d \\sim U(0.30, 0.45)`, random phase and on-power :math:`f_i D_i / (24 d)` with
      :math:`f_i \\sim U(0.05, 0.10)`;
    - activity (TV, computers, small appliances): :math:`a_i D_i g_{id}\\, \\phi_i(h)`, with
      :math:`a_i \\sim U(0.5, 0.7)`, a day-to-day factor :math:`\\ln g_{id} \\sim N(0, 0.15^2)`
      and a time-of-day shape :math:`\\phi_i` normalised to one per day: a night floor plus
      :math:`\\mathrm{sech}^2` peaks (weekdays: morning 7:30, evening 19:45; weekends: later
      morning, a lunchtime peak, evening), each peak height multiplied by a household factor
      (:math:`\\ln \\sim N(0, 0.25^2)`) and all peaks shifted by the household's routine shift
      :math:`\\delta_i \\sim U(-45, 45)` min;
    - appliance events: kettle (1.8–3 kW, 2–4 min), cooking (1–3 kW, 20–60 min), washing
      machine and dishwasher (about 2 kW heating for 15–30 min, then a 0.05–0.3 kW motor or
      pump phase, 1–2 h in all) and evening lighting (0.06–0.36 kW for 2.5–5.5 h from about
      18:30). Each household owns each appliance with a fixed probability and has its own
      rated power and usage factor (:math:`\\ln \\sim N(0, 0.4^2)`). The number of events per
      day is Poisson with a mean proportional to the reference rate of the day type, the
      usage factor and :math:`\\min(D_i / 10\\,\\mathrm{kWh}, 5)`; start times follow
      appliance-specific time-of-day densities (an inhomogeneous Poisson process with rate
      shaped like the activity), shifted by :math:`\\delta_i`.

    Clock hour :math:`h` is local time; on a clock-change day the local day (23 h or 25 h) is
    mapped linearly onto 24 behavioural hours, so no hour is skipped or repeated.

    Finally each household's every local calendar day :math:`d` is rescaled by
    :math:`D_i / R_{id}`, with :math:`R_{id}` the raw energy of that whole day (evaluated
    analytically, not on ``times``). The energy of household :math:`i` over every local day
    that ``times`` covers fully is therefore :math:`D_i` (to floating-point rounding), and a
    partly covered day carries the part of :math:`D_i` that falls inside ``times``. Step
    energies are exact integrals of the model over each step (events are integrated over the
    exact overlap, smooth parts through their antiderivatives), so profiles at different
    resolutions of the same calendar agree in energy per step.

    Examples
    --------
    Two households over one day in 15-minute steps; each day's energy is the daily energy:

    >>> times = pd.date_range("2024-06-03", periods=96, freq="15min", tz="Europe/Berlin")
    >>> power_kw = synthetic_load_profiles(times, np.array([8.0, 12.0]), seed=1)
    >>> power_kw.shape
    (96, 2)
    >>> np.round(power_kw.sum(axis=0) * 0.25, 9)
    array([ 8., 12.])
    """
    step_s = _validated_step_s(times)
    daily = np.asarray(daily_energy_kwh, dtype=float)
    if daily.ndim != 1:
        raise ValueError(
            f"daily_energy_kwh has shape {daily.shape}; expected a 1-D array over households"
        )
    bad = np.flatnonzero(~(np.isfinite(daily) & (daily >= 0)))
    if bad.size:
        raise ValueError(
            f"daily_energy_kwh[{bad[0]}] is {daily[bad[0]]}; expected a finite value >= 0"
        )
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed is {seed!r}; expected a non-negative integer")
    if household_keys is None:
        household_keys = np.arange(daily.shape[0])
    household_keys = np.asarray(household_keys)
    if household_keys.shape != daily.shape or not np.issubdtype(household_keys.dtype, np.integer):
        raise ValueError(
            f"household_keys has shape {household_keys.shape} and dtype {household_keys.dtype}; "
            f"expected {daily.shape[0]} integers, one per household"
        )
    if (household_keys < 0).any():
        raise ValueError("household_keys must be non-negative integers")

    calendar = _Calendar.build(times, step_s)
    root = np.random.SeedSequence(int(seed)).generate_state(1, dtype=np.uint64)[0]
    households = daily.shape[0]
    power_kw = np.empty((len(times), households))
    block = max(1, _BLOCK_ELEMENTS // calendar.breaks_s.size)
    # Blocks of households only bound memory; every household is computed from its own stream.
    for first in range(0, households, block):
        members = slice(first, min(first + block, households))
        index = household_keys[members].astype(np.int64)
        keys = _combine(np.full(index.shape, root, dtype=np.uint64), index)
        power_kw[:, members] = _household_block(keys, daily[members], calendar).T
    return power_kw


def resample_energy_preserving(
    power_kw: np.ndarray, source_step_s: int, target_step_s: int
) -> np.ndarray:
    """Change the time step of a power series along its first axis, keeping its energy.

    Parameters
    ----------
    power_kw : numpy.ndarray
        Mean power over each source step; time along axis 0, households (if any) after [kW].
    source_step_s : int
        Step of ``power_kw``, a positive integer [s].
    target_step_s : int
        Step wanted, a positive integer that is a multiple or a divisor of
        ``source_step_s`` [s].

    Returns
    -------
    numpy.ndarray
        Mean power over each target step [kW].

    Raises
    ------
    ValueError
        If a step is not a positive integer, neither step is a multiple of the other, or (when
        coarsening) the number of source steps does not fill whole target steps.

    Notes
    -----
    Coarsening by :math:`r = \\Delta_t / \\Delta_s` averages each group of :math:`r` steps,
    :math:`\\bar p_k = \\frac{1}{r} \\sum_{m=0}^{r-1} p_{kr+m}`; refining by
    :math:`r = \\Delta_s / \\Delta_t` holds each value for :math:`r` steps. In both cases
    :math:`\\sum_k \\bar p_k \\Delta_t = \\sum_m p_m \\Delta_s`.

    Examples
    --------
    >>> resample_energy_preserving(np.array([1.0, 3.0, 2.0, 2.0]), 900, 1800)
    array([2., 2.])
    >>> resample_energy_preserving(np.array([1.0, 3.0]), 3600, 1800)
    array([1., 1., 3., 3.])
    """
    for name, step in (("source_step_s", source_step_s), ("target_step_s", target_step_s)):
        if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step <= 0:
            raise ValueError(f"{name} is {step!r}; expected a positive integer number of seconds")
    power = np.asarray(power_kw, dtype=float)
    if power.ndim == 0:
        raise ValueError("power_kw is a scalar; expected an array with time along axis 0")
    if target_step_s % source_step_s == 0:
        ratio = target_step_s // source_step_s
        if power.shape[0] % ratio:
            raise ValueError(
                f"power_kw has {power.shape[0]} steps of {source_step_s} s; expected a multiple "
                f"of {ratio} to fill whole {target_step_s} s steps"
            )
        return power.reshape(power.shape[0] // ratio, ratio, *power.shape[1:]).mean(axis=1)
    if source_step_s % target_step_s == 0:
        return np.repeat(power, source_step_s // target_step_s, axis=0)
    raise ValueError(
        f"target_step_s is {target_step_s}; expected a multiple or a divisor of "
        f"source_step_s {source_step_s}"
    )


def _validated_step_s(times: pd.DatetimeIndex) -> int:
    """Step of ``times`` in whole seconds, or ValueError."""
    if not isinstance(times, pd.DatetimeIndex) or times.tz is None:
        raise ValueError(
            f"times is {type(times).__name__} without a time zone; expected a time-zone-aware "
            "pandas.DatetimeIndex"
        )
    if len(times) < 2:
        raise ValueError(f"times has {len(times)} entries; expected at least 2 to fix the step")
    differences_ns = np.diff(times.as_unit("ns").asi8)
    irregular = np.flatnonzero(differences_ns != differences_ns[0])
    if irregular.size:
        k = int(irregular[0]) + 1
        raise ValueError(
            f"times is irregular: step {k} is {differences_ns[k - 1] / 1e9} s after "
            f"{differences_ns[0] / 1e9} s at the start; expected a constant step"
        )
    step_ns = int(differences_ns[0])
    if step_ns % 1_000_000_000 or not 1 <= step_ns // 1_000_000_000 <= 3600:
        raise ValueError(
            f"times has a step of {step_ns / 1e9} s; expected a whole number of seconds from 1 "
            "to 3600"
        )
    return step_ns // 1_000_000_000


@dataclass(frozen=True)
class _Calendar:
    """Breakpoints of the output steps and local midnights, in seconds after ``times[0]``.

    Days are local calendar days from the day before ``times[0]`` (whose late events reach into
    the first day) to the day of the last instant. ``breaks_s`` holds the step boundaries and
    the midnights between them, so that every piece between two breakpoints lies in one day and
    one step.
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
    def build(cls, times: pd.DatetimeIndex, step_s: int) -> _Calendar:
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
        return np.diff(self.midnight_s)


def _household_block(keys: np.ndarray, daily: np.ndarray, calendar: _Calendar) -> np.ndarray:
    """Power of a block of households [kW], shape (households, steps)."""
    cal = calendar
    day_length_s = cal.day_length_s
    day_labels = cal.day_ordinal[np.newaxis, :]
    hh_keys = keys[:, np.newaxis]
    width_s = np.diff(cal.breaks_s)

    # Standby.
    standby_kw = _between(_uniform(keys, _Draw.STANDBY), STANDBY_SHARE) * daily / HOURS_PER_DAY
    raw_day = standby_kw[:, np.newaxis] * day_length_s
    pieces = standby_kw[:, np.newaxis] * width_s

    # Fridge: a square wave in absolute time, integrated exactly.
    fridge_avg_kw = (
        _between(_uniform(keys, _Draw.FRIDGE_SHARE), FRIDGE_SHARE) * daily / HOURS_PER_DAY
    )
    period_s = 60.0 * _between(_uniform(keys, _Draw.FRIDGE_PERIOD), FRIDGE_PERIOD_MIN)
    duty = _between(_uniform(keys, _Draw.FRIDGE_DUTY), FRIDGE_DUTY)
    phase_s = np.mod(
        _uniform(keys, _Draw.FRIDGE_PHASE) * period_s - np.fmod(cal.start_epoch_s, period_s),
        period_s,
    )
    fridge = _FridgeCycle(fridge_avg_kw / duty, period_s, duty * period_s, phase_s)
    raw_day += np.diff(fridge.energy_kws(cal.midnight_s), axis=1)
    pieces += np.diff(fridge.energy_kws(cal.breaks_s), axis=1)

    # Activity: household-shaped daily curve in behavioural hours.
    shift_h = MAX_ROUTINE_SHIFT_H * (2.0 * _uniform(keys, _Draw.ROUTINE_SHIFT) - 1.0)
    day_factor = np.exp(DAY_SIGMA * _normal(hh_keys, _Draw.DAY_FACTOR, day_labels))
    activity_share = _between(_uniform(keys, _Draw.ACTIVITY_SHARE), ACTIVITY_SHARE)
    # A share of D kWh per 24 h is an average power of share * D / 24 kW over the local day.
    activity_day_kws = (
        (activity_share * daily)[:, np.newaxis] * day_factor * day_length_s / HOURS_PER_DAY
    )
    raw_day += activity_day_kws
    pieces += _activity_piece_energy_kws(hh_keys, shift_h, activity_day_kws, cal)

    # Appliance events.
    rate_factor = np.minimum(daily / REFERENCE_DAILY_ENERGY_KWH, MAX_EVENT_RATE_FACTOR)
    events = [_appliance_events(a, keys, shift_h, rate_factor, cal) for a in _APPLIANCES]
    household, start_s, end_s, power = (
        np.concatenate(parts) for parts in zip(*events, strict=True)
    )
    raw_day += _event_day_energy_kws(household, start_s, end_s, power, keys.size, cal)
    pieces += _event_piece_energy_kws(household, start_s, end_s, power, keys.size, cal)

    scale = np.divide(
        daily[:, np.newaxis] * SECONDS_PER_HOUR,
        raw_day,
        out=np.zeros_like(raw_day),
        where=raw_day > 0,
    )
    step_energy_kws = np.add.reduceat(pieces * scale[:, cal.piece_day], cal.step_starts, axis=1)
    return step_energy_kws / cal.step_s


@dataclass(frozen=True)
class _FridgeCycle:
    """Compressor on for ``on_s`` at the start of each period; arrays over households."""

    on_power_kw: np.ndarray
    period_s: np.ndarray
    on_s: np.ndarray
    phase_s: np.ndarray

    def energy_kws(self, time_s: np.ndarray) -> np.ndarray:
        """Energy since the start of the cycle containing 0 s, at each time [kW·s]."""
        since = time_s[np.newaxis, :] - self.phase_s[:, np.newaxis]
        period = self.period_s[:, np.newaxis]
        on = self.on_s[:, np.newaxis]
        cycles = np.floor(since / period)
        into_cycle = np.clip(since - cycles * period, 0.0, period)
        return self.on_power_kw[:, np.newaxis] * (cycles * on + np.minimum(into_cycle, on))


def _activity_piece_energy_kws(
    hh_keys: np.ndarray, shift_h: np.ndarray, activity_day_kws: np.ndarray, cal: _Calendar
) -> np.ndarray:
    """Activity energy of every piece [kW·s], from the within-day antiderivative."""
    point_day = np.append(cal.piece_day, cal.piece_day[-1])
    hour = (
        HOURS_PER_DAY * (cal.breaks_s - cal.midnight_s[point_day]) / (cal.day_length_s[point_day])
    )
    day_type = cal.weekend[point_day]
    bumps = len(_ACTIVITY[0].centres_h)
    types = np.arange(2)
    floor_factor = np.exp(HOUSEHOLD_SIGMA * _normal(hh_keys, _Draw.FLOOR, types))
    bump_factor = np.exp(
        HOUSEHOLD_SIGMA
        * _normal(hh_keys[..., np.newaxis], _Draw.BUMP, types[:, np.newaxis], np.arange(bumps))
    )
    floor = np.array([shape.floor for shape in _ACTIVITY]) * floor_factor
    centres = np.array([shape.centres_h for shape in _ACTIVITY])
    widths = np.array([shape.widths_h for shape in _ACTIVITY])
    heights = np.array([shape.heights for shape in _ACTIVITY]) * bump_factor
    shift = shift_h[:, np.newaxis]

    def antiderivative(at_hour: np.ndarray, kind: np.ndarray) -> np.ndarray:
        return _shape_antiderivative(
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


def _shape_antiderivative(
    hour: np.ndarray,
    floor: np.ndarray,
    centres_h: list[np.ndarray],
    widths_h: list[np.ndarray],
    heights: list[np.ndarray],
) -> np.ndarray:
    """An antiderivative in ``hour`` of ``floor + Σ heights·sech²((hour − centre)/width)``.

    Each bump is repeated every 24 h so that the evening reaches past midnight continuously.
    """
    total = floor * hour
    for centre, width, height in zip(centres_h, widths_h, heights, strict=True):
        for wrap in _WRAPS_H:
            total = total + height * width * np.tanh((hour - centre + wrap) / width)
    return total


def _start_hour_quantile(shape: _DailyShape, probability: np.ndarray) -> np.ndarray:
    """Clock hour below which a fraction ``probability`` of a shape's daily mass lies."""
    grid_h = np.linspace(0.0, HOURS_PER_DAY, 24 * 60 + 1)
    cumulative = _shape_antiderivative(
        grid_h,
        np.asarray(shape.floor),
        list(shape.centres_h),
        list(shape.widths_h),
        list(shape.heights),
    )
    cumulative = cumulative - cumulative[0]
    return np.interp(probability, cumulative / cumulative[-1], grid_h)


def _appliance_events(
    appliance: _Appliance,
    keys: np.ndarray,
    shift_h: np.ndarray,
    rate_factor: np.ndarray,
    cal: _Calendar,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Events of one appliance type: household index, start [s], end [s] and power [kW].

    A washing or dishwasher cycle contributes its heating phase and its tail as two events.
    """
    label = appliance.label
    hh_keys = keys[:, np.newaxis]
    day_labels = cal.day_ordinal[np.newaxis, :]
    owns = _uniform(keys, _Draw.OWNERSHIP, label) < appliance.ownership
    if appliance.poisson:
        usage = np.exp(USAGE_SIGMA * _normal(keys, _Draw.USAGE, label))
        day_rate = np.asarray(appliance.events_per_day)[cal.weekend]
        mean = (owns * usage * rate_factor)[:, np.newaxis] * day_rate[np.newaxis, :]
        counts = _poisson(mean, _uniform(hh_keys, _Draw.COUNT, label, day_labels))
    else:
        counts = np.repeat(owns.astype(np.int64)[:, np.newaxis], cal.day_ordinal.size, axis=1)
    flat = counts.ravel()
    household = np.repeat(np.arange(keys.size).repeat(counts.shape[1]), flat)
    day = np.repeat(np.tile(np.arange(counts.shape[1]), keys.size), flat)
    rank = np.arange(flat.sum()) - np.repeat(np.cumsum(flat) - flat, flat)
    event_keys = keys[household]
    ordinal = cal.day_ordinal[day]

    u_start = _uniform(event_keys, _Draw.START, label, ordinal, rank)
    weekend = cal.weekend[day].astype(bool)
    hour = (
        np.where(
            weekend,
            _start_hour_quantile(appliance.start_shapes[1], u_start),
            _start_hour_quantile(appliance.start_shapes[0], u_start),
        )
        + shift_h[household]
    )
    start_s = cal.midnight_s[day] + cal.day_length_s[day] * hour / HOURS_PER_DAY
    duration_s = 60.0 * _between(
        _uniform(event_keys, _Draw.DURATION, label, ordinal, rank), appliance.duration_min
    )
    rated_kw = _between(_uniform(keys, _Draw.POWER, label), appliance.household_power_kw)
    power = rated_kw[household] * _between(
        _uniform(event_keys, _Draw.EVENT_POWER, label, ordinal, rank), appliance.event_power_factor
    )
    if appliance.tail_duration_min[1] == 0.0:
        return household, start_s, start_s + duration_s, power
    tail_kw = _between(_uniform(keys, _Draw.TAIL_POWER, label), appliance.tail_power_kw)
    tail_s = 60.0 * _between(
        _uniform(event_keys, _Draw.TAIL_DURATION, label, ordinal, rank),
        appliance.tail_duration_min,
    )
    tail_start_s = start_s + duration_s
    return (
        np.concatenate([household, household]),
        np.concatenate([start_s, tail_start_s]),
        np.concatenate([tail_start_s, tail_start_s + tail_s]),
        np.concatenate([power, tail_kw[household]]),
    )


def _event_day_energy_kws(
    household: np.ndarray,
    start_s: np.ndarray,
    end_s: np.ndarray,
    power_kw: np.ndarray,
    households: int,
    cal: _Calendar,
) -> np.ndarray:
    """Energy of the events in every local day [kW·s], shape (households, days).

    An event lasts at most a few hours, so it touches the day it starts in and the next.
    """
    days = cal.day_ordinal.size
    first_day = np.searchsorted(cal.midnight_s, start_s, side="right") - 1
    energy = np.zeros(households * days)
    for day in (first_day, first_day + 1):
        inside = (day >= 0) & (day < days)
        d = day[inside]
        overlap_s = np.minimum(end_s[inside], cal.midnight_s[d + 1]) - np.maximum(
            start_s[inside], cal.midnight_s[d]
        )
        energy += np.bincount(
            household[inside] * days + d,
            weights=power_kw[inside] * np.maximum(overlap_s, 0.0),
            minlength=households * days,
        )
    return energy.reshape(households, days)


def _event_piece_energy_kws(
    household: np.ndarray,
    start_s: np.ndarray,
    end_s: np.ndarray,
    power_kw: np.ndarray,
    households: int,
    cal: _Calendar,
) -> np.ndarray:
    """Energy of the events in every piece [kW·s], shape (households, pieces).

    Each event switches ``power_kw`` on at its start and off at its end. An edge at time
    :math:`\\tau` in piece :math:`c` adds :math:`\\pm P (x_{c+1} - \\tau)` to that piece and
    :math:`\\pm P` to the power of every later piece, so each event's energy is exact.
    """
    breaks = cal.breaks_s
    pieces = breaks.size - 1
    first = np.clip(start_s, breaks[0], breaks[-1])
    last = np.clip(end_s, breaks[0], breaks[-1])
    kept = last > first
    edge_time = np.concatenate([first[kept], last[kept]])
    edge_power = np.concatenate([power_kw[kept], -power_kw[kept]])
    edge_household = np.concatenate([household[kept], household[kept]])
    piece = np.searchsorted(breaks, edge_time, side="right") - 1
    inside = piece < pieces
    piece, edge_time = piece[inside], edge_time[inside]
    edge_power, edge_household = edge_power[inside], edge_household[inside]

    size = households * (pieces + 1)
    level_change = np.bincount(
        edge_household * (pieces + 1) + piece + 1, weights=edge_power, minlength=size
    ).reshape(households, pieces + 1)
    partial = np.bincount(
        edge_household * (pieces + 1) + piece,
        weights=edge_power * (breaks[piece + 1] - edge_time),
        minlength=size,
    ).reshape(households, pieces + 1)
    level_kw = np.cumsum(level_change, axis=1)[:, :pieces]
    return level_kw * np.diff(breaks) + partial[:, :pieces]


def _poisson(mean: np.ndarray, probability: np.ndarray) -> np.ndarray:
    """Poisson counts by inverting the cumulative distribution at ``probability``."""
    count = np.zeros(mean.shape, dtype=np.int64)
    pmf = np.exp(-mean)
    cdf = pmf.copy()
    largest = float(np.max(mean, initial=0.0))
    # Beyond this many terms the remaining probability is below double precision.
    for k in range(1, int(largest + 12.0 * np.sqrt(largest) + 30.0)):
        above = probability > cdf
        if not above.any():
            break
        count += above
        pmf = pmf * mean / k
        cdf = cdf + pmf
    return count


def _between(unit: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
    """Map uniform numbers in (0, 1) onto ``[low, high]``."""
    low, high = bounds
    return low + (high - low) * unit


def _mix64(state: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser (Steele, Lea and Flood 2014, doi:10.1145/2660193.2660195)."""
    with np.errstate(over="ignore"):
        state = (state ^ (state >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        state = (state ^ (state >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return state ^ (state >> np.uint64(31))


def _combine(state: np.ndarray, label: np.ndarray | int) -> np.ndarray:
    """Hash of a 64-bit state and an integer label (negative labels wrap)."""
    label_bits = np.asarray(label, dtype=np.int64).view(np.uint64)
    with np.errstate(over="ignore"):
        return _mix64(state ^ _mix64(label_bits + _GOLDEN_GAMMA))


def _uniform(keys: np.ndarray, *labels: np.ndarray | int) -> np.ndarray:
    """Uniform numbers in (0, 1), one per broadcast element of keys and labels."""
    state = np.asarray(keys, dtype=np.uint64)
    for label in labels:
        state = _combine(state, label)
    return ((state >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53


def _normal(keys: np.ndarray, *labels: np.ndarray | int) -> np.ndarray:
    """Standard normal numbers by the Box–Muller transform of two uniform streams."""
    radius = np.sqrt(-2.0 * np.log(_uniform(keys, *labels, 0)))
    return radius * np.cos(2.0 * np.pi * _uniform(keys, *labels, 1))
