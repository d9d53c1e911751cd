"""Retail tariffs: the prices a household pays for imports and receives for exports.

Three shapes of import price: a flat price, a time-of-use (TOU) tariff that replaces a base
price inside daily windows of local time, and a dynamic tariff indexed to the wholesale price
(wholesale + energy charges, taxed, with a minimum); the export price is flat or indexed to the
wholesale price. Prices are evaluated at interval starts, so an interval takes the
price in force when it begins.

The defaults are the net-billing prices of T-REX: a household pays
``DEFAULT_IMPORT_PRICE_USD_PER_KWH`` for energy drawn from the grid and receives
``DEFAULT_EXPORT_PRICE_USD_PER_KWH`` for energy fed into it.

References
----------
.. [1] Zhang, Gül, Musilek, "T-REX", transactive energy research platform (University of
   Alberta); net-billing retail import and export prices of its reference scenarios.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Retail import price under net billing, T-REX [1] [USD/kWh].
DEFAULT_IMPORT_PRICE_USD_PER_KWH = 0.1449

#: Retail export (feed-in) price under net billing, T-REX [1] [USD/kWh].
DEFAULT_EXPORT_PRICE_USD_PER_KWH = 0.069

#: Accepted values of ``TimeOfUseWindow.days``.
TIME_OF_USE_DAYS = ("all", "weekdays", "weekends")


@dataclass(frozen=True)
class TimeOfUseWindow:
    """A daily window of local time in which a time-of-use price applies.

    Parameters
    ----------
    start_hour : float
        Start of the window, inclusive [h of local time, 0–24].
    end_hour : float
        End of the window, exclusive [h of local time, 0–24]. ``end_hour < start_hour`` wraps
        midnight: the window covers ``[start_hour, 24)`` and ``[0, end_hour)``.
    price_usd_per_kwh : float
        Price inside the window [USD/kWh].
    days : str
        ``"all"``, ``"weekdays"`` (Monday–Friday) or ``"weekends"`` (Saturday, Sunday).

    Notes
    -----
    ``days`` is tested against the calendar day of each time itself. A weekday window from 22 to
    6 therefore covers Monday 00:00–06:00 and Friday 22:00–24:00, but not Saturday 00:00–06:00.

    Examples
    --------
    An evening peak from 17:00 to 21:00 on weekdays at 0.25 USD/kWh:

    >>> TimeOfUseWindow(17, 21, 0.25, "weekdays").end_hour
    21
    """

    start_hour: float
    end_hour: float
    price_usd_per_kwh: float
    days: str = "all"

    def __post_init__(self) -> None:
        for name in ("start_hour", "end_hour"):
            hour = getattr(self, name)
            if not (_is_real(hour) and 0.0 <= hour <= 24.0):
                raise ValueError(f"{name}: got {hour!r}; expected an hour of local time in [0, 24]")
        if self.start_hour == self.end_hour:
            raise ValueError(
                f"start_hour and end_hour: both {self.start_hour!r}, an empty window; expected "
                "different hours (use 0 and 24 for the whole day)"
            )
        if not (_is_real(self.price_usd_per_kwh) and math.isfinite(self.price_usd_per_kwh)):
            raise ValueError(
                f"price_usd_per_kwh: got {self.price_usd_per_kwh!r}; expected a finite number"
            )
        if self.days not in TIME_OF_USE_DAYS:
            raise ValueError(
                f"days: got {self.days!r}; expected one of {', '.join(TIME_OF_USE_DAYS)}"
            )


def flat_price_usd_per_kwh(times: pd.DatetimeIndex, price_usd_per_kwh: float) -> np.ndarray:
    """The same price at every time.

    Parameters
    ----------
    times : pandas.DatetimeIndex
        Interval starts, time-zone aware (local time).
    price_usd_per_kwh : float
        The price [USD/kWh].

    Returns
    -------
    numpy.ndarray
        Price of each interval [USD/kWh], shape ``(len(times),)``.

    Examples
    --------
    >>> times = pd.date_range("2022-01-01", periods=3, freq="15min", tz="America/Chicago")
    >>> flat_price_usd_per_kwh(times, 0.1449).tolist()
    [0.1449, 0.1449, 0.1449]
    """
    _check_times(times)
    _check_finite_price("price_usd_per_kwh", price_usd_per_kwh)
    return np.full(len(times), float(price_usd_per_kwh))


def wholesale_indexed_import_usd_per_kwh(
    wholesale_usd_per_kwh: np.ndarray,
    energy_charge_usd_per_kwh: float,
    tax_fraction: float,
    minimum_usd_per_kwh: float | None,
) -> np.ndarray:
    """A dynamic retail import price: the wholesale price plus adders, taxed, with a floor.

    Parameters
    ----------
    wholesale_usd_per_kwh : numpy.ndarray
        Wholesale price of each interval [USD/kWh].
    energy_charge_usd_per_kwh : float
        Charges added to every kWh (network, supplier margin, levies) [USD/kWh].
    tax_fraction : float
        Tax on the price with the charges (e.g. 0.19 for 19 % VAT), ``>= 0`` [-].
    minimum_usd_per_kwh : float or None
        Lowest import price (None: no floor) [USD/kWh].

    Returns
    -------
    numpy.ndarray
        :math:`\\max(p_{min}, (w + c)(1 + t))` per interval [USD/kWh].

    Notes
    -----
    The shape of dynamic retail tariffs that pass the day-ahead price through to households
    (e.g. the hourly tariffs Rana et al. model as wholesale price plus network charges).

    Examples
    --------
    A wholesale price of 0.03 and −0.05 USD/kWh, 0.09 of charges, 10 % tax, a 0.05 floor:

    >>> wholesale_indexed_import_usd_per_kwh(np.array([0.03, -0.05]), 0.09, 0.1, 0.05).round(4)
    array([0.132, 0.05 ])
    """
    _check_finite_price("energy_charge_usd_per_kwh", energy_charge_usd_per_kwh)
    if not (_is_real(tax_fraction) and math.isfinite(tax_fraction) and tax_fraction >= 0):
        raise ValueError(f"tax_fraction: got {tax_fraction!r}; expected a number >= 0")
    price = (np.asarray(wholesale_usd_per_kwh, dtype=float) + energy_charge_usd_per_kwh) * (
        1.0 + tax_fraction
    )
    return _floored(price, minimum_usd_per_kwh)


def wholesale_indexed_export_usd_per_kwh(
    wholesale_usd_per_kwh: np.ndarray,
    fraction: float,
    offset_usd_per_kwh: float,
    minimum_usd_per_kwh: float | None,
) -> np.ndarray:
    """A feed-in price indexed to the wholesale price.

    Parameters
    ----------
    wholesale_usd_per_kwh : numpy.ndarray
        Wholesale price of each interval [USD/kWh].
    fraction : float
        Share of the wholesale price paid for exports [-].
    offset_usd_per_kwh : float
        Added to (or, negative, taken from) every exported kWh [USD/kWh].
    minimum_usd_per_kwh : float or None
        Lowest export price (None: none, so it may go negative with the wholesale price)
        [USD/kWh].

    Returns
    -------
    numpy.ndarray
        :math:`\\max(p_{min}, f\\,w + o)` per interval [USD/kWh].

    Examples
    --------
    90 % of the wholesale price less 0.005 USD/kWh, never below 0:

    >>> wholesale_indexed_export_usd_per_kwh(np.array([0.05, -0.02]), 0.9, -0.005, 0.0)
    array([0.04, 0.  ])
    """
    _check_finite_price("fraction", fraction)
    _check_finite_price("offset_usd_per_kwh", offset_usd_per_kwh)
    price = fraction * np.asarray(wholesale_usd_per_kwh, dtype=float) + offset_usd_per_kwh
    return _floored(price, minimum_usd_per_kwh)


def _floored(price_usd_per_kwh: np.ndarray, minimum_usd_per_kwh: float | None) -> np.ndarray:
    """``price`` raised to ``minimum`` where below it (None: unchanged) [USD/kWh]."""
    if minimum_usd_per_kwh is None:
        return price_usd_per_kwh
    _check_finite_price("minimum_usd_per_kwh", minimum_usd_per_kwh)
    return np.maximum(price_usd_per_kwh, minimum_usd_per_kwh)


def time_of_use_price_usd_per_kwh(
    times: pd.DatetimeIndex,
    base_price_usd_per_kwh: float,
    windows: Sequence[TimeOfUseWindow],
) -> np.ndarray:
    """A base price, replaced inside time-of-use windows.

    Parameters
    ----------
    times : pandas.DatetimeIndex
        Interval starts, time-zone aware; hours and weekdays are read in this time zone.
    base_price_usd_per_kwh : float
        Price outside every window [USD/kWh].
    windows : sequence of TimeOfUseWindow
        Windows in order of precedence: where windows overlap, the later one sets the price.

    Returns
    -------
    numpy.ndarray
        Price of each interval [USD/kWh], shape ``(len(times),)``.

    Notes
    -----
    With ``h`` the local hour of an interval start (fractional, 13:30 is 13.5), a window applies
    when ``start_hour <= h < end_hour``, or, for a window wrapping midnight
    (``start_hour > end_hour``), when ``h >= start_hour`` or ``h < end_hour``; and the calendar
    day of the start matches ``days``. The price is that of the last applying window, else the
    base price.

    Examples
    --------
    Base 0.10 USD/kWh, 0.30 from 17:00 to 21:00, 0.05 overnight from 23:00 to 06:00:

    >>> times = pd.DatetimeIndex(
    ...     ["2022-01-03 05:00", "2022-01-03 12:00", "2022-01-03 18:00", "2022-01-03 23:30"]
    ... ).tz_localize("America/Chicago")
    >>> windows = [TimeOfUseWindow(17, 21, 0.30), TimeOfUseWindow(23, 6, 0.05)]
    >>> time_of_use_price_usd_per_kwh(times, 0.10, windows).tolist()
    [0.05, 0.1, 0.3, 0.05]
    """
    _check_times(times)
    _check_finite_price("base_price_usd_per_kwh", base_price_usd_per_kwh)
    for position, window in enumerate(windows):
        if not isinstance(window, TimeOfUseWindow):
            raise ValueError(f"windows[{position}]: got {window!r}; expected a TimeOfUseWindow")
    hour = np.asarray(times.hour + times.minute / 60.0 + times.second / 3600.0, dtype=float)
    is_weekend = np.asarray(times.day_of_week >= 5)
    day_matches = {"all": np.ones(len(times), dtype=bool), "weekdays": ~is_weekend}
    day_matches["weekends"] = is_weekend
    price_usd_per_kwh = np.full(len(times), float(base_price_usd_per_kwh))
    for window in windows:
        if window.start_hour < window.end_hour:
            in_hours = (hour >= window.start_hour) & (hour < window.end_hour)
        else:
            in_hours = (hour >= window.start_hour) | (hour < window.end_hour)
        price_usd_per_kwh[in_hours & day_matches[window.days]] = window.price_usd_per_kwh
    return price_usd_per_kwh


def _check_times(times: pd.DatetimeIndex) -> None:
    if not isinstance(times, pd.DatetimeIndex):
        raise ValueError(f"times: got {type(times).__name__}; expected a pandas.DatetimeIndex")
    if times.tz is None:
        raise ValueError(
            "times: got a DatetimeIndex without time zone; expected time-zone aware local "
            "interval starts (tz_localize them, e.g. to America/Chicago)"
        )


def _check_finite_price(name: str, value: float) -> None:
    if not (_is_real(value) and math.isfinite(value)):
        raise ValueError(f"{name}: got {value!r}; expected a finite number [USD/kWh]")


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)
