"""Moving-average crossover trader: learned prices, moving averages, stages and a closed loop."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tefed.domain.ems.devices.battery import BatteryParameters
from tefed.domain.ems.devices.battery_dispatch import dispatch_battery
from tefed.domain.ems.strategies.ma_crossover import (
    MaCrossoverParameters,
    MaCrossoverTrader,
    TradingStage,
    battery_energy_range_wh,
)
from tefed.domain.ems.strategies.simple_trader import (
    BUY,
    NO_ORDER,
    SELL,
    forecast_residual_energy_wh,
    quote_orders,
)

IMPORT, EXPORT = 0.15, 0.05  # spread 0.10 USD/kWh keeps the hand numbers round


def _parameters(n: int = 1, stage: int | str = 3, **changes: object) -> MaCrossoverParameters:
    settings_ = dict(
        stage=stage,
        fast_window_intervals=2,
        slow_window_intervals=4,
        learning_rate=0.25,
        slots_per_day=96,
        margin_fraction=0.1,
        initial_bid_fraction=np.full(n, 0.8),
        initial_ask_fraction=np.full(n, 0.2),
    )
    return MaCrossoverParameters(**(settings_ | changes))


def _batteries(capacity_kwh: list[float]) -> BatteryParameters:
    """``capacity`` kWh, 5 kW, 0.9 each way, state of charge 10 % to 90 %."""
    n = len(capacity_kwh)
    return BatteryParameters.from_round_trip(capacity_kwh, np.full(n, 5.0), 0.81, 0.1, 0.9)


def _observe_series(trader: MaCrossoverTrader, prices: list[float], slot: int = 0) -> None:
    for interval, price in enumerate(prices):
        trader.observe(interval, slot, price)


# --- parameters -------------------------------------------------------------------------------


def test_stage_is_read_from_number_or_name() -> None:
    assert TradingStage.parse(1) is TradingStage.PV_ONLY
    assert TradingStage.parse("battery_buys") is TradingStage.BATTERY_BUYS
    assert _parameters(stage="BATTERY_TRADES").stage is TradingStage.BATTERY_TRADES
    for bad in (0, 4, "sell_everything", True, 2.0):
        with pytest.raises(ValueError, match="stage is"):
            TradingStage.parse(bad)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"slow_window_intervals": 2}, r"slow_window_intervals is 2; expected more than"),
        ({"fast_window_intervals": 0}, r"fast_window_intervals is 0; expected an integer >= 1"),
        ({"learning_rate": 0.0}, r"learning_rate is 0.0; expected in \(0, 1\]"),
        ({"margin_fraction": 1.5}, r"margin_fraction is 1.5"),
        ({"slots_per_day": 96.0}, r"slots_per_day is 96.0"),
        ({"initial_bid_fraction": np.array([0.5, 1.2])}, r"initial_bid_fraction\[1\] is 1.2"),
        ({"initial_ask_fraction": np.full(3, 0.2)}, r"initial_ask_fraction has 3 entries"),
    ],
)
def test_bad_parameters_are_named(changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _parameters(n=2, **changes)


# --- stages -----------------------------------------------------------------------------------


def _three_households() -> tuple[np.ndarray, np.ndarray, np.ndarray, BatteryParameters]:
    """a: battery at 5 kWh, draws 400 Wh; b: no battery, exports 300 Wh; c: full battery,
    exports 2000 Wh. One 15 min step each."""
    battery = _batteries([10.0, 0.0, 10.0])
    natural_wh = np.array([400.0, -300.0, -2000.0])
    soc_kwh = np.array([5.0, 0.0, 9.0])
    residual_wh = forecast_residual_energy_wh(
        (natural_wh * 3.6 / 900.0)[np.newaxis, :], soc_kwh, battery, 900.0
    )
    return natural_wh, residual_wh, soc_kwh, battery


def _quote(stage: int, prices: list[float]) -> tuple[list[int], list[int]]:
    trader = MaCrossoverTrader(_parameters(n=3, stage=stage))
    _observe_series(trader, prices)
    natural_wh, residual_wh, soc_kwh, battery = _three_households()
    quotes = trader.quote(5, natural_wh, residual_wh, soc_kwh, battery, 900.0, IMPORT, EXPORT)
    return quotes.side.tolist(), quotes.quantity_wh.tolist()


# Fast (2) and slow (4) averages: 0.1025 > 0.09 after RISING, 0.08125 < 0.0825 after FALLING.
RISING = [0.06, 0.08, 0.10, 0.12]  # fast > slow: sell signal
FALLING = [*RISING, 0.06]  # fast < slow: buy signal


@pytest.mark.parametrize("prices", [FALLING, RISING])
def test_stage_1_trades_exactly_the_simple_trader_quantity(prices: list[float]) -> None:
    _, residual_wh, _, _ = _three_households()
    expected = quote_orders(residual_wh, IMPORT, EXPORT, np.full(3, 0.8), np.full(3, 0.2))
    assert _quote(1, prices) == (expected.side.tolist(), expected.quantity_wh.tolist())
    assert expected.side.tolist() == [NO_ORDER, SELL, SELL]


def test_stage_2_battery_buys_on_a_buy_signal() -> None:
    # a: battery stops discharging for the 400 Wh and charges its 1250 Wh power limit.
    # c: full, cannot buy; it still offers its PV surplus.
    assert _quote(2, FALLING) == ([BUY, SELL, SELL], [1650, 300, 2000])


def test_stage_2_never_sells_battery_energy() -> None:
    assert _quote(2, RISING) == ([NO_ORDER, SELL, SELL], [0, 300, 2000])


def test_stage_3_buys_low_and_sells_high() -> None:
    assert _quote(3, FALLING) == ([BUY, SELL, SELL], [1650, 300, 2000])
    # a: covers its 400 Wh and sells the rest of its 1250 Wh: one ask of 850 Wh.
    # c: sells its PV surplus and 1250 Wh of battery energy in one ask.
    assert _quote(3, RISING) == ([SELL, SELL, SELL], [850, 300, 3250])


def test_quote_uses_the_learned_prices() -> None:
    trader = MaCrossoverTrader(_parameters(n=3, stage=3))
    _observe_series(trader, FALLING, slot=5)
    # Slot 5 learned the mean of the first four prices (0.09), then 0.09 + 0.25 * (0.06 - 0.09).
    assert trader.learned_price_usd_per_kwh[5] == pytest.approx(0.0825, abs=1e-12)
    natural_wh, residual_wh, soc_kwh, battery = _three_households()
    quotes = trader.quote(5, natural_wh, residual_wh, soc_kwh, battery, 900.0, IMPORT, EXPORT)
    # a bids 0.0825 + 0.01; b and c ask 0.0825 - 0.01.
    assert quotes.side.tolist() == [BUY, SELL, SELL]
    np.testing.assert_allclose(quotes.price_usd_per_kwh, [0.0925, 0.0725, 0.0725], atol=1e-12)


def test_bad_quote_inputs_are_named() -> None:
    trader = MaCrossoverTrader(_parameters(n=3))
    natural_wh, residual_wh, soc_kwh, battery = _three_households()
    with pytest.raises(ValueError, match=r"residual_wh has shape \(2,\); expected \(3,\)"):
        trader.quote(0, natural_wh, residual_wh[:2], soc_kwh, battery, 900.0, IMPORT, EXPORT)
    with pytest.raises(ValueError, match=r"battery.capacity_kwh has shape \(1,\)"):
        trader.quote(0, natural_wh, residual_wh, soc_kwh, _batteries([1.0]), 900.0, 0.1, 0.05)
    with pytest.raises(ValueError, match=r"export_price_usd_per_kwh is 0\.2; expected"):
        trader.quote(0, natural_wh, residual_wh, soc_kwh, battery, 900.0, 0.1, 0.2)
    with pytest.raises(ValueError, match="interval_s is 0"):
        trader.quote(0, natural_wh, residual_wh, soc_kwh, battery, 0, IMPORT, EXPORT)


def test_unobserved_slot_quotes_at_each_households_initial_fractions() -> None:
    trader = MaCrossoverTrader(
        _parameters(n=3, initial_bid_fraction=[0.8, 0.6, 0.6], initial_ask_fraction=[0.2, 0.5, 0.3])
    )
    _observe_series(trader, FALLING, slot=4)  # slot 5 stays unobserved
    natural_wh, residual_wh, soc_kwh, battery = _three_households()
    quotes = trader.quote(5, natural_wh, residual_wh, soc_kwh, battery, 900.0, IMPORT, EXPORT)
    assert quotes.side.tolist() == [BUY, SELL, SELL]
    np.testing.assert_allclose(quotes.price_usd_per_kwh, [0.13, 0.10, 0.08], rtol=0, atol=1e-12)


def test_battery_energy_range_by_hand() -> None:
    # 10 kWh, 5 kW, 0.9 each way, 1 to 9 kWh; a 2 kWh battery at 1.5 kWh; no battery.
    battery = _batteries([10.0, 2.0, 0.0])
    lowest_wh, highest_wh = battery_energy_range_wh(np.array([5.0, 1.5, 0.0]), battery, 900.0)
    # Big battery: power-limited both ways, 5 kW * 0.25 h. Small one: 1.8 - 1.5 = 0.3 kWh of
    # headroom takes 0.3 / 0.9 kWh; 1.5 - 0.2 = 1.3 kWh above the floor delivers 1.3 * 0.9,
    # more than its 1.25 kWh power limit.
    np.testing.assert_allclose(highest_wh, [1250.0, 300.0 / 0.9, 0.0], rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(lowest_wh, [-1250.0, -1170.0, 0.0], rtol=1e-12, atol=1e-9)


# --- closed loop --------------------------------------------------------------------------------

T_REX_IMPORT, T_REX_EXPORT = 0.1449, 0.069


def _closed_loop(stage: int, days: int = 7) -> dict[str, float]:
    """One battery-only household (no load, no PV) trading on a sine-shaped daily price.

    The market is a price taker at the day's price: a bid at or above it and an ask at or below
    it are filled in full at that price, which the household then observes. The battery follows
    the award over three 5 min grid steps; it starts empty (at soc_min)."""
    slots = 96
    prices = 0.107 + 0.03 * np.sin(2 * np.pi * np.arange(days * slots) / slots)
    trader = MaCrossoverTrader(
        MaCrossoverParameters(
            stage=stage,
            fast_window_intervals=23,  # T-REX's crossover trader: 23 and 50 intervals
            slow_window_intervals=50,
            learning_rate=0.5,
            slots_per_day=slots,
            margin_fraction=0.05,
            initial_bid_fraction=np.full(1, 0.6),
            initial_ask_fraction=np.full(1, 0.4),
        )
    )
    battery = BatteryParameters.from_round_trip([10.0], [5.0], 0.9, 0.1, 0.9)
    soc_kwh = np.array([1.0])
    totals = dict.fromkeys(("bought_wh", "sold_wh", "cost_usd", "revenue_usd"), 0.0)
    for interval, price in enumerate(prices):
        slot = interval % slots
        quotes = trader.quote(
            slot, np.zeros(1), np.zeros(1), soc_kwh, battery, 900.0, T_REX_IMPORT, T_REX_EXPORT
        )
        side, quantity_wh, limit = (
            quotes.side[0],
            quotes.quantity_wh[0],
            quotes.price_usd_per_kwh[0],
        )
        filled = (side == BUY and limit >= price) or (side == SELL and limit <= price)
        award_wh = side * quantity_wh if filled else 0
        delivered_wh = 0.0
        for _ in range(3):
            battery_kw, soc_kwh = dispatch_battery(
                soc_kwh, np.array([award_wh * 3.6 / 900.0]), 300.0, battery
            )
            delivered_wh += float(battery_kw[0]) * 300.0 / 3.6
        # The quotes respect the battery's limits, so every award is delivered.
        assert delivered_wh == pytest.approx(award_wh, abs=1e-6)
        if award_wh > 0:
            totals["bought_wh"] += award_wh
            totals["cost_usd"] += award_wh * price / 1000.0
        elif award_wh < 0:
            totals["sold_wh"] -= award_wh
            totals["revenue_usd"] -= award_wh * price / 1000.0
        trader.observe(interval, slot, float(price))
    return totals


def test_closed_loop_stage_3_buys_low_and_sells_high() -> None:
    totals = _closed_loop(3)
    assert totals["bought_wh"] > 0 and totals["sold_wh"] > 0
    mean_bought = totals["cost_usd"] / totals["bought_wh"]
    mean_sold = totals["revenue_usd"] / totals["sold_wh"]
    # The sale price beats the purchase price by more than the 0.9 round trip loses, and the
    # trading makes a profit even without counting the energy still stored at the end.
    assert mean_sold > mean_bought / 0.9
    assert totals["revenue_usd"] - totals["cost_usd"] > 0


def test_closed_loop_stage_2_buys_but_never_sells() -> None:
    totals = _closed_loop(2, days=3)
    assert totals["bought_wh"] > 0
    assert totals["sold_wh"] == 0


def test_closed_loop_stage_1_leaves_a_lone_battery_out_of_the_market() -> None:
    assert set(_closed_loop(1, days=2).values()) == {0.0}


# --- properties ---------------------------------------------------------------------------------


@st.composite
def _households(draw: st.DrawFn) -> tuple[BatteryParameters, np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 4))
    unit = hnp.arrays(float, n, elements=st.floats(0.0, 1.0))
    capacity = draw(hnp.arrays(float, n, elements=st.sampled_from([0.0, 2.0, 13.5])))
    soc_min = draw(unit) * 0.5
    soc_max = soc_min + draw(unit) * (1.0 - soc_min)
    battery = BatteryParameters.from_round_trip(
        capacity,
        draw(hnp.arrays(float, n, elements=st.floats(0.0, 7.0))),
        draw(hnp.arrays(float, n, elements=st.floats(0.5, 1.0))),
        soc_min,
        np.minimum(soc_max, 1.0),
    )
    soc_kwh = draw(unit) * capacity
    natural_wh = draw(hnp.arrays(float, n, elements=st.floats(-6000.0, 6000.0)))
    return battery, soc_kwh, natural_wh


@settings(max_examples=200, deadline=None)
@given(
    households=_households(),
    stage=st.sampled_from([1, 2, 3]),
    observed=st.lists(st.floats(0.0, 0.3), min_size=0, max_size=12),
    interval_s=st.sampled_from([300.0, 900.0, 3600.0]),
    export_price=st.floats(0.0, 0.1),
    spread=st.floats(0.0, 0.2),
    margin=st.floats(0.0, 1.0),
)
def test_quotes_respect_battery_limits_stages_and_prices(
    households: tuple[BatteryParameters, np.ndarray, np.ndarray],
    stage: int,
    observed: list[float],
    interval_s: float,
    export_price: float,
    spread: float,
    margin: float,
) -> None:
    battery, soc_kwh, natural_wh = households
    n = natural_wh.size
    trader = MaCrossoverTrader(_parameters(n=n, stage=stage, margin_fraction=margin))
    _observe_series(trader, observed)
    residual_wh = forecast_residual_energy_wh(
        (natural_wh * 3.6 / interval_s)[np.newaxis, :], soc_kwh, battery, interval_s
    )
    import_price = export_price + spread
    quotes = trader.quote(
        0, natural_wh, residual_wh, soc_kwh, battery, interval_s, import_price, export_price
    )

    ordering = quotes.side != NO_ORDER
    assert (quotes.quantity_wh[ordering] > 0).all() and (quotes.quantity_wh[~ordering] == 0).all()
    assert (quotes.price_usd_per_kwh[ordering] >= export_price - 1e-12).all()
    assert (quotes.price_usd_per_kwh[ordering] <= import_price + 1e-12).all()

    net_wh = quotes.side * quotes.quantity_wh
    extra_wh = net_wh - np.rint(residual_wh)
    signal = trader.signal().side
    if stage == 1 or signal == NO_ORDER:
        assert (extra_wh == 0).all()
    elif signal == BUY:
        assert (extra_wh >= 0).all()
    else:
        assert (extra_wh <= 0).all()
        assert stage == 3 or (extra_wh == 0).all()

    # Where the battery trades, the battery energy the order implies is one it can deliver:
    # dispatched over the interval it applies exactly the requested power.
    trading = extra_wh != 0
    battery_wh = net_wh - natural_wh
    request_kw = np.where(trading, battery_wh * 3.6 / interval_s, 0.0)
    applied_kw, _ = dispatch_battery(soc_kwh, request_kw, interval_s, battery)
    np.testing.assert_allclose(applied_kw[trading], request_kw[trading], rtol=1e-9, atol=1e-9)
