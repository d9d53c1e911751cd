"""Scenario files: the human-authored YAML form of a federation.

A scenario names the time grid, the site, the feeder, the market rules, the prices and the
households (as groups with a count; a value given as ``[low, high]`` is drawn uniformly per
household from the scenario seed). ``tefed build`` resolves it into a complete federation file.
A file may extend another (``extends: base.yaml``, see `tefed.scenario.files`). Every field
is checked; every problem is reported at once, naming its path in the file, the value and what
was expected. The sections' models live beside this module (``grid_spec``, ``market_spec``,
``prices_spec``, ``household_spec``, ``strategy_spec``); `tefed.scenario.reference` turns
them into the reference documentation and the JSON Schema.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from tefed.contract.errors import InputError, describe_validation_error, shown
from tefed.contract.federation_file import FLUSH_MIN_WALL_S
from tefed.contract.time_grid import SECONDS_PER_DAY, TimeGrid, parse_start
from tefed.domain.prices.wholesale import hold_to_intervals
from tefed.io.price_files import read_price_csv
from tefed.scenario.files import OPENDSS_FEEDER, SECTION_KINDS, read_scenario_data
from tefed.scenario.grid_spec import FEEDER_KINDS, GridSpec, OpenDssFeederSpec
from tefed.scenario.household_spec import (
    COMMUNITY_ID,
    NAME_PATTERN,
    NAME_RULE,
    NUMBER_OR_RANGE_MEMBERS,
    CommunityBatterySpec,
    HouseholdGroup,
    ev_step_problems,
    household_ids,
)
from tefed.scenario.market_spec import MECHANISMS, DoubleAuctionSpec, MarketSpec
from tefed.scenario.measured_loads import measured_load_problems
from tefed.scenario.overrides import apply_overrides
from tefed.scenario.prices_spec import PRICE_KINDS, CsvWholesale, PricesSpec
from tefed.scenario.section import (
    MAX_GROUPS,
    MAX_HOUSEHOLDS,
    MAX_TIMEZONE_CHARS,
    ScenarioSection,
)
from tefed.scenario.strategy_spec import STRATEGY_NAMES

#: Longest simulated duration: a leap year [s].
MAX_DURATION_S = 366 * SECONDS_PER_DAY
#: Most power-flow steps of a run (a leap year at one-minute steps is 527,040) [-].
MAX_GRID_STEPS = 600_000
#: Years a scenario may start in (the calendar of profiles, tariffs and the sun).
FIRST_YEAR, LAST_YEAR = 1900, 2100
#: Longest wall-clock limit of a run: 30 days [s].
MAX_WALL_CLOCK_S = 30 * SECONDS_PER_DAY
#: Largest seed (NumPy's 32-bit seed range) [-].
MAX_SEED = 2**32 - 1
#: Longest description [characters].
MAX_DESCRIPTION_CHARS = 20_000
#: Most problems reported at once; the rest are counted [-].
MAX_PROBLEMS = 20
#: Longest problem reported [characters].
MAX_PROBLEM_CHARS = 300
#: Folders of the operating system's pseudo file systems, where results may not go.
SYSTEM_FOLDERS = (Path("/proc"), Path("/sys"), Path("/dev"))


class TimeSpec(ScenarioSection):
    """When the scenario runs (see ``TimeGrid``)."""

    start: str = Field(
        description="calendar start (simulated time 0), ISO 8601 date-time, local to timezone"
    )
    timezone: str = Field(
        max_length=MAX_TIMEZONE_CHARS, description="IANA time zone, e.g. Europe/Berlin"
    )
    duration_s: int = Field(86400, gt=0, le=MAX_DURATION_S, description="simulated duration [s]")
    grid_step_s: int = Field(60, gt=0, le=SECONDS_PER_DAY, description="power-flow step [s]")
    market_interval_s: int = Field(
        900, gt=0, le=SECONDS_PER_DAY, description="market (delivery) interval [s]"
    )
    gate_closure_s: int = Field(
        60,
        gt=0,
        le=SECONDS_PER_DAY,
        description="order book closes this long before delivery starts [s]",
    )

    @field_validator("start", mode="before")
    @classmethod
    def _start_as_text(cls, value: Any) -> Any:
        """A date-time or date written without quotes (YAML reads ``2022-06-21T00:00:00`` in a
        scenario, a sweep or ``--set`` as a timestamp) is taken as its ISO 8601 text."""
        if isinstance(value, datetime | date):
            return value.isoformat()
        return value

    @model_validator(mode="after")
    def _grid(self) -> TimeSpec:
        start = parse_start(self.start, self.timezone)
        if not FIRST_YEAR <= start.year <= LAST_YEAR:
            raise ValueError(
                f"time.start: got {self.start!r}; expected a date-time in the years {FIRST_YEAR} "
                f"to {LAST_YEAR}"
            )
        steps = self.duration_s // self.grid_step_s
        if steps > MAX_GRID_STEPS:
            raise ValueError(
                f"time.grid_step_s: got {self.grid_step_s}; over time.duration_s "
                f"{self.duration_s} that makes {steps} power-flow steps; expected at most "
                f"{MAX_GRID_STEPS}"
            )
        TimeGrid(
            start, self.duration_s, self.grid_step_s, self.market_interval_s, self.gate_closure_s
        )
        return self


class SiteSpec(ScenarioSection):
    """Where the community is."""

    latitude_deg: float = Field(ge=-90, le=90, description="latitude, north positive [°]")
    longitude_deg: float = Field(ge=-180, le=180, description="longitude, east positive [°]")
    altitude_m: float = Field(0.0, ge=-500, le=9000, description="height above sea level [m]")
    linke_turbidity: float = Field(
        3.0, gt=0, le=10, description="Linke turbidity of the clear sky [-]"
    )


class PvModelSpec(ScenarioSection):
    """Parameters of the PV model shared by every household (PVWatts with Faiman temperature)."""

    irradiance: Literal["clear_sky", "tmy"] = Field(
        "clear_sky",
        description="clear_sky: Ineichen with the site's Linke turbidity; tmy: a typical "
        "meteorological year (TMY3) file, by default the one pvlib ships",
    )
    weather_file: str | None = Field(
        None, description="TMY3 CSV (irradiance: tmy); none: pvlib's 723170TYA.CSV"
    )

    system_losses: float = Field(
        0.14, ge=0, lt=1, description="fraction of DC power lost before the inverter [-]"
    )
    temperature_coefficient_per_c: float = Field(
        -0.0037, ge=-0.1, le=0.1, description="temperature coefficient of DC power [1/°C]"
    )
    air_temperature_c: float = Field(
        20.0, ge=-90, le=60, description="ambient air temperature [°C]"
    )
    wind_speed_m_per_s: float = Field(1.0, ge=0, le=100, description="wind speed [m/s]")


class ExternalHousehold(ScenarioSection):
    """A household run by a program of its own instead of the built-in ems."""

    household_id: str = Field(description="id from the household table, e.g. h03")
    exec: str = Field(
        description="command line; tefed appends the federation file and --name FEDERATE, as "
        "for its own federates"
    )


class EmsSpec(ScenarioSection):
    """How households are spread over ems federates, and which run on their own."""

    shards: int = Field(1, ge=1, le=MAX_HOUSEHOLDS, description="number of ems federates")
    external: list[ExternalHousehold] = Field(
        default_factory=list,
        max_length=MAX_HOUSEHOLDS,
        description="households taken out of the built-in ems",
    )


class RunSpec(ScenarioSection):
    """Where results go and how long a run may take."""

    results_root: str = Field(
        "results",
        description="folder of the run folders (results_root/name/run-id), relative to the "
        "scenario file that names it",
    )
    stall_timeout_s: float = Field(
        30.0,
        gt=0,
        le=SECONDS_PER_DAY,
        description="a federate waiting longer than this for a time grant [s]",
    )
    startup_timeout_s: float = Field(
        45.0,
        gt=0,
        le=SECONDS_PER_DAY,
        description="a federate waiting longer than this for the others to finish starting [s]",
    )
    wall_clock_limit_s: float = Field(
        900.0,
        gt=0,
        le=MAX_WALL_CLOCK_S,
        description="tefed run stops a run after this long, and the broker ends a `helics run` "
        "(--maxcosimduration) [s]",
    )
    progress_every_s: int = Field(
        3600,
        gt=0,
        le=MAX_DURATION_S,
        description="federates report progress every this much simulated time [s]",
    )
    flush_min_wall_s: float = Field(
        FLUSH_MIN_WALL_S,
        ge=0,
        le=SECONDS_PER_DAY,
        description="federates append their results to the run folder at simulated-hour "
        "boundaries at least this much wall-clock time apart, the first one too (a run that "
        "fails loses at most this much work; a shorter run writes its tables once, at the "
        "end); 0: every simulated hour [s]",
    )
    broker_port: int = Field(23700, ge=1024, le=65535, description="port of `helics run`'s broker")
    time_coordination: Literal["distributed", "global"] = Field(
        "distributed",
        description="how HELICS grants time: 'distributed' (each federate negotiates with the "
        "ones it exchanges data with; federates at different times overlap, fastest for one "
        "run) or 'global' (the broker grants the federation's next time to all; fewer "
        "messages and less CPU, faster for learning environments with their federates in "
        "processes, slower for runs sharing the machine's cores, as in sweeps); results are "
        "the same",
    )
    realtime: bool = Field(
        False,
        description="pace the federation to the wall clock through HELICS's real-time mode "
        "(hardware in the loop, live agents); the summary reports each federate's lag and lead",
    )
    realtime_speed: float = Field(
        1.0,
        gt=0,
        le=3600,
        description="real-time mode: simulated seconds per wall-clock second (60: a simulated "
        "hour takes a minute) [-]",
    )
    realtime_lead_s: float = Field(
        0.0,
        ge=0,
        le=60,
        description="real-time mode: how far ahead of the wall clock a federate may be granted "
        "a time (HELICS rt_lead) [s]",
    )

    @field_validator("results_root")
    @classmethod
    def _results_root(cls, value: str) -> str:
        if not value.strip() or any(ord(character) < 32 for character in value):
            raise ValueError("expected a folder path without NUL, newline or control characters")
        if _is_system_folder(Path(os.path.normpath(value))):
            raise ValueError(_SYSTEM_FOLDER_RULE)
        return value


_SYSTEM_FOLDER_RULE = (
    f"expected a folder outside {', '.join(str(folder) for folder in SYSTEM_FOLDERS)}"
)


def _is_system_folder(path: Path) -> bool:
    return path.is_absolute() and any(path.is_relative_to(folder) for folder in SYSTEM_FOLDERS)


class Scenario(ScenarioSection):
    """A whole scenario."""

    name: str = Field(
        description="scenario name (1 to 64 letters, digits, '_', '-'); names the results folder"
    )
    description: str = Field("", max_length=MAX_DESCRIPTION_CHARS, description="free text")
    seed: int = Field(
        0, ge=0, le=MAX_SEED, description="seed of every random draw (ranges, profiles, prices)"
    )
    time: TimeSpec = Field(description="the time grid")
    site: SiteSpec = Field(description="where the community is (for the sun's position)")
    pv_model: PvModelSpec = Field(
        default_factory=PvModelSpec, description="PV model shared by every household"
    )
    grid: GridSpec = Field(default_factory=GridSpec, description="the distribution grid")
    market: MarketSpec = Field(
        default_factory=DoubleAuctionSpec, description="market rules, by mechanism"
    )
    prices: PricesSpec = Field(default_factory=PricesSpec, description="exogenous prices")
    households: list[HouseholdGroup] = Field(
        min_length=1,
        max_length=MAX_GROUPS,
        description="household groups (a single household: a group of count 1)",
    )
    community_battery: CommunityBatterySpec | None = Field(
        None, description="a battery shared by the community; none: no community battery"
    )
    ems: EmsSpec = Field(default_factory=EmsSpec, description="how households map to federates")
    run: RunSpec = Field(default_factory=RunSpec, description="results and time limits")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_PATTERN.fullmatch(value):
            raise ValueError(NAME_RULE)
        return value

    @model_validator(mode="after")
    def _shards(self) -> Scenario:
        total = sum(group.count for group in self.households)
        if total > MAX_HOUSEHOLDS:
            raise ValueError(
                f"households: the groups' counts sum to {total}; expected at most "
                f"{MAX_HOUSEHOLDS} households"
            )
        built_in = total + (self.community_battery is not None) - len(self.ems.external)
        if self.ems.shards > built_in:
            raise ValueError(
                f"ems.shards is {self.ems.shards} but the built-in ems hosts {built_in} households"
            )
        external = [entry.household_id for entry in self.ems.external]
        if len(set(external)) != len(external):
            twice = sorted(h for h, times in Counter(external).items() if times > 1)
            raise ValueError(f"ems.external names households twice: {shown(twice)}")
        transformers = getattr(self.grid.feeder, "transformers", None)
        if transformers is not None and transformers > total:
            raise ValueError(
                f"grid.feeder.transformers is {transformers} but there are {total} households"
            )
        names = [group.group for group in self.households]
        if len(set(names)) != len(names):
            twice = sorted(name for name, times in Counter(names).items() if times > 1)
            raise ValueError(f"household group names repeat: {shown(twice)}")
        ids = Counter(household_ids(self.households))
        repeated = sorted(h for h, times in ids.items() if times > 1 or h == COMMUNITY_ID)
        if repeated:
            raise ValueError(
                f"households: ids {shown(repeated)} repeat or are reserved; expected unique ids "
                f"other than {COMMUNITY_ID!r} (groups without household_ids take h01, h02, … "
                "by position)"
            )
        period_s = getattr(self.market, "period_s", None)
        if period_s is not None and period_s % self.time.market_interval_s:
            raise ValueError(
                f"market.period_s: got {period_s}, expected a multiple of "
                f"time.market_interval_s ({self.time.market_interval_s} s)"
            )
        return self

    @model_validator(mode="after")
    def _ev_windows_fit_the_step(self) -> Scenario:
        problems = ev_step_problems(self.households, self.time.grid_step_s)
        if problems:
            raise ValueError("; ".join(problems))
        return self


@dataclass(frozen=True)
class ScenarioReading:
    """A scenario file as read and checked.

    Attributes
    ----------
    scenario : Scenario or None
        The validated scenario; None when the file has problems pydantic found.
    folder : pathlib.Path
        Folder of the file; relative paths in the scenario resolve against it.
    source : str
        How messages name the file (and the bases it extends).
    problems : list of str
        Every problem found: each names its path in the file, the value and what was expected.
    """

    scenario: Scenario | None
    folder: Path
    source: str
    problems: list[str]


def read_scenario(path: str | Path, overrides: Mapping[str, Any] | None = None) -> ScenarioReading:
    """Read a scenario file (with its bases), validate it and check the data files it names.

    Problems with the fields and with the data files are collected together: when the scenario
    does not validate, the data files of the sections that are valid on their own are still
    checked. ``overrides`` (dotted path → value, see `tefed.scenario.overrides`) are applied to
    the composed file before it is validated; the source then names them.

    Raises
    ------
    InputError
        If the file (or a base it extends) cannot be read at all.
    """
    composed = read_scenario_data(path)
    folder = Path(path).parent.resolve()
    data, source, problems = composed.data, composed.source, []
    if overrides:
        source += " with " + ", ".join(f"{key}={value!r}" for key, value in overrides.items())
        data, problems = apply_overrides(data, overrides)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as error:
        scenario, problems = None, [*problems, *_describe(error)]
    if problems:  # an override that could not be applied leaves no scenario to run
        scenario = None
    problems += _data_problems(data, scenario, folder)
    return ScenarioReading(scenario, folder, source, problems)


def load_scenario(
    path: str | Path, overrides: Mapping[str, Any] | None = None
) -> tuple[Scenario, Path]:
    """Read and validate a scenario file; returns it with its folder (for relative paths).

    ``overrides`` (dotted path → value) change the file's values first, as in `read_scenario`.

    Raises
    ------
    InputError
        Listing every problem: path in the file, value, expectation.
    """
    try:
        reading = read_scenario(path, overrides)
    except InputError as error:
        raise InputError(error.source, bounded_problems(error.problems)) from None
    if reading.problems or reading.scenario is None:
        raise InputError(reading.source, bounded_problems(reading.problems))
    return reading.scenario, reading.folder


def bounded_problems(problems: list[str]) -> list[str]:
    """At most ``MAX_PROBLEMS`` problems of at most ``MAX_PROBLEM_CHARS`` characters each.

    A message about a file stays a few kB however broken the file: the first problems are
    shown, and the rest counted.

    Examples
    --------
    >>> bounded_problems(["a: " + "x" * 400])[0][-12:]
    'xxxxxxxxxxx…'
    >>> bounded_problems([f"p{k}" for k in range(25)])[-1]
    '… and 5 more problems'
    """
    shortened = [
        problem if len(problem) <= MAX_PROBLEM_CHARS else problem[: MAX_PROBLEM_CHARS - 1] + "…"
        for problem in problems[:MAX_PROBLEMS]
    ]
    hidden = len(problems) - len(shortened)
    return shortened + ([f"… and {hidden} more problems"] if hidden else [])


_UNION_TAGS = FEEDER_KINDS | MECHANISMS | PRICE_KINDS | NUMBER_OR_RANGE_MEMBERS
# Strategy names are also the keys of strategy_mix, so their tags go only after "strategy".
_STRATEGY_TAG = re.compile(r"\.strategy\.(?:" + "|".join(STRATEGY_NAMES) + r")(?=\.|$)")
_LIST_INDEX = re.compile(r"\.(\d+)(?=\.|$)")
_TAG_MISMATCH = re.compile(r"got (?P<tag>'.*'|\".*\"); expected one of (?P<tags>'.*')")


def _describe(error: ValidationError) -> list[str]:
    """Pydantic's errors worded for a scenario file: ``households[2].battery.capacity_kwh``."""
    problems = []
    for problem in describe_validation_error(error, union_tags=_UNION_TAGS):
        location, _, message = problem.partition(": ")
        location = _LIST_INDEX.sub(r"[\1]", _STRATEGY_TAG.sub(".strategy", location))
        mismatch = _TAG_MISMATCH.fullmatch(message)
        if mismatch is not None:
            location, message = _unknown_kind(location, mismatch["tag"], mismatch["tags"])
        # A check across a section's fields names the field itself.
        inner = message.startswith(f"{location}.") or not location
        problems.append(message if inner else f"{location}: {message}")
    return problems


