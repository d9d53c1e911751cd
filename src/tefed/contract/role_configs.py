"""Typed configuration of each federate role: the ``tefed.config`` section of its entry.

One pydantic model per role (`PriceFeedConfig`, `EmsConfig`, `GridConfig`, and per mechanism a
market model joined in `MarketConfig`). Every field is required and documented with its unit:
the builder writes every value into the federation file, so a federate's behaviour never depends
on a default the file does not show. A federate validates its entry's section at ``initialize``
with `read_role_config`; a bad section is an `InputError` naming the field, the value and what
was expected.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from tefed.contract.errors import InputError, describe_validation_error

#: Market mechanisms by name, as ``market.mechanism`` and the ems's ``market_mechanism`` name them.
MarketMechanismName = Literal[
    "double_auction",
    "curve_clearing",
    "dlmp",
    "continuous",
    "p2p_negotiation",
    "communities",
    "day_ahead",
]
#: How an ems entry hosts households: a built-in shard, or one household's own program.
HostInterface = Literal["shard", "household"]


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- price_feed --------------------------------------------------------------------------------


class SyntheticWholesaleConfig(_Config):
    """tefed's synthetic wholesale price series (`tefed.domain.prices.wholesale`)."""

    source: Literal["synthetic"] = Field(description="where wholesale prices come from")
    mean_usd_per_mwh: float = Field(description="mean price over a week [USD/MWh]")
    daily_amplitude_usd_per_mwh: float = Field(
        ge=0, description="amplitude of the daily price shape [USD/MWh]"
    )
    noise_usd_per_mwh: float = Field(
        ge=0, description="standard deviation of the correlated noise [USD/MWh]"
    )


class CsvWholesaleConfig(_Config):
    """Wholesale prices read from a CSV file (`tefed.io.price_files.read_price_csv`)."""

    source: Literal["csv"] = Field(description="where wholesale prices come from")
    path: str = Field(description="CSV file, relative to the federates' working directory")
    timezone: str = Field(description="IANA time zone the file's dates and hours are local to")
    price_column: str | None = Field(
        description="column with the price [USD/MWh]; null: the file layout's own column"
    )


class FlatTariffConfig(_Config):
    """One retail import price at all times."""

    kind: Literal["flat"] = Field(description="kind of tariff")
    price_usd_per_kwh: float = Field(description="retail import price [USD/kWh]")


class TimeOfUseWindowConfig(_Config):
    """A daily window ``[start_hour, end_hour)`` of local time with a price of its own."""

    start_hour: float = Field(ge=0, le=24, description="local time the window starts [h]")
    end_hour: float = Field(ge=0, le=24, description="local time the window ends [h]")
    price_usd_per_kwh: float = Field(description="import price in the window [USD/kWh]")
    days: Literal["all", "weekdays", "weekends"] = Field(description="days the window applies to")


class TimeOfUseTariffConfig(_Config):
    """A base import price with time-of-use windows (later windows win where they overlap)."""

    kind: Literal["time_of_use"] = Field(description="kind of tariff")
    base_price_usd_per_kwh: float = Field(description="import price outside the windows [USD/kWh]")
    windows: list[TimeOfUseWindowConfig] = Field(min_length=1, description="the windows")


class WholesaleIndexedTariffConfig(_Config):
    """Import price max(minimum, (wholesale + energy charges) · (1 + tax))."""

    kind: Literal["wholesale_indexed"] = Field(description="kind of tariff")
    energy_charge_usd_per_kwh: float = Field(
        description="charges added to the wholesale price [USD/kWh]"
    )
    tax_fraction: float = Field(ge=0, description="tax on the price with the charges [-]")
    minimum_usd_per_kwh: float | None = Field(
        description="lowest import price; null: no floor [USD/kWh]"
    )


class WholesaleIndexedExportConfig(_Config):
    """Export price max(minimum, fraction · wholesale + offset)."""

    kind: Literal["wholesale_indexed"] = Field(description="kind of export price")
    fraction: float = Field(ge=0, description="share of the wholesale price [-]")
    offset_usd_per_kwh: float = Field(description="added to every exported kWh [USD/kWh]")
    minimum_usd_per_kwh: float | None = Field(
        description="lowest export price; null: none [USD/kWh]"
    )


