"""TENT version 2: a day-ahead clearing and its real-time correction, by hand and as properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tefed.domain.market.clearing import ClearingPrices
from tefed.domain.market.day_ahead_real_time import DayAheadRealTime
from tefed.domain.market.interval_book import IntervalBook
from tefed.domain.market.ledger_checks import check_market_balances, check_payments
from tefed.domain.market.mechanisms.day_ahead import (
    MARKET_STATES,
    day_ahead_markets,
    market_object_states,
)
from tefed.domain.market.settlement import settle_interval

IMPORT, EXPORT = 0.14, 0.04


def vertices(period: int, *curves: tuple[str, list[tuple[float, float]]]) -> pd.DataFrame:
    """Vertex rows of ``(participant, [(price, power_kw), ...])`` curves for one period."""
    return pd.DataFrame(
        [
            {
                "period": period,
                "order_id": f"{participant}:{period}",
                "participant": participant,
                "price_usd_per_kwh": price,
                "power_kw": power,
                "continuity": True,
            }
            for participant, points in curves
            for price, power in points
        ]
    )


def real_time_book(interval: int, *curves: tuple[str, list[tuple[float, float]]]) -> IntervalBook:
    rows = vertices(interval, *curves).drop(columns="period").to_dict("records") if curves else []
    return IntervalBook.from_rows(interval, 900, [], rows, [])


# a buys 2 kW whatever the price; b sells from 0 kW at 0.05 to 3 kW at 0.10 USD/kWh.
A_DAY_AHEAD = ("a", [(0.12, 2.0)])
B_CURVE = ("b", [(0.05, 0.0), (0.10, -3.0)])


def test_day_ahead_clearing_and_its_real_time_correction() -> None:
    market = DayAheadRealTime(interval_s=900, period_intervals=4)
    result = market.clear_day_ahead(
        vertices(4, A_DAY_AHEAD, B_CURVE), pd.Series({4: IMPORT}), pd.Series({4: EXPORT})
    )
    # b supplies 2 kW at 0.05 + (2/3)·0.05 = 0.08333 USD/kWh: a commits to 500 Wh per
    # 15-minute interval of the hour, b to −500 Wh.
    assert result.price_usd_per_kwh[4] == pytest.approx(0.05 + 0.05 * 2 / 3)
    assert dict(zip(result.power_kw["participant"], result.power_kw["power_kw"], strict=True)) == {
        "a": pytest.approx(2.0),
        "b": pytest.approx(-2.0),
    }
    # In real time (interval 5) a needs only 1.2 kW: b supplies it at 0.05 + 0.4·0.05 = 0.07.
    # Each trades only its change: a sells 200 Wh back, b buys 200 Wh back, at 0.07.
    outcome = market.clear(
        real_time_book(5, ("a", [(0.12, 1.2)]), B_CURVE), ClearingPrices(IMPORT, EXPORT)
    )
    table = outcome.tables["day_ahead"].set_index("participant")
    assert table["day_ahead_energy_wh"].to_dict() == {"a": 500, "b": -500}
    assert table["real_time_energy_wh"].to_dict() == {"a": -200, "b": 200}
    assert outcome.prices_usd_per_kwh == {
        "day_ahead": pytest.approx(0.0833333333),
        "real_time": pytest.approx(0.07),
    }
    # Day-ahead energy at the day-ahead price, the change at the real-time price.
    ledger = settle_interval(pd.Series({"a": 300.0, "b": -300.0}), outcome.trades, IMPORT, EXPORT)
    bills = ledger.groupby("participant")["amount_usd"].sum()
    assert bills["a"] == pytest.approx(0.5 * 0.05 * (1 + 2 / 3) - 0.2 * 0.07)
    assert bills["b"] == pytest.approx(-bills["a"])
    assert check_market_balances(outcome.trades) == []
    assert check_payments(ledger) == []


def test_a_household_without_a_real_time_order_keeps_its_commitment() -> None:
    market = DayAheadRealTime(interval_s=900, period_intervals=4)
    market.clear_day_ahead(
        vertices(4, A_DAY_AHEAD, B_CURVE), pd.Series({4: IMPORT}), pd.Series({4: EXPORT})
    )
    outcome = market.clear(real_time_book(6, B_CURVE), ClearingPrices(IMPORT, EXPORT))
    table = outcome.tables["day_ahead"].set_index("participant")
    # b alone clears at 0 kW in real time (no buyer): it buys its 500 Wh back; a keeps 500 Wh.
    assert table["real_time_energy_wh"].to_dict() == {"a": 0, "b": 500}
    assert check_market_balances(outcome.trades) == []


def test_an_interval_outside_the_day_ahead_market_trades_in_real_time_only() -> None:
    market = DayAheadRealTime(interval_s=900, period_intervals=4)
    outcome = market.clear(
        real_time_book(9, ("a", [(0.12, 1.2)]), B_CURVE), ClearingPrices(IMPORT, EXPORT)
    )
    assert set(outcome.prices_usd_per_kwh) == {"real_time"}
    assert outcome.tables["day_ahead"]["day_ahead_energy_wh"].eq(0).all()


@st.composite
def day_ahead_books(draw: st.DrawFn) -> tuple[pd.DataFrame, list[tuple[str, list]]]:
    """A day-ahead book of one period and a real-time book, 1-5 households each."""

    def curve(participant: str) -> tuple[str, list[tuple[float, float]]]:
        power = draw(st.floats(-5, 5).filter(lambda p: abs(p) > 1e-3))
        if draw(st.booleans()):
            return participant, [(draw(st.floats(0.0, 0.2)), power)]
        low = draw(st.floats(0.0, 0.1))
        high = low + draw(st.floats(0.01, 0.1))
        # Non-increasing in price: a buyer takes less, a seller offers more as prices rise.
        return participant, [(low, max(power, 0.0)), (high, min(power, 0.0))]

    names = [f"h{k}" for k in range(draw(st.integers(1, 5)))]
    day_ahead = [curve(name) for name in names]
    real_time = [curve(name) for name in names if draw(st.booleans())]
    return vertices(4, *day_ahead), real_time


@settings(max_examples=80, deadline=None)
@given(day_ahead_books())
def test_money_balances_and_awards_stay_within_the_curves(books) -> None:
    day_ahead, real_time = books
    market = DayAheadRealTime(interval_s=900, period_intervals=4, feeder_capacity_kw=8.0)
    result = market.clear_day_ahead(day_ahead, pd.Series({4: IMPORT}), pd.Series({4: EXPORT}))
    # Each commitment lies within its curve's range of power.
    by_order = day_ahead.groupby("order_id")["power_kw"]
    low, high = by_order.min(), by_order.max()
    cleared = result.power_kw.set_index("order_id")["power_kw"]
    assert (cleared >= low.reindex(cleared.index) - 1e-9).all()
    assert (cleared <= high.reindex(cleared.index) + 1e-9).all()
    for interval in (4, 5, 6, 7):
        outcome = market.clear(real_time_book(interval, *real_time), ClearingPrices(IMPORT, EXPORT))
        assert check_market_balances(outcome.trades) == []
        table = outcome.tables["day_ahead"]
        # A household's real-time change is its real-time energy less its commitment.
        energy = pd.Series(0.0, index=sorted(set(day_ahead["participant"])))
        ledger = settle_interval(energy, outcome.trades, IMPORT, EXPORT)
        assert check_payments(ledger) == []
        ordering = {participant for participant, _ in real_time}
        silent = table[~table["participant"].isin(ordering)]
        assert (silent["real_time_energy_wh"] == 0).all()


def test_day_ahead_markets_of_a_run_and_the_states_of_their_objects() -> None:
    markets = day_ahead_markets(
        n_intervals=192, interval_s=900, grid_step_s=60, period_s=3600, gate_closure_hour=12
    )
    assert [market.gate_closure_s for market in markets] == [0, 43200]
    states = market_object_states(
        np.array([m.gate_closure_s for m in markets]),
        [m.period_starts for m in markets],
        period_intervals=4,
        interval_s=900,
        gate_closure_s=60,
        delivery_ahead_intervals=1,
        n_intervals=192,
    )
    # 48 day-ahead periods and 191 real-time intervals, six states each, in time order.
    assert len(states) == (48 + 191) * len(MARKET_STATES)
    for _, states_of_one in states.groupby(["market", "interval_index"]):
        assert states_of_one["state"].tolist() == list(MARKET_STATES)
        assert states_of_one["time_s"].is_monotonic_increasing
    second_day = states[(states["market"] == "day_ahead") & (states["interval_index"] == 96)]
    assert second_day.set_index("state")["time_s"].to_dict() == {
        "inactive": 0,
        "active": 0,
        "cleared": 43200,
        "delivery": 86400,
        "reconcile": 90000,
        "expired": 90900,
    }
