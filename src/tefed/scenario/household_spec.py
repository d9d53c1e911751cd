"""The ``households`` and ``community_battery`` sections of a scenario.

Households come as groups: ``count`` households that share devices and a strategy. A number
given as ``[low, high]`` is drawn uniformly per household from the scenario seed. Devices:

- ``load``: the daily energy and where the profile comes from (tefed's synthetic generator, the
  BDEW H25 household profile from demandlib (option bdew_h0), or measured profiles from a
  file or folder, each household taking one, as ``load.assign`` says);
- ``pv``: rooftop PV (clear sky or the TMY weather file pvlib ships, see ``pv_model``);
- ``battery``: a home battery, from a named preset or explicit ratings;
- ``ev``: an electric vehicle with its plug-in window, energy need and charging mode.

``strategy`` is a name, or a mapping with ``name`` and that strategy's options (see
`tefed.scenario.strategy_spec`); ``strategy_mix`` instead gives shares of strategies within the
group. A single household is a group with ``count: 1``; ``household_ids`` names a group's
households.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from tefed.domain.ems.devices.battery_presets import BATTERY_PRESETS
from tefed.domain.ems.devices.ev import need_fits, shortest_stay_s
from tefed.scenario.section import MAX_HOUSEHOLDS, MAX_TIMEZONE_CHARS, ScenarioSection
from tefed.scenario.strategy_spec import (
    STRATEGY_NAMES,
    NetBillingStrategy,
    OptimizingStrategy,
    StrategySpec,
)

#: A name (scenario, group, household id): it becomes a folder, file or federate name.
NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: What a name must be, as problems say it.
NAME_RULE = "expected 1 to 64 letters, digits, '_' or '-'"
#: Largest peak PV power of a household [kWp].
MAX_KWP = 1_000.0
#: Largest battery capacity, household or community [kWh].
MAX_BATTERY_KWH = 100_000.0
#: Largest battery, charger or EV power [kW].
MAX_POWER_KW = 100_000.0
#: A household's load power [kW].
LoadPower = Annotated[float, Field(ge=0, le=MAX_POWER_KW)]
#: Largest EV battery capacity and daily charging need [kWh].
MAX_EV_KWH = 1_000.0
#: Largest EV charger [kW].
MAX_EV_KW = 1_000.0
#: Largest daily energy of a household [kWh].
MAX_DAILY_KWH = 10_000.0
#: Id of the community battery's agent in the household table (no household may take it).
COMMUNITY_ID = "community_battery"


def _range_ok(value: float | list[float], low: float, high: float) -> float | list[float]:
    values = value if isinstance(value, list) else [value]
    if isinstance(value, list) and (len(value) != 2 or value[0] > value[1]):
        raise ValueError("expected a number or a range [low, high] with low <= high")
    for item in values:
        if not low <= item <= high:
            raise ValueError(f"expected values at least {low:g} and at most {high:g}")
    return value


def range_field(
    default: Any, low: float, high: float, description: str, *, validate_default: bool = False
) -> Any:
    """A field holding a number or a range ``[low, high]``, each value within ``[low, high]``.

    The bounds go into the JSON Schema (and so the reference); `_within_bounds` checks them.
    ``validate_default`` also checks the default, for a field checked against other fields.
    """
    return Field(
        default,
        description=description,
        json_schema_extra={"minimum": low, "maximum": high},
        validate_default=validate_default,
    )


def _within_bounds(cls: type[BaseModel], value: Any, info: ValidationInfo) -> Any:
    """Validator of the ``range_field`` fields of a model: values within the field's bounds."""
    if value is None:
        return None
    bounds = cls.model_fields[info.field_name].json_schema_extra
    return _range_ok(value, bounds["minimum"], bounds["maximum"])


NumberOrRange = float | list[float]
#: How pydantic names the members of ``NumberOrRange`` in an error's path (not keys of the file).
NUMBER_OR_RANGE_MEMBERS = frozenset({"float", "list[float]"})
#: Decimals a household keeps of a value drawn from a range: an hour of the day, other values.
DRAWN_HOUR_DECIMALS = 2
DRAWN_DECIMALS = 3


