"""Reading one YAML file with bounds, so that no file can make tefed hang or exhaust memory.

A scenario file is small and hand-written; anything far outside that is refused before it is
turned into Python objects, naming the file and where in it the problem lies:

- the file must be a regular file of at most ``MAX_FILE_BYTES`` bytes (a FIFO, a device or a
  symlink loop is refused by path), encoded as UTF-8;
- collections may nest at most ``MAX_DEPTH`` levels, counted after aliases are expanded;
- the document may hold at most ``MAX_NODES`` values (keys, scalars and collections), also
  counted after aliases are expanded, so an alias bomb ("billion laughs") is refused in time
  linear in the file's size; an alias may not refer to the collection it is inside;
- a mapping may name each key once (YAML says keys are unique; PyYAML lets the last one win).

Only PyYAML's safe constructors are used: tags name no Python objects. A date or date-time
written without quotes (``start: 2022-06-21T06:00:00``) stays the text it is, as tefed's
scenario and sweep fields expect, instead of becoming a Python ``datetime`` (which YAML 1.1
resolves it to, and which no JSON run record can hold). So does a number written with colons:
YAML 1.1 reads ``17:30`` in base 60 as 1050, where a user meant half past five (the scenario
then refuses the text, naming it, instead of 1050). :func:`read_yaml_value` reads a command
line's ``--set`` value the same way.

The file is parsed by libyaml (PyYAML's C parser) where PyYAML has it, about ten times faster
than PyYAML's own parser: its event stream is read first to bound the nesting (libyaml composes
recursively in C, so ``[[[[…`` must be refused before composing), then the bounded document is
composed in C and constructed by the safe constructors. Without libyaml, PyYAML's Python
parser does the same with the nesting bounded as it composes.
"""

from __future__ import annotations

import copy
import functools
import io
import os
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from tefed.contract.errors import InputError, shown

#: Largest scenario file read [bytes] (the shipped ones are under 10 kB).
MAX_FILE_BYTES = 128 * 1024
#: Parsed files kept for reuse while their text is unchanged (at most this many × the
#: largest file, a few MB) [-].
PARSED_DOCUMENTS_KEPT = 16
#: Deepest nesting of mappings and lists, aliases expanded [levels].
MAX_DEPTH = 32
#: Most values in one file, aliases expanded: keys, scalars, mappings and lists [-].
MAX_NODES = 20_000
#: Tag of YAML's merge key ``<<``, which may repeat keys of the mappings it merges.
MERGE_TAG = "tag:yaml.org,2002:merge"
#: Longest key shown in a key path of a problem [characters].
_KEY_SHOWN = 40


class _BoundExceededError(Exception):
    """A bound is exceeded; ``problem`` says where and which."""

    def __init__(self, problem: str):
        super().__init__(problem)
        self.problem = problem


def _too_deep(mark: yaml.Mark) -> _BoundExceededError:
    """The refusal of a collection opened at ``mark`` deeper than ``MAX_DEPTH``."""
    return _BoundExceededError(
        f"line {mark.line + 1}, column {mark.column + 1}: nested deeper than {MAX_DEPTH} "
        f"levels; expected at most {MAX_DEPTH} levels of mappings and lists"
    )


#: Tag YAML 1.1 gives an unquoted date or date-time.
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


def _without_timestamps(resolvers: dict) -> dict:
    """PyYAML's implicit resolvers (first character -> [(tag, pattern)]) less the timestamp."""
    return {
        first: [(tag, pattern) for tag, pattern in entries if tag != _TIMESTAMP_TAG]
        for first, entries in resolvers.items()
    }


class _ReadableErrors:
    """Constructors whose Python errors read as YAML errors naming the value and its line;
    dates and date-times as text."""

    yaml_implicit_resolvers = _without_timestamps(yaml.SafeLoader.yaml_implicit_resolvers)

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        # PyYAML's constructors let Python's own errors out: a timestamp with month 13, an
        # integer of more digits than Python converts.
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as error:
            kind = node.tag.rpartition(":")[2]
            reason = str(error).partition(";")[0]  # not Python's advice on raising its limits
            raise ConstructorError(
                None, None, f"cannot read {shown(node.value)} as {kind} ({reason})", node.start_mark
            ) from None


class _BoundedLoader(_ReadableErrors, yaml.SafeLoader):
    """PyYAML's safe loader, refusing to compose collections nested deeper than ``MAX_DEPTH``.

    The composer recurses once per level; bounding it here keeps a file of ``[[[[…`` from
    exhausting Python's stack before the node graph can be checked.
    """

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(yaml.MappingStartEvent, yaml.SequenceStartEvent):
            if self._depth >= MAX_DEPTH:
                raise _too_deep(self.peek_event().start_mark)
            self._depth += 1
            try:
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1
        return super().compose_node(parent, index)


