"""The scenario file's documentation, generated from its models: a JSON Schema and a reference.

Both are built from the pydantic models of `tefed.scenario.model` (and the section modules beside
it), so they list exactly the keys a scenario file may have, with the types, bounds, defaults and
descriptions the validator uses. ``make docs`` writes them to ``docs/scenario.schema.json`` and
``docs/scenario-reference.md``; a test fails when the committed files differ from these.

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
import types
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

import tefed.scenario.files as scenario_files
from tefed.scenario.files import EXTENDS_KEY
from tefed.scenario.model import Scenario

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
    strict = Scenario.model_json_schema()
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
    """Every section of a scenario file as a table, in file order, kinds one table each."""
    tables: list[ReferenceTable] = []
    _collect(_Place("", Scenario), tables)
    top = tables[0]
    extends = ReferenceRow(EXTENDS_KEY, "string", NO_UNIT, "none", EXTENDS_DESCRIPTION)
    tables[0] = ReferenceTable(top.path, top.variant, top.text, (extends, *top.rows))
    return tables


@dataclass(frozen=True)
class _Place:
    """Where a section's model sits in the file, and which kind of the section it is."""

    path: str
    model: type[BaseModel]
    variant: str = ""
    default_kind: bool = False


def _collect(place: _Place, tables: list[ReferenceTable]) -> None:
    rows, nested = [], []
    properties = place.model.model_json_schema()["properties"]
    for name, field in place.model.model_fields.items():
        key = f"{place.path}.{name}" if place.path else name
        rows.append(_row(key, name, field, properties[name]))
        nested += _sections(key, field)
    text = _docstring_text(place.model)
    tables.append(ReferenceTable(place.path, place.variant, text, tuple(rows), place.default_kind))
    for section in nested:
        _collect(section, tables)


def _sections(key: str, field: FieldInfo) -> list[_Place]:
    """The sections a field holds: one, or one per kind."""
    annotation, suffix = _without_none(field.annotation), ""
    if get_origin(annotation) is list:
        annotation, suffix = get_args(annotation)[0], "[]"
    models = [_strip_annotated(member) for member in _members(annotation)]
    if not all(_is_model(member) for member in models):
        return []
    if len(models) == 1:
        return [_Place(key + suffix, models[0])]
    default = field.get_default(call_default_factory=True)
    return [
        _Place(key + suffix, model, _kind_label(model), type(default) is model) for model in models
    ]


def _kind_label(model: type[BaseModel]) -> str:
    """How a file names one kind of a section: its one-valued Literal key, or its first key."""
    for name, field in model.model_fields.items():
        values = get_args(field.annotation) if get_origin(field.annotation) is Literal else ()
        if len(values) == 1:
            return f"{name}: {values[0]}"
    required = [name for name, field in model.model_fields.items() if field.is_required()]
    return f"{required[0]}: …"


def _row(key: str, name: str, field: FieldInfo, schema: dict[str, Any]) -> ReferenceRow:
    """A field's row; ``schema`` is its JSON Schema (which says whether a bare name will do)."""
    by_name = any(option.get("type") == "string" for option in schema.get("oneOf", []))
    return ReferenceRow(
        key=key,
        type=("name, or " if by_name else "")
        + _type_text(field.annotation, _bounds(field.metadata)),
        unit=unit_of(name),
        default=_default_text(field),
        description=" ".join((field.description or "").split()),
    )


def _members(annotation: Any) -> tuple:
    if get_origin(annotation) in (Union, types.UnionType):
        return get_args(annotation)
    return (annotation,)


def _without_none(annotation: Any) -> Any:
    members = [member for member in _members(annotation) if member is not type(None)]
    if len(members) == len(_members(annotation)):
        return annotation
    return members[0] if len(members) == 1 else Union[tuple(members)]  # noqa: UP007


def _strip_annotated(annotation: Any) -> Any:
    return get_args(annotation)[0] if get_origin(annotation) is Annotated else annotation


def _is_model(annotation: Any) -> bool:
    return inspect.isclass(annotation) and issubclass(annotation, BaseModel)


def _bounds(metadata: list) -> str:
    """Bounds of a number as an interval, e.g. ``in (0, 1]`` or ``≥ 1``."""
    low = high = ""
    for item in metadata:
        if isinstance(item, FieldInfo):
            return _bounds(item.metadata)
        if isinstance(item, annotated_types.Gt):
            low = f"({item.gt:g}"
        elif isinstance(item, annotated_types.Ge):
            low = f"[{item.ge:g}"
        elif isinstance(item, annotated_types.Lt):
            high = f"{item.lt:g})"
        elif isinstance(item, annotated_types.Le):
            high = f"{item.le:g}]"
    if low and high:
        return f" in {low}, {high}"
    if low:
        return f" {'>' if low[0] == '(' else '≥'} {low[1:]}"
    if high:
        return f" {'<' if high[-1] == ')' else '≤'} {high[:-1]}"
    return ""


def _type_text(annotation: Any, bounds: str = "") -> str:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        extra = [item for item in args[1:] if isinstance(item, FieldInfo)]
        return _type_text(args[0], bounds or (_bounds(extra) if extra else ""))
    if origin in (Union, types.UnionType):
        members = [member for member in args if member is not type(None)]
        optional = " or null" if len(members) < len(args) else ""
        if set(members) == {float, list[float]}:
            return "number or range [low, high]" + optional
        if len(members) > 1 and all(_is_model(_strip_annotated(m)) for m in members):
            return "section, one of the kinds below" + optional
        return " or ".join(_type_text(member, bounds) for member in members) + optional
    if origin is Literal:
        return " | ".join(f"`{value}`" for value in args)
    if origin is list:
        return f"list of {_plural(_type_text(args[0]))}"
    if origin is dict:
        return f"mapping of {_type_text(args[0])} to {_type_text(args[1])}"
    if origin is tuple:
        return "[" + ", ".join(_type_text(arg) for arg in args) + "]"
    if _is_model(annotation):
        return "section"
    names = {bool: "boolean", int: "integer", float: "number", str: "string"}
    text = names.get(annotation, getattr(annotation, "__name__", str(annotation)))
    return text + bounds if annotation in (int, float) else text


def _plural(text: str) -> str:
    return {"section": "sections", "string": "strings", "number": "numbers"}.get(text, text)


def _default_text(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        shown = value.model_dump(mode="json", exclude_defaults=True)
        label = _kind_label(type(value)) if len(_members(field.annotation)) > 1 else ""
        if ": " in label and not label.endswith("…"):
            tag, kind = label.split(": ")
            shown = {tag: kind, **shown}
        return f"`{_value_text(shown)}`" if shown else "defaults"
    return "none" if value is None else f"`{_value_text(value)}`"


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


def _docstring_text(model: type[BaseModel]) -> str:
    """The first paragraph of a model's docstring, in Markdown."""
    paragraph = (inspect.getdoc(model) or "").split("\n\n")[0]
    return " ".join(paragraph.split()).replace("``", "`")