def drawn_bounds(value: float | list[float], decimals: int = DRAWN_DECIMALS) -> tuple[float, float]:
    """Lowest and highest value a household can take from a number or a range ``[low, high]``.

    Values drawn from a range are rounded to ``decimals`` (`tefed.build.household_table`), so
    a range's ends are rounded alike; a number is taken as given.

    Examples
    --------
    >>> drawn_bounds([17.004, 19.5], DRAWN_HOUR_DECIMALS), drawn_bounds(17.004)
    ((17.0, 19.5), (17.004, 17.004))
    """
    if isinstance(value, list):
        low, high = (float(np.round(end, decimals)) for end in value)
        return low, high
    return float(value), float(value)


def shown_number_or_range(value: float | list[float]) -> str:
    """A number or a range as a scenario writes it: ``10``, ``[17, 19.5]``."""
    if isinstance(value, list):
        return "[" + ", ".join(f"{end:g}" for end in value) + "]"
    return f"{value:g}"


# --- devices --------------------------------------------------------------------------------------


#: Load profiles read from data files, by layout (the other profiles are generated).
MEASURED_PROFILES = ("csv", "daily_files", "long_csv")
#: Keys of ``load`` that apply only to some profiles (besides ``path``), and those profiles.
_LOAD_KEYS_FOR = {
    "unit": MEASURED_PROFILES,
    "assign": MEASURED_PROFILES,
    "repeat": MEASURED_PROFILES,
    "scale_to_daily_energy": MEASURED_PROFILES,
    "timezone": ("csv", "long_csv"),
    "time_column": ("csv",),
    "files": ("daily_files",),
    "step_s": ("daily_files",),
}


class LoadSpec(ScenarioSection):
    """Where a household group's consumption profile comes from (its daily energy is the
    group's ``load_daily_energy_kwh``).

    Measured profiles come from a file or folder (``path``, relative to the scenario file) in
    one of three layouts; values are in ``unit``, one value per step (any step; power units
    give the mean power over the step, energy units the energy in it):

    - ``csv``: a header line, then one row per step; the first column (or ``time_column``)
      holds the start of the row's step as a date and time, each other column one profile,
      named by its header. Timestamps are regular, increasing, and must cover the whole run
      (``time.start`` to ``time.start + time.duration_s``, in ``time.timezone``); naive ones
      are local to ``timezone``, others carry a UTC offset such as ``+02:00``.
    - ``daily_files``: a folder of one-day profiles, one file per profile (named by the file
      name without extension, e.g. the IEEE European LV test feeder's
      ``Daily_1min_100profiles``): one value per line from local midnight, the same day
      repeated on every day of the run in ``time.timezone``.
    - ``long_csv``: a table with the columns ``household`` (the profile's name), ``time`` and
      ``value``, one row per profile and step; every profile has the same timestamps, which
      follow the rules of ``csv``.

    ``assign`` chooses each household's profile: ``in_order`` deals the source's profiles
    out in its order (columns left to right, files in natural order, households of a long
    table by first row) to the households that take it in order, group after group in
    scenario order; ``household_id`` takes the profile named as the household; a list names
    the profile of each of the group's households in order; a mapping gives household id →
    profile name. A profile serves one household unless ``repeat`` is true. The household
    table records each household's file and profile (``load_source``,
    ``load_profile_name``).
    """

    profile: Literal["synthetic", "bdew_h0", "csv", "daily_files", "long_csv"] = Field(
        "synthetic",
        description="synthetic: tefed's appliance-level generator; bdew_h0: the BDEW household "
        "profile (H25, demandlib) with per-household shift and noise; csv: measured profiles "
        "as timestamped columns; daily_files: a folder of one-day profiles, one file each; "
        "long_csv: measured profiles as rows of household, time, value",
    )
    path: str | None = Field(
        None, description="measured profiles: the CSV file, or the folder of daily_files"
    )
    unit: Literal["kW", "W", "kWh", "Wh"] = Field(
        "kW",
        description="unit of the measured values (kW, W: mean power; kWh, Wh: energy per step)",
    )
    timezone: str | None = Field(
        None,
        max_length=MAX_TIMEZONE_CHARS,
        description="csv, long_csv: IANA time zone of naive timestamps; none: they must carry a "
        "UTC offset",
    )
    time_column: str | None = Field(
        None, description="csv: name of the timestamp column; none: the first column"
    )
    files: str = Field(
        "*.txt", description="daily_files: glob pattern of the profile files in the folder"
    )
    step_s: int | None = Field(
        None,
        gt=0,
        le=86400,
        description="daily_files: step of each line from local midnight; none: a day divided "
        "by the number of lines (1440 lines: 60 s) [s]",
    )
    assign: Literal["in_order", "household_id"] | list[str] | dict[str, str] = Field(
        "in_order",
        description="which profile each household takes: in_order (the source's order, across "
        "the groups reading it), household_id (the profile named as the household), a list "
        "of profile names (one per household of the group, in order) or a mapping household "
        "id: profile name",
    )
    repeat: bool = Field(
        False,
        description="let a profile serve more than one household (in_order: start again from "
        "the first profile when the households outnumber the profiles); false: households "
        "that would share a profile are an error",
    )
    scale_to_daily_energy: bool = Field(
        False,
        description="measured profiles: scale each so its mean day uses load_daily_energy_kwh",
    )
    range_kw: tuple[LoadPower, LoadPower] | None = Field(
        None,
        description="[lowest, highest]: map the profile affinely so that over the run its "
        "lowest and highest grid-step values are these (e.g. a study's published minimum and "
        "maximum load); none: as generated [kW]",
    )

    @model_validator(mode="after")
    def _measured(self) -> LoadSpec:
        if (self.profile in MEASURED_PROFILES) != (self.path is not None):
            raise ValueError(
                f"path is required with profile: {' | '.join(MEASURED_PROFILES)}, and only then"
            )
        for key in sorted(self.model_fields_set):
            allowed = _LOAD_KEYS_FOR.get(key)
            if allowed is not None and self.profile not in allowed:
                raise ValueError(
                    f"{key} is given with profile: {self.profile}; expected it only with "
                    f"profile: {' | '.join(allowed)}"
                )
        if self.range_kw is not None and self.range_kw[0] > self.range_kw[1]:
            raise ValueError(
                f"range_kw is {list(self.range_kw)}; expected [lowest, highest] with lowest <= "
                "highest"
            )
        return self


