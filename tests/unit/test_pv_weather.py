"""PV from pvlib's TMY3 file: reading, calendar mapping, hour-ending alignment and AC power."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pvlib
import pytest

from tefed.domain.ems.devices.pv import clear_sky_pv_power_kw, weather_pv_power_kw
from tefed.io.weather_files import (
    HourlyWeather,
    pvlib_tmy3_path,
    read_tmy3_weather,
    weather_on_grid,
)

STATION_TZ = "Etc/GMT+5"  # the file's standard time, UTC-5, all year
ONE = np.ones(1)


@pytest.fixture(scope="module")
def weather() -> HourlyWeather:
    return read_tmy3_weather()


def _grid(weather: HourlyWeather, start: str, days: float, step_s: int) -> pd.DataFrame:
    times = pd.date_range(
        start, periods=int(days * 86_400 // step_s), freq=f"{step_s}s", tz=STATION_TZ
    )
    return weather_on_grid(weather, times, step_s, weather.latitude_deg, weather.longitude_deg)


def _pv(
    weather: HourlyWeather,
    grid: pd.DataFrame,
    step_s: int,
    kwp: float = 5.0,
    tilt: float = 30.0,
    inverter: float = 5.0,
) -> np.ndarray:
    middles = grid.index + pd.Timedelta(seconds=step_s / 2)
    return weather_pv_power_kw(
        middles,
        grid["ghi_w_per_m2"].to_numpy(),
        grid["dni_w_per_m2"].to_numpy(),
        grid["dhi_w_per_m2"].to_numpy(),
        grid["air_temperature_c"].to_numpy(),
        grid["wind_speed_m_per_s"].to_numpy(),
        weather.latitude_deg,
        weather.longitude_deg,
        weather.altitude_m,
        kwp * ONE,
        tilt * ONE,
        180.0 * ONE,
        inverter * ONE,
    )[:, 0]


def _file_hours(weather: HourlyWeather, start: str, hours: int) -> pd.DataFrame:
    """The file's rows for the hours from ``start`` (in 1988-style month/day/hour order)."""
    position = (pd.Timestamp(start).day_of_year - 1) * 24
    return weather.hourly.iloc[position : position + hours]


def test_reader_renames_and_checks_the_pvlib_file(weather: HourlyWeather) -> None:
    assert pvlib_tmy3_path().is_file()
    assert weather.name == "GREENSBORO PIEDMONT TRIAD INT"
    assert (weather.latitude_deg, weather.longitude_deg, weather.altitude_m) == (36.1, -79.95, 273)
    assert list(weather.hourly.columns) == [
        "ghi_w_per_m2",
        "dni_w_per_m2",
        "dhi_w_per_m2",
        "air_temperature_c",
        "wind_speed_m_per_s",
    ]
    # The row "01/01/1988,13:00" of the file: GHI 155, DNI 0, DHI 155 W/m², 11.7 °C, 5.2 m/s.
    row = weather.hourly.loc[pd.Timestamp("1988-01-01 13:00", tz="UTC-05:00")]
    assert row.tolist() == [155.0, 0.0, 155.0, 11.7, 5.2]


def test_reader_names_a_bad_value_and_a_missing_file(tmp_path: Path) -> None:
    lines = pvlib_tmy3_path().read_text().splitlines(keepends=True)
    fields = lines[14].split(",")  # data row 13: 01/01/1988 13:00
    fields[4] = "-5"
    lines[14] = ",".join(fields)
    broken = tmp_path / "broken.csv"
    broken.write_text("".join(lines))
    with pytest.raises(ValueError, match=r"ghi_w_per_m2 for the hour ending 1988-01-01 13:00:00"):
        read_tmy3_weather(broken)
    with pytest.raises(ValueError, match="no such file"):
        read_tmy3_weather(tmp_path / "none.csv")


