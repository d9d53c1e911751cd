"""The ``households`` and ``community_battery`` sections of a scenario.

Households come as groups: ``count`` households that share devices and a strategy. A number
given as ``[low, high]`` is drawn uniformly per household from the scenario seed. Devices:

- ``load``: the daily energy and where the profile comes from (tefed's synthetic generator, the
  BDEW H0 standard profile from demandlib, or a CSV of measured profiles);
- ``pv``: rooftop PV (clear sky or the TMY weather file pvlib ships, see ``pv_model``);
- ``battery``: a home battery, from a named preset or explicit ratings;
- ``ev``: an electric vehicle with its plug-in window, energy need and charging mode.

``strategy`` is a name, or a mapping with ``name`` and that strategy's options.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from federates.ems.devices.battery_presets import BATTERY_PRESETS

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _range_ok(value: float | list[float], low: float, high: float | None) -> float | list[float]:
    values = value if isinstance(value, list) else [value]
    if isinstance(value, list) and (len(value) != 2 or value[0] > value[1]):
        raise ValueError("expected a number or a range [low, high] with low <= high")
    for item in values:
        if item < low or (high is not None and item > high):
            bound = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise ValueError(f"expected values {bound}")
    return value


def _nonnegative(value: float | list[float]) -> float | list[float]:
    return _range_ok(value, 0.0, None)


def _fraction(value: float | list[float]) -> float | list[float]:
    return _range_ok(value, 0.0, 1.0)


NumberOrRange = float | list[float]


# --- strategies -----------------------------------------------------------------------------------


class NetBillingStrategy(_Section):
    """No trading; a battery serves self-consumption; everything settles at net-billing prices."""

    name: Literal["net_billing"] = "net_billing"


class SelfConsumptionStrategy(_Section):
    """Battery for self-consumption; bids the forecast deficit and asks the surplus at the
    group's ``bid_price_fraction`` / ``ask_price_fraction`` between export and import price."""

    name: Literal["self_consumption"] = "self_consumption"


class MaCrossoverStrategy(_Section):
    """T-REX TB-1 expert trader: learned time-of-day prices, moving-average crossover battery."""

    name: Literal["ma_crossover"] = "ma_crossover"
    stage: Literal["pv_only", "battery_buys", "battery_trades"] = Field(
        "battery_trades",
        description="pv_only: trade PV surplus/deficit only; battery_buys: the battery also buys "
        "for self-consumption; battery_trades: the battery buys and sells",
    )
    fast_window_intervals: int = Field(23, ge=1, description="fast moving average [intervals]")
    slow_window_intervals: int = Field(50, ge=2, description="slow moving average [intervals]")
    learning_rate: float = Field(
        0.3, gt=0, le=1, description="weight of a new settlement price in the learned table [-]"
    )
    margin_fraction: float = Field(
        0.05,
        ge=0,
        le=1,
        description="bids above / asks below the learned price by this fraction of the "
        "import-export spread [-]",
    )

    @model_validator(mode="after")
    def _windows(self) -> MaCrossoverStrategy:
        if self.fast_window_intervals >= self.slow_window_intervals:
            raise ValueError(
                f"fast_window_intervals ({self.fast_window_intervals}) must be below "
                f"slow_window_intervals ({self.slow_window_intervals})"
            )
        return self


class OptimizingStrategy(_Section):
    """Receding-horizon LP of the battery schedule (Rana et al.), re-solved every interval."""

    name: Literal["optimizing"] = "optimizing"
    objective: Literal["min_cost", "min_import"] = Field(
        "min_cost", description="min_cost: arbitrage against prices; min_import: self-consumption"
    )
    horizon_intervals: int = Field(96, ge=2, le=672, description="look-ahead [intervals]")
    price_forecast: Literal["price_feed", "market_history"] = Field(
        "price_feed",
        description="price_feed: net-billing import/export forecasts; market_history: the mean "
        "clearing price seen per time of day, net-billing prices where none was seen",
    )
    flexibility_levels: int = Field(
        4, ge=2, le=12, description="price levels probed for a curve or affine order [-]"
    )


