"""Weather for PV: read a typical meteorological year (TMY3) and put it on the simulation grid.

:func:`read_tmy3_weather` reads a TMY3 file (pvlib ships one, :func:`pvlib_tmy3_path`) and
renames its columns to the house names. :func:`weather_on_grid` maps the typical year onto the
simulation calendar by month, day and hour and brings the hourly values to the grid step
without changing any hour's irradiation; :func:`tefed.domain.ems.devices.pv.weather_pv_power_kw`
then turns the result into AC power. pvlib is imported on first use (see
`tefed.domain.ems.devices.pv`).
"""

from __future__ import annotations

import importlib.util
import math
import numbers
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tefed.contract.time_grid import NS_PER_S, SECONDS_PER_HOUR
from tefed.domain.time_index import regular_step_ns

#: TMY3 columns (as pvlib names them) and their house names.
TMY3_COLUMNS = {
    "ghi": "ghi_w_per_m2",
    "dni": "dni_w_per_m2",
    "dhi": "dhi_w_per_m2",
    "temp_air": "air_temperature_c",
    "wind_speed": "wind_speed_m_per_s",
}
#: Day of a non-leap year on which each month starts, counted from 0 [d].
_MONTH_START_DAY = np.array([0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334])
_HOURS_PER_YEAR = 8760


@dataclass(frozen=True)
class HourlyWeather:
    """One typical year of hourly weather at a station.

    Attributes
    ----------
    hourly : pandas.DataFrame
        Indexed by the END of each hour in the station's standard time (a fixed UTC offset, no
        daylight saving), 8760 rows; columns ``ghi_w_per_m2``, ``dni_w_per_m2`` and
        ``dhi_w_per_m2`` (means over the hour ending at the label) [W/m²],
        ``air_temperature_c`` (at the label) [°C] and ``wind_speed_m_per_s`` (at the label)
        [m/s]. Labels keep the source years of the typical months.
    latitude_deg, longitude_deg : float
        Station position, north and east positive [deg].
    altitude_m : float
        Station altitude above sea level [m].
    name : str
        Station name [-].
    """

    hourly: pd.DataFrame
    latitude_deg: float
    longitude_deg: float
    altitude_m: float
    name: str


def pvlib_tmy3_path() -> Path:
    """Path of the TMY3 file pvlib ships: Greensboro, North Carolina (USAF 723170).

    Returns
    -------
    pathlib.Path
        ``pvlib/data/723170TYA.CSV`` inside the installed pvlib [-].

    Examples
    --------
    >>> pvlib_tmy3_path().name
    '723170TYA.CSV'
    """
    # Found without importing pvlib (0.9 s of CPU).
    spec = importlib.util.find_spec("pvlib")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError("pvlib is not installed: it ships the default TMY3 file")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "723170TYA.CSV"


