"""The ``grid`` section of a scenario: the feeder (generated or an OpenDSS file) and its KPIs.

A feeder is one of four kinds, told apart by its keys: ``generator: radial_lv`` (the default,
a generated European LV feeder), ``generator: split_phase_lv`` (a generated North American
split-phase feeder), ``generator: cigre_lv_residential`` (the CIGRE LV benchmark's residential
sub-network, households on its nodes) or ``dss: PATH`` (any OpenDSS master file).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from tefed.io.feeders.cigre_residential import CigreResidentialDesign
from tefed.io.feeders.generator import LvFeederDesign
from tefed.io.feeders.split_phase import SplitPhaseFeederDesign
from tefed.scenario.section import MAX_HOUSEHOLDS, ScenarioSection

#: Highest voltage of a band or limit [pu].
MAX_VOLTAGE_PU = 2.0
#: Most OpenDSS commands applied after compiling a feeder [-].
MAX_OPENDSS_COMMANDS = 1_000
#: A service-drop length [m].
ServiceLength = Annotated[float, Field(ge=0, le=10_000)]
ServiceLengths = tuple[ServiceLength, ServiceLength]
#: A count of households or transformers [-].
Count = Annotated[int, Field(ge=1, le=MAX_HOUSEHOLDS)]


class FeederSpec(ScenarioSection):
    """A generated European residential LV feeder, 3-phase 4-wire 400/230 V (``radial_lv``)."""

    generator: Literal["radial_lv"] = Field(
        "radial_lv", description="feeder generator (the default kind of feeder)"
    )
    households_per_transformer: Count = Field(
        60, description="households per transformer when transformers is not given"
    )
    transformers: Count | None = Field(None, description="number of transformers")
    laterals: int = Field(
        3, ge=1, le=100, description="cables leaving each transformer's LV busbar"
    )
    transformer_kva: float = Field(
        250.0, gt=0, le=100_000, description="rating of each transformer [kVA]"
    )
    mv_kv: float = Field(20.0, gt=0, le=200, description="medium voltage, line to line [kV]")
    lv_kv: float = Field(0.4, gt=0, le=10, description="low voltage, line to line [kV]")
    mv_short_circuit_mva: float = Field(
        100.0, gt=0, le=100_000, description="MV short-circuit power [MVA]"
    )
    source_voltage_pu: float = Field(1.0, gt=0.8, lt=1.2, description="MV source voltage [pu]")
    main_cable: str = Field("NAYY 4x150 SE", description="cable type of the laterals")
    service_cable: str = Field("NAYY 4x50 SE", description="cable type of the service drops")
    mv_cable: str = Field(
        "NA2XS2Y 1x185 RM/25 12/20 kV", description="cable type between transformers"
    )
    node_spacing_m: float = Field(
        35.0, gt=0, le=10_000, description="cabinet spacing on a lateral [m]"
    )
    service_length_m: ServiceLengths = Field(
        (10.0, 30.0), description="range of service-drop lengths, drawn per house [m]"
    )
    transformers_per_mv_branch: Count = Field(
        20, description="transformers chained on one MV cable branch"
    )
    mv_spacing_m: float = Field(
        250.0, gt=0, le=100_000, description="MV cable between transformers [m]"
    )
    households_per_node: int = Field(
        2, ge=1, le=100, description="service drops per street cabinet"
    )

    @model_validator(mode="after")
    def _buildable(self) -> FeederSpec:
        _check_design(LvFeederDesign, self)
        return self


class SplitPhaseFeederSpec(ScenarioSection):
    """A generated North American split-phase 120/240 V feeder (``split_phase_lv``)."""

    generator: Literal["split_phase_lv"] = Field(description="feeder generator")
    households_per_transformer: Count = Field(
        8, description="households per transformer when transformers is not given"
    )
    transformers: Count | None = Field(None, description="number of transformers")
    transformer_kva: float = Field(
        50.0, gt=0, le=100_000, description="rating of each transformer [kVA]"
    )
    laterals: int = Field(2, ge=1, le=100, description="secondary runs per transformer")
    households_per_node: int = Field(
        2, ge=1, le=100, description="service drops per pole or pedestal"
    )
    mv_kv: float = Field(12.47, gt=0, le=200, description="primary voltage, line to line [kV]")
    primary_kv: float = Field(
        7.2, gt=0, le=200, description="transformer primary, line to neutral [kV]"
    )
    mv_short_circuit_mva: float = Field(
        200.0, gt=0, le=100_000, description="short-circuit power [MVA]"
    )
    source_voltage_pu: float = Field(1.0, gt=0.8, lt=1.2, description="substation voltage [pu]")
    primary_line: str = Field("556.5 ACSR", description="line type of the primary")
    secondary_cable: str = Field("4/0 triplex", description="triplex of the secondary runs")
    service_cable: str = Field("4/0 triplex", description="triplex of the service drops")
    node_spacing_m: float = Field(35.0, gt=0, le=10_000, description="pole or pedestal spacing [m]")
    service_length_m: ServiceLengths = Field(
        (10.0, 30.0), description="range of service-drop lengths, drawn per house [m]"
    )
    transformers_per_mv_branch: Count = Field(
        30, description="transformers chained on one primary branch"
    )
    mv_spacing_m: float = Field(
        150.0, gt=0, le=100_000, description="primary line between transformers [m]"
    )

    @model_validator(mode="after")
    def _buildable(self) -> SplitPhaseFeederSpec:
        _check_design(SplitPhaseFeederDesign, self)
        return self


class CigreResidentialFeederSpec(ScenarioSection):
    """The CIGRE LV benchmark's residential sub-network, R0–R18 (``cigre_lv_residential``)."""

    generator: Literal["cigre_lv_residential"] = Field(description="feeder generator")
    household_nodes: list[Annotated[str, Field(max_length=8)]] = Field(
        max_length=MAX_HOUSEHOLDS,
        default_factory=list,
        description="node (R1 … R18) of each household in order; empty: R2 … R18 in turn",
    )
    connection: Literal["three_phase", "single_phase"] = Field(
        "three_phase",
        description="a household balanced over the node's three phases, or on one phase "
        "(phases 1, 2, 3, … in household order)",
    )
    source_voltage_pu: float = Field(
        1.0, gt=0.8, lt=1.2, description="MV source voltage (published: 1.0) [pu]"
    )
    published_loads: bool = Field(
        False, description="also build the benchmark's own peak loads (R1, R11, R15–R18)"
    )

    @model_validator(mode="after")
    def _buildable(self) -> CigreResidentialFeederSpec:
        n_households = max(1, len(self.household_nodes))
        _check_design(CigreResidentialDesign, self, n_households)
        return self


