"""Measured load profiles in a scenario: which household takes which profile, what is recorded,
and every bad data file refused up front (validate, build and run), with exit code 2.

Each test writes its own small data files; profiles hold a constant value per column, so a
household's load tells which column it took. The short scenario runs 2022-06-21 11:00 to 13:00
in Europe/Berlin at one-minute steps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from federations import SHARED, short_scenario_data, write_federation

from tefed.build.validate import check_scenario
from tefed.cli import main
from tefed.contract.federation_file import FederationFile
from tefed.contract.role_configs import read_role_config
from tefed.federates.ems.household_profiles import household_profiles
from tefed.io.profile_files import read_long_profile_csv, read_profile_csv
from tefed.scenario.measured_loads import assign_profiles

LV_PROFILES = SHARED / "feeders/LVTestCase/Daily_1min_100profiles"
TZ = "Europe/Berlin"


def profile_csv(
    folder: Path,
    values: dict[str, float],
    name: str = "loads.csv",
    start: str = "2022-06-21 00:00",
    periods: int = 24,
    freq: str = "h",
) -> Path:
    """A wide CSV: a time column, then one constant column per profile [kW]."""
    times = pd.date_range(start, periods=periods, freq=freq)
    frame = pd.DataFrame({key: np.full(periods, value) for key, value in values.items()})
    frame.insert(0, "time", times.strftime("%Y-%m-%d %H:%M"))
    path = folder / name
    frame.to_csv(path, index=False)
    return path


def scenario_with(folder: Path, groups: list[dict]) -> Path:
    data = short_scenario_data()
    data["households"] = groups
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def csv_group(count: int, **load: object) -> dict:
    return {
        "group": f"g{count}",
        "count": count,
        "load": {"profile": "csv", "path": "loads.csv", "timezone": TZ, **load},
    }


def built_loads(folder: Path, groups: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The household table of the built federation and every household's load (steps, ids)
    as the ems computes it [kW]."""
    data = short_scenario_data()
    data["households"] = groups
    path = write_federation(folder, data)
    federation = FederationFile.model_validate_json(path.read_text())
    table = federation.households_frame()
    entry = next(e for e in federation.federate_entries() if e.tefed and e.tefed.role == "ems")
    config = read_role_config("ems", entry.tefed.config, entry.name)
    profiles = household_profiles(
        table,
        federation.tefed.time.to_time_grid(),
        federation.tefed.site,
        config.pv_model,
        federation.tefed.seed,
        list(table.index),
        community=False,
        base_dir=folder,
    )
    return table, pd.DataFrame(profiles.load_kw, columns=table.index)


def problems_of(path: Path) -> list[str]:
    return check_scenario(path, path.parent).problems


# --- assignment -----------------------------------------------------------------------------


def test_twenty_households_take_the_twenty_columns_in_order_and_the_table_says_which(tmp_path):
    # Reported: each household took column profile_seed mod 20, so 20 households got 12.
    columns = {f"p{k:02d}": 0.1 * (k + 1) for k in range(20)}
    profile_csv(tmp_path, columns)
    table, load_kw = built_loads(tmp_path, [csv_group(20)])
    assert table["load_profile_name"].tolist() == list(columns)
    np.testing.assert_allclose(load_kw.iloc[0].to_numpy(), list(columns.values()))
    assert all(source == table["load_source"].iloc[0] for source in table["load_source"])
    assert '"path":"loads.csv"' in table["load_source"].iloc[0]


def test_columns_named_by_household_id_go_to_those_households(tmp_path):
    # Reported: names were ignored. Here the file lists the households backwards.
    columns = {f"h{k:02d}": float(k) for k in range(5, 0, -1)}
    profile_csv(tmp_path, columns)
    table, load_kw = built_loads(tmp_path, [csv_group(5, assign="household_id")])
    assert table["load_profile_name"].tolist() == ["h01", "h02", "h03", "h04", "h05"]
    np.testing.assert_allclose(load_kw.iloc[-1].to_numpy(), [1.0, 2.0, 3.0, 4.0, 5.0])


