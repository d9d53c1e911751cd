"""The awards check: a market candidate's awards against the orders they fill.

The probe clones the messages a market candidate receives (`tefed.runtime.probe`), so the
households' orders are known along with the awards the candidate sent. The built-in market's own
rules judge them (``docs/interfaces.md``, "Mechanisms"):

- each household's awards of an interval, taken as trades of that household against an
  unknown other side, pass `tefed.domain.market.trade_checks.check_trades` against its simple
  orders for the interval: no order awarded more than its quantity, no award priced beyond its
  order's limit, in another pool or of the other side, and no self-trade;
- between households, what an interval's buyers were awarded is what its sellers were awarded
  (bought = sold, in Wh), and the trade payments of the two sides cancel per pair of households
  and pool (`tefed.domain.market.ledger_checks.check_payments`, within its
  ``BALANCE_TOLERANCE_USD``).

Awards with the ``market`` or ``grid`` as counterparty (curve clearing, DLMP, day-ahead
commitments) are checked against their orders only. Pure: it judges a `CheckInputs`.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from pydantic import ValidationError

from tefed.conformance.observations import CheckInputs, Finding, capped
from tefed.conformance.settlement import received_by_households
from tefed.contract import keys
from tefed.contract.messages import Message, Order
from tefed.domain.market.ledger_checks import check_payments
from tefed.domain.market.trade_checks import check_trades

CHECK = "awards"
_FIX = (
    "award each order at most its quantity, at a price within its limit and in its pool, and "
    "give a trade between two households as one award to each with the same quantity and price "
    "(docs/interfaces.md, 'awards' and 'Mechanisms')"
)
#: An award's other side, which the household's order table never holds.
_OTHER_SIDE = ""
_ORDER_COLUMNS = ["order_id", "participant", "side", "quantity_wh", "price_usd_per_kwh", "pool"]


def check_awards(inputs: CheckInputs) -> list[Finding]:
    """A market's awards fill no order beyond its quantity or limit price, and the awards of a
    trade between two households agree: per interval, energy bought from households equals
    energy sold to them and the trade payments cancel.

    Judged for a market candidate, on the orders the probe saw it receive (none: the orders
    part is skipped) and the awards it sent.

    Parameters
    ----------
    inputs : CheckInputs
        What the harness run observed of the candidate.

    Returns
    -------
    list of Finding
        One per violation; empty when the check passes.
    """
    if inputs.role != "market":
        return []
    awards = received_by_households(inputs)[0]
    if awards.empty:
        return []
    orders = _orders_received(inputs)
    households = set(awards["household_id"])
    if inputs.household_intervals is not None:
        households |= set(inputs.household_intervals["household_id"])
    against_orders = []
    for (interval, household), own in awards.groupby(["interval_index", "household_id"]):
        ordered = orders[
            (orders["interval_index"] == interval) & (orders["participant"] == household)
        ]
        against_orders += [
            Finding(CHECK, f"awards of {household} for interval {interval}: {violation}", _FIX)
            for violation in check_trades(_one_sided_trades(own), ordered[_ORDER_COLUMNS])
        ]
    peer = awards[awards["counterparty"].isin(households)]
    unbalanced = [
        finding
        for interval, trades in peer.groupby("interval_index")
        for finding in _balance_findings(int(interval), trades)
    ]
    # Each kind capped on its own: many awards above their orders hide no imbalance.
    return capped(against_orders) + capped(unbalanced)


def _one_sided_trades(awards: pd.DataFrame) -> pd.DataFrame:
    """One household's awards as trades whose other side has no order (`check_trades` then
    judges only the household's side)."""
    buys = (awards["side"] == "buy").to_numpy()
    own, other = awards["order_id"].to_numpy(object), [_OTHER_SIDE] * len(awards)
    household, counterparty = awards["household_id"].to_numpy(object), awards["counterparty"]
    return pd.DataFrame(
        {
            "buy_order_id": [o if b else x for o, x, b in zip(own, other, buys, strict=True)],
            "sell_order_id": [x if b else o for o, x, b in zip(own, other, buys, strict=True)],
            "buyer": [h if b else c for h, c, b in zip(household, counterparty, buys, strict=True)],
            "seller": [
                c if b else h for h, c, b in zip(household, counterparty, buys, strict=True)
            ],
            "quantity_wh": awards["quantity_wh"].to_numpy(),
            "price_usd_per_kwh": awards["price_usd_per_kwh"].to_numpy(float),
            "pool": awards["pool"].to_numpy(object),
        }
    )


def _balance_findings(interval: int, trades: pd.DataFrame) -> list[Finding]:
    """Findings for one interval's awards between households whose two sides disagree."""
    buys = trades["side"] == "buy"
    bought_wh, sold_wh = trades["quantity_wh"][buys].sum(), trades["quantity_wh"][~buys].sum()
    findings = []
    if bought_wh != sold_wh:
        findings.append(
            Finding(
                CHECK,
                f"interval {interval}: households were awarded {int(bought_wh)} Wh bought from "
                f"other households but {int(sold_wh)} Wh sold to them, expected equal energy",
                _FIX,
            )
        )
    sign = buys.map({True: 1.0, False: -1.0})
    ledger = pd.DataFrame(
        {
            "participant": trades["household_id"].to_numpy(object),
            "counterparty": trades["counterparty"].to_numpy(object),
            "pool": trades["pool"].to_numpy(object),
            "amount_usd": (
                sign * trades["quantity_wh"] / 1000.0 * trades["price_usd_per_kwh"]
            ).to_numpy(float),
            "reason": "trade",
        }
    )
    findings += [
        Finding(CHECK, f"interval {interval}: {violation} (from the awards)", _FIX)
        for violation in check_payments(ledger)
    ]
    return findings


def _orders_received(inputs: CheckInputs) -> pd.DataFrame:
    """The simple orders the households sent the candidate (``interval_index`` and
    ``_ORDER_COLUMNS``), each order on its own as the built-in market takes it; the first of
    a household's orders with one id for an interval (a market refuses the others)."""
    rows = []
    layout = inputs.shard_layout
    for received in inputs.observations.received_messages:
        message = Message(received["source"], received["destination"], received["payload"])
        try:
            items = [message] if layout is None else layout.unwrap(message, to_shard=False)
        except (ValueError, RecursionError):
            continue
        for item in items:
            household = keys.household_of_endpoint(item.source)
            if household is not None:
                rows += _simple_orders(item.payload, household)
    orders = pd.DataFrame(rows, columns=["interval_index", *_ORDER_COLUMNS])
    return orders.drop_duplicates(["interval_index", "participant", "order_id"], keep="first")


def _simple_orders(payload: str, household: str) -> list[tuple[Any, ...]]:
    """``(interval_index, *_ORDER_COLUMNS)`` of each valid simple order of an ``orders``
    message ([] for anything else)."""
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError):
        return []
    if not isinstance(data, dict) or data.get("type") != "orders":
        return []
    interval, items = data.get("interval_index"), data.get("orders")
    if type(interval) is not int or not isinstance(items, list):
        return []
    rows = []
    for item in items:
        if not isinstance(item, dict) or item.get("kind", "simple") != "simple":
            continue
        try:
            order = Order.model_validate(item)
        except (ValidationError, RecursionError):
            continue
        rows.append(
            (
                interval,
                order.order_id,
                household,
                order.side,
                order.quantity_wh,
                order.price_usd_per_kwh,
                order.pool,
            )
        )
    return rows