def read_tmy3_weather(path: str | Path | None = None) -> HourlyWeather:
    """Read a TMY3 file into house names, checking that it is one whole year of valid hours.

    Parameters
    ----------
    path : str or pathlib.Path, optional
        The TMY3 CSV file (default: :func:`pvlib_tmy3_path`) [-].

    Returns
    -------
    HourlyWeather
        The 8760 hours and the station's position.

    Raises
    ------
    ValueError
        If the file is missing, does not hold each hour of a non-leap year exactly once, or a
        value is missing, not finite or (irradiance, wind) negative; the message names the file,
        the hour and the value.

    Notes
    -----
    Read with ``pvlib.iotools.read_tmy3``, which labels each row with the end of its hour in
    local standard time (the file's "24:00" becomes 00:00 of the next day). In TMY3, GHI, DNI
    and DHI are the energy received in the 60 minutes before the label, i.e. mean irradiance
    over that hour; temperature and wind are values at the label.

    References
    ----------
    S. Wilcox and W. Marion, "Users Manual for TMY3 Data Sets", NREL/TP-581-43156, National
    Renewable Energy Laboratory, 2008, doi:10.2172/928611.

    Examples
    --------
    >>> weather = read_tmy3_weather()
    >>> weather.latitude_deg, weather.longitude_deg, len(weather.hourly)
    (36.1, -79.95, 8760)
    """
    path = pvlib_tmy3_path() if path is None else Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    import pvlib  # on first use (see the module docstring)

    # UTF-8, a leading byte-order mark dropped, as for the other data files.
    data, meta = pvlib.iotools.read_tmy3(path, map_variables=True, encoding="utf-8-sig")
    missing = sorted(set(TMY3_COLUMNS) - set(data.columns))
    if missing:
        raise ValueError(f"{path}: columns {missing} missing; expected a TMY3 file")
    hourly = data[list(TMY3_COLUMNS)].rename(columns=TMY3_COLUMNS).astype(float)
    hourly.index = hourly.index.rename("hour_end")
    for column in hourly.columns:
        values = hourly[column].to_numpy()
        ok = np.isfinite(values) if column == "air_temperature_c" else values >= 0
        bad = np.flatnonzero(~ok)
        if bad.size:
            raise ValueError(
                f"{path}: {column} for the hour ending {hourly.index[bad[0]]} is "
                f"{values[bad[0]]}; expected a finite value"
                + ("" if column == "air_temperature_c" else " >= 0")
            )
    _hour_rows(hourly, str(path))
    return HourlyWeather(
        hourly=hourly,
        latitude_deg=float(meta["latitude"]),
        longitude_deg=float(meta["longitude"]),
        altitude_m=float(meta["altitude"]),
        name=str(meta["Name"]).strip('"'),
    )


