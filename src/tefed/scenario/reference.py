"""The scenario file's documentation, generated from its models: a JSON Schema and a reference.

Both are rendered from one JSON Schema, pydantic's ``model_json_schema()`` of
`tefed.scenario.model.Scenario` (defaults of default factories included), so they list exactly
the keys a scenario file may have, with the types, bounds, defaults and descriptions the validator
uses: the reference is one table per ``$defs`` section, one per kind of a ``oneOf`` field.
``make docs`` writes them to ``docs/scenario.schema.json`` and ``docs/scenario-reference.md``; a
test fails when the committed files differ from these.

The JSON Schema (draft 2020-12) serves editors: with ``# yaml-language-server: $schema=PATH`` at
the top of a scenario file, VS Code's YAML extension completes keys and checks values. A file with
``extends`` is checked against a relaxed form in which nothing is required (its base supplies the
rest) and ``households`` may be overrides by group name.

Pure: no file I/O.
"""

from __future__ import annotations

import copy
import inspect
import json
from dataclasses import dataclass
from typing import Any

from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import core_schema

import tefed.scenario.files as scenario_files
from tefed.scenario.bounded_yaml import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES
from tefed.scenario.files import EXTENDS_KEY
from tefed.scenario.model import MAX_GRID_STEPS, MAX_PROBLEMS, Scenario
from tefed.scenario.section import MAX_GROUPS, MAX_HOUSEHOLDS, MAX_TEXT_CHARS

#: Unit of a key by the suffix of its name (docs/nomenclature.md), longest suffix first.
UNIT_SUFFIXES: tuple[tuple[str, str], ...] = tuple(
    sorted(
        {
            "_usd_per_kwh": "USD/kWh",
            "_usd_per_mwh": "USD/MWh",
            "_usd": "USD",
            "_ohm_per_km": "Ω/km",
            "_m_per_s": "m/s",
            "_per_c": "1/°C",
            "_per_h": "1/h",
            "_kwh": "kWh",
            "_wh": "Wh",
            "_kwp": "kWp",
            "_kvar": "kvar",
            "_kva": "kVA",
            "_mva": "MVA",
            "_kw": "kW",
            "_kv": "kV",
            "_pu": "pu",
            "_pct": "%",
            "_deg": "°",
            "_km": "km",
            "_m": "m",
            "_s": "s",
            "_a": "A",
            "_c": "°C",
            "_hour": "h",
            "_intervals": "intervals",
        }.items(),
        key=lambda item: -len(item[0]),
    )
)
NO_UNIT = "–"
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_TITLE = "tefed scenario"
SCHEMA_DESCRIPTION = (
    "A tefed scenario file (YAML): the time grid, site, feeder, market rules, prices and "
    "households of one co-simulation. `tefed validate FILE` checks it; docs/scenario-reference.md "
    "describes every key."
)
INTRODUCTION = (
    "A scenario is a YAML file (see `scenarios/default.yaml`); `tefed validate FILE` checks it "
    "and reports every problem at once. The tables below list every key: its dotted path "
    "(`households[]` stands for each entry of the list), type with bounds, unit (from the "
    "suffix of its name, see [nomenclature](nomenclature.md)), default (*required* when there "
    "is none) and meaning.",
    "",
    "- A key whose type reads *number or range [low, high]* may be given as `[low, high]`: each "
    "household draws its own value uniformly, from the scenario seed.",
    "- `households` lists groups of households that share devices and a strategy. A single "
    "household is a group with `count: 1` (`household_ids: [name]` names it). Households are "
    "named `h01`, `h02`, … by their position among all households, unless their group gives "
    "`household_ids`.",
    "- `strategy_mix` (instead of `strategy`) splits a group between strategies, each with its "
    "default options: `{self_consumption: 0.6, ma_crossover: 0.4}` gives 6 and 4 of 10 "
    "households. Counts follow the largest remainder of share × count; which household gets "
    "which strategy is shuffled with the scenario seed.",
    "- Measured load profiles (`households[].load.profile` csv, daily_files or long_csv): the "
    "file layouts, units and steps, how `load.assign` gives each household its own profile "
    "(shared only with `load.repeat: true`), what the household table records and what "
    "`tefed validate` checks are in [load-profiles.md](load-profiles.md).",
    "- Limits, so that no file can hang tefed or exhaust its memory: a file of at most "
    f"{MAX_FILE_BYTES} bytes, in UTF-8; at most {MAX_DEPTH} levels of nesting and {MAX_NODES} "
    "keys and values once YAML aliases (`*name`) are expanded; each key once in a mapping; at "
    f"most {scenario_files.MAX_CHAIN} files in a chain of `extends`; at most {MAX_GROUPS} "
    f"household groups and {MAX_HOUSEHOLDS} households; at most {MAX_GRID_STEPS:,} power-flow "
    f"steps; text of at most {MAX_TEXT_CHARS} characters; every number finite and within the "
    "bounds its row gives; `run.results_root` outside /proc, /sys and /dev. A check lists at "
    f"most {MAX_PROBLEMS} problems at once.",
    "- Editor completion: `tefed schema -o FILE` writes the JSON Schema of a scenario file (the "
    "same as [scenario.schema.json](scenario.schema.json)); a first line "
    "`# yaml-language-server: $schema=PATH/TO/scenario.schema.json` lets VS Code's YAML "
    "extension complete keys and check values.",
)
EXTENDS_DESCRIPTION = (
    "base scenario file, relative to this file: its keys are merged under this file's "
    "(see Composition)"
)


