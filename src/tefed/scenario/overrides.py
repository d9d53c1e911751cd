"""One-off changes to a scenario by dotted path: ``tefed run --set`` and the points of a sweep.

An override is a dotted path into the scenario file and a value, ``market.settlement_rule=uniform``.
It is applied as if an extending file (see `tefed.scenario.files`) gave the nested mapping the
path spells out, so the rules of ``extends`` hold:

- a path into a mapping sets that key and keeps its siblings (``time.duration_s=3600``);
- household groups are addressed by their ``group`` name, not by position:
  ``households.pv_battery.battery.capacity_kwh=15``, ``households.pv.count=6``;
  ``households.pv.pv=null`` removes the group's PV;
- setting the key that names a section's kind to another kind (``market.mechanism=dlmp``) replaces
  the whole section with that kind's defaults, as an extending file naming another kind does.

Overrides apply one after the other, in the order given. A value is read as a YAML scalar or
flow collection (``6``, ``0.5``, ``uniform``, ``null``, ``[4, 7]``, ``{kwp: 5}``); the scenario
model validates the result, so a bad path (an unknown key, a group the scenario does not have)
or a bad value is reported like a problem in a scenario file.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from tefed.scenario.bounded_yaml import read_yaml_value
from tefed.scenario.files import merge_scenario_data

#: Separates the keys of a dotted scenario path.
PATH_SEPARATOR = "."


def parse_assignment(text: str) -> tuple[str, Any]:
    """Split ``PATH=VALUE`` into the dotted path and the value read as YAML.

    Parameters
    ----------
    text : str
        An assignment as given to ``tefed run --set``.

    Returns
    -------
    tuple of (str, object)
        The dotted path and the parsed value.

    Raises
    ------
    ValueError
        If there is no ``=``, the path is not a dotted path of names, or the value is not YAML.

    Examples
    --------
    >>> parse_assignment("households.pv.count=6")
    ('households.pv.count', 6)
    >>> parse_assignment("market.mechanism=dlmp")
    ('market.mechanism', 'dlmp')
    >>> parse_assignment("households.pv.pv.kwp=[4, 7]")
    ('households.pv.pv.kwp', [4, 7])
    """
    path, equals, value_text = text.partition("=")
    path = path.strip()
    if not equals:
        raise ValueError(f"--set {text!r}: expected PATH=VALUE, e.g. households.pv.count=6")
    check_path(path)
    try:
        value = read_yaml_value(value_text)
    except yaml.YAMLError as error:
        problem = str(error).replace("\n", " ")
        raise ValueError(f"{path}: value {value_text!r} is not valid YAML ({problem})") from None
    return path, value


def check_path(path: str) -> None:
    """Raise ValueError naming ``path`` unless it is a dotted path of non-empty names.

    Examples
    --------
    >>> check_path("households.pv.count")
    >>> check_path("market..mechanism")
    Traceback (most recent call last):
    ...
    ValueError: 'market..mechanism': expected a dotted path of names, e.g. households.pv.count
    """
    keys = path.split(PATH_SEPARATOR)
    if not path or any(not key.strip() or key != key.strip() for key in keys):
        raise ValueError(f"{path!r}: expected a dotted path of names, e.g. households.pv.count")


def nested_override(path: str, value: Any) -> dict[str, Any]:
    """The mapping an extending scenario file would give to set ``path`` to ``value``.

    Examples
    --------
    >>> nested_override("households.pv_battery.battery.capacity_kwh", 15)
    {'households': {'pv_battery': {'battery': {'capacity_kwh': 15}}}}
    """
    check_path(path)
    override: Any = value
    for key in reversed(path.split(PATH_SEPARATOR)):
        override = {key: override}
    return override


def apply_overrides(
    data: dict[str, Any], overrides: Mapping[str, Any] | Iterable[tuple[str, Any]]
) -> tuple[dict[str, Any], list[str]]:
    """Scenario mapping ``data`` with each override applied in turn (``data`` is not changed).

    Parameters
    ----------
    data : dict
        A scenario mapping as composed from its files (not yet validated).
    overrides : mapping or iterable of (str, object)
        Dotted paths and their values.

    Returns
    -------
    changed : dict
        The mapping with every override that could be applied, to be validated as a scenario.
    problems : list of str
        One per override that could not be applied (a malformed path, a household group the
        scenario does not have); such an override is left out of ``changed``.

    Examples
    --------
    >>> data = {"market": {"mechanism": "double_auction", "settlement_rule": "midpoint"},
    ...         "households": [{"group": "pv", "count": 4}, {"group": "ref", "count": 1}]}
    >>> changed, problems = apply_overrides(data, {"households.pv.count": 6,
    ...                                            "market.settlement_rule": "uniform",
    ...                                            "households.wind.count": 2})
    >>> changed["households"], changed["market"]["settlement_rule"]
    ([{'group': 'pv', 'count': 6}, {'group': 'ref', 'count': 1}], 'uniform')
    >>> problems  # doctest: +ELLIPSIS
    ["households.wind: the base has no group 'wind'; its groups are ['pv', 'ref'] ..."]
    """
    items = overrides.items() if isinstance(overrides, Mapping) else overrides
    changed = copy.deepcopy(data)
    problems: list[str] = []
    for path, value in items:
        try:
            changed = merge_scenario_data(changed, nested_override(path, value))
        except ValueError as error:
            problems.append(str(error))
    return changed, problems
