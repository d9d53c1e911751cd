"""The federation file: one JSON file that describes and runs a whole federation.

It is a valid ``helics run --path`` runner file (``name``, ``broker``, ``federates[]`` with
``name``, ``directory``, ``exec``, optional ``env``). Each tefed federate entry also carries

- ``helics``: its HELICS federate configuration in the standard format, so a program in any
  HELICS language can create its federate from it;
- ``tefed``: its role and role-specific configuration;

and the top-level ``tefed`` section carries what all federates share: the time grid, the seed,
the site, the household table, results and runtime settings. Nothing a federate does depends on a
default that this file does not show.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from tefed.contract.errors import InputError, describe_validation_error
from tefed.contract.time_grid import DEFAULT_PHASE_OFFSETS_S, TimeGrid, parse_start

if TYPE_CHECKING:
    import pandas as pd

FORMAT_VERSION = 1
#: Module of tefed's broker program, the broker entry's ``python -m`` (claims the port first).
BROKER_MODULE = "tefed.runtime.broker"
#: Module of the watchdog entry that makes ``helics run`` end a failed run non-zero.
WATCHDOG_MODULE = "tefed.run.helics_watchdog"
ROLES = ("price_feed", "ems", "grid", "market")
#: Option of ``helics_broker`` that ends the co-simulation after a wall-clock time (HELICS ≥ 3.1).
BROKER_TIME_LIMIT_OPTION = "--maxcosimduration"
#: Option of ``helics_broker`` that makes it grant time to the whole federation itself
#: (``run.time_coordination: global``); the cores that join learn it from the broker.
GLOBAL_TIME_OPTION = "--globaltime"


def broker_time_limit_flag(limit_s: float) -> str:
    """The broker's command-line flag that ends the co-simulation after ``limit_s``.

    Parameters
    ----------
    limit_s : float
        Wall-clock time after which the broker terminates the co-simulation, so that every
        federate fails and ``helics run`` ends non-zero [s].

    Returns
    -------
    str
        The flag, with the time in seconds as HELICS reads it.

    Examples
    --------
    >>> broker_time_limit_flag(600.0), broker_time_limit_flag(0.5)
    ('--maxcosimduration=600s', '--maxcosimduration=0.5s')
    """
    return f"{BROKER_TIME_LIMIT_OPTION}={limit_s:g}s"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class TimeSection(_Strict):
    """Time grid as written in the file (see ``TimeGrid`` for the meaning of each field)."""

    start: str
    timezone: str
    duration_s: int = Field(gt=0)
    grid_step_s: int = Field(gt=0)
    market_interval_s: int = Field(gt=0)
    gate_closure_s: int = Field(gt=0)
    phase_offsets_s: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_PHASE_OFFSETS_S))
    #: HELICS seconds per simulated second in real-time mode (see ``TimeGrid``); absent: 1.
    helics_time_scale: float | None = Field(None, gt=0, le=1)

    @model_validator(mode="after")
    def _consistent(self) -> TimeSection:
        self.to_time_grid()
        return self

    def to_time_grid(self) -> TimeGrid:
        """The validated ``TimeGrid``."""
        return TimeGrid(
            start=parse_start(self.start, self.timezone),
            duration_s=self.duration_s,
            grid_step_s=self.grid_step_s,
            market_interval_s=self.market_interval_s,
            gate_closure_s=self.gate_closure_s,
            phase_offsets_s=dict(self.phase_offsets_s),
            helics_time_scale=self.helics_time_scale or 1.0,
        )


#: Wall-clock time a federate computes between two flushes, and before the first, at least [s]
#: (the default of ``run.flush_min_wall_s``): a part per table per flush costs file writes and
#: frames, which once cost a quarter of a one-day run of 12 households flushing every simulated
#: hour, and the first flush alone more than a quarter of a 16-interval learning episode; a run
#: that fails loses at most this much work.
FLUSH_MIN_WALL_S = 10.0


class ResultsSection(_Strict):
    """Where results go.

    ``root`` holds one folder per run; ``run_dir``, when set (``tefed run`` sets it), is the exact
    folder of this run. Without it, federates started by ``helics run`` agree on
    ``<root>/helics-<run id>``, the id tefed's broker program claimed the port with (with
    HELICS's own broker program, ``<root>/helics-<broker name>``). ``plots`` false (``tefed run
    --no-plots``, a sweep's runs by default) leaves the figures out of the run's report;
    ``tefed report RUN`` draws them later.
    """

    root: str
    run_dir: str | None = None
    plots: bool = True


class RuntimeSection(_Strict):
    """How federates guard against failures of others."""

    stall_timeout_s: float = Field(gt=0)
    startup_timeout_s: float = Field(gt=0)
    wall_clock_limit_s: float = Field(gt=0)
    progress_every_s: int = Field(gt=0)
    #: Wall-clock time between two appends of a federate's results, and before the first [s]
    #: (`tefed.contract.parted_table.results_flush_clock`); files without it keep the default.
    flush_min_wall_s: float = Field(FLUSH_MIN_WALL_S, ge=0)


class SiteSection(_Strict):
    """Where the community is (for solar position and calendar data)."""

    latitude_deg: float = Field(ge=-90, le=90)
    longitude_deg: float = Field(ge=-180, le=180)
    altitude_m: float
    linke_turbidity: float = Field(gt=0, le=10)


class TefedSection(_Strict):
    """Federation-wide tefed settings."""

    format_version: Literal[1]
    scenario: str
    seed: int = Field(ge=0)
    time: TimeSection
    site: SiteSection
    households: dict[str, list[Any]]
    results: ResultsSection
    runtime: RuntimeSection

    @field_validator("households")
    @classmethod
    def _household_table(cls, households: dict[str, list[Any]]) -> dict[str, list[Any]]:
        lengths = {column: len(values) for column, values in households.items()}
        if "household_id" not in lengths:
            raise ValueError("households table needs a household_id column")
        if len(set(lengths.values())) != 1:
            raise ValueError(f"households columns differ in length: {lengths}")
        ids = households["household_id"]
        if len(set(ids)) != len(ids):
            raise ValueError("households.household_id has duplicates")
        return households


class FederateSection(_Strict):
    """A tefed federate's role and role-specific configuration."""

    role: Literal["price_feed", "ems", "grid", "market"]
    config: dict[str, Any]


