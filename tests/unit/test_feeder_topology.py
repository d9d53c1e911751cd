"""Feeder topology: OpenDSS length units and cable distances from the source."""

from __future__ import annotations

import numpy as np
import opendssdirect as dss
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tefed.domain.network.feeder_topology import bus_distances_m, bus_name, length_to_m


def test_length_to_m_every_code() -> None:
    metres = length_to_m(np.ones(8), np.arange(1, 9))
    np.testing.assert_allclose(
        metres, [1609.344, 304.8, 1000.0, 1.0, 0.3048, 0.0254, 0.01, 0.001], rtol=0, atol=1e-12
    )


def test_length_to_m_broadcasts_and_accepts_float_codes() -> None:
    np.testing.assert_allclose(length_to_m([1.0, 2.5], 3), [1000.0, 2500.0], rtol=0, atol=0)
    np.testing.assert_allclose(length_to_m(10.0, np.array([5.0, 4.0])), [3.048, 10.0], atol=1e-12)


def test_length_to_m_needs_the_units_of_unitless_lengths() -> None:
    with pytest.raises(ValueError, match=r"units: got 0 \(none\) at index 1; .*none_units"):
        length_to_m([1.0, 2.0], [4, 0])
    # The line codes' units fill in: kft for the second line.
    np.testing.assert_allclose(
        length_to_m([1.0, 2.0, 3.0], [4, 0, 0], none_units=[3, 2, 5]),
        [1.0, 609.6, 0.9144],
        atol=1e-12,
    )
    with pytest.raises(ValueError, match=r"none_units: got 0\.0 at index 0; expected .* 1–8"):
        length_to_m([1.0], [0], none_units=0)


@pytest.mark.parametrize(
    ("length", "units", "message"),
    [
        ([1.0], [9], "units: got 9.0 at index 0; expected an integer OpenDSS length-unit code"),
        ([1.0, 1.0], [4, 1.5], "units: got 1.5 at index 1"),
        ([1.0], [-1], "units: got -1.0"),
        ([1.0, -2.0], [4, 4], "length: got -2.0 at index 1; expected finite and >= 0"),
        ([np.nan], [4], "length: got nan"),
        ([1.0, 2.0, 3.0], [4, 4], "length, units: got shapes"),
    ],
)
def test_length_to_m_rejects_bad_input(length, units, message) -> None:
    with pytest.raises(ValueError, match=message):
        length_to_m(length, units)


def test_bus_name() -> None:
    assert bus_name(" SourceBus.1.2.3 ") == "sourcebus"
    assert bus_name("634") == "634"


def test_radial_distances_hand_computed() -> None:
    #  src --100-- A --0 (switch)-- B --30-- C
    #              A --50-- D --25-- E          and an island F--G
    distances = bus_distances_m(
        ["SRC.1.2.3", "a", "B.1", "a", "d", "f"],
        ["A.1.2.3", "b", "c", "D", "e.2", "g"],
        np.array([100.0, 0.0, 30.0, 50.0, 25.0, 7.0]),
        "src",
    )
    expected = pd.Series(
        [0.0, 100.0, 100.0, 130.0, 150.0, 175.0, np.nan, np.nan],
        index=pd.Index(["src", "a", "b", "c", "d", "e", "f", "g"], name="bus"),
        name="distance_m",
    )
    pd.testing.assert_series_equal(distances, expected)


def test_weakly_meshed_takes_the_shorter_way() -> None:
    # A loop src-a-b-c-src: b is 300 m one way round, 250 m the other.
    distances = bus_distances_m(
        ["src", "a", "b", "c"], ["a", "b", "c", "src"], [100.0, 200.0, 150.0, 100.0], "SRC"
    )
    assert distances.to_dict() == {"src": 0.0, "a": 100.0, "b": 250.0, "c": 100.0}


def test_parallel_edges_and_edges_listed_backwards() -> None:
    distances = bus_distances_m(["b", "b", "c"], ["src", "src", "b"], [40.0, 10.0, 5.0], "src")
    assert distances.to_dict() == {"b": 10.0, "src": 0.0, "c": 15.0}


def test_zero_length_edges_connect_their_buses() -> None:
    # A transformer (0 m) at the source, a switch (0 m) behind it, a 0 m edge listed twice, and
    # an edge from a bus to itself: the distances do not depend on any of them.
    distances = bus_distances_m(
        ["src", "lv", "sw", "sw", "x", "x"],
        ["lv", "sw", "x", "x", "y", "x"],
        [0.0, 0.0, 0.0, 0.0, 25.0, 3.0],
        "src",
    )
    assert distances.to_dict() == {"src": 0.0, "lv": 0.0, "sw": 0.0, "x": 0.0, "y": 25.0}