def test_a_byte_order_mark_is_read(tmp_path: Path, weather: HourlyWeather) -> None:
    # A TMY3 file saved as Excel's "CSV UTF-8" was refused: the station number read '\ufeff723170'.
    marked = tmp_path / "marked.csv"
    marked.write_text("\ufeff" + pvlib_tmy3_path().read_text(), encoding="utf-8")
    read = read_tmy3_weather(marked)
    assert (read.name, read.latitude_deg) == (weather.name, weather.latitude_deg)
    pd.testing.assert_frame_equal(read.hourly, weather.hourly)


def test_a_year_with_a_missing_hour_is_refused(weather: HourlyWeather) -> None:
    short = HourlyWeather(weather.hourly.drop(weather.hourly.index[100]), 36.1, -79.95, 273, "x")
    times = pd.date_range("2030-01-01", periods=4, freq="h", tz=STATION_TZ)
    with pytest.raises(ValueError, match="8759 rows; hour 100 of the year appears 0 time"):
        weather_on_grid(short, times, 3600, 36.1, -79.95)


def _hourly_means(grid: pd.DataFrame, column: str) -> np.ndarray:
    """Means over whole hours of a 60 s grid that starts on the hour."""
    return grid[column].to_numpy().reshape(-1, 60).mean(axis=1)


def test_every_hour_keeps_the_files_irradiation(weather: HourlyWeather) -> None:
    grid = _grid(weather, "2030-06-10", 3, 60)
    rows = _file_hours(weather, "2030-06-10", 72)
    # 10 June, hour ending 07:00 (row "06/10/1989,07:00"): GHI 160 W/m², rising with the sun.
    assert rows["ghi_w_per_m2"].iloc[6] == 160.0
    minutes = grid["ghi_w_per_m2"].to_numpy()[360:420]
    assert minutes[0] < minutes[-1] and minutes.mean() == pytest.approx(160.0, rel=1e-12)
    for column in ("ghi_w_per_m2", "dhi_w_per_m2"):
        np.testing.assert_allclose(_hourly_means(grid, column), rows[column], rtol=1e-9, atol=1e-9)


def test_steps_off_the_hour_integrate_the_same_minutes(weather: HourlyWeather) -> None:
    # Seven-minute steps from 00:03 are cut into the minutes that a 60 s grid also uses.
    minutes = _grid(weather, "2030-06-10 00:03", 7 / 24, 60)
    steps = _grid(weather, "2030-06-10 00:03", 7 / 24, 420)
    np.testing.assert_allclose(
        steps.to_numpy(),
        minutes.to_numpy().reshape(len(steps), 7, -1).mean(axis=1),
        rtol=1e-9,
        atol=1e-9,
    )


def test_the_typical_year_repeats_and_29_february_reads_28_february(
    weather: HourlyWeather,
) -> None:
    def hours(date: str) -> np.ndarray:
        return _hourly_means(_grid(weather, date, 1, 60), "ghi_w_per_m2")

    np.testing.assert_allclose(hours("2030-05-04"), hours("2031-05-04"), rtol=1e-9, atol=1e-9)
    leap = hours("2032-02-29")
    assert leap.sum() > 0
    np.testing.assert_allclose(leap, hours("2032-02-28"), rtol=1e-9, atol=1e-9)


def test_direct_normal_irradiance_closes_on_the_hour_ending_labels(weather: HourlyWeather) -> None:
    # GHI and DHI only come in; DNI = (GHI - DHI) / cos(zenith) comes out. In clear hours it
    # matches the file's own DNI only if each label is the end of its hour: shifted by one
    # hour the sun's height at the hour's middle is wrong by ~10 degrees in the morning.
    grid = _grid(weather, "2030-05-01", 61, 60)
    dni_hourly = grid["dni_w_per_m2"].to_numpy().reshape(-1, 60).mean(axis=1)
    file_dni = _file_hours(weather, "2030-05-01", len(dni_hourly))["dni_w_per_m2"].to_numpy()
    clear = file_dni > 600
    assert clear.sum() > 100
    deviation = np.abs(dni_hourly[clear] / file_dni[clear] - 1.0)
    assert np.median(deviation) < 0.02
    misaligned = np.abs(np.roll(dni_hourly, 1)[clear] / file_dni[clear] - 1.0)
    assert np.median(misaligned) > 0.05


