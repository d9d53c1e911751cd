"""Schemas of the JSON messages between households and the market (the wire contract).

Every message is one JSON object with a ``type``. Households send ``orders``; the market answers
with ``rejected`` (at once, for orders it refuses), ``awards`` (at gate closure, to every
household that ordered for the interval) and ``settlement`` (after delivery, to every household).
Quantities are whole Wh, prices USD/kWh, money USD with positive = the household pays.
``docs/interfaces.md`` shows an example of each.
"""

from __future__ import annotations

import json
import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: Largest quantity one order may carry [Wh] (1 MWh; a household order above it is a bug).
MAX_ORDER_QUANTITY_WH = 1_000_000


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Order(_Message):
    """One simple order: a side, a whole-Wh quantity and a limit price."""

    order_id: str = Field(min_length=1, max_length=200)
    side: Literal["buy", "sell"]
    quantity_wh: int = Field(gt=0, le=MAX_ORDER_QUANTITY_WH, strict=True)
    price_usd_per_kwh: float

    @field_validator("price_usd_per_kwh")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError(f"price_usd_per_kwh must be finite, got {value}")
        return value


class OrdersMessage(_Message):
    """Household → market: orders for one delivery interval."""

    type: Literal["orders"] = "orders"
    interval_index: int = Field(ge=0, strict=True)
    orders: list[Order] = Field(min_length=1)


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
    quantity_wh: int
    price_usd_per_kwh: float
    counterparty: str


class AwardsMessage(_Message):
    """Market → household: what it was awarded for one delivery interval."""

    type: Literal["awards"] = "awards"
    interval_index: int
    status: str
    awards: list[Award]


class SettlementLine(_Message):
    """One payment of a settlement (positive ``amount_usd``: the household pays)."""

    counterparty: str
    energy_wh: float
    price_usd_per_kwh: float
    amount_usd: float
    reason: Literal["trade", "grid_import", "grid_export"]


class SettlementMessage(_Message):
    """Market → household: how its metered energy of one interval was paid for."""

    type: Literal["settlement"] = "settlement"
    interval_index: int
    energy_wh: float
    awarded_net_energy_wh: int
    amount_usd: float
    lines: list[SettlementLine]


MarketMessage = RejectedMessage | AwardsMessage | SettlementMessage

_MARKET_MESSAGE_TYPES: dict[str, type[_Message]] = {
    "rejected": RejectedMessage,
    "awards": AwardsMessage,
    "settlement": SettlementMessage,
}


def parse_market_message(payload: str) -> MarketMessage:
    """Parse a message sent by the market to a household.

    Raises
    ------
    ValueError
        When the payload is not JSON or not one of the market's message types.
    """
    data = json.loads(payload)
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
        )
    }


def message_json_schemas_text() -> str:
    """``message_json_schemas`` as the committed file's text."""
    return json.dumps(message_json_schemas(), indent=2, sort_keys=True) + "\n"
