"""Household load from a standard load profile, made diverse per household.

A standard profile (e.g. the BDEW household profile read by
:func:`tefed.io.bdew_profiles.bdew_household_shape`) is the mean of many households; given
as is to a thousand households it would make a thousand copies. :func:`library_household_profiles`
gives each household its own time shift of its daily routine and its own multiplicative noise
on every 15-minute slot, both drawn from the household's key with the counter-based streams of
:mod:`tefed.domain.ems.devices.hashed_random`, then scales each household's every local day to
its energy (a fixed daily energy, or a share of its annual energy that follows the profile's
seasons), and integrates the result exactly over the simulation steps.

Pure: the profile comes in as data, nothing is read here.
"""

from __future__ import annotations

import enum
import numbers

import numpy as np
import pandas as pd

from tefed.contract.time_grid import NS_PER_S, SECONDS_PER_DAY
from tefed.domain.ems.devices.hashed_random import combine, normal, uniform
from tefed.domain.ems.devices.resampling import (
    local_day_position,
    regular_step_s,
)

#: Slots of 15 minutes in a day of the standard profile [-].
SLOTS_PER_DAY = 96
#: Largest time shift of a household's routine against the standard profile, by default [min].
MAX_SHIFT_MIN = 45.0
#: Standard deviation of the log of a household's factor on each 15-minute slot, by default [-].
NOISE_SIGMA = 0.3
#: Upper bound on the edges times households held in memory at once [-].
_BLOCK_ELEMENTS = 1 << 21


class _Draw(enum.IntEnum):
    """Purposes of draws; apart from those of the bottom-up load model (1 to 19)."""

    SHIFT = 101
    NOISE = 102


