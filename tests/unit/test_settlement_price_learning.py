"""Settlement-price learning: learned per-slot prices, limit prices and moving averages."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tefed.domain.ems.strategies.settlement_price_learning import (
    SettlementPriceLearner,
    check_learning_settings,
    limit_prices_usd_per_kwh,
    update_average,
)
from tefed.domain.ems.strategies.simple_trader import BUY, NO_ORDER, SELL

IMPORT, EXPORT = 0.15, 0.05  # spread 0.10 USD/kWh keeps the hand numbers round


def _learner(learning_rate: float = 0.25) -> SettlementPriceLearner:
    return SettlementPriceLearner(96, learning_rate, 2, 4)


def _prices(learned: float, margin: float = 0.1) -> tuple[list[float], list[float]]:
    bid, ask = limit_prices_usd_per_kwh(
        learned, IMPORT, EXPORT, margin, np.array([0.8, 0.6]), np.array([0.2, 0.5])
    )
    return bid.tolist(), ask.tolist()


def test_running_start_average_by_hand() -> None:
    # Weights max(1/k, 0.25): 1, 1/2, 1/3, then 0.25.
    average = math.nan
    for count, (price, expected) in enumerate(
        [(0.08, 0.08), (0.12, 0.10), (0.14, 0.10 + 0.04 / 3), (0.06, 0.10)]
    ):
        average = update_average(average, count, price, 0.25)
        assert average == pytest.approx(expected, abs=1e-12)


def test_learned_price_of_a_slot_over_four_days() -> None:
    learner = _learner()
    for day, price in enumerate([0.08, 0.12, 0.14, 0.06]):
        learner.observe(7 + 96 * day, 7, price)
    learned = learner.learned_price_usd_per_kwh
    assert learned[7] == pytest.approx(0.10, abs=1e-12)
    assert np.isnan(np.delete(learned, 7)).all()


def test_learning_rate_one_keeps_the_last_price() -> None:
    learner = _learner(learning_rate=1.0)
    for interval, price in enumerate([0.08, 0.13, 0.11]):
        learner.observe(interval, 3, price)
    assert learner.learned_price_usd_per_kwh[3] == pytest.approx(0.11, abs=1e-12)


def test_limit_prices_sit_a_margin_around_the_learned_price() -> None:
    # Margin 0.1 of the 0.10 spread: every household bids 0.11 and asks 0.09.
    bid, ask = _prices(0.10)
    assert bid == pytest.approx([0.11, 0.11], abs=1e-12)
    assert ask == pytest.approx([0.09, 0.09], abs=1e-12)


def test_unobserved_slot_uses_each_households_initial_fractions() -> None:
    bid, ask = _prices(math.nan)
    assert bid == pytest.approx([0.13, 0.11], abs=1e-12)
    assert ask == pytest.approx([0.07, 0.10], abs=1e-12)


@pytest.mark.parametrize(
    ("learned", "bid", "ask"),
    [(0.16, 0.15, 0.15), (0.145, 0.15, 0.135), (0.055, 0.065, 0.05), (0.02, 0.05, 0.05)],
)
def test_limit_prices_are_clipped_to_export_and_import(
    learned: float, bid: float, ask: float
) -> None:
    bid_price, ask_price = _prices(learned)
    assert bid_price == pytest.approx([bid, bid], abs=1e-12)
    assert ask_price == pytest.approx([ask, ask], abs=1e-12)


@given(
    learned=st.one_of(st.just(math.nan), st.floats(-1.0, 1.0)),
    export_price=st.floats(-0.1, 0.3),
    spread=st.floats(0.0, 0.5),
    margin=st.floats(0.0, 1.0),
    fraction=st.floats(0.0, 1.0),
)
def test_limit_prices_stay_within_export_and_import(
    learned: float, export_price: float, spread: float, margin: float, fraction: float
) -> None:
    import_price = export_price + spread
    for prices in limit_prices_usd_per_kwh(
        learned, import_price, export_price, margin, np.full(3, fraction), np.full(3, fraction)
    ):
        assert (prices >= export_price - 1e-12).all()
        assert (prices <= import_price + 1e-12).all()


def test_limit_prices_reject_an_export_price_above_import() -> None:
    with pytest.raises(ValueError, match=r"export_price_usd_per_kwh is 0\.2; expected"):
        limit_prices_usd_per_kwh(0.1, 0.1, 0.2, 0.1, np.ones(1), np.ones(1))
    with pytest.raises(ValueError, match="export_price_usd_per_kwh is nan"):
        limit_prices_usd_per_kwh(0.1, 0.1, math.nan, 0.1, np.ones(1), np.ones(1))


def test_moving_averages_by_hand() -> None:
    learner = _learner()
    assert math.isnan(learner.signal().fast_price_usd_per_kwh)
    assert learner.signal().side == NO_ORDER
    # Fast (2): 0.10, 0.15, 0.225, 0.3125; slow (4): plain mean up to the fourth price.
    for interval, price in enumerate([0.10, 0.20, 0.30, 0.40]):
        learner.observe(interval, interval, price)
    signal = learner.signal()
    assert signal.fast_price_usd_per_kwh == pytest.approx(0.3125, abs=1e-12)
    assert signal.slow_price_usd_per_kwh == pytest.approx(0.25, abs=1e-12)
    assert signal.side == SELL  # prices high against their trend
    # Fifth price 0.10: fast 0.3125 - 0.5 * 0.2125, slow 0.25 - 0.25 * 0.15.
    learner.observe(4, 4, 0.10)
    signal = learner.signal()
    assert signal.fast_price_usd_per_kwh == pytest.approx(0.20625, abs=1e-12)
    assert signal.slow_price_usd_per_kwh == pytest.approx(0.2125, abs=1e-12)
    assert signal.side == BUY


def test_a_flat_price_gives_no_signal() -> None:
    learner = _learner()
    for interval in range(10):
        learner.observe(interval, interval, 0.1)
    assert learner.signal().side == NO_ORDER


def test_nan_settlement_is_ignored_but_the_interval_counts_as_seen() -> None:
    learner = _learner()
    learner.observe(0, 0, 0.10)
    learner.observe(1, 0, 0.20)
    before = (learner.learned_price_usd_per_kwh, learner.signal())
    learner.observe(2, 0, math.nan)
    np.testing.assert_array_equal(learner.learned_price_usd_per_kwh, before[0])
    assert learner.signal() == before[1]
    with pytest.raises(ValueError, match="interval_index is 2; expected more than 2"):
        learner.observe(2, 0, 0.10)


def test_bad_observations_are_rejected() -> None:
    learner = _learner()
    with pytest.raises(ValueError, match=r"slot is 96; expected in \[0, 96\)"):
        learner.observe(0, 96, 0.10)
    with pytest.raises(ValueError, match="settlement_price_usd_per_kwh is inf"):
        learner.observe(0, 0, math.inf)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ((96, 0.5, 4, 4), r"slow_window_intervals is 4; expected more than"),
        ((96, 0.5, 0, 4), r"fast_window_intervals is 0; expected an integer >= 1"),
        ((96.0, 0.5, 2, 4), r"slots_per_day is 96.0; expected an integer"),
        ((96, 0.0, 2, 4), r"learning_rate is 0.0; expected in \(0, 1\]"),
        ((96, 1.5, 2, 4), r"learning_rate is 1.5"),
    ],
)
def test_bad_settings_are_named(settings: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_learning_settings(*settings)
    with pytest.raises(ValueError, match=message):
        SettlementPriceLearner(*settings)
