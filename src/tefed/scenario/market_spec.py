"""The ``market`` section of a scenario: the clearing mechanism and its rules.

``mechanism`` picks one of seven (default ``double_auction``); each has options of its own.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Discriminator, Field, Tag, model_validator

from tefed.scenario.section import ScenarioSection

#: Largest import/export limit of a feeder or substation [kW].
MAX_LIMIT_KW = 1_000_000.0


class _MarketRules(ScenarioSection):
    """Rules every mechanism shares."""

    delivery_ahead_intervals: int = Field(
        1,
        ge=1,
        le=96,
        description="orders are taken for up to this many intervals ahead [intervals]",
    )
    unused_energy: Literal["seller_exports", "buyer_credited"] = Field(
        "seller_exports",
        description="who is credited at the export price for awarded energy a buyer did not "
        "use: seller_exports (T-REX rule 10: the buyer pays its trades, the energy was its "
        "sellers' generation and flowed to the grid, so they are paid for the export) or "
        "buyer_credited (the buyer gets the export credit)",
    )

    @property
    def needs_network_file(self) -> bool:
        """Whether the market clears on the feeder's network (the builder extracts it)."""
        return False


class DoubleAuctionSpec(_MarketRules):
    """MicroTE double auction (T-REX): pairwise matching per pool at gate closure."""

    mechanism: Literal["double_auction"] = Field(
        "double_auction", description="clearing mechanism (the default)"
    )
    settlement_rule: Literal["midpoint", "pay_as_bid", "pay_as_ask", "uniform"] = Field(
        "midpoint", description="price of a matched pair"
    )
    tie_breaking: Literal["time", "pro_rata"] = Field(
        "time", description="order of equal-price orders: submission time or pro rata"
    )


class CurveClearingSpec(_MarketRules):
    """TENT uniform-price clearing of supply and demand curves, the grid as one more curve."""

    mechanism: Literal["curve_clearing"] = Field(description="clearing mechanism")
    feeder_capacity_kw: float | None = Field(
        None,
        gt=0,
        le=MAX_LIMIT_KW,
        description="grid import/export limit in the clearing; none: unlimited [kW]",
    )


class DlmpSpec(_MarketRules):
    """Welfare-maximising clearing on the feeder's LinDistFlow model with DLMPs."""

    mechanism: Literal["dlmp"] = Field(description="clearing mechanism")
    voltage_min_pu: float = Field(0.95, gt=0.5, lt=1.5, description="lower voltage bound [pu]")
    voltage_max_pu: float = Field(1.05, gt=0.5, lt=1.5, description="upper voltage bound [pu]")
    substation_limit_kw: float | None = Field(
        None,
        gt=0,
        le=MAX_LIMIT_KW,
        description="substation import/export limit; none: unlimited [kW]",
    )

    @property
    def needs_network_file(self) -> bool:
        """DLMP clears on the network."""
        return True

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

    mechanism: Literal["continuous"] = Field(description="clearing mechanism")
    priority: Literal["age", "volume"] = Field(
        "age", description="order of equal-price standing orders"
    )


class P2pNegotiationSpec(_MarketRules):
    """OpenGridGym's P2P bilateral negotiation: a market maker pairs producers and consumers,
    each pair negotiates for up to ``rounds`` rounds."""

    mechanism: Literal["p2p_negotiation"] = Field(description="clearing mechanism")
    pairing: Literal["random", "max_weight"] = Field(
        "random",
        description="random pairs (as in the paper), or the pairs that could trade the most energy",
    )
    pairing_seed: int = Field(0, ge=0, description="seed of the random pairing")
    rounds: int = Field(10, ge=1, le=100, description="most negotiation rounds of a pair")
    strategy: Literal["ucb1", "truthful"] = Field(
        "ucb1",
        description="the households' negotiation strategy: a UCB1 bandit over price arms, or "
        "their limit prices",
    )
    price_arms: int = Field(
        5, ge=2, le=100, description="price arms, evenly from the export to the import price"
    )
    error_probability: float = Field(
        0.05, gt=0, lt=1, description="the bandit's error probability delta"
    )
    service_fee_usd_per_kwh: float = Field(
        0.002, ge=0, le=1, description="fee each party of a deal pays per kWh traded [USD/kWh]"
    )
    failure_penalty_usd_per_kwh: float = Field(
        0.001,
        ge=0,
        le=1,
        description="penalty each party of a failed negotiation pays per kWh it would have "
        "traded [USD/kWh]",
    )
    grid_feasibility: bool = Field(
        False,
        description="refuse a pair whose trade would overload a line or transformer on its path",
    )
    branch_rating_share: float = Field(
        1.0, gt=0, le=1, description="share of a branch's rating one pair's trade may take [-]"
    )

    @property
    def needs_network_file(self) -> bool:
        """The grid-feasibility check reads the network."""
        return self.grid_feasibility


class CommunitiesSpec(_MarketRules):
    """Communities of communities: a market per LV transformer's households, and an upper
    market clearing the communities' residuals."""

    mechanism: Literal["communities"] = Field(description="clearing mechanism")
    tie_breaking: Literal["time", "pro_rata"] = Field(
        "time",
        description="order of equal-price orders in the communities' markets: submission time "
        "or pro rata (the upper market: submission time)",
    )

    @property
    def needs_network_file(self) -> bool:
        """Communities are found on the network (the transformer feeding each household)."""
        return True


class DayAheadSpec(_MarketRules):
    """TENT version 2: an hourly day-ahead market corrected by real-time markets."""

    mechanism: Literal["day_ahead"] = Field(description="clearing mechanism")
    gate_closure_hour: float = Field(
        12.0,
        ge=0,
        lt=24,
        description="time of the day before each delivery day (counted from the run's start) "
        "at which its day-ahead market clears; the first day's clears at the start [h]",
    )
    period_s: int = Field(
        3600,
        gt=0,
        le=86400,
        description="length of a day-ahead period, a multiple of time.market_interval_s "
        "that divides a day [s]",
    )
    feeder_capacity_kw: float | None = Field(
        None,
        gt=0,
        le=MAX_LIMIT_KW,
        description="grid import/export limit in both markets; none: unlimited [kW]",
    )

    @model_validator(mode="after")
    def _whole_periods(self) -> DayAheadSpec:
        if 86400 % self.period_s:
            raise ValueError(f"period_s: got {self.period_s}, expected a divisor of 86400 s")
        return self


def _mechanism_of(value: object) -> str:
    if isinstance(value, dict):
        return value.get("mechanism", "double_auction")
    return getattr(value, "mechanism", "double_auction")


MarketSpec = Annotated[
    Annotated[DoubleAuctionSpec, Tag("double_auction")]
    | Annotated[CurveClearingSpec, Tag("curve_clearing")]
    | Annotated[DlmpSpec, Tag("dlmp")]
    | Annotated[ContinuousSpec, Tag("continuous")]
    | Annotated[P2pNegotiationSpec, Tag("p2p_negotiation")]
    | Annotated[CommunitiesSpec, Tag("communities")]
    | Annotated[DayAheadSpec, Tag("day_ahead")],
    Discriminator(_mechanism_of),
]
#: Tags of the mechanisms (pydantic puts them in error paths; the scenario file has no such key).
MECHANISMS = frozenset(
    {
        "double_auction",
        "curve_clearing",
        "dlmp",
        "continuous",
        "p2p_negotiation",
        "communities",
        "day_ahead",
    }
)
