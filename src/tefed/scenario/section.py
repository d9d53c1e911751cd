"""What every section of a scenario shares: unknown keys refused, numbers finite, text bounded.

Each model of a scenario section derives from `ScenarioSection`; the bounds below are the ones
many fields share (a field's own ``ge``/``le`` bounds are in its model and in the reference).
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

#: Longest text value (a path, a cable type, a command) [characters]; a field may set its own.
MAX_TEXT_CHARS = 4096
#: Longest IANA time-zone name [characters] (the longest in the tz database has 32).
MAX_TIMEZONE_CHARS = 64
#: Most households in a scenario, over all groups [-].
MAX_HOUSEHOLDS = 10_000
#: Most household groups in a scenario [-].
MAX_GROUPS = 1_000


class NumbersNotBooleans(BaseModel):
    """A model that refuses ``true``/``false`` where a number goes: pydantic would read them as
    1 and 0 (``count: true`` made a group of one household)."""

    @model_validator(mode="before")
    @classmethod
    def _no_true_or_false_for_numbers(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, field in cls.model_fields.items():
                key = field.alias or name
                value = data.get(key)
                if isinstance(value, bool) and _takes_numbers_not_booleans(field.annotation):
                    raise ValueError(
                        f"{key}: got {str(value).lower()}; expected a number, not true or false"
                    )
        return data


class ScenarioSection(NumbersNotBooleans):
    """Base of every scenario model: unknown keys, NaN and infinities, huge texts and true or
    false for a number refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, str_max_length=MAX_TEXT_CHARS)


def _takes_numbers_not_booleans(annotation: Any) -> bool:
    """Whether a field of type ``annotation`` takes int or float values but not bool."""
    kinds: set[Any] = set()
    pending = [annotation]
    while pending:
        kind = pending.pop()
        origin = typing.get_origin(kind)
        if origin is typing.Annotated:
            pending.append(typing.get_args(kind)[0])
        elif origin in (typing.Union, types.UnionType):
            pending.extend(typing.get_args(kind))
        else:
            kinds.add(kind)
    return bool(kinds & {int, float}) and bool not in kinds
