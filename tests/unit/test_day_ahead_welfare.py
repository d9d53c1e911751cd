"""Welfare of the day-ahead market and its real-time corrections: by hand and as properties.

The tables are those the market writes, made by the real mechanism (`DayAheadRealTime`)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tefed.analysis.day_ahead_welfare import day_ahead_welfare_usd, participant_curves
from tefed.domain.market.clearing import ClearingPrices
from tefed.domain.market.day_ahead_real_time import DayAheadRealTime
from tefed.domain.market.interval_book import IntervalBook

INTERVAL_S = 900
HOURS = INTERVAL_S / 3600.0
Curve = tuple[str, list[tuple[float, float]]]


def curve_rows(key: int, curves: list[Curve]) -> list[dict]:
    """Vertex rows of ``(order_id, [(price, power_kw), ...])`` curves; a participant is the
    order id's part before ``/``."""
    return [
        {
            "period": key,
            "order_id": f"{order}:{key}",
            "participant": order.split("/")[0],
            "price_usd_per_kwh": price,
            "power_kw": power,
            "continuity": True,
        }
        for order, points in curves
        for price, power in points
    ]


def run_market(
    day_ahead_books: dict[int, list[Curve]],
    real_time_books: dict[int, list[Curve]],
    grid_prices: dict[int, tuple[float, float]],
    period_intervals: int = 2,
) -> dict[str, pd.DataFrame]:
    """Clear one day-ahead market and the real-time markets of intervals 1 onward, as the
    market federate does, and return the tables it records."""
    market = DayAheadRealTime(interval_s=INTERVAL_S, period_intervals=period_intervals)
    periods = sorted(day_ahead_books)
    rows = [row for period in periods for row in curve_rows(period, day_ahead_books[period])]
    columns = ["period", "order_id", "participant", "price_usd_per_kwh", "power_kw", "continuity"]
    vertices = pd.DataFrame(rows, columns=columns).astype({"period": "int64", "power_kw": float})
    imports = pd.Series({period: grid_prices[period][0] for period in periods})
    exports = pd.Series({period: grid_prices[period][1] for period in periods})
    result = market.clear_day_ahead(vertices, imports, exports)
    tables: list[pd.DataFrame] = []
    orders: list[dict] = []
    for interval in range(1, len(grid_prices)):
        rt_rows = [
            {key: value for key, value in row.items() if key != "period"}
            for row in curve_rows(interval, real_time_books.get(interval, []))
        ]
        outcome = market.clear(
            IntervalBook.from_rows(interval, INTERVAL_S, [], rt_rows, []),
            ClearingPrices(*grid_prices[interval]),
        )
        tables.append(outcome.tables["day_ahead"].assign(interval_index=interval))
        for order_id, rows_of in pd.DataFrame(rt_rows).groupby("order_id") if rt_rows else []:
            body = {
                "kind": "curve",
                "order_id": order_id,
                "vertices": rows_of[["price_usd_per_kwh", "power_kw", "continuity"]].to_dict(
                    "records"
                ),
            }
            orders.append(
                {
                    "interval_index": interval,
                    "participant": rows_of["participant"].iloc[0],
                    "order_id": order_id,
                    "kind": "curve",
                    "side": None,
                    "quantity_wh": pd.NA,
                    "price_usd_per_kwh": np.nan,
                    "status": "accepted",
                    "order_json": json.dumps(body),
                }
            )
    return {
        "day_ahead_orders": vertices.rename(columns={"period": "interval_index"}),
        "day_ahead_clearings": pd.DataFrame(
            {
                "interval_index": periods,
                "import_price_usd_per_kwh": imports.to_numpy(),
                "export_price_usd_per_kwh": exports.to_numpy(),
                "price_usd_per_kwh": result.price_usd_per_kwh.reindex(periods).to_numpy(),
            }
        ),
        "day_ahead": pd.concat(tables, ignore_index=True),
        "orders": pd.DataFrame(
            orders,
            columns=[
                "interval_index",
                "participant",
                "order_id",
                "kind",
                "side",
                "quantity_wh",
                "price_usd_per_kwh",
                "status",
                "order_json",
            ],
        ),
        "prices": pd.DataFrame(
            {
                "interval_index": list(grid_prices),
                "import_price_usd_per_kwh": [price[0] for price in grid_prices.values()],
                "export_price_usd_per_kwh": [price[1] for price in grid_prices.values()],
            }
        ),
    }


