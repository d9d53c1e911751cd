"""Schemas of the JSON messages between households and the market (the wire contract).

Every message is one JSON object with a ``type``. Households send ``orders``; the market answers
with ``rejected`` (at once, for orders it refuses), ``awards`` (at gate closure, to every
household that ordered for the interval) and ``settlement`` (after delivery, to every household).
Quantities are whole Wh, prices USD/kWh, money USD with positive = the household pays.
``docs/interfaces.md`` shows an example of each.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    FiniteFloat,
    Tag,
    ValidationError,
    model_validator,
)

from tefed.contract.errors import describe_validation_error


#: Largest quantity one order may carry [Wh] (1 MWh; a household order above it is a bug).
@dataclass(frozen=True)
class Message:
    """One message between endpoints.

    Parameters
    ----------
    source : str
        Endpoint that sent it (global name, e.g. ``household/h01``).
    destination : str
        Endpoint it is addressed to (e.g. ``market``).
    payload : str
        JSON text; schemas in ``docs/interfaces.md``.
    time_s : float
        HELICS time at which it was sent [s]; set by the driver on delivery.
    """

    source: str
    destination: str
    payload: str
    time_s: float = 0.0


MAX_ORDER_QUANTITY_WH = 1_000_000


class _Message(BaseModel):
    # NaN prices (an interval without trades) travel as JSON's NaN, as json.dumps writes them.
    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_inf_nan="constants")


#: Largest power one curve or affine order may carry [kW] (a household above 1 MW is a bug).
MAX_ORDER_POWER_KW = 1_000.0
#: Largest number of vertices of one curve order.
MAX_CURVE_VERTICES = 50

POOLS = ("non_dispatchable", "dispatchable")
Pool = Literal["non_dispatchable", "dispatchable"]


class Order(_Message):
    """One simple order: a side, a whole-Wh quantity and a limit price.

    ``pool`` says what backs the energy (T-REX: PV is non-dispatchable, a battery dispatchable);
    an ask trades only in its pool, and in the double auction a non-dispatchable bid buys from
    the dispatchable pool what the non-dispatchable one left open. ``divisible`` and
    ``expires_time_s`` matter only to the continuous market: an indivisible order fills whole or
    not at all, and an order stops standing at its expiry time [s].
    """

    kind: Literal["simple"] = "simple"
    order_id: str = Field(min_length=1, max_length=200)
    side: Literal["buy", "sell"]
    quantity_wh: int = Field(gt=0, le=MAX_ORDER_QUANTITY_WH, strict=True)
    price_usd_per_kwh: FiniteFloat
    pool: Pool = "non_dispatchable"
    divisible: bool = True
    expires_time_s: int | None = Field(None, strict=True)


class CurveVertex(_Message):
    """One vertex of a TENT curve: power at a price, and whether the curve is continuous there.

    ``power_kw`` is the average power over the delivery interval, positive for consumption and
    negative for generation (TENT's sign convention). A discontinuous vertex starts a step.
    """

    price_usd_per_kwh: FiniteFloat
    power_kw: FiniteFloat = Field(ge=-MAX_ORDER_POWER_KW, le=MAX_ORDER_POWER_KW)
    continuity: bool = True


class CurveOrder(_Message):
    """A price-responsive curve: power against price as TENT vertices, interpolated linearly.

    One vertex is an inelastic order (the same power at every price).
    """

    kind: Literal["curve"]
    order_id: str = Field(min_length=1, max_length=200)
    vertices: list[CurveVertex] = Field(min_length=1, max_length=MAX_CURVE_VERTICES)


class AffineOrder(_Message):
    """An OpenGridGym affine curve (p_max, p_min, q_max, q_min).

    A buyer consumes ``power_max_kw`` at prices at or below ``price_min_usd_per_kwh``, falling
    linearly to ``power_min_kw`` at ``price_max_usd_per_kwh`` (so ``power_min_kw`` is always
    served); a seller generates ``power_min_kw`` at or below the minimum price, rising linearly
    to ``power_max_kw`` at the maximum price. Equal prices make a step order.
    """

    kind: Literal["affine"]
    order_id: str = Field(min_length=1, max_length=200)
    side: Literal["buy", "sell"]
    price_max_usd_per_kwh: FiniteFloat
    price_min_usd_per_kwh: FiniteFloat
    power_max_kw: FiniteFloat = Field(ge=0, le=MAX_ORDER_POWER_KW)
    power_min_kw: FiniteFloat = Field(ge=0, le=MAX_ORDER_POWER_KW)

    @model_validator(mode="after")
    def _ordered(self) -> AffineOrder:
        if self.price_max_usd_per_kwh < self.price_min_usd_per_kwh:
            raise ValueError(
                f"price_max_usd_per_kwh ({self.price_max_usd_per_kwh}) must be at least "
                f"price_min_usd_per_kwh ({self.price_min_usd_per_kwh})"
            )
        if self.power_max_kw < self.power_min_kw:
            raise ValueError(
                f"power_max_kw ({self.power_max_kw}) must be at least power_min_kw "
                f"({self.power_min_kw})"
            )
        return self


def _order_kind(value: Any) -> str:
    if isinstance(value, dict):
        return value.get("kind", "simple")
    return getattr(value, "kind", "simple")


AnyOrder = Annotated[
    Annotated[Order, Tag("simple")]
    | Annotated[CurveOrder, Tag("curve")]
    | Annotated[AffineOrder, Tag("affine")],
    Discriminator(_order_kind),
]
ORDER_KINDS = ("simple", "curve", "affine")


class OrdersMessage(_Message):
    """Household → market: orders for one delivery interval."""

    type: Literal["orders"] = "orders"
    interval_index: int = Field(ge=0, strict=True)
    orders: list[AnyOrder] = Field(min_length=1)


class Rejection(_Message):
    """One refused order and why."""

    order_id: str
    reason: str


class RejectedMessage(_Message):
    """Market → household: orders (or a whole message) it refused."""

    type: Literal["rejected"] = "rejected"
    interval_index: int | None
    rejections: list[Rejection]


class Award(_Message):
    """One fill of an order: quantity, price and counterparty."""

    order_id: str
    side: Literal["buy", "sell"]
    pool: Pool = "non_dispatchable"
    quantity_wh: int
    price_usd_per_kwh: float
    counterparty: str


class AwardsMessage(_Message):
    """Market → household: what it was awarded for one delivery interval."""

    type: Literal["awards"] = "awards"
    interval_index: int
    status: str
    awards: list[Award]
    prices_usd_per_kwh: dict[str, float] = Field(default_factory=dict)

    def award_rows(self, household_id: str) -> list[tuple]:
        """One row per award of household ``household_id``: ``interval_index``,
        ``household_id``, ``order_id``, ``side``, ``pool``, ``quantity_wh`` [Wh],
        ``price_usd_per_kwh`` [USD/kWh], ``counterparty`` (a household's award table)."""
        return [
            (
                self.interval_index,
                household_id,
                award.order_id,
                award.side,
                award.pool,
                award.quantity_wh,
                award.price_usd_per_kwh,
                award.counterparty,
            )
            for award in self.awards
        ]


class SettlementLine(_Message):
    """One payment of a settlement (positive ``amount_usd``: the household pays)."""

    counterparty: str
    energy_wh: float
    price_usd_per_kwh: float
    amount_usd: float
    reason: Literal[
        "trade", "shortfall", "unused", "grid_import", "grid_export", "service_fee", "penalty"
    ]


class SettlementMessage(_Message):
    """Market → household: how its metered energy of one interval was paid for."""

    type: Literal["settlement"] = "settlement"
    interval_index: int
    energy_wh: float
    awarded_net_energy_wh: int
    amount_usd: float
    lines: list[SettlementLine]


#: Most periods one day-ahead message may carry (two days of hours) [-].
MAX_DAY_AHEAD_PERIODS = 48


class DayAheadPeriodOrder(_Message):
    """A curve for one day-ahead period, named by the period's first market interval."""

    interval_index: int = Field(ge=0, strict=True)
    order: CurveOrder


class DayAheadOrdersMessage(_Message):
    """Household → market (mechanism ``day_ahead``): curves for the periods of the next
    day-ahead market, sent at or before its gate closure."""

    type: Literal["day_ahead_orders"] = "day_ahead_orders"
    periods: list[DayAheadPeriodOrder] = Field(min_length=1, max_length=MAX_DAY_AHEAD_PERIODS)


class DayAheadAward(_Message):
    """What one day-ahead curve cleared at: a power over its whole period."""

    interval_index: int
    order_id: str
    power_kw: float
    price_usd_per_kwh: float


class DayAheadAwardsMessage(_Message):
    """Market → household: its commitments from a day-ahead clearing (power over each period,
    import positive; paid in every market interval of the period at the day-ahead price)."""

    type: Literal["day_ahead_awards"] = "day_ahead_awards"
    awards: list[DayAheadAward]
    prices_usd_per_kwh: dict[str, float] = Field(default_factory=dict)


MarketMessage = RejectedMessage | AwardsMessage | SettlementMessage | DayAheadAwardsMessage

_MARKET_MESSAGE_TYPES: dict[str, type[_Message]] = {
    "rejected": RejectedMessage,
    "awards": AwardsMessage,
    "settlement": SettlementMessage,
    "day_ahead_awards": DayAheadAwardsMessage,
}


def message_problems(error: ValidationError) -> str:
    """What is wrong with a message, on one line: each field's path, the value, what was
    expected (`tefed.contract.errors.describe_validation_error`, problems joined by ``; ``)."""
    return "; ".join(describe_validation_error(error, union_tags=ORDER_KINDS, top_level="message"))


def parse_market_message(payload: str | dict[str, Any]) -> MarketMessage:
    """Parse a message sent by the market to a household: its JSON text, or the JSON object
    a batch was parsed into (`tefed.contract.shard_layout.ShardLayout.unwrap_parsed`).

    Raises
    ------
    ValueError
        When the payload is not JSON or not one of the market's message types.
    """
    data = json.loads(payload) if isinstance(payload, str) else payload
    kind = data.get("type") if isinstance(data, dict) else None
    model = _MARKET_MESSAGE_TYPES.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise ValueError(
            "not a market message: expected a JSON object with type one of "
            f"{sorted(_MARKET_MESSAGE_TYPES)}, got type {kind!r}"
        )
    return model.model_validate(data)


def message_json_schemas() -> dict[str, dict]:
    """JSON Schema of every message type, by ``type`` (written to ``docs/message_schemas.json``)."""
    return {
        name: model.model_json_schema()
        for name, model in (
            ("orders", OrdersMessage),
            ("rejected", RejectedMessage),
            ("awards", AwardsMessage),
            ("settlement", SettlementMessage),
            ("day_ahead_orders", DayAheadOrdersMessage),
            ("day_ahead_awards", DayAheadAwardsMessage),
        )
    }


def message_json_schemas_text() -> str:
    """``message_json_schemas`` as the committed file's text."""
    return json.dumps(message_json_schemas(), indent=2, sort_keys=True) + "\n"
