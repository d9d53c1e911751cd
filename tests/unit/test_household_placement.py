"""Household placement on an existing feeder's load points: hand cases and properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tefed.io.feeders.household_placement import (
    explicit_placement,
    parse_node_reference,
    place_households,
)


def _points(phases: list[int], power_kw: list[float] | None = None) -> pd.DataFrame:
    """Load points named by letter: bus 'a' is row 0, 'b' row 1, ..."""
    names = [chr(ord("a") + row) for row in range(len(phases))]
    return pd.DataFrame(
        {
            "load": [f"load_{name}" for name in names],
            "bus": names,
            "phase": phases,
            "power_kw": power_kw if power_kw is not None else [1.0] * len(phases),
        }
    )


def test_balanced_round_robin() -> None:
    placed = place_households(_points([1, 1, 2, 3, 3, 3]), 7, "balanced")
    # Phases cycle 1, 2, 3; on phase 1 the points a, b alternate; phase 2 has only c.
    assert placed.index.tolist() == list(range(7))
    assert placed.columns.tolist() == ["bus", "phase"]
    assert placed["phase"].tolist() == [1, 2, 3, 1, 2, 3, 1]
    assert placed["bus"].tolist() == ["a", "c", "d", "b", "c", "e", "a"]


def test_balanced_over_the_phases_present() -> None:
    placed = place_households(_points([3, 1, 3]), 5, "balanced")
    assert placed["phase"].tolist() == [1, 3, 1, 3, 1]
    assert placed["bus"].tolist() == ["b", "a", "b", "c", "b"]


def test_proportional_largest_remainder() -> None:
    # Quotas 0.7, 1.4, 2.1, 2.8: floors 0 + 1 + 2 + 2 = 5; the two largest remainders
    # (0.8 at d, 0.7 at a) get one more.
    placed = place_households(_points([1, 2, 3, 1], [10.0, 20.0, 30.0, 40.0]), 7, "proportional")
    assert placed["bus"].tolist() == ["a", "b", "c", "c", "d", "d", "d"]
    assert placed["phase"].tolist() == [1, 2, 3, 3, 1, 1, 1]


def test_proportional_ties_go_by_row_order() -> None:
    equal = place_households(_points([1, 2, 3], [5.0, 5.0, 5.0]), 2, "proportional")
    assert equal["bus"].tolist() == ["a", "b"]
    # Quotas 0.3 and 1.3 have the same remainder, though 1.3 - 1 > 0.3 in floating point.
    decimal = place_households(_points([1, 1, 1, 1], [3.0, 13.0, 2.0, 2.0]), 2, "proportional")
    assert decimal["bus"].tolist() == ["a", "b"]


def test_proportional_skips_zero_power_points() -> None:
    placed = place_households(_points([1, 2], [0.0, 4.0]), 3, "proportional")
    assert placed["bus"].tolist() == ["b", "b", "b"]


def test_one_per_load() -> None:
    placed = place_households(_points([2, 1, 3]), 2, "one_per_load")
    assert placed.to_numpy().tolist() == [["a", 2], ["b", 1]]
    with pytest.raises(ValueError, match=r"n_households: got 4; .* the feeder has 3 load points"):
        place_households(_points([2, 1, 3]), 4, "one_per_load")


def test_bus_names_are_lowercased() -> None:
    points = _points([1, 2])
    points["bus"] = ["Bus634", " BUS675 "]
    assert place_households(points, 2, "balanced")["bus"].tolist() == ["bus634", "bus675"]


@pytest.mark.parametrize(
    ("points", "n", "method", "message"),
    [
        (_points([1]), 0, "balanced", "n_households: got 0; expected an integer >= 1"),
        (_points([1]), 2.0, "balanced", "n_households: got 2.0"),
        (_points([1]), 1, "random", "method: got 'random'; expected one of balanced"),
        (_points([])[:0], 1, "balanced", "load_points: got no rows"),
        (_points([1]).drop(columns="power_kw"), 1, "balanced", r"missing columns \['power_kw'\]"),
        (_points([1, 4]), 1, "balanced", "load_points.phase: got 4 in row 1; expected 1, 2 or 3"),
        (_points([1, 2], [1.0, -1.0]), 1, "balanced", "load_points.power_kw: got -1.0 in row 1"),
        (_points([1, 2], [0.0, 0.0]), 1, "proportional", "all zero"),
    ],
)
def test_place_households_rejects_bad_input(points, n, method, message) -> None:
    with pytest.raises(ValueError, match=message):
        place_households(points, n, method)


@st.composite
def _feeders(draw: st.DrawFn) -> tuple[pd.DataFrame, int]:
    size = draw(st.integers(1, 30))
    phases = draw(st.lists(st.integers(1, 3), min_size=size, max_size=size))
    power = draw(st.lists(st.floats(0.0, 200.0), min_size=size, max_size=size))
    if sum(power) == 0:
        power[0] = 1.0
    return _points(phases, power), draw(st.integers(1, 200))


@settings(max_examples=80, deadline=None)
@given(_feeders())
def test_balanced_properties(feeder: tuple[pd.DataFrame, int]) -> None:
    points, n = feeder
    placed = place_households(points, n, "balanced")
    assert len(placed) == n
    assert placed.index.tolist() == list(range(n))
    present = sorted(set(points["phase"]))
    per_phase = placed["phase"].value_counts().reindex(present, fill_value=0)
    assert per_phase.max() - per_phase.min() <= 1
    # Every household sits at a load point of its phase; within a phase, round-robin.
    assert set(zip(placed["bus"], placed["phase"], strict=True)) <= set(
        zip(points["bus"], points["phase"], strict=True)
    )
    for phase in present:
        on_phase = points.loc[points["phase"] == phase, "bus"]
        counts = placed.loc[placed["phase"] == phase, "bus"].value_counts()
        counts = counts.reindex(on_phase, fill_value=0)
        assert counts.max() - counts.min() <= 1
    pd.testing.assert_frame_equal(placed, place_households(points, n, "balanced"))


@settings(max_examples=80, deadline=None)
@given(_feeders())
def test_proportional_counts_are_within_one_of_the_quota(feeder) -> None:
    points, n = feeder
    placed = place_households(points, n, "proportional")
    assert len(placed) == n
    counts = placed["bus"].value_counts().reindex(points["bus"], fill_value=0).to_numpy()
    quota = n * points["power_kw"].to_numpy() / points["power_kw"].sum()
    assert np.all(np.abs(counts - quota) < 1 + 1e-9)
    assert np.all(counts[quota == 0] == 0)
    # Listed point by point, in row order.
    rows = placed["bus"].map({bus: row for row, bus in enumerate(points["bus"])}).to_numpy()
    assert np.all(np.diff(rows) >= 0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("634.1", ("634", 1)),
        ("634.A", ("634", 1)),
        ("634.a", ("634", 1)),
        ("634.2", ("634", 2)),
        (" Bus_7.C ", ("bus_7", 3)),
    ],
)
def test_parse_node_reference(text: str, expected: tuple[str, int]) -> None:
    assert parse_node_reference(text) == expected


@pytest.mark.parametrize("text", ["634", "634.4", "634.0", ".1", "634.1.2", "634.d", "", "634."])
def test_parse_node_reference_names_the_bad_text(text: str) -> None:
    with pytest.raises(ValueError, match=f"node reference {text!r}: expected 'bus.phase'"):
        parse_node_reference(text)


def test_parse_node_reference_rejects_non_strings() -> None:
    with pytest.raises(ValueError, match="node reference 634: not a string"):
        parse_node_reference(634)  # type: ignore[arg-type]


NODES = {("634", 1), ("634", 2), ("675", 1), ("675", 2), ("675", 3), ("Bus9", 3)}


def test_explicit_placement() -> None:
    placed = explicit_placement(["634.b", "675.3", "BUS9.C", "634.1"], NODES)
    assert placed.index.tolist() == [0, 1, 2, 3]
    assert placed.to_numpy().tolist() == [["634", 2], ["675", 3], ["bus9", 3], ["634", 1]]


def test_explicit_placement_lists_every_bad_household() -> None:
    with pytest.raises(ValueError) as raised:
        explicit_placement(["634.1", "675.2", "999.1", "634.C", "675.x", "bus9.1"], NODES)
    message = str(raised.value)
    assert message.splitlines() == [
        "references: 4 of 6 households are not at a feeder node:",
        "  household 2: bus '999' is not in the feeder",
        "  household 3: bus '634' has no phase C (it has A, B)",
        "  household 4: node reference '675.x': expected 'bus.phase' with phase 1, 2, 3 or A, "
        "B, C (e.g. '634.1' or '634.A')",
        "  household 5: bus 'bus9' has no phase A (it has C)",
    ]


def test_explicit_placement_needs_households() -> None:
    with pytest.raises(ValueError, match="references: got none"):
        explicit_placement([], NODES)