def test_a_listed_and_a_mapped_assignment(tmp_path):
    profile_csv(tmp_path, {"a": 1.0, "b": 2.0, "c": 3.0})
    groups = [
        csv_group(2, assign=["c", "a"]),
        {**csv_group(1, assign={"school": "b"}), "household_ids": ["school"]},
    ]
    table, load_kw = built_loads(tmp_path, groups)
    assert table["load_profile_name"].to_dict() == {"h01": "c", "h02": "a", "school": "b"}
    np.testing.assert_allclose(load_kw.iloc[0].to_numpy(), [3.0, 1.0, 2.0])


def test_groups_reading_one_file_in_order_continue_where_the_last_stopped(tmp_path):
    profile_csv(tmp_path, {f"p{k}": float(k) for k in range(5)})
    groups = [csv_group(3), {**csv_group(2), "pv": {"kwp": 4}}]
    table, load_kw = built_loads(tmp_path, groups)
    assert table["load_profile_name"].tolist() == ["p0", "p1", "p2", "p3", "p4"]
    np.testing.assert_allclose(load_kw.iloc[0].to_numpy(), [0.0, 1.0, 2.0, 3.0, 4.0])


def test_in_order_leaves_out_the_profiles_another_group_names(tmp_path):
    profile_csv(tmp_path, {f"p{k}": float(k) for k in range(4)})
    groups = [csv_group(3), {**csv_group(1, assign=["p1"]), "household_ids": ["named"]}]
    table, _ = built_loads(tmp_path, groups)
    assert table["load_profile_name"].tolist() == ["p0", "p2", "p3", "p1"]


def test_more_households_than_profiles_is_refused_unless_repeat_is_asked_and_then_recorded(
    tmp_path,
):
    columns = {f"p{k:02d}": float(k) for k in range(12)}
    profile_csv(tmp_path, columns)
    problems = problems_of(scenario_with(tmp_path, [csv_group(20)]))
    assert len(problems) == 1, problems
    assert problems[0].startswith("households[0].load.assign (loads.csv): in_order gives these 20")
    assert "profiles 1 to 20 of the 12 the source offers" in problems[0]
    assert "repeat: true" in problems[0]
    table, load_kw = built_loads(tmp_path, [csv_group(20, repeat=True)])
    expected = [f"p{k % 12:02d}" for k in range(20)]
    assert table["load_profile_name"].tolist() == expected
    np.testing.assert_allclose(load_kw.iloc[0].to_numpy(), [k % 12 for k in range(20)])


def test_a_profile_shared_without_repeat_is_refused(tmp_path):
    profile_csv(tmp_path, {"a": 1.0, "b": 2.0})
    problems = problems_of(scenario_with(tmp_path, [csv_group(2, assign=["a", "a"])]))
    assert problems == [
        "households[0].load.repeat: got false; profile 'a' of loads.csv would serve households "
        "['h01', 'h02']; expected each profile to serve one household (repeat: true in their "
        "groups lets them share it)"
    ]
    assert not problems_of(scenario_with(tmp_path, [csv_group(2, assign=["a", "a"], repeat=True)]))


@pytest.mark.parametrize(
    ("assign", "fragments"),
    [
        ("household_id", ["households[0].load.assign", "no profile named ['h01', 'h02']"]),
        (["a", "zz"], ["no profile named ['zz']", "expected names among ['a', 'b']"]),
        ({"h01": "a", "h09": "b"}, ["not in the group: ['h09']", "without a profile: ['h02']"]),
        (["a"], ["households[0]", "load.assign lists 1 profiles; expected one per household"]),
    ],
)
def test_named_assignments_that_do_not_fit_are_named(tmp_path, assign, fragments):
    profile_csv(tmp_path, {"a": 1.0, "b": 2.0})
    problems = " ".join(problems_of(scenario_with(tmp_path, [csv_group(2, assign=assign)])))
    for fragment in fragments:
        assert fragment in problems, (fragment, problems)


