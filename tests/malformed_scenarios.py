"""A corpus of malformed scenario files, generated deterministically from a seed.

Each case starts from one of the shipped scenarios (``scenarios/*.yaml``) and breaks it in one
way, either in its mapping (a value replaced by a hostile one, a key deleted, added or nested
deep) or in its text (a line repeated or dropped, bytes that are not UTF-8, an alias bomb, a
truncation, flipped bytes). Case ``k`` of seed ``s`` depends only on ``s`` and ``k``, so a
failing case can be rebuilt alone.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tefed.scenario.files import read_scenario_data

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((REPO / "scenarios").glob("*.yaml"))

#: Values a careless or hostile author might put anywhere.
HOSTILE_VALUES: tuple[Any, ...] = (
    None, "", " ", True, False, 0, -1, 1, 0.5, -1e-9,
    2**31, 2**32, 2**53 + 1, 2**63, -(2**63), 2**64, 10**7, 10**12, 10**30, 10**400,
    1e12, 1e308, -1e308, float("inf"), float("-inf"), float("nan"),
    "inf", "-inf", "NaN", "nan", "1e309", "0x10", "1_000",
    [], {}, [1], [1, 2, 3], [2, 1], [float("nan"), 1.0], [1.0, float("nan")], [None, None],
    ["a", "b"], {"a": 1}, {"generator": None}, {"mechanism": [1]}, {"name": {}},
    "x" * 5000, "a\nb", "a/b", "../../etc", "/proc", "/dev/null", "nul\x00byte", "€uro",
    "9999-12-31T00:00:00", "0001-01-01T00:00:00", "2022-02-30T00:00:00", "Mars/Olympus",
    "A" * 300, "Europe/Berlin", "opendss", "double_auction", "optimizing", "h01",
)  # fmt: skip


@dataclass(frozen=True)
class MalformedScenario:
    """One case of the corpus.

    Attributes
    ----------
    name : str
        Which base and which breakage, e.g. ``default.yaml: replace time.duration_s``.
    content : bytes
        The file's bytes.
    """

    name: str
    content: bytes


def malformed_scenarios(seed: int, count: int) -> list[MalformedScenario]:
    """``count`` malformed scenario files, the same for the same ``seed``."""
    return [malformed_scenario(seed, index) for index in range(count)]


def malformed_scenario(seed: int, index: int) -> MalformedScenario:
    """Case ``index`` of the corpus of ``seed``."""
    draw = random.Random(f"{seed}-{index}")
    base = draw.choice(SCENARIOS)
    mutation = draw.choice(MUTATIONS)
    what, content = mutation(draw, base)
    return MalformedScenario(f"{base.name}: {what}", content)


#: libyaml's emitter where PyYAML has it (the corpus is written ten times faster).
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _dumped(data: Any) -> bytes:
    return yaml.dump(data, Dumper=_DUMPER, sort_keys=False, allow_unicode=True, width=120).encode()


def _merged(base: Path) -> dict[str, Any]:
    """The base's mapping with its ``extends`` chain merged in (the case is a file on its own)."""
    return read_scenario_data(base).data


def _places(data: Any, path: tuple = ()) -> list[tuple]:
    """Every key path of ``data`` (mapping keys and list positions), parents first."""
    places = [path] if path else []
    if isinstance(data, dict):
        for key, value in data.items():
            places += _places(value, (*path, key))
    elif isinstance(data, list):
        for position, value in enumerate(data):
            places += _places(value, (*path, position))
    return places


def _set(data: Any, path: tuple, value: Any) -> None:
    for part in path[:-1]:
        data = data[part]
    data[path[-1]] = value


def _get(data: Any, path: tuple) -> Any:
    for part in path:
        data = data[part]
    return data


def _dotted(path: tuple) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)[1:]


def _replace_value(draw: random.Random, base: Path) -> tuple[str, bytes]:
    data = _merged(base)
    path = draw.choice(_places(data))
    _set(data, path, draw.choice(HOSTILE_VALUES))
    return f"replace {_dotted(path)}", _dumped(data)


