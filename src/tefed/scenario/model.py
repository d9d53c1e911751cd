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

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from tefed.contract.errors import InputError, describe_validation_error
from tefed.contract.time_grid import TimeGrid, parse_start
from tefed.domain.prices.wholesale import hold_to_intervals
from tefed.io.price_files import read_price_csv
from tefed.scenario.files import OPENDSS_FEEDER, SECTION_KINDS, read_scenario_data
from tefed.scenario.grid_spec import FEEDER_KINDS, GridSpec, OpenDssFeederSpec
from tefed.scenario.household_spec import (
    COMMUNITY_ID,
    NAME_PATTERN,
    NUMBER_OR_RANGE_MEMBERS,
    CommunityBatterySpec,
    HouseholdGroup,
    household_ids,
)
from tefed.scenario.market_spec import MECHANISMS, DoubleAuctionSpec, MarketSpec
from tefed.scenario.overrides import apply_overrides
from tefed.scenario.prices_spec import PRICE_KINDS, CsvWholesale, PricesSpec
from tefed.scenario.strategy_spec import STRATEGY_NAMES


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class TimeSpec(_Section):
    """When the scenario runs (see ``TimeGrid``)."""

    start: str = Field(
        description="calendar start (simulated time 0), ISO 8601 date-time, local to timezone"
    )
    timezone: str = Field(description="IANA time zone, e.g. Europe/Berlin")
    duration_s: int = Field(86400, gt=0, description="simulated duration [s]")
    grid_step_s: int = Field(60, gt=0, description="power-flow step [s]")
    market_interval_s: int = Field(900, gt=0, description="market (delivery) interval [s]")
    gate_closure_s: int = Field(
        60, gt=0, description="order book closes this long before delivery starts [s]"
    )

    @model_validator(mode="after")
    def _grid(self) -> TimeSpec:
        start = parse_start(self.start, self.timezone)
        TimeGrid(
            start, self.duration_s, self.grid_step_s, self.market_interval_s, self.gate_closure_s
        )
        return self


class SiteSpec(_Section):
    """Where the community is."""

    latitude_deg: float = Field(ge=-90, le=90, description="latitude, north positive [°]")
    longitude_deg: float = Field(ge=-180, le=180, description="longitude, east positive [°]")
    altitude_m: float = Field(0.0, description="height above sea level [m]")
    linke_turbidity: float = Field(
        3.0, gt=0, le=10, description="Linke turbidity of the clear sky [-]"
    )


class PvModelSpec(_Section):
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
        -0.0037, description="temperature coefficient of DC power [1/°C]"
    )
    air_temperature_c: float = Field(20.0, description="ambient air temperature [°C]")
    wind_speed_m_per_s: float = Field(1.0, ge=0, description="wind speed [m/s]")


class ExternalHousehold(_Section):
    """A household run by a program of its own instead of the built-in ems."""

    household_id: str = Field(description="id from the household table, e.g. h03")
    exec: str = Field(
        description="command line; tefed appends the federation file and --name FEDERATE, as "
        "for its own federates"
    )


class EmsSpec(_Section):
    """How households are spread over ems federates, and which run on their own."""

    shards: int = Field(1, ge=1, description="number of ems federates")
    external: list[ExternalHousehold] = Field(
        default_factory=list, description="households taken out of the built-in ems"
    )


class RunSpec(_Section):
    """Where results go and how long a run may take."""

    results_root: str = Field(
        "results", description="folder of the run folders (results_root/name/run-id)"
    )
    stall_timeout_s: float = Field(
        60.0, gt=0, description="a federate waiting longer than this for a time grant [s]"
    )
    startup_timeout_s: float = Field(
        300.0,
        gt=0,
        description="a federate waiting longer than this for the others to finish starting [s]",
    )
    wall_clock_limit_s: float = Field(
        900.0,
        gt=0,
        description="tefed run stops a run after this long, and the broker ends a `helics run` "
        "(--maxcosimduration) [s]",
    )
    progress_every_s: int = Field(
        3600, gt=0, description="federates report progress every this much simulated time [s]"
    )
    broker_port: int = Field(23700, ge=1024, le=65535, description="port of `helics run`'s broker")