def _unknown_kind(location: str, tag: str, tags: str) -> tuple[str, str]:
    """Where and how to say that a section names a kind that does not exist."""
    key, _ = SECTION_KINDS.get(tuple(location.split(".")), ("", None))
    if key == "generator":
        tags = tags.replace(f", '{OPENDSS_FEEDER}'", "") + " (or dss: PATH, an OpenDSS feeder)"
    return (f"{location}.{key}" if key else location), f"got {tag}; expected one of {tags}"


def _valid(model: type[BaseModel], data: object) -> BaseModel | None:
    try:
        return model.model_validate(data)
    except ValidationError:
        return None


def _data_problems(data: dict, scenario: Scenario | None, folder: Path) -> list[str]:
    """Problems with the data files a scenario names (readable, covering the whole run).

    Measured load profiles are read and checked in full when the scenario is valid (their
    assignment needs its households); otherwise only their presence is checked.
    """
    if scenario is not None:
        grid, time, prices = scenario.grid, scenario.time, scenario.prices
        pv_model, run = scenario.pv_model, scenario.run
        load_problems = measured_load_problems(scenario.households, _time_grid(time), folder)
    else:
        grid = _valid(GridSpec, data.get("grid", {}))
        time = _valid(TimeSpec, data.get("time"))
        prices = _valid(PricesSpec, data.get("prices", {}))
        pv_model = _valid(PvModelSpec, data.get("pv_model", {}))
        run = _valid(RunSpec, data.get("run", {}))
        listed = data.get("households")
        load_problems = [
            problem
            for position, raw in enumerate(listed if isinstance(listed, list) else [])
            if (group := _valid(HouseholdGroup, raw)) is not None and group.load.path is not None
            for problem in _missing_file(
                f"households[{position}].load.path",
                group.load.path,
                folder,
                folder=group.load.profile == "daily_files",
            )
        ]
    problems = []
    if run is not None:
        problems += _results_root_problems(run.results_root, folder)
    if grid is not None and isinstance(grid.feeder, OpenDssFeederSpec):
        problems += _missing_file("grid.feeder.dss", grid.feeder.dss, folder)
    if pv_model is not None and pv_model.weather_file is not None:
        problems += _missing_file("pv_model.weather_file", pv_model.weather_file, folder)
    problems += load_problems
    if prices is not None and isinstance(prices.wholesale, CsvWholesale):
        problems += _price_file_problems(prices.wholesale, time, folder)
    return problems


