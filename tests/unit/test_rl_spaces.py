"""The learning environments' spaces: action decoding, observation vectors, their docs."""

from __future__ import annotations

import numpy as np
import pytest
from federations import REPO

from tefed.rl.actions import ACTION_FRACTIONS, HouseholdAction, action_bounds, decode_action
from tefed.rl.observations import observation_bounds, observation_fields, observation_vector

DOCS = (REPO / "docs" / "learning-agents.md").read_text()


def test_discrete_levels_span_each_fraction_from_low_to_high():
    low, high = action_bounds()
    assert decode_action(np.zeros(5), levels=3) == HouseholdAction(*low.tolist())
    assert decode_action(np.full(5, 2), levels=3) == HouseholdAction(*high.tolist())
    assert decode_action(np.array([1, 1, 1, 1, 1]), levels=3).battery_fraction == 0.0


def test_continuous_actions_are_clipped_into_their_bounds():
    action = decode_action(np.array([-3.0, 2.0, 0.5, -1.0, 0.25]), levels=None)
    assert action == HouseholdAction(-1.0, 1.0, 0.5, 0.0, 0.25)


@pytest.mark.parametrize(
    ("action", "levels"),
    [(np.zeros(4), None), (np.array([0, 0, np.nan, 0, 0]), None), (np.array([0, 5, 0, 0, 0]), 5),
     (np.array([0, 0.5, 0, 0, 0]), 5)],
)  # fmt: skip
def test_malformed_actions_are_refused(action, levels):
    with pytest.raises(ValueError, match="action"):
        decode_action(action, levels)


def test_observation_is_clipped_into_its_space_and_refuses_missing_values():
    fields = observation_fields(2)
    low, high = observation_bounds(fields)
    values = {field.name: np.full(field.size, 1e12) for field in fields}
    vector = observation_vector(fields, values)
    assert vector.dtype == np.float32 and np.array_equal(vector, high)
    values["voltage_pu"] = np.array([np.nan])
    with pytest.raises(ValueError, match="voltage_pu"):
        observation_vector(fields, values)
    assert (low <= high).all()


def test_docs_list_every_observation_field_and_action_fraction():
    for field in observation_fields(4):
        assert f"`{field.name}`" in DOCS
    for name, _, _ in ACTION_FRACTIONS:
        assert f"`{name}`" in DOCS