class PvSpec(ScenarioSection):
    """Rooftop PV of a household group."""

    kwp: NumberOrRange = range_field(..., 0.0, MAX_KWP, "peak DC power [kWp]")
    tilt_deg: NumberOrRange = range_field(30.0, 0.0, 90.0, "panel tilt from horizontal [°]")
    azimuth_deg: NumberOrRange = range_field(
        180.0, 0.0, 359.999, "direction the panels face, 0 = north, 180 = south [°]"
    )
    inverter_ratio: float = Field(1.0, gt=0, le=10, description="inverter AC rating / kWp [-]")
    peak_kw: float | None = Field(
        None,
        gt=0,
        le=MAX_POWER_KW,
        description="scale the PV output so that its highest grid-step value over the run is "
        "this (e.g. a study's published maximum generation); none: as modelled [kW]",
    )

    _bounds = field_validator("kwp", "tilt_deg", "azimuth_deg")(classmethod(_within_bounds))


class BatterySpec(ScenarioSection):
    """A battery: a named preset, explicit ratings, or a preset with some ratings overridden."""

    preset: str | None = Field(None, description=f"named ratings, one of {sorted(BATTERY_PRESETS)}")
    capacity_kwh: NumberOrRange | None = range_field(
        None, 0.0, MAX_BATTERY_KWH, "usable capacity; none: the preset's [kWh]"
    )
    power_kw: NumberOrRange | None = range_field(
        None, 0.0, MAX_POWER_KW, "charge and discharge limit; none: the preset's [kW]"
    )
    round_trip_efficiency: float | None = Field(
        None, gt=0, le=1, description="AC to AC; none: the preset's, else 0.9 [-]"
    )
    soc_min: float | None = Field(
        None, ge=0, le=1, description="lowest state of charge; none: the preset's, else 0.1 [-]"
    )
    soc_max: float | None = Field(
        None, ge=0, le=1, description="highest state of charge; none: the preset's, else 0.95 [-]"
    )
    soc_initial: float = Field(0.5, ge=0, le=1, description="state of charge at the start [-]")
    self_discharge_per_h: float = Field(
        0.0, ge=0, lt=1, description="fraction of the stored energy lost per hour [1/h]"
    )
    covers_shortfall: bool = Field(
        True,
        description="during delivery the battery steers toward the household's awards, so it "
        "covers a shortfall of sold energy first (T-REX); false: it only serves self-consumption",
    )

    _bounds = field_validator("capacity_kwh", "power_kw")(classmethod(_within_bounds))

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