def test_assign_profiles_by_hand():
    assert assign_profiles(["x", "y"], ["a", "b", "c"], "in_order", False, first=1) == ["b", "c"]
    assert assign_profiles(["x", "y", "z"], ["a", "b"], "in_order", True) == ["a", "b", "a"]
    with pytest.raises(ValueError, match="profiles 2 to 3 of the 2 the source offers"):
        assign_profiles(["x", "y"], ["a", "b"], "in_order", False, first=1)


def test_keys_of_another_layout_are_refused(tmp_path):
    profile_csv(tmp_path, {"a": 1.0})
    problems = problems_of(scenario_with(tmp_path, [csv_group(1, step_s=60)]))
    assert problems == [
        "households[0].load: step_s is given with profile: csv; expected it only with "
        "profile: daily_files"
    ]


# --- data checked up front, exit code 2 -------------------------------------------------------


def _no_timestamps(folder: Path) -> None:
    pd.DataFrame({"a": np.ones(24), "b": np.ones(24)}).to_csv(folder / "loads.csv", index=False)


def _wrong_dates(folder: Path) -> None:
    profile_csv(folder, {"a": 1.0, "b": 1.0}, start="2022-05-21 00:00")


def _ends_in_the_run(folder: Path) -> None:
    profile_csv(folder, {"a": 1.0, "b": 1.0}, periods=12)


def _watts_as_kw(folder: Path) -> None:
    profile_csv(folder, {"a": 800.0, "b": 600.0})


def _negative(folder: Path) -> None:
    path = profile_csv(folder, {"a": 1.0, "b": 1.0})
    path.write_text(path.read_text().replace("2022-06-21 05:00,1.0", "2022-06-21 05:00,-1.0"))


BAD_DATA = {
    "no timestamps": (
        _no_timestamps,
        {},
        ["households[0].load.path: got 'loads.csv'", "line 2: timestamp '1.0' in column 'a'"],
    ),
    "wrong dates": (
        _wrong_dates,
        {},
        [
            "households[0].load.path (loads.csv): the profiles cover 2022-05-21 00:00:00+02:00 "
            "to 2022-05-22 00:00:00+02:00; expected them to cover the run, 2022-06-21 "
            "11:00:00+02:00 to 2022-06-21 13:00:00+02:00 (Europe/Berlin)"
        ],
    ),
    "ends within the run": (_ends_in_the_run, {}, ["to 2022-06-21 12:00:00+02:00; expected"]),
    "naive timestamps, no time zone": (
        lambda folder: profile_csv(folder, {"a": 1.0, "b": 1.0}),
        {"timezone": None},
        ["timestamps have no time zone", "give timezone="],
    ),
    "values in W read as kW": (
        _watts_as_kw,
        {},
        ["households[0].load.unit: got 'kW'", "19,200 kWh a day", "expected at most 10,000"],
    ),
    "negative value": (_negative, {}, ["column 'a', line 7: value '-1.0' is a negative load"]),
    "missing file": (lambda folder: None, {}, ["households[0].load.path: got 'loads.csv'"]),
}


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize("case", sorted(BAD_DATA))
def test_bad_data_files_exit_2_before_anything_starts(tmp_path, capsys, monkeypatch, case, command):
    # Reported: validate passed these files, and the run failed after its federates started.
    write, load, fragments = BAD_DATA[case]
    write(tmp_path)
    path = scenario_with(tmp_path, [csv_group(2, **load)])
    monkeypatch.chdir(tmp_path)
    assert main([command, str(path)]) == 2
    message = " ".join(capsys.readouterr().err.split())
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    assert not (tmp_path / "results").exists()


def test_a_bad_data_file_and_a_building_problem_are_reported_together(tmp_path):
    _wrong_dates(tmp_path)
    data = short_scenario_data()
    data["households"] = [csv_group(2)]
    data["ems"] = {"external": [{"household_id": "h09", "exec": "python agent.py"}]}
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    problems = problems_of(path)
    assert len(problems) == 2, problems
    assert problems[0].startswith("households[0].load.path (loads.csv): the profiles cover")
    assert problems[1].startswith("ems.external[0].household_id: got 'h09'")


