"""The BDEW standard household load profile, through demandlib."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import pandas as pd


def bdew_household_shape(
    times: pd.DatetimeIndex, holidays: Sequence[object] | None = None
) -> pd.Series:
    """BDEW standard household load profile (H25) for the calendar years around ``times``.

    Parameters
    ----------
    times : pandas.DatetimeIndex
        Time-zone-aware instants of the run; the profile covers every whole calendar year from
        the local day before the first to the local day after the last [-].
    holidays : sequence of date-like, optional
        Local dates to treat as Sundays and holidays (BDEW day type "FT") [-]. None by default:
        demandlib knows no holidays by itself, and every Sunday is "FT" anyway.

    Returns
    -------
    pandas.Series
        ``shape`` indexed by the naive local wall-clock start of every 15-minute slot (96 a
        day, also on clock-change days): relative mean power of the standard household,
        normalised so that each calendar year sums to 1 [-].

    Raises
    ------
    ValueError
        If ``times`` is not a non-empty time-zone-aware DatetimeIndex.

    Notes
    -----
    Calls ``demandlib.bdew.H25`` (demandlib 0.2.2, MIT), the 2025 revision of the BDEW
    household profile: one 96-slot day per month and day type (working day, Saturday,
    Sunday/holiday), multiplied by the BDEW dynamisation polynomial of the day of the year
    :math:`F(t) = -3.92\\cdot10^{-10} t^4 + 3.2\\cdot10^{-7} t^3 - 7.02\\cdot10^{-5} t^2 +
    2.1\\cdot10^{-3} t + 1.24`, which carries the seasonal change of the daily energy. It
    reads only the CSV tables inside the demandlib package: no network, no other package
    than numpy and pandas. The classic H0 of ``demandlib.bdew.ElecSlp`` is not used: with
    pandas 3.1 it fails, because it turns every warning into an error for the whole process
    (``warnings.simplefilter("error")``) and then triggers a pandas deprecation warning; the
    call here runs inside ``warnings.catch_warnings`` so that demandlib's pandas deprecation
    warnings do not reach the user.

    References
    ----------
    BDEW, "Standardlastprofile Strom", 2025 revision (H25), Bundesverband der Energie- und
    Wasserwirtschaft, Berlin, 2025.

    C. Fünfgeld and R. Tiedemann, "Anwendung der Repräsentativen VDEW-Lastprofile",
    Brandenburgische Technische Universität Cottbus, 2000 (the dynamisation function).

    Examples
    --------
    >>> times = pd.date_range("2024-06-03", periods=4, freq="h", tz="Europe/Berlin")
    >>> shape = bdew_household_shape(times)
    >>> len(shape), round(float(shape.sum()), 12)
    (35136, 1.0)
    """
    import demandlib.bdew

    if not isinstance(times, pd.DatetimeIndex) or times.tz is None or len(times) == 0:
        raise ValueError("times must be a non-empty time-zone-aware pandas.DatetimeIndex")
    local = times.tz_localize(None)
    first_year = (local.min() - pd.Timedelta(days=1)).year
    last_year = (local.max() + pd.Timedelta(days=1)).year
    slots = pd.date_range(f"{first_year}-01-01", f"{last_year}-12-31 23:45", freq="15min")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*inplace.*")
        profile = demandlib.bdew.H25(slots, holidays=list(holidays) if holidays else None)
    values = profile.to_numpy(dtype=float)
    yearly = pd.Series(values, index=slots).groupby(slots.year).transform("sum").to_numpy()
    return pd.Series(values / yearly, index=slots, name="shape")
