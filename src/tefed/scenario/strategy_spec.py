"""Household strategies in a scenario: which one decides a household's orders and dispatch.

``strategy`` is a name, or a mapping with ``name`` and that strategy's options; each strategy's
options and their defaults are a model below.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, model_validator

from tefed.scenario.section import ScenarioSection

#: Longest moving-average window: four weeks of 15-minute intervals [intervals].
MAX_WINDOW_INTERVALS = 2688


class NetBillingStrategy(ScenarioSection):
    """No trading; a battery serves self-consumption; everything settles at net-billing prices."""

    name: Literal["net_billing"] = Field("net_billing", description="strategy name")


class SelfConsumptionStrategy(ScenarioSection):
    """Battery for self-consumption; bids the forecast deficit and asks the surplus at the
    group's ``bid_price_fraction`` / ``ask_price_fraction`` between export and import price."""

    name: Literal["self_consumption"] = Field("self_consumption", description="strategy name")


class MaCrossoverStrategy(ScenarioSection):
    """T-REX TB-1 expert trader: learned time-of-day prices, moving-average crossover battery."""

    name: Literal["ma_crossover"] = Field("ma_crossover", description="strategy name")
    stage: Literal["pv_only", "battery_buys", "battery_trades"] = Field(
        "battery_trades",
        description="pv_only: trade PV surplus/deficit only; battery_buys: the battery also buys "
        "for self-consumption; battery_trades: the battery buys and sells",
    )
    fast_window_intervals: int = Field(
        23, ge=1, le=MAX_WINDOW_INTERVALS, description="fast moving average [intervals]"
    )
    slow_window_intervals: int = Field(
        50, ge=2, le=MAX_WINDOW_INTERVALS, description="slow moving average [intervals]"
    )
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


class OptimizingStrategy(ScenarioSection):
    """Receding-horizon LP of the battery schedule (Rana et al.), re-solved every interval."""

    name: Literal["optimizing"] = Field("optimizing", description="strategy name")
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


#: Each strategy's options, by name (a strategy named without options takes these defaults).
STRATEGY_TYPES: dict[str, type[ScenarioSection]] = {
    "net_billing": NetBillingStrategy,
    "self_consumption": SelfConsumptionStrategy,
    "ma_crossover": MaCrossoverStrategy,
    "optimizing": OptimizingStrategy,
}
STRATEGY_NAMES = tuple(STRATEGY_TYPES)


def _name_or_mapping(schema: dict[str, Any]) -> None:
    """JSON Schema of a strategy: a bare name is accepted beside the mappings."""
    schema["oneOf"] = [{"type": "string", "enum": list(STRATEGY_NAMES)}, *schema["oneOf"]]


#: A strategy: its options model, picked by ``name`` (a bare name is turned into
#: ``{name: ...}`` by the field that holds it, see ``HouseholdGroup``).
StrategySpec = Annotated[
    Annotated[NetBillingStrategy, Tag("net_billing")]
    | Annotated[SelfConsumptionStrategy, Tag("self_consumption")]
    | Annotated[MaCrossoverStrategy, Tag("ma_crossover")]
    | Annotated[OptimizingStrategy, Tag("optimizing")],
    Discriminator(_strategy_name),
    Field(json_schema_extra=_name_or_mapping),
]