@pytest.mark.parametrize("options", [[], ["--lockstep"]])
@pytest.mark.parametrize(
    ("rewrite", "fragment"),
    [
        (_wrong_dates, "load_source (loads.csv): the profiles cover 2022-05-21"),
        (
            lambda folder: profile_csv(folder, {"a": 1.0, "c": 2.0}),
            "load_source (loads.csv): no profile named ['b']; expected names among ['a', 'c']",
        ),
    ],
)
def test_a_federation_file_whose_data_changed_stops_before_starting(
    tmp_path, capsys, monkeypatch, options, rewrite, fragment
):
    profile_csv(tmp_path, {"a": 1.0, "b": 2.0})
    data = short_scenario_data()
    data["households"] = [csv_group(2)]
    federation = write_federation(tmp_path, data)
    rewrite(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["run", *options, str(federation)]) == 2
    message = " ".join(capsys.readouterr().err.split())
    assert f"households ['h01', 'h02']: 1 problem(s) - {fragment}" in message, message
    assert not (tmp_path / "results").exists()


# --- the other layouts ------------------------------------------------------------------------


def daily_files(folder: Path, profiles: dict[str, list[float]]) -> Path:
    days = folder / "days"
    days.mkdir()
    for name, values in profiles.items():
        (days / f"{name}.txt").write_text("".join(f"{value}\n" for value in values))
    return days


def test_a_folder_of_daily_files_lays_each_day_on_the_run(tmp_path):
    hourly = {f"load_profile_{k}": [k + hour / 100 for hour in range(24)] for k in (1, 2, 10)}
    daily_files(tmp_path, hourly)
    group = {"group": "days", "count": 3, "load": {"profile": "daily_files", "path": "days"}}
    table, load_kw = built_loads(tmp_path, [group])
    assert table["load_profile_name"].tolist() == [
        "load_profile_1",
        "load_profile_2",
        "load_profile_10",
    ]
    # 11:00 to 13:00 local: lines 12 and 13 of each file, one hour each.
    np.testing.assert_allclose(load_kw.iloc[0].to_numpy(), [1.11, 2.11, 10.11])
    np.testing.assert_allclose(load_kw.iloc[-1].to_numpy(), [1.12, 2.12, 10.12])
    assert '"step_s":null' in table["load_source"].iloc[0]


def test_daily_files_with_a_bad_line_count_are_named(tmp_path):
    daily_files(tmp_path, {"a": [1.0] * 24, "b": [1.0] * 23})
    group = {"group": "days", "count": 2, "load": {"profile": "daily_files", "path": "days"}}
    problems = problems_of(scenario_with(tmp_path, [group]))
    assert len(problems) == 1 and "b.txt: 23 lines; expected 24" in problems[0], problems


def test_daily_files_with_decimal_commas_are_refused(tmp_path, capsys, monkeypatch):
    # Reported: only the first comma-separated field of a line was read, so 0,829 read as 0 and
    # validate passed.
    days = daily_files(tmp_path, {"a": [1.0] * 24})
    (days / "b.txt").write_text("0,829\n" * 24)
    group = {"group": "days", "count": 2, "load": {"profile": "daily_files", "path": "days"}}
    monkeypatch.chdir(tmp_path)
    assert main(["validate", str(scenario_with(tmp_path, [group]))]) == 2
    message = " ".join(capsys.readouterr().err.split())
    assert "b.txt, line 1: '0,829' is not one number; expected one number per line" in message
    assert "(a decimal comma? write 0.829)" in message


def long_csv(folder: Path, values: dict[str, float], start: str = "2022-06-21 00:00") -> Path:
    times = pd.date_range(start, periods=24, freq="h").strftime("%Y-%m-%d %H:%M")
    rows = [f"{name},{time},{value}" for time in times for name, value in values.items()]
    path = folder / "long.csv"
    path.write_text("household,time,value\n" + "\n".join(rows) + "\n")
    return path


def test_a_long_table_by_household_id(tmp_path):
    long_csv(tmp_path, {"h03": 3.0, "h01": 1.0, "h02": 2.0})
    load = {"profile": "long_csv", "path": "long.csv", "timezone": TZ, "assign": "household_id"}
    table, load_kw = built_loads(tmp_path, [{"group": "long", "count": 3, "load": load}])
    assert table["load_profile_name"].tolist() == ["h01", "h02", "h03"]
    np.testing.assert_allclose(load_kw.iloc[0].to_numpy(), [1.0, 2.0, 3.0])


