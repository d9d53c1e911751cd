"""Rooftop PV: AC power of many household systems at one site, computed with pvlib.

Two sources of irradiance share one conversion chain: the clear sky
(:func:`clear_sky_pv_power_kw`) and measured or typical weather (:func:`weather_pv_power_kw`,
e.g. a TMY file put on the simulation grid by :mod:`tefed.io.weather_files`). The sun's
position is computed once for the site; the plane-of-array irradiance and cell temperature
once per distinct (tilt, azimuth); only the linear DC and inverter models run per household.
Works offline: the Linke turbidity is given, not looked up. pvlib is imported on first use, not
with this module: importing it (with the scipy it pulls in) costs about 0.9 s of CPU, which a
federate whose PV power is in tefed's array cache (`tefed.io.array_cache`) never pays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tefed.domain.ems.devices.pv_inputs import (
    household_arrays,
    require,
    require_scalar,
    require_site,
    require_times,
    weather_series,
)

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
    require_times(times)
    require_site(latitude_deg, longitude_deg, altitude_m)
    require_scalar("linke_turbidity", linke_turbidity, 0.0 < linke_turbidity < np.inf, "> 0")
    require_scalar(
        "air_temperature_c", air_temperature_c, np.isfinite(air_temperature_c), "a finite number"
    )
    require_scalar(
        "wind_speed_m_per_s", wind_speed_m_per_s, 0.0 <= wind_speed_m_per_s < np.inf, ">= 0"
    )
    system = _pv_system(kwp, tilt_deg, azimuth_deg, inverter_kw, system_losses, gamma_pdc_per_c)
    if not system.producing.size or len(times) == 0:
        return np.zeros((len(times), system.kwp.shape[0]))

    import pvlib  # on first use (see the module docstring)

    # pvlib divides by zero air mass and irradiance at night and then masks the result to 0.
    with np.errstate(divide="ignore", invalid="ignore"):
        apparent_zenith, sun_azimuth = _sun_position(
            times, latitude_deg, longitude_deg, altitude_m, air_temperature_c
        )
        airmass_absolute = pvlib.atmosphere.get_absolute_airmass(
            pvlib.atmosphere.get_relative_airmass(apparent_zenith),
            pvlib.atmosphere.alt2pres(altitude_m),
        )
        clear_sky = pvlib.clearsky.ineichen(
            apparent_zenith,
            airmass_absolute,
            linke_turbidity,
            altitude=altitude_m,
            dni_extra=_extraterrestrial_normal_w_per_m2(times),
        )
    temperature = np.full(len(times), float(air_temperature_c))
    wind = np.full(len(times), float(wind_speed_m_per_s))
    return _ac_power_kw(
        system,
        apparent_zenith,
        sun_azimuth,
        np.asarray(clear_sky["ghi"], dtype=float),
        np.asarray(clear_sky["dni"], dtype=float),
        np.asarray(clear_sky["dhi"], dtype=float),
        temperature,
        wind,
    )


def weather_pv_power_kw(
    times: pd.DatetimeIndex,
    ghi_w_per_m2: np.ndarray,
    dni_w_per_m2: np.ndarray,
    dhi_w_per_m2: np.ndarray,
    air_temperature_c: np.ndarray,
    wind_speed_m_per_s: np.ndarray,
    latitude_deg: float,
    longitude_deg: float,
    altitude_m: float,
    kwp: np.ndarray,
    tilt_deg: np.ndarray,
    azimuth_deg: np.ndarray,
    inverter_kw: np.ndarray,
    system_losses: float = 0.14,
    gamma_pdc_per_c: float = -0.0037,
) -> np.ndarray:
    """AC power of each household's PV system under given weather at each time.

    Parameters
    ----------
    times : pandas.DatetimeIndex
        Instants the weather applies to, time-zone aware; for step means pass the middle of
        each step [-].
    ghi_w_per_m2 : numpy.ndarray
        Global horizontal irradiance at each time, finite and ``>= 0`` [W/m²].
    dni_w_per_m2 : numpy.ndarray
        Direct normal irradiance at each time, finite and ``>= 0`` [W/m²].
    dhi_w_per_m2 : numpy.ndarray
        Diffuse horizontal irradiance at each time, finite and ``>= 0`` [W/m²].
    air_temperature_c : numpy.ndarray
        Ambient air temperature at each time, finite [°C].
    wind_speed_m_per_s : numpy.ndarray
        Wind speed at each time, finite and ``>= 0`` [m/s].
    latitude_deg, longitude_deg, altitude_m : float
        Where the sun is seen from: the site, or the weather station (the caller chooses) [deg,
        deg, m].
    kwp, tilt_deg, azimuth_deg, inverter_kw : numpy.ndarray
        Each household's array and inverter, as for :func:`clear_sky_pv_power_kw`.
    system_losses : float, optional
        Fraction of DC power lost before the inverter, in ``[0, 1)`` [-].
    gamma_pdc_per_c : float, optional
        Temperature coefficient of DC power [1/°C].

    Returns
    -------
    numpy.ndarray
        ``pv_power_kw`` of shape ``(len(times), n)``: AC generation after the inverter, ``>= 0``
        [kW].

    Raises
    ------
    ValueError
        If ``times`` is not time-zone aware, a weather array has another length than ``times``
        or a value out of range (the message names the array, the time and the value), or a
        site, model or household value is out of range.

    Notes
    -----
    The chain of :func:`clear_sky_pv_power_kw` from step 3 on, with the given GHI, DNI and DHI
    in place of the clear sky and the given temperature and wind at each time: isotropic
    plane-of-array irradiance, Faiman cell temperature, PVWatts DC power times
    :math:`1 -` ``system_losses``, and the PVWatts inverter clipped at ``inverter_kw``.

    References
    ----------
    A. P. Dobos, "PVWatts Version 5 Manual", NREL/TP-6A20-62641, 2014, doi:10.2172/1158421.

    D. Faiman, "Assessing the outdoor operating temperature of photovoltaic modules", Progress
    in Photovoltaics 16(4), 307–315, 2008, doi:10.1002/pip.813.

    Examples
    --------
    A horizontal array sees GHI whatever the sun's position: with 1000 W/m² all diffuse, a cell
    at 25 °C (air 25 − 1000/31.84 °C in 1 m/s wind) and no losses, 2 kWp give 2 kW DC, which a
    1.5 kW inverter clips:

    >>> noon = pd.DatetimeIndex(["2024-06-21 12:00"], tz="UTC")
    >>> one = np.ones(1)
    >>> cool = np.array([25.0 - 1000.0 / (25.0 + 6.84)])
    >>> weather_pv_power_kw(
    ...     noon, 1000 * one, 0 * one, 1000 * one, cool, one, 0.0, 0.0, 0.0,
    ...     2 * one, 0 * one, 180 * one, 1.5 * one, system_losses=0.0,
    ... )
    array([[1.5]])
    """
    require_times(times)
    require_site(latitude_deg, longitude_deg, altitude_m)
    ghi = weather_series("ghi_w_per_m2", ghi_w_per_m2, times, minimum=0.0)
    dni = weather_series("dni_w_per_m2", dni_w_per_m2, times, minimum=0.0)
    dhi = weather_series("dhi_w_per_m2", dhi_w_per_m2, times, minimum=0.0)
    temperature = weather_series("air_temperature_c", air_temperature_c, times, minimum=None)
    wind = weather_series("wind_speed_m_per_s", wind_speed_m_per_s, times, minimum=0.0)
    system = _pv_system(kwp, tilt_deg, azimuth_deg, inverter_kw, system_losses, gamma_pdc_per_c)
    if not system.producing.size or len(times) == 0:
        return np.zeros((len(times), system.kwp.shape[0]))
    apparent_zenith, sun_azimuth = _sun_position(
        times, latitude_deg, longitude_deg, altitude_m, float(np.mean(temperature))
    )
    return _ac_power_kw(system, apparent_zenith, sun_azimuth, ghi, dni, dhi, temperature, wind)


@dataclass(frozen=True)
class _PvSystem:
    """Checked household arrays and model parameters; ``producing`` indexes kwp > 0 < inverter."""

    kwp: np.ndarray
    tilt_deg: np.ndarray
    azimuth_deg: np.ndarray
    inverter_kw: np.ndarray
    system_losses: float
    gamma_pdc_per_c: float
    producing: np.ndarray


def _pv_system(
    kwp: np.ndarray,
    tilt_deg: np.ndarray,
    azimuth_deg: np.ndarray,
    inverter_kw: np.ndarray,
    system_losses: float,
    gamma_pdc_per_c: float,
) -> _PvSystem:
    """Check the household arrays and the model parameters, naming what is out of range."""
    require_scalar("system_losses", system_losses, 0.0 <= system_losses < 1.0, "in [0, 1)")
    require_scalar(
        "gamma_pdc_per_c", gamma_pdc_per_c, np.isfinite(gamma_pdc_per_c), "a finite number"
    )
    kwp_arr, tilt, azimuth, inverter = household_arrays(
        kwp=kwp, tilt_deg=tilt_deg, azimuth_deg=azimuth_deg, inverter_kw=inverter_kw
    )
    require("kwp", kwp_arr, np.isfinite(kwp_arr) & (kwp_arr >= 0), "a finite value >= 0")
    require("tilt_deg", tilt, (tilt >= 0) & (tilt <= 90), "in [0, 90]")
    require("azimuth_deg", azimuth, (azimuth >= 0) & (azimuth < 360), "in [0, 360)")
    require("inverter_kw", inverter, np.isfinite(inverter) & (inverter >= 0), "a finite value >= 0")
    producing = np.flatnonzero((kwp_arr > 0) & (inverter > 0))
    return _PvSystem(kwp_arr, tilt, azimuth, inverter, system_losses, gamma_pdc_per_c, producing)


def _sun_position(
    times: pd.DatetimeIndex,
    latitude_deg: float,
    longitude_deg: float,
    altitude_m: float,
    air_temperature_c: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Apparent zenith and azimuth of the sun at each time (NREL SPA) [deg]."""
    import pvlib  # on first use (see the module docstring)

    sun = pvlib.solarposition.get_solarposition(
        times, latitude_deg, longitude_deg, altitude=altitude_m, temperature=air_temperature_c
    )
    return sun["apparent_zenith"].to_numpy(), sun["azimuth"].to_numpy()


