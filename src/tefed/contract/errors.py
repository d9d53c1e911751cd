"""Errors a user can fix, and how they are worded."""

from __future__ import annotations

import reprlib

from pydantic import ValidationError

#: Exit code of every tefed program when the input is at fault.
EXIT_USER_ERROR = 2

#: How a problem shows the value it got: long texts and big collections abbreviated with "...",
#: so that a problem stays a line, whatever the input.
_SHOWN = reprlib.Repr()
_SHOWN.maxlevel, _SHOWN.maxstring, _SHOWN.maxother, _SHOWN.maxlong = 2, 80, 80, 40
_SHOWN.maxlist = _SHOWN.maxtuple = _SHOWN.maxdict = _SHOWN.maxset = 4


def shown(value: object) -> str:
    """``repr(value)``, abbreviated to at most a few hundred characters.

    Examples
    --------
    >>> shown("x" * 1000)
    "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'"
    >>> shown(list(range(100)))
    '[0, 1, 2, 3, ...]'
    """
    if isinstance(value, int) and value.bit_length() > 128:
        # repr of an integer of more than 4300 digits raises; none needs showing in full.
        return f"an integer of {value.bit_length()} bits"
    return _SHOWN.repr(value)


class InputError(Exception):
    """A problem with user input (scenario, federation file, data file).

    Each problem names the field, the value and what was expected; ``problems`` lists all of them
    so a user can fix a file in one pass.
    """

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = list(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"{source}: {len(self.problems)} problem(s)\n{lines}")


def describe_validation_error(
    error: ValidationError,
    prefix: str = "",
    union_tags: frozenset[str] | tuple[str, ...] = frozenset(),
    top_level: str = "",
) -> list[str]:
    """One sentence per pydantic error: the dotted field path, the value, what was expected.

    Parameters
    ----------
    error : pydantic.ValidationError
        The errors of one validation.
    prefix : str
        Path of the validated object inside a larger one, put before every field path.
    union_tags : collection of str
        Tags of tagged unions, which pydantic puts in the path but the input does not have; they
        are left out.
    top_level : str
        What to call the validated object itself in a problem with no field path.

    Returns
    -------
    list of str
        One problem each, e.g. ``time.duration_s: got 'one day'; Input should be a valid
        integer``; a tag no kind of a tagged union has reads ``market: got 'lottery'; expected
        one of 'double_auction', …``.
    """
    problems = []
    for item in error.errors(include_url=False):
        location = ".".join(str(part) for part in item["loc"] if part not in union_tags)
        if prefix:
            location = f"{prefix}.{location}" if location else prefix
        location = location or top_level
        kind = item["type"]
        if kind == "union_tag_invalid":
            context = item.get("ctx", {})
            problems.append(
                f"{location}: got {shown(context.get('tag'))}; expected one of "
                f"{context.get('expected_tags')}"
            )
        elif kind == "extra_forbidden":
            problems.append(
                f"{location}: unknown key (value {shown(item['input'])}); remove or rename it"
            )
        elif kind == "missing":
            problems.append(f"{location}: required but missing")
        else:
            message = item["msg"]
            if message.startswith("Value error, "):
                message = message[len("Value error, ") :]
            if isinstance(item["input"], dict | list):
                # A whole section failed a check across its fields; echoing it would print the
                # file. The location and the message name what is wrong.
                problems.append(f"{location}: {message}")
            else:
                problems.append(f"{location}: got {shown(item['input'])}; {message}")
    return problems
