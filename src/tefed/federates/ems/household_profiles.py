"""Profiles of a shard's households on the run's grid steps: load, PV and EV charging.

Everything here is known before the run starts (the built-in households forecast their own load
and PV perfectly), so it is computed once, as arrays (steps, households):

- load: tefed's synthetic generator, the BDEW H25 household profile (option ``bdew_h0``), or
  measured profiles (each household takes the one its row of the table names:
  ``load_source`` and ``load_profile_name``, decided by the builder);
- PV: clear sky, or the TMY weather file of ``pv_model``;
- either shaped to published figures where a group asks (``load.range_kw``, ``pv.peak_kw``:
  `tefed.domain.ems.devices.profile_shaping`);
- EV: each vehicle's charging power over the run, uncontrolled or smart (following the PV surplus,
  with the latest-start rule that meets the need by departure).

An optimizing household plans over a horizon that may reach past the end of the run, so the
profiles can be asked for ``forecast_steps`` further steps; the run's own steps come first.

A community battery's agent also needs the community's natural net power (load + EV − PV of
every household of the federation), which it forecasts from the same table.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tefed.contract.errors import InputError
from tefed.contract.role_configs import PvModelConfig
from tefed.contract.time_grid import TimeGrid
from tefed.domain.ems.devices.battery import BatteryParameters, initial_soc_kwh
from tefed.domain.ems.devices.ev import EvParameters, charge_ev, initial_ev_state
from tefed.domain.ems.devices.library_profiles import library_household_profiles
from tefed.domain.ems.devices.load import synthetic_load_profiles
from tefed.domain.ems.devices.profile_shaping import scale_to_peak, shape_to_range
from tefed.domain.ems.devices.pv import clear_sky_pv_power_kw, weather_pv_power_kw
from tefed.federates.ems.measured_loads import measured_loads_kw
from tefed.io.array_cache import cached_array
from tefed.io.bdew_profiles import bdew_household_shape
from tefed.io.weather_files import pvlib_tmy3_path, read_tmy3_weather, weather_on_grid


@dataclass(frozen=True)
class HouseholdProfiles:
    """Profiles of the hosted households, (steps, households) [kW].

    Attributes
    ----------
    load_kw, pv_kw, ev_kw : numpy.ndarray
        Mean load, PV (AC) and EV charging power per grid step [kW].
    ev_shortfall_kwh : numpy.ndarray
        Energy each EV lacked at its departures over the run, summed [kWh].
    community_kw : numpy.ndarray or None
        The community's natural net power per step (all households but the community
        battery), when asked for [kW].
    """

    load_kw: np.ndarray
    pv_kw: np.ndarray
    ev_kw: np.ndarray
    ev_shortfall_kwh: np.ndarray
    community_kw: np.ndarray | None


def household_profiles(
    table: pd.DataFrame,
    grid: TimeGrid,
    site: Any,
    pv_model: PvModelConfig,
    seed: int,
    hosted: list[str],
    community: bool,
    base_dir: Path,
    forecast_steps: int = 0,
) -> HouseholdProfiles:
    """Load, PV and EV profiles of ``hosted`` (and the community's net power if ``community``).

    Parameters
    ----------
    table : pandas.DataFrame
        The federation's household table, indexed by household id.
    grid : TimeGrid
        The run's time grid.
    site : SiteSection
        Latitude, longitude, altitude and Linke turbidity of the community.
    pv_model : PvModelConfig
        The ems configuration's ``pv_model`` section.
    seed : int
        The scenario seed.
    hosted : list of str
        Ids of the households of this shard, in shard order.
    community : bool
        Whether to compute the whole community's natural net power too.
    base_dir : Path
        Folder that data paths of the table resolve against.
    forecast_steps : int
        Grid steps computed past the end of the run, for forecasts [-]. A measured profile that
        ends with the run repeats its last day there. EV shortfalls count the run only.

    Returns
    -------
    HouseholdProfiles
        Arrays of ``grid.n_steps + forecast_steps`` rows.

    Raises
    ------
    InputError
        If a data file cannot be read or does not cover the run, naming the households and
        the file.
    """
    ids = [h for h in table.index if not table.at[h, "serves_community"]] if community else []
    wanted = list(dict.fromkeys([*hosted, *ids]))
    rows = table.loc[wanted]
    if forecast_steps < 0:
        raise ValueError(f"forecast_steps is {forecast_steps}; expected a non-negative integer")
    step_times = grid.calendar(
        np.arange(grid.n_steps + forecast_steps, dtype=np.int64) * grid.grid_step_s
    )
    # Shaped to published figures over the run's own steps (NaN: as generated).
    load_kw = shape_to_range(
        _load_kw(rows, step_times, grid, seed, base_dir),
        rows["load_min_kw"].to_numpy(float),
        rows["load_max_kw"].to_numpy(float),
        grid.n_steps,
    )
    pv_kw = scale_to_peak(
        _cached_pv_kw(_PvInputs(rows, step_times, grid.grid_step_s, site, pv_model, base_dir)),
        rows["pv_peak_kw"].to_numpy(float),
        grid.n_steps,
    )
    ev_kw, shortfall = _ev_kw(rows, load_kw - pv_kw, step_times, grid)
    position = {h: k for k, h in enumerate(wanted)}
    mine = [position[h] for h in hosted]
    community_kw = None
    if community:
        others = [position[h] for h in ids]
        community_kw = (load_kw[:, others] + ev_kw[:, others] - pv_kw[:, others]).sum(axis=1)
    return HouseholdProfiles(
        load_kw[:, mine], pv_kw[:, mine], ev_kw[:, mine], shortfall[mine], community_kw
    )


def _load_kw(
    rows: pd.DataFrame, step_times: pd.DatetimeIndex, grid: TimeGrid, seed: int, base_dir: Path
) -> np.ndarray:
    load_kw = np.zeros((step_times.size, len(rows)))
    daily_kwh = rows["load_daily_energy_kwh"].to_numpy(float)
    keys = rows["profile_seed"].to_numpy(np.int64)
    source = rows["load_profile"].to_numpy()
    synthetic = np.flatnonzero(source == "synthetic")
    if synthetic.size:
        load_kw[:, synthetic] = synthetic_load_profiles(
            step_times, daily_kwh[synthetic], seed=seed, household_keys=keys[synthetic]
        )
    standard = np.flatnonzero(source == "bdew_h0")
    if standard.size:
        shape = bdew_household_shape(step_times)
        load_kw[:, standard] = library_household_profiles(
            step_times, shape, keys[standard], seed, daily_energy_kwh=daily_kwh[standard]
        )
    for members, measured_kw in measured_loads_kw(rows, step_times, grid, base_dir):
        load_kw[:, members] = measured_kw
    return load_kw


#: Modules whose code computes the PV power (`tefed.io.array_cache` keys it by their source).
PV_MODULES = (
    "tefed.federates.ems.household_profiles",
    "tefed.domain.ems.devices.pv",
    "tefed.domain.ems.devices.pv_inputs",
    "tefed.domain.time_index",
    "tefed.io.weather_files",
)
#: Distributions the PV power depends on, by version (the time-zone databases too: they place
#: the local times of a weather file's hours).
PV_PACKAGES = ("pvlib", "numpy", "pandas", "tzdata", "pytz")


@dataclass(frozen=True)
class _PvInputs:
    """What the PV power of a shard's households is computed from (see `_pv_kw`)."""

    rows: pd.DataFrame
    step_times: pd.DatetimeIndex
    grid_step_s: int
    site: Any
    pv_model: PvModelConfig
    base_dir: Path


def _cached_pv_kw(pv: _PvInputs) -> np.ndarray:
    """`_pv_kw` from tefed's array cache when a run has computed it for the same systems,
    site, times and weather: computing it means importing pvlib (about 0.9 s of CPU), see
    `tefed.io.array_cache`."""
    site, pv_model = pv.site, pv.pv_model
    inputs: dict[str, object] = {
        "times_ns": np.asarray(pv.step_times.as_unit("ns").asi8),
        "time_zone": str(pv.step_times.tz),
        "grid_step_s": int(pv.grid_step_s),
        "site": [
            float(site.latitude_deg),
            float(site.longitude_deg),
            float(site.altitude_m),
            float(site.linke_turbidity),
        ],
        "pv_model": pv_model.model_dump(mode="json"),
        "systems": pv.rows[["pv_kwp", "pv_tilt_deg", "pv_azimuth_deg", "pv_inverter_kw"]]
        .to_numpy(float)
        .T.copy(),
    }
    unchanged = None
    if pv_model.irradiance == "tmy":
        path = pv_model.weather_file
        try:
            weather = pvlib_tmy3_path() if path is None else pv.base_dir / path
            digest = hashlib.sha256(weather.read_bytes()).hexdigest()
        except (OSError, ValueError):
            return _pv_kw(pv)  # its error names the file
        inputs["weather_file_sha256"] = digest

        def unchanged() -> bool:
            """Whether the weather file still holds what was read to compute (a file changed
            meanwhile must not be kept under the digest of the old one)."""
            try:
                return hashlib.sha256(weather.read_bytes()).hexdigest() == digest
            except OSError:
                return False

    return cached_array(
        "pv_power_kw",
        inputs,
        functools.partial(_pv_kw, pv),
        shape=(len(pv.step_times), len(pv.rows)),
        modules=PV_MODULES,
        packages=PV_PACKAGES,
        keep_if=unchanged,
    )


def _pv_kw(pv: _PvInputs) -> np.ndarray:
    """AC power of each household's PV [kW], shape (steps, households)."""
    rows, step_times, grid_step_s = pv.rows, pv.step_times, pv.grid_step_s
    site, pv_model, base_dir = pv.site, pv.pv_model, pv.base_dir
    arrays = {
        "kwp": rows["pv_kwp"].to_numpy(float),
        "tilt_deg": rows["pv_tilt_deg"].to_numpy(float),
        "azimuth_deg": rows["pv_azimuth_deg"].to_numpy(float),
        "inverter_kw": rows["pv_inverter_kw"].to_numpy(float),
        "system_losses": pv_model.system_losses,
        "gamma_pdc_per_c": pv_model.temperature_coefficient_per_c,
    }
    if pv_model.irradiance == "tmy":
        # The TMY sky is moved to the site: the sun is the site's, the weather the file's.
        path = pv_model.weather_file
        step_s = grid_step_s
        try:
            weather = read_tmy3_weather(None if path is None else base_dir / path)
            on_grid = weather_on_grid(
                weather, step_times, step_s, site.latitude_deg, site.longitude_deg
            )
        except (OSError, ValueError) as error:
            raise InputError("pv_model.weather_file", [str(error)]) from None
        return weather_pv_power_kw(
            step_times + pd.Timedelta(seconds=step_s / 2),
            *(on_grid[column].to_numpy(float) for column in on_grid.columns),
            site.latitude_deg,
            site.longitude_deg,
            site.altitude_m,
            **arrays,
        )
    return clear_sky_pv_power_kw(
        step_times,
        site.latitude_deg,
        site.longitude_deg,
        site.altitude_m,
        site.linke_turbidity,
        air_temperature_c=pv_model.air_temperature_c,
        wind_speed_m_per_s=pv_model.wind_speed_m_per_s,
        **arrays,
    )


def _ev_kw(
    rows: pd.DataFrame, natural_kw: np.ndarray, step_times: pd.DatetimeIndex, grid: TimeGrid
) -> tuple[np.ndarray, np.ndarray]:
    """EV charging power per step, (steps, households) [kW], and the summed shortfall [kWh]."""
    count = len(rows)
    ev_kw = np.zeros((step_times.size, count))
    shortfall_kwh = np.zeros(count)
    mode = rows["ev_charging"].to_numpy()
    if not np.any(mode != "none"):
        return ev_kw, shortfall_kwh
    try:
        ev = EvParameters(
            rows["ev_capacity_kwh"].to_numpy(float),
            rows["ev_charger_kw"].to_numpy(float),
            rows["ev_efficiency"].to_numpy(float),
            rows["ev_arrival_hour"].to_numpy(float),
            rows["ev_departure_hour"].to_numpy(float),
            rows["ev_energy_needed_kwh"].to_numpy(float),
            household_ids=list(rows.index),
        )
    except ValueError as error:
        raise InputError("household table", [str(error)]) from None
    # Local wall-clock time of day: the calendar is in the scenario's time zone.
    time_of_day_s = (
        step_times.hour.to_numpy() * 3600
        + step_times.minute.to_numpy() * 60
        + step_times.second.to_numpy()
    ).astype(float)
    smart = mode == "smart"
    state = initial_ev_state(time_of_day_s[0], ev)
    for step in range(step_times.size):
        # Smart charging follows the PV surplus; uncontrolled charges as fast as it can.
        request_kw = np.where(smart, np.maximum(-natural_kw[step], 0.0), np.inf)
        outcome = charge_ev(state, request_kw, time_of_day_s[step], grid.grid_step_s, ev)
        ev_kw[step] = outcome.charging_power_kw
        if step < grid.n_steps:
            shortfall_kwh += outcome.shortfall_kwh
        state = outcome.state
    return ev_kw, shortfall_kwh


def household_batteries(rows: pd.DataFrame) -> tuple[BatteryParameters, np.ndarray]:
    """The batteries of the households ``rows`` and their stored energy at the start [kWh].

    Parameters
    ----------
    rows : pandas.DataFrame
        Rows of the household table (its ``battery_*`` columns), in the order wanted.

    Returns
    -------
    tuple of BatteryParameters and numpy.ndarray
        The ratings, and the initial stored energy of each household [kWh].

    Raises
    ------
    InputError
        When a battery's ratings are inconsistent (naming the household).
    """
    try:
        battery = BatteryParameters.from_round_trip(
            capacity_kwh=rows["battery_capacity_kwh"].to_numpy(float),
            power_kw=rows["battery_power_kw"].to_numpy(float),
            round_trip_efficiency=rows["battery_round_trip_efficiency"].to_numpy(float),
            soc_min=rows["battery_soc_min"].to_numpy(float),
            soc_max=rows["battery_soc_max"].to_numpy(float),
            self_discharge_per_h=rows["battery_self_discharge_per_h"].to_numpy(float),
            household_ids=list(rows["household_id"]),
        )
        return battery, initial_soc_kwh(rows["battery_soc_initial"].to_numpy(float), battery)
    except ValueError as error:
        raise InputError("household table", [str(error)]) from None