@dataclass(frozen=True)
class ReferenceRow:
    """One key of a scenario file: dotted path, type, unit, default, description."""

    key: str
    type: str
    unit: str
    default: str
    description: str


@dataclass(frozen=True)
class ReferenceTable:
    """The keys of one section, or of one kind of a section that comes in kinds.

    ``variant`` names the kind (e.g. ``mechanism: dlmp``) and is empty for a plain section;
    ``default_kind`` tells the kind a file gets when it leaves the section out.
    """

    path: str
    variant: str
    text: str
    rows: tuple[ReferenceRow, ...]
    default_kind: bool = False


def unit_of(name: str) -> str:
    """The unit a key's name states by its suffix, or ``–``.

    Examples
    --------
    >>> unit_of("capacity_kwh"), unit_of("export_price_usd_per_kwh"), unit_of("seed")
    ('kWh', 'USD/kWh', '–')
    """
    for suffix, unit in UNIT_SUFFIXES:
        if f"_{name}".endswith(suffix):
            return unit
    return NO_UNIT


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a scenario file.

    Returns
    -------
    dict
        A schema whose ``$defs`` hold each section strictly (``Scenario``, …) and relaxed
        (``PartialScenario``, …, for a file with ``extends``); the top level picks one by whether
        the file has ``extends``.
    """
    strict = scenario_model_schema()
    definitions = strict.pop("$defs")
    definitions["Scenario"] = strict
    extends = {"type": "string", "description": EXTENDS_DESCRIPTION}
    strict["properties"] = {EXTENDS_KEY: extends, **strict["properties"]}
    for definition in definitions.values():
        for prop in definition.get("properties", {}).values():
            prop.pop("title", None)
    partial = {f"Partial{name}": _relaxed(schema) for name, schema in definitions.items()}
    households = partial["PartialScenario"]["properties"]["households"]
    by_name = {
        "type": "object",
        "description": "overrides of the base's groups by group name (null removes a group)",
        "additionalProperties": {
            "anyOf": [{"$ref": "#/$defs/PartialHouseholdGroup"}, {"type": "null"}]
        },
    }
    partial["PartialScenario"]["properties"]["households"] = {
        "description": households.get("description", ""),
        "anyOf": [{k: v for k, v in households.items() if k != "description"}, by_name],
    }
    return {
        "$schema": SCHEMA_DIALECT,
        "title": SCHEMA_TITLE,
        "description": SCHEMA_DESCRIPTION,
        "$defs": {**definitions, **partial},
        "if": {"required": [EXTENDS_KEY]},
        "then": {"$ref": "#/$defs/PartialScenario"},
        "else": {"$ref": "#/$defs/Scenario"},
    }


def scenario_json_schema_text() -> str:
    """``scenario_json_schema`` as the text of ``docs/scenario.schema.json``."""
    return json.dumps(scenario_json_schema(), indent=2, ensure_ascii=False) + "\n"


def _relaxed(schema: Any) -> Any:
    """A section's schema for a file that extends another: nothing required, kinds overlap.

    Lists replace the base's wholesale, so list items stay strict.
    """
    if isinstance(schema, list):
        return [_relaxed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    relaxed: dict[str, Any] = {}
    for keyword, value in schema.items():
        if keyword == "required":
            continue
        if keyword in ("items", "prefixItems"):
            relaxed[keyword] = copy.deepcopy(value)
        elif keyword == "$ref":
            relaxed[keyword] = value.replace("#/$defs/", "#/$defs/Partial")
        elif keyword == "properties":
            relaxed[keyword] = {name: _relaxed(prop) for name, prop in value.items()}
        elif keyword == "oneOf":
            relaxed["anyOf"] = _relaxed(value)
        elif keyword in ("anyOf", "allOf", "additionalProperties"):
            relaxed[keyword] = _relaxed(value)
        else:
            relaxed[keyword] = copy.deepcopy(value)
    return relaxed


# --- the reference tables ---------------------------------------------------------------------


def scenario_reference_markdown() -> str:
    """The Markdown reference of a scenario file: one table per section and per kind.

    Returns
    -------
    str
        ``docs/scenario-reference.md``: an introduction, the rules of ``extends``, then every
        section's keys with type, unit (from the name's suffix), default and description.
    """
    lines = [
        "# Scenario file reference",
        "",
        "<!-- Generated by src/tefed/scenario/reference.py from the scenario models: run "
        "`make docs`, do not edit. -->",
        "",
        *INTRODUCTION,
        "",
        "## Composition: `extends`",
        "",
        _composition_text(),
        "",
    ]
    previous = None
    for table in reference_tables():
        if table.variant and table.path != previous:
            lines += [f"## `{table.path}`", "", "Comes in kinds, one table each:", ""]
        if table.variant:
            default = " (default)" if table.default_kind else ""
            lines += [f"### `{table.path}` — `{table.variant}`{default}"]
        else:
            lines += [f"## `{table.path}`" if table.path else "## Top level"]
        lines += ["", table.text, "", "| key | type | unit | default | description |"]
        lines += ["|---|---|---|---|---|"]
        for row in table.rows:
            cells = [f"`{row.key}`", row.type, row.unit, row.default, row.description]
            lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
        lines.append("")
        previous = table.path
    return "\n".join(lines)


def _composition_text() -> str:
    """The rules of ``extends``, from `tefed.scenario.files`."""
    paragraphs = inspect.getdoc(scenario_files).split("\n\n")[1:]
    return "\n\n".join(paragraphs).replace("``", "`")


def reference_tables() -> list[ReferenceTable]:
    """Every section of a scenario file as a table, in file order, kinds one table each.

    The tables are read from the scenario's JSON Schema (`scenario_model_schema`): a section is a
    ``$defs`` entry, a kind one of the ``oneOf`` members of a field.
    """
    schema = scenario_model_schema()
    definitions = {**schema.pop("$defs"), _TOP: schema}
    tables: list[ReferenceTable] = []
    _collect(_Place("", _TOP), definitions, tables)
    top = tables[0]
    extends = ReferenceRow(EXTENDS_KEY, "string", NO_UNIT, "none", EXTENDS_DESCRIPTION)
    tables[0] = ReferenceTable(top.path, top.variant, top.text, (extends, *top.rows))
    return tables


class _FactoryDefaults(GenerateJsonSchema):
    """JSON Schema generation that also shows the defaults made by a ``default_factory``."""

    def get_default_value(self, schema: core_schema.WithDefaultSchema) -> Any:
        factory = schema.get("default_factory")
        if factory is not None and not schema.get("default_factory_takes_data"):
            return factory()
        return super().get_default_value(schema)


def scenario_model_schema() -> dict[str, Any]:
    """The JSON Schema of `Scenario`, every default shown (also those of default factories)."""
    return Scenario.model_json_schema(schema_generator=_FactoryDefaults)


#: Name of the top level among the sections.
_TOP = "Scenario"


@dataclass(frozen=True)
class _Place:
    """Where a section sits in the file (its ``$defs`` name), and which kind of it it is."""

    path: str
    definition: str
    variant: str = ""
    default_kind: bool = False


def _collect(place: _Place, definitions: dict[str, Any], tables: list[ReferenceTable]) -> None:
    section = definitions[place.definition]
    required = set(section.get("required", ()))
    rows, nested = [], []
    for name, prop in section["properties"].items():
        key = f"{place.path}.{name}" if place.path else name
        rows.append(_row(key, name, prop, name in required, definitions))
        nested += _sections(key, prop, definitions)
    text = _first_paragraph(section.get("description", ""))
    tables.append(ReferenceTable(place.path, place.variant, text, tuple(rows), place.default_kind))
    for inner in nested:
        _collect(inner, definitions, tables)


def _definition(schema: dict[str, Any]) -> str:
    return schema["$ref"].removeprefix("#/$defs/")


def _options(prop: dict[str, Any]) -> list[dict[str, Any]]:
    """The alternatives of a field's schema, ``null`` left out."""
    options = prop.get("oneOf") or prop.get("anyOf") or [prop]
    return [option for option in options if option.get("type") != "null"]