def _check_design(design_type: type, spec: BaseModel, n_households: int | None = None) -> None:
    """Build the generator's design from the spec, so its own checks run at validation."""
    fields = spec.model_dump(exclude={"generator"})
    try:
        if n_households is None:
            n_households = max(1, spec.transformers or 1)
        design_type(n_households=n_households, **fields)
    except ValueError as error:
        raise ValueError(str(error).replace(f"{design_type.__name__}.", "")) from None


class OpenDssFeederSpec(ScenarioSection):
    """An existing OpenDSS feeder, with households attached to its load buses."""

    dss: str = Field(description="OpenDSS master file, relative to the scenario file")
    commands: list[str] = Field(
        max_length=MAX_OPENDSS_COMMANDS,
        default_factory=list,
        description="OpenDSS commands applied after compiling, e.g. to lock regulator taps",
    )
    regulators: Literal["automatic", "locked"] = Field(
        "automatic", description="regulator controls move taps, or taps stay where they are"
    )
    existing_loads: Literal["keep", "replace", "scale"] = Field(
        "replace", description="what happens to the feeder's own loads"
    )
    existing_load_scale: float = Field(
        1.0,
        ge=0,
        le=1000,
        description="factor on the feeder's own loads when existing_loads is scale",
    )
    placement: Literal["balanced", "proportional", "one_per_load", "explicit"] = Field(
        "balanced",
        description="how households attach to the feeder's load buses and phases",
    )
    household_nodes: list[str] = Field(
        max_length=MAX_HOUSEHOLDS,
        default_factory=list,
        description="explicit placement: 'bus.phase' of each household in order, e.g. '634.A'",
    )

    @model_validator(mode="after")
    def _explicit(self) -> OpenDssFeederSpec:
        if self.placement == "explicit" and not self.household_nodes:
            raise ValueError("placement 'explicit' needs household_nodes, one 'bus.phase' each")
        if self.placement != "explicit" and self.household_nodes:
            raise ValueError("household_nodes is only used with placement 'explicit'")
        return self


