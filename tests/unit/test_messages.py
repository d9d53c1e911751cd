"""Wire messages: the orders schema and parsing of the market's messages."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tefed.contract.messages import (
    MAX_ORDER_QUANTITY_WH,
    AwardsMessage,
    Order,
    OrdersMessage,
    RejectedMessage,
    SettlementMessage,
    message_problems,
    parse_market_message,
)

VALID_ORDERS: dict[str, Any] = {
    "type": "orders",
    "interval_index": 37,
    "orders": [
        {"order_id": "37-buy", "side": "buy", "quantity_wh": 300, "price_usd_per_kwh": 0.12},
        {"order_id": "37-sell", "side": "sell", "quantity_wh": 5, "price_usd_per_kwh": 0.07},
    ],
}


def _orders(**order_changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(VALID_ORDERS)
    data["orders"][0].update(order_changes)
    return data


def test_orders_message_round_trip() -> None:
    message = OrdersMessage(
        interval_index=3,
        orders=[Order(order_id="o1", side="buy", quantity_wh=120, price_usd_per_kwh=0.13)],
    )
    text = message.model_dump_json()
    assert json.loads(text)["type"] == "orders"
    parsed = OrdersMessage.model_validate(json.loads(text))
    assert parsed == message
    assert parsed.orders[0].quantity_wh == 120


def test_valid_orders_are_accepted() -> None:
    parsed = OrdersMessage.model_validate(VALID_ORDERS)
    assert [order.side for order in parsed.orders] == ["buy", "sell"]
    assert parsed.orders[1].quantity_wh == 5
    at_limit = OrdersMessage.model_validate(_orders(quantity_wh=MAX_ORDER_QUANTITY_WH))
    assert at_limit.orders[0].quantity_wh == MAX_ORDER_QUANTITY_WH


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({**VALID_ORDERS, "deadline_s": 10}, "deadline_s"),
        (_orders(note="x"), "note"),
        (_orders(quantity_wh=12.0), "quantity_wh"),
        (_orders(quantity_wh=12.5), "quantity_wh"),
        (_orders(quantity_wh="12"), "quantity_wh"),
        (_orders(quantity_wh=0), "quantity_wh"),
        (_orders(quantity_wh=-5), "quantity_wh"),
        (_orders(quantity_wh=MAX_ORDER_QUANTITY_WH + 1), "quantity_wh"),
        (_orders(price_usd_per_kwh=float("nan")), "price_usd_per_kwh"),
        (_orders(price_usd_per_kwh=float("inf")), "price_usd_per_kwh"),
        (_orders(price_usd_per_kwh=float("-inf")), "price_usd_per_kwh"),
        (_orders(side="BUY"), "side"),
        (_orders(side="hold"), "side"),
        ({**VALID_ORDERS, "orders": []}, "orders"),
        ({**VALID_ORDERS, "interval_index": -1}, "interval_index"),
        ({**VALID_ORDERS, "type": "awards"}, "type"),
    ],
)
def test_invalid_orders_are_rejected_naming_the_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        OrdersMessage.model_validate(data)
    assert any(field in error["loc"] for error in excinfo.value.errors())


def test_nan_price_from_json_text_is_rejected() -> None:
    payload = json.dumps(VALID_ORDERS).replace("0.12", "NaN")
    with pytest.raises(ValidationError) as excinfo:
        OrdersMessage.model_validate(json.loads(payload))
    assert message_problems(excinfo.value) == (
        "orders.0.price_usd_per_kwh: got nan; Input should be a finite number"
    )


@pytest.mark.parametrize(
    ("data", "problems"),
    [
        (
            {**VALID_ORDERS, "orders": [{"kind": "spot"}]},
            "orders.0: got 'spot'; expected one of 'simple', 'curve', 'affine'",
        ),
        (
            _orders(quantity_wh=0, colour="red"),
            "orders.0.quantity_wh: got 0; Input should be greater than 0; "
            "orders.0.colour: unknown key (value 'red'); remove or rename it",
        ),
        ([], "message: Input should be a valid dictionary or instance of OrdersMessage"),
    ],
)
def test_message_problems_name_each_field_its_value_and_what_was_expected(data, problems) -> None:
    with pytest.raises(ValidationError) as excinfo:
        OrdersMessage.model_validate(data)
    assert message_problems(excinfo.value) == problems


@pytest.mark.parametrize(
    ("order", "problem"),
    [
        (
            {
                "kind": "curve",
                "order_id": "c",
                "vertices": [{"price_usd_per_kwh": 0.1, "power_kw": -1001.0}],
            },
            "orders.0.vertices.0.power_kw: got -1001.0; "
            "Input should be greater than or equal to -1000",
        ),
        (
            {
                "kind": "curve",
                "order_id": "c",
                "vertices": [{"price_usd_per_kwh": float("inf"), "power_kw": 1.0}],
            },
            "orders.0.vertices.0.price_usd_per_kwh: got inf; Input should be a finite number",
        ),
        (
            {
                "kind": "affine",
                "order_id": "a",
                "side": "sell",
                "price_max_usd_per_kwh": 0.2,
                "price_min_usd_per_kwh": 0.1,
                "power_max_kw": 2.0,
                "power_min_kw": -0.5,
            },
            "orders.0.power_min_kw: got -0.5; Input should be greater than or equal to 0",
        ),
    ],
)
def test_curve_and_affine_powers_are_finite_and_bounded(order, problem) -> None:
    with pytest.raises(ValidationError) as excinfo:
        OrdersMessage.model_validate({**VALID_ORDERS, "orders": [order]})
    assert message_problems(excinfo.value) == problem


def test_messages_are_frozen() -> None:
    message = OrdersMessage.model_validate(VALID_ORDERS)
    with pytest.raises(ValidationError):
        message.interval_index = 5  # type: ignore[misc]


def test_parse_rejected() -> None:
    payload = json.dumps(
        {
            "type": "rejected",
            "interval_index": 37,
            "rejections": [{"order_id": "*", "reason": "after gate closure"}],
        }
    )
    parsed = parse_market_message(payload)
    assert isinstance(parsed, RejectedMessage)
    assert parsed.rejections[0].order_id == "*"
    assert parsed.interval_index == 37


def test_parse_awards() -> None:
    payload = json.dumps(
        {
            "type": "awards",
            "interval_index": 37,
            "status": "cleared",
            "awards": [
                {
                    "order_id": "37-buy",
                    "side": "buy",
                    "quantity_wh": 300,
                    "price_usd_per_kwh": 0.1062,
                    "counterparty": "h07",
                }
            ],
        }
    )
    parsed = parse_market_message(payload)
    assert isinstance(parsed, AwardsMessage)
    assert parsed.status == "cleared"
    assert parsed.awards[0].quantity_wh == 300
    assert parsed.awards[0].counterparty == "h07"


def test_parse_settlement() -> None:
    payload = json.dumps(
        {
            "type": "settlement",
            "interval_index": 37,
            "energy_wh": 455.2,
            "awarded_net_energy_wh": 300,
            "amount_usd": 0.0543,
            "lines": [
                {
                    "counterparty": "h07",
                    "energy_wh": 300.0,
                    "price_usd_per_kwh": 0.1062,
                    "amount_usd": 0.03186,
                    "reason": "trade",
                },
                {
                    "counterparty": "grid",
                    "energy_wh": 155.2,
                    "price_usd_per_kwh": 0.1449,
                    "amount_usd": 0.02249,
                    "reason": "grid_import",
                },
            ],
        }
    )
    parsed = parse_market_message(payload)
    assert isinstance(parsed, SettlementMessage)
    assert parsed.amount_usd == 0.0543
    assert [line.reason for line in parsed.lines] == ["trade", "grid_import"]


@pytest.mark.parametrize(
    "payload",
    [
        json.dumps(VALID_ORDERS),
        '{"type": "bill", "interval_index": 1}',
        '{"interval_index": 1}',
        '{"type": ["awards"]}',
        "[1, 2]",
        '"awards"',
    ],
)
def test_parse_non_market_messages_raise_value_error(payload: str) -> None:
    with pytest.raises(ValueError, match="not a market message"):
        parse_market_message(payload)


def test_parse_invalid_json_or_missing_fields_raise() -> None:
    with pytest.raises(ValueError):
        parse_market_message("{not json")
    with pytest.raises(ValidationError) as excinfo:
        parse_market_message('{"type": "awards", "interval_index": 1, "status": "empty"}')
    assert [error["loc"] for error in excinfo.value.errors()] == [("awards",)]


def test_committed_message_schemas_are_current():
    from tefed.contract.messages import message_json_schemas_text

    committed = Path(__file__).resolve().parents[2] / "docs" / "message_schemas.json"
    assert committed.read_text() == message_json_schemas_text(), (
        "docs/message_schemas.json is stale: run `make docs` and commit it"
    )
