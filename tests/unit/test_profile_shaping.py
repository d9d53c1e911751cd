"""Shaping profiles to published figures: lowest and highest load, peak generation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tefed.domain.ems.devices.profile_shaping import FLAT_SPAN_KW, scale_to_peak, shape_to_range

PROFILES = arrays(
    np.float64, st.tuples(st.integers(2, 40), st.integers(1, 4)), elements=st.floats(0, 20)
)


@given(PROFILES, st.floats(0, 5), st.floats(0, 10))
def test_a_shaped_load_reaches_exactly_its_lowest_and_highest_value(
    power_kw: np.ndarray, low_kw: float, extra_kw: float
) -> None:
    count = power_kw.shape[1]
    low, high = np.full(count, low_kw), np.full(count, low_kw + extra_kw)
    shaped = shape_to_range(power_kw, low, high, len(power_kw))
    varies = np.ptp(power_kw, axis=0) > FLAT_SPAN_KW
    assert np.allclose(shaped.min(axis=0)[varies], low[varies], atol=1e-9)
    assert np.allclose(shaped.max(axis=0), high, atol=1e-9)
    # The shape is kept: the map is non-decreasing, a higher load stays at least as high.
    for column in range(count):
        order = np.argsort(power_kw[:, column], kind="stable")
        assert (np.diff(shaped[order, column]) >= -1e-9).all()


def test_extremes_are_taken_over_the_run_and_nan_keeps_a_profile() -> None:
    power_kw = np.array([[1.0, 1.0], [3.0, 3.0], [9.0, 9.0]])
    shaped = shape_to_range(power_kw, np.array([0.0, np.nan]), np.array([1.0, np.nan]), 2)
    # Over the first two steps 1 -> 0 and 3 -> 1; the forecast step takes the same map.
    assert shaped[:, 0].tolist() == [0.0, 1.0, 4.0]
    assert shaped[:, 1].tolist() == [1.0, 3.0, 9.0]


def test_a_pv_profile_is_scaled_to_its_peak() -> None:
    power_kw = np.array([[0.0, 0.0], [2.0, 0.0], [4.0, 0.0]])
    scaled = scale_to_peak(power_kw, np.array([9.42, 3.0]), 3)
    assert scaled[:, 0].tolist() == pytest.approx([0.0, 4.71, 9.42])
    assert scaled[:, 1].tolist() == [0.0, 0.0, 0.0]  # no sun, nothing to scale


def test_a_range_upside_down_is_refused() -> None:
    with pytest.raises(ValueError, match="low > high"):
        shape_to_range(np.ones((2, 1)), np.array([2.0]), np.array([1.0]), 2)


def test_a_profile_varying_by_a_denormal_float_is_flat_not_infinite() -> None:
    power_kw = np.array([[5e-324], [0.0]])
    shaped = shape_to_range(power_kw, np.array([0.0]), np.array([1.0]), 2)
    np.testing.assert_array_equal(shaped, [[1.0], [1.0]])