class PriceFeedConfig(_Config):
    """Configuration of the ``price_feed`` federate."""

    wholesale: Annotated[
        SyntheticWholesaleConfig | CsvWholesaleConfig, Field(discriminator="source")
    ] = Field(description="wholesale price series, by source")
    import_tariff: Annotated[
        FlatTariffConfig | TimeOfUseTariffConfig | WholesaleIndexedTariffConfig,
        Field(discriminator="kind"),
    ] = Field(description="retail price of energy drawn from the grid")
    export_price_usd_per_kwh: float = Field(description="net-billing feed-in price [USD/kWh]")
    export_tariff: WholesaleIndexedExportConfig | None = Field(
        description="feed-in price indexed to wholesale; null: export_price_usd_per_kwh"
    )

    @property
    def tariff_uses_wholesale(self) -> bool:
        """Whether the import or the export price follows the wholesale price."""
        return (
            isinstance(self.import_tariff, WholesaleIndexedTariffConfig)
            or self.export_tariff is not None
        )

    forecast_horizon_intervals: int = Field(
        ge=1, description="length of the published price forecasts [market intervals]"
    )


# --- ems (a shard or a household program) ------------------------------------------------------


class PvModelConfig(_Config):
    """The PV model every household of an ems shares (PVWatts with Faiman cell temperature)."""

    irradiance: Literal["clear_sky", "tmy"] = Field(
        description="clear_sky: Ineichen with the site's Linke turbidity; tmy: a TMY3 file"
    )
    weather_file: str | None = Field(
        description="TMY3 CSV relative to the federates' working directory (irradiance: tmy); "
        "null: pvlib's own 723170TYA.CSV"
    )
    system_losses: float = Field(
        ge=0, lt=1, description="fraction of DC power lost before the inverter [-]"
    )
    temperature_coefficient_per_c: float = Field(
        description="temperature coefficient of DC power [1/°C]"
    )
    air_temperature_c: float = Field(description="ambient air temperature [°C]")
    wind_speed_m_per_s: float = Field(ge=0, description="wind speed [m/s]")


#: Layouts of measured load profile files (`tefed.io.profile_files.read_load_source`).
MeasuredLoadLayout = Literal["csv", "daily_files", "long_csv"]
#: Units of measured load values: mean power over a row's step, or energy over it.
LoadUnit = Literal["kW", "W", "kWh", "Wh"]


class LoadSourceConfig(_Config):
    """Measured household load profiles: where they are and how to read them.

    The household table holds one as JSON text (column ``load_source``) for each household
    with a measured profile, beside the name of the profile it takes (``load_profile_name``).
    Frozen, so that households reading the same source can be grouped by it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    profile: MeasuredLoadLayout = Field(
        description="csv: a timestamp column and one column per profile; daily_files: a folder "
        "of one-day files, one per profile; long_csv: columns household, time, value"
    )
    path: str = Field(description="file or folder, relative to the federates' working directory")
    unit: LoadUnit = Field(description="unit of the values (kWh, Wh: energy per row)")
    timezone: str | None = Field(
        description="csv, long_csv: IANA time zone of naive timestamps; null: they carry UTC "
        "offsets"
    )
    time_column: str | None = Field(description="csv: the timestamp column; null: the first")
    files: str | None = Field(description="daily_files: glob pattern of the profile files")
    step_s: int | None = Field(
        gt=0, description="daily_files: step of each line [s]; null: a day over the lines"
    )


class DayAheadTimingConfig(_Config):
    """When the day-ahead markets clear and how long their periods are (mechanism day_ahead)."""

    gate_closure_hour: float = Field(
        ge=0, lt=24, description="hour of the day before a delivery day its market clears [h]"
    )
    period_s: int = Field(gt=0, description="length of a day-ahead period [s]")


class EmsConfig(_Config):
    """Configuration of an ``ems`` entry: a built-in shard or a household's own program."""

    households: list[str] = Field(
        min_length=1,
        description="hosted household ids, in the order of the shard's vectors (a household "
        "program: exactly one)",
    )
    interface: HostInterface = Field(
        description="shard: one vector and one batch endpoint for all households; household: "
        "the per-household keys"
    )
    market_mechanism: MarketMechanismName = Field(
        description="the market's mechanism, which decides the form of the orders"
    )
    day_ahead: DayAheadTimingConfig | None = Field(
        description="the day-ahead markets' timing (mechanism day_ahead); null otherwise"
    )
    pv_model: PvModelConfig = Field(description="the PV model")
    publish_reactive_power: bool = Field(
        description="publish each household's reactive power [kvar] beside its net power [kW]"
    )

    @property
    def reactive_power_published(self) -> bool:
        """Whether the entry publishes reactive power."""
        return self.publish_reactive_power