def _feeder_kind(value: object) -> str:
    if isinstance(value, dict):
        return "opendss" if "dss" in value else str(value.get("generator", "radial_lv"))
    if isinstance(value, OpenDssFeederSpec):
        return "opendss"
    return value.generator


#: Tags of the feeder kinds (pydantic puts them in error paths; the scenario file has no such key).
FEEDER_KINDS = frozenset({"radial_lv", "split_phase_lv", "cigre_lv_residential", "opendss"})

AnyFeederSpec = Annotated[
    Annotated[FeederSpec, Tag("radial_lv")]
    | Annotated[SplitPhaseFeederSpec, Tag("split_phase_lv")]
    | Annotated[CigreResidentialFeederSpec, Tag("cigre_lv_residential")]
    | Annotated[OpenDssFeederSpec, Tag("opendss")],
    Discriminator(_feeder_kind),
]


class GridSpec(ScenarioSection):
    """The distribution grid."""

    feeder: AnyFeederSpec = Field(
        default_factory=FeederSpec,
        description="a generated feeder (generator: radial_lv, split_phase_lv or "
        "cigre_lv_residential) or an OpenDSS file (dss: PATH)",
    )
    household_power_factor: float = Field(
        1.0, gt=0, le=1, description="lagging power factor of households while they import [-]"
    )
    reactive_power: Literal["power_factor", "published"] = Field(
        "power_factor",
        description="household kvar from each household's power factor, or as each household "
        "publishes it (household/<id>/reactive_power_kvar)",
    )
    constant_power_voltage_range_pu: tuple[float, float] = Field(
        (0.7, 1.3),
        description="voltage band in which OpenDSS keeps household loads at constant power [pu]",
    )
    voltage_range_pu: tuple[float, float] = Field(
        (0.95, 1.05), description="allowed band for violation KPIs (ANSI C84.1 range A) [pu]"
    )
    upper_voltage_limit_pu: float = Field(
        1.04,
        gt=0,
        le=MAX_VOLTAGE_PU,
        description="a stricter upper limit counted separately (T-REX used 1.04) [pu]",
    )
    loading_limit_pct: float = Field(
        100.0,
        gt=0,
        le=10_000,
        description="line and transformer loading counted as overload above [%]",
    )
    on_nonconvergence: Literal["continue", "stop"] = Field(
        "continue",
        description="after recording a power flow that did not converge: go on, or stop the run",
    )

    @field_validator("feeder", mode="before")
    @classmethod
    def _mapping(cls, value: object) -> object:
        if not isinstance(value, dict | BaseModel):
            raise ValueError(
                "expected a mapping: generator: radial_lv, split_phase_lv or "
                "cigre_lv_residential with its options, or dss: PATH of an OpenDSS feeder"
            )
        return value

    @field_validator("constant_power_voltage_range_pu", "voltage_range_pu")
    @classmethod
    def _band(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not 0 < value[0] < value[1] <= MAX_VOLTAGE_PU:
            raise ValueError(f"expected a band [low, high] with 0 < low < high <= {MAX_VOLTAGE_PU}")
        return value
