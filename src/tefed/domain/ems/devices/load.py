"""Synthetic household load profiles: tefed's own bottom-up model, offline and seeded.

:func:`synthetic_load_profiles` builds the consumption of many households at once from a base
load, a daily activity shape and stochastic appliance events, then rescales every household's
day to its daily energy. :func:`resample_energy_preserving` changes the time step of a profile
without changing its energy.

Every household draws its random numbers from its own counter-based stream (a hash of the seed,
the household index, the purpose of the draw, the local date and the event number), so a
household's profile depends only on the seed, its index, its daily energy and the calendar,
never on how many other households are generated with it, and all draws are array operations.

Standby and fridge load are modelled here; the local calendar and the activity shape are in
:mod:`tefed.domain.ems.devices.daily_activity`, the appliance events in
:mod:`tefed.domain.ems.devices.appliance_events` and the random streams in
:mod:`tefed.domain.ems.devices.hashed_random`.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tefed.contract.time_grid import SECONDS_PER_HOUR
from tefed.domain.ems.devices.appliance_events import appliance_energy_kws
from tefed.domain.ems.devices.daily_activity import (
    HOURS_PER_DAY,
    LocalCalendar,
    activity_piece_energy_kws,
)
from tefed.domain.ems.devices.hashed_random import Draw, between, combine, normal, uniform
from tefed.domain.ems.devices.resampling import regular_step_s, resample_energy_preserving

__all__ = ["resample_energy_preserving", "synthetic_load_profiles"]

#: Largest shift of a household's daily routine against the population, either way [h].
MAX_ROUTINE_SHIFT_H = 0.75
#: Shares of the daily energy in standby, fridge and activity load, each drawn uniformly [-].
STANDBY_SHARE = (0.04, 0.08)
FRIDGE_SHARE = (0.05, 0.10)
ACTIVITY_SHARE = (0.50, 0.70)
#: Fridge compressor cycle: period [min] and fraction of it the compressor runs [-].
FRIDGE_PERIOD_MIN = (40.0, 70.0)
FRIDGE_DUTY = (0.30, 0.45)
#: Standard deviation of the log of a household's day-to-day activity factor [-].
DAY_SIGMA = 0.15
#: Upper bound on the breakpoints times households held in memory at once [-].
_BLOCK_ELEMENTS = 1 << 21


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

    calendar = LocalCalendar.build(times, step_s)
    root = np.random.SeedSequence(int(seed)).generate_state(1, dtype=np.uint64)[0]
    households = daily.shape[0]
    power_kw = np.empty((len(times), households))
    block = max(1, _BLOCK_ELEMENTS // calendar.breaks_s.size)
    # Blocks of households only bound memory; every household is computed from its own stream.
    for first in range(0, households, block):
        members = slice(first, min(first + block, households))
        index = household_keys[members].astype(np.int64)
        keys = combine(np.full(index.shape, root, dtype=np.uint64), index)
        power_kw[:, members] = _household_block(keys, daily[members], calendar).T
    return power_kw


def _validated_step_s(times: pd.DatetimeIndex) -> int:
    """Step of ``times`` in whole seconds from 1 to 3600, or ValueError."""
    step_s = regular_step_s(times)
    if step_s > 3600:
        raise ValueError(
            f"times has a step of {float(step_s)} s; expected a whole number of seconds from 1 "
            "to 3600"
        )
    return step_s


def _household_block(keys: np.ndarray, daily: np.ndarray, calendar: LocalCalendar) -> np.ndarray:
    """Power of a block of households [kW], shape (households, steps)."""
    cal = calendar
    day_length_s = cal.day_length_s
    day_labels = cal.day_ordinal[np.newaxis, :]
    hh_keys = keys[:, np.newaxis]
    width_s = np.diff(cal.breaks_s)

    # Standby.
    standby_kw = between(uniform(keys, Draw.STANDBY), STANDBY_SHARE) * daily / HOURS_PER_DAY
    raw_day = standby_kw[:, np.newaxis] * day_length_s
    pieces = standby_kw[:, np.newaxis] * width_s

    # Fridge: a square wave in absolute time, integrated exactly.
    fridge_avg_kw = between(uniform(keys, Draw.FRIDGE_SHARE), FRIDGE_SHARE) * daily / HOURS_PER_DAY
    period_s = 60.0 * between(uniform(keys, Draw.FRIDGE_PERIOD), FRIDGE_PERIOD_MIN)
    duty = between(uniform(keys, Draw.FRIDGE_DUTY), FRIDGE_DUTY)
    phase_s = np.mod(
        uniform(keys, Draw.FRIDGE_PHASE) * period_s - np.fmod(cal.start_epoch_s, period_s),
        period_s,
    )
    fridge = _FridgeCycle(fridge_avg_kw / duty, period_s, duty * period_s, phase_s)
    raw_day += np.diff(fridge.energy_kws(cal.midnight_s), axis=1)
    pieces += np.diff(fridge.energy_kws(cal.breaks_s), axis=1)

    # Activity: household-shaped daily curve in behavioural hours.
    shift_h = MAX_ROUTINE_SHIFT_H * (2.0 * uniform(keys, Draw.ROUTINE_SHIFT) - 1.0)
    day_factor = np.exp(DAY_SIGMA * normal(hh_keys, Draw.DAY_FACTOR, day_labels))
    activity_share = between(uniform(keys, Draw.ACTIVITY_SHARE), ACTIVITY_SHARE)
    # A share of D kWh per 24 h is an average power of share * D / 24 kW over the local day.
    activity_day_kws = (
        (activity_share * daily)[:, np.newaxis] * day_factor * day_length_s / HOURS_PER_DAY
    )
    raw_day += activity_day_kws
    pieces += activity_piece_energy_kws(hh_keys, shift_h, activity_day_kws, cal)

    # Appliance events.
    event_day_kws, event_pieces_kws = appliance_energy_kws(keys, daily, shift_h, cal)
    raw_day += event_day_kws
    pieces += event_pieces_kws

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
