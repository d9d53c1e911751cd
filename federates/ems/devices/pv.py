"""Rooftop PV: clear-sky AC power of many household systems at one site, computed with pvlib.

The sun's position and the clear-sky irradiance are computed once for the site; the
plane-of-array irradiance and cell temperature once per distinct (tilt, azimuth); only the
linear DC and inverter models run per household. Works offline: the Linke turbidity is given,
not looked up.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pvlib

#: Nominal inverter efficiency of the PVWatts inverter model [-].
INVERTER_NOMINAL_EFFICIENCY = 0.96


def clear_sky_pv_power_kw(
    times: pd.DatetimeIndex,
    latitude_deg: float,
    longitude_deg: float,
    altitude_m: float,
    linke_turbidity: float,
    kwp: np.ndarray,
    tilt_deg: np.ndarray,
    azimuth_deg: np.ndarray,
    inverter_kw: np.ndarray,
    system_losses: float = 0.14,
    gamma_pdc_per_c: float = -0.0037,
    air_temperature_c: float = 20.0,
    wind_speed_m_per_s: float = 1.0,
) -> np.ndarray:
    """Clear-sky AC power of each household's PV system at each time.

    Parameters
    ----------
    times : pandas.DatetimeIndex
        Instants to evaluate, time-zone aware [-].
    latitude_deg : float
        Site latitude, north positive, in ``[-90, 90]`` [deg].
    longitude_deg : float
        Site longitude, east positive, in ``[-180, 180]`` [deg].
    altitude_m : float
        Site altitude above sea level [m].
    linke_turbidity : float
        Linke turbidity factor of the clear-sky atmosphere, ``> 0`` (typically 2 to 7) [-].
    kwp : numpy.ndarray
        DC rating of each household's array at standard test conditions, ``>= 0``; 0 means no
        PV [kW].
    tilt_deg : numpy.ndarray
        Tilt of each array from horizontal, in ``[0, 90]`` [deg].
    azimuth_deg : numpy.ndarray
        Azimuth each array faces, clockwise from north (180 = south), in ``[0, 360)`` [deg].
    inverter_kw : numpy.ndarray
        AC rating of each household's inverter, ``>= 0``; 0 means no AC output [kW].
    system_losses : float, optional
        Fraction of DC power lost before the inverter (soiling, wiring, mismatch, ...), in
        ``[0, 1)`` [-].
    gamma_pdc_per_c : float, optional
        Temperature coefficient of DC power [1/°C].
    air_temperature_c : float, optional
        Ambient air temperature, constant over ``times`` [°C].
    wind_speed_m_per_s : float, optional
        Wind speed, constant over ``times``, ``>= 0`` [m/s].

    Returns
    -------
    numpy.ndarray
        ``pv_power_kw`` of shape ``(len(times), n)``: AC generation after the inverter, ``>= 0``
        [kW].

    Raises
    ------
    ValueError
        If ``times`` is not a time-zone-aware DatetimeIndex, a site or model parameter is out of
        range, the household arrays differ in length, or a household value is out of range (the
        message names the field, the household index, the value and the expected range).

    Notes
    -----
    The chain, with pvlib doing each step:

    1. solar position (``pvlib.solarposition.get_solarposition``, NREL SPA);
    2. clear-sky GHI, DNI and DHI with the Ineichen–Perez model and the given Linke turbidity,
       absolute air mass from the Kasten–Young relative air mass and the pressure at
       ``altitude_m``;
    3. plane-of-array irradiance :math:`G_{poa}` with the isotropic sky model and albedo 0.25
       (``pvlib.irradiance.get_total_irradiance``), once per distinct (tilt, azimuth);
    4. cell temperature :math:`T_c = T_a + G_{poa} / (u_0 + u_1 v)` with the Faiman model and
       its default :math:`u_0 = 25`, :math:`u_1 = 6.84` (``pvlib.temperature.faiman``);
    5. PVWatts DC power :math:`P_{dc} = (G_{poa}/1000)\\, P_{dc0}\\, (1 + \\gamma (T_c - 25))`
       with :math:`P_{dc0} =` ``kwp`` (``pvlib.pvsystem.pvwatts_dc``), times
       :math:`1 - ` ``system_losses``;
    6. PVWatts inverter (``pvlib.inverter.pvwatts``) with nominal efficiency 0.96 and
       :math:`P_{dc0,inv} =` ``inverter_kw`` / 0.96, which applies the part-load efficiency curve
       and clips the output at :math:`0.96\\, P_{dc0,inv} =` ``inverter_kw``.

    Reflection losses are not modelled separately; they belong in ``system_losses``. The
    signature of ``pvlib.pvsystem.pvwatts_dc`` differs between pvlib versions (the irradiance
    argument was renamed, ``k`` and ``cap_adjustment`` were added), so it is called with its
    four leading arguments by position; check the installed one with
    ``python -c "import pvlib, inspect; print(inspect.signature(pvlib.pvsystem.pvwatts_dc))"``.

    References
    ----------
    P. Ineichen and R. Perez, "A new airmass independent formulation for the Linke turbidity
    coefficient", Solar Energy 73(3), 151–157, 2002, doi:10.1016/S0038-092X(02)00045-2.

    A. P. Dobos, "PVWatts Version 5 Manual", NREL/TP-6A20-62641, 2014, doi:10.2172/1158421.

    D. Faiman, "Assessing the outdoor operating temperature of photovoltaic modules", Progress
    in Photovoltaics 16(4), 307–315, 2008, doi:10.1002/pip.813.

    Examples
    --------
    At midnight there is no output; at noon in July a 5 kWp array behind a 2 kW inverter is
    clipped at exactly 2 kW:

    >>> times = pd.DatetimeIndex(["2024-07-15 00:00", "2024-07-15 13:30"], tz="Europe/Berlin")
    >>> one = np.ones(1)
    >>> clear_sky_pv_power_kw(times, 48.1, 11.6, 520.0, 3.0, 5 * one, 30 * one, 180 * one, 2 * one)
    array([[0.],
           [2.]])
    """
    if not isinstance(times, pd.DatetimeIndex) or times.tz is None:
        raise ValueError(
            f"times is {type(times).__name__} without a time zone; expected a time-zone-aware "
            "pandas.DatetimeIndex"
        )
    _require_scalar("latitude_deg", latitude_deg, -90.0 <= latitude_deg <= 90.0, "in [-90, 90]")
    _require_scalar(
        "longitude_deg", longitude_deg, -180.0 <= longitude_deg <= 180.0, "in [-180, 180]"
    )
    _require_scalar("altitude_m", altitude_m, np.isfinite(altitude_m), "a finite number")
    _require_scalar("linke_turbidity", linke_turbidity, 0.0 < linke_turbidity < np.inf, "> 0")
    _require_scalar("system_losses", system_losses, 0.0 <= system_losses < 1.0, "in [0, 1)")
    _require_scalar(
        "gamma_pdc_per_c", gamma_pdc_per_c, np.isfinite(gamma_pdc_per_c), "a finite number"
    )
    _require_scalar(
        "air_temperature_c", air_temperature_c, np.isfinite(air_temperature_c), "a finite number"
    )
    _require_scalar(
        "wind_speed_m_per_s", wind_speed_m_per_s, 0.0 <= wind_speed_m_per_s < np.inf, ">= 0"
    )
    kwp_arr, tilt, azimuth, inverter = _household_arrays(
        kwp=kwp, tilt_deg=tilt_deg, azimuth_deg=azimuth_deg, inverter_kw=inverter_kw
    )
    _require("kwp", kwp_arr, np.isfinite(kwp_arr) & (kwp_arr >= 0), "a finite value >= 0")
    _require("tilt_deg", tilt, (tilt >= 0) & (tilt <= 90), "in [0, 90]")
    _require("azimuth_deg", azimuth, (azimuth >= 0) & (azimuth < 360), "in [0, 360)")
    _require(
        "inverter_kw", inverter, np.isfinite(inverter) & (inverter >= 0), "a finite value >= 0"
    )

    power_kw = np.zeros((len(times), kwp_arr.shape[0]))
    producing = np.flatnonzero((kwp_arr > 0) & (inverter > 0))
    if producing.size == 0 or len(times) == 0:
        return power_kw

    # pvlib divides by zero air mass and irradiance at night and then masks the result to 0.
    with np.errstate(divide="ignore", invalid="ignore"):
        sun = pvlib.solarposition.get_solarposition(
            times, latitude_deg, longitude_deg, altitude=altitude_m, temperature=air_temperature_c
        )
        apparent_zenith = sun["apparent_zenith"].to_numpy()
        sun_azimuth = sun["azimuth"].to_numpy()
        airmass_absolute = pvlib.atmosphere.get_absolute_airmass(
            pvlib.atmosphere.get_relative_airmass(apparent_zenith),
            pvlib.atmosphere.alt2pres(altitude_m),
        )
        # The UTC day of year is what pvlib derives from a DatetimeIndex; passing it directly
        # avoids pvlib's call of a deprecated pandas accessor.
        day_of_year = times.tz_convert("UTC").day_of_year.to_numpy()
        clear_sky = pvlib.clearsky.ineichen(
            apparent_zenith,
            airmass_absolute,
            linke_turbidity,
            altitude=altitude_m,
            dni_extra=pvlib.irradiance.get_extra_radiation(day_of_year),
        )

        orientations, orientation_of = np.unique(
            np.column_stack([tilt[producing], azimuth[producing]]), axis=0, return_inverse=True
        )
        poa_w_per_m2 = np.empty((len(times), orientations.shape[0]))
        for column, (surface_tilt, surface_azimuth) in enumerate(orientations):
            irradiance = pvlib.irradiance.get_total_irradiance(
                surface_tilt,
                surface_azimuth,
                apparent_zenith,
                sun_azimuth,
                clear_sky["dni"],
                clear_sky["ghi"],
                clear_sky["dhi"],
                model="isotropic",
            )
            poa_w_per_m2[:, column] = np.nan_to_num(irradiance["poa_global"], nan=0.0)
        cell_temperature_c = pvlib.temperature.faiman(
            poa_w_per_m2, air_temperature_c, wind_speed_m_per_s
        )

        orientation_of = orientation_of.ravel()
        dc_kw = pvlib.pvsystem.pvwatts_dc(
            poa_w_per_m2[:, orientation_of],
            cell_temperature_c[:, orientation_of],
            kwp_arr[producing],
            gamma_pdc_per_c,
        ) * (1.0 - system_losses)
        power_kw[:, producing] = pvlib.inverter.pvwatts(
            dc_kw,
            inverter[producing] / INVERTER_NOMINAL_EFFICIENCY,
            eta_inv_nom=INVERTER_NOMINAL_EFFICIENCY,
        )
    return power_kw


def _household_arrays(**arrays: np.ndarray) -> list[np.ndarray]:
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


def _require(name: str, values: np.ndarray, ok: np.ndarray, expected: str) -> None:
    """Raise ValueError naming the first household where ``ok`` is false."""
    bad = np.flatnonzero(~ok)
    if bad.size:
        index = int(bad[0])
        raise ValueError(
            f"{name}[{index}] is {float(values[index])}; expected {expected} "
            f"({bad.size} household(s) out of range)"
        )


def _require_scalar(name: str, value: float, ok: bool, expected: str) -> None:
    """Raise ValueError naming a scalar parameter that is out of range."""
    if not ok:
        raise ValueError(f"{name} is {value}; expected {expected}")