@pytest.mark.parametrize(
    ("edges", "source", "message"),
    [
        ((["a"], ["b"], [1.0]), "x", "source_bus: got 'x'; it is not a terminal of any edge"),
        ((["a", "b"], ["b"], [1.0, 2.0]), "a", "from_bus, to_bus, length_m: got 2, 1"),
        ((["a"], ["b"], [-1.0]), "a", "length_m: got -1.0 at edge 0"),
        ((["a", ""], ["b", "c"], [1.0, 1.0]), "a", "edge 1 has an empty bus name"),
    ],
)
def test_bus_distances_reject_bad_input(edges, source, message) -> None:
    with pytest.raises(ValueError, match=message):
        bus_distances_m(*edges, source)


@st.composite
def _trees(draw: st.DrawFn) -> tuple[list[int], list[float]]:
    """A random tree: node i > 0 hangs on parent[i] < i with an edge of length[i]."""
    size = draw(st.integers(2, 25))
    parent = [0] + [draw(st.integers(0, i - 1)) for i in range(1, size)]
    length = [0.0] + [draw(st.floats(0.0, 500.0)) for _ in range(1, size)]
    return parent, length


@settings(max_examples=60, deadline=None)
@given(_trees(), st.randoms(use_true_random=False))
def test_tree_distance_is_the_path_sum(tree, random) -> None:
    parent, length = tree
    edges = [(f"n{parent[i]}", f"N{i}", length[i]) for i in range(1, len(parent))]
    random.shuffle(edges)
    start, end, lengths = zip(*edges, strict=True)
    distances = bus_distances_m(list(start), list(end), np.array(lengths), "n0")
    for node in range(len(parent)):
        path_m, bus = 0.0, node
        while bus != 0:
            path_m += length[bus]
            bus = parent[bus]
        assert distances[f"n{node}"] == pytest.approx(path_m, rel=1e-12, abs=1e-9)


def test_distances_agree_with_opendss() -> None:
    """Lines in four units and a transformer, read back from OpenDSS like the federate will."""
    dss.Text.Command("clear")
    for command in (
        "new circuit.topo basekv=12.47 bus1=SourceBus phases=3",
        "new linecode.mv nphases=3 r1=0.3 x1=0.6 units=kft",
        "new linecode.lv nphases=3 r1=0.2 x1=0.08 units=km",
        "new line.feeder bus1=sourcebus bus2=n1 linecode=mv length=2 units=kft",
        "new line.lateral bus1=n1 bus2=n2 linecode=mv length=0.25 units=mi",
        "new transformer.t1 phases=3 windings=2 buses=[n2, lv] conns=[delta, wye] "
        "kvs=[12.47, 0.4] kvas=[500, 500] xhl=4",
        "new line.cable bus1=lv bus2=cab linecode=lv length=120 units=m",
        "new line.service bus1=cab.1 bus2=house.1 phases=1 linecode=lv length=35 units=ft",
        "new load.house bus1=house.1 phases=1 kv=0.23 kw=3",
        "new energymeter.m element=line.feeder terminal=1",
        "set voltagebases=[12.47, 0.4]",
        "calcvoltagebases",
        "solve",
    ):
        dss.Text.Command(command)
    start, end, length, units = [], [], [], []
    for name in dss.Lines.AllNames():
        dss.Lines.Name(name)
        start.append(dss.Lines.Bus1())
        end.append(dss.Lines.Bus2())
        length.append(dss.Lines.Length())
        units.append(dss.Lines.Units())
    for name in dss.Transformers.AllNames():
        dss.Circuit.SetActiveElement(f"transformer.{name}")
        buses = dss.CktElement.BusNames()
        start.append(buses[0])
        end.append(buses[1])
        length.append(0.0)
        units.append(4)
    distances = bus_distances_m(start, end, length_to_m(length, units), "SOURCEBUS")
    # 2 kft + 0.25 mi = 609.6 + 402.336 m to the transformer; + 120 m; + 35 ft = 10.668 m.
    assert distances.to_dict() == pytest.approx(
        {
            "sourcebus": 0.0,
            "n1": 609.6,
            "n2": 1011.936,
            "lv": 1011.936,
            "cab": 1131.936,
            "house": 1142.604,
        },
        abs=1e-9,
    )
    opendss_km = pd.Series(dss.Circuit.AllBusDistances(), index=dss.Circuit.AllBusNames())
    np.testing.assert_allclose(
        distances.reindex(opendss_km.index).to_numpy(), opendss_km.to_numpy() * 1000.0, atol=1e-6
    )
    dss.Text.Command("clear")
