"""Energy-preserving resampling at any pair of steps, on bare arrays and on calendars."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tefed.domain.ems.devices.load import resample_energy_preserving as reexported
from tefed.domain.ems.devices.resampling import (
    local_day_position,
    repeat_daily_profile,
    resample_energy_preserving,
    resample_power_to_times,
)

TZ = "Europe/Berlin"


def test_load_module_reexports_the_same_function() -> None:
    assert reexported is resample_energy_preserving


@pytest.mark.parametrize(
    ("power", "source_s", "target_s", "expected"),
    [
        # 600 s at 1 kW + 300 s at 2 kW = 1200 kW·s over 900 s, then 300 s at 2 + 600 s at 3.
        ([1.0, 2.0, 3.0], 600, 900, [4 / 3, 8 / 3]),
        # 900 s steps onto 600 s: the middle 600 s step straddles both source steps.
        ([1.0, 2.0], 900, 600, [1.0, 1.5, 2.0]),
        # 40 min onto 1 h: (40·1 + 20·4) / 60 = 2, then (20·4 + 40·7) / 60 = 6.
        ([1.0, 4.0, 7.0], 2400, 3600, [2.0, 6.0]),
    ],
)
def test_steps_that_are_not_multiples_by_hand(
    power: list[float], source_s: int, target_s: int, expected: list[float]
) -> None:
    np.testing.assert_allclose(
        resample_energy_preserving(np.array(power), source_s, target_s), expected, rtol=1e-12
    )


def test_fast_paths_and_general_path_agree_on_households() -> None:
    power = np.array([[1.0, 5.0], [3.0, 1.0], [2.0, 2.0], [6.0, 0.0]])
    hourly = resample_energy_preserving(power, 900, 3600)
    np.testing.assert_allclose(hourly, [[3.0, 2.0]])
    # 3600 -> 60 is the fast refining path: each value held for 60 steps.
    minutes = resample_energy_preserving(hourly, 3600, 60)
    assert minutes.shape == (60, 2)
    np.testing.assert_array_equal(minutes, np.tile([3.0, 2.0], (60, 1)))
    # 60 -> 900 from those minutes gives 900 s steps of the same constant.
    np.testing.assert_allclose(resample_energy_preserving(minutes, 60, 900), [[3.0, 2.0]] * 4)


def test_a_duration_that_does_not_fill_whole_target_steps_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"5 steps of 600 s \(3000 s\); expected a duration"):
        resample_energy_preserving(np.ones(5), 600, 900)


def _cumulative_reference(power: np.ndarray, source_s: int, target_s: int) -> np.ndarray:
    """Interpolate the running energy at the target edges and difference (the textbook rule)."""
    source_edges = np.arange(power.shape[0] + 1) * source_s
    cumulative = np.concatenate([[0.0], np.cumsum(power * source_s)])
    target_edges = np.arange(power.shape[0] * source_s // target_s + 1) * target_s
    return np.diff(np.interp(target_edges, source_edges, cumulative)) / target_s


@settings(max_examples=200, deadline=None)
@given(
    data=st.data(),
    source_s=st.integers(1, 4000),
    target_s=st.integers(1, 4000),
)
def test_any_pair_of_steps_preserves_energy_and_matches_the_cumulative_rule(
    data: st.DataObject, source_s: int, target_s: int
) -> None:
    lcm = int(np.lcm(source_s, target_s))
    periods = data.draw(st.integers(1, max(1, min(3, 40_000 // lcm))))
    steps = periods * lcm // source_s
    power = data.draw(
        hnp.arrays(float, (steps, 2), elements=st.floats(0.0, 1e3, allow_subnormal=False))
    )
    resampled = resample_energy_preserving(power, source_s, target_s)
    assert resampled.shape == (steps * source_s // target_s, 2)
    np.testing.assert_allclose(
        resampled.sum(axis=0) * target_s, power.sum(axis=0) * source_s, rtol=1e-9, atol=1e-6
    )
    for column in range(2):
        expected = _cumulative_reference(power[:, column], source_s, target_s)
        np.testing.assert_allclose(resampled[:, column], expected, rtol=1e-7, atol=1e-6)


def test_calendar_series_across_the_autumn_clock_change() -> None:
    # Hourly 1, 2, 3, ... over the 25-hour day: 15-minute steps repeat each hour's value.
    hourly_times = pd.date_range("2024-10-27", periods=25, freq="h", tz=TZ)
    hourly = pd.DataFrame({"a": np.arange(1.0, 26.0), "b": 2.0}, index=hourly_times)
    target = pd.date_range("2024-10-27", periods=100, freq="15min", tz=TZ)
    quarter = resample_power_to_times(hourly, target, 900)
    assert isinstance(quarter, pd.DataFrame)
    assert list(quarter.columns) == ["a", "b"]
    assert quarter.index.equals(target)
    np.testing.assert_array_equal(quarter["a"].to_numpy(), np.repeat(np.arange(1.0, 26.0), 4))
    # Energy over the 25-hour day: sum of 1..25 kWh.
    assert quarter["a"].sum() * 0.25 == pytest.approx(325.0)


def test_calendar_series_with_an_offset_and_steps_that_are_not_multiples() -> None:
    source = pd.Series(
        [6.0, 0.0, 3.0], index=pd.date_range("2024-06-01 12:00", periods=3, freq="10min", tz=TZ)
    )
    # 12:05-12:20: 5 min at 6 and 10 min at 0; 12:10-12:25: 10 min at 0 and 5 min at 3.
    target = pd.DatetimeIndex(["2024-06-01 12:05"], tz=TZ)
    result = resample_power_to_times(source, target, 900)
    assert isinstance(result, pd.Series)
    assert result.iloc[0] == pytest.approx(2.0)
    later = pd.DatetimeIndex(["2024-06-01 12:10"], tz=TZ)
    assert resample_power_to_times(source, later, 900).iloc[0] == pytest.approx(1.0)


def test_target_in_another_time_zone_uses_absolute_instants() -> None:
    source = pd.Series(
        np.arange(4.0), index=pd.date_range("2024-06-01", periods=4, freq="h", tz="UTC")
    )
    target = pd.date_range("2024-06-01 03:00", periods=2, freq="30min", tz=TZ)  # 01:00 UTC
    np.testing.assert_allclose(resample_power_to_times(source, target, 1800), [1.0, 1.0])


def test_one_source_row_needs_its_step() -> None:
    source = pd.Series([2.0], index=pd.DatetimeIndex(["2024-06-01"], tz=TZ))
    target = pd.date_range("2024-06-01", periods=4, freq="15min", tz=TZ)
    np.testing.assert_allclose(resample_power_to_times(source, target, 900, source_step_s=3600), 2)
    with pytest.raises(ValueError, match="give its step in seconds"):
        resample_power_to_times(source, target, 900)


def test_source_that_does_not_cover_the_target_is_named() -> None:
    source = pd.Series(
        [1.0, 2.0], index=pd.date_range("2024-06-01 00:00", periods=2, freq="h", tz=TZ)
    )
    target = pd.date_range("2024-06-01 01:30", periods=2, freq="30min", tz=TZ)
    with pytest.raises(
        ValueError,
        match=r"covers 2024-06-01 00:00:00\+02:00 to 2024-06-01 02:00:00\+02:00; expected it "
        r"to cover the target steps from 2024-06-01 01:30:00\+02:00 to 2024-06-01 02:30",
    ):
        resample_power_to_times(source, target, 1800)


@pytest.mark.parametrize(
    ("index", "pattern"),
    [
        (pd.date_range("2024-06-01", periods=3, freq="h"), "power_kw.index is DatetimeIndex "),
        (
            pd.DatetimeIndex(["2024-06-01 00:00", "2024-06-01 01:00", "2024-06-01 03:00"], tz=TZ),
            r"not regular: entry 2 \(2024-06-01 03:00:00\+02:00\) is 7200\.0 s",
        ),
    ],
)
def test_bad_source_index_is_named(index: pd.DatetimeIndex, pattern: str) -> None:
    target = pd.date_range("2024-06-01", periods=2, freq="h", tz=TZ)
    with pytest.raises(ValueError, match=pattern):
        resample_power_to_times(pd.Series([1.0, 2.0, 3.0], index=index), target, 3600)


def test_non_finite_source_value_is_named() -> None:
    index = pd.date_range("2024-06-01", periods=2, freq="h", tz=TZ)
    with pytest.raises(ValueError, match=r"at 2024-06-01 01:00:00\+02:00 is \[nan\]"):
        resample_power_to_times(pd.DataFrame({"a": [1.0, np.nan]}, index=index), index[:1], 60)


def test_local_day_position_on_the_long_and_short_days() -> None:
    instants = pd.DatetimeIndex(
        [
            "2024-10-27 00:00",  # start of the 25-hour day
            "2024-10-27 12:00",  # 13 hours after midnight
            "2024-10-28 00:00",
            "2024-03-31 12:00",  # 11 hours into the 23-hour day
        ],
        tz=TZ,
    )
    day, fraction = local_day_position(instants)
    np.testing.assert_array_equal(day - day[0], [0, 0, 1, -210])
    np.testing.assert_allclose(fraction, [0.0, 13 / 25, 0.0, 11 / 23], rtol=1e-12)


def test_daily_profile_keeps_its_energy_on_every_local_day() -> None:
    rng = np.random.default_rng(3)
    profile = rng.uniform(0.1, 3.0, size=(1440, 2))
    daily_kwh = profile.sum(axis=0) / 60.0
    for start in ("2024-03-30", "2024-10-26", "2024-06-01"):
        times = pd.date_range(
            pd.Timestamp(start).tz_localize(TZ),
            (pd.Timestamp(start) + pd.Timedelta(days=3)).tz_localize(TZ),
            freq="15min",
            inclusive="left",
        )
        power = repeat_daily_profile(times, profile, 900)
        per_day = pd.DataFrame(power * 0.25).groupby(times.tz_localize(None).date).sum()
        np.testing.assert_allclose(per_day.to_numpy(), np.tile(daily_kwh, (3, 1)), rtol=1e-10)


def test_daily_profile_on_an_ordinary_day_is_the_quarter_hour_mean() -> None:
    profile = np.arange(1440, dtype=float)
    times = pd.date_range("2024-06-03", periods=96, freq="15min", tz=TZ)
    expected = profile.reshape(96, 15).mean(axis=1)
    np.testing.assert_allclose(repeat_daily_profile(times, profile, 900), expected, rtol=1e-12)
    # A step off the slot grid, 00:00:30-00:01:30, is half of slot 0 (0 kW) and half of slot 1.
    late = pd.DatetimeIndex(["2024-06-03 00:00:30"], tz=TZ)
    np.testing.assert_allclose(repeat_daily_profile(late, profile, 60), [0.5], rtol=1e-12)


def test_daily_profile_rejects_slots_that_do_not_divide_a_day() -> None:
    times = pd.date_range("2024-06-03", periods=2, freq="h", tz=TZ)
    with pytest.raises(ValueError, match="has 7 slots; expected a number that divides"):
        repeat_daily_profile(times, np.ones(7), 3600)