def test_zero_at_night_and_summer_beats_winter(weather: HourlyWeather) -> None:
    summer = _grid(weather, "2030-06-15", 7, 900)
    winter = _grid(weather, "2030-12-15", 7, 900)
    summer_kw = _pv(weather, summer, 900, tilt=0.0)
    winter_kw = _pv(weather, winter, 900, tilt=0.0)
    hour = summer.index.hour
    night = (hour < 4) | (hour >= 21)
    assert np.all(summer_kw[night] == 0) and np.all(summer["ghi_w_per_m2"][night] == 0)
    assert np.all(winter_kw[(hour < 6) | (hour >= 19)] == 0)
    summer_kwh, winter_kwh = summer_kw.sum() * 0.25, winter_kw.sum() * 0.25
    assert summer_kwh > 1.3 * winter_kwh > 0


def test_the_inverter_clips_at_its_rating(weather: HourlyWeather) -> None:
    grid = _grid(weather, "2030-06-15", 7, 300)
    clipped = _pv(weather, grid, 300, kwp=5.0, inverter=2.0)
    assert clipped.max() == pytest.approx(2.0, abs=1e-12)
    assert np.sum(np.isclose(clipped, 2.0, atol=1e-12)) > 24  # clipped for more than two hours
    free = _pv(weather, grid, 300, kwp=5.0, inverter=10.0)
    assert free.max() > 3.0


def test_hourly_pv_energy_matches_the_files_hourly_ghi(weather: HourlyWeather) -> None:
    # A horizontal array sees GHI. The reference takes each hour of the file as one value at
    # the hour's middle (DHI = GHI, DNI = 0 gives exactly GHI on a horizontal plane), with the
    # temperature and wind midway between the labels. The step series differs only through the
    # non-linear parts of the chain inside the hour: cell heating (|gamma| / U = 0.0037 / 31.84
    # per W/m² times the spread of GHI within the hour, about 20 W/m² at most: 0.2 %) and the
    # curvature of the inverter efficiency (-0.0162 zeta², below 0.1 % at these loads). Hours
    # with the sun up all hour therefore agree within 1 %; in hours with sunrise or sunset the
    # inverter's constant tare loss applies only while the array produces, so only the total
    # is compared there.
    step_s = 60
    grid = _grid(weather, "2030-06-01", 30, step_s)
    step_kwh = _pv(weather, grid, step_s, tilt=0.0, inverter=10.0).reshape(-1, 60).mean(axis=1)
    rows = _file_hours(weather, "2030-06-01", 30 * 24)
    middles = pd.date_range("2030-06-01 00:30", periods=30 * 24, freq="h", tz=STATION_TZ)
    labels = _file_hours(weather, "2030-05-31", 31 * 24).iloc[23 : 23 + 30 * 24 + 1]
    between = {
        name: (labels[name].to_numpy()[:-1] + labels[name].to_numpy()[1:]) / 2
        for name in ("air_temperature_c", "wind_speed_m_per_s")
    }
    ghi = rows["ghi_w_per_m2"].to_numpy()
    reference_kwh = weather_pv_power_kw(
        middles,
        ghi,
        0 * ghi,
        ghi,
        between["air_temperature_c"],
        between["wind_speed_m_per_s"],
        weather.latitude_deg,
        weather.longitude_deg,
        weather.altitude_m,
        5.0 * ONE,
        0.0 * ONE,
        180.0 * ONE,
        10.0 * ONE,
    )[:, 0]
    minutes = grid.index + pd.Timedelta(seconds=30)
    sun = pvlib.solarposition.get_solarposition(minutes, weather.latitude_deg, -79.95)
    sun_up_all_hour = (sun["apparent_zenith"].to_numpy().reshape(-1, 60) < 90).all(axis=1)
    compared = sun_up_all_hour & (reference_kwh > 0.5)
    assert compared.sum() > 300
    np.testing.assert_allclose(step_kwh[compared], reference_kwh[compared], rtol=0.01)
    assert step_kwh.sum() == pytest.approx(reference_kwh.sum(), rel=0.01)


