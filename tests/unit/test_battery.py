"""Battery dispatch: hand-computed steps, limits, validation and energy conservation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tefed.domain.ems.devices.battery import BatteryParameters, initial_soc_kwh
from tefed.domain.ems.devices.battery_dispatch import dispatch_battery, self_consumption_request_kw
from tefed.domain.ems.devices.battery_presets import BATTERY_PRESETS, battery_preset


def _single(soc_min: float = 0.1, soc_max: float = 0.9) -> BatteryParameters:
    """10 kWh, 5 kW, round trip 0.81 (0.9 each way)."""
    return BatteryParameters.from_round_trip([10.0], [5.0], 0.81, soc_min, soc_max)


def test_round_trip_is_split_symmetrically() -> None:
    p = _single()
    assert p.charge_efficiency[0] == pytest.approx(0.9, abs=1e-15)
    assert p.discharge_efficiency[0] == pytest.approx(0.9, abs=1e-15)


def test_charge_four_kw_for_fifteen_minutes() -> None:
    # 4 kW * 0.9 * 0.25 h = 0.9 kWh stored.
    power, soc = dispatch_battery(np.array([5.0]), np.array([4.0]), 900.0, _single())
    assert power[0] == 4.0
    assert soc[0] == pytest.approx(5.9, abs=1e-12)


def test_discharge_three_kw_for_half_an_hour() -> None:
    # 3 kW / 0.9 * 0.5 h = 1.6667 kWh removed.
    power, soc = dispatch_battery(np.array([5.0]), np.array([-3.0]), 1800.0, _single())
    assert power[0] == -3.0
    assert soc[0] == pytest.approx(5.0 - 3.0 / 0.9 * 0.5, abs=1e-12)


def test_request_is_clipped_to_the_power_rating() -> None:
    # 8 kW requested, 5 kW rating: 5 * 0.9 * 0.25 = 1.125 kWh stored.
    power, soc = dispatch_battery(np.array([5.0]), np.array([8.0]), 900.0, _single())
    assert power[0] == 5.0
    assert soc[0] == pytest.approx(6.125, abs=1e-12)
    power, _ = dispatch_battery(np.array([5.0]), np.array([-8.0]), 900.0, _single())
    assert power[0] == -5.0


def test_discharge_is_limited_by_soc_min() -> None:
    # soc_min 0.1 -> 1 kWh floor; 0.5 kWh above it delivers 0.5 * 0.9 = 0.45 kWh in one hour.
    power, soc = dispatch_battery(np.array([1.5]), np.array([-5.0]), 3600.0, _single())
    assert power[0] == pytest.approx(-0.45, abs=1e-12)
    assert soc[0] == 1.0


def test_charge_is_limited_by_soc_max_with_the_power_that_reaches_it() -> None:
    # soc_max 0.9 -> 9 kWh ceiling; 0.5 kWh headroom in 15 min needs 0.5 / (0.9 * 0.25) kW.
    power, soc = dispatch_battery(np.array([8.5]), np.array([5.0]), 900.0, _single())
    assert power[0] == pytest.approx(0.5 / (0.9 * 0.25), rel=1e-12)
    assert soc[0] == 9.0
    again, soc_again = dispatch_battery(soc, np.array([5.0]), 900.0, _single())
    assert again[0] == 0.0
    assert soc_again[0] == 9.0


def test_energy_limited_steps_land_exactly_on_the_bound() -> None:
    # Without landing on the bound, a few percent of these would stop one rounding step short.
    rng = np.random.default_rng(0)
    n = 2000
    capacity = rng.uniform(1.0, 20.0, n)
    p = BatteryParameters.from_round_trip(
        capacity, np.full(n, 1e3), rng.uniform(0.6, 1.0, n), 0.1, 0.9
    )
    soc = rng.uniform(0.1, 0.9, n) * capacity
    _, full = dispatch_battery(soc, np.full(n, 1e3), 900.0, p)
    _, empty = dispatch_battery(soc, np.full(n, -1e3), 900.0, p)
    np.testing.assert_array_equal(full, 0.9 * capacity)
    np.testing.assert_array_equal(empty, 0.1 * capacity)


def test_households_without_battery_get_zero() -> None:
    p = BatteryParameters.from_round_trip([0.0, 0.0], [5.0, 0.0], 0.9, 0.0, 1.0)
    power, soc = dispatch_battery(np.zeros(2), np.array([3.0, -3.0]), 900.0, p)
    np.testing.assert_array_equal(power, [0.0, 0.0])
    np.testing.assert_array_equal(soc, [0.0, 0.0])
    assert not np.signbit(power).any()


def test_households_are_independent_in_one_call() -> None:
    p = BatteryParameters.from_round_trip(
        [10.0, 10.0, 0.0, 13.5], [5.0, 5.0, 3.0, 4.6], [0.81, 0.81, 0.9, 0.9], 0.1, 0.9
    )
    soc = np.array([5.0, 1.5, 0.0, 6.0])
    request = np.array([4.0, -5.0, 2.0, -1.0])
    power, new_soc = dispatch_battery(soc, request, 900.0, p)
    np.testing.assert_allclose(power, [4.0, -0.5 * 0.9 / 0.25, 0.0, -1.0], atol=1e-12)
    np.testing.assert_allclose(new_soc, [5.9, 1.0, 0.0, 6.0 - 0.25 / np.sqrt(0.9)], atol=1e-12)


def test_soc_above_a_tightened_soc_max_only_moves_down() -> None:
    p = _single(soc_max=0.8)
    power, soc = dispatch_battery(np.array([9.5]), np.array([2.0]), 900.0, p)
    assert power[0] == 0.0
    assert soc[0] == 9.5
    power, soc = dispatch_battery(np.array([9.5]), np.array([-2.0]), 900.0, p)
    assert power[0] == -2.0
    assert soc[0] == pytest.approx(9.5 - 2.0 / 0.9 * 0.25, abs=1e-12)


def test_parameters_are_private_read_only_copies() -> None:
    capacity = np.array([10.0])
    p = BatteryParameters.from_round_trip(capacity, [5.0], 0.81, 0.1, 0.9)
    capacity[0] = 99.0
    assert p.capacity_kwh[0] == 10.0
    with pytest.raises(ValueError, match="read-only"):
        p.capacity_kwh[0] = 1.0


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        (
            {"charge_efficiency": [0.9, 1.2]},
            r"charge_efficiency\[1\] is 1\.2; expected in \(0, 1\]",
        ),
        ({"discharge_efficiency": [0.0, 0.9]}, r"discharge_efficiency\[0\] is 0\.0"),
        ({"capacity_kwh": [10.0, -1.0]}, r"capacity_kwh\[1\] is -1\.0; expected a finite"),
        ({"power_kw": [np.inf, 5.0]}, r"power_kw\[0\] is inf"),
        ({"soc_min": [0.1, 1.5]}, r"soc_min\[1\] is 1\.5; expected in \[0, 1\]"),
        ({"soc_max": [0.05, 0.9]}, r"soc_max\[0\] is 0\.05; expected in \[soc_min, 1\]"),
        ({"power_kw": [5.0]}, r"power_kw has 1 entries; expected 2"),
        ({"soc_max": [[0.9, 0.9]]}, r"soc_max has shape \(1, 2\); expected a 1-D array"),
    ],
)
def test_invalid_parameters_name_field_household_and_range(
    change: dict[str, list[float]], pattern: str
) -> None:
    values = {
        "capacity_kwh": [10.0, 10.0],
        "power_kw": [5.0, 5.0],
        "charge_efficiency": [0.9, 0.9],
        "discharge_efficiency": [0.9, 0.9],
        "soc_min": [0.1, 0.1],
        "soc_max": [0.9, 0.9],
    }
    values.update(change)
    with pytest.raises(ValueError, match=pattern):
        BatteryParameters(**{name: np.array(v) for name, v in values.items()})


def test_invalid_round_trip_is_reported_as_such() -> None:
    with pytest.raises(ValueError, match=r"round_trip_efficiency\[1\] is -0\.5"):
        BatteryParameters.from_round_trip([10.0, 10.0], [5.0, 5.0], [0.9, -0.5], 0.1, 0.9)


def test_invalid_dispatch_inputs() -> None:
    p = _single()
    with pytest.raises(ValueError, match=r"soc_kwh\[0\] is 11\.0; expected in \[0, capacity"):
        dispatch_battery(np.array([11.0]), np.array([1.0]), 900.0, p)
    with pytest.raises(ValueError, match="duration_s is 0"):
        dispatch_battery(np.array([5.0]), np.array([1.0]), 0.0, p)
    with pytest.raises(ValueError, match=r"requested_power_kw\[0\] is nan"):
        dispatch_battery(np.array([5.0]), np.array([np.nan]), 900.0, p)
    with pytest.raises(ValueError, match=r"requested_power_kw has shape \(2,\); expected \(1,\)"):
        dispatch_battery(np.array([5.0]), np.array([1.0, 2.0]), 900.0, p)


_IDS = ("h001", "h007", "h012")


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        (
            {"capacity_kwh": [10.0, -1.0, 10.0]},
            r"^households\[h007\]\.battery\.capacity_kwh is -1\.0; expected a finite value >= 0 "
            r"\(1 household\(s\) out of range\)$",
        ),
        (
            {"round_trip_efficiency": [0.9, 0.9, 1.5]},
            r"^households\[h012\]\.battery\.round_trip_efficiency is 1\.5; expected in \(0, 1\]",
        ),
        (
            {"soc_max": [0.05, 0.9, 0.01]},
            r"^households\[h001\]\.battery\.soc_max is 0\.05; .* \(2 household\(s\) out of",
        ),
        (
            {"charge_power_kw": [5.0, 5.0, 6.0]},
            r"^households\[h012\]\.battery\.charge_power_kw is 6\.0; expected in \[0, power_kw\]",
        ),
    ],
)
def test_errors_name_the_household_by_its_id(change: dict[str, list[float]], pattern: str) -> None:
    values: dict[str, object] = {
        "capacity_kwh": [10.0, 10.0, 10.0],
        "power_kw": [5.0, 5.0, 5.0],
        "round_trip_efficiency": 0.9,
        "soc_min": 0.1,
        "soc_max": 0.9,
    }
    values.update(change)
    with pytest.raises(ValueError, match=pattern):
        BatteryParameters.from_round_trip(**values, household_ids=_IDS)  # type: ignore[arg-type]


def test_dispatch_errors_name_the_household_by_its_id() -> None:
    p = BatteryParameters.from_round_trip(
        [10.0, 10.0, 10.0], 5.0, 0.81, 0.1, 0.9, household_ids=_IDS
    )
    assert p.household_ids == _IDS
    with pytest.raises(ValueError, match=r"^households\[h012\]\.battery\.soc_kwh is 12\.0"):
        dispatch_battery(np.array([5.0, 5.0, 12.0]), np.zeros(3), 900.0, p)


def test_household_ids_must_match_the_households() -> None:
    with pytest.raises(ValueError, match=r"household_ids has 2 entries; expected 3"):
        BatteryParameters.from_round_trip(
            [10.0, 10.0, 10.0], 5.0, 0.81, 0.1, 0.9, household_ids=["h1", "h2"]
        )


def test_initial_soc_is_a_fraction_of_capacity_within_the_limits() -> None:
    p = BatteryParameters.from_round_trip([10.0, 27.0, 0.0], 5.0, 0.81, [0.1, 0.0, 0.0], 0.9)
    np.testing.assert_array_equal(initial_soc_kwh([0.5, 0.9, 0.0], p), [5.0, 0.9 * 27.0, 0.0])
    np.testing.assert_array_equal(initial_soc_kwh(0.1, p), [1.0, 2.7, 0.0])


def test_initial_soc_outside_the_limits_names_the_household() -> None:
    p = BatteryParameters.from_round_trip(
        [10.0, 10.0, 10.0], 5.0, 0.81, [0.1, 0.2, 0.1], 0.9, household_ids=_IDS
    )
    with pytest.raises(
        ValueError,
        match=r"^households\[h007\]\.battery\.soc_initial is 0\.15; expected in "
        r"\[soc_min, soc_max\] = \[0\.2, 0\.9\] of the same household",
    ):
        initial_soc_kwh([0.15, 0.15, 0.5], p)
    with pytest.raises(ValueError, match=r"soc_initial\[0\] is 0\.95"):
        initial_soc_kwh(0.95, BatteryParameters.from_round_trip([10.0], 5.0, 0.81, 0.1, 0.9))


def test_presets_carry_the_published_figures() -> None:
    walls = battery_preset("two_powerwalls")
    assert (walls.capacity_kwh, walls.power_kw, walls.round_trip_efficiency) == (27.0, 10.0, 0.9)
    assert "T-REX" in walls.reference
    rana = battery_preset("community_rana")
    assert (rana.capacity_kwh, rana.power_kw, rana.round_trip_efficiency) == (1200.0, 600.0, 0.95)
    assert "Rana" in rana.reference
    assert sorted(BATTERY_PRESETS) == ["community_rana", "two_powerwalls"]
    for preset in BATTERY_PRESETS.values():
        assert (preset.soc_min, preset.soc_max) == (0.0, 1.0)
        assert preset.description


def test_presets_are_read_only() -> None:
    with pytest.raises(TypeError):
        BATTERY_PRESETS["mine"] = BATTERY_PRESETS["two_powerwalls"]  # type: ignore[index]
    with pytest.raises(AttributeError):
        BATTERY_PRESETS["two_powerwalls"].capacity_kwh = 1.0  # type: ignore[misc]


def test_preset_parameters_dispatch_like_the_figures() -> None:
    # 10 kW for 30 minutes at sqrt(0.9) charge efficiency stores 5 * sqrt(0.9) kWh.
    p = battery_preset("two_powerwalls").to_parameters(2, household_ids=["a", "b"])
    power, soc = dispatch_battery(np.array([0.0, 27.0]), np.array([20.0, 20.0]), 1800.0, p)
    np.testing.assert_array_equal(power, [10.0, 0.0])
    np.testing.assert_allclose(soc, [5.0 * np.sqrt(0.9), 27.0], rtol=1e-15)


def test_unknown_preset_lists_the_known_names() -> None:
    with pytest.raises(
        ValueError,
        match=r"battery preset is 'tesla'; expected one of community_rana, two_powerwalls",
    ):
        battery_preset("tesla")


def test_self_consumption_request_fills_the_gap_to_the_target() -> None:
    request = self_consumption_request_kw(np.array([-3.0, 1.5, 0.0]), 0.0)
    np.testing.assert_array_equal(request, [3.0, -1.5, 0.0])
    request = self_consumption_request_kw(np.array([2.0, 2.0]), np.array([1.0, 3.0]))
    np.testing.assert_array_equal(request, [-1.0, 1.0])


_N = 6
_fractions = hnp.arrays(float, _N, elements=st.floats(0.0, 1.0))


@settings(max_examples=200, deadline=None)
@given(
    capacity=hnp.arrays(float, _N, elements=st.one_of(st.just(0.0), st.floats(0.5, 100.0))),
    power=hnp.arrays(float, _N, elements=st.floats(0.0, 50.0)),
    eta_c=hnp.arrays(float, _N, elements=st.floats(0.5, 1.0)),
    eta_d=hnp.arrays(float, _N, elements=st.floats(0.5, 1.0)),
    bounds=hnp.arrays(float, (2, _N), elements=st.floats(0.0, 1.0)),
    soc_fraction=_fractions,
    request=hnp.arrays(float, _N, elements=st.floats(-80.0, 80.0)),
    duration_s=st.sampled_from([1.0, 60.0, 300.0, 900.0, 3600.0]),
)
def test_energy_is_conserved_and_limits_hold(
    capacity: np.ndarray,
    power: np.ndarray,
    eta_c: np.ndarray,
    eta_d: np.ndarray,
    bounds: np.ndarray,
    soc_fraction: np.ndarray,
    request: np.ndarray,
    duration_s: float,
) -> None:
    soc_min, soc_max = np.sort(bounds, axis=0)
    p = BatteryParameters(capacity, power, eta_c, eta_d, soc_min, soc_max)
    soc = soc_fraction * capacity
    applied, new_soc = dispatch_battery(soc, request, duration_s, p)

    hours = duration_s / 3600.0
    expected_delta = np.where(applied >= 0, applied * eta_c, applied / eta_d) * hours
    np.testing.assert_allclose(new_soc - soc, expected_delta, rtol=1e-9, atol=1e-9)

    assert np.all(np.abs(applied) <= power)
    assert np.all(applied * request >= 0)
    assert np.all(applied[capacity == 0] == 0)
    low, high = soc_min * capacity, soc_max * capacity
    assert np.all(new_soc >= np.minimum(soc, low))
    assert np.all(new_soc <= np.maximum(soc, high))
    # Anything less than the clipped request is because a bound was reached, and exactly so.
    clipped = np.clip(request, -power, power)
    curtailed = np.abs(applied) < np.abs(clipped)
    filled = curtailed & (clipped > 0) & (soc < high)
    emptied = curtailed & (clipped < 0) & (soc > low)
    np.testing.assert_array_equal(new_soc[filled], high[filled])
    np.testing.assert_array_equal(new_soc[emptied], low[emptied])
    stuck = curtailed & ~filled & ~emptied
    assert np.all(applied[stuck] == 0)
