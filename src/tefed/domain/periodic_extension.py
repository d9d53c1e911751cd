"""Extending a series past its known end by repeating the same time of day of earlier days.

Forecasts reach past the end of a run (an optimizing household plans a day ahead even in its
last hour). Where the data for those hours is not available, the natural guess for a daily
process is the same time of day one day earlier; for a series shorter than one day, the last
known value.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def earlier_day_positions(known: int, total: int, slots_per_day: int) -> np.ndarray:
    """Position in the known part of a series that each of ``total`` positions repeats.

    Parameters
    ----------
    known : int
        Number of known values at the start of the series [-].
    total : int
        Length of the extended series [-].
    slots_per_day : int
        Number of positions in one day (e.g. 96 for 15-minute intervals) [-].

    Returns
    -------
    numpy.ndarray
        ``(total,)`` integer positions in ``[0, known)``: a known position maps to itself; a
        later one to the same time of day of the latest day that is known, or to the last known
        position when fewer than ``slots_per_day`` values are known.

    Raises
    ------
    ValueError
        If ``known`` is not positive or ``slots_per_day`` is not positive.

    Examples
    --------
    Four known hourly values, a "day" of two hours, extended to seven:

    >>> earlier_day_positions(4, 7, 2).tolist()
    [0, 1, 2, 3, 2, 3, 2]
    >>> earlier_day_positions(3, 5, 24).tolist()
    [0, 1, 2, 2, 2]
    """
    if known <= 0:
        raise ValueError(f"known is {known}; expected at least one known value")
    if slots_per_day <= 0:
        raise ValueError(f"slots_per_day is {slots_per_day}; expected a positive integer")
    position = np.arange(total, dtype=np.int64)
    beyond = position >= known
    if known < slots_per_day:
        return np.where(beyond, known - 1, position)
    days_back = np.ceil((position - (known - 1)) / slots_per_day).astype(np.int64)
    return np.where(beyond, position - days_back * slots_per_day, position)


def extend_by_earlier_days(values: np.ndarray, total: int, slots_per_day: int) -> np.ndarray:
    """Extend ``values`` along its first axis to ``total`` rows by `earlier_day_positions`.

    Parameters
    ----------
    values : numpy.ndarray
        Known series, ``(known, ...)`` [any unit].
    total : int
        Rows wanted; at least ``len(values)`` [-].
    slots_per_day : int
        Rows per day [-].

    Returns
    -------
    numpy.ndarray
        ``(total, ...)``, equal to ``values`` in its first ``len(values)`` rows [same unit].

    Examples
    --------
    >>> extend_by_earlier_days(np.array([1.0, 2.0, 3.0, 4.0]), 6, 2).tolist()
    [1.0, 2.0, 3.0, 4.0, 3.0, 4.0]
    """
    values = np.asarray(values)
    if total < len(values):
        raise ValueError(f"total is {total}; expected at least the {len(values)} known rows")
    return values[earlier_day_positions(len(values), total, slots_per_day)]


def covered_or_repeated(
    compute: Callable[[int], np.ndarray], run_rows: int, total_rows: int, slots_per_day: int
) -> np.ndarray:
    """The first ``total_rows`` rows of a series, or its first ``run_rows`` repeated by days.

    Parameters
    ----------
    compute : callable
        ``compute(rows)`` returns the first ``rows`` rows of the series, or raises ValueError
        when its data do not cover them (a file that ends with the run).
    run_rows : int
        Rows that must be covered: the run itself [-].
    total_rows : int
        Rows wanted: the run and the forecast past it [-].
    slots_per_day : int
        Rows per day [-].

    Returns
    -------
    numpy.ndarray
        ``(total_rows, ...)``; past ``run_rows`` taken from the data where they reach, else
        from `extend_by_earlier_days`.

    Raises
    ------
    ValueError
        From ``compute`` when even the run is not covered.

    Examples
    --------
    >>> data = np.array([1.0, 2.0, 3.0, 4.0])
    >>> def first(rows):
    ...     if rows > data.size:
    ...         raise ValueError("not covered")
    ...     return data[:rows]
    >>> covered_or_repeated(first, 4, 6, 2).tolist()
    [1.0, 2.0, 3.0, 4.0, 3.0, 4.0]
    >>> covered_or_repeated(first, 2, 3, 2).tolist()
    [1.0, 2.0, 3.0]
    """
    try:
        return compute(total_rows)
    except ValueError:
        if total_rows == run_rows:
            raise
    return extend_by_earlier_days(compute(run_rows), total_rows, slots_per_day)
