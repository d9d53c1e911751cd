"""Synthetic load profiles and energy-preserving resampling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tefed.domain.ems.devices import load
from tefed.domain.ems.devices.load import resample_energy_preserving, synthetic_load_profiles

TZ = "Europe/Berlin"


def _times(start: str, days: float, step: str = "15min") -> pd.DatetimeIndex:
    """Steps from ``start`` to ``days`` later on the local clock."""
    begin = pd.Timestamp(start)
    end = begin + pd.Timedelta(days=days)
    return pd.date_range(begin.tz_localize(TZ), end.tz_localize(TZ), freq=step, inclusive="left")


def _daily_energy_kwh(power_kw: np.ndarray, times: pd.DatetimeIndex) -> pd.DataFrame:
    step_h = (times[1] - times[0]).total_seconds() / 3600.0
    frame = pd.DataFrame(power_kw * step_h, index=times)
    return frame.groupby(times.tz_localize(None).normalize()).sum()


def test_shape_and_nonnegative() -> None:
    times = _times("2024-06-03", 2)
    power = synthetic_load_profiles(times, np.array([8.0, 12.0, 3.0]), seed=1)
    assert power.shape == (len(times), 3)
    assert power.dtype == np.float64
    assert np.all(power >= 0)
    assert np.all(power.max(axis=0) > 0)


def test_every_full_day_carries_the_daily_energy_across_clock_changes() -> None:
    daily = np.array([2.5, 8.0, 12.0, 30.0])
    for start in ("2024-03-29", "2024-10-25"):  # spring forward and fall back in the window
        times = _times(start, 4)
        energy = _daily_energy_kwh(synthetic_load_profiles(times, daily, seed=7), times)
        assert len(energy) == 4
        np.testing.assert_allclose(energy.to_numpy(), np.tile(daily, (4, 1)), rtol=1e-9)
    assert len(_times("2024-03-31", 1)) == 92  # the 23-hour day is really in the test


def test_full_days_are_matched_when_the_window_starts_and_ends_mid_day() -> None:
    times = pd.date_range("2024-06-03 06:00", "2024-06-06 18:00", freq="5min", tz=TZ)
    daily = np.array([5.0, 9.0])
    energy = _daily_energy_kwh(synthetic_load_profiles(times, daily, seed=3), times)
    np.testing.assert_allclose(energy.iloc[1:3].to_numpy(), np.tile(daily, (2, 1)), rtol=1e-9)
    assert np.all(energy.iloc[[0, 3]].to_numpy() < daily)


def test_deterministic_per_seed() -> None:
    times = _times("2024-06-03", 1)
    daily = np.array([8.0, 12.0])
    first = synthetic_load_profiles(times, daily, seed=11)
    np.testing.assert_array_equal(first, synthetic_load_profiles(times, daily, seed=11))
    assert not np.allclose(first, synthetic_load_profiles(times, daily, seed=12))


def test_household_profile_does_not_depend_on_how_many_are_generated() -> None:
    times = _times("2024-06-03", 3)
    daily = np.linspace(3.0, 20.0, 40)
    many = synthetic_load_profiles(times, daily, seed=5)
    few = synthetic_load_profiles(times, daily[:3], seed=5)
    np.testing.assert_allclose(few, many[:, :3], rtol=1e-12, atol=0)


def test_memory_blocks_do_not_change_the_result(monkeypatch: pytest.MonkeyPatch) -> None:
    times = _times("2024-06-03", 1)
    daily = np.linspace(3.0, 20.0, 7)
    whole = synthetic_load_profiles(times, daily, seed=5)
    monkeypatch.setattr(load, "_BLOCK_ELEMENTS", 2 * len(times))  # about two households a block
    np.testing.assert_allclose(synthetic_load_profiles(times, daily, seed=5), whole, rtol=1e-12)


def test_no_households() -> None:
    assert synthetic_load_profiles(_times("2024-06-03", 1), np.zeros(0), seed=1).shape == (96, 0)


def test_a_day_does_not_depend_on_when_the_window_starts() -> None:
    # Enough households that some evening events of the day before run past midnight.
    daily = np.linspace(4.0, 16.0, 30)
    long_times = _times("2024-06-03", 3)
    short_times = _times("2024-06-05", 1)
    long = synthetic_load_profiles(long_times, daily, seed=2)
    short = synthetic_load_profiles(short_times, daily, seed=2)
    np.testing.assert_allclose(short, long[-len(short_times) :], rtol=1e-9, atol=1e-12)


def test_step_energies_are_exact_integrals_at_every_resolution() -> None:
    daily = np.array([7.0, 11.0, 4.0])
    fine_times = _times("2024-06-07", 2, "1min")
    fine = synthetic_load_profiles(fine_times, daily, seed=9)
    coarse = synthetic_load_profiles(_times("2024-06-07", 2, "15min"), daily, seed=9)
    np.testing.assert_allclose(resample_energy_preserving(fine, 60, 900), coarse, rtol=1e-7)
    # A grid that is not aligned with midnight still integrates the same model.
    shifted_times = pd.date_range("2024-06-07 00:07", periods=180, freq="15min", tz=TZ)
    shifted = synthetic_load_profiles(shifted_times, daily, seed=9)
    np.testing.assert_allclose(
        shifted, resample_energy_preserving(fine[7 : 7 + 180 * 15], 60, 900), rtol=1e-7
    )


def test_one_second_resolution_matches_one_minute() -> None:
    daily = np.array([9.0, 5.0])
    seconds = synthetic_load_profiles(_times("2024-06-08 17:00", 1 / 12, "1s"), daily, seed=4)
    minutes = synthetic_load_profiles(_times("2024-06-08 17:00", 1 / 12, "1min"), daily, seed=4)
    np.testing.assert_allclose(resample_energy_preserving(seconds, 1, 60), minutes, rtol=1e-7)


def test_households_are_diverse() -> None:
    times = _times("2024-06-03", 7)
    power = synthetic_load_profiles(times, np.full(20, 10.0), seed=8)
    correlation = np.corrcoef(power.T)
    off_diagonal = correlation[~np.eye(20, dtype=bool)]
    assert off_diagonal.max() < 0.95
    assert np.unique(power.max(axis=0).round(6)).size == 20


def test_evening_exceeds_night_and_weekends_differ_from_weekdays() -> None:
    times = _times("2024-06-03", 7)  # Monday to Sunday
    power = synthetic_load_profiles(times, np.full(200, 10.0), seed=6).mean(axis=1)
    hour = times.hour + times.minute / 60.0
    weekend = times.day_of_week >= 5
    evening = power[(hour >= 18) & (hour < 22)].mean()
    night = power[(hour >= 1) & (hour < 5)].mean()
    assert evening > 2.0 * night
    early = (hour >= 6.5) & (hour < 8)
    lunch = (hour >= 12) & (hour < 14)
    assert power[early & ~weekend].mean() > power[early & weekend].mean()
    assert power[lunch & weekend].mean() > power[lunch & ~weekend].mean()


def test_appliances_give_short_peaks_of_kilowatts() -> None:
    power = synthetic_load_profiles(_times("2024-06-03", 7, "1min"), np.full(50, 10.0), seed=1)
    assert np.mean(power.max(axis=0) > 1.5) > 0.8
    assert np.median(power, axis=0).max() < 1.0


def test_zero_daily_energy_gives_zero_load() -> None:
    power = synthetic_load_profiles(_times("2024-06-03", 1), np.array([0.0, 5.0]), seed=1)
    assert np.all(power[:, 0] == 0)
    assert power[:, 1].sum() * 0.25 == pytest.approx(5.0, rel=1e-9)


@pytest.mark.parametrize(
    ("times", "pattern"),
    [
        (pd.date_range("2024-06-03", periods=4, freq="15min"), "time-zone-aware"),
        (pd.date_range("2024-06-03", periods=1, freq="15min", tz=TZ), "at least 2"),
        (pd.date_range("2024-06-03", periods=4, freq="2h", tz=TZ), r"7200\.0 s; expected a whole"),
        (pd.date_range("2024-06-03", periods=4, freq="500ms", tz=TZ), r"0\.5 s; expected a whole"),
        (
            pd.DatetimeIndex(["2024-06-03 00:00", "2024-06-03 00:15", "2024-06-03 01:00"], tz=TZ),
            r"times is not regular: entry 2 \(2024-06-03 01:00:00\+02:00\) is 2700\.0 s after "
            r"the previous one; expected a constant step of 900\.0 s",
        ),
    ],
)
def test_invalid_times(times: pd.DatetimeIndex, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        synthetic_load_profiles(times, np.array([8.0]), seed=1)


def test_invalid_energy_and_seed() -> None:
    times = _times("2024-06-03", 1)
    with pytest.raises(ValueError, match=r"daily_energy_kwh\[1\] is -2\.0; expected a finite"):
        synthetic_load_profiles(times, np.array([8.0, -2.0]), seed=1)
    with pytest.raises(ValueError, match=r"daily_energy_kwh\[0\] is nan"):
        synthetic_load_profiles(times, np.array([np.nan]), seed=1)
    with pytest.raises(ValueError, match="seed is -1; expected a non-negative integer"):
        synthetic_load_profiles(times, np.array([8.0]), seed=-1)
    with pytest.raises(ValueError, match=r"seed is 1\.5"):
        synthetic_load_profiles(times, np.array([8.0]), seed=1.5)  # type: ignore[arg-type]


def test_resampling_by_hand() -> None:
    power = np.array([[1.0, 0.0], [3.0, 2.0], [2.0, 4.0], [2.0, 0.0]])
    np.testing.assert_array_equal(
        resample_energy_preserving(power, 900, 1800), [[2.0, 1.0], [2.0, 2.0]]
    )
    np.testing.assert_array_equal(
        resample_energy_preserving(np.array([1.0, 3.0]), 3600, 1200), [1, 1, 1, 3, 3, 3]
    )
    np.testing.assert_array_equal(resample_energy_preserving(power, 60, 60), power)


def test_resampling_rejects_what_cannot_preserve_energy() -> None:
    with pytest.raises(ValueError, match=r"6 steps of 900 s \(5400 s\); expected a duration"):
        resample_energy_preserving(np.ones(6), 900, 1200)
    with pytest.raises(ValueError, match="has 5 steps of 900 s; expected a multiple of 4"):
        resample_energy_preserving(np.ones(5), 900, 3600)
    with pytest.raises(ValueError, match="source_step_s is 0"):
        resample_energy_preserving(np.ones(4), 0, 60)
    with pytest.raises(ValueError, match=r"target_step_s is 1\.5"):
        resample_energy_preserving(np.ones(4), 60, 1.5)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(
    data=st.data(),
    source_step_s=st.sampled_from([1, 5, 60, 300, 900]),
    ratio=st.integers(1, 12),
    coarsen=st.booleans(),
    households=st.integers(1, 4),
)
def test_resampling_preserves_energy(
    data: st.DataObject, source_step_s: int, ratio: int, coarsen: bool, households: int
) -> None:
    groups = data.draw(st.integers(1, 20))
    steps = groups * ratio if coarsen else groups
    power = data.draw(
        hnp.arrays(float, (steps, households), elements=st.floats(0.0, 1e4, allow_subnormal=False))
    )
    target_step_s = source_step_s * ratio if coarsen else source_step_s
    if not coarsen:
        source_step_s *= ratio
    resampled = resample_energy_preserving(power, source_step_s, target_step_s)
    assert resampled.shape[1:] == power.shape[1:]
    assert resampled.shape[0] * target_step_s == power.shape[0] * source_step_s
    np.testing.assert_allclose(
        resampled.sum(axis=0) * target_step_s,
        power.sum(axis=0) * source_step_s,
        rtol=1e-12,
        atol=1e-9,
    )
