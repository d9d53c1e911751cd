"""Wholesale energy prices: a synthetic generator, unit conversion, and holding onto intervals.

Wholesale source data is in USD/MWh (``_usd_per_mwh``); everything inside tefed uses USD/kWh,
so prices are converted with :func:`usd_per_mwh_to_usd_per_kwh` as they enter a federation.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import pandas as pd

#: Daily shape of the synthetic price as bumps ``(centre [h], weight, width [h])`` of local time:
#: night trough, morning ramp, midday solar dip, evening peak.
DAILY_SHAPE_BUMPS: tuple[tuple[float, float, float], ...] = (
    (3.5, -0.6, 2.5),
    (8.0, 0.45, 1.5),
    (13.0, -0.5, 2.0),
    (19.0, 1.0, 1.8),
)

#: Local hour at which the normalized daily shape is +1 [h].
EVENING_PEAK_HOUR = 19.0

#: Price level factor on Saturdays and Sundays.
WEEKEND_FACTOR = 0.85

#: Price level factor on Monday–Friday, chosen so five weekdays and two weekend days average 1.
WEEKDAY_FACTOR = (7.0 - 2.0 * WEEKEND_FACTOR) / 5.0

#: Correlation time of the AR(1) price noise [s].
NOISE_CORRELATION_TIME_S = 3.0 * 3600.0


def _raw_daily_shape(hour: np.ndarray) -> np.ndarray:
    shape = np.zeros_like(hour, dtype=float)
    for centre_h, weight, width_h in DAILY_SHAPE_BUMPS:
        # Distance on the 24 h circle, so bumps near midnight continue into the next day.
        distance_h = (hour - centre_h + 12.0) % 24.0 - 12.0
        shape += weight * np.exp(-0.5 * (distance_h / width_h) ** 2)
    return shape


# A one-minute grid is fine enough that hourly or quarter-hourly samples of the normalized shape
# also average to zero over a day.
_SHAPE_DAILY_MEAN = float(np.mean(_raw_daily_shape(np.arange(24 * 60) / 60.0)))
_SHAPE_SCALE = float(_raw_daily_shape(np.array([EVENING_PEAK_HOUR]))[0]) - _SHAPE_DAILY_MEAN


def synthetic_wholesale_usd_per_mwh(
    times: pd.DatetimeIndex,
    seed: int,
    mean_usd_per_mwh: float = 45.0,
    daily_amplitude_usd_per_mwh: float = 25.0,
    noise_usd_per_mwh: float = 4.0,
) -> np.ndarray:
    """Synthetic wholesale prices with a daily shape, a weekly pattern and correlated noise.

    This is tefed's own generator, for runs without price data; it is not fitted to a market.

    Parameters
    ----------
    times : pandas.DatetimeIndex
        Interval starts, time-zone aware and strictly increasing; hours and weekdays are read in
        this (local) time zone.
    seed : int
        Seed of ``numpy.random.default_rng``; the same seed and times give the same prices.
    mean_usd_per_mwh : float
        Mean price over a week [USD/MWh].
    daily_amplitude_usd_per_mwh : float
        Height of the 19:00 evening peak above the daily mean, before the weekday/weekend factor
        [USD/MWh], ≥ 0.
    noise_usd_per_mwh : float
        Standard deviation of the noise [USD/MWh], ≥ 0; 0 gives the noise-free shape.

    Returns
    -------
    numpy.ndarray
        Wholesale price of each interval [USD/MWh], shape ``(len(times),)``.

    Notes
    -----
    With ``h`` the local hour of an interval start, ``s(h)`` the daily shape, ``f`` the day
    factor and ``x`` the noise:

    ``price = f · (mean + amplitude · s(h)) + x``

    ``s`` is a sum of periodic Gaussian bumps (``DAILY_SHAPE_BUMPS``): a night trough near 03:30,
    a morning ramp to 08:00, a midday solar dip near 13:00 and the evening peak at 19:00. It is
    shifted to a daily mean of 0 and scaled to ``s(19:00) = 1``. ``f`` is ``WEEKDAY_FACTOR`` on
    Monday–Friday and ``WEEKEND_FACTOR`` on weekends; they average to 1 over a week, so the
    weekly mean is ``mean``.

    The noise is a stationary AR(1) process with standard deviation ``noise`` and correlation
    time ``τ = NOISE_CORRELATION_TIME_S``: ``x_0 = σ ε_0``,
    ``x_k = φ_k x_{k-1} + σ √(1 − φ_k²) ε_k`` with ``φ_k = exp(−Δt_k / τ)`` for the spacing
    ``Δt_k`` between starts ``k − 1`` and ``k``, and ``ε`` standard normal draws.

    Examples
    --------
    Without noise, a Monday at 19:00 is ``1.06 · (45 + 25) = 74.2`` USD/MWh and a Saturday at
    19:00 is ``0.85 · (45 + 25) = 59.5`` USD/MWh:

    >>> times = pd.DatetimeIndex(["2022-01-03 19:00", "2022-01-08 19:00"])
    >>> prices = synthetic_wholesale_usd_per_mwh(
    ...     times.tz_localize("America/Chicago"), seed=0, noise_usd_per_mwh=0.0
    ... )
    >>> [round(float(price), 6) for price in prices]
    [74.2, 59.5]
    """
    _check_times("times", times)
    if not times.is_monotonic_increasing or not times.is_unique:
        raise ValueError(f"times: got {_first_unordered(times)}; expected strictly increasing")
    if not (isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed >= 0):
        raise ValueError(f"seed: got {seed!r}; expected a non-negative integer")
    _check_finite("mean_usd_per_mwh", mean_usd_per_mwh, minimum=None)
    _check_finite("daily_amplitude_usd_per_mwh", daily_amplitude_usd_per_mwh, minimum=0.0)
    _check_finite("noise_usd_per_mwh", noise_usd_per_mwh, minimum=0.0)

    hour = np.asarray(times.hour + times.minute / 60.0 + times.second / 3600.0, dtype=float)
    shape = (_raw_daily_shape(hour) - _SHAPE_DAILY_MEAN) / _SHAPE_SCALE
    day_factor = np.where(np.asarray(times.day_of_week >= 5), WEEKEND_FACTOR, WEEKDAY_FACTOR)
    level_usd_per_mwh = day_factor * (mean_usd_per_mwh + daily_amplitude_usd_per_mwh * shape)
    return level_usd_per_mwh + _ar1_noise(times, seed, noise_usd_per_mwh)


def _ar1_noise(times: pd.DatetimeIndex, seed: int, sigma: float) -> np.ndarray:
    innovations = np.random.default_rng(seed).standard_normal(len(times))
    if len(times) == 0:
        return innovations
    spacing_s = np.diff(times.as_unit("ns").asi8) / 1e9
    phi = np.exp(-spacing_s / NOISE_CORRELATION_TIME_S)
    innovation_scale = sigma * np.sqrt(1.0 - phi**2)
    noise = np.empty(len(times))
    noise[0] = sigma * innovations[0]
    # A recursion: each value depends on the previous one, so it cannot be one array operation.
    for k in range(1, len(times)):
        noise[k] = phi[k - 1] * noise[k - 1] + innovation_scale[k - 1] * innovations[k]
    return noise


def usd_per_mwh_to_usd_per_kwh(price_usd_per_mwh: np.ndarray) -> np.ndarray:
    """Convert prices from USD/MWh to USD/kWh.

    Parameters
    ----------
    price_usd_per_mwh : numpy.ndarray
        Prices [USD/MWh]; negative prices are kept.

    Returns
    -------
    numpy.ndarray
        The same prices [USD/kWh], as floats.

    Notes
    -----
    1 MWh = 1000 kWh, so ``price_usd_per_kwh = price_usd_per_mwh / 1000``.

    Examples
    --------
    >>> usd_per_mwh_to_usd_per_kwh(np.array([45.0, -12.5])).tolist()
    [0.045, -0.0125]
    """
    return np.asarray(price_usd_per_mwh, dtype=float) / 1000.0


def hold_to_intervals(
    source_times: pd.DatetimeIndex,
    source_values: np.ndarray,
    interval_starts: pd.DatetimeIndex,
    interval_s: float | None = None,
) -> np.ndarray:
    """Value of each interval: the source value whose period contains the interval start, or,
    given the intervals' length, the time-weighted mean of the source periods the interval spans.

    Parameters
    ----------
    source_times : pandas.DatetimeIndex
        Starts of the source periods, time-zone aware and strictly increasing, at least two.
    source_values : numpy.ndarray
        Value of each source period [any unit, e.g. USD/MWh], shape ``(len(source_times),)``.
    interval_starts : pandas.DatetimeIndex
        Starts of the intervals to fill, time-zone aware, in any order.
    interval_s : float, optional
        Length of every interval [s]. Given, an interval spanning several source periods (5-min
        prices on a 15-min market) gets their mean weighted by how long each holds in it, and
        the source must cover the whole interval; an interval within one period gets its value
        exactly. None: the value at the interval's start.

    Returns
    -------
    numpy.ndarray
        Value of each interval [unit of ``source_values``], shape ``(len(interval_starts),)``.

    Raises
    ------
    ValueError
        If an interval start lies before the first source time, or at or after the end of the
        last source period; the message names the first such interval start.

    Notes
    -----
    A step hold (a "previous" lookup): source value ``i`` holds on
    ``[source_times[i], source_times[i + 1])``. The last one holds for the last source spacing,
    ``[source_times[-1], source_times[-1] + (source_times[-1] − source_times[-2]))``. Times are
    compared as instants, so time zones and daylight-saving changes do not matter.

    Examples
    --------
    Hourly prices held over quarter hours:

    >>> hours = pd.date_range("2022-01-01 00:00", periods=2, freq="h", tz="America/Chicago")
    >>> quarters = pd.date_range("2022-01-01 00:00", periods=8, freq="15min", tz="America/Chicago")
    >>> hold_to_intervals(hours, np.array([30.0, 40.0]), quarters).tolist()
    [30.0, 30.0, 30.0, 30.0, 40.0, 40.0, 40.0, 40.0]

    Five-minute prices over a quarter hour, each interval their mean:

    >>> fives = pd.date_range("2022-01-01 00:00", periods=6, freq="5min", tz="UTC")
    >>> starts = pd.date_range("2022-01-01 00:00", periods=2, freq="15min", tz="UTC")
    >>> hold_to_intervals(fives, np.array([10.0, 20.0, 60.0, 0.0, 0.0, 30.0]), starts, 900)
    array([30., 10.])
    """
    _check_times("source_times", source_times)
    _check_times("interval_starts", interval_starts)
    values = np.asarray(source_values, dtype=float)
    if values.shape != (len(source_times),):
        raise ValueError(
            f"source_values: got shape {values.shape}; expected ({len(source_times)},), one value "
            "per source time"
        )
    if len(source_times) < 2:
        raise ValueError(
            f"source_times: got {len(source_times)} time(s); expected at least 2 to know how long "
            "the last value holds"
        )
    if not source_times.is_monotonic_increasing or not source_times.is_unique:
        raise ValueError(
            f"source_times: got {_first_unordered(source_times)}; expected strictly increasing"
        )
    if interval_s is not None and not (np.isfinite(interval_s) and interval_s > 0):
        raise ValueError(f"interval_s: got {interval_s!r}; expected a positive number of seconds")
    source_ns = source_times.as_unit("ns").asi8
    interval_ns = interval_starts.as_unit("ns").asi8
    end_ns = source_ns[-1] + (source_ns[-1] - source_ns[-2])
    length_ns = 0 if interval_s is None else round(interval_s * 1e9)
    uncovered = (interval_ns < source_ns[0]) | (interval_ns + length_ns > end_ns)
    if interval_s is None:
        uncovered |= interval_ns >= end_ns
    if uncovered.any():
        first = interval_starts[int(np.argmax(uncovered))]
        end = source_times[-1] + (source_times[-1] - source_times[-2])
        whole = "" if interval_s is None else f" (intervals of {interval_s:g} s ending by then)"
        raise ValueError(
            f"interval_starts: {first.isoformat()} is not covered by the source; expected interval "
            f"starts from {source_times[0].isoformat()} up to but not including {end.isoformat()}"
            f"{whole}"
        )
    first_period = np.searchsorted(source_ns, interval_ns, side="right") - 1
    held = values[first_period]
    if interval_s is None:
        return held
    # The last period each interval overlaps (it starts before the interval ends).
    last_period = np.searchsorted(source_ns, interval_ns + length_ns, side="left") - 1
    bounds = np.append(source_ns, end_ns)
    for k in np.flatnonzero(last_period > first_period):
        periods = np.arange(first_period[k], last_period[k] + 1)
        overlap_ns = np.minimum(bounds[periods + 1], interval_ns[k] + length_ns) - np.maximum(
            bounds[periods], interval_ns[k]
        )
        held[k] = float(np.dot(values[periods], overlap_ns) / overlap_ns.sum())
    return held


def _check_times(name: str, times: pd.DatetimeIndex) -> None:
    if not isinstance(times, pd.DatetimeIndex):
        raise ValueError(f"{name}: got {type(times).__name__}; expected a pandas.DatetimeIndex")
    if times.tz is None:
        raise ValueError(
            f"{name}: got a DatetimeIndex without time zone; expected time-zone aware times "
            "(tz_localize them, e.g. to America/Chicago)"
        )


def _first_unordered(times: pd.DatetimeIndex) -> str:
    """The first time that is not after its predecessor, worded for an error message."""
    not_after = np.flatnonzero(np.diff(times.as_unit("ns").asi8) <= 0)[0] + 1
    return (
        f"{times[not_after].isoformat()} at position {not_after}, not after "
        f"{times[not_after - 1].isoformat()}"
    )


def _check_finite(name: str, value: float, minimum: float | None) -> None:
    is_number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not (is_number and math.isfinite(value)) or (minimum is not None and value < minimum):
        expected = "a finite number" if minimum is None else f"a finite number ≥ {minimum:g}"
        raise ValueError(f"{name}: got {value!r}; expected {expected} [USD/MWh]")
