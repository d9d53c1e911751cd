"""Price sources of the price feed: tariffs, synthetic wholesale prices, holding, price files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tefed.domain.prices.tariffs import (
    DEFAULT_EXPORT_PRICE_USD_PER_KWH,
    DEFAULT_IMPORT_PRICE_USD_PER_KWH,
    TimeOfUseWindow,
    flat_price_usd_per_kwh,
    time_of_use_price_usd_per_kwh,
)
from tefed.domain.prices.wholesale import (
    hold_to_intervals,
    synthetic_wholesale_usd_per_mwh,
    usd_per_mwh_to_usd_per_kwh,
)
from tefed.io.price_files import PRICE_SERIES_NAME, read_price_csv

CHICAGO = "America/Chicago"
ERCOT_FILE = Path("/work/shared/data/prices/ercot_dam_hb_houston_2022.csv")
ERCOT_HEADER = "delivery_date,hour_ending,repeated_hour,price_usd_per_mwh\n"


def local_times(*stamps: str, tz: str = CHICAGO) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(list(stamps)).tz_localize(tz)


def write_csv(tmp_path: Path, text: str, name: str = "prices.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# --- tariffs -------------------------------------------------------------------------------------


def test_net_billing_defaults_are_the_t_rex_prices():
    assert DEFAULT_IMPORT_PRICE_USD_PER_KWH == 0.1449
    assert DEFAULT_EXPORT_PRICE_USD_PER_KWH == 0.069


def test_flat_price_is_the_same_for_every_interval():
    times = pd.date_range("2022-01-01", periods=5, freq="15min", tz=CHICAGO)
    prices = flat_price_usd_per_kwh(times, 0.1449)
    np.testing.assert_array_equal(prices, [0.1449] * 5)


def test_flat_price_rejects_naive_times_and_non_finite_price():
    with pytest.raises(ValueError, match="times: got a DatetimeIndex without time zone"):
        flat_price_usd_per_kwh(pd.date_range("2022-01-01", periods=2, freq="h"), 0.1)
    times = pd.date_range("2022-01-01", periods=2, freq="h", tz=CHICAGO)
    with pytest.raises(ValueError, match=r"price_usd_per_kwh: got nan; expected a finite number"):
        flat_price_usd_per_kwh(times, float("nan"))


def test_time_of_use_window_start_inclusive_end_exclusive():
    # 2022-01-03 is a Monday.
    times = local_times(
        "2022-01-03 16:45", "2022-01-03 17:00", "2022-01-03 20:45", "2022-01-03 21:00"
    )
    prices = time_of_use_price_usd_per_kwh(times, 0.10, [TimeOfUseWindow(17, 21, 0.30)])
    np.testing.assert_array_equal(prices, [0.10, 0.30, 0.30, 0.10])


def test_time_of_use_window_wrapping_midnight():
    times = local_times(
        "2022-01-03 21:45",
        "2022-01-03 22:00",
        "2022-01-04 00:00",
        "2022-01-04 05:30",
        "2022-01-04 06:00",
        "2022-01-04 12:00",
    )
    prices = time_of_use_price_usd_per_kwh(times, 0.10, [TimeOfUseWindow(22, 6, 0.05)])
    np.testing.assert_array_equal(prices, [0.10, 0.05, 0.05, 0.05, 0.10, 0.10])


def test_time_of_use_weekday_and_weekend_windows():
    # Friday 2022-01-07, Saturday 2022-01-08, Sunday 2022-01-09, Monday 2022-01-10, all 18:00.
    times = local_times(
        "2022-01-07 18:00", "2022-01-08 18:00", "2022-01-09 18:00", "2022-01-10 18:00"
    )
    windows = [
        TimeOfUseWindow(17, 21, 0.30, days="weekdays"),
        TimeOfUseWindow(17, 21, 0.20, days="weekends"),
    ]
    prices = time_of_use_price_usd_per_kwh(times, 0.10, windows)
    np.testing.assert_array_equal(prices, [0.30, 0.20, 0.20, 0.30])


def test_time_of_use_weekday_wrapping_window_uses_the_day_of_each_time():
    # Friday 23:00 is a weekday; Saturday 02:00, after the same night's midnight, is not.
    times = local_times("2022-01-07 23:00", "2022-01-08 02:00", "2022-01-10 02:00")
    windows = [TimeOfUseWindow(22, 6, 0.05, days="weekdays")]
    prices = time_of_use_price_usd_per_kwh(times, 0.10, windows)
    np.testing.assert_array_equal(prices, [0.05, 0.10, 0.05])


def test_time_of_use_later_windows_override_earlier_ones():
    times = local_times("2022-01-03 08:00", "2022-01-03 13:00", "2022-01-03 19:00")
    day = TimeOfUseWindow(7, 22, 0.20)
    solar = TimeOfUseWindow(11, 15, 0.08)
    np.testing.assert_array_equal(
        time_of_use_price_usd_per_kwh(times, 0.10, [day, solar]), [0.20, 0.08, 0.20]
    )
    np.testing.assert_array_equal(
        time_of_use_price_usd_per_kwh(times, 0.10, [solar, day]), [0.20, 0.20, 0.20]
    )


def test_time_of_use_reads_hours_in_the_time_zone_of_the_times():
    # 23:00 UTC is 17:00 in Chicago in winter (UTC-6), inside the 17–21 window.
    times = pd.DatetimeIndex(["2022-01-03 23:00"]).tz_localize("UTC").tz_convert(CHICAGO)
    prices = time_of_use_price_usd_per_kwh(times, 0.10, [TimeOfUseWindow(17, 21, 0.30)])
    np.testing.assert_array_equal(prices, [0.30])


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((25, 6, 0.1), r"start_hour: got 25; expected an hour of local time in \[0, 24\]"),
        ((6, -1, 0.1), r"end_hour: got -1; expected an hour of local time in \[0, 24\]"),
        ((6, 6, 0.1), r"start_hour and end_hour: both 6, an empty window"),
        ((6, 9, float("inf")), r"price_usd_per_kwh: got inf; expected a finite number"),
        ((6, 9, 0.1, "monday"), r"days: got 'monday'; expected one of all, weekdays, weekends"),
    ],
)
def test_time_of_use_window_validation_names_field_and_value(arguments, message):
    with pytest.raises(ValueError, match=message):
        TimeOfUseWindow(*arguments)


def test_time_of_use_rejects_non_window_and_bad_base_price():
    times = local_times("2022-01-03 08:00")
    with pytest.raises(ValueError, match=r"windows\[0\]: got \(17, 21, 0.3\); expected a Time"):
        time_of_use_price_usd_per_kwh(times, 0.10, [(17, 21, 0.3)])
    with pytest.raises(ValueError, match="base_price_usd_per_kwh: got 'x'"):
        time_of_use_price_usd_per_kwh(times, "x", [])


# --- synthetic wholesale prices ------------------------------------------------------------------


def one_week(freq: str = "15min") -> pd.DatetimeIndex:
    return pd.date_range(
        "2022-01-03", periods=pd.Timedelta("7D") // pd.Timedelta(freq), freq=freq, tz=CHICAGO
    )


def test_synthetic_wholesale_is_deterministic_per_seed():
    times = one_week()
    first = synthetic_wholesale_usd_per_mwh(times, seed=7)
    again = synthetic_wholesale_usd_per_mwh(times, seed=7)
    other = synthetic_wholesale_usd_per_mwh(times, seed=8)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def test_synthetic_wholesale_noise_free_hand_values():
    # Monday 19:00 (evening peak): 1.06 · (45 + 25); Saturday 19:00: 0.85 · (45 + 25).
    times = local_times("2022-01-03 19:00", "2022-01-08 19:00")
    prices = synthetic_wholesale_usd_per_mwh(times, seed=0, noise_usd_per_mwh=0.0)
    np.testing.assert_allclose(prices, [74.2, 59.5])


def test_synthetic_wholesale_weekly_mean():
    noise_free = synthetic_wholesale_usd_per_mwh(one_week("1h"), seed=0, noise_usd_per_mwh=0.0)
    assert noise_free.mean() == pytest.approx(45.0, abs=1e-3)
    for seed in range(5):
        prices = synthetic_wholesale_usd_per_mwh(one_week(), seed=seed, mean_usd_per_mwh=60.0)
        assert prices.mean() == pytest.approx(60.0, abs=3.0)


def test_synthetic_wholesale_noise_has_the_requested_spread():
    times = pd.date_range("2022-01-01", "2023-01-01", freq="h", inclusive="left", tz=CHICAGO)
    noisy = synthetic_wholesale_usd_per_mwh(times, seed=3, noise_usd_per_mwh=4.0)
    clean = synthetic_wholesale_usd_per_mwh(times, seed=3, noise_usd_per_mwh=0.0)
    assert np.std(noisy - clean) == pytest.approx(4.0, rel=0.15)
    # AR(1) with a 3 h correlation time: neighbouring hours correlate by about exp(-1/3).
    noise = noisy - clean
    lag_one = np.corrcoef(noise[:-1], noise[1:])[0, 1]
    assert lag_one == pytest.approx(np.exp(-1.0 / 3.0), abs=0.05)


def test_synthetic_wholesale_daily_shape_evening_peak_above_night_trough():
    times = one_week("1h")
    prices = synthetic_wholesale_usd_per_mwh(times, seed=11)
    evening = prices[times.hour == 19]
    night = prices[times.hour == 3]
    midday = prices[times.hour == 13]
    morning = prices[times.hour == 8]
    assert np.all(evening > night)
    assert np.all(evening > midday)
    assert np.all(morning > midday)
    assert np.all(morning > night)


def test_synthetic_wholesale_validation_names_field_and_value():
    times = one_week("1h")
    with pytest.raises(ValueError, match="seed: got -1; expected a non-negative integer"):
        synthetic_wholesale_usd_per_mwh(times, seed=-1)
    with pytest.raises(ValueError, match=r"daily_amplitude_usd_per_mwh: got -5.0; expected a fin"):
        synthetic_wholesale_usd_per_mwh(times, seed=1, daily_amplitude_usd_per_mwh=-5.0)
    with pytest.raises(ValueError, match="noise_usd_per_mwh: got nan"):
        synthetic_wholesale_usd_per_mwh(times, seed=1, noise_usd_per_mwh=float("nan"))
    with pytest.raises(ValueError, match=r"times: got .*2022-01-03T00:00:00-06:00 at position 1"):
        synthetic_wholesale_usd_per_mwh(times[[0, 0, 1]], seed=1)


def test_usd_per_mwh_to_usd_per_kwh():
    np.testing.assert_allclose(usd_per_mwh_to_usd_per_kwh(np.array([33.2, -5.0])), [0.0332, -0.005])


# --- holding onto intervals ----------------------------------------------------------------------


def test_hold_hourly_prices_over_quarter_hours():
    hours = pd.date_range("2022-01-01 00:00", periods=3, freq="h", tz=CHICAGO)
    quarters = pd.date_range("2022-01-01 00:30", periods=8, freq="15min", tz=CHICAGO)
    held = hold_to_intervals(hours, np.array([30.0, 40.0, 50.0]), quarters)
    np.testing.assert_array_equal(held, [30, 30, 40, 40, 40, 40, 50, 50])


def test_hold_covers_the_last_source_period_and_no_further():
    hours = pd.date_range("2022-01-01 00:00", periods=2, freq="h", tz=CHICAGO)
    last_quarter = local_times("2022-01-01 01:45")
    np.testing.assert_array_equal(hold_to_intervals(hours, np.array([1.0, 2.0]), last_quarter), [2])
    starts = local_times("2022-01-01 01:00", "2022-01-01 02:00", "2022-01-01 02:15")
    with pytest.raises(
        ValueError,
        match=r"interval_starts: 2022-01-01T02:00:00-06:00 is not covered by the source; expected"
        r" interval starts from 2022-01-01T00:00:00-06:00 up to but not including "
        r"2022-01-01T02:00:00-06:00",
    ):
        hold_to_intervals(hours, np.array([1.0, 2.0]), starts)
    with pytest.raises(ValueError, match="interval_starts: 2021-12-31T23:45:00-06:00 is not cov"):
        hold_to_intervals(hours, np.array([1.0, 2.0]), local_times("2021-12-31 23:45"))


def test_hold_across_the_end_of_daylight_saving_time():
    # Hourly source over 2022-11-06 in Chicago (25 local hours), held over 15-min intervals.
    hours = pd.date_range("2022-11-06", "2022-11-07", freq="h", inclusive="left", tz=CHICAGO)
    assert len(hours) == 25
    quarters = pd.date_range("2022-11-06", "2022-11-07", freq="15min", inclusive="left", tz=CHICAGO)
    held = hold_to_intervals(hours, np.arange(25.0), quarters)
    np.testing.assert_array_equal(held, np.repeat(np.arange(25.0), 4))


def test_hold_validation():
    hours = pd.date_range("2022-01-01", periods=2, freq="h", tz=CHICAGO)
    with pytest.raises(ValueError, match=r"source_values: got shape \(3,\); expected \(2,\)"):
        hold_to_intervals(hours, np.zeros(3), hours)
    with pytest.raises(ValueError, match="source_times: got 1 time"):
        hold_to_intervals(hours[:1], np.zeros(1), hours[:1])
    with pytest.raises(ValueError, match="interval_starts: got a DatetimeIndex without time zone"):
        hold_to_intervals(hours, np.zeros(2), pd.date_range("2022-01-01", periods=2, freq="h"))


# --- price files ---------------------------------------------------------------------------------


def test_reference_ercot_file():
    if not ERCOT_FILE.exists():
        pytest.skip(f"reference price file {ERCOT_FILE} is absent")
    prices = read_price_csv(ERCOT_FILE, CHICAGO)
    assert prices.name == PRICE_SERIES_NAME
    assert len(prices) == 8760
    index = prices.index
    assert isinstance(index, pd.DatetimeIndex)
    assert str(index.tz) == CHICAGO
    assert index.is_monotonic_increasing and index.is_unique
    assert index.tz_convert("UTC").is_unique
    assert len(prices.loc["2022-03-13"]) == 23
    assert len(prices.loc["2022-11-06"]) == 25
    assert (np.diff(index.as_unit("ns").asi8) == 3600 * 10**9).all()
    assert index[0] == pd.Timestamp("2022-01-01 00:00", tz=CHICAGO)
    assert prices.iloc[0] == pytest.approx(33.2)
    # The repeated hour: hour ending 2 at 01:00 CDT (N, 7.39) then 01:00 CST (Y, 7.51).
    assert prices.loc[pd.Timestamp("2022-11-06 06:00", tz="UTC")] == pytest.approx(7.39)
    assert prices.loc[pd.Timestamp("2022-11-06 07:00", tz="UTC")] == pytest.approx(7.51)


def test_ercot_layout_handles_both_daylight_saving_changes(tmp_path):
    spring = write_csv(
        tmp_path,
        ERCOT_HEADER + "2022-03-13,1,N,9\n2022-03-13,2,N,10\n2022-03-13,4,N,11\n",
        "spring.csv",
    )
    prices = read_price_csv(spring, CHICAGO)
    # Hour ending 2 starts at 01:00 CST = 07:00 UTC; hour ending 4 at 03:00 CDT = 08:00 UTC.
    expected = pd.DatetimeIndex(["2022-03-13 06:00", "2022-03-13 07:00", "2022-03-13 08:00"])
    assert list(prices.index) == list(expected.tz_localize("UTC"))
    np.testing.assert_array_equal(prices.to_numpy(), [9, 10, 11])

    fall = write_csv(
        tmp_path,
        ERCOT_HEADER + "2022-11-06,1,N,20\n2022-11-06,2,N,21\n"
        "2022-11-06,2,Y,22\n2022-11-06,3,N,23\n",
        "fall.csv",
    )
    prices = read_price_csv(fall, CHICAGO)
    expected = pd.DatetimeIndex(
        ["2022-11-06 05:00", "2022-11-06 06:00", "2022-11-06 07:00", "2022-11-06 08:00"]
    )
    assert list(prices.index) == list(expected.tz_localize("UTC"))
    np.testing.assert_array_equal(prices.to_numpy(), [20, 21, 22, 23])


def test_ercot_layout_rejects_skipped_hour_and_misplaced_flag(tmp_path):
    skipped = write_csv(tmp_path, ERCOT_HEADER + "2022-03-13,2,N,10\n2022-03-13,3,N,11\n")
    with pytest.raises(
        ValueError,
        match=r"line 3 \(delivery_date 2022-03-13, hour_ending 3\).*"
        r"does not exist in America/Chicago",
    ):
        read_price_csv(skipped, CHICAGO)
    flagged = write_csv(tmp_path, ERCOT_HEADER + "2022-01-01,1,N,10\n2022-01-01,2,Y,11\n", "f.csv")
    with pytest.raises(ValueError, match=r"repeated_hour at line 3 .*got 'Y'.*expected N"):
        read_price_csv(flagged, CHICAGO)
    unflagged = write_csv(tmp_path, ERCOT_HEADER + "2022-11-06,2,N,1\n2022-11-06,2,N,2\n", "u.csv")
    with pytest.raises(
        ValueError,
        match=r"duplicate timestamp 2022-11-06T01:00:00-05:00 at lines 2 and 3.*repeated_hour=Y",
    ):
        read_price_csv(unflagged, CHICAGO)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("2022-01-01,25,N,10", r"hour_ending at line 3: got '25'; expected a whole hour from 1"),
        ("2022-13-01,2,N,10", r"delivery_date at line 3: got '2022-13-01'; expected a date"),
        ("2022-01-01,2,maybe,10", r"repeated_hour at line 3: got 'maybe'; expected Y or N"),
        ("2022-01-01,2,N,n/a", r"price_usd_per_mwh at line 3: got 'n/a'; expected a finite"),
    ],
)
def test_ercot_layout_bad_cells_name_line_and_value(tmp_path, row, message):
    path = write_csv(tmp_path, ERCOT_HEADER + "2022-01-01,1,N,10\n" + row + "\n")
    with pytest.raises(ValueError, match=message):
        read_price_csv(path, CHICAGO)


def test_generic_layout_naive_timestamps_are_local(tmp_path):
    path = write_csv(
        tmp_path,
        "timestamp,lmp_usd_per_mwh,note\n"
        "2022-07-01T00:00,30.5,a\n2022-07-01T00:15,31,b\n2022-07-01T00:30,-2.5,c\n",
    )
    prices = read_price_csv(path, CHICAGO)
    assert prices.name == PRICE_SERIES_NAME
    assert prices.index[0] == pd.Timestamp("2022-07-01 05:00", tz="UTC")
    assert str(prices.index.tz) == CHICAGO
    np.testing.assert_array_equal(prices.to_numpy(), [30.5, 31.0, -2.5])


def test_generic_layout_offset_timestamps_are_converted(tmp_path):
    # Across the end of daylight saving time, offsets tell the two 01:00 apart.
    path = write_csv(
        tmp_path,
        "timestamp,price_usd_per_mwh\n"
        "2022-11-06T01:00:00-05:00,1\n2022-11-06T01:00:00-06:00,2\n2022-11-06T08:00:00Z,3\n",
    )
    prices = read_price_csv(path, CHICAGO)
    expected = pd.DatetimeIndex(["2022-11-06 06:00", "2022-11-06 07:00", "2022-11-06 08:00"])
    assert list(prices.index) == list(expected.tz_localize("UTC"))
    assert [stamp.utcoffset() for stamp in prices.index] == [
        pd.Timedelta(hours=-5),
        pd.Timedelta(hours=-6),
        pd.Timedelta(hours=-6),
    ]


def test_generic_layout_naive_repeated_hour_resolved_by_order(tmp_path):
    path = write_csv(
        tmp_path,
        "timestamp,price_usd_per_mwh\n"
        "2022-11-06 00:00,1\n2022-11-06 01:00,2\n2022-11-06 01:00,3\n2022-11-06 02:00,4\n",
    )
    prices = read_price_csv(path, CHICAGO)
    assert list(prices.index.tz_convert("UTC").hour) == [5, 6, 7, 8]
    np.testing.assert_array_equal(prices.to_numpy(), [1, 2, 3, 4])
    lone = write_csv(tmp_path, "timestamp,price_usd_per_mwh\n2022-11-06 01:00,2\n", "lone.csv")
    with pytest.raises(
        ValueError,
        match="timestamp at line 2: got '2022-11-06 01:00', a local time that occurs twice",
    ):
        read_price_csv(lone, CHICAGO)


def test_generic_layout_explicit_and_ambiguous_price_column(tmp_path):
    path = write_csv(tmp_path, "timestamp,da_usd_per_mwh,rt_usd_per_mwh\n2022-01-01 00:00,10,12\n")
    assert read_price_csv(path, CHICAGO, price_column="rt_usd_per_mwh").iloc[0] == 12.0
    with pytest.raises(ValueError, match=r"found \['da_usd_per_mwh', 'rt_usd_per_mwh'\]"):
        read_price_csv(path, CHICAGO)
    with pytest.raises(ValueError, match="price_column: got 'lmp'; expected one of the columns"):
        read_price_csv(path, CHICAGO, price_column="lmp")


def test_generic_layout_rows_in_any_order_are_sorted(tmp_path):
    path = write_csv(
        tmp_path, "timestamp,price_usd_per_mwh\n2022-01-01 01:00,2\n2022-01-01 00:00,1\n"
    )
    np.testing.assert_array_equal(read_price_csv(path, CHICAGO).to_numpy(), [1.0, 2.0])


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            "2022-01-01 00:00,1\n2022-01-01 01:00,2\n2022-01-01 01:00,3\n",
            r"duplicate timestamp 2022-01-01T01:00:00-06:00 at lines 3 and 4; expected each "
            r"interval once$",
        ),
        (
            "2022-01-01 00:00,1\n2022-01-01 01:00,2\n2022-01-01 03:00,3\n2022-01-01 04:00,4\n",
            r"gap between 2022-01-01T01:00:00-06:00 \(line 3\) and 2022-01-01T03:00:00-06:00 "
            r"\(line 4\): 0 days 02:00:00 apart; expected a regular series every 0 days 01:00:00",
        ),
        (
            "2022-01-01 00:00,1\n2022-01-01 01:00,2\n2022-01-01 01:30,3\n2022-01-01 02:30,4\n",
            r"irregular spacing between 2022-01-01T01:00:00-06:00 \(line 3\)",
        ),
        ("2022-01-01 00:00,1\n2022-01-01 01:00,abc\n", r"price_usd_per_mwh at line 3: got 'abc'"),
        ("2022-01-01 00:00,1\nyesterday,2\n", r"timestamp at line 3: got 'yesterday'; expected"),
        ("2022-03-13 02:00,1\n", r"line 2 \(timestamp 2022-03-13 02:00\).*does not exist"),
    ],
)
def test_generic_layout_errors_name_line_and_value(tmp_path, rows, message):
    path = write_csv(tmp_path, "timestamp,price_usd_per_mwh\n" + rows)
    with pytest.raises(ValueError, match=message):
        read_price_csv(path, CHICAGO)


def test_file_level_errors(tmp_path):
    missing = tmp_path / "nowhere.csv"
    with pytest.raises(ValueError, match=f"{missing}: price file not found"):
        read_price_csv(missing, CHICAGO)
    unknown = write_csv(tmp_path, "time,price\n2022-01-01 00:00,1\n")
    with pytest.raises(
        ValueError,
        match=r"unknown layout with columns \['time', 'price'\]; expected the ERCOT day-ahead "
        r"layout \(delivery_date, hour_ending, repeated_hour, price_usd_per_mwh\) or the generic",
    ):
        read_price_csv(unknown, CHICAGO)
    header_only = write_csv(tmp_path, "timestamp,price_usd_per_mwh\n", "header.csv")
    with pytest.raises(ValueError, match="no data rows after the header"):
        read_price_csv(header_only, CHICAGO)
    with pytest.raises(ValueError, match="timezone: got 'Mars/Olympus'; expected an IANA"):
        read_price_csv(unknown, "Mars/Olympus")


def test_an_interval_spanning_finer_prices_gets_their_time_weighted_mean():
    # Five-minute prices on a 15-minute market: before, each interval took its first price.
    fives = pd.date_range("2022-06-20 00:00", periods=6, freq="5min", tz="Europe/Berlin")
    starts = pd.date_range("2022-06-20 00:00", periods=2, freq="15min", tz="Europe/Berlin")
    values = np.array([10.0, 20.0, 60.0, 0.0, 0.0, 30.0])
    assert hold_to_intervals(fives, values, starts, 900).tolist() == [30.0, 10.0]
    assert hold_to_intervals(fives, values, starts).tolist() == [10.0, 0.0]
    # A 20-minute interval from 00:05 spans three five-minute prices and a third of none.
    later = pd.DatetimeIndex([fives[1]])
    assert hold_to_intervals(fives, values, later, 1200).tolist() == [(20 + 60 + 0 + 0) / 4]
    # Half-hour prices over 45-minute intervals: each half hour weighs what it holds.
    halves = pd.date_range("2022-06-20 00:00", periods=3, freq="30min", tz="UTC")
    quarters = pd.DatetimeIndex([halves[0]])
    weighted = hold_to_intervals(halves, np.array([40.0, 100.0, 0.0]), quarters, 2700)
    assert weighted.tolist() == [pytest.approx((40.0 * 30 + 100.0 * 15) / 45)]


def test_coarser_prices_are_held_exactly_and_the_whole_interval_must_be_covered():
    hours = pd.date_range("2022-06-20 00:00", periods=2, freq="h", tz="UTC")
    quarters = pd.date_range("2022-06-20 00:00", periods=8, freq="15min", tz="UTC")
    values = np.array([0.1 + 0.2, 1 / 3])  # not exact in binary: held, never re-averaged
    assert (
        hold_to_intervals(hours, values, quarters, 900).tolist()
        == [values[0]] * 4 + [values[1]] * 4
    )
    late = pd.DatetimeIndex([hours[1] + pd.Timedelta(minutes=50)])
    with pytest.raises(ValueError, match=r"intervals of 900 s ending by then"):
        hold_to_intervals(hours, values, late, 900)
    with pytest.raises(ValueError, match="interval_s: got 0"):
        hold_to_intervals(hours, values, quarters, 0)