def _is_nullable(prop: dict[str, Any]) -> bool:
    return any(option.get("type") == "null" for option in prop.get("anyOf", ()))


def _sections(key: str, prop: dict[str, Any], definitions: dict[str, Any]) -> list[_Place]:
    """The sections a field holds: one, or one per kind."""
    options, suffix = _options(prop), ""
    if len(options) == 1 and options[0].get("type") == "array" and "items" in options[0]:
        options, suffix = _options(options[0]["items"]), "[]"
    kinds = [option for option in options if "$ref" in option]
    if not kinds:
        return []
    if len(kinds) == 1:
        return [_Place(key + suffix, _definition(kinds[0]))]
    default = prop.get("default")
    places = []
    for kind in kinds:
        name = _definition(kind)
        tag, value = _kind_tag(definitions[name])
        is_default = isinstance(default, dict) and value is not None and default.get(tag) == value
        label = f"{tag}: {value}" if value is not None else f"{tag}: …"
        places.append(_Place(key + suffix, name, label, is_default))
    return places


def _kind_tag(section: dict[str, Any]) -> tuple[str, Any]:
    """How a file names one kind of a section: its constant key and value, else its first
    required key (and no value)."""
    for name, prop in section["properties"].items():
        if "const" in prop:
            return name, prop["const"]
    return section["required"][0], None