def _replace_two_values(draw: random.Random, base: Path) -> tuple[str, bytes]:
    data = _merged(base)
    places = _places(data)
    changed = []
    for _ in range(2):
        path = draw.choice(places)
        try:
            _set(data, path, draw.choice(HOSTILE_VALUES))
        except (KeyError, IndexError, TypeError):
            continue  # the first change removed this place
        changed.append(_dotted(path))
    return f"replace {' and '.join(changed)}", _dumped(data)


def _scale_number(draw: random.Random, base: Path) -> tuple[str, bytes]:
    data = _merged(base)
    numbers = [
        path
        for path in _places(data)
        if isinstance(_get(data, path), int | float) and not isinstance(_get(data, path), bool)
    ]
    path = draw.choice(numbers)
    factor = draw.choice((-1, -1e6, 1e6, 1e12, 1e300, 0))
    _set(data, path, _get(data, path) * factor)
    return f"scale {_dotted(path)} by {factor:g}", _dumped(data)


def _delete_key(draw: random.Random, base: Path) -> tuple[str, bytes]:
    data = _merged(base)
    path = draw.choice(_places(data))
    parent = _get(data, path[:-1])
    del parent[path[-1]]
    return f"delete {_dotted(path)}", _dumped(data)


def _add_key(draw: random.Random, base: Path) -> tuple[str, bytes]:
    data = _merged(base)
    mappings = [()] + [path for path in _places(data) if isinstance(_get(data, path), dict)]
    path = draw.choice(mappings)
    key = draw.choice(("extra", "Name", "count", "name", "<<", "1", "dss", "generator"))
    _get(data, path)[key] = draw.choice(HOSTILE_VALUES)
    return f"add {_dotted((*path, key))}", _dumped(data)


def _nest_deep(draw: random.Random, base: Path) -> tuple[str, bytes]:
    data = _merged(base)
    path = draw.choice(_places(data))
    depth = draw.choice((5, 31, 33, 200, 3000))
    text = _dumped(data).decode()
    nested = "[" * depth + "1" + "]" * depth
    key = path[-1] if isinstance(path[-1], str) else "households"
    # Put the nested flow list in place of the first line naming the key.
    lines = text.splitlines()
    for position, line in enumerate(lines):
        if line.strip().startswith(f"{key}:"):
            indent = line[: len(line) - len(line.lstrip())]
            lines[position] = f"{indent}{key}: {nested}"
            break
    return f"nest {key} {depth} deep", "\n".join(lines).encode()


def _many_groups(draw: random.Random, base: Path) -> tuple[str, bytes]:
    data = _merged(base)
    groups = draw.choice((1_001, 5_000, 100_000))
    count = draw.choice((1, 10**7, 10**12))
    if groups > 1_001:
        # Written as an alias to one group, so the file stays small and the node bound is hit.
        aliases = ", ".join(["*g"] * groups)
        text = f"g: &g {{group: same, count: {count}}}\nhouseholds: [{aliases}]\n"
        data.pop("households")
        return f"{groups} aliased groups", (text + _dumped(data).decode()).encode()
    data["households"] = [{"group": f"g{k}", "count": count} for k in range(groups)]
    return f"{groups} groups of {count}", _dumped(data)


def _huge_count(draw: random.Random, base: Path) -> tuple[str, bytes]:
    data = _merged(base)
    position = draw.randrange(len(data["households"]))
    data["households"][position]["count"] = draw.choice((10**5, 10**7, 10**9, 2**63, 2**64))
    return f"households[{position}].count huge", _dumped(data)


def _repeat_line(draw: random.Random, base: Path) -> tuple[str, bytes]:
    lines = base.read_text().splitlines()
    position = draw.randrange(len(lines))
    lines.insert(position, lines[position])
    return f"repeat line {position + 1}", "\n".join(lines).encode()


def _drop_line(draw: random.Random, base: Path) -> tuple[str, bytes]:
    lines = base.read_text().splitlines()
    position = draw.randrange(len(lines))
    del lines[position]
    return f"drop line {position + 1}", "\n".join(lines).encode()