# --- grid --------------------------------------------------------------------------------------


class GeneratedFeederConfig(_Config):
    """A feeder generated by ``tefed.io.feeders`` from a design and a seed."""

    source: Literal["generated"] = Field(description="where the feeder comes from")
    generator: Literal["radial_lv", "split_phase_lv", "cigre_lv_residential"] = Field(
        description="feeder generator"
    )
    seed: int = Field(ge=0, description="seed of the generator's random draws")
    design: dict[str, str | bool | int | float | list[float] | list[str] | None] = Field(
        description="the generator's design (LvFeederDesign, SplitPhaseFeederDesign or "
        "CigreResidentialDesign of tefed.io.feeders, checked by the generator); lengths [m], "
        "ratings [kVA], voltages [kV]"
    )


class OpenDssFeederConfig(_Config):
    """An existing OpenDSS feeder."""

    source: Literal["opendss"] = Field(description="where the feeder comes from")
    master: str = Field(description="OpenDSS master file, relative to the working directory")
    commands: list[str] = Field(description="OpenDSS commands applied after compiling")
    regulators: Literal["automatic", "locked"] = Field(
        description="regulator controls move taps, or taps stay where they are"
    )
    existing_loads: Literal["keep", "replace", "scale"] = Field(
        description="what happens to the feeder's own loads"
    )
    existing_load_scale: float = Field(
        ge=0, description="factor on the feeder's own loads when existing_loads is scale [-]"
    )


#: The feeder section of the grid's (and the DLMP market's) configuration, by ``source``.
FeederConfig = Annotated[GeneratedFeederConfig | OpenDssFeederConfig, Field(discriminator="source")]


class GridConfig(_Config):
    """Configuration of the ``grid`` federate."""

    feeder: FeederConfig = Field(description="the feeder the power flow solves")
    reactive_power: Literal["power_factor", "published"] = Field(
        description="household kvar from each household's power factor, or as each household "
        "publishes it"
    )
    constant_power_voltage_range_pu: tuple[float, float] = Field(
        description="voltage band in which OpenDSS keeps household loads at constant power [pu]"
    )
    voltage_range_pu: tuple[float, float] = Field(
        description="allowed voltage band of the violation KPIs [pu]"
    )
    upper_voltage_limit_pu: float = Field(
        gt=0, description="a stricter upper voltage limit counted separately [pu]"
    )
    loading_limit_pct: float = Field(
        gt=0, description="line and transformer loading counted as overload above [%]"
    )
    on_nonconvergence: Literal["continue", "stop"] = Field(
        description="after recording a power flow that did not converge: go on, or stop the run"
    )

    @property
    def reactive_power_published(self) -> bool:
        """Whether the households publish their reactive power for the grid to read."""
        return self.reactive_power == "published"


# --- market ------------------------------------------------------------------------------------


class _MarketRulesConfig(_Config):
    delivery_ahead_intervals: int = Field(
        ge=1, description="orders are taken for up to this many intervals ahead [intervals]"
    )
    unused_energy: Literal["seller_exports", "buyer_credited"] = Field(
        description="who is credited for awarded energy a buyer did not use: its sellers, "
        "whose generation flowed to the grid (T-REX rule 10), or the buyer"
    )