def _row(
    key: str, name: str, prop: dict[str, Any], required: bool, definitions: dict[str, Any]
) -> ReferenceRow:
    """A field's row, from its JSON Schema."""
    options = _options(prop)
    by_name = any(option.get("type") == "string" for option in options) and any(
        "$ref" in option for option in options
    )
    return ReferenceRow(
        key=key,
        type=("name, or " if by_name else "") + _type_text(prop),
        unit=unit_of(name),
        default=_default_text(prop, required, definitions),
        description=" ".join(prop.get("description", "").split()),
    )


def _bounds(schema: dict[str, Any]) -> str:
    """Bounds of a number as an interval, e.g. ``in (0, 1]`` or ``≥ 1``."""
    low = high = ""
    if "exclusiveMinimum" in schema:
        low = f"({schema['exclusiveMinimum']:g}"
    elif "minimum" in schema:
        low = f"[{schema['minimum']:g}"
    if "exclusiveMaximum" in schema:
        high = f"{schema['exclusiveMaximum']:g})"
    elif "maximum" in schema:
        high = f"{schema['maximum']:g}]"
    if low and high:
        return f" in {low}, {high}"
    if low:
        return f" {'>' if low[0] == '(' else '≥'} {low[1:]}"
    if high:
        return f" {'<' if high[-1] == ')' else '≤'} {high[:-1]}"
    return ""