def _not_utf8(draw: random.Random, base: Path) -> tuple[str, bytes]:
    content = base.read_bytes()
    if draw.random() < 0.3:
        return "latin-1 encoded", base.read_text().replace("e", "é").encode("latin-1")
    position = draw.randrange(len(content))
    junk = draw.choice((b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xfe\xff", b"\x80\x80"))
    return f"bytes {junk!r} at {position}", content[:position] + junk + content[position:]


def _alias_bomb(draw: random.Random, base: Path) -> tuple[str, bytes]:
    width, levels = draw.choice(((2, 20), (9, 9), (10, 30), (2, 40), (3, 12)))
    lines = ['l0: &l0 ["lol"]']
    for level in range(1, levels + 1):
        refs = ", ".join([f"*l{level - 1}"] * width)
        lines.append(f"l{level}: &l{level} [{refs}]")
    target = draw.choice(("description", "households", "grid", "seed"))
    bomb = "\n".join(lines) + f"\n{target}: *l{levels}\n"
    data = _merged(base)
    data.pop(target, None)
    return f"{width}x{levels} alias bomb at {target}", (bomb + _dumped(data).decode()).encode()


def _self_alias(draw: random.Random, base: Path) -> tuple[str, bytes]:
    data = _merged(base)
    data.pop("grid", None)
    text = "grid: &loop {feeder: *loop}\n" if draw.random() < 0.5 else "grid: &loop [*loop]\n"
    return "alias to itself", (text + _dumped(data).decode()).encode()


def _truncate(draw: random.Random, base: Path) -> tuple[str, bytes]:
    content = base.read_bytes()
    position = draw.randrange(len(content))
    return f"truncate at {position}", content[:position]


def _flip_bytes(draw: random.Random, base: Path) -> tuple[str, bytes]:
    content = bytearray(base.read_bytes())
    for _ in range(draw.randrange(1, 8)):
        content[draw.randrange(len(content))] = draw.randrange(256)
    return "flip bytes", bytes(content)


def _tagged(draw: random.Random, base: Path) -> tuple[str, bytes]:
    tag = draw.choice(
        (
            "!!python/object/apply:os.system ['true']",
            "!!binary AAAA",
            "!!timestamp 2022-13-45",
            "!!int 99999999999999999999999999999",
            "!!float .nan",
            "!!set {a, b}",
            "!!omap [a: 1]",
            "!custom x",
            "2022-06-21",
            "!!int " + "9" * 5000,
        )
    )
    data = _merged(base)
    key = draw.choice(("seed", "name", "description"))
    data.pop(key, None)
    return f"{key}: {tag[:30]}", (f"{key}: {tag}\n" + _dumped(data).decode()).encode()


def _extends(draw: random.Random, base: Path) -> tuple[str, bytes]:
    data = _merged(base)
    data["extends"] = draw.choice(
        ("case.yaml", "/dev/zero", "/proc/self/environ", "..", "missing.yaml", 7, ["a"], "")
    )
    return f"extends {data['extends']!r}", _dumped(data)


def _not_a_mapping(draw: random.Random, base: Path) -> tuple[str, bytes]:
    content = draw.choice((b"", b"- 1\n- 2\n", b"42\n", b"~\n", b"---\n---\n", b"\x00\x00"))
    return f"document {content[:10]!r}", content


def _too_large(draw: random.Random, base: Path) -> tuple[str, bytes]:
    padding = b"# " + b"x" * 1022 + b"\n"
    return "150 kB of comments", base.read_bytes() + padding * 150


MUTATIONS: tuple[Callable[[random.Random, Path], tuple[str, bytes]], ...] = (
    _replace_value, _replace_value, _replace_value, _replace_value, _replace_value,
    _replace_two_values, _scale_number, _scale_number, _delete_key, _delete_key, _add_key,
    _nest_deep, _many_groups, _huge_count, _repeat_line, _repeat_line, _drop_line, _not_utf8,
    _alias_bomb, _self_alias, _truncate, _flip_bytes, _tagged, _extends, _not_a_mapping,
    _too_large,
)  # fmt: skip
