"""The message checks: schema and destination, gate closure, the market's refusals.

Households send ``orders`` to ``market``; the market answers with ``awards``, ``rejected`` and
``settlement`` at household endpoints (``docs/interfaces.md``, "Endpoints and messages"). Pure:
each check judges a `CheckInputs`.
"""

from __future__ import annotations

import json
import math

import pandas as pd
from pydantic import ValidationError

from tefed.conformance.observations import CheckInputs, Finding, capped, time_text
from tefed.conformance.roles import ORDERING_ROLES
from tefed.contract import keys
from tefed.contract.messages import (
    DayAheadOrdersMessage,
    Message,
    OrdersMessage,
    message_problems,
    parse_market_message,
)

#: What is wrong with a message whose JSON is nested too deeply for Python to parse (json
#: raises RecursionError, as the built-in market's intake also takes it).
_TOO_DEEP = "malformed message: JSON nested too deeply to parse"


def check_message_schema(inputs: CheckInputs) -> list[Finding]:
    """Every message parses against its schema and goes to the right kind of endpoint:
    households send ``orders`` (and ``day_ahead_orders``) to ``market``; the market sends
    ``awards``, ``rejected``, ``settlement`` and ``day_ahead_awards`` to ``household/<id>``.

    Parameters
    ----------
    inputs : CheckInputs
        What the harness run observed of the candidate.

    Returns
    -------
    list of Finding
        One per violation; empty when the check passes.
    """
    sends_orders = inputs.role in ORDERING_ROLES
    kinds = (
        "orders, day_ahead_orders"
        if sends_orders
        else "awards, rejected, settlement, day_ahead_awards"
    )
    schema_fix = f"send one JSON object per message as docs/message_schemas.json has it ({kinds})"
    messages, findings = household_messages(inputs)
    for message in messages:
        where = f"message to '{message['destination']}' at {time_text(message['time_s'])}"
        problem = _schema_problem(message["payload"], sends_orders)
        if problem:
            findings.append(Finding("message schema", f"{where}: {problem}", schema_fix))
        if sends_orders and message["destination"] != keys.MARKET_ENDPOINT:
            findings.append(
                Finding(
                    "message schema",
                    f"{where}: a household sends only to '{keys.MARKET_ENDPOINT}'",
                    f"send orders to the endpoint '{keys.MARKET_ENDPOINT}'",
                )
            )
        if not sends_orders and keys.household_of_endpoint(message["destination"]) is None:
            findings.append(
                Finding(
                    "message schema",
                    f"{where}: the market sends only to household endpoints",
                    "answer each household at its endpoint 'household/<id>', or inside its "
                    "shard's batch to 'ems/<shard>'",
                )
            )
    return capped(findings)


def household_messages(inputs: CheckInputs) -> tuple[list[dict], list[Finding]]:
    """The candidate's messages as households send and receive them: each ``batch`` (between
    a shard's endpoint ``ems/<shard>`` and the market) taken apart into its items, with a
    finding for every batch that cannot be."""
    layout = inputs.shard_layout
    messages, findings = [], []
    for message in inputs.observations.messages:
        sent = Message(message["source"], message["destination"], message["payload"])
        try:
            unwrapped = (
                [sent]
                if layout is None
                else layout.unwrap(sent, to_shard=inputs.role not in ORDERING_ROLES)
            )
        except (ValueError, RecursionError) as error:
            problem = f"{_TOO_DEEP} ({error})" if isinstance(error, RecursionError) else error
            findings.append(
                Finding(
                    "message schema",
                    f"message to '{message['destination']}' at {time_text(message['time_s'])}: "
                    f"{problem}",
                    "send a shard's households' messages as one 'batch' (docs/interfaces.md)",
                )
            )
            continue
        messages.extend(
            {
                **message,
                "source": item.source,
                "destination": item.destination,
                "payload": item.payload,
            }
            for item in unwrapped
        )
    return messages, findings