def test_a_long_table_that_misses_the_run_is_named(tmp_path):
    long_csv(tmp_path, {"a": 1.0}, start="2023-06-21 00:00")
    load = {"profile": "long_csv", "path": "long.csv", "timezone": TZ}
    problems = problems_of(scenario_with(tmp_path, [{"group": "long", "count": 1, "load": load}]))
    assert len(problems) == 1 and "the profiles cover 2023-06-21" in problems[0], problems


@pytest.mark.parametrize("layout", ["csv", "long_csv"])
@pytest.mark.parametrize("spreadsheet", ["byte-order mark", "trailing commas"])
def test_files_saved_by_a_spreadsheet_are_valid(tmp_path, capsys, monkeypatch, layout, spreadsheet):
    # Reported: Excel's "CSV UTF-8" (a byte-order mark) and a trailing comma on every line
    # crashed validate with a traceback (KeyError) or a missing column 'household'.
    if layout == "csv":
        path = profile_csv(tmp_path, {"a": 1.0, "b": 2.0})
    else:
        path = long_csv(tmp_path, {"a": 1.0, "b": 2.0})
    text = path.read_text()
    if spreadsheet == "byte-order mark":
        path.write_text("\ufeff" + text, encoding="utf-8")
    else:
        path.write_text("".join(f"{line},\n" for line in text.splitlines()))
    load = {"profile": layout, "path": path.name, "timezone": TZ}
    scenario = scenario_with(tmp_path, [{"group": "g", "count": 2, "load": load}])
    monkeypatch.chdir(tmp_path)
    assert main(["validate", str(scenario)]) == 0, capsys.readouterr().err
    table, load_kw = built_loads(tmp_path, [{"group": "g", "count": 2, "load": load}])
    assert table["load_profile_name"].tolist() == ["a", "b"]
    np.testing.assert_allclose(load_kw.iloc[0].to_numpy(), [1.0, 2.0])


@pytest.mark.skipif(not LV_PROFILES.is_dir(), reason=f"{LV_PROFILES} is not on this machine")
def test_the_lv_test_case_daily_profiles_serve_twenty_households(tmp_path):
    load = {"profile": "daily_files", "path": str(LV_PROFILES)}
    table, load_kw = built_loads(tmp_path, [{"group": "lv", "count": 20, "load": load}])
    assert table["load_profile_name"].tolist() == [f"load_profile_{k}" for k in range(1, 21)]
    # One-minute files on one-minute steps: 11:00 local is line 661 of each file.
    first = [
        float((LV_PROFILES / f"load_profile_{k}.txt").read_text().split()[660]) for k in (1, 20)
    ]
    np.testing.assert_allclose(load_kw.iloc[0].to_numpy()[[0, 19]], first)


# --- documentation ----------------------------------------------------------------------------


def test_the_documented_layouts_read_as_documented(tmp_path):
    # Reported: the format was not documented. The examples of docs/load-profiles.md are read.
    docs = Path(__file__).resolve().parents[2] / "docs"
    text = (docs / "load-profiles.md").read_text()
    examples = [block.split("\n", 1)[1] for block in text.split("```text")[1:]]
    wide, _, long = (example.split("```")[0] for example in examples)
    wide_table = read_profile_csv(profile_file(tmp_path, "wide.csv", wide), "kW", TZ)
    assert wide_table.step_s == 900
    assert list(wide_table.power_kw.columns) == ["house_a", "house_b", "house_c"]
    long_table = read_long_profile_csv(profile_file(tmp_path, "long.csv", long), "kW", TZ)
    assert long_table.power_kw.to_dict("list") == {"house_a": [0.31, 0.28], "house_b": [0.12, 0.12]}
    reference = (docs / "scenario-reference.md").read_text()
    assert "[load-profiles.md](load-profiles.md)" in reference
    assert "`csv` \\| `daily_files` \\| `long_csv`" in reference


def profile_file(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path
