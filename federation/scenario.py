"""Scenario files: the human-authored YAML form of a federation.

A scenario names the time grid, the site, the feeder, the market rules, the prices and the
households (as groups with a count; a value given as ``[low, high]`` is drawn uniformly per
household from the scenario seed). ``tefed build`` resolves it into a complete federation file.
Every field is checked; every problem is reported at once, naming its path in the file, the
value and what was expected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from federates.price_feed.price_files import read_price_csv
from federates.price_feed.sources.tariffs import (
    DEFAULT_EXPORT_PRICE_USD_PER_KWH,
    DEFAULT_IMPORT_PRICE_USD_PER_KWH,
    TimeOfUseWindow,
)
from federates.price_feed.sources.wholesale import hold_to_intervals
from federates.runtime.errors import InputError, describe_validation_error
from federates.runtime.time_grid import TimeGrid, parse_start
from federation.grid_spec import FEEDER_KINDS, GridSpec, OpenDssFeederSpec
from federation.household_spec import (
    NAME_PATTERN,
    CommunityBatterySpec,
    HouseholdGroup,
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TimeSpec(_Section):
    """When the scenario runs (see ``TimeGrid``)."""

    start: str = Field(description="calendar start, ISO 8601, local to `timezone`")
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

    latitude_deg: float = Field(ge=-90, le=90)
    longitude_deg: float = Field(ge=-180, le=180)
    altitude_m: float = 0.0
    linke_turbidity: float = Field(3.0, gt=0, le=10, description="clear-sky turbidity [-]")


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

    system_losses: float = Field(0.14, ge=0, lt=1, description="DC losses before the inverter")
    temperature_coefficient_per_c: float = Field(-0.0037, description="of DC power [1/°C]")
    air_temperature_c: float = Field(20.0, description="ambient air temperature [°C]")
    wind_speed_m_per_s: float = Field(1.0, ge=0, description="wind speed [m/s]")


class _MarketRules(_Section):
    """Rules every mechanism shares."""

    delivery_ahead_intervals: int = Field(
        1, ge=1, le=96, description="orders are taken for up to this many intervals ahead"
    )


class DoubleAuctionSpec(_MarketRules):
    """MicroTE double auction (T-REX): pairwise matching per pool at gate closure."""

    mechanism: Literal["double_auction"] = "double_auction"
    settlement_rule: Literal["midpoint", "pay_as_bid", "pay_as_ask", "uniform"] = Field(
        "midpoint", description="price of a matched pair"
    )
    tie_breaking: Literal["time", "pro_rata"] = Field(
        "time", description="order of equal-price orders: submission time or pro rata"
    )


class CurveClearingSpec(_MarketRules):
    """TENT uniform-price clearing of supply and demand curves, the grid as one more curve."""

    mechanism: Literal["curve_clearing"]
    feeder_capacity_kw: float | None = Field(
        None, gt=0, description="grid import/export limit in the clearing [kW]; none: unlimited"
    )


class DlmpSpec(_MarketRules):
    """Welfare-maximising clearing on the feeder's LinDistFlow model with DLMPs."""

    mechanism: Literal["dlmp"]
    voltage_min_pu: float = Field(0.95, gt=0.5, lt=1.5, description="lower voltage bound [pu]")
    voltage_max_pu: float = Field(1.05, gt=0.5, lt=1.5, description="upper voltage bound [pu]")
    substation_limit_kw: float | None = Field(
        None, gt=0, description="substation import/export limit [kW]; none: unlimited"
    )

    @model_validator(mode="after")
    def _band(self) -> DlmpSpec:
        if self.voltage_min_pu >= self.voltage_max_pu:
            raise ValueError(
                f"voltage_min_pu ({self.voltage_min_pu}) must be below voltage_max_pu "
                f"({self.voltage_max_pu})"
            )
        return self


class ContinuousSpec(_MarketRules):
    """TENT continuous double auction: a standing book matched as orders arrive."""

    mechanism: Literal["continuous"]
    priority: Literal["age", "volume"] = Field(
        "age", description="order of equal-price standing orders"
    )


def _mechanism_of(value: object) -> str:
    if isinstance(value, dict):
        return value.get("mechanism", "double_auction")
    return getattr(value, "mechanism", "double_auction")


MarketSpec = Annotated[
    Annotated[DoubleAuctionSpec, Tag("double_auction")]
    | Annotated[CurveClearingSpec, Tag("curve_clearing")]
    | Annotated[DlmpSpec, Tag("dlmp")]
    | Annotated[ContinuousSpec, Tag("continuous")],
    Discriminator(_mechanism_of),
]


class SyntheticWholesale(_Section):
    """tefed's synthetic wholesale price series."""

    source: Literal["synthetic"] = "synthetic"
    mean_usd_per_mwh: float = 45.0
    daily_amplitude_usd_per_mwh: float = Field(25.0, ge=0)
    noise_usd_per_mwh: float = Field(4.0, ge=0)


class CsvWholesale(_Section):
    """Wholesale prices from a CSV file (ERCOT day-ahead layout or ``timestamp`` + price)."""

    source: Literal["csv"]
    path: str
    timezone: str
    price_column: str | None = None


