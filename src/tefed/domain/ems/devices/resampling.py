"""Energy-preserving changes of the time step of power series, and daily profiles on a calendar.

A power series here is piecewise constant: each value is the mean power over its step. Changing
its step means integrating that staircase over the new steps, so the energy over any span both
series cover is unchanged. :func:`resample_energy_preserving` does this for bare arrays with
steps in seconds, :func:`resample_power_to_times` for calendar series with a time-zone-aware
index, and :func:`repeat_daily_profile` lays a one-day profile onto every local day of a run;
:func:`measured_profiles_on_steps` does either for measured household profiles.

:func:`local_day_position` places instants on the local calendar (the day and the share of it
that has passed); clock-change days of 23 or 25 hours count as one whole day, so a daily profile
keeps its daily energy on them.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from tefed.contract.time_grid import NS_PER_S, SECONDS_PER_DAY
from tefed.domain.periodic_extension import covered_or_repeated
from tefed.domain.time_index import regular_step_ns


def regular_step_s(times: pd.DatetimeIndex) -> int:
    """Step of regular, time-zone-aware ``times`` in whole seconds.

    Parameters
    ----------
    times : pandas.DatetimeIndex
        At least two instants, time-zone aware, equally spaced [-].

    Returns
    -------
    int
        The step, a positive whole number of seconds [s].

    Raises
    ------
    ValueError
        If ``times`` has no time zone, fewer than two entries, an irregular step (naming the
        first one), or a step that is not a positive whole number of seconds.

    Examples
    --------
    >>> regular_step_s(pd.date_range("2022-06-21", periods=3, freq="15min", tz="UTC"))
    900
    """
    if not isinstance(times, pd.DatetimeIndex) or times.tz is None:
        raise ValueError(
            f"times is {type(times).__name__} without a time zone; expected a time-zone-aware "
            "pandas.DatetimeIndex"
        )
    if len(times) < 2:
        raise ValueError(f"times has {len(times)} entries; expected at least 2 to fix the step")
    step_ns = regular_step_ns(times)
    if step_ns % NS_PER_S:
        raise ValueError(
            f"times has a step of {step_ns / NS_PER_S} s; expected a whole number of seconds"
        )
    return step_ns // NS_PER_S


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
        Step wanted, a positive integer [s]. Steps need not be multiples of one another.

    Returns
    -------
    numpy.ndarray
        Mean power over each target step [kW]; ``len(power_kw) * source_step_s /
        target_step_s`` steps.

    Raises
    ------
    ValueError
        If a step is not a positive integer, or the source steps do not fill whole target steps.

    Notes
    -----
    Coarsening by :math:`r = \\Delta_t / \\Delta_s` averages each group of :math:`r` steps,
    :math:`\\bar p_k = \\frac{1}{r} \\sum_{m=0}^{r-1} p_{kr+m}`; refining by
    :math:`r = \\Delta_s / \\Delta_t` holds each value for :math:`r` steps. When neither step
    divides the other, the target mean is the integral of the source staircase over the target
    step, :math:`\\bar p_k = \\frac{1}{\\Delta_t} \\sum_m p_m\\,|[m\\Delta_s, (m+1)\\Delta_s)
    \\cap [k\\Delta_t, (k+1)\\Delta_t)|`, which equals differencing the cumulative energy
    :math:`E(t) = \\int_0^t p` (piecewise linear) at the target step edges; summing overlaps
    avoids the cancellation of differencing a large running total. In every case
    :math:`\\sum_k \\bar p_k \\Delta_t = \\sum_m p_m \\Delta_s`, and the energy over any span
    both series share is the same.

    Examples
    --------
    >>> resample_energy_preserving(np.array([1.0, 3.0, 2.0, 2.0]), 900, 1800)
    array([2., 2.])
    >>> resample_energy_preserving(np.array([1.0, 3.0]), 3600, 1800)
    array([1., 1., 3., 3.])

    From 10 to 15 minutes: the first target step holds 600 s at 1 kW and 300 s at 2 kW, so
    1200 kW·s over 900 s:

    >>> resample_energy_preserving(np.array([1.0, 2.0, 3.0]), 600, 900)
    array([1.33333333, 2.66666667])
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
    duration_s = power.shape[0] * int(source_step_s)
    if duration_s % target_step_s:
        raise ValueError(
            f"power_kw has {power.shape[0]} steps of {source_step_s} s ({duration_s} s); "
            f"expected a duration that fills whole {target_step_s} s steps"
        )
    source_edges = np.arange(power.shape[0] + 1, dtype=np.int64) * source_step_s
    target_edges = np.arange(duration_s // target_step_s + 1, dtype=np.int64) * target_step_s
    return _step_means(power, source_edges, target_edges)


def resample_power_to_times(
    power_kw: pd.Series | pd.DataFrame,
    target_times: pd.DatetimeIndex,
    target_step_s: int,
    source_step_s: int | None = None,
) -> pd.Series | pd.DataFrame:
    """Mean power over each target step of a calendar power series, keeping its energy.

    Parameters
    ----------
    power_kw : pandas.Series or pandas.DataFrame
        Mean power over each source step, indexed by the step starts: a regular, strictly
        increasing, time-zone-aware DatetimeIndex; one column per profile [kW].
    target_times : pandas.DatetimeIndex
        Start of each target step, regular and time-zone aware, e.g. the simulation grid [-].
    target_step_s : int
        Length of every target step, a positive integer [s].
    source_step_s : int, optional
        Length of every source step [s]; needed only when ``power_kw`` has one row, otherwise
        taken from its index (and checked against it when given).

    Returns
    -------
    pandas.Series or pandas.DataFrame
        Same type and columns as ``power_kw``, indexed by ``target_times``: mean power over
        each target step ``[t, t + target_step_s)`` [kW].

    Raises
    ------
    ValueError
        If an index is not time-zone aware or not regular, a value is not finite, or the source
        does not cover the span of the target steps (the message gives both spans).

    Notes
    -----
    Works on absolute instants (nanoseconds since the epoch), so steps that cross a clock
    change are as long as they really are. The rule is that of
    :func:`resample_energy_preserving`: :math:`\\bar p_k = \\frac{1}{\\Delta_t}\\int_{t_k}^{t_k
    + \\Delta_t} p(t)\\,dt` with :math:`p` the source staircase. The source steps and the target
    steps may have any lengths and any offset from one another.

    Examples
    --------
    Hourly values brought to 40-minute steps: the second step holds 20 min at 1 kW and 20 min
    at 4 kW:

    >>> hourly = pd.Series(
    ...     [1.0, 4.0], index=pd.date_range("2024-06-01", periods=2, freq="h", tz="UTC")
    ... )
    >>> resample_power_to_times(hourly, hourly.index[0] + pd.to_timedelta([0, 40], "min"), 2400)
    2024-06-01 00:00:00+00:00    1.0
    2024-06-01 00:40:00+00:00    2.5
    dtype: float64
    """
    if not isinstance(power_kw, pd.Series | pd.DataFrame):
        raise ValueError(
            f"power_kw is {type(power_kw).__name__}; expected a pandas Series or DataFrame"
        )
    if isinstance(target_step_s, bool) or not isinstance(target_step_s, numbers.Integral):
        raise ValueError(f"target_step_s is {target_step_s!r}; expected a positive integer")
    if target_step_s <= 0:
        raise ValueError(f"target_step_s is {target_step_s}; expected a positive integer")
    source_ns = _regular_instants_ns("power_kw.index", power_kw.index, source_step_s)
    target_ns = _regular_instants_ns("target_times", target_times, target_step_s)
    values = power_kw.to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(values).reshape(values.shape[0], -1).all(axis=1))
    if bad.size:
        raise ValueError(
            f"power_kw at {power_kw.index[bad[0]]} is {values[bad[0]]}; expected finite values"
        )
    source_step_ns = (
        int(source_ns[1] - source_ns[0]) if len(source_ns) > 1 else int(source_step_s) * NS_PER_S
    )
    source_edges = np.append(source_ns, source_ns[-1] + source_step_ns)
    target_edges = np.append(target_ns, target_ns[-1] + int(target_step_s) * NS_PER_S)
    if target_edges[0] < source_edges[0] or target_edges[-1] > source_edges[-1]:
        tz = target_times.tz

        def instant(ns: int) -> pd.Timestamp:
            return pd.Timestamp(int(ns), unit="ns", tz="UTC").tz_convert(tz)

        raise ValueError(
            f"power_kw covers {instant(source_edges[0])} to {instant(source_edges[-1])}; "
            f"expected it to cover the target steps from {instant(target_edges[0])} to "
            f"{instant(target_edges[-1])}"
        )
    means = _step_means(values, source_edges, target_edges)
    if isinstance(power_kw, pd.Series):
        return pd.Series(means, index=target_times, name=power_kw.name)
    return pd.DataFrame(means, index=target_times, columns=power_kw.columns)


def local_day_position(instants: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    """Local calendar day of each instant and the share of that day that has passed.

    Parameters
    ----------
    instants : pandas.DatetimeIndex
        Time-zone-aware instants; their time zone is the local clock [-].

    Returns
    -------
    day_ordinal : numpy.ndarray of int
        Local date of each instant as days since 1970-01-01 [d].
    day_fraction : numpy.ndarray
        Share of the local day before the instant, in ``[0, 1)`` [-].

    Notes
    -----
    :math:`f = (t - m_d) / (m_{d+1} - m_d)` with :math:`m_d` the instant of local midnight
    starting day :math:`d`. A day of 23 or 25 hours (clock change) is stretched onto ``[0, 1)``
    linearly, so a daily profile laid on it by this position is neither cut nor repeated. A
    midnight that the clock skips is taken as the first instant after it.

    Examples
    --------
    06:00 on the 23-hour spring-forward day in Berlin is 5 hours after midnight:

    >>> day, fraction = local_day_position(
    ...     pd.DatetimeIndex(["2024-03-31 06:00"], tz="Europe/Berlin")
    ... )
    >>> int(day[0]), round(float(fraction[0]) * 23, 9)
    (19813, 5.0)
    """
    if not isinstance(instants, pd.DatetimeIndex) or instants.tz is None:
        raise ValueError(
            f"instants is {type(instants).__name__} without a time zone; expected a "
            "time-zone-aware pandas.DatetimeIndex"
        )
    day_ns = SECONDS_PER_DAY * NS_PER_S
    dates_ns = instants.tz_localize(None).normalize().as_unit("ns").asi8
    unique_ns, inverse = np.unique(dates_ns, return_inverse=True)
    start_ns = _local_midnights_ns(unique_ns, instants.tz)[inverse]
    length_ns = _local_midnights_ns(unique_ns + day_ns, instants.tz)[inverse] - start_ns
    fraction = (instants.as_unit("ns").asi8 - start_ns) / length_ns
    return unique_ns[inverse] // day_ns, fraction


def repeat_daily_profile(
    times: pd.DatetimeIndex, daily_power_kw: np.ndarray, target_step_s: int
) -> np.ndarray:
    """Lay a one-day power profile onto every local day of a run, keeping each day's energy.

    Parameters
    ----------
    times : pandas.DatetimeIndex
        Start of each target step, time-zone aware; the local clock of this time zone places
        the profile [-].
    daily_power_kw : numpy.ndarray
        Mean power over each of the ``s`` equal slots of a day from local midnight, shape
        ``(s,)`` or ``(s, profiles)``; ``86 400 / s`` must be a whole number of seconds [kW].
    target_step_s : int
        Length of every target step, a positive integer [s].

    Returns
    -------
    numpy.ndarray
        Mean power over each target step, shape ``(len(times),)`` or ``(len(times),
        profiles)`` [kW].

    Raises
    ------
    ValueError
        If ``times`` is not time-zone aware, the number of slots does not divide a day, or a
        value is not finite.

    Notes
    -----
    The cumulative energy of the profile is a piecewise-linear function of the position in
    the day, :math:`C(f) = \\sum_{j < \\lfloor sf \\rfloor} p_j \\Delta + (sf - \\lfloor sf
    \\rfloor) p_{\\lfloor sf \\rfloor} \\Delta` with :math:`\\Delta = 24\\,\\mathrm{h}/s`,
    continued over days by adding the daily energy; a step's mean power is the difference of
    :math:`C` at its ends, at the positions of :func:`local_day_position`, over its length.
    Every whole local day therefore carries the profile's daily energy, also a 23-hour day
    (whose power is 24/23 of the profile's) and a 25-hour day (24/25).

    Examples
    --------
    A profile of 1 kW for the first half of the day and 3 kW for the second, on 6-hour steps:

    >>> times = pd.date_range("2024-06-03", periods=4, freq="6h", tz="Europe/Berlin")
    >>> repeat_daily_profile(times, np.array([1.0, 3.0]), 21600)
    array([1., 1., 3., 3.])
    """
    if isinstance(target_step_s, bool) or not isinstance(target_step_s, numbers.Integral):
        raise ValueError(f"target_step_s is {target_step_s!r}; expected a positive integer")
    if target_step_s <= 0:
        raise ValueError(f"target_step_s is {target_step_s}; expected a positive integer")
    profile = np.asarray(daily_power_kw, dtype=float)
    if profile.ndim not in (1, 2) or profile.shape[0] == 0:
        raise ValueError(
            f"daily_power_kw has shape {profile.shape}; expected (slots,) or (slots, profiles)"
        )
    slots = profile.shape[0]
    if SECONDS_PER_DAY % slots:
        raise ValueError(
            f"daily_power_kw has {slots} slots; expected a number that divides a day of "
            f"{SECONDS_PER_DAY} s into whole seconds"
        )
    if not np.isfinite(profile).all():
        slot = int(np.flatnonzero(~np.isfinite(profile).reshape(slots, -1).all(axis=1))[0])
        raise ValueError(f"daily_power_kw[{slot}] is {profile[slot]}; expected finite values")
    if not isinstance(times, pd.DatetimeIndex) or times.tz is None:
        raise ValueError(
            f"times is {type(times).__name__} without a time zone; expected a time-zone-aware "
            "pandas.DatetimeIndex"
        )
    edges = times.append(times[-1:] + pd.Timedelta(seconds=int(target_step_s)))
    day, fraction = local_day_position(edges)
    slot_h = 24.0 / slots
    cumulative_kwh = np.concatenate([np.zeros((1, *profile.shape[1:])), np.cumsum(profile, 0)])
    cumulative_kwh *= slot_h
    position = fraction * slots
    slot = np.minimum(np.floor(position).astype(np.int64), slots - 1)
    within = (position - slot).reshape(-1, *(1,) * (profile.ndim - 1))
    energy_kwh = (
        (day - day[0]).reshape(within.shape) * cumulative_kwh[-1]
        + cumulative_kwh[slot]
        + within * profile[slot] * slot_h
    )
    return np.diff(energy_kwh, axis=0) * 3600.0 / target_step_s


def measured_profiles_on_steps(
    power_kw: pd.DataFrame,
    source_step_s: int,
    step_times: pd.DatetimeIndex,
    target_step_s: int,
    run_steps: int,
    steps_per_day: int,
) -> np.ndarray:
    """Measured load profiles on a run's steps: calendar series resampled, daily ones repeated.

    Parameters
    ----------
    power_kw : pandas.DataFrame
        Mean power over each source step, one column per profile [kW]: indexed by the
        time-zone-aware step starts (a calendar series), or by the time of day from local
        midnight (a TimedeltaIndex: one day, laid on every local day of the run).
    source_step_s : int
        Length of every source step [s].
    step_times : pandas.DatetimeIndex
        Start of each target step, time-zone aware: the run's steps, then any forecast steps
        past its end [-].
    target_step_s : int
        Length of every target step [s].
    run_steps : int
        Target steps of the run itself, which a calendar series must cover [-].
    steps_per_day : int
        Target steps in a day [-].

    Returns
    -------
    numpy.ndarray
        Mean power over each target step, ``(len(step_times), profiles)`` [kW]. Forecast steps
        past the end of a calendar series repeat the same time of an earlier day of it.

    Raises
    ------
    ValueError
        If a calendar series does not cover the run's steps, giving both spans in the run's
        time zone.

    Examples
    --------
    Hourly values brought to half hours, with a "day" of two steps; the fifth step, past the
    data, repeats the one a day (two steps) earlier:

    >>> hourly = pd.DataFrame(
    ...     {"a": [1.0, 3.0]}, index=pd.date_range("2024-06-01", periods=2, freq="h", tz="UTC")
    ... )
    >>> times = pd.date_range("2024-06-01", periods=5, freq="30min", tz="UTC")
    >>> measured_profiles_on_steps(hourly, 3600, times, 1800, 4, 2)[:, 0].tolist()
    [1.0, 1.0, 3.0, 3.0, 3.0]
    """
    if isinstance(power_kw.index, pd.TimedeltaIndex):
        return repeat_daily_profile(step_times, power_kw.to_numpy(dtype=float), target_step_s)
    zone = step_times.tz
    first = power_kw.index[0].tz_convert(zone)
    end = power_kw.index[-1].tz_convert(zone) + pd.Timedelta(seconds=int(source_step_s))
    run_end = step_times[run_steps - 1] + pd.Timedelta(seconds=int(target_step_s))
    if step_times[0] < first or run_end > end:
        raise ValueError(
            f"the profiles cover {first} to {end}; expected them to cover the run, "
            f"{step_times[0]} to {run_end} ({zone})"
        )
    return covered_or_repeated(
        lambda steps: resample_power_to_times(
            power_kw, step_times[:steps], target_step_s, source_step_s
        ).to_numpy(dtype=float),
        run_steps,
        step_times.size,
        steps_per_day,
    )


def _local_midnights_ns(dates_ns: np.ndarray, tz: object) -> np.ndarray:
    """Instants [ns] of the local midnights starting the naive dates ``dates_ns`` [ns]."""
    naive = pd.DatetimeIndex(dates_ns.astype("datetime64[ns]"))
    # A repeated midnight is taken in its first (daylight-saving) pass, a skipped one as the
    # first instant after it, as in the load model's calendar.
    aware = naive.tz_localize(
        tz, ambiguous=np.ones(len(naive), dtype=bool), nonexistent="shift_forward"
    )
    return aware.as_unit("ns").asi8


def _step_means(
    power: np.ndarray, source_edges: np.ndarray, target_edges: np.ndarray
) -> np.ndarray:
    """Mean of a staircase over each target step; target edges within the source edges."""
    breaks = np.union1d(source_edges, target_edges)
    breaks = breaks[(breaks >= target_edges[0]) & (breaks <= target_edges[-1])]
    widths = np.diff(breaks).astype(float)
    source_of_piece = np.searchsorted(source_edges, breaks[:-1], side="right") - 1
    trailing = (1,) * (power.ndim - 1)
    energy = power[source_of_piece] * widths.reshape(-1, *trailing)
    first_piece = np.searchsorted(breaks, target_edges[:-1])
    step_energy = np.add.reduceat(energy, first_piece, axis=0)
    return step_energy / np.diff(target_edges).astype(float).reshape(-1, *trailing)


def _regular_instants_ns(name: str, index: pd.Index, step_s: int | None) -> np.ndarray:
    """Instants of a regular tz-aware index as integer ns, or ValueError naming ``name``."""
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
        raise ValueError(
            f"{name} is {type(index).__name__} without a time zone; expected a "
            "time-zone-aware pandas.DatetimeIndex"
        )
    if len(index) == 0:
        raise ValueError(f"{name} is empty; expected at least one step")
    instants = index.as_unit("ns").asi8
    if len(instants) == 1:
        if step_s is None:
            raise ValueError(f"{name} has one entry; give its step in seconds to fix its span")
        return instants
    regular_step_ns(index, None if step_s is None else int(step_s) * NS_PER_S, name)
    return instants