def _strategy_name(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return str(value.get("name", ""))
    return str(getattr(value, "name", ""))


StrategySpec = Annotated[
    Annotated[NetBillingStrategy, Tag("net_billing")]
    | Annotated[SelfConsumptionStrategy, Tag("self_consumption")]
    | Annotated[MaCrossoverStrategy, Tag("ma_crossover")]
    | Annotated[OptimizingStrategy, Tag("optimizing")],
    Discriminator(_strategy_name),
]
STRATEGY_NAMES = ("net_billing", "self_consumption", "ma_crossover", "optimizing")


# --- devices --------------------------------------------------------------------------------------


class LoadSpec(_Section):
    """Where a household group's consumption profile comes from (its daily energy is the
    group's ``load_daily_energy_kwh``)."""

    profile: Literal["synthetic", "bdew_h0", "csv"] = Field(
        "synthetic",
        description="synthetic: tefed's appliance-level generator; bdew_h0: the BDEW H0 standard "
        "profile (demandlib) with per-household shift and noise; csv: measured profiles",
    )
    path: str | None = Field(None, description="CSV of profiles (profile: csv), one column each")
    unit: Literal["kW", "W", "kWh", "Wh"] = Field(
        "kW", description="unit of the CSV values (kWh, Wh: energy per row)"
    )
    timezone: str | None = Field(
        None, description="IANA time zone of naive CSV timestamps; none: they must carry one"
    )
    scale_to_daily_energy: bool = Field(
        False, description="csv: scale each profile so its mean day uses load_daily_energy_kwh"
    )

    @model_validator(mode="after")
    def _csv(self) -> LoadSpec:
        if (self.profile == "csv") != (self.path is not None):
            raise ValueError("path is required with profile: csv, and only then")
        return self


class PvSpec(_Section):
    """Rooftop PV of a household group."""

    kwp: NumberOrRange = Field(description="peak DC power [kWp]")
    tilt_deg: NumberOrRange = 30.0
    azimuth_deg: NumberOrRange = Field(180.0, description="0 = north, 180 = south")
    inverter_ratio: float = Field(1.0, gt=0, description="inverter AC rating / kWp [-]")

    _kwp = field_validator("kwp")(_nonnegative)

    @field_validator("tilt_deg")
    @classmethod
    def _tilt(cls, value: NumberOrRange) -> NumberOrRange:
        return _range_ok(value, 0.0, 90.0)

    @field_validator("azimuth_deg")
    @classmethod
    def _azimuth(cls, value: NumberOrRange) -> NumberOrRange:
        return _range_ok(value, 0.0, 359.999)


class BatterySpec(_Section):
    """A battery: a named preset, explicit ratings, or a preset with some ratings overridden."""

    preset: str | None = Field(None, description=f"named ratings, one of {sorted(BATTERY_PRESETS)}")
    capacity_kwh: NumberOrRange | None = Field(None, description="usable capacity [kWh]")
    power_kw: NumberOrRange | None = Field(None, description="charge and discharge limit [kW]")
    round_trip_efficiency: float | None = Field(None, gt=0, le=1, description="AC to AC [-]")
    soc_min: float | None = Field(None, ge=0, le=1, description="lowest state of charge [-]")
    soc_max: float | None = Field(None, ge=0, le=1, description="highest state of charge [-]")
    soc_initial: float = Field(0.5, ge=0, le=1, description="state of charge at the start [-]")
    self_discharge_per_h: float = Field(
        0.0, ge=0, lt=1, description="fraction of the stored energy lost per hour [1/h]"
    )
    covers_shortfall: bool = Field(
        True,
        description="during delivery the battery steers toward the household's awards, so it "
        "covers a shortfall of sold energy first (T-REX); false: it only serves self-consumption",
    )

    _capacity = field_validator("capacity_kwh")(
        lambda value: value if value is None else _nonnegative(value)
    )
    _power = field_validator("power_kw")(
        lambda value: value if value is None else _nonnegative(value)
    )

    @field_validator("preset")
    @classmethod
    def _known(cls, value: str | None) -> str | None:
        if value is not None and value not in BATTERY_PRESETS:
            raise ValueError(f"unknown preset {value!r}; expected one of {sorted(BATTERY_PRESETS)}")
        return value

    @model_validator(mode="after")
    def _complete(self) -> BatterySpec:
        if self.preset is not None:
            preset = BATTERY_PRESETS[self.preset]
            rated = ("capacity_kwh", "power_kw", "round_trip_efficiency", "soc_min", "soc_max")
            for field in rated:
                if getattr(self, field) is None:
                    setattr(self, field, getattr(preset, field))
        missing = [field for field in ("capacity_kwh", "power_kw") if getattr(self, field) is None]
        if missing:
            raise ValueError(f"give a preset or {' and '.join(missing)}")
        defaults = {"round_trip_efficiency": 0.9, "soc_min": 0.1, "soc_max": 0.95}
        for field, default in defaults.items():
            if getattr(self, field) is None:
                setattr(self, field, default)
        if not self.soc_min <= self.soc_initial <= self.soc_max:
            raise ValueError(
                f"expected soc_min <= soc_initial <= soc_max, got {self.soc_min}, "
                f"{self.soc_initial}, {self.soc_max}"
            )
        return self


class EvSpec(_Section):
    """Electric vehicles of a household group, plugged in at home once a day."""

    share: float = Field(1.0, gt=0, le=1, description="fraction of the group with an EV [-]")
    capacity_kwh: NumberOrRange = Field(60.0, description="vehicle battery capacity [kWh]")
    charger_kw: NumberOrRange = Field(7.4, description="home charger rating [kW]")
    efficiency: float = Field(0.9, gt=0, le=1, description="grid to battery [-]")
    arrival_hour: NumberOrRange = Field([17.0, 19.5], description="local plug-in time [h]")
    departure_hour: NumberOrRange = Field([6.5, 8.0], description="local unplug time [h]")
    energy_needed_kwh: NumberOrRange = Field(
        [6.0, 14.0], description="energy to add before departure each day [kWh]"
    )
    charging: Literal["uncontrolled", "smart"] = Field(
        "uncontrolled",
        description="uncontrolled: full power from plug-in; smart: follows the PV surplus and "
        "starts at full power when that is the last chance to meet the need",
    )

    _nonnegative_fields = field_validator("capacity_kwh", "charger_kw", "energy_needed_kwh")(
        lambda value: _nonnegative(value)
    )

    @field_validator("arrival_hour", "departure_hour")
    @classmethod
    def _hour(cls, value: NumberOrRange) -> NumberOrRange:
        return _range_ok(value, 0.0, 24.0)


class HouseholdGroup(_Section):
    """``count`` households sharing devices and a strategy."""

    group: str = Field(description="name of the group")
    count: int = Field(ge=1)
    strategy: StrategySpec = Field(
        default_factory=NetBillingStrategy,
        description=f"a name ({', '.join(STRATEGY_NAMES)}) or a mapping with name and options",
    )
    load_daily_energy_kwh: NumberOrRange = Field(10.0, description="daily consumption [kWh]")
    load: LoadSpec = Field(default_factory=LoadSpec)
    pv: PvSpec | None = None
    battery: BatterySpec | None = None
    ev: EvSpec | None = None
    bid_price_fraction: NumberOrRange = Field(
        [0.4, 0.9], description="bid price position between export (0) and import (1) price"
    )
    ask_price_fraction: NumberOrRange = Field(
        [0.1, 0.6], description="ask price position between export (0) and import (1) price"
    )
    power_factor: float | None = Field(
        None,
        gt=0,
        le=1,
        description="lagging power factor while importing; default grid.household_power_factor",
    )

    _load = field_validator("load_daily_energy_kwh")(_nonnegative)
    _bid = field_validator("bid_price_fraction")(_fraction)
    _ask = field_validator("ask_price_fraction")(_fraction)

    @field_validator("strategy", mode="before")
    @classmethod
    def _named(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value not in STRATEGY_NAMES:
                raise ValueError(f"unknown strategy {value!r}; expected one of {STRATEGY_NAMES}")
            return {"name": value}
        return value

    @field_validator("group")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_PATTERN.match(value):
            raise ValueError("expected letters, digits, '_' or '-'")
        return value


class CommunityBatterySpec(_Section):
    """One battery shared by the community (Rana et al.), run by a community EMS agent.

    The agent is one more market participant at a feeder bus, with no load or PV of its own. It
    schedules the battery with the ``optimizing`` LP against the whole community's forecast net
    load: ``min_import`` flattens the community's import at the PCC, ``min_cost`` does
    arbitrage against the price forecast.
    """

    battery: BatterySpec = Field(
        default_factory=lambda: BatterySpec(preset="community_rana", soc_initial=0.5)
    )
    bus: str | None = Field(
        None,
        description="three-phase bus it connects to; default: the first transformer's LV "
        "busbar of a generated feeder (required with an OpenDSS feeder)",
    )
    strategy: OptimizingStrategy = Field(
        default_factory=lambda: OptimizingStrategy(objective="min_import")
    )