def library_household_profiles(
    times: pd.DatetimeIndex,
    shape: pd.Series,
    household_keys: np.ndarray,
    seed: int,
    daily_energy_kwh: np.ndarray | None = None,
    annual_energy_kwh: np.ndarray | None = None,
    max_shift_min: float = MAX_SHIFT_MIN,
    noise_sigma: float = NOISE_SIGMA,
) -> np.ndarray:
    """Consumption of ``n`` households from one standard profile, each with its own variation.

    Parameters
    ----------
    times : pandas.DatetimeIndex
        Start of each step: regular, time-zone aware, at least two entries, a whole number of
        seconds per step; the local clock of its time zone places the profile [-].
    shape : pandas.Series
        Relative mean power of the standard profile on 15-minute slots, indexed by the naive
        local wall-clock slot starts: whole days of 96 slots from midnight, covering the local
        days of ``times`` and one more on each side; with ``annual_energy_kwh``, whole calendar
        years [-].
    household_keys : numpy.ndarray of int
        Non-negative identity of each household's random streams; its length is ``n`` [-].
    seed : int
        Non-negative seed; equal seeds and keys give equal profiles [-].
    daily_energy_kwh : numpy.ndarray, optional
        Energy of each household on every local day, finite and ``>= 0`` [kWh]. Give exactly one
        of this and ``annual_energy_kwh``.
    annual_energy_kwh : numpy.ndarray, optional
        Energy of each household over each calendar year, finite and ``>= 0``; a day gets the
        share of its year that the standard profile gives it [kWh].
    max_shift_min : float, optional
        Largest shift of a household's routine, either way, in ``[0, 720)`` [min].
    noise_sigma : float, optional
        Standard deviation of the log of the per-slot factor, ``>= 0`` [-].

    Returns
    -------
    numpy.ndarray
        ``load_power_kw`` of shape ``(len(times), n)``: mean power of each household over each
        step ``[times[k], times[k] + step)``, ``>= 0`` [kW].

    Raises
    ------
    ValueError
        If ``times`` is not regular and time-zone aware, ``shape`` is not whole 15-minute days
        of finite non-negative values or does not cover the run, not exactly one energy is
        given, an energy or key is out of range (the message names the household index), or a
        parameter is out of range.

    Notes
    -----
    Household :math:`i` has the key :math:`k_i` (``seed`` hashed with ``household_keys[i]``).
    Its relative power in slot :math:`j` (counted from 1970-01-01 local, so it does not depend
    on the run's start) is :math:`r_j\\,m_{ij}` with :math:`r_j` the standard profile and

    - :math:`m_{ij} = \\exp(\\sigma z_{ij} - \\sigma^2/2)`, :math:`z_{ij} \\sim N(0, 1)`: a
      log-normal factor of mean 1, so that noise does not change the expected energy;
    - all of it shifted later by :math:`\\delta_i \\sim U(-\\delta_{max}, \\delta_{max})`.

    Time is the local behavioural day :math:`\\tau` = day + share of the day passed
    (:func:`tefed.domain.ems.devices.resampling.local_day_position`): a clock-change day maps its
    23 or 25 hours onto the 96 slots of its date, so nothing is cut or repeated. The household's
    cumulative relative energy :math:`C_i(\\tau)` is piecewise linear; its every local day
    :math:`d` is scaled to the target :math:`T_{id}`:

    .. math:: E_i(\\tau) = \\sum_{d' < d} T_{id'} + T_{id} \\frac{C_i(\\tau - \\delta_i) -
              C_i(d - \\delta_i)}{C_i(d + 1 - \\delta_i) - C_i(d - \\delta_i)}

    with :math:`T_{id} = D_i` (daily energy) or :math:`T_{id} = A_i w_d`, :math:`w_d` the share
    of day :math:`d` in its calendar year of the standard profile (annual energy). A step's
    mean power is the difference of :math:`E_i` at its ends over its length, so every whole
    local day carries exactly :math:`T_{id}` and any grid step gets the exact integral of the
    15-minute staircase (an energy-preserving interpolation of the standard profile).

    References
    ----------
    G. L. Steele, D. Lea and C. H. Flood, "Fast splittable pseudorandom number generators",
    OOPSLA 2014, doi:10.1145/2660193.2660195 (the hashed streams).

    Examples
    --------
    A flat standard profile without variation gives each household its daily energy spread
    evenly: 24 kWh a day is 1 kW:

    >>> times = pd.date_range("2024-06-03", periods=4, freq="6h", tz="Europe/Berlin")
    >>> flat = pd.Series(1.0, index=pd.date_range("2024-06-02", periods=3 * 96, freq="15min"))
    >>> library_household_profiles(
    ...     times, flat, np.array([0, 1]), seed=1, daily_energy_kwh=np.array([24.0, 12.0]),
    ...     max_shift_min=0.0, noise_sigma=0.0,
    ... )
    array([[1. , 0.5],
           [1. , 0.5],
           [1. , 0.5],
           [1. , 0.5]])
    """
    step_s = regular_step_s(times)
    keys_in = np.asarray(household_keys)
    if keys_in.ndim != 1 or not np.issubdtype(keys_in.dtype, np.integer):
        raise ValueError(
            f"household_keys has shape {keys_in.shape} and dtype {keys_in.dtype}; expected a "
            "1-D array of integers, one per household"
        )
    if (keys_in < 0).any():
        index = int(np.flatnonzero(keys_in < 0)[0])
        raise ValueError(f"household_keys[{index}] is {keys_in[index]}; expected >= 0")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed is {seed!r}; expected a non-negative integer")
    if not 0.0 <= max_shift_min < 720.0:
        raise ValueError(f"max_shift_min is {max_shift_min}; expected in [0, 720)")
    if not 0.0 <= noise_sigma < np.inf:
        raise ValueError(f"noise_sigma is {noise_sigma}; expected a finite value >= 0")
    energy, annual = _household_energy(daily_energy_kwh, annual_energy_kwh, keys_in.shape[0])
    first_day, profile = _profile_days(shape)

    edges = times.append(times[-1:] + pd.Timedelta(seconds=step_s))
    day, fraction = local_day_position(edges)
    # An edge at midnight closes the day before, so the last day needed is the last one used.
    closes = (fraction == 0.0) & (np.arange(len(edges)) > 0)
    day = np.where(closes, day - 1, day) - first_day
    fraction = np.where(closes, 1.0, fraction)
    low, high = int(day.min()), int(day.max())
    if low < 1 or high + 2 > profile.shape[0]:
        covered = pd.Timestamp(first_day, unit="D").date()
        last = pd.Timestamp(first_day + profile.shape[0] - 1, unit="D").date()
        raise ValueError(
            f"shape covers the local days {covered} to {last}; expected one day more on each "
            f"side of the run's days {pd.Timestamp(first_day + low, unit='D').date()} to "
            f"{pd.Timestamp(first_day + high, unit='D').date()}"
        )
    day_weights = _day_weights(profile, first_day, low, high) if annual else None

    households = keys_in.shape[0]
    power_kw = np.empty((len(times), households))
    root = np.random.SeedSequence(int(seed)).generate_state(1, dtype=np.uint64)[0]
    window = profile[low - 1 : high + 2].ravel()
    slot_labels = (first_day + low - 1) * SLOTS_PER_DAY + np.arange(window.size, dtype=np.int64)
    block = max(1, _BLOCK_ELEMENTS // (len(edges) + window.size))
    # Blocks of households only bound memory; each household uses its own streams.
    for start in range(0, households, block):
        members = slice(start, min(start + block, households))
        keys = combine(np.full(keys_in[members].shape, root, dtype=np.uint64), keys_in[members])
        shift_days = max_shift_min / 1440.0 * (2.0 * uniform(keys, _Draw.SHIFT) - 1.0)
        factor = np.exp(
            noise_sigma * normal(keys[np.newaxis, :], _Draw.NOISE, slot_labels[:, np.newaxis])
            - 0.5 * noise_sigma**2
        )
        cumulative = np.zeros((window.size + 1, factor.shape[1]))
        np.cumsum(window[:, np.newaxis] * factor, axis=0, out=cumulative[1:])
        targets = (
            np.outer(day_weights, energy[members])
            if annual
            else np.tile(energy[members], (high - low + 1, 1))
        )
        energy_kwh = _scaled_cumulative_kwh(
            cumulative, day - (low - 1), fraction, shift_days, targets, day - low
        )
        power_kw[:, members] = np.diff(energy_kwh, axis=0) * 3600.0 / step_s
    return power_kw


def _scaled_cumulative_kwh(
    cumulative: np.ndarray,
    window_day: np.ndarray,
    fraction: np.ndarray,
    shift_days: np.ndarray,
    targets_kwh: np.ndarray,
    target_day: np.ndarray,
) -> np.ndarray:
    """Energy since the first day's midnight at each edge, each day scaled to its target.

    ``cumulative`` is (window slots + 1, households); ``window_day`` is each edge's day within
    the window, ``target_day`` its row of ``targets_kwh`` (days, households).
    """

    def at(position_days: np.ndarray) -> np.ndarray:
        slots = position_days * SLOTS_PER_DAY
        slot = np.clip(np.floor(slots).astype(np.int64), 0, cumulative.shape[0] - 2)
        columns = np.arange(cumulative.shape[1])
        left = cumulative[slot, columns]
        return left + (slots - slot) * (cumulative[slot + 1, columns] - left)

    day = window_day[:, np.newaxis].astype(float)
    start = at(day - shift_days)
    end = at(day + 1.0 - shift_days)
    reached = at(day + fraction[:, np.newaxis] - shift_days)
    raw_day = end - start
    share = np.divide(reached - start, raw_day, out=np.zeros_like(raw_day), where=raw_day > 0)
    before = np.concatenate([np.zeros((1, targets_kwh.shape[1])), np.cumsum(targets_kwh, 0)])
    return before[target_day] + targets_kwh[target_day] * share


def _household_energy(
    daily_energy_kwh: np.ndarray | None, annual_energy_kwh: np.ndarray | None, households: int
) -> tuple[np.ndarray, bool]:
    """The one energy given, checked per household, and whether it is annual."""
    if (daily_energy_kwh is None) == (annual_energy_kwh is None):
        raise ValueError("give exactly one of daily_energy_kwh and annual_energy_kwh")
    annual = annual_energy_kwh is not None
    name = "annual_energy_kwh" if annual else "daily_energy_kwh"
    energy = np.asarray(annual_energy_kwh if annual else daily_energy_kwh, dtype=float)
    if energy.shape != (households,):
        raise ValueError(
            f"{name} has shape {energy.shape}; expected ({households},), one per household key"
        )
    bad = np.flatnonzero(~(np.isfinite(energy) & (energy >= 0)))
    if bad.size:
        raise ValueError(f"{name}[{bad[0]}] is {energy[bad[0]]}; expected a finite value >= 0")
    return energy, annual


def _profile_days(shape: pd.Series) -> tuple[int, np.ndarray]:
    """First day (days since 1970-01-01) and the (days, 96) values of a standard profile."""
    if not isinstance(shape, pd.Series) or not isinstance(shape.index, pd.DatetimeIndex):
        raise ValueError("shape must be a pandas Series with a DatetimeIndex of 15-minute slots")
    if shape.index.tz is not None:
        raise ValueError(
            f"shape has the time zone {shape.index.tz}; expected naive local wall-clock slots"
        )
    starts_ns = shape.index.as_unit("ns").asi8
    slot_ns = SECONDS_PER_DAY // SLOTS_PER_DAY * NS_PER_S
    day_ns = SECONDS_PER_DAY * NS_PER_S
    if (
        len(starts_ns) == 0
        or len(starts_ns) % SLOTS_PER_DAY
        or starts_ns[0] % day_ns
        or (np.diff(starts_ns) != slot_ns).any()
    ):
        raise ValueError(
            f"shape has {len(starts_ns)} entries from {shape.index[:1].tolist()}; expected whole "
            "days of consecutive 15-minute slots starting at midnight"
        )
    values = shape.to_numpy(dtype=float)
    bad = np.flatnonzero(~(np.isfinite(values) & (values >= 0)))
    if bad.size:
        raise ValueError(
            f"shape at {shape.index[bad[0]]} is {values[bad[0]]}; expected a finite value >= 0"
        )
    return int(starts_ns[0] // day_ns), values.reshape(-1, SLOTS_PER_DAY)


def _day_weights(profile: np.ndarray, first_day: int, low: int, high: int) -> np.ndarray:
    """Share of each day ``low..high`` in the profile's total over that day's calendar year."""
    dates = pd.to_datetime(first_day + np.arange(profile.shape[0]), unit="D")
    day_sum = profile.sum(axis=1)
    years = dates.year.to_numpy()
    for year in np.unique(years[low : high + 1]):
        days_in_year = 366 if pd.Timestamp(year=int(year), month=1, day=1).is_leap_year else 365
        if np.count_nonzero(years == year) != days_in_year:
            raise ValueError(
                f"shape holds {np.count_nonzero(years == year)} days of {year}; expected the "
                f"whole year ({days_in_year} days) to share annual_energy_kwh over its days"
            )
    year_sum = pd.Series(day_sum).groupby(years).transform("sum").to_numpy()
    return day_sum[low : high + 1] / year_sum[low : high + 1]