class DoubleAuctionConfig(_MarketRulesConfig):
    """MicroTE double auction (T-REX): pairwise matching per pool at gate closure."""

    mechanism: Literal["double_auction"] = Field(description="clearing mechanism")
    settlement_rule: Literal["midpoint", "pay_as_bid", "pay_as_ask", "uniform"] = Field(
        description="price of a matched pair"
    )
    tie_breaking: Literal["time", "pro_rata"] = Field(
        description="order of equal-price orders: submission time or pro rata"
    )


class CurveClearingConfig(_MarketRulesConfig):
    """TENT uniform-price clearing of supply and demand curves, the grid as one more curve."""

    mechanism: Literal["curve_clearing"] = Field(description="clearing mechanism")
    feeder_capacity_kw: float | None = Field(
        gt=0, description="grid import/export limit in the clearing; null: unlimited [kW]"
    )


class DlmpConfig(_MarketRulesConfig):
    """Welfare-maximising clearing on the feeder's LinDistFlow model with DLMPs."""

    mechanism: Literal["dlmp"] = Field(description="clearing mechanism")
    voltage_min_pu: float = Field(
        gt=0, description="lower voltage bound, below voltage_max_pu [pu]"
    )
    voltage_max_pu: float = Field(gt=0, description="upper voltage bound [pu]")
    substation_limit_kw: float | None = Field(
        gt=0, description="substation import/export limit; null: unlimited [kW]"
    )
    network_file: str = Field(
        min_length=1,
        description=(
            "the feeder's network as the builder extracted it (tefed.build.market_network), "
            "relative to the federates' working directory"
        ),
    )


class DayAheadConfig(_MarketRulesConfig):
    """TENT version 2: hourly day-ahead market corrected by real-time markets."""

    mechanism: Literal["day_ahead"] = Field(description="clearing mechanism")
    gate_closure_hour: float = Field(
        ge=0,
        lt=24,
        description="hour of the day before a delivery day its day-ahead market clears [h]",
    )
    period_s: int = Field(gt=0, description="length of a day-ahead period [s]")
    feeder_capacity_kw: float | None = Field(
        description="grid limit in either direction in both markets; null: none [kW]"
    )


class ContinuousConfig(_MarketRulesConfig):
    """TENT continuous double auction: a standing book matched as orders arrive."""

    mechanism: Literal["continuous"] = Field(description="clearing mechanism")
    priority: Literal["age", "volume"] = Field(description="order of equal-price standing orders")


class P2pNegotiationConfig(_MarketRulesConfig):
    """OpenGridGym's P2P bilateral negotiation: paired producers and consumers negotiate."""

    mechanism: Literal["p2p_negotiation"] = Field(description="clearing mechanism")
    pairing: Literal["random", "max_weight"] = Field(
        description="how the market maker pairs sell and buy orders"
    )
    pairing_seed: int = Field(ge=0, description="seed of the random pairing")
    rounds: int = Field(ge=1, description="most negotiation rounds of a pair [rounds]")
    strategy: Literal["ucb1", "truthful"] = Field(
        description="the households' negotiation strategy, run by the market maker"
    )
    price_arms: int = Field(ge=2, description="price arms of the UCB1 bandit [-]")
    error_probability: float = Field(gt=0, lt=1, description="the bandit's error probability delta")
    service_fee_usd_per_kwh: float = Field(
        ge=0, description="fee each party of a deal pays per kWh traded [USD/kWh]"
    )
    failure_penalty_usd_per_kwh: float = Field(
        ge=0,
        description="penalty each party of a failed negotiation pays per kWh it would have "
        "traded [USD/kWh]",
    )
    grid_feasibility: bool = Field(
        description="refuse a pair whose trade would overload a branch on its path"
    )
    branch_rating_share: float = Field(
        gt=0, le=1, description="share of a branch's rating one pair's trade may take [-]"
    )
    network_file: str | None = Field(
        description="the feeder's network as the builder extracted it (with grid_feasibility; "
        "null without), relative to the federates' working directory"
    )