class FederateEntry(BaseModel):
    """One process of the federation (a federate, or the broker)."""

    model_config = ConfigDict(extra="allow")

    name: str
    directory: str
    exec: str
    env: dict[str, str] | None = None
    helics: dict[str, Any] | None = None
    tefed: FederateSection | None = None

    @property
    def is_broker(self) -> bool:
        """True for the entry that starts the HELICS broker (HELICS's program or tefed's)."""
        return self.exec.split()[0].endswith("helics_broker") or self.runs_module(BROKER_MODULE)

    @property
    def is_watchdog(self) -> bool:
        """True for the ``helics run`` watchdog entry (not a HELICS federate)."""
        return self.runs_module(WATCHDOG_MODULE)

    def runs_module(self, module: str) -> bool:
        """True when the entry's ``exec`` is ``python -m <module> …``."""
        return f" -m {module} " in f" {self.exec} "

    @property
    def runs_builtin(self) -> bool:
        """True when the entry runs one of tefed's own federate programs."""
        return " -m tefed.federates." in f" {self.exec}"


class FederationFile(BaseModel):
    """A whole federation file."""

    model_config = ConfigDict(extra="allow")

    name: str
    broker: bool | dict[str, Any]
    federates: list[FederateEntry]
    tefed: TefedSection

    @field_validator("federates")
    @classmethod
    def _unique_names(cls, federates: list[FederateEntry]) -> list[FederateEntry]:
        names = [entry.name for entry in federates]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"federate names must be unique; repeated: {duplicates}")
        return federates

    def entry(self, name: str) -> FederateEntry:
        """The entry of federate ``name``."""
        for entry in self.federates:
            if entry.name == name:
                return entry
        known = [entry.name for entry in self.federates]
        raise InputError("federation file", [f"no federate named {name!r}; federates: {known}"])

    def federate_entries(self) -> list[FederateEntry]:
        """Entries that are HELICS federates (everything but the broker and the watchdog)."""
        return [entry for entry in self.federates if not (entry.is_broker or entry.is_watchdog)]

    def external_federates(self) -> list[str]:
        """Names of the federates that run a program other than tefed's own (not the broker)."""
        return [
            entry.name
            for entry in self.federate_entries()
            if not (entry.runs_builtin and entry.tefed is not None)
        ]

    def publisher_of(self, key: str) -> str | None:
        """Name of the federate whose ``helics`` block publishes ``key`` (None: none does)."""
        return self._declaring("publications", "key", key)

    def endpoint_owner(self, name: str) -> str | None:
        """Name of the federate whose ``helics`` block has endpoint ``name`` (None: none has)."""
        return self._declaring("endpoints", "name", name)

    def _declaring(self, kind: str, field: str, value: str) -> str | None:
        """Name of the first federate whose ``helics`` block lists an interface of ``kind``
        (``publications``, ``endpoints``) with ``field`` equal to ``value``."""
        for entry in self.federate_entries():
            for interface in (entry.helics or {}).get(kind, []):
                if isinstance(interface, dict) and interface.get(field) == value:
                    return entry.name
        return None

    def broker_entry(self) -> FederateEntry | None:
        """The entry that starts the broker (None when ``helics run`` adds its own)."""
        return next((entry for entry in self.federates if entry.is_broker), None)

    def households_frame(self) -> pd.DataFrame:
        """The household table, indexed by ``household_id``."""
        import pandas as pd  # here: the watchdog and the broker read this file without pandas

        return pd.DataFrame(self.tefed.households).set_index("household_id", drop=False)

    def to_json_text(self) -> str:
        """The file's canonical text (2-space indent, trailing newline)."""
        return json.dumps(self.model_dump(mode="json", exclude_none=True), indent=2) + "\n"


def load_federation_file(path: str | Path) -> FederationFile:
    """Read and validate a federation file.

    Raises
    ------
    InputError
        When the file is missing, is not JSON, or does not match the format; every problem is
        named with its field path.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(str(path), ["file not found"]) from None
    except json.JSONDecodeError as error:
        raise InputError(
            str(path), [f"not valid JSON at line {error.lineno}: {error.msg}"]
        ) from None
    try:
        return FederationFile.model_validate(data)
    except ValidationError as error:
        raise InputError(str(path), describe_validation_error(error)) from None


def federation_base_dir(federation_path: Path, entry: FederateEntry) -> Path:
    """Working directory of a federate as ``helics run`` starts it."""
    return (federation_path.resolve().parent / entry.directory).resolve()
