"""Battery direction limits and self-discharge: hand-computed steps and the energy balance."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tefed.domain.ems.devices.battery import BatteryParameters
from tefed.domain.ems.devices.battery_dispatch import dispatch_battery, dispatch_battery_detailed


def _asymmetric(self_discharge_per_h: float = 0.0) -> BatteryParameters:
    """10 kWh, 7 kW converter, charging limited to 5 kW, 0.9 each way, soc in [0.1, 0.9]."""
    return BatteryParameters.from_round_trip(
        [10.0],
        [7.0],
        0.81,
        0.1,
        0.9,
        charge_power_kw=5.0,
        self_discharge_per_h=self_discharge_per_h,
    )


def test_charging_is_clipped_to_the_charge_limit() -> None:
    # 8 kW requested, 5 kW charge limit: 5 * 0.9 * 0.25 = 1.125 kWh stored.
    power, soc = dispatch_battery(np.array([5.0]), np.array([8.0]), 900.0, _asymmetric())
    assert power[0] == 5.0
    assert soc[0] == pytest.approx(6.125, abs=1e-12)


def test_discharging_is_clipped_to_the_discharge_limit() -> None:
    # -8 kW requested, discharge limited by the 7 kW converter: 7 / 0.9 * 0.25 kWh removed.
    power, soc = dispatch_battery(np.array([5.0]), np.array([-8.0]), 900.0, _asymmetric())
    assert power[0] == -7.0
    assert soc[0] == pytest.approx(5.0 - 7.0 / 0.9 * 0.25, abs=1e-12)


def test_discharge_limit_below_the_converter_rating() -> None:
    p = BatteryParameters.from_round_trip([10.0], [7.0], 0.81, 0.1, 0.9, discharge_power_kw=2.5)
    power, _ = dispatch_battery(np.array([5.0]), np.array([-8.0]), 900.0, p)
    assert power[0] == -2.5
    assert p.charge_power_kw[0] == 7.0
    power, _ = dispatch_battery(np.array([5.0]), np.array([8.0]), 900.0, p)
    assert power[0] == 7.0


def test_limits_default_to_the_converter_rating() -> None:
    p = BatteryParameters.from_round_trip([10.0, 13.5], [5.0, 4.6], 0.81, 0.1, 0.9)
    np.testing.assert_array_equal(p.charge_power_kw, [5.0, 4.6])
    np.testing.assert_array_equal(p.discharge_power_kw, [5.0, 4.6])
    np.testing.assert_array_equal(p.self_discharge_per_h, [0.0, 0.0])
    assert not p.charge_power_kw.flags.writeable


def test_explicit_defaults_give_identical_results() -> None:
    rng = np.random.default_rng(3)
    n = 500
    capacity = rng.uniform(0.0, 20.0, n)
    power = rng.uniform(0.0, 8.0, n)
    plain = BatteryParameters.from_round_trip(capacity, power, 0.9, 0.1, 0.9)
    explicit = BatteryParameters.from_round_trip(
        capacity,
        power,
        0.9,
        0.1,
        0.9,
        charge_power_kw=power,
        discharge_power_kw=power,
        self_discharge_per_h=0.0,
    )
    soc = rng.uniform(0.0, 1.0, n) * capacity
    request = rng.uniform(-10.0, 10.0, n)
    for duration_s in (60.0, 900.0):
        a = dispatch_battery_detailed(soc, request, duration_s, plain)
        b = dispatch_battery_detailed(soc, request, duration_s, explicit)
        np.testing.assert_array_equal(a.battery_power_kw, b.battery_power_kw)
        np.testing.assert_array_equal(a.soc_kwh, b.soc_kwh)
        np.testing.assert_array_equal(a.self_discharge_kwh, np.zeros(n))
        assert not np.signbit(a.self_discharge_kwh).any()


def test_idle_battery_decays_exponentially() -> None:
    # Half of the energy is lost per hour: two hours keep a quarter, half an hour 1/sqrt(2).
    p = BatteryParameters.from_round_trip([10.0], [5.0], 1.0, 0.0, 1.0, self_discharge_per_h=0.5)
    step = dispatch_battery_detailed(np.array([8.0]), np.array([0.0]), 7200.0, p)
    assert step.soc_kwh[0] == pytest.approx(2.0, abs=1e-12)
    assert step.self_discharge_kwh[0] == pytest.approx(6.0, abs=1e-12)
    step = dispatch_battery_detailed(np.array([8.0]), np.array([0.0]), 1800.0, p)
    assert step.soc_kwh[0] == pytest.approx(8.0 / np.sqrt(2.0), abs=1e-12)


def test_self_discharge_comes_before_the_power() -> None:
    # Energy charged during a step does not decay in that step: from empty, 4 kW for one hour
    # at 0.9 stores 3.6 kWh whatever the loss rate.
    p = BatteryParameters.from_round_trip([10.0], [5.0], 0.81, 0.0, 1.0, self_discharge_per_h=0.5)
    step = dispatch_battery_detailed(np.array([0.0]), np.array([4.0]), 3600.0, p)
    assert step.battery_power_kw[0] == 4.0
    assert step.soc_kwh[0] == pytest.approx(3.6, abs=1e-12)
    assert step.self_discharge_kwh[0] == 0.0


def test_charging_with_self_discharge() -> None:
    # 1 %/h for one hour at 5 kWh loses 0.05 kWh; 4 kW * 0.9 * 1 h adds 3.6: 8.55 kWh.
    step = dispatch_battery_detailed(
        np.array([5.0]), np.array([4.0]), 3600.0, _asymmetric(self_discharge_per_h=0.01)
    )
    assert step.self_discharge_kwh[0] == pytest.approx(0.05, abs=1e-12)
    assert step.soc_kwh[0] == pytest.approx(8.55, abs=1e-12)


def test_headroom_is_measured_after_self_discharge() -> None:
    # 8.9 kWh loses 0.089 kWh; the 0.189 kWh to the 9 kWh ceiling take 0.21 kW for one hour.
    step = dispatch_battery_detailed(
        np.array([8.9]), np.array([5.0]), 3600.0, _asymmetric(self_discharge_per_h=0.01)
    )
    assert step.battery_power_kw[0] == pytest.approx(0.189 / 0.9, rel=1e-12)
    assert step.soc_kwh[0] == 9.0


def test_self_discharge_may_take_an_idle_battery_below_soc_min() -> None:
    p = _asymmetric(self_discharge_per_h=0.01)
    step = dispatch_battery_detailed(np.array([1.0]), np.array([0.0]), 3600.0, p)
    assert step.soc_kwh[0] == pytest.approx(0.99, abs=1e-12)
    # Below the floor it may not discharge, but may charge back.
    step = dispatch_battery_detailed(step.soc_kwh, np.array([-2.0]), 900.0, p)
    assert step.battery_power_kw[0] == 0.0
    assert step.soc_kwh[0] < 0.99
    step = dispatch_battery_detailed(step.soc_kwh, np.array([2.0]), 900.0, p)
    assert step.battery_power_kw[0] == 2.0


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        ({"charge_power_kw": 8.0}, r"charge_power_kw\[0\] is 8\.0; expected in \[0, power_kw\]"),
        ({"discharge_power_kw": -1.0}, r"discharge_power_kw\[0\] is -1\.0; expected in \[0,"),
        ({"discharge_power_kw": np.nan}, r"discharge_power_kw\[0\] is nan"),
        ({"self_discharge_per_h": 1.0}, r"self_discharge_per_h\[0\] is 1\.0; expected in \[0, 1\)"),
        ({"self_discharge_per_h": -0.1}, r"self_discharge_per_h\[0\] is -0\.1"),
    ],
)
def test_invalid_limits_and_losses(change: dict[str, float], pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        BatteryParameters.from_round_trip([10.0], [7.0], 0.81, 0.1, 0.9, **change)


def test_limit_arrays_of_the_wrong_length() -> None:
    with pytest.raises(ValueError, match=r"charge_power_kw has 3 entries; expected 2"):
        BatteryParameters(
            np.array([10.0, 10.0]),
            np.array([5.0, 5.0]),
            np.array([0.9, 0.9]),
            np.array([0.9, 0.9]),
            np.array([0.1, 0.1]),
            np.array([0.9, 0.9]),
            charge_power_kw=np.array([1.0, 2.0, 3.0]),
        )


_N = 6


@settings(max_examples=300, deadline=None)
@given(
    capacity=hnp.arrays(float, _N, elements=st.one_of(st.just(0.0), st.floats(0.5, 100.0))),
    power=hnp.arrays(float, _N, elements=st.floats(0.0, 50.0)),
    limit_fractions=hnp.arrays(float, (2, _N), elements=st.floats(0.0, 1.0)),
    eta=hnp.arrays(float, (2, _N), elements=st.floats(0.5, 1.0)),
    loss=hnp.arrays(float, _N, elements=st.one_of(st.just(0.0), st.floats(0.0, 0.5))),
    bounds=hnp.arrays(float, (2, _N), elements=st.floats(0.0, 1.0)),
    soc_fraction=hnp.arrays(float, _N, elements=st.floats(0.0, 1.0)),
    request=hnp.arrays(float, _N, elements=st.floats(-80.0, 80.0)),
    duration_s=st.sampled_from([1.0, 60.0, 300.0, 900.0, 3600.0, 86400.0]),
)
def test_energy_balance_is_exact_with_limits_and_self_discharge(
    capacity: np.ndarray,
    power: np.ndarray,
    limit_fractions: np.ndarray,
    eta: np.ndarray,
    loss: np.ndarray,
    bounds: np.ndarray,
    soc_fraction: np.ndarray,
    request: np.ndarray,
    duration_s: float,
) -> None:
    soc_min, soc_max = np.sort(bounds, axis=0)
    charge_limit, discharge_limit = limit_fractions * power
    p = BatteryParameters(
        capacity,
        power,
        eta[0],
        eta[1],
        soc_min,
        soc_max,
        charge_power_kw=charge_limit,
        discharge_power_kw=discharge_limit,
        self_discharge_per_h=loss,
    )
    soc = soc_fraction * capacity
    step = dispatch_battery_detailed(soc, request, duration_s, p)
    applied, new_soc, lost = step

    hours = duration_s / 3600.0
    charged_kwh = np.maximum(applied, 0.0) * hours
    discharged_kwh = np.maximum(-applied, 0.0) * hours
    balance = charged_kwh * eta[0] - discharged_kwh / eta[1] - lost
    # Exact up to a few roundings of numbers of the size of the capacity.
    assert np.all(np.abs((new_soc - soc) - balance) <= 1e-13 * (1.0 + capacity))
    np.testing.assert_allclose(lost, soc * (1.0 - (1.0 - loss) ** hours), rtol=1e-12, atol=1e-11)

    assert np.all(lost >= 0) and np.all(lost <= soc)
    assert np.all((applied <= charge_limit) & (applied >= -discharge_limit))
    assert np.all(applied * request >= 0)
    assert np.all(applied[capacity == 0] == 0)
    kept = soc - lost
    low, high = soc_min * capacity, soc_max * capacity
    assert np.all(new_soc >= np.minimum(kept, low))
    assert np.all(new_soc <= np.maximum(kept, high))
    # Anything less than the clipped request is because a bound was reached, and exactly so.
    clipped = np.clip(request, -discharge_limit, charge_limit)
    curtailed = np.abs(applied) < np.abs(clipped)
    filled = curtailed & (clipped > 0) & (kept < high)
    emptied = curtailed & (clipped < 0) & (kept > low)
    np.testing.assert_array_equal(new_soc[filled], high[filled])
    np.testing.assert_array_equal(new_soc[emptied], low[emptied])
    assert np.all(applied[curtailed & ~filled & ~emptied] == 0)
