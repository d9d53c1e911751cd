"""Scenario files on disk: reading the YAML and composing a scenario from a base (``extends``).

A scenario file may start from another one: ``extends: base.yaml`` (a path relative to the
extending file; the base may itself extend another). The base is read first, then the extending
file is merged over it:

- a mapping merges key by key into the base's mapping, at every depth; any other value (a number,
  a string, a list, ``null``) replaces the base's value. ``pv: null`` removes a group's PV,
  ``community_battery: null`` the community battery.
- a section that comes in kinds (``market`` by ``mechanism``, ``grid.feeder`` by ``generator`` or
  ``dss``, ``prices.wholesale`` by ``source``, ``prices.import_tariff`` by ``kind``, a group's
  ``strategy`` by ``name``) merges only while the kind stays the same: an extending file that
  names another kind replaces the whole section, since the options of one kind mean nothing to
  another.
- ``households`` given as a list replaces the base's groups wholesale. Given as a mapping from
  group name to keys, it overrides those groups of the base by name and keeps the others in
  order: each entry merges into its group as above (``null`` removes the group). Giving
  ``strategy`` drops the base group's ``strategy_mix`` and the other way round. A name the base
  has no group for is an error; to add groups, give the whole list.
- ``name`` is never inherited: an extending file must set its own.

Each file is read within the bounds of `tefed.scenario.bounded_yaml` (size, encoding, nesting,
aliases, duplicate keys), and a chain holds at most ``MAX_CHAIN`` files.

Relative paths (`PATH_FIELDS`: a feeder, a price or load CSV, a weather file, the results root)
resolve against the folder of the file that names them: a base's paths are rewritten relative to
the extending file's folder before the merge (``extends: ../base.yaml`` turns the base's
``prices.csv`` into ``../prices.csv``), so a variant in a subfolder reads the base's files.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tefed.contract.errors import InputError
from tefed.scenario.bounded_yaml import read_yaml

#: The key naming a scenario's base file.
EXTENDS_KEY = "extends"

#: Most files in a chain of ``extends``: the file that is read and its bases [-].
MAX_CHAIN = 16

#: Sections that come in kinds: the path (``*``: any household group), the key naming the kind
#: and the kind of a mapping that does not name one (the model's default).
SECTION_KINDS: dict[tuple[str, ...], tuple[str, str | None]] = {
    ("market",): ("mechanism", "double_auction"),
    ("grid", "feeder"): ("generator", "radial_lv"),
    ("prices", "wholesale"): ("source", "synthetic"),
    ("prices", "import_tariff"): ("kind", "flat"),
    ("households", "*", "strategy"): ("name", None),
}
#: A feeder naming an OpenDSS file (``dss``) is of this kind, whatever else it says.
OPENDSS_FEEDER = "opendss"

#: The scenario's file and folder paths (``*``: any household group); a relative one resolves
#: against the folder of the file that names it.
PATH_FIELDS: tuple[tuple[str, ...], ...] = (
    ("grid", "feeder", "dss"),
    ("prices", "wholesale", "path"),
    ("pv_model", "weather_file"),
    ("households", "*", "load", "path"),
    ("run", "results_root"),
)

#: Keys of a household group that exclude each other: giving one drops the base's other.
EXCLUSIVE_GROUP_KEYS = (("strategy", "strategy_mix"),)


@dataclass(frozen=True)
class ScenarioData:
    """A scenario file's mapping after composition, and the files it came from.

    Attributes
    ----------
    data : dict
        The merged mapping, without ``extends``.
    files : tuple of pathlib.Path
        The file that was read, then its base, its base's base, …
    """

    data: dict[str, Any]
    files: tuple[Path, ...]

    @property
    def source(self) -> str:
        """How problems name the scenario: the file, and its bases if it has any."""
        if len(self.files) == 1:
            return str(self.files[0])
        bases = " → ".join(file.name for file in self.files[1:])
        return f"{self.files[0]} (extends {bases})"


def read_scenario_data(path: str | Path) -> ScenarioData:
    """Read a scenario file and every base it extends, and merge them.

    Parameters
    ----------
    path : str or pathlib.Path
        The scenario file (YAML).

    Returns
    -------
    ScenarioData
        The merged mapping (not yet validated) and the chain of files.

    Raises
    ------
    InputError
        If a file is missing or is not a YAML mapping, an ``extends`` names no file or closes a
        cycle (naming the files), an extending file has no ``name``, or an override names a
        household group the base does not have.
    """
    return _read(Path(path), ())


def merge_scenario_data(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """The scenario mapping ``override`` merged over ``base`` (see the module docstring).

    Parameters
    ----------
    base, override : dict
        Scenario mappings as read from YAML; neither is changed.

    Returns
    -------
    dict
        The merged mapping.

    Raises
    ------
    ValueError
        Naming every override of a household group the base does not have.

    Examples
    --------
    >>> base = {"time": {"start": "2022-06-21T00:00:00", "duration_s": 86400},
    ...         "market": {"mechanism": "double_auction", "settlement_rule": "uniform"},
    ...         "households": [{"group": "pv", "count": 4}, {"group": "ref", "count": 1}]}
    >>> merged = merge_scenario_data(base, {"time": {"duration_s": 3600},
    ...                                     "market": {"mechanism": "dlmp"},
    ...                                     "households": {"pv": {"count": 6}}})
    >>> merged["time"], merged["market"]
    ({'start': '2022-06-21T00:00:00', 'duration_s': 3600}, {'mechanism': 'dlmp'})
    >>> merged["households"]
    [{'group': 'pv', 'count': 6}, {'group': 'ref', 'count': 1}]
    """
    problems: list[str] = []
    merged = _merge_mapping(base, override, (), problems)
    if problems:
        raise ValueError("; ".join(problems))
    return merged


def _read(path: Path, chain: tuple[Path, ...]) -> ScenarioData:
    """Read ``path`` and its bases; ``chain`` holds the files that extend it, nearest last."""
    data = _read_mapping(path, chain)
    base_reference = data.pop(EXTENDS_KEY, None)
    if base_reference is None:
        return ScenarioData(data, (path,))
    if not isinstance(base_reference, str) or not base_reference.strip():
        raise InputError(
            str(path),
            [f"{EXTENDS_KEY}: got {base_reference!r}; expected the path of a base scenario file"],
        )
    if len(chain) + 2 > MAX_CHAIN:
        raise InputError(
            str(path),
            [
                f"{EXTENDS_KEY}: got {base_reference!r}; expected a chain of at most {MAX_CHAIN} "
                "files"
            ],
        )
    base_path = path.parent / base_reference
    if not base_path.exists() and not base_path.is_symlink():
        raise InputError(
            str(path),
            [f"{EXTENDS_KEY}: got {base_reference!r}; no such file ({base_path.absolute()})"],
        )
    visited = [*chain, path]
    if _resolved(base_path) in {_resolved(file) for file in visited}:
        loop = " → ".join(str(file) for file in [*visited, base_path])
        raise InputError(
            str(path), [f"{EXTENDS_KEY}: got {base_reference!r}, which closes a cycle: {loop}"]
        )
    base = _read(base_path, tuple(visited))
    base_data = rebase_paths(base.data, os.path.dirname(base_reference))
    problems = []
    if "name" not in data:
        inherited = base.data.get("name")
        problems.append(
            f"name: required but missing; a scenario that extends {base_reference} must set "
            f"its own name" + (f" (the base's is {inherited!r})" if inherited else "")
        )
    merged = _merge_mapping(base_data, data, (), problems)
    if problems:
        raise InputError(str(path), problems)
    return ScenarioData(merged, (path, *base.files))


def rebase_paths(data: dict[str, Any], base_folder: str) -> dict[str, Any]:
    """Scenario mapping ``data`` with its relative `PATH_FIELDS` prefixed by ``base_folder``.

    ``base_folder`` is the folder of the file ``data`` came from, relative to the file that
    extends it (the folder part of its ``extends``); paths that are absolute, or not strings
    (a malformed file, reported when validated), are kept as they are. ``data`` is not changed.

    Examples
    --------
    >>> data = {"prices": {"wholesale": {"source": "csv", "path": "data/prices.csv"}},
    ...         "households": [{"group": "a", "load": {"profile": "csv", "path": "loads.csv"}},
    ...                        {"group": "b", "load": {"profile": "synthetic"}}],
    ...         "run": {"results_root": "/srv/results"}}
    >>> rebased = rebase_paths(data, "..")
    >>> rebased["prices"]["wholesale"]["path"], rebased["households"][0]["load"]["path"]
    ('../data/prices.csv', '../loads.csv')
    >>> rebased["run"]["results_root"]
    '/srv/results'
    """
    if base_folder in ("", "."):
        return data
    rebased = copy.deepcopy(data)
    for field in PATH_FIELDS:
        for parent in _parents(rebased, field[:-1]):
            value = parent.get(field[-1])
            if isinstance(value, str) and value and not os.path.isabs(value):
                parent[field[-1]] = os.path.join(base_folder, value)
    return rebased


def _parents(data: Any, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """The mappings found at ``keys`` under ``data`` (``*``: every item of a list)."""
    if not keys:
        return [data] if isinstance(data, dict) else []
    head, rest = keys[0], keys[1:]
    if head == "*":
        items = data if isinstance(data, list) else []
        return [found for item in items for found in _parents(item, rest)]
    return _parents(data.get(head), rest) if isinstance(data, dict) else []


def _read_mapping(path: Path, chain: tuple[Path, ...]) -> dict[str, Any]:
    """The top-level mapping of one YAML file."""
    named = f" (extended by {chain[-1]})" if chain else ""
    try:
        data = read_yaml(path)
    except FileNotFoundError:
        raise InputError(str(path), [f"file not found{named}"]) from None
    if not isinstance(data, dict):
        raise InputError(str(path), ["expected a mapping of sections at the top level"])
    return data


def _resolved(path: Path) -> Path:
    """The file ``path`` names, through symlinks; ``path`` itself where they loop."""
    try:
        return path.resolve(strict=True)
    except (OSError, RuntimeError):
        return path.absolute()


def _section_kind(path: tuple) -> tuple[str, str | None] | None:
    pattern = tuple("*" if isinstance(part, int) else part for part in path)
    return SECTION_KINDS.get(pattern)


def _kind(section: dict[str, Any], key: str, default: str | None) -> str | None:
    if key == "generator" and "dss" in section:
        return OPENDSS_FEEDER
    return section.get(key, default)


def _merge_value(base: Any, override: Any, path: tuple, problems: list[str]) -> Any:
    if path == ("households",) and isinstance(override, dict):
        return _override_groups(base, override, problems)
    kinds = _section_kind(path)
    if kinds is not None and isinstance(base, str) and isinstance(override, dict):
        base = {kinds[0]: base}  # a strategy given by name in the base
    if not (isinstance(base, dict) and isinstance(override, dict)):
        return copy.deepcopy(override)
    if kinds is not None:
        key, default = kinds
        names_kind = key in override or (key == "generator" and "dss" in override)
        if names_kind and _kind(override, key, default) != _kind(base, key, default):
            return copy.deepcopy(override)
    return _merge_mapping(base, override, path, problems)


def _merge_mapping(
    base: dict[str, Any], override: dict[str, Any], path: tuple, problems: list[str]
) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    if len(path) == 2 and path[0] == "households":
        for pair in EXCLUSIVE_GROUP_KEYS:
            for given, dropped in (pair, pair[::-1]):
                if given in override:
                    merged.pop(dropped, None)
    for key, value in override.items():
        if key in merged or (*path, key) == ("households",):
            merged[key] = _merge_value(merged.get(key), value, (*path, key), problems)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _override_groups(base: Any, overrides: dict[str, Any], problems: list[str]) -> Any:
    """Household groups of the base, overridden by group name."""
    if not isinstance(base, list):
        problems.append(
            "households: given as overrides by group name, but the base has no list of groups "
            "to override; give the list of groups"
        )
        return base
    names = [group.get("group") if isinstance(group, dict) else None for group in base]
    groups = list(base)
    for name, override in overrides.items():
        if name not in names:
            problems.append(
                f"households.{name}: the base has no group {name!r}; its groups are "
                f"{[n for n in names if n is not None]} (to add a group, give the whole list)"
            )
            continue
        position = names.index(name)
        if override is None:
            groups[position] = None
        elif isinstance(override, dict):
            groups[position] = _merge_value(
                groups[position], override, ("households", position), problems
            )
        else:
            problems.append(
                f"households.{name}: got {override!r}; expected a mapping of keys to override, "
                "or null to remove the group"
            )
    return [group for group in groups if group is not None]
