"""The scenario's documented schema: every field described, the committed reference and JSON
Schema current, the schema accepting the built-in scenarios, and ``tefed schema``."""

from __future__ import annotations

import inspect
import json
from typing import Any, get_args

import jsonschema
import pytest
import yaml
from federations import REPO, short_scenario_data
from pydantic import BaseModel

from tefed.cli import main
from tefed.scenario.model import Scenario
from tefed.scenario.reference import (
    NO_UNIT,
    reference_tables,
    scenario_json_schema,
    scenario_json_schema_text,
    scenario_reference_markdown,
    unit_of,
)

DOCS = REPO / "docs"
SCENARIOS = sorted((REPO / "scenarios").glob("*.yaml"))


def models_in(annotation: Any) -> list[type[BaseModel]]:
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in get_args(annotation) for model in models_in(arg)]


def every_model() -> list[type[BaseModel]]:
    found, pending = [], [Scenario]
    while pending:
        model = pending.pop()
        if model not in found:
            found.append(model)
            for field in model.model_fields.values():
                pending += models_in(field.annotation)
    return found


FIELDS = [
    (model.__name__, name, field)
    for model in every_model()
    for name, field in model.model_fields.items()
]


def test_the_walk_reaches_every_section():
    names = {model.__name__ for model in every_model()}
    assert {"BatterySpec", "DlmpSpec", "TouWindow", "OptimizingStrategy", "OpenDssFeederSpec"} <= (
        names
    )
    assert len(FIELDS) > 150


@pytest.mark.parametrize(("model", "name", "field"), FIELDS, ids=[f"{m}.{n}" for m, n, _ in FIELDS])
def test_every_field_has_a_description_ending_in_its_unit(model, name, field):
    assert field.description and field.description.strip(), f"{model}.{name} has no description"
    unit = unit_of(name)
    if unit != NO_UNIT:
        assert field.description.endswith(f"[{unit}]"), (model, name, field.description)


@pytest.mark.parametrize(
    ("name", "unit"),
    [
        ("mv_short_circuit_mva", "MVA"),
        ("wind_speed_m_per_s", "m/s"),
        ("temperature_coefficient_per_c", "1/°C"),
        ("air_temperature_c", "°C"),
        ("self_discharge_per_h", "1/h"),
        ("mean_usd_per_mwh", "USD/MWh"),
        ("charger_kw", "kW"),
        ("energy_needed_kwh", "kWh"),
        ("kwp", "kWp"),
        ("node_spacing_m", "m"),
        ("gate_closure_s", "s"),
        ("arrival_hour", "h"),
        ("count", NO_UNIT),
        ("households", NO_UNIT),
    ],
)
def test_units_come_from_the_name_suffix(name, unit):
    assert unit_of(name) == unit


def test_the_reference_has_a_row_for_every_field_and_one_table_per_kind():
    tables = reference_tables()
    rows = {row.key: row for table in tables for row in table.rows}
    capacity = rows["households[].battery.capacity_kwh"]
    assert (capacity.type, capacity.unit, capacity.default) == (
        "number or range [low, high] in [0, 100000] or null",
        "kWh",
        "none",
    )
    assert rows["time.start"].default == "required"
    assert rows["time.grid_step_s"].type == "integer in (0, 86400]"
    assert rows["households[].battery.soc_initial"].type == "number in [0, 1]"
    assert rows["households[].strategy"].type.startswith("name, or section")
    assert rows["extends"].type == "string"
    assert rows["households[].strategy_mix"].type.startswith("mapping of `net_billing` | ")
    assert rows["market"].default == "`{mechanism: double_auction}`"
    assert rows["households[].load"].default == "defaults"
    kinds = {(table.path, table.variant, table.default_kind) for table in tables if table.variant}
    assert ("market", "mechanism: double_auction", True) in kinds
    assert ("market", "mechanism: dlmp", False) in kinds
    assert ("grid.feeder", "dss: …", False) in kinds
    assert ("households[].strategy", "name: optimizing", False) in kinds
    assert ("prices.import_tariff", "kind: time_of_use", False) in kinds
    places = sum(len(table.rows) for table in tables)
    assert places > len(FIELDS)  # a model used in two places (a battery) has rows in each


@pytest.mark.parametrize(
    ("committed", "generate"),
    [
        ("scenario-reference.md", scenario_reference_markdown),
        ("scenario.schema.json", scenario_json_schema_text),
    ],
)
def test_committed_docs_are_what_the_code_generates(committed, generate):
    assert (DOCS / committed).read_text() == generate(), (
        f"docs/{committed} is stale: run `make docs` and commit it"
    )


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = scenario_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", SCENARIOS, ids=[path.name for path in SCENARIOS])
def test_the_schema_accepts_every_built_in_scenario(validator, path):
    errors = [error.message for error in validator.iter_errors(yaml.safe_load(path.read_text()))]
    assert errors == []


def test_the_schema_refuses_what_the_validator_refuses(validator):
    for change in (
        lambda data: data["households"][2]["battery"].update(capacity_kwhh=10),
        lambda data: data["time"].update(duration_s="one day"),
        lambda data: data["households"][0].update(strategy="moon_trader"),
        lambda data: data["market"].update(mechanism="lottery"),
        lambda data: data.pop("time"),
    ):
        data = short_scenario_data()
        change(data)
        assert not validator.is_valid(data), change


def test_a_file_that_extends_another_may_give_only_what_it_changes(validator):
    partial = {
        "extends": "default.yaml",
        "name": "short",
        "time": {"duration_s": 3600},
        "market": {"mechanism": "dlmp"},
        "households": {"pv": {"count": 6}, "reference": None},
    }
    assert validator.is_valid(partial)
    assert not validator.is_valid({**partial, "time": {"duration_s": "long"}})
    assert not validator.is_valid({**partial, "grid": {"feedr": {}}})


def test_the_schema_shows_the_defaults_of_whole_sections():
    properties = scenario_json_schema()["$defs"]["Scenario"]["properties"]
    assert properties["market"]["default"]["mechanism"] == "double_auction"
    assert properties["run"]["default"]["wall_clock_limit_s"] == 900.0
    assert "default" not in properties["time"]  # required


def test_tefed_schema_prints_the_schema(capsys):
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == scenario_json_schema()


def test_tefed_schema_writes_a_file(tmp_path, capsys):
    target = tmp_path / "editor" / "scenario.schema.json"
    assert main(["schema", "-o", str(target)]) == 0
    assert target.read_text() == scenario_json_schema_text()
    assert str(target) in capsys.readouterr().out