class FlatTariff(_Section):
    """One retail import price at all times."""

    kind: Literal["flat"] = "flat"
    price_usd_per_kwh: float = DEFAULT_IMPORT_PRICE_USD_PER_KWH


class TouWindow(_Section):
    """A time-of-use window [start_hour, end_hour) in local time."""

    start_hour: float = Field(ge=0, le=24)
    end_hour: float = Field(ge=0, le=24)
    price_usd_per_kwh: float
    days: Literal["all", "weekdays", "weekends"] = "all"

    @model_validator(mode="after")
    def _window(self) -> TouWindow:
        TimeOfUseWindow(**self.model_dump())
        return self


class TouTariff(_Section):
    """A base import price with time-of-use windows (later windows win where they overlap)."""

    kind: Literal["time_of_use"]
    base_price_usd_per_kwh: float
    windows: list[TouWindow] = Field(min_length=1)


class PricesSpec(_Section):
    """Exogenous prices."""

    wholesale: Annotated[SyntheticWholesale | CsvWholesale, Field(discriminator="source")] = Field(
        default_factory=SyntheticWholesale
    )
    import_tariff: Annotated[FlatTariff | TouTariff, Field(discriminator="kind")] = Field(
        default_factory=FlatTariff
    )
    export_price_usd_per_kwh: float = DEFAULT_EXPORT_PRICE_USD_PER_KWH
    forecast_horizon_intervals: int = Field(96, ge=2)


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

    results_root: str = "results"
    stall_timeout_s: float = Field(
        60.0, gt=0, description="a federate waiting longer than this for a time grant [s]"
    )
    startup_timeout_s: float = Field(
        300.0,
        gt=0,
        description="a federate waiting longer than this for the others to finish starting [s]",
    )
    wall_clock_limit_s: float = Field(900.0, gt=0)
    progress_every_s: int = Field(3600, gt=0)
    broker_port: int = Field(23700, ge=1024, le=65535, description="port of `helics run`'s broker")


class Scenario(_Section):
    """A whole scenario."""

    name: str
    description: str = ""
    seed: int = Field(0, ge=0)
    time: TimeSpec
    site: SiteSpec
    pv_model: PvModelSpec = Field(default_factory=PvModelSpec)
    grid: GridSpec = Field(default_factory=GridSpec)
    market: MarketSpec = Field(default_factory=DoubleAuctionSpec)
    prices: PricesSpec = Field(default_factory=PricesSpec)
    households: list[HouseholdGroup] = Field(min_length=1)
    community_battery: CommunityBatterySpec | None = None
    ems: EmsSpec = Field(default_factory=EmsSpec)
    run: RunSpec = Field(default_factory=RunSpec)

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
        return self


def load_scenario(path: str | Path) -> tuple[Scenario, Path]:
    """Read and validate a scenario file; returns it with its folder (for relative paths).

    Raises
    ------
    InputError
        Listing every problem: path in the file, value, expectation.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise InputError(str(path), ["file not found"]) from None
    except yaml.YAMLError as error:
        raise InputError(str(path), [f"not valid YAML: {error}"]) from None
    if not isinstance(data, dict):
        raise InputError(str(path), ["expected a mapping of sections at the top level"])
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as error:
        problems = describe_validation_error(error, union_tags=FEEDER_KINDS)
        raise InputError(str(path), problems) from None
    problems = _data_problems(scenario, path.parent.resolve())
    if problems:
        raise InputError(str(path), problems)
    return scenario, path.parent.resolve()


def _data_problems(scenario: Scenario, scenario_dir: Path) -> list[str]:
    """Problems with the data files a scenario names (readable, covering the whole run)."""
    problems = []
    feeder = scenario.grid.feeder
    if isinstance(feeder, OpenDssFeederSpec) and not (scenario_dir / feeder.dss).is_file():
        problems.append(
            f"grid.feeder.dss: got {feeder.dss!r}; no such file ({scenario_dir / feeder.dss})"
        )
    return problems + _price_file_problems(scenario, scenario_dir)


def _price_file_problems(scenario: Scenario, scenario_dir: Path) -> list[str]:
    """Problems with the wholesale price file (readable, covering the whole run)."""
    wholesale = scenario.prices.wholesale
    if not isinstance(wholesale, CsvWholesale):
        return []
    csv_path = (scenario_dir / wholesale.path).resolve()
    if not csv_path.is_file():
        return [f"prices.wholesale.path: got {wholesale.path!r}; no such file ({csv_path})"]
    time = scenario.time
    grid = TimeGrid(
        parse_start(time.start, time.timezone),
        time.duration_s,
        time.grid_step_s,
        time.market_interval_s,
        time.gate_closure_s,
    )
    starts = grid.calendar(grid.interval_start_s(np.arange(grid.n_intervals)))
    try:
        prices = read_price_csv(csv_path, wholesale.timezone, wholesale.price_column)
        hold_to_intervals(prices.index, prices.to_numpy(float), starts)
    except ValueError as error:
        return [f"prices.wholesale ({wholesale.path}): {error}"]
    return []
