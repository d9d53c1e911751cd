"""Input checks of the PV models: times, site, weather series and per-household arrays.

Each raises ValueError naming the parameter, the offending value (and household index or time)
and what was expected.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def require_times(times: pd.DatetimeIndex) -> None:
    """Raise unless ``times`` is a time-zone-aware DatetimeIndex."""
    if not isinstance(times, pd.DatetimeIndex) or times.tz is None:
        raise ValueError(
            f"times is {type(times).__name__} without a time zone; expected a time-zone-aware "
            "pandas.DatetimeIndex"
        )


def require_site(latitude_deg: float, longitude_deg: float, altitude_m: float) -> None:
    """Raise naming a site coordinate that is out of range."""
    require_scalar("latitude_deg", latitude_deg, -90.0 <= latitude_deg <= 90.0, "in [-90, 90]")
    require_scalar(
        "longitude_deg", longitude_deg, -180.0 <= longitude_deg <= 180.0, "in [-180, 180]"
    )
    require_scalar("altitude_m", altitude_m, np.isfinite(altitude_m), "a finite number")


def weather_series(
    name: str, values: np.ndarray, times: pd.DatetimeIndex, minimum: float | None
) -> np.ndarray:
    """A weather array as floats, one per time, finite and ``>= minimum``, or ValueError."""
    series = np.asarray(values, dtype=float)
    if series.shape != (len(times),):
        raise ValueError(
            f"{name} has shape {series.shape}; expected ({len(times)},), one value per time"
        )
    ok = np.isfinite(series) if minimum is None else np.isfinite(series) & (series >= minimum)
    bad = np.flatnonzero(~ok)
    if bad.size:
        index = int(bad[0])
        expected = "a finite value" + ("" if minimum is None else f" >= {minimum:g}")
        raise ValueError(f"{name} at {times[index]} is {series[index]}; expected {expected}")
    return series


def household_arrays(**arrays: np.ndarray) -> list[np.ndarray]:
    """Convert to 1-D float arrays of one common length, or raise naming the odd one out."""
    converted = [np.asarray(values, dtype=float) for values in arrays.values()]
    names = list(arrays)
    for name, values in zip(names, converted, strict=True):
        if values.ndim != 1:
            raise ValueError(
                f"{name} has shape {values.shape}; expected a 1-D array over households"
            )
        if values.shape != converted[0].shape:
            raise ValueError(
                f"{name} has {values.shape[0]} entries; expected {converted[0].shape[0]}, one "
                f"per household like {names[0]}"
            )
    return converted


def require(name: str, values: np.ndarray, ok: np.ndarray, expected: str) -> None:
    """Raise ValueError naming the first household where ``ok`` is false."""
    bad = np.flatnonzero(~ok)
    if bad.size:
        index = int(bad[0])
        raise ValueError(
            f"{name}[{index}] is {float(values[index])}; expected {expected} "
            f"({bad.size} household(s) out of range)"
        )


def require_scalar(name: str, value: float, ok: bool, expected: str) -> None:
    """Raise ValueError naming a scalar parameter that is out of range."""
    if not ok:
        raise ValueError(f"{name} is {value}; expected {expected}")