def _schema_problem(payload: str, orders: bool) -> str:
    """What is wrong with a message ('' when it parses)."""
    try:
        data = json.loads(payload)
        if orders and isinstance(data, dict) and data.get("type") == "day_ahead_orders":
            DayAheadOrdersMessage.model_validate_json(payload)
        elif orders:
            OrdersMessage.model_validate_json(payload)
        else:
            parse_market_message(payload)
    except ValidationError as error:
        return message_problems(error)
    except ValueError as error:
        return str(error)
    except RecursionError as error:
        return f"{_TOO_DEEP} ({error})"
    return ""


def check_gate_closure(inputs: CheckInputs) -> list[Finding]:
    """No orders arrive after the gate of their interval closed.

    The built-in market's refusals (``market_orders.parquet``) are read when it wrote them;
    otherwise the orders messages' send times are compared with the gate closures.

    Parameters
    ----------
    inputs : CheckInputs
        What the harness run observed of the candidate.

    Returns
    -------
    list of Finding
        One per violation; empty when the check passes.
    """
    if inputs.role not in ORDERING_ROLES:
        return []
    grid = inputs.time_grid
    refused = _refused_orders(inputs)
    if refused is None:
        late = _late_orders_from_messages(inputs)
    else:
        gate = refused[refused["reason"].str.startswith("after gate closure")]
        late = list(zip(gate["interval_index"], gate["received_time_s"], strict=True))
    fix = (
        f"send orders for interval k no later than its gate closure, "
        f"t = k·{grid.market_interval_s} − {grid.gate_closure_s} s "
        f"(at the ems offset, {inputs.expected.offset_s:g} s)"
    )
    return capped(
        [
            Finding(
                "gate closure",
                f"orders for interval {int(k)} arrived at {time_text(t)}, after its gate closed at "
                f"{time_text(grid.gate_closure_time_s(int(k)))}",
                fix,
            )
            for k, t in late
        ]
    )


def _late_orders_from_messages(inputs: CheckInputs) -> list[tuple[int, int]]:
    """(interval, send instant [s]) of orders messages sent after their gate closed."""
    grid, late = inputs.time_grid, []
    for message in household_messages(inputs)[0]:
        try:
            interval = json.loads(message["payload"]).get("interval_index")
        except (ValueError, RecursionError, AttributeError):
            # Not JSON (also too long a number, or nested too deeply) or not an object: the
            # message schema check names it.
            continue
        if not isinstance(interval, int) or not 1 <= interval < grid.n_intervals:
            continue
        steps = math.floor((message["time_s"] - inputs.expected.offset_s) / grid.grid_step_s)
        if steps * grid.grid_step_s > grid.gate_closure_time_s(interval):
            late.append((interval, steps * grid.grid_step_s))
    return late


def check_market_refusals(inputs: CheckInputs) -> list[Finding]:
    """No orders refused by the market for other reasons than a closed gate or the schema
    (which the ``gate closure`` and ``message schema`` checks report).

    Parameters
    ----------
    inputs : CheckInputs
        What the harness run observed of the candidate.

    Returns
    -------
    list of Finding
        One per violation; empty when the check passes.
    """
    refused = _refused_orders(inputs)
    if refused is None:
        return []
    covered = ("after gate closure", "malformed orders message", "invalid order")
    other = refused[~refused["reason"].str.startswith(covered)]
    return capped(
        [
            Finding(
                "market refusals",
                f"order '{row.order_id}' of {row.participant} at {time_text(row.received_time_s)} "
                f"refused: {row.reason}",
                "see 'orders' in docs/interfaces.md for what the market takes",
            )
            for row in other.itertuples()
        ]
    )


def _refused_orders(inputs: CheckInputs) -> pd.DataFrame | None:
    """The candidate's refused orders in the market's order table (None without a table)."""
    orders = inputs.market_orders
    if orders is None or inputs.role not in ORDERING_ROLES:
        return None
    mine = orders["participant"].isin(inputs.households) & (orders["status"] == "rejected")
    return orders[mine].astype({"reason": str})