def _number_or_text(loader: yaml.SafeLoader, node: ScalarNode) -> Any:
    """An integer or float as PyYAML's safe constructors read it, except YAML 1.1's base-60
    form (``17:30``), kept as the text it is."""
    if ":" in node.value:
        return loader.construct_scalar(node)
    if node.tag == _INT_TAG:
        return loader.construct_yaml_int(node)
    return loader.construct_yaml_float(node)


_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"


def _read_clock_times_as_text(loader_class: type) -> None:
    """Give ``loader_class`` :func:`_number_or_text` for integers and floats."""
    loader_class.add_constructor(_INT_TAG, _number_or_text)
    loader_class.add_constructor(_FLOAT_TAG, _number_or_text)


_read_clock_times_as_text(_BoundedLoader)

#: libyaml's loader, where PyYAML has it.
_C_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _FastLoader(_ReadableErrors, _C_LOADER):  # type: ignore[misc,valid-type]
    """libyaml's parser and composer with PyYAML's safe constructors (see the module docstring)."""


_read_clock_times_as_text(_FastLoader)


#: Whether libyaml parses files (PyYAML was built with it).
LIBYAML = hasattr(yaml, "CSafeLoader")


def _check_nesting(text: str, name: str) -> None:
    """Refuse ``text`` (the file ``name``) whose mappings and lists nest deeper than
    ``MAX_DEPTH``, from libyaml's event stream (which does not recurse), naming the line and
    column of the first one too deep.

    libyaml reads ahead within a line, so a line of ``[[[[…`` meets libyaml's own nesting limit
    (1,000 levels) first; that is refused in the same words, at the column libyaml stopped.
    """
    depth = 0
    try:
        for event in yaml.parse(_named_stream(text, name), Loader=_C_LOADER):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                if depth >= MAX_DEPTH:
                    raise _too_deep(event.start_mark)
                depth += 1
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    except yaml.MarkedYAMLError as error:
        if "maximum nesting depth" in (error.problem or "") and error.problem_mark is not None:
            raise _too_deep(error.problem_mark) from None
        raise


def _named_stream(text: str, name: str) -> io.StringIO:
    """``text`` as a stream whose name libyaml's messages give (the file's)."""
    stream = io.StringIO(text)
    stream.name = name
    return stream


def _loader(text: str, name: str) -> yaml.SafeLoader:
    """A loader of ``text`` whose messages name the file ``name``: libyaml's when PyYAML has
    it (the nesting checked first), else PyYAML's own, bounding the nesting as it composes."""
    if not LIBYAML:
        loader = _BoundedLoader(text)
        loader.name = name
        return loader
    _check_nesting(text, name)
    return _FastLoader(_named_stream(text, name))


class _ValueLoader(_ReadableErrors, _C_LOADER):  # type: ignore[misc,valid-type]
    """A command line's value: the safe constructors, dates, date-times and base-60 numbers as
    text."""


_read_clock_times_as_text(_ValueLoader)


def read_yaml_value(text: str) -> Any:
    """One value written as YAML on a command line (``--set PATH=VALUE``), read as scenario
    files are read: safe constructors only, a date or date-time as its text.

    Raises
    ------
    yaml.YAMLError
        When ``text`` is not YAML.

    Examples
    --------
    >>> read_yaml_value("2022-06-21T06:00:00")
    '2022-06-21T06:00:00'
    >>> read_yaml_value("[4, 7.5, null, 0x10, 1.5e+3, .inf]")
    [4, 7.5, None, 16, 1500.0, inf]
    >>> read_yaml_value("17:30")
    '17:30'

    """
    loader = _ValueLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def read_yaml(path: Path) -> Any:
    """The document of one YAML file, within the bounds of this module.

    Parameters
    ----------
    path : pathlib.Path
        The file.

    Returns
    -------
    object
        What PyYAML's safe loader makes of the file (None for an empty file).

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path`` (callers word this one themselves).
    InputError
        If the file cannot be read, is not a regular file, is too large, is not UTF-8, is not
        valid YAML or exceeds a bound; the problem names the line, or the key path, of the fault.
    """
    # A sweep reads its base scenario once per point: the file is read each time (it may have
    # changed), its parse is reused while the text is the same.
    return copy.deepcopy(_parsed(_read_text(path), path))