def results_root_problems(results_root: str, folder: Path) -> list[str]:
    """Every problem with ``results_root`` as the folder of the run folders (``run.results_root``
    or ``tefed run --results``), relative to ``folder``: its text, then where it resolves on the
    file system."""
    try:
        RunSpec(results_root=results_root)
    except ValidationError as error:
        return [
            f"run.results_root: got {results_root!r}; {item['msg'].removeprefix('Value error, ')}"
            for item in error.errors()
        ]
    return _results_root_problems(results_root, folder)


def _results_root_problems(results_root: str, folder: Path) -> list[str]:
    """Problems with where results would go, as the file system stands: the folder resolved
    against the scenario's ``folder`` (through symlinks) must be outside the system folders, and
    the part of it that exists must be a folder."""
    path = folder / results_root
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError) as error:
        return [f"run.results_root: got {results_root!r}; cannot be resolved ({error})"]
    if _is_system_folder(resolved):
        return [f"run.results_root: got {results_root!r} ({resolved}); {_SYSTEM_FOLDER_RULE}"]
    existing = next(folder for folder in (resolved, *resolved.parents) if folder.exists())
    if not existing.is_dir():
        return [
            f"run.results_root: got {results_root!r}; {existing} is not a folder; expected a "
            "folder, or a path where one can be made"
        ]
    return []