_TYPE_NAMES = {"boolean": "boolean", "integer": "integer", "number": "number", "string": "string"}


def _type_text(schema: dict[str, Any]) -> str:
    options = _options(schema)
    bounds = _bounds(schema)
    optional = " or null" if _is_nullable(schema) else ""
    if len(options) > 1:
        kinds = [option for option in options if "$ref" in option]
        if len(kinds) > 1:
            return "section, one of the kinds below" + optional
        number = {"type": "number"}
        if {json.dumps(option, sort_keys=True) for option in options} == {
            json.dumps(number),
            json.dumps({"items": number, "type": "array"}, sort_keys=True),
        }:
            return "number or range [low, high]" + bounds + optional
        return " or ".join(_type_text(option) for option in options) + optional
    (schema,) = options
    if "$ref" in schema:
        return "section" + optional
    if "const" in schema:
        return f"`{schema['const']}`" + optional
    if "enum" in schema:
        return " | ".join(f"`{value}`" for value in schema["enum"]) + optional
    kind = schema.get("type")
    if kind == "array" and "prefixItems" in schema:
        return "[" + ", ".join(_type_text(item) for item in schema["prefixItems"]) + "]" + optional
    if kind == "array":
        return f"list of {_plural(_type_text(schema.get('items', {})))}" + optional
    if kind == "object":
        keys = _type_text({"type": "string", **schema.get("propertyNames", {})})
        values = _type_text(schema.get("additionalProperties", {}))
        return f"mapping of {keys} to {values}" + optional
    text = _TYPE_NAMES.get(kind, "any value")
    return text + (_bounds(schema) if kind in ("integer", "number") else "") + optional


def _plural(text: str) -> str:
    return {"section": "sections", "string": "strings", "number": "numbers"}.get(text, text)


def _default_text(prop: dict[str, Any], required: bool, definitions: dict[str, Any]) -> str:
    if required or "default" not in prop:
        return "required"
    value = prop["default"]
    kinds = [_definition(option) for option in _options(prop) if "$ref" in option]
    if isinstance(value, dict) and kinds:
        name = _kind_of(value, kinds, definitions)
        shown = _without_defaults(value, definitions[name], definitions)
        if len(kinds) > 1:
            tag, kind = _kind_tag(definitions[name])
            shown = shown if kind is None else {tag: kind, **shown}
        return f"`{_value_text(shown)}`" if shown else "defaults"
    return "none" if value is None else f"`{_value_text(value)}`"


def _kind_of(value: dict[str, Any], kinds: list[str], definitions: dict[str, Any]) -> str:
    """The kind (``$defs`` name) a default section value is of."""
    if len(kinds) == 1:
        return kinds[0]
    for name in kinds:
        tag, kind = _kind_tag(definitions[name])
        if kind is not None and value.get(tag) == kind:
            return name
    return kinds[0]


def _without_defaults(
    value: dict[str, Any], section: dict[str, Any], definitions: dict[str, Any]
) -> dict[str, Any]:
    """A section's value without the keys that hold their own default, nested sections alike."""
    shown = {}
    for name, item in value.items():
        prop = section["properties"][name]
        if "default" in prop and prop["default"] == item:
            continue
        kinds = [_definition(option) for option in _options(prop) if "$ref" in option]
        if isinstance(item, dict) and kinds:
            item = _without_defaults(
                item, definitions[_kind_of(item, kinds, definitions)], definitions
            )
        shown[name] = item
    return shown


def _value_text(value: Any) -> str:
    """A value as YAML flow text: ``[0.4, 0.9]``, ``{preset: community_rana}``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        return value if value else '""'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value_text(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_value_text(v)}" for k, v in value.items()) + "}"
    return str(value)


def _first_paragraph(text: str) -> str:
    """The first paragraph of a section's description (its model's docstring), in Markdown."""
    return " ".join(text.split("\n\n")[0].split()).replace("``", "`")