class Scenario(_Section):
    """A whole scenario."""

    name: str = Field(description="scenario name (letters, digits, '_', '-'); names the results")
    description: str = Field("", description="free text")
    seed: int = Field(0, ge=0, description="seed of every random draw (ranges, profiles, prices)")
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
        min_length=1, description="household groups (a single household: a group of count 1)"
    )
    community_battery: CommunityBatterySpec | None = Field(
        None, description="a battery shared by the community; none: no community battery"
    )
    ems: EmsSpec = Field(default_factory=EmsSpec, description="how households map to federates")
    run: RunSpec = Field(default_factory=RunSpec, description="results and time limits")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_PATTERN.match(value):
            raise ValueError("expected letters, digits, '_' or '-'")
        return value

    @model_validator(mode="after")
    def _shards(self) -> Scenario:
        total = sum(group.count for group in self.households)
        built_in = total + (self.community_battery is not None) - len(self.ems.external)
        if self.ems.shards > built_in:
            raise ValueError(
                f"ems.shards is {self.ems.shards} but the built-in ems hosts {built_in} households"
            )
        external = [entry.household_id for entry in self.ems.external]
        if len(set(external)) != len(external):
            raise ValueError(f"ems.external names a household twice: {external}")
        transformers = getattr(self.grid.feeder, "transformers", None)
        if transformers is not None and transformers > total:
            raise ValueError(
                f"grid.feeder.transformers is {transformers} but there are {total} households"
            )
        names = [group.group for group in self.households]
        if len(set(names)) != len(names):
            raise ValueError(f"household group names repeat: {names}")
        ids = Counter(household_ids(self.households))
        repeated = sorted(h for h, times in ids.items() if times > 1 or h == COMMUNITY_ID)
        if repeated:
            raise ValueError(
                f"households: ids {repeated} repeat or are reserved; expected unique ids other "
                f"than {COMMUNITY_ID!r} (groups without household_ids take h01, h02, … by position)"
            )
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
    reading = read_scenario(path, overrides)
    if reading.problems or reading.scenario is None:
        raise InputError(reading.source, reading.problems)
    return reading.scenario, reading.folder


_UNION_TAGS = FEEDER_KINDS | MECHANISMS | PRICE_KINDS | NUMBER_OR_RANGE_MEMBERS
# Strategy names are also the keys of strategy_mix, so their tags go only after "strategy".
_STRATEGY_TAG = re.compile(r"\.strategy\.(?:" + "|".join(STRATEGY_NAMES) + r")(?=\.|$)")
_LIST_INDEX = re.compile(r"\.(\d+)(?=\.|$)")
_TAG_MISMATCH = re.compile(r"got '(?P<tag>.*)'; expected one of (?P<tags>'.*')")


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
    return (f"{location}.{key}" if key else location), f"got {tag!r}; expected one of {tags}"


def _valid(model: type[BaseModel], data: object) -> BaseModel | None:
    try:
        return model.model_validate(data)
    except ValidationError:
        return None


def _data_problems(data: dict, scenario: Scenario | None, folder: Path) -> list[str]:
    """Problems with the data files a scenario names (readable, covering the whole run)."""
    if scenario is not None:
        grid, time, prices = scenario.grid, scenario.time, scenario.prices
        pv_model, groups = scenario.pv_model, dict(enumerate(scenario.households))
    else:
        grid = _valid(GridSpec, data.get("grid", {}))
        time = _valid(TimeSpec, data.get("time"))
        prices = _valid(PricesSpec, data.get("prices", {}))
        pv_model = _valid(PvModelSpec, data.get("pv_model", {}))
        listed = data.get("households")
        groups = {
            position: group
            for position, raw in enumerate(listed if isinstance(listed, list) else [])
            if (group := _valid(HouseholdGroup, raw)) is not None
        }
    problems = []
    if grid is not None and isinstance(grid.feeder, OpenDssFeederSpec):
        problems += _missing_file("grid.feeder.dss", grid.feeder.dss, folder)
    if pv_model is not None and pv_model.weather_file is not None:
        problems += _missing_file("pv_model.weather_file", pv_model.weather_file, folder)
    for position, group in groups.items():
        if group.load.path is not None:
            problems += _missing_file(f"households[{position}].load.path", group.load.path, folder)
    if prices is not None and isinstance(prices.wholesale, CsvWholesale):
        problems += _price_file_problems(prices.wholesale, time, folder)
    return problems


def _missing_file(field: str, value: str, folder: Path) -> list[str]:
    path = (folder / value).resolve()
    return [] if path.is_file() else [f"{field}: got {value!r}; no such file ({path})"]


def _price_file_problems(
    wholesale: CsvWholesale, time: TimeSpec | None, scenario_dir: Path
) -> list[str]:
    """Problems with the wholesale price file: there, readable, covering the whole run."""
    missing = _missing_file("prices.wholesale.path", wholesale.path, scenario_dir)
    if missing or time is None:
        return missing
    grid = TimeGrid(
        parse_start(time.start, time.timezone),
        time.duration_s,
        time.grid_step_s,
        time.market_interval_s,
        time.gate_closure_s,
    )
    starts = grid.calendar(grid.interval_start_s(np.arange(grid.n_intervals)))
    try:
        series = read_price_csv(
            (scenario_dir / wholesale.path).resolve(), wholesale.timezone, wholesale.price_column
        )
        hold_to_intervals(series.index, series.to_numpy(float), starts)
    except ValueError as error:
        return [f"prices.wholesale ({wholesale.path}): {error}"]
    return []