class EvSpec(ScenarioSection):
    """Electric vehicles of a household group, plugged in at home once a day."""

    share: float = Field(1.0, gt=0, le=1, description="fraction of the group with an EV [-]")
    capacity_kwh: NumberOrRange = range_field(
        60.0, 0.0, MAX_EV_KWH, "vehicle battery capacity [kWh]"
    )
    charger_kw: NumberOrRange = range_field(7.4, 0.0, MAX_EV_KW, "home charger rating [kW]")
    efficiency: float = Field(0.9, gt=0, le=1, description="grid to battery [-]")
    arrival_hour: NumberOrRange = range_field([17.0, 19.5], 0.0, 24.0, "local plug-in time [h]")
    departure_hour: NumberOrRange = range_field(
        [6.5, 8.0],
        0.0,
        24.0,
        "local unplug time, never arrival_hour's; plug-in window and time away each at least "
        "time.grid_step_s [h]",
        validate_default=True,
    )
    energy_needed_kwh: NumberOrRange = range_field(
        [6.0, 14.0],
        0.0,
        MAX_EV_KWH,
        "energy to add before departure each day, at most capacity_kwh (with ranges: the "
        "highest need at most the lowest capacity) [kWh]",
        validate_default=True,
    )
    charging: Literal["uncontrolled", "smart"] = Field(
        "uncontrolled",
        description="uncontrolled: full power from plug-in; smart: follows the PV surplus and "
        "starts at full power when that is the last chance to meet the need",
    )

    _bounds = field_validator(
        "capacity_kwh", "charger_kw", "arrival_hour", "departure_hour", "energy_needed_kwh"
    )(classmethod(_within_bounds))

    # The rules the ems applies to every household's drawn values (`EvParameters`), checked
    # here for every value a range can draw; capacity_kwh and arrival_hour come first.
    @field_validator("energy_needed_kwh")
    @classmethod
    def _fits_the_battery(cls, value: NumberOrRange, info: ValidationInfo) -> NumberOrRange:
        capacity = info.data.get("capacity_kwh")
        if capacity is None:
            return value
        smallest_kwh, largest_kwh = drawn_bounds(capacity)
        if smallest_kwh == 0 and largest_kwh > 0:
            # Drawn from [0, high]: a battery as small as the rounding keeps.
            smallest_kwh = 10.0**-DRAWN_DECIMALS
        largest_need_kwh = drawn_bounds(value)[1]
        if need_fits(largest_need_kwh, smallest_kwh):
            return value
        expected = f"expected at most capacity_kwh ({shown_number_or_range(capacity)})"
        if isinstance(value, list) or isinstance(capacity, list):
            raise ValueError(
                f"{_got_range(value)}{expected} for every household: a need of "
                f"{largest_need_kwh:g} kWh can be drawn with a battery of {smallest_kwh:g} kWh"
            )
        raise ValueError(f"{expected}, what the vehicle's battery holds")

    @field_validator("departure_hour")
    @classmethod
    def _leaves_after_arriving(cls, value: NumberOrRange, info: ValidationInfo) -> NumberOrRange:
        arrival = info.data.get("arrival_hour")
        capacity = info.data.get("capacity_kwh")
        if arrival is None or capacity is None or drawn_bounds(capacity)[1] == 0:
            return value
        if shortest_ev_stay_s(arrival, value) > 0:
            return value
        shown_arrival = shown_number_or_range(arrival)
        if isinstance(value, list) or isinstance(arrival, list):
            raise ValueError(
                f"{_got_range(value)}expected no time of day that arrival_hour ({shown_arrival}) "
                "can also take (times count in whole seconds; 0 and 24 are both midnight)"
            )
        raise ValueError(
            f"expected a time of day other than arrival_hour ({shown_arrival}); 0 and 24 are "
            "both midnight"
        )


def _got_range(value: NumberOrRange) -> str:
    # Pydantic's problems echo a number but not a range (`describe_validation_error`).
    return f"got {shown_number_or_range(value)}; " if isinstance(value, list) else ""


