"""EV charging: hand-computed uncontrolled and smart days, infeasible needs, validation, and the
property that a feasible need is always met by the departure."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tefed.domain.ems.devices.ev import EvParameters, EvState, EvStep, charge_ev, initial_ev_state

HOUR_S = 3600.0
QUARTER_S = 900.0


def _car(
    need_kwh: float = 18.0, arrival_hour: float = 18.0, departure_hour: float = 7.0
) -> EvParameters:
    """60 kWh car, 10 kW charger at 90 %: 2.25 kWh stored per quarter hour at full power."""
    return EvParameters([60.0], 10.0, 0.9, arrival_hour, departure_hour, need_kwh)


def _run(
    parameters: EvParameters,
    start_hour: float,
    steps: int,
    request_kw: float | np.ndarray | None = None,
    duration_s: float = QUARTER_S,
) -> list[EvStep]:
    """Step from ``start_hour`` (car away unless inside its window) with a fixed request."""
    state = initial_ev_state(start_hour * HOUR_S, parameters)
    n = parameters.household_count
    request = None if request_kw is None else np.broadcast_to(request_kw, (n,))
    results = []
    for k in range(steps):
        time_of_day_s = (start_hour * HOUR_S + k * duration_s) % 86400.0
        step = charge_ev(state, request, time_of_day_s, duration_s, parameters)
        results.append(step)
        state = step.state
    return results


def _powers(steps: list[EvStep]) -> np.ndarray:
    return np.array([s.charging_power_kw for s in steps])


def test_uncontrolled_charges_at_full_power_until_the_need_is_met() -> None:
    # 18 kWh at 9 kWh/h stored: 18:00 to 20:00 at 10 kW, then nothing until 07:00.
    steps = _run(_car(), start_hour=17.0, steps=4 * 15)
    power = _powers(steps)[:, 0]
    np.testing.assert_array_equal(power[:4], 0.0)  # 17:00-18:00, away
    np.testing.assert_array_equal(power[4:12], 10.0)  # 18:00-20:00
    np.testing.assert_array_equal(power[12:], 0.0)
    assert steps[11].state.energy_to_go_kwh[0] == 0.0
    assert steps[3].state.plugged[0] == np.False_ and steps[4].state.plugged[0]


def test_uncontrolled_last_step_takes_only_the_rest() -> None:
    # 17.1 kWh: seven quarters store 15.75 kWh; the eighth needs 1.35 / (0.9 * 0.25) = 6 kW.
    power = _powers(_run(_car(need_kwh=17.1), start_hour=18.0, steps=9))[:, 0]
    np.testing.assert_array_equal(power[:7], 10.0)
    assert power[7] == pytest.approx(6.0, rel=1e-12)
    assert power[8] == 0.0


def test_arrival_inside_a_step_charges_for_the_plugged_part_only() -> None:
    # Plugged at 18:05: 10 minutes of the 18:00-18:15 step, 10 kW * 600 / 900 on average.
    steps = _run(_car(arrival_hour=18.0 + 5.0 / 60.0), start_hour=18.0, steps=2)
    assert steps[0].charging_power_kw[0] == pytest.approx(10.0 * 600.0 / 900.0, rel=1e-9)
    assert steps[0].state.energy_to_go_kwh[0] == pytest.approx(18.0 - 1.5, rel=1e-9)
    assert steps[1].charging_power_kw[0] == 10.0


def test_overnight_departure_reports_no_shortfall_when_met() -> None:
    # Window 18:00 -> 07:00 of the next day; the 06:45-07:00 step is the departure.
    steps = _run(_car(), start_hour=18.0, steps=4 * 13 + 1)
    departed = np.array([s.departed[0] for s in steps])
    assert np.flatnonzero(departed).tolist() == [4 * 13 - 1]
    assert steps[4 * 13 - 1].shortfall_kwh[0] == 0.0
    assert not steps[-1].state.plugged[0]
    assert steps[-1].charging_power_kw[0] == 0.0  # 07:00-07:15, away


def test_smart_waits_then_starts_at_the_latest_moment() -> None:
    # Requesting 0 kW all night, the 18 kWh (2 h at full power) start at 05:00 and end at 07:00.
    steps = _run(_car(), start_hour=18.0, steps=4 * 13, request_kw=0.0)
    power = _powers(steps)[:, 0]
    latest = 4 * 11  # 05:00 is 11 h after 18:00
    np.testing.assert_array_equal(power[:latest], 0.0)
    np.testing.assert_array_equal(power[latest:], 10.0)
    assert steps[-1].departed[0]
    assert steps[-1].shortfall_kwh[0] == 0.0
    assert steps[-1].state.energy_to_go_kwh[0] == 0.0


def test_smart_latest_start_inside_a_step() -> None:
    # 17.1 kWh need 1.9 h at full power: start 05:06. In 05:00-05:15 the 1.75 h left after the
    # step store 15.75 kWh, so this step must store 1.35 kWh: 6 kW. Then 10 kW.
    power = _powers(_run(_car(need_kwh=17.1), start_hour=18.0, steps=4 * 13, request_kw=0.0))
    latest = 4 * 11
    np.testing.assert_array_equal(power[:latest, 0], 0.0)
    assert power[latest, 0] == pytest.approx(6.0, rel=1e-9)
    np.testing.assert_array_equal(power[latest + 1 :, 0], 10.0)


def test_smart_request_is_followed_within_the_limits() -> None:
    # 3 kW requested: 0.675 kWh per quarter, the need of 18 kWh is met well before 05:00.
    power = _powers(_run(_car(), start_hour=18.0, steps=4 * 13, request_kw=3.0))[:, 0]
    stored = power * 0.9 * 0.25
    full_quarters = int(18.0 // 0.675)  # 26 quarters store 17.55 kWh
    np.testing.assert_array_equal(power[:full_quarters], 3.0)
    assert power[full_quarters] == pytest.approx((18.0 - 17.55) / (0.9 * 0.25), rel=1e-9)
    np.testing.assert_array_equal(power[full_quarters + 1 :], 0.0)
    assert stored.sum() == pytest.approx(18.0, rel=1e-12)
    # A request above the charger is capped; a negative request means no charging.
    assert _run(_car(), 18.0, 1, request_kw=50.0)[0].charging_power_kw[0] == 10.0
    assert _run(_car(), 18.0, 1, request_kw=-4.0)[0].charging_power_kw[0] == 0.0


def test_need_larger_than_the_window_charges_all_the_time_and_reports_the_rest() -> None:
    # 18:00-21:00 at 9 kWh/h stores 27 kWh of the 54 kWh needed: 27 kWh short at 21:00.
    for request in (None, 0.0):
        steps = _run(_car(need_kwh=54.0, departure_hour=21.0), 18.0, 13, request_kw=request)
        power = _powers(steps)[:, 0]
        np.testing.assert_array_equal(power[:12], 10.0)
        assert power[12] == 0.0
        assert steps[11].departed[0]
        assert steps[11].shortfall_kwh[0] == pytest.approx(27.0, rel=1e-12)
        assert all(s.shortfall_kwh[0] == 0.0 for s in steps[:11] + steps[12:])


def test_departure_inside_a_step_uses_the_plugged_part() -> None:
    # Window 18:00-18:10, need 3 kWh; only 10 minutes at 9 kWh/h = 1.5 kWh can be stored.
    steps = _run(_car(need_kwh=3.0, departure_hour=18.0 + 10.0 / 60.0), 18.0, 1, duration_s=600)
    assert steps[0].charging_power_kw[0] == 10.0
    assert steps[0].departed[0]
    assert steps[0].shortfall_kwh[0] == pytest.approx(1.5, rel=1e-9)


def test_need_is_renewed_at_every_arrival() -> None:
    # Two days of uncontrolled charging draw 2 * 18 / 0.9 = 40 kWh from the bus.
    steps = _run(_car(), start_hour=12.0, steps=2 * 96)
    power = _powers(steps)[:, 0]
    assert power.sum() * 0.25 == pytest.approx(40.0, rel=1e-12)
    assert sum(int(s.departed[0]) for s in steps) == 2


def test_daytime_window_and_households_without_an_ev() -> None:
    # Household 0 charges at work-like hours 08:00-17:00; household 1 has no EV.
    ev = EvParameters([40.0, 0.0], [7.4, 7.4], 0.9, [8.0, 8.0], [17.0, 17.0], [6.66, 30.0])
    power = _powers(_run(ev, start_hour=6.0, steps=48))
    np.testing.assert_array_equal(power[:8, 0], 0.0)
    np.testing.assert_array_equal(power[8:12, 0], 7.4)  # 6.66 kWh = 1 h at 7.4 * 0.9
    np.testing.assert_array_equal(power[12:, 0], 0.0)
    np.testing.assert_array_equal(power[:, 1], 0.0)


def test_initial_state_inside_the_window_starts_with_the_whole_need() -> None:
    ev = EvParameters([60.0, 60.0, 0.0], 7.4, 0.9, [18.0, 8.0, 18.0], [7.0, 17.0, 7.0], 12.0)
    state = initial_ev_state(2 * HOUR_S, ev)
    np.testing.assert_array_equal(state.plugged, [True, False, False])
    np.testing.assert_array_equal(state.energy_to_go_kwh, [12.0, 0.0, 0.0])


def test_derived_window_quantities() -> None:
    ev = EvParameters([60.0, 60.0, 0.0], 10.0, 0.9, [18.0, 8.0, 24.0], [7.0, 17.5, 7.0], 5.0)
    np.testing.assert_array_equal(ev.plugged_duration_s, [13 * HOUR_S, 9.5 * HOUR_S, 7 * HOUR_S])
    np.testing.assert_allclose(ev.deliverable_kwh, [117.0, 85.5, 63.0], rtol=1e-15)
    np.testing.assert_array_equal(ev.need_kwh, [5.0, 5.0, 0.0])
    np.testing.assert_array_equal(ev.has_ev, [True, True, False])


_IDS = ("h001", "h007")


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        ({"capacity_kwh": [60.0, -1.0]}, r"^households\[h007\]\.ev\.capacity_kwh is -1\.0"),
        ({"charger_kw": [np.inf, 7.4]}, r"^households\[h001\]\.ev\.charger_kw is inf"),
        ({"efficiency": [0.9, 0.0]}, r"households\[h007\]\.ev\.efficiency is 0\.0; expected in"),
        ({"arrival_hour": [18.0, 25.0]}, r"arrival_hour is 25\.0; expected in \[0, 24\]"),
        (
            {"departure_hour": [18.0, 7.0]},
            r"^households\[h001\]\.ev\.departure_hour is 18\.0; expected a time of day other",
        ),
        (
            {"energy_needed_kwh": [61.0, 5.0]},
            r"energy_needed_kwh is 61\.0; expected in \[0, capacity_kwh\]",
        ),
        ({"energy_needed_kwh": [5.0, -2.0]}, r"h007\]\.ev\.energy_needed_kwh is -2\.0"),
        ({"charger_kw": [7.4, 7.4, 7.4]}, r"charger_kw has 3 entries; expected 2"),
    ],
)
def test_invalid_parameters_name_the_household(
    change: dict[str, list[float]], pattern: str
) -> None:
    values: dict[str, object] = {
        "capacity_kwh": [60.0, 60.0],
        "charger_kw": 7.4,
        "efficiency": 0.9,
        "arrival_hour": 18.0,
        "departure_hour": 7.0,
        "energy_needed_kwh": 10.0,
    }
    values.update(change)
    with pytest.raises(ValueError, match=pattern):
        EvParameters(**values, household_ids=_IDS)  # type: ignore[arg-type]


def test_households_without_an_ev_need_no_consistent_window() -> None:
    ev = EvParameters([0.0], 0.0, 1.0, 0.0, 0.0, 25.0)
    step = charge_ev(initial_ev_state(0.0, ev), None, 0.0, 86400.0, ev)
    assert step.charging_power_kw[0] == 0.0 and not step.departed[0]


def test_invalid_step_inputs() -> None:
    ev = EvParameters([60.0, 60.0], 7.4, 0.9, [18.0, 18.0], [7.0, 18.25], 10.0, household_ids=_IDS)
    state = initial_ev_state(0.0, ev)
    with pytest.raises(ValueError, match=r"^households\[h007\]\.ev\.duration_s is 1800\.0; "):
        charge_ev(state, None, 0.0, 1800.0, ev)
    with pytest.raises(ValueError, match=r"time_of_day_s is 86400\.0; expected local seconds"):
        charge_ev(state, None, 86400.0, 900.0, ev)
    with pytest.raises(ValueError, match="duration_s is -1"):
        charge_ev(state, None, 0.0, -1.0, ev)
    with pytest.raises(ValueError, match=r"requested_power_kw is nan; expected a number"):
        charge_ev(state, np.array([1.0, np.nan]), 0.0, 900.0, ev)
    with pytest.raises(ValueError, match=r"requested_power_kw has shape \(3,\); expected \(2,\)"):
        charge_ev(state, np.zeros(3), 0.0, 900.0, ev)
    with pytest.raises(ValueError, match=r"plugged has shape \(1,\)"):
        charge_ev(EvState(np.zeros(2), np.zeros(1, bool)), None, 0.0, 900.0, ev)


def _window_s(arrival_hour: float, departure_hour: float) -> float:
    """Plug-in window as the model resolves it (a household without an EV checks nothing)."""
    probe = EvParameters([0.0], 0.0, 1.0, arrival_hour, departure_hour, 0.0)
    return float(probe.plugged_duration_s[0])


@settings(max_examples=60, deadline=None)
@given(
    arrival_hour=st.floats(0.0, 24.0),
    departure_hour=st.floats(0.0, 24.0),
    charger_kw=st.floats(1.0, 22.0),
    efficiency=st.floats(0.5, 1.0),
    need_fraction=st.floats(0.0, 1.0),
    duration_s=st.sampled_from([60.0, 300.0, 900.0]),
    requests=st.lists(
        st.one_of(st.floats(-5.0, 30.0), st.just(0.0), st.just(np.inf)), min_size=1, max_size=8
    ),
)
def test_a_feasible_need_is_met_by_the_departure_whatever_the_requests(
    arrival_hour: float,
    departure_hour: float,
    charger_kw: float,
    efficiency: float,
    need_fraction: float,
    duration_s: float,
    requests: list[float],
) -> None:
    window_s = _window_s(arrival_hour, departure_hour)
    assume(duration_s <= min(window_s, 86400.0 - window_s))
    deliverable_kwh = charger_kw * efficiency * window_s / HOUR_S
    need_kwh = need_fraction * min(deliverable_kwh, 100.0)
    ev = EvParameters([100.0], charger_kw, efficiency, arrival_hour, departure_hour, need_kwh)

    # Start at the departure time: away first, then one whole window.
    start_s = float(ev.departure_time_of_day_s[0])
    state = initial_ev_state(start_s, ev)
    assert not state.plugged[0]
    stored_kwh = 0.0
    departures = []
    for k in range(int(np.ceil(86400.0 / duration_s)) + 1):
        request = np.array([requests[k % len(requests)]])
        step = charge_ev(state, request, (start_s + k * duration_s) % 86400.0, duration_s, ev)
        assert 0.0 <= step.charging_power_kw[0] <= charger_kw
        stored_kwh += step.charging_power_kw[0] * efficiency * duration_s / HOUR_S
        if step.departed[0]:
            departures.append(step.shortfall_kwh[0])
        state = step.state
    assert len(departures) == 1
    assert departures[0] == pytest.approx(0.0, abs=1e-9 * (1.0 + need_kwh))
    assert stored_kwh == pytest.approx(need_kwh, rel=1e-9, abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(
    arrival_hour=st.floats(0.0, 24.0),
    window_hours=st.floats(0.5, 12.0),
    charger_kw=st.floats(1.0, 22.0),
    excess=st.floats(1.01, 3.0),
    smart=st.booleans(),
)
def test_an_infeasible_need_charges_at_full_power_and_reports_the_rest(
    arrival_hour: float, window_hours: float, charger_kw: float, excess: float, smart: bool
) -> None:
    departure_hour = (arrival_hour + window_hours) % 24.0
    window_s = _window_s(arrival_hour, departure_hour)
    assume(window_s >= 900.0)
    deliverable_kwh = charger_kw * 0.9 * window_s / HOUR_S
    ev = EvParameters(
        [1000.0], charger_kw, 0.9, arrival_hour, departure_hour, excess * deliverable_kwh
    )
    start_s = float(ev.departure_time_of_day_s[0])
    state = initial_ev_state(start_s, ev)
    drawn_kwh, shortfalls = 0.0, []
    for k in range(97):
        request = np.zeros(1) if smart else None
        step = charge_ev(state, request, (start_s + k * 900.0) % 86400.0, 900.0, ev)
        drawn_kwh += step.charging_power_kw[0] * 0.25
        if step.departed[0]:
            shortfalls.append(step.shortfall_kwh[0])
        state = step.state
    assert drawn_kwh == pytest.approx(charger_kw * window_s / HOUR_S, rel=1e-9)
    assert shortfalls == [pytest.approx((excess - 1.0) * deliverable_kwh, rel=1e-9)]


def test_shortest_stay_over_ranges_of_arrival_and_departure() -> None:
    from tefed.domain.ems.devices.ev import shortest_stay_s

    # 17:00-19:30 arrivals, 6:30-8:00 departures: 11 h plugged in at least, 9 h away at least.
    assert shortest_stay_s(17.0, 19.5, 6.5, 8.0) == 9 * 3600
    # Ranges that overlap, or meet at midnight (24 is 0), can close the window.
    assert shortest_stay_s(17.0, 19.5, 19.0, 20.0) == 0
    assert shortest_stay_s(23.0, 24.0, 0.0, 1.0) == 0
    # Times resolve to whole seconds: 17:00:00.36 is 17:00.
    assert shortest_stay_s(17.0, 17.0, 17.0001, 17.0001) == 0
    assert shortest_stay_s(17.0, 17.0, 17.01, 17.01) == 36
    assert shortest_stay_s(9.0, 11.0, 11.02, 18.0) == 72
