"""Household profiles from the BDEW standard profile (demandlib), diverse per household."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tefed.domain.ems.devices.library_profiles import library_household_profiles
from tefed.domain.ems.devices.resampling import resample_energy_preserving
from tefed.io.bdew_profiles import bdew_household_shape

TZ = "Europe/Berlin"


def _times(start: str, days: float, step: str = "15min") -> pd.DatetimeIndex:
    begin = pd.Timestamp(start)
    end = begin + pd.Timedelta(days=days)
    return pd.date_range(begin.tz_localize(TZ), end.tz_localize(TZ), freq=step, inclusive="left")


@pytest.fixture(scope="module")
def shape_2024() -> pd.Series:
    return bdew_household_shape(_times("2024-06-01", 1))


def _daily_kwh(power_kw: np.ndarray, times: pd.DatetimeIndex) -> np.ndarray:
    step_h = (times[1] - times[0]).total_seconds() / 3600.0
    return pd.DataFrame(power_kw * step_h).groupby(times.tz_localize(None).date).sum().to_numpy()


def test_the_standard_profile_peaks_in_the_evening_of_a_january_working_day(
    shape_2024: pd.Series,
) -> None:
    # BDEW H25, January working day: the largest quarter hour is 18:45-19:00 (42.12 kWh per
    # 1 GWh a year before dynamisation, against 14.93 at 02:45, the smallest).
    day = shape_2024["2024-01-10"]  # a Wednesday
    assert day.idxmax() == pd.Timestamp("2024-01-10 18:45")
    assert day.idxmin() == pd.Timestamp("2024-01-10 02:45")
    assert day.max() / day.min() == pytest.approx(42.12 / 14.934, rel=1e-9)
    assert len(shape_2024) == 366 * 96
    assert shape_2024.sum() == pytest.approx(1.0, rel=1e-12)


def test_every_local_day_carries_its_energy_across_clock_changes(shape_2024: pd.Series) -> None:
    daily = np.array([2.5, 8.0, 12.0, 30.0])
    for start in ("2024-03-29", "2024-10-25"):
        times = _times(start, 4, "1min")
        power = library_household_profiles(
            times, shape_2024, np.arange(4), seed=7, daily_energy_kwh=daily
        )
        assert power.shape == (len(times), 4)
        assert (power >= 0).all()
        np.testing.assert_allclose(_daily_kwh(power, times), np.tile(daily, (4, 1)), rtol=1e-9)


def test_annual_energy_follows_the_seasons_and_sums_over_the_year() -> None:
    times = _times("2024-01-01", 366, "1h")
    shape = bdew_household_shape(times)  # 2023 to 2025: the days around the year are there
    annual = np.array([3500.0, 1200.0])
    power = library_household_profiles(
        times, shape, np.array([4, 9]), seed=2, annual_energy_kwh=annual
    )
    np.testing.assert_allclose(power.sum(axis=0), annual, rtol=1e-9)
    daily = _daily_kwh(power, times)
    # The months and the dynamisation give January about 36 % more energy a day than June.
    january, june = daily[:31, 0].mean(), daily[152:182, 0].mean()
    assert 1.25 < january / june < 1.45
    np.testing.assert_allclose(daily[:, 1] / daily[:, 0], 1200.0 / 3500.0, rtol=1e-9)


def test_households_differ_and_a_key_gives_the_same_profile(shape_2024: pd.Series) -> None:
    times = _times("2024-06-03", 3, "5min")
    daily = np.full(20, 10.0)
    keys = np.arange(100, 120)
    power = library_household_profiles(times, shape_2024, keys, seed=5, daily_energy_kwh=daily)
    correlation = np.corrcoef(power.T)[~np.eye(20, dtype=bool)]
    assert correlation.max() < 0.9
    assert np.unique(power.argmax(axis=0)).size > 10
    # The same key alone, or in another order, gives the same profile.
    alone = library_household_profiles(
        times, shape_2024, keys[[7]], seed=5, daily_energy_kwh=daily[:1]
    )
    np.testing.assert_allclose(alone[:, 0], power[:, 7], rtol=1e-12)
    other = library_household_profiles(
        times, shape_2024, keys[::-1], seed=5, daily_energy_kwh=daily
    )
    np.testing.assert_allclose(other[:, ::-1], power, rtol=1e-12)
    assert not np.allclose(
        library_household_profiles(times, shape_2024, keys, seed=6, daily_energy_kwh=daily), power
    )


def test_a_day_does_not_depend_on_when_the_window_starts(shape_2024: pd.Series) -> None:
    keys = np.arange(30)
    daily = np.linspace(4.0, 16.0, 30)
    long = library_household_profiles(
        _times("2024-06-03", 3), shape_2024, keys, seed=2, daily_energy_kwh=daily
    )
    short = library_household_profiles(
        _times("2024-06-05", 1), shape_2024, keys, seed=2, daily_energy_kwh=daily
    )
    np.testing.assert_allclose(short, long[-96:], rtol=1e-9)


def test_step_energies_are_exact_integrals_at_every_resolution(shape_2024: pd.Series) -> None:
    keys, daily = np.arange(3), np.array([7.0, 11.0, 4.0])
    fine = library_household_profiles(
        _times("2024-06-07", 2, "1min"), shape_2024, keys, seed=9, daily_energy_kwh=daily
    )
    coarse = library_household_profiles(
        _times("2024-06-07", 2, "15min"), shape_2024, keys, seed=9, daily_energy_kwh=daily
    )
    np.testing.assert_allclose(resample_energy_preserving(fine, 60, 900), coarse, rtol=1e-9)
    # Seven-minute steps, which do not divide 15 minutes, integrate the same staircase.
    odd = library_household_profiles(
        _times("2024-06-07", 2, "7min"), shape_2024, keys, seed=9, daily_energy_kwh=daily
    )
    whole = len(fine) // 7  # the last 7-minute step runs past the minutes computed
    np.testing.assert_allclose(
        resample_energy_preserving(fine[: whole * 7], 60, 420), odd[:whole], rtol=1e-9
    )


def test_the_population_has_the_evening_peak(shape_2024: pd.Series) -> None:
    times = _times("2024-01-08", 5, "5min")  # Monday to Friday
    power = library_household_profiles(
        times, shape_2024, np.arange(300), seed=4, daily_energy_kwh=np.full(300, 8.0)
    )
    mean = power.mean(axis=1)
    hour = times.hour + times.minute / 60.0
    for day in range(5):
        one_day = slice(day * 288, (day + 1) * 288)
        assert 17.0 <= hour[one_day][mean[one_day].argmax()] < 21.0
    assert mean[(hour >= 18) & (hour < 21)].mean() > 2.0 * mean[(hour >= 1) & (hour < 5)].mean()


def test_without_shift_and_noise_the_profile_is_the_standard_one(shape_2024: pd.Series) -> None:
    times = _times("2024-06-03", 1)
    power = library_household_profiles(
        times,
        shape_2024,
        np.array([0]),
        seed=1,
        daily_energy_kwh=np.array([5.0]),
        max_shift_min=0.0,
        noise_sigma=0.0,
    )
    day = shape_2024["2024-06-03"].to_numpy()
    np.testing.assert_allclose(power[:, 0], 5.0 * day / day.sum() * 4.0, rtol=1e-9)


@settings(max_examples=25, deadline=None)
@given(
    step_s=st.sampled_from([60, 300, 420, 900, 1800, 3600]),
    offset_min=st.integers(0, 59),
    energy=st.lists(st.floats(0.0, 50.0, allow_subnormal=False), min_size=1, max_size=4),
    seed=st.integers(0, 2**31),
)
def test_whole_days_inside_any_grid_carry_the_daily_energy(
    shape_2024: pd.Series, step_s: int, offset_min: int, energy: list[float], seed: int
) -> None:
    start = pd.Timestamp("2024-06-02 22:00", tz=TZ) + pd.Timedelta(minutes=offset_min)
    times = pd.date_range(start, periods=2 * 86_400 // step_s + 4, freq=f"{step_s}s")
    power = library_household_profiles(
        times, shape_2024, np.arange(len(energy)), seed=seed, daily_energy_kwh=np.array(energy)
    )
    # Cumulative energy at the step edges; read it at the midnights that are step edges.
    edges = times.append(times[-1:] + pd.Timedelta(seconds=step_s))
    cumulative = np.concatenate([np.zeros((1, len(energy))), np.cumsum(power, 0) * step_s / 3600])
    midnights = pd.DatetimeIndex(["2024-06-03", "2024-06-04"], tz=TZ)
    at = edges.get_indexer(midnights)
    if (at >= 0).all():
        np.testing.assert_allclose(cumulative[at[1]] - cumulative[at[0]], energy, rtol=1e-9)
    total_h = len(times) * step_s / 3600
    assert cumulative[-1].sum() <= sum(energy) * (total_h / 24 + 1) + 1e-9


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        ({"annual_energy_kwh": np.ones(2)}, "exactly one of daily_energy_kwh and annual"),
        ({"daily_energy_kwh": None}, "exactly one of"),
        ({"daily_energy_kwh": np.array([1.0, -1.0])}, r"daily_energy_kwh\[1\] is -1\.0"),
        ({"daily_energy_kwh": np.ones(3)}, r"shape \(3,\); expected \(2,\)"),
        ({"household_keys": np.array([0, -3])}, r"household_keys\[1\] is -3"),
        ({"household_keys": np.array([0.0, 1.0])}, "1-D array of integers"),
        ({"seed": -1}, "seed is -1"),
        ({"noise_sigma": -0.1}, "noise_sigma is -0.1"),
        ({"max_shift_min": 720.0}, r"max_shift_min is 720\.0; expected in \[0, 720\)"),
    ],
)
def test_invalid_arguments_are_named(shape_2024: pd.Series, change: dict, pattern: str) -> None:
    arguments = {
        "times": _times("2024-06-03", 1),
        "shape": shape_2024,
        "household_keys": np.array([0, 1]),
        "seed": 1,
        "daily_energy_kwh": np.ones(2),
    }
    arguments.update(change)
    with pytest.raises(ValueError, match=pattern):
        library_household_profiles(**arguments)


def test_a_shape_that_does_not_cover_the_run_is_named(shape_2024: pd.Series) -> None:
    with pytest.raises(ValueError, match=r"covers the local days 2024-01-01 to 2024-12-31; "):
        library_household_profiles(
            _times("2024-12-31", 1), shape_2024, np.arange(1), seed=1, daily_energy_kwh=np.ones(1)
        )
    part = shape_2024["2024-06-01":"2024-06-30"]
    with pytest.raises(ValueError, match=r"holds 30 days of 2024; expected the whole year"):
        library_household_profiles(
            _times("2024-06-10", 1), part, np.arange(1), seed=1, annual_energy_kwh=np.ones(1)
        )
    with pytest.raises(ValueError, match="expected naive local wall-clock slots"):
        library_household_profiles(
            _times("2024-06-10", 1),
            part.tz_localize("UTC"),
            np.arange(1),
            seed=1,
            daily_energy_kwh=np.ones(1),
        )