@functools.lru_cache(maxsize=PARSED_DOCUMENTS_KEPT)
def _parsed(text: str, path: Path) -> Any:
    """The document of ``text`` (the file ``path``'s); see `read_yaml`. Callers copy it."""
    try:
        loader = _loader(text, path.name)
        try:
            root = loader.get_single_node()
            if root is None:
                return None
            _check_graph(root)
            return loader.construct_document(root)
        finally:
            loader.dispose()
    except yaml.reader.ReaderError as error:
        line = text.count("\n", 0, error.position) + 1
        raise InputError(
            str(path),
            [
                f"line {line}: character {shown(chr(error.character))} is not allowed in YAML; "
                "expected printable text"
            ],
        ) from None
    except _BoundExceededError as refused:
        raise InputError(str(path), [refused.problem]) from None
    except yaml.YAMLError as error:
        raise InputError(str(path), [f"not valid YAML: {error}"]) from None


def _read_text(path: Path) -> str:
    try:
        status = os.stat(path)
    except FileNotFoundError:
        raise
    except OSError as error:
        raise InputError(str(path), [f"cannot be read: {error.strerror}"]) from None
    if not stat.S_ISREG(status.st_mode):
        raise InputError(str(path), ["not a regular file; expected a YAML file"])
    if status.st_size > MAX_FILE_BYTES:
        raise InputError(str(path), [_too_large(status.st_size)])
    try:
        with open(path, "rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise InputError(str(path), [f"cannot be read: {error.strerror}"]) from None
    if len(data) > MAX_FILE_BYTES:
        raise InputError(str(path), [_too_large(len(data))])
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise InputError(
            str(path),
            [
                f"line {line}: byte {data[error.start]:#04x} at offset {error.start} is not "
                "UTF-8; expected a UTF-8 text file"
            ],
        ) from None


def _too_large(size: int) -> str:
    return f"too large ({size} bytes or more); expected a file of at most {MAX_FILE_BYTES} bytes"


def _check_graph(root: Node) -> None:
    """Refuse a node graph too deep or too large once aliases are expanded, or a duplicate key."""
    _GraphCheck().visit(root, "", 0)


class _GraphCheck:
    """Expanded size and height of every node of a graph, each node visited once.

    A node reached again through an alias takes its size and height from the first visit, so
    the check is linear in the file, not in its expansion.
    """

    def __init__(self) -> None:
        self.sizes: dict[int, int] = {}
        self.heights: dict[int, int] = {}
        self.open_nodes: set[int] = set()

    def visit(self, node: Node, key_path: str, depth: int) -> None:
        where = key_path or "the document"
        identity = id(node)
        if identity in self.open_nodes:
            raise _BoundExceededError(f"{where}: an alias refers to a collection it is in")
        if identity not in self.sizes:
            self.open_nodes.add(identity)
            self.sizes[identity], self.heights[identity] = self._measure(node, key_path, depth)
            self.open_nodes.discard(identity)
        if depth + self.heights[identity] > MAX_DEPTH:
            raise _BoundExceededError(
                f"{where}: nested deeper than {MAX_DEPTH} levels once aliases are expanded; "
                f"expected at most {MAX_DEPTH} levels of mappings and lists"
            )

    def _measure(self, node: Node, key_path: str, depth: int) -> tuple[int, int]:
        """Expanded size and height of one node, visiting its children."""
        size, height = 1, 0
        for child, child_path in _children(node, key_path):
            self.visit(child, child_path, depth + 1)
            size += self.sizes[id(child)]
            height = max(height, 1 + self.heights[id(child)])
            if size > MAX_NODES:
                raise _BoundExceededError(
                    f"{child_path}: the document holds more than {MAX_NODES} values by here once "
                    f"aliases are expanded; expected a scenario of at most {MAX_NODES} keys and "
                    "values"
                )
        return size, height


def _children(node: Node, key_path: str) -> list[tuple[Node, str]]:
    """The keys and values of a mapping, the items of a list, with their key paths."""
    if isinstance(node, SequenceNode):
        return [(item, f"{key_path}[{position}]") for position, item in enumerate(node.value)]
    if not isinstance(node, MappingNode):
        return []
    children = []
    seen: dict[str, Node] = {}
    for key_node, value_node in node.value:
        name = _key_name(key_node)
        child_path = f"{key_path}.{name}" if key_path else name
        if isinstance(key_node, ScalarNode) and key_node.tag != MERGE_TAG:
            earlier = seen.setdefault(key_node.value, key_node)
            if earlier is not key_node:
                raise _BoundExceededError(
                    f"{child_path}: duplicate key (lines {earlier.start_mark.line + 1} and "
                    f"{key_node.start_mark.line + 1}); expected each key once in a mapping"
                )
        children += [(key_node, child_path), (value_node, child_path)]
    return children


def _key_name(key_node: Node) -> str:
    if not isinstance(key_node, ScalarNode):
        return "<key>"
    name = key_node.value
    return name if len(name) <= _KEY_SHOWN else f"{name[:_KEY_SHOWN]}…"