def _extraterrestrial_normal_w_per_m2(times: pd.DatetimeIndex) -> np.ndarray:
    """Extraterrestrial normal irradiance on each time's UTC day of year [W/m²]."""
    import pvlib  # on first use (see the module docstring)

    # The UTC day of year is what pvlib derives from a DatetimeIndex; passing it directly
    # avoids pvlib's call of a deprecated pandas accessor.
    day_of_year = times.tz_convert("UTC").day_of_year.to_numpy()
    return np.asarray(pvlib.irradiance.get_extra_radiation(day_of_year), dtype=float)


def _ac_power_kw(
    system: _PvSystem,
    apparent_zenith: np.ndarray,
    sun_azimuth: np.ndarray,
    ghi: np.ndarray,
    dni: np.ndarray,
    dhi: np.ndarray,
    air_temperature_c: np.ndarray,
    wind_speed_m_per_s: np.ndarray,
) -> np.ndarray:
    """The conversion chain from irradiance to AC power [kW], shape (times, households)."""
    import pvlib  # on first use (see the module docstring)

    producing = system.producing
    power_kw = np.zeros((len(ghi), system.kwp.shape[0]))
    orientations, orientation_of = np.unique(
        np.column_stack([system.tilt_deg[producing], system.azimuth_deg[producing]]),
        axis=0,
        return_inverse=True,
    )
    poa_w_per_m2 = np.empty((len(ghi), orientations.shape[0]))
    with np.errstate(divide="ignore", invalid="ignore"):
        for column, (surface_tilt, surface_azimuth) in enumerate(orientations):
            irradiance = pvlib.irradiance.get_total_irradiance(
                surface_tilt,
                surface_azimuth,
                apparent_zenith,
                sun_azimuth,
                dni,
                ghi,
                dhi,
                model="isotropic",
            )
            poa_w_per_m2[:, column] = np.nan_to_num(irradiance["poa_global"], nan=0.0)
        cell_temperature_c = pvlib.temperature.faiman(
            poa_w_per_m2, air_temperature_c[:, np.newaxis], wind_speed_m_per_s[:, np.newaxis]
        )
        orientation_of = orientation_of.ravel()
        dc_kw = pvlib.pvsystem.pvwatts_dc(
            poa_w_per_m2[:, orientation_of],
            cell_temperature_c[:, orientation_of],
            system.kwp[producing],
            system.gamma_pdc_per_c,
        ) * (1.0 - system.system_losses)
        power_kw[:, producing] = pvlib.inverter.pvwatts(
            dc_kw,
            system.inverter_kw[producing] / INVERTER_NOMINAL_EFFICIENCY,
            eta_inv_nom=INVERTER_NOMINAL_EFFICIENCY,
        )
    return power_kw
