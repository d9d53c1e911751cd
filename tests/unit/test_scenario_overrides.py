"""``--set PATH=VALUE``: one-off scenario overrides by dotted path, and their errors."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from federations import DEFAULT_SCENARIO

from tefed.cli import main
from tefed.contract.errors import InputError
from tefed.contract.time_grid import parse_start
from tefed.scenario.files import read_scenario_data
from tefed.scenario.model import load_scenario, read_scenario
from tefed.scenario.overrides import apply_overrides, parse_assignment


def test_a_group_is_addressed_by_name_and_other_groups_are_kept():
    scenario, _ = load_scenario(
        DEFAULT_SCENARIO,
        {"households.pv_battery.battery.capacity_kwh": 15, "households.pv.count": 6},
    )
    groups = {group.group: group for group in scenario.households}
    assert groups["pv_battery"].battery.capacity_kwh == 15
    assert groups["pv_battery"].battery.power_kw == 5  # siblings of the changed key stay
    assert groups["pv"].count == 6
    assert groups["consumers"].count == 4
    assert [group.group for group in scenario.households] == list(groups)


def test_naming_another_kind_replaces_the_section():
    scenario, _ = load_scenario(DEFAULT_SCENARIO, {"market.mechanism": "curve_clearing"})
    assert scenario.market.mechanism == "curve_clearing"
    # The double auction's settlement_rule was dropped with its kind, not carried over.
    assert not hasattr(scenario.market, "settlement_rule")


def test_overrides_apply_in_order_and_leave_the_data_unchanged():
    data = read_scenario_data(DEFAULT_SCENARIO).data
    before = yaml.safe_dump(data)
    changed, problems = apply_overrides(data, [("time.duration_s", 3600), ("time.duration_s", 900)])
    assert problems == []
    assert changed["time"]["duration_s"] == 900
    assert changed["time"]["grid_step_s"] == 60
    assert yaml.safe_dump(data) == before


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("seed=3", ("seed", 3)),
        ("households.pv.pv=null", ("households.pv.pv", None)),
        ("prices.export_price_usd_per_kwh=0.05", ("prices.export_price_usd_per_kwh", 0.05)),
        ("households.pv.pv.kwp=[4, 7]", ("households.pv.pv.kwp", [4, 7])),
        ("name=a=b", ("name", "a=b")),
    ],
)
def test_values_are_read_as_yaml(text, expected):
    assert parse_assignment(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("seed", "expected PATH=VALUE"),
        ("=3", "expected a dotted path"),
        ("market..mechanism=dlmp", "'market..mechanism': expected a dotted path"),
        ("seed=[1", "seed: value '[1' is not valid YAML"),
    ],
)
def test_a_malformed_assignment_is_named(text, fragment):
    with pytest.raises(ValueError) as error:
        parse_assignment(text)
    assert fragment in str(error.value)


def test_every_bad_path_and_value_is_named_at_once():
    reading = read_scenario(
        DEFAULT_SCENARIO,
        {
            "households.wind.count": 3,
            "market.settlement_rule": "cheap",
            "households.pv.count": -1,
            "foo.bar": 1,
        },
    )
    assert reading.scenario is None
    assert "households.wind.count=3" in reading.source
    text = "\n".join(reading.problems)
    assert len(reading.problems) == 4, text
    for fragment in (
        "households.wind: the base has no group 'wind'",
        "market.settlement_rule: got 'cheap'",
        "households[1].count: got -1",
        "foo: unknown key",
    ):
        assert fragment in text


def test_a_group_override_that_cannot_apply_leaves_no_scenario():
    reading = read_scenario(DEFAULT_SCENARIO, {"households.wind.count": 3})
    assert reading.scenario is None
    assert len(reading.problems) == 1


def test_cli_validate_and_run_refuse_bad_overrides_with_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    scenario = str(DEFAULT_SCENARIO)
    assert main(["validate", scenario, "--set", "households.pv.count=8"]) == 0
    assert "16 households" in capsys.readouterr().out
    assert main(["run", scenario, "--set", "time.duration_s=abc", "--set", "x.y=1"]) == 2
    message = " ".join(capsys.readouterr().err.split())
    assert "time.duration_s: got 'abc'" in message
    assert "x: unknown key" in message
    assert main(["run", scenario, "--set", "households.pv.count"]) == 2
    assert "expected PATH=VALUE" in capsys.readouterr().err
    assert not Path(tmp_path / "results").exists()


@pytest.mark.parametrize(
    ("assignment", "start", "hour"),
    [
        ("time.start=2022-06-22T06:00:00", "2022-06-22T06:00:00", 6),
        ("time.start=2022-06-22 06:00:00", "2022-06-22 06:00:00", 6),
        ("time.start=2022-06-22", "2022-06-22", 0),
        ("time.start=2022-06-22T06:00:00+02:00", "2022-06-22T06:00:00+02:00", 6),
        ('time.start="2022-06-22T06:00:00"', "2022-06-22T06:00:00", 6),
    ],
)
def test_a_start_written_without_quotes_is_taken_as_its_iso_text(assignment, start, hour):
    # YAML 1.1 would read an unquoted date-time (or date) as a timestamp, not as text.
    scenario, _ = load_scenario(DEFAULT_SCENARIO, dict([parse_assignment(assignment)]))
    assert scenario.time.start == start
    zone = ZoneInfo(scenario.time.timezone)
    assert parse_start(scenario.time.start, scenario.time.timezone) == datetime(
        2022, 6, 22, hour, tzinfo=zone
    )


def test_a_scenario_file_may_write_its_start_without_quotes(tmp_path):
    text = DEFAULT_SCENARIO.read_text()
    quoted = 'start: "2022-06-21T00:00:00"'
    assert quoted in text
    path = tmp_path / "unquoted.yaml"
    path.write_text(text.replace(quoted, "start: 2022-06-21T00:00:00"))
    scenario, _ = load_scenario(path)
    assert scenario.time.start == "2022-06-21T00:00:00"


def test_a_clock_time_is_refused_as_written_not_read_in_base_60(tmp_path):
    # YAML 1.1 reads 17:30 as 17 * 60 + 30 = 1050; the problem names what the user wrote.
    assert parse_assignment("households.pv.ev.departure_hour=17:30")[1] == "17:30"
    text = DEFAULT_SCENARIO.read_text()
    path = tmp_path / "clock.yaml"
    assert "  duration_s: 86400 " in text
    path.write_text(text.replace("  duration_s: 86400 ", "  duration_s: 24:00:00 ", 1))
    with pytest.raises(InputError) as raised:
        load_scenario(path)
    assert "time.duration_s: got '24:00:00'" in str(raised.value)
    assert "86400" not in str(raised.value)