class CommunitiesConfig(_MarketRulesConfig):
    """A local market per LV transformer's community and an upper market across them."""

    mechanism: Literal["communities"] = Field(description="clearing mechanism")
    tie_breaking: Literal["time", "pro_rata"] = Field(
        description="order of equal-price orders in the communities' markets (the upper "
        "market: submission time)"
    )
    network_file: str = Field(
        min_length=1,
        description="the feeder's network as the builder extracted it (which transformer "
        "feeds each household), relative to the federates' working directory",
    )


#: The market's configuration: one of the mechanisms' models.
MarketRules = (
    DoubleAuctionConfig
    | CurveClearingConfig
    | DlmpConfig
    | ContinuousConfig
    | P2pNegotiationConfig
    | CommunitiesConfig
    | DayAheadConfig
)
#: Configuration of the ``market`` federate, by ``mechanism``.
MarketConfig = Annotated[MarketRules, Field(discriminator="mechanism")]

# --- reading a configuration -------------------------------------------------------------------

#: The configuration of each role of the federation file (``tefed.role``).
ROLE_CONFIGS: dict[str, Any] = {
    "price_feed": PriceFeedConfig,
    "ems": EmsConfig,
    "grid": GridConfig,
    "market": MarketConfig,
}
#: Tags of the tagged unions (pydantic puts them in error paths; the file has no such key).
_UNION_TAGS = frozenset(
    {"synthetic", "csv", "flat", "time_of_use", "generated", "opendss"}
    | set(MarketMechanismName.__args__)
)

#: Any role's configuration.
RoleConfig = (
    PriceFeedConfig
    | EmsConfig
    | GridConfig
    | DoubleAuctionConfig
    | CurveClearingConfig
    | DlmpConfig
    | ContinuousConfig
    | P2pNegotiationConfig
    | CommunitiesConfig
    | DayAheadConfig
)


def read_role_config(role: str, config: dict[str, Any], federate: str) -> RoleConfig:
    """Validate an entry's ``tefed.config`` section into its role's typed configuration.

    Parameters
    ----------
    role : str
        The entry's role, a key of `ROLE_CONFIGS`.
    config : dict
        The entry's ``tefed.config`` section.
    federate : str
        The entry's name, for the error message.

    Returns
    -------
    PriceFeedConfig, EmsConfig, GridConfig or one of the market configurations
        The validated configuration.

    Raises
    ------
    InputError
        Naming every field that is missing, unknown or has a value of the wrong kind, with the
        value and what was expected (``market.mechanism: got 'sealed_bid'; expected one of …``).

    Examples
    --------
    >>> read_role_config("market", {"mechanism": "continuous", "delivery_ahead_intervals": 1,
    ...                             "unused_energy": "seller_exports", "priority": "age"},
    ...                  "market").priority
    'age'
    """
    if role not in ROLE_CONFIGS:
        raise InputError(
            f"federate {federate}",
            [f"tefed.role: got {role!r}; expected one of {list(ROLE_CONFIGS)}"],
        )
    try:
        return TypeAdapter(ROLE_CONFIGS[role]).validate_python(config)
    except ValidationError as error:
        raise InputError(f"federate {federate}: tefed.config", _describe(error, role)) from None


def _describe(error: ValidationError, role: str) -> list[str]:
    """Pydantic's errors, a wrong or missing union tag named as the field it is."""
    problems = describe_validation_error(error, prefix=role, union_tags=_UNION_TAGS)
    for position, item in enumerate(error.errors(include_url=False)):
        if item["type"] not in ("union_tag_invalid", "union_tag_not_found"):
            continue
        context = item.get("ctx", {})
        field = str(context.get("discriminator", "")).strip("'")
        location = ".".join([role, *(str(part) for part in item["loc"]), field])
        if item["type"] == "union_tag_not_found":
            problems[position] = f"{location}: required but missing"
        else:
            problems[position] = (
                f"{location}: got {context.get('tag')!r}; expected one of "
                f"{context.get('expected_tags')}"
            )
    return problems
