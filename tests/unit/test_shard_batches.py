"""Batches between the market and ems shards: routed, unpacked as text (`ShardLayout.unwrap`)
and as the parsed items (`ShardLayout.unwrap_parsed`, which the ems reads), with the same
trust rules and the same errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tefed.contract import keys
from tefed.contract.messages import Message, parse_market_message
from tefed.contract.shard_layout import Shard, ShardLayout

LAYOUT = ShardLayout(
    ["h1", "h2", "h3"],
    [
        Shard("ems", "shard", ("h1", "h2"), np.array([0, 1])),
        Shard("household_h3", "household", ("h3",), np.array([2])),
    ],
)
AWARDS = {
    "type": "awards",
    "interval_index": 4,
    "status": "optimal",
    "awards": [
        {
            "order_id": "b",
            "side": "buy",
            "pool": "non_dispatchable",
            "quantity_wh": 250,
            "price_usd_per_kwh": 0.1234567890123,
            "counterparty": "h2",
        }
    ],
    "prices_usd_per_kwh": {"pool:non_dispatchable": 0.1234567890123},
}
SETTLEMENT = {
    "type": "settlement",
    "interval_index": 3,
    "energy_wh": -12.5,
    "awarded_net_energy_wh": 0,
    "amount_usd": -0.0,
    "lines": [],
}


def market_batch() -> Message:
    """What the market sends the shard ``ems``: one batch for both its households."""
    messages = [
        Message(keys.MARKET_ENDPOINT, keys.household_endpoint("h1"), json.dumps(AWARDS)),
        Message(keys.MARKET_ENDPOINT, keys.household_endpoint("h2"), json.dumps(SETTLEMENT)),
        Message(keys.MARKET_ENDPOINT, keys.household_endpoint("h3"), json.dumps(SETTLEMENT)),
    ]
    routed = LAYOUT.route(messages, keys.MARKET_ENDPOINT)
    assert [m.destination for m in routed] == [
        keys.household_endpoint("h3"),
        keys.shard_endpoint("ems"),
    ]
    return next(m for m in routed if m.destination == keys.shard_endpoint("ems"))


def test_parsed_items_are_what_the_text_items_parse_to():
    batch = market_batch()
    as_text = LAYOUT.unwrap(batch, to_shard=True)
    as_parsed = LAYOUT.unwrap_parsed(batch, to_shard=True)
    assert [(m.source, m.destination) for m in as_text] == [
        (keys.MARKET_ENDPOINT, keys.household_endpoint("h1")),
        (keys.MARKET_ENDPOINT, keys.household_endpoint("h2")),
    ]
    assert [(source, destination) for source, destination, _ in as_parsed] == [
        (m.source, m.destination) for m in as_text
    ]
    for message, (_, _, content) in zip(as_text, as_parsed, strict=True):
        assert isinstance(content, dict)
        assert content == json.loads(message.payload)
        assert parse_market_message(content) == parse_market_message(message.payload)
    assert [json.loads(m.payload) for m in as_text] == [AWARDS, SETTLEMENT]


def test_a_message_that_is_no_batch_comes_back_as_its_text():
    single = Message(keys.MARKET_ENDPOINT, keys.household_endpoint("h3"), '{"type": "x"}', 900)
    assert LAYOUT.unwrap(single, to_shard=True) == [single]
    assert LAYOUT.unwrap_parsed(single, to_shard=True) == [
        (keys.MARKET_ENDPOINT, keys.household_endpoint("h3"), '{"type": "x"}')
    ]


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        ("not json", "batch is not JSON"),
        ('{"type": "batch"}', "exactly the fields 'type'"),
        (
            '{"type": "batch", "messages": [{"household_id": 1, "message": {}}]}',
            r"messages\[0\] must be an object",
        ),
        (
            '{"type": "batch", "messages": [{"household_id": "h3", "message": {}}]}',
            "'h3' is not hosted by 'ems'",
        ),
    ],
)
def test_both_refuse_a_bad_batch_alike(payload: str, problem: str):
    bad = Message(keys.MARKET_ENDPOINT, keys.shard_endpoint("ems"), payload)
    with pytest.raises(ValueError, match=problem) as as_text:
        LAYOUT.unwrap(bad, to_shard=True)
    with pytest.raises(ValueError, match=problem) as as_parsed:
        LAYOUT.unwrap_parsed(bad, to_shard=True)
    assert str(as_text.value) == str(as_parsed.value)


def test_orders_from_a_shard_are_trusted_only_for_its_households():
    item = {"type": "orders", "interval_index": 1, "orders": []}
    batch = Message(
        keys.shard_endpoint("ems"),
        keys.MARKET_ENDPOINT,
        json.dumps({"type": "batch", "messages": [{"household_id": "h2", "message": item}]}),
    )
    assert LAYOUT.unwrap_parsed(batch, to_shard=False) == [
        (keys.household_endpoint("h2"), keys.MARKET_ENDPOINT, item)
    ]
    spoofed = Message(
        keys.shard_endpoint("ems"),
        keys.MARKET_ENDPOINT,
        json.dumps({"type": "batch", "messages": [{"household_id": "h3", "message": item}]}),
    )
    with pytest.raises(ValueError, match="'h3' is not hosted by 'ems'"):
        LAYOUT.unwrap_parsed(spoofed, to_shard=False)