def welfare(tables: dict[str, pd.DataFrame]) -> dict[str, object]:
    return day_ahead_welfare_usd(
        tables["day_ahead_orders"],
        tables["day_ahead_clearings"],
        tables["day_ahead"],
        tables["orders"],
        tables["prices"],
        INTERVAL_S,
    )


# Period 0 (intervals 0, 1): a buys 2 kW whatever the price (valued at 0.12 USD/kWh), b sells
# from 0 kW at 0.05 to 3 kW at 0.10. Period 2 (intervals 2, 3): a alone, 2 kW at 0.10 falling
# to 0 kW at 0.20; the grid sells at 0.14.
A_FLAT = ("a", [(0.12, 2.0)])
B_SUPPLY = ("b", [(0.05, 0.0), (0.10, -3.0)])
A_ELASTIC = ("a", [(0.10, 2.0), (0.20, 0.0)])
PRICES = {0: (0.14, 0.04), 1: (0.14, 0.04), 2: (0.14, 0.04), 3: (0.12, 0.04)}


def test_two_periods_and_a_real_time_correction_by_hand() -> None:
    tables = run_market({0: [A_FLAT, B_SUPPLY], 2: [A_ELASTIC]}, {3: [A_ELASTIC]}, PRICES)
    day_ahead = tables["day_ahead"].set_index(["interval_index", "participant"])
    # Period 0: b meets a's 2 kW at 0.0833: ±500 Wh per interval. Period 2: the grid at 0.14
    # leaves a 2 · 0.6 = 1.2 kW, 300 Wh. In interval 3 the grid sells at 0.12: a's curve
    # clears at 1.6 kW, 400 Wh, a change of +100 Wh.
    assert day_ahead["day_ahead_energy_wh"].to_dict() == {
        (1, "a"): 500,
        (1, "b"): -500,
        (2, "a"): 300,
        (3, "a"): 300,
    }
    assert day_ahead["real_time_energy_wh"].to_dict()[(3, "a")] == 100
    found = welfare(tables)
    # Interval 1: a values 0.5 kWh at 0.12 (0.06), b's 0.5 kWh cost 0.5 · (0.05 + 0.08333) / 2;
    # interval 0 is not traded. Intervals 2 and 3: a values 0.3 kWh at 0.3 · (0.20 + 0.14) / 2,
    # the grid's 0.3 kWh cost 0.3 · 0.14.
    day_ahead_usd = (0.06 - 0.5 * (0.05 + 0.05 + 0.05 * 2 / 3) / 2) + 2 * (
        0.3 * (0.20 + 0.14) / 2 - 0.3 * 0.14
    )
    # Interval 3: a's change from 0.3 to 0.4 kWh along its curve (0.14 to 0.12) is worth
    # 0.1 · 0.13; the grid's extra 0.1 kWh costs 0.1 · 0.12.
    real_time_usd = 0.1 * 0.13 - 0.1 * 0.12
    assert found["day_ahead_welfare_usd"] == pytest.approx(day_ahead_usd, abs=1e-12)
    assert found["real_time_welfare_usd"] == pytest.approx(real_time_usd, abs=1e-12)
    assert found["welfare_usd"] == pytest.approx(day_ahead_usd + real_time_usd, abs=1e-12)