def shortest_ev_stay_s(arrival_hour: NumberOrRange, departure_hour: NumberOrRange) -> float:
    """Shortest plug-in window or time away of any arrival and departure households can draw
    from an ``ev`` section's hours (`tefed.domain.ems.devices.ev.shortest_stay_s`) [s]."""
    arrival = drawn_bounds(arrival_hour, DRAWN_HOUR_DECIMALS)
    departure = drawn_bounds(departure_hour, DRAWN_HOUR_DECIMALS)
    return float(shortest_stay_s(*arrival, *departure))


def ev_step_problems(groups: list[HouseholdGroup], grid_step_s: int) -> list[str]:
    """EVs whose plug-in window or time away can be shorter than a power-flow step.

    The ems charges every EV one grid step at a time and refuses a step holding both an
    arrival and a departure (`tefed.domain.ems.devices.ev.charge_ev`).

    Parameters
    ----------
    groups : list of HouseholdGroup
        The scenario's household groups.
    grid_step_s : int
        ``time.grid_step_s`` [s].

    Returns
    -------
    list of str
        One problem per group, naming ``households[k].ev.departure_hour``, its value, the
        shortest window or time away and the step; empty when every EV fits.
    """
    problems = []
    for position, group in enumerate(groups):
        ev = group.ev
        if ev is None or drawn_bounds(ev.capacity_kwh)[1] == 0:
            continue
        stay_s = shortest_ev_stay_s(ev.arrival_hour, ev.departure_hour)
        if 0 < stay_s < grid_step_s:
            problems.append(
                f"households[{position}].ev.departure_hour: got "
                f"{shown_number_or_range(ev.departure_hour)} with arrival_hour "
                f"{shown_number_or_range(ev.arrival_hour)}, a plug-in window or time away as "
                f"short as {stay_s:g} s; expected each at least time.grid_step_s ({grid_step_s} "
                "s), the step the ems charges in"
            )
    return problems


def _strategy_names_as_keys(schema: dict[str, Any]) -> None:
    """JSON Schema of ``strategy_mix``: its keys are strategy names (for editor completion)."""
    schema["anyOf"][0]["propertyNames"] = {"enum": list(STRATEGY_NAMES)}