def _missing_file(field: str, value: str, scenario_dir: Path, folder: bool = False) -> list[str]:
    path = (scenario_dir / value).resolve()
    if folder:
        return [] if path.is_dir() else [f"{field}: got {value!r}; no such folder ({path})"]
    return [] if path.is_file() else [f"{field}: got {value!r}; no such file ({path})"]


def _time_grid(time: TimeSpec) -> TimeGrid:
    """The time grid of a valid ``time`` section."""
    return TimeGrid(
        parse_start(time.start, time.timezone),
        time.duration_s,
        time.grid_step_s,
        time.market_interval_s,
        time.gate_closure_s,
    )


def _price_file_problems(
    wholesale: CsvWholesale, time: TimeSpec | None, scenario_dir: Path
) -> list[str]:
    """Problems with the wholesale price file: there, readable, covering the whole run."""
    missing = _missing_file("prices.wholesale.path", wholesale.path, scenario_dir)
    if missing or time is None:
        return missing
    grid = _time_grid(time)
    starts = grid.calendar(grid.interval_start_s(np.arange(grid.n_intervals)))
    try:
        series = read_price_csv(
            (scenario_dir / wholesale.path).resolve(), wholesale.timezone, wholesale.price_column
        )
        hold_to_intervals(series.index, series.to_numpy(float), starts, grid.market_interval_s)
    except ValueError as error:
        return [f"prices.wholesale ({wholesale.path}): {error}"]
    return []