def test_a_participant_with_two_real_time_orders_is_valued_on_their_sum() -> None:
    halves = [("a/1", [(0.10, 1.0), (0.20, 0.0)]), ("a/2", [(0.10, 1.0), (0.20, 0.0)])]
    one = run_market({0: [A_FLAT, B_SUPPLY], 2: [A_ELASTIC]}, {3: [A_ELASTIC]}, PRICES)
    two = run_market({0: [A_FLAT, B_SUPPLY], 2: [A_ELASTIC]}, {3: halves}, PRICES)
    assert two["day_ahead"].equals(one["day_ahead"])
    assert welfare(two)["real_time_welfare_usd"] == pytest.approx(
        welfare(one)["real_time_welfare_usd"], abs=1e-15
    )


def test_participant_curves_sums_steps_and_slopes() -> None:
    curves = pd.DataFrame(
        {
            "interval_index": 1,
            "participant": "h",
            "order_id": ["a", "a", "b", "b"],
            "price_usd_per_kwh": [0.2, 0.2, 0.1, 0.3],
            "energy_kwh": [1.0, 0.0, 1.0, -1.0],
        }
    )
    summed = participant_curves(curves)
    expected = [[0.1, 2.0], [0.1, 2.0], [0.2, 1.0], [0.2, 0.0], [0.3, -1.0], [0.3, -1.0]]
    np.testing.assert_allclose(
        summed[["price_usd_per_kwh", "energy_kwh"]].to_numpy(), expected, atol=1e-12
    )


def test_no_trades_no_welfare() -> None:
    found = welfare(run_market({0: []}, {}, {0: (0.14, 0.04), 1: (0.14, 0.04)}))
    assert (found["welfare_usd"], found["day_ahead_welfare_usd"]) == (0.0, 0.0)
    assert found["real_time_welfare_usd"] == 0.0


books = st.lists(
    st.tuples(
        st.sampled_from(["buy", "sell"]),
        st.floats(0.0, 0.3),
        st.floats(0.001, 0.2),
        st.floats(0.1, 5.0),
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=40, deadline=None)
@given(books)
def test_welfare_never_exceeds_what_the_buyers_value_their_whole_bids_at(book) -> None:
    # No export revenue (export price 0) and no negative asks: only the buyers bring value.
    curves, buyers_max_usd = [], 0.0
    for n, (side, low, spread, power_kw) in enumerate(book):
        if side == "buy":
            curves.append((f"h{n}", [(low, power_kw), (low + spread, 0.0)]))
            buyers_max_usd += power_kw * HOURS * (low + low + spread) / 2
        else:
            curves.append((f"h{n}", [(low, 0.0), (low + spread, -power_kw)]))
    prices = {0: (0.25, 0.0), 1: (0.25, 0.0), 2: (0.25, 0.0)}
    found = welfare(run_market({0: curves}, {}, prices, period_intervals=3))
    # Two intervals delivered; rounding to whole Wh moves a value by at most 0.5 Wh each.
    assert found["welfare_usd"] <= 2 * buyers_max_usd + 1e-3 * len(book)


@settings(max_examples=30, deadline=None)
@given(st.floats(0.05, 0.3), st.floats(0.005, 0.04), st.integers(1, 400))
def test_a_symmetric_book_is_worth_its_triangle(middle, half_width, steps) -> None:
    # A buyer from q at p0 − d to 0 at p0 + d against the mirror seller: they meet at p0 with
    # q/2 each, worth x·d per interval for x = q/2 · Δm (the triangle between the curves).
    power_kw = steps * 0.008  # q/2 · 900 s is a whole number of Wh
    low, high = middle - half_width, middle + half_width
    book = [("b", [(low, power_kw), (high, 0.0)]), ("s", [(low, 0.0), (high, -power_kw)])]
    prices = {0: (0.5, 0.0), 1: (0.5, 0.0)}
    tables = run_market({0: book}, {1: book}, prices)
    found = welfare(tables)
    assert found["day_ahead_welfare_usd"] == pytest.approx(
        power_kw / 2 * HOURS * half_width, rel=1e-9
    )
    # The same curves in real time change nothing.
    assert (tables["day_ahead"]["real_time_energy_wh"] == 0).all()
    assert found["real_time_welfare_usd"] == pytest.approx(0.0, abs=1e-12)
