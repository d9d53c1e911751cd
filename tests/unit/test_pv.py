"""Clear-sky PV: night, peak magnitude, inverter clipping, orientation and validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pvlib
import pytest

from tefed.domain.ems.devices.pv import clear_sky_pv_power_kw

SITE = {"latitude_deg": 48.0, "longitude_deg": 11.0, "altitude_m": 500.0, "linke_turbidity": 3.0}
JULY_DAY = pd.date_range("2024-07-15", periods=24 * 12, freq="5min", tz="Europe/Berlin")


def _pv(
    times: pd.DatetimeIndex = JULY_DAY,
    kwp: list[float] | None = None,
    tilt: list[float] | None = None,
    azimuth: list[float] | None = None,
    inverter: list[float] | None = None,
    **options: float,
) -> np.ndarray:
    return clear_sky_pv_power_kw(
        times,
        **SITE,
        kwp=np.array(kwp if kwp is not None else [5.0]),
        tilt_deg=np.array(tilt if tilt is not None else [30.0]),
        azimuth_deg=np.array(azimuth if azimuth is not None else [180.0]),
        inverter_kw=np.array(inverter if inverter is not None else [5.0]),
        **options,
    )


def test_shape_and_zero_at_night() -> None:
    power = _pv()
    assert power.shape == (len(JULY_DAY), 1)
    assert np.all(power >= 0)
    hour = JULY_DAY.hour
    night = (hour < 4) | (hour >= 23)
    assert np.all(power[night] == 0)
    assert np.all(power[(hour >= 10) & (hour < 16)] > 1.0)


def test_peak_of_a_south_facing_5_kwp_system_in_july() -> None:
    peak = _pv().max()
    assert 3.5 < peak < 4.8


def test_inverter_clips_at_its_rating() -> None:
    power = _pv(inverter=[3.0])[:, 0]
    assert power.max() == pytest.approx(3.0, abs=1e-12)
    assert np.sum(np.isclose(power, 3.0, atol=1e-12)) > 12  # clipped for more than an hour


def test_no_array_or_no_inverter_gives_zero() -> None:
    power = _pv(kwp=[0.0, 5.0, 5.0], tilt=[30.0] * 3, azimuth=[180.0] * 3, inverter=[5.0, 0.0, 5.0])
    assert np.all(power[:, 0] == 0)
    assert np.all(power[:, 1] == 0)
    assert power[:, 2].max() > 3.5


def test_east_facing_peaks_earlier_than_west_facing() -> None:
    power = _pv(kwp=[5.0, 5.0], tilt=[30.0, 30.0], azimuth=[90.0, 270.0], inverter=[10.0, 10.0])
    east_peak, west_peak = JULY_DAY[power.argmax(axis=0)]
    assert east_peak.hour < 12 < west_peak.hour


def test_grouping_by_orientation_matches_one_household_at_a_time() -> None:
    kwp = [5.0, 3.0, 0.0, 7.0, 4.0]
    tilt = [30.0, 45.0, 30.0, 30.0, 45.0]
    azimuth = [180.0, 90.0, 180.0, 180.0, 90.0]
    inverter = [4.0, 3.0, 2.0, 8.0, 2.5]
    together = _pv(kwp=kwp, tilt=tilt, azimuth=azimuth, inverter=inverter)
    for i in range(len(kwp)):
        alone = _pv(kwp=[kwp[i]], tilt=[tilt[i]], azimuth=[azimuth[i]], inverter=[inverter[i]])
        np.testing.assert_allclose(together[:, i], alone[:, 0], rtol=1e-12, atol=0)


def test_scaling_array_and_inverter_together_scales_the_output() -> None:
    power = _pv(kwp=[2.0, 6.0], tilt=[30.0, 30.0], azimuth=[180.0, 180.0], inverter=[2.0, 6.0])
    np.testing.assert_allclose(power[:, 1], 3.0 * power[:, 0], rtol=1e-12, atol=1e-15)


def test_horizontal_array_follows_the_pvwatts_chain_by_hand() -> None:
    noon = pd.DatetimeIndex(["2024-07-15 13:30"], tz="Europe/Berlin")
    location = pvlib.location.Location(48.0, 11.0, altitude=500.0)
    sun = location.get_solarposition(noon, temperature=20.0)
    ghi = location.get_clearsky(
        noon,
        solar_position=sun,
        dni_extra=pvlib.irradiance.get_extra_radiation(noon.day_of_year.to_numpy()),
        linke_turbidity=3.0,
    )["ghi"].iloc[0]
    cell_c = 20.0 + ghi / (25.0 + 6.84 * 1.0)
    dc_kw = ghi / 1000.0 * 5.0 * (1.0 - 0.0037 * (cell_c - 25.0)) * (1.0 - 0.14)
    zeta = dc_kw / (10.0 / 0.96)
    eta = 0.96 / 0.9637 * (-0.0162 * zeta - 0.0059 / zeta + 0.9858)
    power = _pv(times=noon, kwp=[5.0], tilt=[0.0], azimuth=[180.0], inverter=[10.0])
    assert 800.0 < ghi < 1000.0
    assert power[0, 0] == pytest.approx(eta * dc_kw, rel=1e-6)


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        ({"kwp": [5.0, -1.0]}, r"kwp\[1\] is -1\.0; expected a finite value >= 0"),
        ({"tilt": [30.0, 95.0]}, r"tilt_deg\[1\] is 95\.0; expected in \[0, 90\]"),
        ({"azimuth": [360.0, 180.0]}, r"azimuth_deg\[0\] is 360\.0; expected in \[0, 360\)"),
        ({"inverter": [5.0, np.nan]}, r"inverter_kw\[1\] is nan"),
        ({"tilt": [30.0]}, r"tilt_deg has 1 entries; expected 2"),
    ],
)
def test_invalid_household_values_are_named(change: dict[str, list[float]], pattern: str) -> None:
    arrays = {"kwp": [5.0, 5.0], "tilt": [30.0, 30.0], "azimuth": [180.0, 180.0]}
    arrays["inverter"] = [5.0, 5.0]
    arrays.update(change)
    with pytest.raises(ValueError, match=pattern):
        _pv(**arrays)


def test_invalid_site_and_times_are_named() -> None:
    with pytest.raises(ValueError, match="time-zone-aware"):
        _pv(times=pd.date_range("2024-07-15", periods=3, freq="h"))
    with pytest.raises(ValueError, match=r"system_losses is 1\.0; expected in \[0, 1\)"):
        _pv(system_losses=1.0)
    with pytest.raises(ValueError, match=r"latitude_deg is 91"):
        clear_sky_pv_power_kw(JULY_DAY, 91.0, 11.0, 500.0, 3.0, *(np.ones(1),) * 4)