def test_weather_moved_to_the_site_follows_the_sites_sun(weather: HourlyWeather) -> None:
    # Berlin is 6 hours east of Greensboro in solar time (93.35 degrees / 15 = 6.2 h).
    times = pd.date_range("2030-06-21", periods=96, freq="15min", tz="Europe/Berlin")
    grid = weather_on_grid(weather, times, 900, 52.5, 13.4)
    sun = pvlib.solarposition.get_solarposition(times + pd.Timedelta(minutes=7.5), 52.5, 13.4)
    assert np.all(grid["ghi_w_per_m2"].to_numpy()[sun["apparent_zenith"].to_numpy() > 90] == 0)
    daytime = grid["ghi_w_per_m2"].to_numpy()
    assert daytime.max() > 300
    # The day's irradiation centres near Berlin's solar noon, about 13:10 CEST.
    hours = (times.hour + times.minute / 60 + 0.125).to_numpy()
    centre = (daytime * hours).sum() / daytime.sum()
    assert 12.0 < centre < 14.5


def test_clear_sky_and_weather_share_one_conversion() -> None:
    times = pd.date_range("2024-07-15 05:00", periods=16, freq="h", tz="Europe/Berlin")
    location = pvlib.location.Location(48.0, 11.0, altitude=500.0)
    sun = location.get_solarposition(times, temperature=20.0)
    sky = location.get_clearsky(
        times,
        solar_position=sun,
        dni_extra=pvlib.irradiance.get_extra_radiation(times.day_of_year.to_numpy()),
        linke_turbidity=3.0,
    )
    arrays = {
        "kwp": np.array([5.0, 3.0]),
        "tilt_deg": np.array([30.0, 10.0]),
        "azimuth_deg": np.array([180.0, 90.0]),
        "inverter_kw": np.array([4.0, 3.0]),
    }
    clear = clear_sky_pv_power_kw(times, 48.0, 11.0, 500.0, 3.0, **arrays)
    constant = np.full(len(times), 1.0)
    weather_kw = weather_pv_power_kw(
        times,
        sky["ghi"].to_numpy(),
        sky["dni"].to_numpy(),
        sky["dhi"].to_numpy(),
        20.0 * constant,
        constant,
        48.0,
        11.0,
        500.0,
        **arrays,
    )
    assert clear.max() > 2.0
    np.testing.assert_allclose(weather_kw, clear, rtol=1e-9, atol=1e-12)


def test_bad_weather_arrays_are_named() -> None:
    times = pd.date_range("2024-07-15 12:00", periods=3, freq="h", tz="UTC")
    good = np.array([500.0, 600.0, 700.0])

    def call(**change: np.ndarray) -> None:
        arrays = {"ghi": good, "dni": good, "dhi": good, "temp": good / 30, "wind": good / 300}
        arrays.update(change)
        weather_pv_power_kw(times, *arrays.values(), 48.0, 11.0, 500.0, ONE, ONE, 180 * ONE, ONE)

    with pytest.raises(ValueError, match=r"ghi_w_per_m2 has shape \(2,\); expected \(3,\)"):
        call(ghi=good[:2])
    with pytest.raises(
        ValueError, match=r"dhi_w_per_m2 at 2024-07-15 13:00:00\+00:00 is -1\.0; expected a fin"
    ):
        call(dhi=np.array([500.0, -1.0, 0.0]))
    with pytest.raises(ValueError, match=r"air_temperature_c at .* is nan; expected a finite"):
        call(temp=np.array([np.nan, 1.0, 1.0]))
    with pytest.raises(ValueError, match="time-zone-aware"):
        weather_pv_power_kw(times.tz_localize(None), good, good, good, good, good, 48, 11, 0,
                            ONE, ONE, ONE, ONE)  # fmt: skip
