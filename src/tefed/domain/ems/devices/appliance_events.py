"""Household appliance events of the load model: catalogue, random events and their energy.

Each appliance type (kettle, cooking, washing machine, dishwasher, evening lighting) has an
ownership probability, a reference number of uses per day and start-time densities over the
weekday and weekend clock day. A household's uses on a local day are Poisson (lighting: exactly
one if owned), start times are drawn by inverting the start-time distribution, and each event is
a rectangle of constant power whose energy is integrated exactly over local days and over the
pieces of the output steps. All draws come from the household's hashed random stream.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tefed.domain.ems.devices.daily_activity import (
    HOURS_PER_DAY,
    DailyShape,
    LocalCalendar,
    shape_antiderivative,
)
from tefed.domain.ems.devices.hashed_random import Draw, between, normal, uniform

#: Daily energy of the household for which the appliance event rates are stated [kWh].
REFERENCE_DAILY_ENERGY_KWH = 10.0
#: Appliance event rates grow with daily energy up to this multiple of the reference rates [-].
MAX_EVENT_RATE_FACTOR = 5.0
#: Standard deviation of the log of a household's usage factor of each appliance [-].
USAGE_SIGMA = 0.4


@dataclass(frozen=True)
class _Appliance:
    """One appliance type; ranges are (low, high) of uniform draws."""

    label: int
    ownership: float
    events_per_day: tuple[float, float]  # weekday, weekend, for the reference household
    poisson: bool  # False: exactly one event per day (lighting)
    start_shapes: tuple[DailyShape, DailyShape]  # weekday, weekend
    household_power_kw: tuple[float, float]
    event_power_factor: tuple[float, float]
    duration_min: tuple[float, float]
    tail_power_kw: tuple[float, float] = (0.0, 0.0)
    tail_duration_min: tuple[float, float] = (0.0, 0.0)


_APPLIANCES = (
    _Appliance(
        label=1,
        ownership=0.8,
        events_per_day=(3.0, 4.0),
        poisson=True,
        start_shapes=(
            DailyShape(0.01, (7.25, 10.5, 15.5, 19.5), (0.5, 1.0, 1.2, 1.2), (1.0, 0.3, 0.4, 0.6)),
            DailyShape(0.01, (9.0, 12.5, 15.5, 19.5), (0.8, 1.0, 1.2, 1.2), (1.0, 0.5, 0.6, 0.5)),
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
            DailyShape(0.01, (7.25, 12.5, 18.5), (0.4, 0.6, 0.7), (0.3, 0.3, 1.5)),
            DailyShape(0.01, (9.0, 12.5, 18.5), (0.6, 0.6, 0.7), (0.4, 1.0, 1.2)),
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
            DailyShape(0.02, (9.5, 18.5), (1.5, 1.5), (0.6, 0.6)),
            DailyShape(0.02, (10.5, 15.0), (1.5, 2.0), (1.0, 0.6)),
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
            DailyShape(0.02, (13.5, 20.5), (0.8, 0.8), (0.3, 1.0)),
            DailyShape(0.02, (14.0, 20.5), (0.8, 0.8), (0.6, 1.0)),
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
            DailyShape(0.001, (18.5,), (0.4,), (1.0,)),
            DailyShape(0.001, (18.5,), (0.4,), (1.0,)),
        ),
        household_power_kw=(0.08, 0.3),
        event_power_factor=(0.8, 1.2),
        duration_min=(150.0, 330.0),
    ),
)


def appliance_energy_kws(
    keys: np.ndarray,
    daily_energy_kwh: np.ndarray,
    shift_h: np.ndarray,
    cal: LocalCalendar,
) -> tuple[np.ndarray, np.ndarray]:
    """Energy of all appliance events of a block of households, per local day and per piece.

    Parameters
    ----------
    keys : numpy.ndarray of numpy.uint64
        Stream key of each household [-].
    daily_energy_kwh : numpy.ndarray
        Daily energy of each household, ``>= 0`` [kWh].
    shift_h : numpy.ndarray
        Routine shift of each household's start times [h].
    cal : LocalCalendar
        Days and pieces of the run [-].

    Returns
    -------
    day_energy_kws : numpy.ndarray
        Event energy in each whole local day, shape ``(households, days)`` [kW·s].
    piece_energy_kws : numpy.ndarray
        Event energy in each piece of the run, shape ``(households, pieces)`` [kW·s].

    Notes
    -----
    The mean number of uses of an appliance on a day is its reference rate for the day type
    times the household's usage factor (:math:`\\ln \\sim N(0, 0.4^2)`) times
    :math:`\\min(D_i / 10\\,\\mathrm{kWh}, 5)`, or zero if the household does not own it.
    Start hours follow the appliance's :class:`DailyShape` for the day type, moved by
    ``shift_h`` and mapped onto the local day, so clock-change days keep 24 behavioural hours.
    """
    rate_factor = np.minimum(daily_energy_kwh / REFERENCE_DAILY_ENERGY_KWH, MAX_EVENT_RATE_FACTOR)
    events = [_appliance_events(a, keys, shift_h, rate_factor, cal) for a in _APPLIANCES]
    household, start_s, end_s, power = (
        np.concatenate(parts) for parts in zip(*events, strict=True)
    )
    return (
        _event_day_energy_kws(household, start_s, end_s, power, keys.size, cal),
        _event_piece_energy_kws(household, start_s, end_s, power, keys.size, cal),
    )


def _start_hour_quantile(shape: DailyShape, probability: np.ndarray) -> np.ndarray:
    """Clock hour below which a fraction ``probability`` of a shape's daily mass lies."""
    grid_h = np.linspace(0.0, HOURS_PER_DAY, 24 * 60 + 1)
    cumulative = shape_antiderivative(
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
    cal: LocalCalendar,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Events of one appliance type: household index, start [s], end [s] and power [kW].

    A washing or dishwasher cycle contributes its heating phase and its tail as two events.
    """
    label = appliance.label
    hh_keys = keys[:, np.newaxis]
    day_labels = cal.day_ordinal[np.newaxis, :]
    owns = uniform(keys, Draw.OWNERSHIP, label) < appliance.ownership
    if appliance.poisson:
        usage = np.exp(USAGE_SIGMA * normal(keys, Draw.USAGE, label))
        day_rate = np.asarray(appliance.events_per_day)[cal.weekend]
        mean = (owns * usage * rate_factor)[:, np.newaxis] * day_rate[np.newaxis, :]
        counts = _poisson(mean, uniform(hh_keys, Draw.COUNT, label, day_labels))
    else:
        counts = np.repeat(owns.astype(np.int64)[:, np.newaxis], cal.day_ordinal.size, axis=1)
    flat = counts.ravel()
    household = np.repeat(np.arange(keys.size).repeat(counts.shape[1]), flat)
    day = np.repeat(np.tile(np.arange(counts.shape[1]), keys.size), flat)
    rank = np.arange(flat.sum()) - np.repeat(np.cumsum(flat) - flat, flat)
    event_keys = keys[household]
    ordinal = cal.day_ordinal[day]

    u_start = uniform(event_keys, Draw.START, label, ordinal, rank)
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
    duration_s = 60.0 * between(
        uniform(event_keys, Draw.DURATION, label, ordinal, rank), appliance.duration_min
    )
    rated_kw = between(uniform(keys, Draw.POWER, label), appliance.household_power_kw)
    power = rated_kw[household] * between(
        uniform(event_keys, Draw.EVENT_POWER, label, ordinal, rank), appliance.event_power_factor
    )
    if appliance.tail_duration_min[1] == 0.0:
        return household, start_s, start_s + duration_s, power
    tail_kw = between(uniform(keys, Draw.TAIL_POWER, label), appliance.tail_power_kw)
    tail_s = 60.0 * between(
        uniform(event_keys, Draw.TAIL_DURATION, label, ordinal, rank),
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
    cal: LocalCalendar,
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
    cal: LocalCalendar,
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