def weather_on_grid(
    weather: HourlyWeather,
    times: pd.DatetimeIndex,
    step_s: int,
    latitude_deg: float,
    longitude_deg: float,
) -> pd.DataFrame:
    """The typical year's weather on the simulation steps, each hour's irradiation kept.

    Parameters
    ----------
    weather : HourlyWeather
        Hourly typical-year weather, e.g. from :func:`read_tmy3_weather`.
    times : pandas.DatetimeIndex
        Start of each simulation step, regular, time-zone aware, on whole seconds [-].
    step_s : int
        Length of every step, a positive integer [s].
    latitude_deg, longitude_deg : float
        Where the sun is seen from: ``weather.latitude_deg, weather.longitude_deg`` to use the
        station's sky as it was, or the site's to move the weather there [deg].

    Returns
    -------
    pandas.DataFrame
        Indexed by ``times``: ``ghi_w_per_m2``, ``dni_w_per_m2``, ``dhi_w_per_m2`` (means over
        each step) [W/m²], ``air_temperature_c`` [°C] and ``wind_speed_m_per_s`` [m/s] (means of
        the values interpolated between hour labels). Evaluate PV at the middle of each step.

    Raises
    ------
    ValueError
        If ``times`` is not regular with ``step_s``, not time-zone aware or not on whole seconds,
        or the weather does not hold each hour of a year exactly once.

    Notes
    -----
    *Calendar.* A simulation instant :math:`t` reads the weather at
    :math:`t + \\mathrm{round}((\\lambda - \\lambda_w)/15^\\circ)` hours, in the station's
    standard time, by month, day and hour, whatever the year: the typical year repeats every
    year, and 29 February reads 28 February. :math:`\\lambda` is ``longitude_deg`` and
    :math:`\\lambda_w` the station's, so the shift is 0 at the station and, elsewhere, aligns
    local solar times to the nearest hour.

    *Alignment.* The TMY value labelled :math:`h` is the mean over :math:`[h - 1\\,\\mathrm{h},
    h)`. Within each hour the irradiance follows the sun: with :math:`w(t) = E_0 \\max(\\cos
    \\theta_z(t), 0)` the extraterrestrial irradiance on a horizontal plane at the given
    position, :math:`G(t) = k_h w(t)` with the hour's clearness index :math:`k_h = G_h /
    \\bar w_h` and :math:`\\bar w_h` the mean of :math:`w` over the hour, and likewise
    :math:`D(t) = (D_h / \\bar w_h)\\, w(t)`. So the mean of :math:`G` over each hour is exactly
    the file's :math:`G_h` (the same for :math:`D`), the irradiance is zero while the sun is
    below the horizon and rises and falls with it inside the hour; an hour whose
    :math:`\\bar w_h` is 0 (sun down all hour at this position) gets no irradiance. The direct
    normal irradiance closes :math:`G = B \\cos\\theta_z + D`, :math:`B = (G - D)/\\cos
    \\theta_z`, capped at :math:`E_0` (the excess stays diffuse). Means are taken on sub-steps
    of :math:`\\gcd(\\Delta, 3600\\,\\mathrm{s}, \\text{offset to the hour})`, evaluated at
    their middles, so that every sub-step lies in one hour and one simulation step.

    Temperature and wind are instantaneous at the labels and interpolated linearly.

    References
    ----------
    B. Y. H. Liu and R. C. Jordan, "The interrelationship and characteristic distribution of
    direct, diffuse and total solar radiation", Solar Energy 4(3), 1–19, 1960,
    doi:10.1016/0038-092X(60)90062-1 (the clearness index).

    S. Wilcox and W. Marion, "Users Manual for TMY3 Data Sets", NREL/TP-581-43156, 2008,
    doi:10.2172/928611 (the hour-ending convention).

    Examples
    --------
    At the station, four 15-minute steps of the hour ending 13:00 standard time on 1 January
    average to the file's GHI of that hour, 155 W/m² (the row "01/01/1988,13:00"):

    >>> weather = read_tmy3_weather()
    >>> times = pd.date_range("2030-01-01 12:00", periods=4, freq="15min", tz="Etc/GMT+5")
    >>> grid = weather_on_grid(weather, times, 900, weather.latitude_deg, weather.longitude_deg)
    >>> round(float(grid["ghi_w_per_m2"].mean()), 9)
    155.0
    """
    first_s, steps = _grid_start_s(times, step_s)
    rows = _hour_rows(weather.hourly, "weather.hourly")
    offset_s = int(weather.hourly.index[0].utcoffset().total_seconds())
    shift_s = SECONDS_PER_HOUR * round((longitude_deg - weather.longitude_deg) / 15.0)
    # Seconds on the station's standard-time clock, as if it were UTC.
    clock_start_s = first_s + shift_s + offset_s
    clock_end_s = clock_start_s + steps * step_s
    first_hour = clock_start_s // SECONDS_PER_HOUR
    hours = -(-clock_end_s // SECONDS_PER_HOUR) - first_hour
    sub_s = math.gcd(step_s, SECONDS_PER_HOUR, clock_start_s % SECONDS_PER_HOUR)
    per_hour = SECONDS_PER_HOUR // sub_s
    middle_ns = (
        first_hour * SECONDS_PER_HOUR * NS_PER_S
        + (np.arange(hours * per_hour, dtype=np.int64) * sub_s * NS_PER_S)
        + sub_s * NS_PER_S // 2
    )
    instants = pd.DatetimeIndex(
        (middle_ns - (shift_s + offset_s) * NS_PER_S).astype("datetime64[ns]"), tz="UTC"
    )
    import pvlib  # on first use (see the module docstring)

    sun = pvlib.solarposition.get_solarposition(instants, latitude_deg, longitude_deg)
    cos_zenith = np.cos(np.radians(sun["apparent_zenith"].to_numpy()))
    extraterrestrial = np.asarray(
        pvlib.irradiance.get_extra_radiation(instants.day_of_year.to_numpy()), dtype=float
    )
    horizontal = extraterrestrial * np.maximum(cos_zenith, 0.0)
    mean_horizontal = horizontal.reshape(hours, per_hour).mean(axis=1)

    hour_row = rows[_year_hour(first_hour + np.arange(hours))]
    ghi_hour = weather.hourly["ghi_w_per_m2"].to_numpy()[hour_row]
    dhi_hour = np.minimum(weather.hourly["dhi_w_per_m2"].to_numpy()[hour_row], ghi_hour)
    sun_up = mean_horizontal > 0
    clearness = np.divide(ghi_hour, mean_horizontal, out=np.zeros(hours), where=sun_up)
    diffuse = np.divide(dhi_hour, mean_horizontal, out=np.zeros(hours), where=sun_up)
    ghi = np.repeat(clearness, per_hour) * horizontal
    dhi = np.repeat(diffuse, per_hour) * horizontal
    dni = np.divide(ghi - dhi, cos_zenith, out=np.zeros_like(ghi), where=horizontal > 0)
    dni = np.minimum(dni, extraterrestrial)
    dhi = ghi - dni * np.maximum(cos_zenith, 0.0)

    # Instantaneous values at the labels: label L ends the hour that starts at L - 1 h.
    label_hours = first_hour + np.arange(hours + 1)
    label_rows = rows[_year_hour(label_hours - 1)]
    position_h = middle_ns / (SECONDS_PER_HOUR * NS_PER_S) - first_hour
    columns = {"ghi_w_per_m2": ghi, "dni_w_per_m2": dni, "dhi_w_per_m2": dhi}
    for name in ("air_temperature_c", "wind_speed_m_per_s"):
        at_labels = weather.hourly[name].to_numpy()[label_rows]
        columns[name] = np.interp(position_h, np.arange(hours + 1), at_labels)

    skip = (clock_start_s - first_hour * SECONDS_PER_HOUR) // sub_s
    per_step = step_s // sub_s
    window = slice(skip, skip + steps * per_step)
    return pd.DataFrame(
        {
            name: values[window].reshape(steps, per_step).mean(axis=1)
            for name, values in columns.items()
        },
        index=times,
    )


def _grid_start_s(times: pd.DatetimeIndex, step_s: int) -> tuple[int, int]:
    """Epoch seconds of ``times[0]`` and the number of steps, after checking ``times``."""
    if isinstance(step_s, bool) or not isinstance(step_s, numbers.Integral) or step_s <= 0:
        raise ValueError(f"step_s is {step_s!r}; expected a positive integer number of seconds")
    if not isinstance(times, pd.DatetimeIndex) or times.tz is None or len(times) == 0:
        raise ValueError(
            "times must be a non-empty time-zone-aware pandas.DatetimeIndex of step starts"
        )
    instants = times.as_unit("ns").asi8
    if instants[0] % NS_PER_S:
        raise ValueError(f"times starts at {times[0]}; expected a whole second")
    regular_step_ns(times, int(step_s) * NS_PER_S)
    return int(instants[0] // NS_PER_S), len(times)


def _year_hour(clock_hours: np.ndarray) -> np.ndarray:
    """Hour of a non-leap year (0 … 8759) of clock hours counted from 1970-01-01 00:00 [h]."""
    dates = pd.DatetimeIndex((clock_hours // 24).astype("datetime64[D]"))
    day = np.where((dates.month == 2) & (dates.day == 29), 28, dates.day)
    day_of_year = _MONTH_START_DAY[dates.month.to_numpy() - 1] + day - 1
    return day_of_year * 24 + clock_hours % 24


def _hour_rows(hourly: pd.DataFrame, source: str) -> np.ndarray:
    """Row of ``hourly`` for each hour of a non-leap year, or ValueError if one is not once."""
    missing = sorted(set(TMY3_COLUMNS.values()) - set(hourly.columns))
    if missing:
        raise ValueError(f"{source}: columns {missing} missing")
    index = hourly.index
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
        raise ValueError(f"{source}: expected hour-end labels as a time-zone-aware index")
    local_ns = index.tz_localize(None).as_unit("ns").asi8
    start_hours = local_ns // (SECONDS_PER_HOUR * NS_PER_S) - 1
    year_hours = _year_hour(start_hours)
    rows = np.full(_HOURS_PER_YEAR, -1, dtype=np.int64)
    counts = np.bincount(year_hours, minlength=_HOURS_PER_YEAR)
    if len(index) != _HOURS_PER_YEAR or (counts != 1).any():
        hour = int(np.flatnonzero(counts != 1)[0]) if (counts != 1).any() else 0
        raise ValueError(
            f"{source}: {len(index)} rows; hour {hour} of the year appears {counts[hour]} time(s); "
            f"expected each of the {_HOURS_PER_YEAR} hours of a non-leap year once"
        )
    rows[year_hours] = np.arange(len(index))
    return rows
