"""Reading load profiles from CSV files and folders of daily profiles, with named errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tefed.contract.role_configs import LoadSourceConfig
from tefed.domain.ems.devices.resampling import repeat_daily_profile
from tefed.io.profile_files import (
    profile_names,
    read_daily_profile_folder,
    read_long_profile_csv,
    read_profile_csv,
)

LV_PROFILES = (
    Path(__file__).resolve().parents[3] / "shared/feeders/LVTestCase/Daily_1min_100profiles"
)
TZ = "Europe/Berlin"


def _csv(tmp_path: Path, text: str, name: str = "load.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


QUARTER = "time,house_a,house_b\n2024-06-01 00:00,1000,0\n2024-06-01 00:15,500,250\n"


@pytest.mark.parametrize(
    ("unit", "expected_a", "expected_b"),
    [
        ("kW", [1000.0, 500.0], [0.0, 250.0]),
        ("W", [1.0, 0.5], [0.0, 0.25]),
        ("kWh", [4000.0, 2000.0], [0.0, 1000.0]),  # kWh per 15 min is 4 kW per kWh
        ("Wh", [4.0, 2.0], [0.0, 1.0]),
    ],
)
def test_units_become_mean_kw(
    tmp_path: Path, unit: str, expected_a: list[float], expected_b: list[float]
) -> None:
    table = read_profile_csv(_csv(tmp_path, QUARTER), unit=unit, timezone=TZ)
    assert table.step_s == 900
    assert list(table.power_kw.columns) == ["house_a", "house_b"]
    assert str(table.power_kw.index.tz) == TZ
    assert table.power_kw.index[0] == pd.Timestamp("2024-06-01 00:00", tz=TZ)
    np.testing.assert_allclose(table.power_kw["house_a"], expected_a)
    np.testing.assert_allclose(table.power_kw["house_b"], expected_b)


def test_unknown_unit_lists_the_accepted_ones(tmp_path: Path) -> None:
    with pytest.raises(
        ValueError, match=r"unit is 'kw'; expected one of \['kW', 'W', 'kWh', 'Wh'\]"
    ):
        read_profile_csv(_csv(tmp_path, QUARTER), unit="kw", timezone=TZ)


def test_naive_timestamps_need_a_time_zone(tmp_path: Path) -> None:
    path = _csv(tmp_path, QUARTER)
    with pytest.raises(
        ValueError, match=r"load\.csv: timestamps have no time zone .*give timezone="
    ):
        read_profile_csv(path, unit="kW")
    with pytest.raises(ValueError, match="timezone is 'Mars/Olympus'"):
        read_profile_csv(path, unit="kW", timezone="Mars/Olympus")


def test_offsets_in_the_file_are_kept_or_converted(tmp_path: Path) -> None:
    # Hourly rows across the spring clock change, written with their offsets.
    text = "time,h\n2024-03-31 01:00+01:00,1\n2024-03-31 03:00+02:00,2\n2024-03-31 04:00+02:00,3\n"
    path = _csv(tmp_path, text)
    table = read_profile_csv(path, unit="kW")
    assert table.step_s == 3600
    assert table.power_kw.index[1] == pd.Timestamp("2024-03-31 01:00", tz="UTC")
    converted = read_profile_csv(path, unit="kW", timezone=TZ)
    assert str(converted.power_kw.index.tz) == TZ


def test_local_time_across_the_spring_clock_change_skips_the_missing_hour(tmp_path: Path) -> None:
    text = (
        "time,h\n2024-03-31 01:30,1\n2024-03-31 01:45,1\n2024-03-31 03:00,1\n2024-03-31 03:15,1\n"
    )
    table = read_profile_csv(_csv(tmp_path, text), unit="kW", timezone=TZ)
    assert table.step_s == 900
    assert table.power_kw.index[2] - table.power_kw.index[1] == pd.Timedelta(minutes=15)


def test_a_time_the_clock_skips_is_named(tmp_path: Path) -> None:
    text = "time,h\n2024-03-31 01:45,1\n2024-03-31 02:00,1\n2024-03-31 03:00,1\n"
    with pytest.raises(ValueError, match=r"line 3: '2024-03-31 02:00' does not exist in Europe/"):
        read_profile_csv(_csv(tmp_path, text), unit="kW", timezone=TZ)


def test_the_repeated_autumn_hour_listed_twice_is_read_in_order(tmp_path: Path) -> None:
    wall = ["01:30", "02:00", "02:30", "02:00", "02:30", "03:00"]
    text = "time,h\n" + "".join(f"2024-10-27 {clock},{i}\n" for i, clock in enumerate(wall))
    table = read_profile_csv(_csv(tmp_path, text), unit="kW", timezone=TZ)
    assert table.step_s == 1800
    assert len(table.power_kw) == 6
    # 01:30 CEST (23:30 UTC) to 03:00 CET (02:00 UTC): five steps of 30 minutes.
    assert table.power_kw.index[-1] - table.power_kw.index[0] == pd.Timedelta(hours=2.5)


def test_the_repeated_autumn_hour_listed_once_is_ambiguous(tmp_path: Path) -> None:
    text = "time,h\n2024-10-27 01:30,1\n2024-10-27 02:00,1\n2024-10-27 02:30,1\n"
    with pytest.raises(ValueError, match=r"line 3: '2024-10-27 02:00' is ambiguous in Europe/"):
        read_profile_csv(_csv(tmp_path, text), unit="kW", timezone=TZ)


@pytest.mark.parametrize(
    ("rows", "pattern"),
    [
        (
            ["00:00,1", "00:15,1", "00:15,1", "00:30,1"],
            r"lines 3 and 4: duplicate timestamp 2024-06-01 00:15:00\+02:00",
        ),
        (
            ["00:00,1", "00:15,1", "00:30,1", "01:00,1"],
            r"line 5: gap of 1 missing row\(s\): .* is 1800\.0 s after .* on line 4; "
            r"expected the file's step of 900 s",
        ),
        (
            ["00:00,1", "00:15,1", "00:30,1", "00:40,1"],
            r"line 5: irregular step: .* is 600\.0 s after",
        ),
        (
            ["00:00,1", "00:15,1", "00:30,1", "00:20,1"],
            r"line 5: timestamp 2024-06-01 00:20:00\+02:00 is before",
        ),
        (
            ["00:00,1", "00:15,1", "xx,1"],
            r"line 4: timestamp '2024-06-01 xx' in column 'time' is not a date",
        ),
    ],
)
def test_bad_timestamps_are_named(tmp_path: Path, rows: list[str], pattern: str) -> None:
    text = "time,h\n" + "".join(f"2024-06-01 {row}\n" for row in rows)
    with pytest.raises(ValueError, match=pattern):
        read_profile_csv(_csv(tmp_path, text), unit="kW", timezone=TZ)


@pytest.mark.parametrize(
    ("cell", "pattern"),
    [
        ("abc", r"column 'b', line 3: value 'abc' is missing, not a number"),
        ("", r"column 'b', line 3: value '' is missing"),
        ("nan", r"column 'b', line 3: value 'nan' is missing"),
        ("inf", r"column 'b', line 3: value 'inf' is missing, not a number or not finite"),
        ("-0.2", r"column 'b', line 3: value '-0.2' is a negative load; expected a value >= 0 kW"),
    ],
)
def test_bad_values_are_named(tmp_path: Path, cell: str, pattern: str) -> None:
    text = f"time,a,b\n2024-06-01 00:00,1,2\n2024-06-01 00:15,1,{cell}\n2024-06-01 00:30,1,2\n"
    with pytest.raises(ValueError, match=r"load\.csv, " + pattern):
        read_profile_csv(_csv(tmp_path, text), unit="kW", timezone=TZ)


def test_time_column_and_header_checks(tmp_path: Path) -> None:
    text = "house,when\n1.5,2024-06-01 00:00\n2.5,2024-06-01 01:00\n"
    table = read_profile_csv(_csv(tmp_path, text), unit="kW", timezone=TZ, time_column="when")
    assert table.step_s == 3600
    np.testing.assert_allclose(table.power_kw["house"], [1.5, 2.5])
    with pytest.raises(ValueError, match=r"no column 'time'; the columns are \['house', 'when'\]"):
        read_profile_csv(_csv(tmp_path, text), unit="kW", timezone=TZ, time_column="time")
    duplicate = "time,a,a\n2024-06-01 00:00,1,1\n2024-06-01 00:15,1,1\n"
    with pytest.raises(ValueError, match="column 'a' appears twice"):
        read_profile_csv(_csv(tmp_path, duplicate), unit="kW", timezone=TZ)
    with pytest.raises(ValueError, match="1 data row"):
        read_profile_csv(_csv(tmp_path, "time,a\n2024-06-01 00:00,1\n\n"), unit="kW", timezone=TZ)


def test_daily_folder_in_natural_order_with_named_errors(tmp_path: Path) -> None:
    for number, value in ((10, "2"), (2, " 0.5 "), (1, "1")):
        (tmp_path / f"load_profile_{number}.txt").write_text(f"{value}\r\n" * 24)
    table = read_daily_profile_folder(tmp_path, unit="kW", step_s=3600)
    assert list(table.power_kw.columns) == ["load_profile_1", "load_profile_2", "load_profile_10"]
    assert table.power_kw.index[1] == pd.Timedelta(hours=1)
    np.testing.assert_allclose(table.power_kw.iloc[0], [1.0, 0.5, 2.0])
    (tmp_path / "load_profile_3.txt").write_text("1\n" * 23)
    with pytest.raises(ValueError, match=r"load_profile_3\.txt: 23 lines; expected 24"):
        read_daily_profile_folder(tmp_path, step_s=3600)
    (tmp_path / "load_profile_3.txt").write_text("1\n" * 5 + "-1\n" + "1\n" * 18)
    with pytest.raises(ValueError, match=r"load_profile_3\.txt, column .*line 6: value '-1'"):
        read_daily_profile_folder(tmp_path, step_s=3600)
    with pytest.raises(ValueError, match="none: no such folder"):
        read_daily_profile_folder(tmp_path / "none")
    with pytest.raises(ValueError, match=r"no file matches '\*\.csv'"):
        read_daily_profile_folder(tmp_path, pattern="*.csv")


@pytest.mark.skipif(not LV_PROFILES.is_dir(), reason=f"{LV_PROFILES} is not on this machine")
def test_ieee_lv_test_feeder_profiles() -> None:
    table = read_daily_profile_folder(LV_PROFILES, unit="kW", step_s=60)
    power = table.power_kw
    assert power.shape == (1440, 100)
    assert power.columns[:3].tolist() == ["load_profile_1", "load_profile_2", "load_profile_3"]
    assert power.columns[-1] == "load_profile_100"
    # The first profile's first line is 0.036 kW and its day holds 10.2235 kWh (sum / 60).
    assert power.iloc[0, 0] == pytest.approx(0.036)
    assert power["load_profile_1"].sum() / 60.0 == pytest.approx(10.2234833, rel=1e-6)
    assert (power.to_numpy() >= 0).all()
    # Laid onto the calendar, every day (also the 25-hour one) keeps each profile's energy.
    times = pd.date_range("2024-10-26", periods=3 * 96 + 4, freq="15min", tz="Europe/London")
    on_grid = repeat_daily_profile(times, power.to_numpy(), 900)
    per_day = pd.DataFrame(on_grid * 0.25).groupby(times.tz_localize(None).date).sum()
    np.testing.assert_allclose(
        per_day.to_numpy(), np.tile(power.sum().to_numpy() / 60.0, (3, 1)), rtol=1e-9
    )


def test_daily_folder_step_from_its_line_count(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / f"{name}.txt").write_text("2\n" * 96)
    table = read_daily_profile_folder(tmp_path, unit="kWh")
    assert table.step_s == 900
    np.testing.assert_allclose(table.power_kw.iloc[0], [8.0, 8.0])  # 2 kWh a quarter hour
    (tmp_path / "b.txt").write_text("2\n" * 97)
    with pytest.raises(ValueError, match=r"b\.txt: 97 lines; expected 96, one per 900 s step"):
        read_daily_profile_folder(tmp_path)
    (tmp_path / "a.txt").write_text("2\n" * 7)
    with pytest.raises(ValueError, match=r"a\.txt: 7 lines; expected one line per step of a day"):
        read_daily_profile_folder(tmp_path)


LONG = "household,time,value\n" + "".join(
    f"{name},2024-06-01 {hour:02d}:00,{value}\n" for hour in (0, 1) for name, value in ("a1", "b2")
)


def test_long_table_rows_of_households_may_interleave(tmp_path: Path) -> None:
    table = read_long_profile_csv(_csv(tmp_path, LONG), unit="W", timezone=TZ)
    assert table.step_s == 3600
    assert table.power_kw.to_dict("list") == {"a": [0.001, 0.001], "b": [0.002, 0.002]}
    assert str(table.power_kw.index[0]) == "2024-06-01 00:00:00+02:00"


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("house,time,value\na,2024-06-01 00:00,1\n", r"no column 'household'; expected"),
        (LONG.replace("b,2024-06-01 01:00", "b,2024-06-01 02:00"), r"household 'b' has 2 rows"),
        (LONG + "c,2024-06-01 00:00,1\n", r"household 'c' has 1 row\(s\); expected at least 2"),
        (LONG.replace("a,2024-06-01 01:00", " ,2024-06-01 01:00"), r"line 4: household is blank"),
        (LONG.replace("b,2024-06-01 01:00,2", "b,2024-06-01 01:00,x"), r"column 'value', line 5"),
    ],
)
def test_long_table_problems_are_named(tmp_path: Path, text: str, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        read_long_profile_csv(_csv(tmp_path, text), unit="kW", timezone=TZ)


def test_profile_names_of_each_layout(tmp_path: Path) -> None:
    source = {"unit": "kW", "timezone": TZ, "time_column": None, "files": None, "step_s": None}
    _csv(tmp_path, QUARTER)
    wide = LoadSourceConfig(profile="csv", path="load.csv", **source)
    assert profile_names(wide, tmp_path) == ["house_a", "house_b"]
    _csv(tmp_path, LONG, name="long.csv")
    long = LoadSourceConfig(profile="long_csv", path="long.csv", **source)
    assert profile_names(long, tmp_path) == ["a", "b"]
    _csv(tmp_path, "house_a,house_b\n1,2\n1,2\n", name="untimed.csv")
    untimed = LoadSourceConfig(profile="csv", path="untimed.csv", **source)
    with pytest.raises(ValueError, match="line 2: timestamp '1' in column 'house_a' is not a"):
        profile_names(untimed, tmp_path)


# --- what spreadsheets and loggers write ------------------------------------------------------

BOM = "\ufeff"  # Excel's "CSV UTF-8" starts the file with a byte-order mark


def _source(profile: str, path: str) -> LoadSourceConfig:
    return LoadSourceConfig(
        profile=profile,
        path=path,
        unit="kW",
        timezone=TZ,
        time_column=None,
        files=None,
        step_s=None,
    )


def test_a_byte_order_mark_is_read_in_every_layout(tmp_path: Path) -> None:
    # Reported: a wide CSV with a BOM crashed validate (KeyError: '\ufefftime'), and a long one
    # was refused for lacking the column 'household' (its header read '\ufeffhousehold').
    wide = _csv(tmp_path, BOM + QUARTER)
    assert profile_names(_source("csv", "load.csv"), tmp_path) == ["house_a", "house_b"]
    np.testing.assert_allclose(read_profile_csv(wide, "kW", TZ).power_kw["house_a"], [1000, 500])
    named = _csv(tmp_path, BOM + QUARTER.replace("time,", "when,"), name="named.csv")
    assert read_profile_csv(named, "kW", TZ, time_column="when").step_s == 900
    long = _csv(tmp_path, BOM + LONG, name="long.csv")
    assert profile_names(_source("long_csv", "long.csv"), tmp_path) == ["a", "b"]
    assert read_long_profile_csv(long, "W", TZ).power_kw.to_dict("list")["b"] == [0.002, 0.002]
    days = tmp_path / "days"
    days.mkdir()
    (days / "a.txt").write_text(BOM + "1.5\n" * 24, encoding="utf-8")
    np.testing.assert_allclose(read_daily_profile_folder(days, step_s=3600).power_kw["a"], 1.5)


def test_a_file_that_is_not_utf_8_is_named(tmp_path: Path) -> None:
    path = tmp_path / "load.csv"
    path.write_bytes(QUARTER.replace("house_a", "häuser").encode("latin-1"))
    with pytest.raises(ValueError, match=r"load\.csv: not UTF-8 text .*expected a UTF-8 file"):
        read_profile_csv(path, "kW", TZ)
    (tmp_path / "a.txt").write_bytes(b"1\n" * 23 + "ä\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"a\.txt: not UTF-8 text"):
        read_daily_profile_folder(tmp_path, step_s=3600)


def _trailing_commas(text: str, lines: slice = slice(None)) -> str:
    rows = text.splitlines()
    rows[lines] = [row + "," for row in rows[lines]]
    return "\n".join(rows) + "\n"


@pytest.mark.parametrize(
    "lines", [slice(None), slice(1, None)], ids=["every line", "data lines only"]
)
def test_a_trailing_comma_on_every_line_is_no_column(tmp_path: Path, lines: slice) -> None:
    # Reported: a trailing comma on every line crashed validate (KeyError: "[''] not in index").
    _csv(tmp_path, _trailing_commas(QUARTER, lines))
    assert profile_names(_source("csv", "load.csv"), tmp_path) == ["house_a", "house_b"]
    table = read_profile_csv(tmp_path / "load.csv", "kW", TZ)
    assert list(table.power_kw.columns) == ["house_a", "house_b"]
    np.testing.assert_allclose(table.power_kw["house_b"], [0, 250])
    _csv(tmp_path, _trailing_commas(LONG, lines), name="long.csv")
    assert profile_names(_source("long_csv", "long.csv"), tmp_path) == ["a", "b"]
    long = read_long_profile_csv(tmp_path / "long.csv", "W", TZ)
    assert long.power_kw.to_dict("list") == {"a": [0.001, 0.001], "b": [0.002, 0.002]}
    doubled = _csv(tmp_path, _trailing_commas(_trailing_commas(QUARTER)), name="doubled.csv")
    assert list(read_profile_csv(doubled, "kW", TZ).power_kw.columns) == ["house_a", "house_b"]


def test_an_unnamed_first_column_is_the_time_column(tmp_path: Path) -> None:
    # pandas' DataFrame.to_csv writes an unnamed index (the timestamps) with a blank name.
    path = _csv(tmp_path, QUARTER.replace("time,", ",", 1))
    assert profile_names(_source("csv", "load.csv"), tmp_path) == ["house_a", "house_b"]
    assert list(read_profile_csv(path, "kW", TZ).power_kw.columns) == ["house_a", "house_b"]


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        (
            "time,a,\n2024-06-01 00:00,1,\n2024-06-01 00:15,1,2\n",
            r"load\.csv, line 3: value '2' in column 3, which has no name in the header; "
            r"expected a name for every column that holds values",
        ),
        (
            "time,a\n2024-06-01 00:00,1\n2024-06-01 00:15,1,2\n",
            r"load\.csv, line 3: 3 fields; expected at most 2, as many as the lines before",
        ),
        (
            "time,a\n2024-06-01 00:00,1,7\n2024-06-01 00:15,1,\n",
            r"load\.csv, line 2: value '7' in column 3, which has no name in the header",
        ),
    ],
)
def test_values_in_a_column_without_a_name_are_refused(
    tmp_path: Path, text: str, pattern: str
) -> None:
    path = _csv(tmp_path, text)
    with pytest.raises(ValueError, match=pattern):
        read_profile_csv(path, "kW", TZ)


@pytest.mark.parametrize(
    ("line", "pattern"),
    [
        (
            "0,829",
            r"a\.txt, line 3: '0,829' is not one number; expected one number per line "
            r"\(a decimal comma\? write 0\.829\)",
        ),
        ("2,0.5", r"a\.txt, line 3: '2,0\.5' is not one number; expected one number per line$"),
        ("0.5;0.7", r"a\.txt, line 3: '0\.5;0\.7' is not one number; expected one number per"),
        ("0.5 0.7", r"a\.txt, line 3: '0\.5 0\.7' is not one number"),
        ("0.5,", r"a\.txt, line 3: '0\.5,' is not one number"),
    ],
)
def test_a_daily_file_line_that_is_not_one_number_is_refused(
    tmp_path: Path, line: str, pattern: str
) -> None:
    # Reported: only the first comma-separated field was read, so 0,829 read as 0 and passed.
    (tmp_path / "a.txt").write_text("1\n1\n" + line + "\n" + "1\n" * 21)
    with pytest.raises(ValueError, match=pattern):
        read_daily_profile_folder(tmp_path, step_s=3600)


def test_timestamps_mixing_offsets_and_none_are_named_as_such(tmp_path: Path) -> None:
    # Before: "'2024-06-01T00:15+02:00' is not a date and time", a valid timestamp.
    path = _csv(
        tmp_path,
        "time,house_a\n2024-06-01 00:00,1\n2024-06-01T00:15+02:00,2\n2024-06-01 00:30,3\n",
    )
    with pytest.raises(
        ValueError,
        match=r"mix UTC offsets \(line 3: '2024-06-01T00:15\+02:00'\) "
        r"and none \(line 2: '2024-06-01 00:00'\)",
    ):
        read_profile_csv(path, unit="kW", timezone=TZ)
    # A timestamp that is no date still reads as one.
    path = _csv(tmp_path, "time,house_a\n2024-06-01 00:00,1\nnoon,2\n", name="noon.csv")
    with pytest.raises(ValueError, match="line 3: timestamp 'noon' in column 'time' is not a date"):
        read_profile_csv(path, unit="kW", timezone=TZ)
