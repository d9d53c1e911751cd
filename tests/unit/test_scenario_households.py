"""Household groups: a strategy mix splits a group by largest remainder, shuffled from the seed;
a group may name its households."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from federations import short_scenario_data
from hypothesis import given
from hypothesis import strategies as st

from tefed.build.household_table import resolve_households, strategy_mix_counts
from tefed.scenario.model import Scenario
from tefed.scenario.strategy_spec import MaCrossoverStrategy


@pytest.mark.parametrize(
    ("shares", "count", "expected"),
    [
        # quotas 6 and 4: whole numbers
        ({"self_consumption": 0.6, "ma_crossover": 0.4}, 10, [6, 4]),
        # quotas 2.4 and 1.6: 2 and 1, the one left over to the larger remainder (0.6)
        ({"self_consumption": 0.6, "ma_crossover": 0.4}, 4, [2, 2]),
        # quotas 4/3 each: 1 each, the one left over to the first on the tie
        ({"net_billing": 1 / 3, "self_consumption": 1 / 3, "optimizing": 1 / 3}, 4, [2, 1, 1]),
        # quotas 0.29 · 100 = 28.999… in floating point: still 29
        ({"net_billing": 0.29, "optimizing": 0.71}, 100, [29, 71]),
        # quotas 0.1 and 0.9 of 1: the household goes to the larger remainder
        ({"net_billing": 0.1, "optimizing": 0.9}, 1, [0, 1]),
    ],
)
def test_largest_remainder_counts(shares, count, expected):
    assert list(strategy_mix_counts(shares, count).values()) == expected


@given(
    weights=st.lists(st.integers(1, 100), min_size=1, max_size=4),
    count=st.integers(1, 500),
)
def test_counts_sum_to_the_group_and_stay_within_one_of_the_quota(weights, count):
    names = ["net_billing", "self_consumption", "ma_crossover", "optimizing"][: len(weights)]
    shares = {name: weight / sum(weights) for name, weight in zip(names, weights, strict=True)}
    counts = strategy_mix_counts(shares, count)
    assert sum(counts.values()) == count
    for name, households in counts.items():
        quota = shares[name] * count
        assert math.floor(quota - 1e-9) <= households <= math.ceil(quota + 1e-9)


HERE = Path(__file__).resolve().parent


def mixed_table(seed: int, shares: dict[str, float]) -> pd.DataFrame:
    """The short default scenario's table, its last group (reference_pv) grown to 10 households
    that mix strategies by ``shares``."""
    data = short_scenario_data()
    group = data["households"][-1]
    del group["strategy"]
    group.update(count=10, strategy_mix=shares)
    scenario = Scenario.model_validate(data)
    return resolve_households(scenario, np.random.default_rng(seed), HERE, HERE)


def test_a_mixed_group_gets_the_counts_and_each_strategy_its_default_options():
    table = mixed_table(3, {"self_consumption": 0.6, "ma_crossover": 0.4})
    rows = table[table["group"] == "reference_pv"]
    assert Counter(rows["strategy"]) == {"self_consumption": 6, "ma_crossover": 4}
    crossover = rows.loc[rows["strategy"] == "ma_crossover", "strategy_options"]
    defaults = MaCrossoverStrategy().model_dump(exclude={"name"})
    assert all(json.loads(text) == defaults for text in crossover)
    assert set(rows.loc[rows["strategy"] == "self_consumption", "strategy_options"]) == {"{}"}


def test_the_assignment_is_shuffled_from_the_seed_and_repeats_with_it():
    shares = {"self_consumption": 0.5, "ma_crossover": 0.5}
    orders = {seed: tuple(mixed_table(seed, shares)["strategy"].iloc[-10:]) for seed in range(4)}
    assert orders[0] == tuple(mixed_table(0, shares)["strategy"].iloc[-10:])
    assert len(set(orders.values())) > 1  # 252 orders of 5 + 5: four seeds do not all agree
    assert all(
        order != ("self_consumption",) * 5 + ("ma_crossover",) * 5 for order in orders.values()
    )


def test_a_mix_changes_no_other_draw():
    data = short_scenario_data()
    data["households"][-1].update(count=10, strategy="self_consumption")
    single = resolve_households(Scenario.model_validate(data), np.random.default_rng(5), HERE, HERE)
    mixed = mixed_table(5, {"self_consumption": 0.7, "net_billing": 0.3})
    drawn = single.columns.drop(["strategy", "strategy_options"])
    assert single[drawn].equals(mixed[drawn])
    assert not single["strategy"].equals(mixed["strategy"])


def test_groups_may_name_their_households_and_the_others_keep_their_positions():
    data = short_scenario_data()
    data["households"][3]["household_ids"] = ["school"]
    scenario = Scenario.model_validate(data)
    table = resolve_households(scenario, np.random.default_rng(0), HERE, HERE)
    expected = [f"h{i:02d}" for i in range(1, 11)] + ["school", "h12"]
    assert table["household_id"].tolist() == expected


@given(
    capacity_kwh=st.sampled_from([0.0, 10.0, 60.0]),
    energy_needed_kwh=st.sampled_from([0.0, 10.0, 10.001, 50.0]),
    arrival_hour=st.sampled_from([0.0, 7.0, 17.0, 17.0001, 24.0]),
    departure_hour=st.sampled_from([0.0, 7.0, 17.0, 23.99, 24.0]),
)
def test_an_ev_section_is_valid_exactly_when_the_ems_accepts_its_households(
    capacity_kwh, energy_needed_kwh, arrival_hour, departure_hour
):
    from pydantic import ValidationError

    from tefed.domain.ems.devices.ev import EvParameters
    from tefed.scenario.household_spec import EvSpec

    values = (capacity_kwh, 7.4, 0.9, arrival_hour, departure_hour, energy_needed_kwh)
    try:
        EvParameters(*(np.array([value]) for value in values))
    except ValueError:
        ems_accepts = False
    else:
        ems_accepts = True
    try:
        EvSpec(
            capacity_kwh=capacity_kwh,
            arrival_hour=arrival_hour,
            departure_hour=departure_hour,
            energy_needed_kwh=energy_needed_kwh,
        )
    except ValidationError:
        scenario_accepts = False
    else:
        scenario_accepts = True
    assert scenario_accepts == ems_accepts