class HouseholdGroup(ScenarioSection):
    """``count`` households sharing devices and a strategy (a single household: ``count: 1``)."""

    group: str = Field(description="name of the group (letters, digits, '_', '-')")
    count: int = Field(ge=1, le=MAX_HOUSEHOLDS, description="number of households in the group")
    household_ids: list[str] | None = Field(
        None,
        max_length=MAX_HOUSEHOLDS,
        description="ids of the group's households, one per household in order; none: h01, "
        "h02, … by position among all households of the scenario",
    )
    strategy: StrategySpec = Field(
        default_factory=NetBillingStrategy,
        description=f"a name ({', '.join(STRATEGY_NAMES)}) or a mapping with name and options; "
        "give this or strategy_mix",
    )
    strategy_mix: dict[str, Annotated[float, Field(gt=0, le=1)]] | None = Field(
        None,
        description="shares of strategies (by name, default options) summing to 1, e.g. "
        "{self_consumption: 0.6, ma_crossover: 0.4}; counts by largest remainder, households "
        "drawn from the seed; give this or strategy",
        json_schema_extra=_strategy_names_as_keys,
    )
    load_daily_energy_kwh: NumberOrRange = range_field(
        10.0, 0.0, MAX_DAILY_KWH, "daily consumption [kWh]"
    )
    load: LoadSpec = Field(
        default_factory=LoadSpec, description="where the load profile comes from"
    )
    pv: PvSpec | None = Field(None, description="rooftop PV; none: no PV")
    battery: BatterySpec | None = Field(None, description="home battery; none: no battery")
    ev: EvSpec | None = Field(None, description="electric vehicles; none: no EV")
    bid_price_fraction: NumberOrRange = range_field(
        [0.4, 0.9], 0.0, 1.0, "bid price position between export (0) and import (1) price [-]"
    )
    ask_price_fraction: NumberOrRange = range_field(
        [0.1, 0.6], 0.0, 1.0, "ask price position between export (0) and import (1) price [-]"
    )
    power_factor: float | None = Field(
        None,
        gt=0,
        le=1,
        description="lagging power factor while importing; none: grid.household_power_factor [-]",
    )

    _bounds = field_validator("load_daily_energy_kwh", "bid_price_fraction", "ask_price_fraction")(
        classmethod(_within_bounds)
    )

    @field_validator("strategy", mode="before")
    @classmethod
    def _named(cls, value: Any) -> Any:
        name = value.get("name") if isinstance(value, dict) else value
        if isinstance(name, str) and name not in STRATEGY_NAMES:
            raise ValueError(f"unknown strategy {name!r}; expected one of {STRATEGY_NAMES}")
        if isinstance(value, dict) and "name" not in value:
            raise ValueError(f"a strategy mapping needs a name, one of {STRATEGY_NAMES}")
        return {"name": value} if isinstance(value, str) else value

    @field_validator("strategy_mix")
    @classmethod
    def _shares(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        if value is None:
            return None
        unknown = [name for name in value if name not in STRATEGY_NAMES]
        if unknown:
            raise ValueError(f"unknown strategy {unknown[0]!r}; expected one of {STRATEGY_NAMES}")
        total = sum(value.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"shares sum to {total:g}; expected 1")
        return value

    @field_validator("group")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_PATTERN.fullmatch(value):
            raise ValueError(NAME_RULE)
        return value

    @field_validator("household_ids")
    @classmethod
    def _ids(cls, value: list[str] | None) -> list[str] | None:
        for position, household_id in enumerate(value or []):
            if not NAME_PATTERN.fullmatch(household_id):
                raise ValueError(f"household_ids[{position}] is {household_id!r}; {NAME_RULE}")
        return value

    @model_validator(mode="after")
    def _one_strategy_and_ids(self) -> HouseholdGroup:
        if self.strategy_mix is not None and "strategy" in self.model_fields_set:
            raise ValueError("strategy and strategy_mix are both given; expected one of them")
        if self.household_ids is not None and len(self.household_ids) != self.count:
            raise ValueError(
                f"household_ids lists {len(self.household_ids)} ids; expected count ({self.count})"
            )
        names = self.load.assign
        if isinstance(names, list) and len(names) != self.count:
            raise ValueError(
                f"load.assign lists {len(names)} profiles; expected one per household, count "
                f"({self.count})"
            )
        return self


def household_ids(groups: list[HouseholdGroup]) -> list[str]:
    """Id of every household of ``groups``, in order.

    Parameters
    ----------
    groups : list of HouseholdGroup
        The scenario's household groups.

    Returns
    -------
    list of str
        A group's ``household_ids`` where it gives them; otherwise ``h`` and the household's
        position among all households (from 1), zero-padded to at least two digits.

    Examples
    --------
    >>> groups = [HouseholdGroup(group="a", count=2),
    ...           HouseholdGroup(group="b", count=1, household_ids=["school"]),
    ...           HouseholdGroup(group="c", count=1)]
    >>> household_ids(groups)
    ['h01', 'h02', 'school', 'h04']
    """
    total = sum(group.count for group in groups)
    width = max(2, len(str(total)))
    ids: list[str] = []
    for group in groups:
        first = len(ids)
        ids += group.household_ids or [f"h{first + k + 1:0{width}d}" for k in range(group.count)]
    return ids


class CommunityBatterySpec(ScenarioSection):
    """One battery shared by the community (Rana et al.), run by a community EMS agent.

    The agent is one more market participant at a feeder bus, with no load or PV of its own. It
    schedules the battery with the ``optimizing`` LP against the whole community's forecast net
    load: ``min_import`` flattens the community's import at the PCC, ``min_cost`` does
    arbitrage against the price forecast.
    """

    battery: BatterySpec = Field(
        default_factory=lambda: BatterySpec(preset="community_rana", soc_initial=0.5),
        description="the shared battery",
    )
    bus: str | None = Field(
        None,
        description="three-phase bus it connects to; default: the first transformer's LV "
        "busbar of a generated feeder (required with an OpenDSS feeder)",
    )
    strategy: OptimizingStrategy = Field(
        default_factory=lambda: OptimizingStrategy(objective="min_import"),
        description="options of the optimizing LP that schedules it",
    )
