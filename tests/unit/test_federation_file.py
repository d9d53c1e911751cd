"""Federation file: the committed default loads; bad files raise InputError naming the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tefed.contract.errors import InputError
from tefed.contract.federation_file import load_federation_file

DEFAULT = Path(__file__).resolve().parents[2] / "federation" / "default.json"
ROLES = ["price_feed", "ems", "grid", "market"]


def _default_data() -> dict[str, Any]:
    return json.loads(DEFAULT.read_text())


def _problems(tmp_path: Path, data: dict[str, Any]) -> list[str]:
    path = tmp_path / "federation.json"
    path.write_text(json.dumps(data, indent=2))
    with pytest.raises(InputError) as excinfo:
        load_federation_file(path)
    assert excinfo.value.source == str(path)
    return excinfo.value.problems


def test_default_file_loads() -> None:
    federation = load_federation_file(DEFAULT)
    assert federation.name == "default"
    assert [entry.name for entry in federation.federates] == ["watchdog", "broker", *ROLES]
    assert [entry.name for entry in federation.federates if entry.is_watchdog] == ["watchdog"]
    assert [entry.name for entry in federation.federates if entry.is_broker] == ["broker"]
    assert [entry.name for entry in federation.federate_entries()] == ROLES
    assert [entry.name for entry in federation.federates if entry.runs_builtin] == ROLES
    for role in ROLES:
        entry = federation.entry(role)
        assert entry.tefed is not None
        assert entry.tefed.role == role
        assert entry.helics is not None
        assert entry.helics["name"] == role


def test_default_file_tefed_section() -> None:
    federation = load_federation_file(DEFAULT)
    grid = federation.tefed.time.to_time_grid()
    assert grid.n_intervals == 96
    assert grid.n_steps == 1440
    assert grid.start.isoformat() == "2022-06-21T00:00:00+02:00"
    households = federation.households_frame()
    assert len(households) == 12
    assert households.index.tolist()[:2] == ["h01", "h02"]
    assert households.loc["h09", "battery_capacity_kwh"] == 10.0


def test_default_file_canonical_text_round_trips(tmp_path: Path) -> None:
    text = load_federation_file(DEFAULT).to_json_text()
    copy = tmp_path / "copy.json"
    copy.write_text(text)
    assert load_federation_file(copy).to_json_text() == text


def test_unknown_federate_name_raises_input_error() -> None:
    with pytest.raises(InputError, match="no federate named 'weather'"):
        load_federation_file(DEFAULT).entry("weather")


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.json"
    with pytest.raises(InputError) as excinfo:
        load_federation_file(path)
    assert excinfo.value.source == str(path)
    assert excinfo.value.problems == ["file not found"]


def test_invalid_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "name": "x",\n  "broker": false,,\n}\n')
    with pytest.raises(InputError) as excinfo:
        load_federation_file(path)
    assert len(excinfo.value.problems) == 1
    assert "not valid JSON at line 3" in excinfo.value.problems[0]


def test_unknown_tefed_key(tmp_path: Path) -> None:
    data = _default_data()
    data["tefed"]["colour"] = "blue"
    problems = _problems(tmp_path, data)
    assert len(problems) == 1
    assert problems[0].startswith("tefed.colour: unknown key")


def test_numbers_that_are_not_finite_are_refused(tmp_path: Path) -> None:
    data = _default_data()
    data["tefed"]["site"]["altitude_m"] = float("nan")
    data["tefed"]["runtime"]["wall_clock_limit_s"] = float("inf")
    assert _problems(tmp_path, data) == [
        "tefed.site.altitude_m: got nan; Input should be a finite number",
        "tefed.runtime.wall_clock_limit_s: got inf; Input should be a finite number",
    ]


def test_duplicate_federate_names(tmp_path: Path) -> None:
    data = _default_data()
    data["federates"].append(dict(data["federates"][4]))
    problems = _problems(tmp_path, data)
    assert len(problems) == 1
    assert problems[0].startswith("federates: ")
    assert "['grid']" in problems[0]
    # The message names the problem without reprinting the whole file.
    assert len(problems[0]) < 200


def test_household_columns_of_unequal_length(tmp_path: Path) -> None:
    data = _default_data()
    data["tefed"]["households"]["pv_kwp"].pop()
    problems = _problems(tmp_path, data)
    assert len(problems) == 1
    assert problems[0].startswith("tefed.households: ")
    assert "'pv_kwp': 11" in problems[0]


def test_inconsistent_time_grid_names_the_time_field(tmp_path: Path) -> None:
    data = _default_data()
    data["tefed"]["time"]["gate_closure_s"] = 960
    problems = _problems(tmp_path, data)
    assert len(problems) == 1
    assert problems[0].startswith("tefed.time: ")
    assert "time.gate_closure_s is 960" in problems[0]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    data = _default_data()
    del data["tefed"]["seed"]
    data["tefed"]["site"]["latitude_deg"] = 120.0
    problems = _problems(tmp_path, data)
    assert len(problems) == 2
    assert any(problem.startswith("tefed.seed: required but missing") for problem in problems)
    assert any(problem.startswith("tefed.site.latitude_deg: got 120.0") for problem in problems)
