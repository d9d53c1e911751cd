"""Shaping profiles to published figures: a load to its lowest and highest value, PV to its peak.

A study that publishes only a few figures per household (T-REX's Table I gives each
participant's highest generation and lowest and highest load over the month) is reproduced by
taking a realistic profile shape and mapping it onto those figures:

- load: the affine map that sends the profile's lowest value over the reference steps to
  ``low_kw`` and its highest to ``high_kw``, keeping the shape (when it rises and falls);
- PV: the factor that makes the highest value over the reference steps ``peak_kw``.

Households whose figure is NaN keep their profile. Steps past the reference (forecasts) take
the same map.
"""

from __future__ import annotations

import numpy as np

__all__ = ["FLAT_SPAN_KW", "scale_to_peak", "shape_to_range"]

#: A profile whose range over the reference steps is at most this is flat: stretching a
#: smaller range (down to denormal floats) would overflow the slope [kW].
FLAT_SPAN_KW = 1e-9


def shape_to_range(
    power_kw: np.ndarray, low_kw: np.ndarray, high_kw: np.ndarray, reference_steps: int
) -> np.ndarray:
    """Map each column affinely so its extremes over the reference steps are low and high.

    Parameters
    ----------
    power_kw : numpy.ndarray
        Profiles, (steps, households) [kW].
    low_kw, high_kw : numpy.ndarray
        Wanted lowest and highest value per household, NaN to keep a profile as it is [kW].
    reference_steps : int
        The first steps over which the extremes are taken (the run), >= 1 [-].

    Returns
    -------
    numpy.ndarray
        ``low + (p - p_min) (high - low) / (p_max - p_min)`` per column; a flat profile (range
        at most ``FLAT_SPAN_KW``) becomes
        ``high`` throughout [kW].

    Raises
    ------
    ValueError
        If ``low > high`` for a household, or ``reference_steps`` is below 1.

    Examples
    --------
    >>> shape_to_range(np.array([[1.0], [2.0], [3.0]]), np.array([0.5]), np.array([4.5]), 3)
    array([[0.5],
           [2.5],
           [4.5]])
    """
    if reference_steps < 1:
        raise ValueError(f"reference_steps is {reference_steps}; expected at least 1")
    shaped = np.array(power_kw, dtype=float, copy=True)
    wanted = ~np.isnan(low_kw)
    if np.any(low_kw[wanted] > high_kw[wanted]):
        raise ValueError("a load range has low > high; expected [lowest, highest] in kW")
    if not wanted.any():
        return shaped
    reference = shaped[:reference_steps, wanted]
    lowest, highest = reference.min(axis=0), reference.max(axis=0)
    span = highest - lowest
    slope = np.divide(
        high_kw[wanted] - low_kw[wanted], span, out=np.zeros_like(span), where=span > FLAT_SPAN_KW
    )
    start = np.where(span > FLAT_SPAN_KW, low_kw[wanted], high_kw[wanted])
    shaped[:, wanted] = start + (shaped[:, wanted] - lowest) * slope
    return shaped


def scale_to_peak(power_kw: np.ndarray, peak_kw: np.ndarray, reference_steps: int) -> np.ndarray:
    """Scale each column so its highest value over the reference steps is its peak.

    Parameters
    ----------
    power_kw : numpy.ndarray
        Non-negative profiles, (steps, households) [kW].
    peak_kw : numpy.ndarray
        Wanted highest value per household, NaN to keep a profile as it is [kW].
    reference_steps : int
        The first steps over which the highest value is taken (the run), >= 1 [-].

    Returns
    -------
    numpy.ndarray
        ``p * peak / max(p)`` per column; a profile that is zero throughout stays zero [kW].

    Raises
    ------
    ValueError
        If ``reference_steps`` is below 1.

    Examples
    --------
    >>> scale_to_peak(np.array([[0.0, 1.0], [2.0, 1.0]]), np.array([5.0, np.nan]), 2)
    array([[0., 1.],
           [5., 1.]])
    """
    if reference_steps < 1:
        raise ValueError(f"reference_steps is {reference_steps}; expected at least 1")
    scaled = np.array(power_kw, dtype=float, copy=True)
    wanted = ~np.isnan(peak_kw)
    highest = scaled[:reference_steps, wanted].max(axis=0, initial=0.0)
    factor = np.divide(peak_kw[wanted], highest, out=np.zeros_like(highest), where=highest > 0)
    scaled[:, wanted] *= factor
    return scaled
