"""The market federate's day-ahead desk: which curves it takes for the next day-ahead market,
why it refuses the others, and what a clearing sends and keeps."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tefed.contract import keys
from tefed.contract.logic import Message
from tefed.domain.market.day_ahead_real_time import DayAheadRealTime
from tefed.domain.market.mechanisms.day_ahead import DayAheadMarket
from tefed.domain.prices.interval_prices import IntervalPrices
from tefed.federates.market.day_ahead_desk import DayAheadDesk

#: Two day-ahead markets of two hourly periods each (market intervals of 900 s).
MARKETS = [
    DayAheadMarket(gate_closure_s=3600, period_starts=np.array([8, 12])),
    DayAheadMarket(gate_closure_s=10800, period_starts=np.array([16, 20])),
]
PARTICIPANTS = pd.Index(["h1", "h2"])


def orders(household: str, periods: list[int], power_kw: float, price: float) -> Message:
    """A household's one-vertex curve for each of ``periods``."""
    payload = {
        "type": "day_ahead_orders",
        "periods": [
            {
                "interval_index": period,
                "order": {
                    "kind": "curve",
                    "order_id": "o1",
                    "vertices": [{"price_usd_per_kwh": price, "power_kw": power_kw}],
                },
            }
            for period in periods
        ],
    }
    return Message(
        source=keys.household_endpoint(household),
        destination=keys.MARKET_ENDPOINT,
        payload=json.dumps(payload),
    )


def prices() -> IntervalPrices:
    table = IntervalPrices(24)
    table.update(
        0,
        {
            keys.IMPORT_PRICE_FORECAST: np.full(24, 0.30),
            keys.EXPORT_PRICE_FORECAST: np.full(24, 0.05),
        },
    )
    return table


@pytest.mark.parametrize(
    ("message", "time_s", "reason"),
    [
        (orders("h9", [8, 12], 1.0, 0.2), 0, "unknown participant endpoint 'household/h9'"),
        (
            Message("household/h1", keys.MARKET_ENDPOINT, '{"type": "day_ahead_orders"}'),
            0,
            "malformed day-ahead orders message: Field required",
        ),
        (orders("h1", [8, 12], 1.0, 0.2), 3660, "after the day-ahead gate closure (t=3600 s)"),
        (
            orders("h1", [8, 16], 1.0, 0.2),
            0,
            "day-ahead periods [16]: expected each period of the open day-ahead market once "
            "(first intervals 8 to 12)",
        ),
        (
            orders("h1", [8, 8], 1.0, 0.2),
            0,
            "day-ahead periods [8, 8]: expected each period of the open day-ahead market once "
            "(first intervals 8 to 12)",
        ),
    ],
    ids=["unknown household", "malformed", "late", "another market's period", "period twice"],
)
def test_curves_are_refused_with_the_reason(message: Message, time_s: int, reason: str):
    desk = DayAheadDesk(MARKETS, PARTICIPANTS)
    assert desk.take(time_s, message) == reason


def test_a_clearing_commits_the_curves_keeps_its_tables_and_opens_the_next_market():
    desk = DayAheadDesk(MARKETS, PARTICIPANTS)
    assert not desk.due(0) and desk.due(3600)
    # h1 buys 2 kW at up to 0.20 USD/kWh, h2 sells 2 kW from 0.10 USD/kWh, in both periods.
    assert desk.take(0, orders("h1", [8, 12], 2.0, 0.20)) is None
    assert desk.take(3600, orders("h2", [8, 12], -2.0, 0.10)) is None
    kept: dict[str, pd.DataFrame] = {}
    messages = desk.clear(DayAheadRealTime(900, 4), prices(), kept.__setitem__)
    assert [m.destination for m in messages] == ["household/h1", "household/h2"]
    first = json.loads(messages[0].payload)
    assert {award["interval_index"] for award in first["awards"]} == {8, 12}
    assert all(award["order_id"] == "o1" for award in first["awards"])
    assert [award["power_kw"] for award in first["awards"]] == [2.0, 2.0]
    assert set(first["prices_usd_per_kwh"]) == {"period:8", "period:12"}
    ordered = kept["market_day_ahead_orders.parquet"]
    assert ordered["interval_index"].tolist() == [8, 12, 8, 12]
    assert set(ordered["gate_closure_s"]) == {3600}
    clearings = kept["market_day_ahead_clearings.parquet"]
    assert clearings["orders"].tolist() == [2, 2]
    assert (
        (clearings["price_usd_per_kwh"] >= 0.10) & (clearings["price_usd_per_kwh"] <= 0.20)
    ).all()
    # The next market takes its own periods; the cleared one's are refused.
    assert desk.take(3700, orders("h1", [16, 20], 1.0, 0.2)) is None
    assert "expected each period" in desk.take(3700, orders("h1", [8], 1.0, 0.2))
    assert desk.due(10800)
    desk.clear(DayAheadRealTime(900, 4), prices(), kept.__setitem__)
    assert desk.take(10900, orders("h1", [16], 1.0, 0.2)) == (
        "no day-ahead market is open: every day of the run has cleared"
    )
