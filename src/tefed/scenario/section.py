"""What every section of a scenario shares: unknown keys refused, numbers finite, text bounded.

Each model of a scenario section derives from `ScenarioSection`; the bounds below are the ones
many fields share (a field's own ``ge``/``le`` bounds are in its model and in the reference).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

#: Longest text value (a path, a cable type, a command) [characters]; a field may set its own.
MAX_TEXT_CHARS = 4096
#: Longest IANA time-zone name [characters] (the longest in the tz database has 32).
MAX_TIMEZONE_CHARS = 64
#: Most households in a scenario, over all groups [-].
MAX_HOUSEHOLDS = 10_000
#: Most household groups in a scenario [-].
MAX_GROUPS = 1_000


class ScenarioSection(BaseModel):
    """Base of every scenario model: unknown keys, NaN and infinities and huge texts refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, str_max_length=MAX_TEXT_CHARS)
