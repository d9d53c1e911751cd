"""Feeder topology: cable distances from the source and OpenDSS length units (pure: no I/O).

The grid federate reads the feeder's lines, transformers and switches once at initialization and
passes them here as edge arrays; `bus_distances_m` gives every bus its cable distance from the
source for voltage-profile plots (voltage against distance), and `buses_behind` tells which
buses the source reaches only through a distribution transformer (the plausibility checks of
`tefed.domain.plausibility`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Metres per unit of each OpenDSS length-unit code (``LineUnits``); code 0, "none", has no
#: physical unit and is absent on purpose (see `length_to_m`).
METRES_PER_UNIT = {
    1: 1609.344,  # mi: international mile
    2: 304.8,  # kft: 1000 international feet
    3: 1000.0,  # km
    4: 1.0,  # m
    5: 0.3048,  # ft
    6: 0.0254,  # in
    7: 0.01,  # cm
    8: 0.001,  # mm
}

_FACTORS = np.array([np.nan] + [METRES_PER_UNIT[code] for code in range(1, 9)])


def length_to_m(
    length: np.ndarray, units: np.ndarray, none_units: int | np.ndarray | None = None
) -> np.ndarray:
    """Convert OpenDSS lengths to metres.

    Parameters
    ----------
    length : numpy.ndarray
        Lengths in their own units (an OpenDSS line's ``Length``) [-].
    units : numpy.ndarray
        OpenDSS length-unit code of each length (the line's ``Units``): 0 none, 1 mi, 2 kft,
        3 km, 4 m, 5 ft, 6 in, 7 cm, 8 mm. Broadcast against ``length``.
    none_units : int or numpy.ndarray, optional
        Code (1–8) to use where ``units`` is 0, typically the ``Units`` of the line's line code.
        Without it, a 0 code is an error.

    Returns
    -------
    numpy.ndarray
        Lengths [m], float, with the broadcast shape of the inputs.

    Raises
    ------
    ValueError
        If a code is not an integer in 0–8, if a code is 0 and ``none_units`` is not given, or
        if a length is negative or not finite; the message names the first offending index.

    Notes
    -----
    ``length_m = length · f(units)`` with the exact factors of `METRES_PER_UNIT`
    (1 ft = 0.3048 m, 1 mi = 1609.344 m). Code 0 ("none") means "the same unit as the impedance
    data": OpenDSS multiplies the per-unit-length impedance by the length without conversion,
    and a line that takes its impedances from a line code with units still reports
    ``Units = 0`` (as OpenDSSDirect.py 0.9 does). Its physical length is unknown from the line
    alone, so it is not guessed (assuming metres would make a feeder described in kft 305 times
    too short): the caller passes the line code's units as ``none_units``, or gets an error.

    References
    ----------
    .. [1] EPRI, OpenDSS source, ``LineUnits.pas`` (unit codes ``UNITS_NONE = 0`` …
       ``UNITS_MM = 8``), https://sourceforge.net/projects/electricdss/; OpenDSS Line object
       documentation, property ``units``.

    Examples
    --------
    500 ft, 2 kft and 0.5 km; 1 ft = 0.3048 m:

    >>> length_to_m(np.array([500.0, 2.0, 0.5]), np.array([5, 2, 3])).tolist()
    [152.4, 609.6, 500.0]
    """
    values = np.asarray(length, dtype=float)
    codes = np.asarray(units)
    try:
        values, codes = np.broadcast_arrays(values, codes)
    except ValueError:
        raise ValueError(
            f"length, units: got shapes {values.shape} and {codes.shape}; expected broadcastable"
        ) from None
    codes = _unit_codes("units", codes, allow_none=True)
    if (codes == 0).any():
        if none_units is None:
            where = int(np.flatnonzero(codes.ravel() == 0)[0])
            raise ValueError(
                f"units: got 0 (none) at index {where}; expected 1–8, or pass none_units (the "
                "line code's units) to say what the lengths are measured in"
            )
        fallback = _unit_codes("none_units", np.broadcast_to(none_units, codes.shape), False)
        codes = np.where(codes == 0, fallback, codes)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        where = int(np.flatnonzero(bad.ravel())[0])
        raise ValueError(
            f"length: got {values.ravel()[where]} at index {where}; expected finite and >= 0"
        )
    return values * _FACTORS[codes]


def _unit_codes(field: str, codes: np.ndarray, allow_none: bool) -> np.ndarray:
    as_float = np.asarray(codes, dtype=float)
    low = 0 if allow_none else 1
    bad = ~np.isfinite(as_float) | (as_float != np.round(as_float))
    bad |= (as_float < low) | (as_float > 8)
    if bad.any():
        where = int(np.flatnonzero(bad.ravel())[0])
        raise ValueError(
            f"{field}: got {as_float.ravel()[where]} at index {where}; expected an integer "
            f"OpenDSS length-unit code in {low}–8"
        )
    return as_float.astype(np.int64)


def bus_name(text: str) -> str:
    """The bus of an OpenDSS bus reference, lowercased, without node numbers.

    Examples
    --------
    >>> bus_name("Bus634.1.2.3")
    'bus634'
    """
    return str(text).split(".", 1)[0].strip().lower()


def bus_distances_m(
    from_bus: np.ndarray | list[str],
    to_bus: np.ndarray | list[str],
    length_m: np.ndarray,
    source_bus: str,
) -> pd.Series:
    """Shortest cable distance from the source to every bus.

    Parameters
    ----------
    from_bus, to_bus : sequence of str
        Terminal buses of each edge (line, transformer, switch). Node suffixes are dropped and
        names compared case-insensitively (``"634.1.2"`` is bus ``634``).
    length_m : numpy.ndarray
        Length of each edge [m], finite and >= 0: 0 for transformers and switches.
    source_bus : str
        Bus of the source (e.g. ``"sourcebus"`` or the substation's LV busbar).

    Returns
    -------
    pandas.Series
        ``distance_m`` [m] indexed by lowercase bus name (``bus``), in order of first appearance
        (``from_bus[0]``, ``to_bus[0]``, ``from_bus[1]``, …); NaN for buses the source cannot
        reach.

    Notes
    -----
    Edges are undirected. Dijkstra's algorithm (``scipy.sparse.csgraph.dijkstra``) gives the
    shortest distance, which on a radial feeder is the unique path's length and on a weakly
    meshed one the shorter way round. It runs once at initialization, ``O(E log V)``.

    References
    ----------
    .. [1] E. W. Dijkstra, "A note on two problems in connexion with graphs", Numerische
       Mathematik 1, 269–271, 1959. doi:10.1007/BF01386390

    Examples
    --------
    A 100 m line, a 0 m switch, and a 50 m branch; bus ``x`` is isolated:

    >>> bus_distances_m(["S", "a", "a", "x"], ["a", "b.1", "c", "y"], [100.0, 0.0, 50.0, 1.0], "s")
    bus
    s      0.0
    a    100.0
    b    100.0
    c    150.0
    x      NaN
    y      NaN
    Name: distance_m, dtype: float64
    """
    from scipy import sparse  # here: scipy loads only for the feeders that need it
    from scipy.sparse import csgraph

    start = [bus_name(bus) for bus in from_bus]
    end = [bus_name(bus) for bus in to_bus]
    lengths = np.asarray(length_m, dtype=float)
    if not len(start) == len(end) == lengths.size or lengths.ndim != 1:
        raise ValueError(
            f"from_bus, to_bus, length_m: got {len(start)}, {len(end)} and shape {lengths.shape}; "
            "expected one bus pair and one length per edge"
        )
    bad = ~np.isfinite(lengths) | (lengths < 0)
    if bad.any():
        where = int(np.flatnonzero(bad)[0])
        raise ValueError(f"length_m: got {lengths[where]} at edge {where}; expected finite >= 0")
    if "" in start or "" in end:
        edge = (start + end).index("") % len(start)
        raise ValueError(f"from_bus, to_bus: edge {edge} has an empty bus name; expected a bus")
    source = bus_name(source_bus)
    buses = list(dict.fromkeys(bus for pair in zip(start, end, strict=True) for bus in pair))
    if source not in buses:
        raise ValueError(f"source_bus: got {source_bus!r}; it is not a terminal of any edge")
    position = {bus: k for k, bus in enumerate(buses)}
    ends = np.array([[position[a], position[b]] for a, b in zip(start, end, strict=True)])
    # Edges are undirected: one entry per bus pair, the shortest of parallel edges (a sparse
    # matrix would add them up). Explicit zeros stay edges in csgraph's sparse input, so a 0 m
    # switch connects its buses.
    pairs = pd.DataFrame({"low": ends.min(axis=1), "high": ends.max(axis=1), "length_m": lengths})
    shortest = pairs.groupby(["low", "high"], sort=False)["length_m"].min()
    graph = sparse.csr_array(
        (
            shortest.to_numpy(),
            (
                shortest.index.get_level_values("low").to_numpy(),
                shortest.index.get_level_values("high").to_numpy(),
            ),
        ),
        shape=(len(buses), len(buses)),
    )
    distance_m = csgraph.dijkstra(graph, directed=False, indices=position[source])
    return pd.Series(
        np.where(np.isinf(distance_m), np.nan, distance_m),
        index=pd.Index(buses, name="bus"),
        name="distance_m",
        dtype=float,
    )


def buses_behind(
    from_bus: np.ndarray | list[str],
    to_bus: np.ndarray | list[str],
    crossing: np.ndarray | list[bool],
    source_bus: str,
    buses: np.ndarray | list[str],
) -> np.ndarray:
    """Which buses the source reaches only across a marked edge (e.g. a transformer).

    Parameters
    ----------
    from_bus, to_bus : sequence of str
        Terminal buses of each edge (line, transformer winding, switch); node suffixes are
        dropped and names compared case-insensitively.
    crossing : sequence of bool
        Per edge, whether it is one of the marked edges.
    source_bus : str
        Bus of the source.
    buses : sequence of str
        The buses to answer for.

    Returns
    -------
    numpy.ndarray of bool
        Per bus of ``buses``: True where the source reaches it, but not without a marked edge;
        False for the source itself, for buses it reaches over unmarked edges alone, and for
        buses it does not reach at all.

    Notes
    -----
    Edges are undirected. A bus is behind a marked edge when it is connected to the source in
    the whole graph but not in the graph without the marked edges (connected components,
    ``scipy.sparse.csgraph.connected_components``); on a radial feeder that is when the one path
    from the source crosses a marked edge.

    Examples
    --------
    A line to ``a``, a transformer (marked) to ``b``, a line on to ``c``; ``x`` is isolated:

    >>> buses_behind(["s", "a", "b", "x"], ["a", "b", "c", "y"], [False, True, False, False],
    ...     "S", ["s", "a", "b", "c.1", "x", "z"]).tolist()
    [False, False, True, True, False, False]
    """
    marked = np.asarray(crossing, dtype=bool)
    if not len(from_bus) == len(to_bus) == marked.size or marked.ndim != 1:
        raise ValueError(
            f"from_bus, to_bus, crossing: got {len(from_bus)}, {len(to_bus)} and shape "
            f"{marked.shape}; expected one bus pair and one flag per edge"
        )
    graph = _EdgeGraph(from_bus, to_bus, source_bus)
    behind = graph.reached(np.ones(marked.size, dtype=bool)) & ~graph.reached(~marked)
    return graph.answer(behind, buses)


def buses_reached(
    from_bus: np.ndarray | list[str],
    to_bus: np.ndarray | list[str],
    source_bus: str,
    buses: np.ndarray | list[str],
) -> np.ndarray:
    """Which buses the source reaches over the edges at all.

    Parameters
    ----------
    from_bus, to_bus : sequence of str
        Terminal buses of each edge; node suffixes are dropped and names compared
        case-insensitively.
    source_bus : str
        Bus of the source.
    buses : sequence of str
        The buses to answer for.

    Returns
    -------
    numpy.ndarray of bool
        Per bus of ``buses``: True for the source and every bus connected to it; False for a
        bus no chain of edges connects to it, or that no edge names.

    Examples
    --------
    >>> buses_reached(["s", "a", "x"], ["a", "b", "y"], "S", ["b.1", "y", "z", "s"]).tolist()
    [True, False, False, True]
    """
    if len(from_bus) != len(to_bus):
        raise ValueError(
            f"from_bus, to_bus: got {len(from_bus)} and {len(to_bus)} buses; expected one pair "
            "per edge"
        )
    graph = _EdgeGraph(from_bus, to_bus, source_bus)
    return graph.answer(graph.reached(np.ones(len(from_bus), dtype=bool)), buses)


class _EdgeGraph:
    """Buses and undirected edges of a feeder, numbered for ``scipy.sparse.csgraph``."""

    def __init__(
        self, from_bus: np.ndarray | list[str], to_bus: np.ndarray | list[str], source_bus: str
    ):
        start = [bus_name(bus) for bus in from_bus]
        end = [bus_name(bus) for bus in to_bus]
        self.source = bus_name(source_bus)
        self.names = list(dict.fromkeys([self.source, *start, *end]))
        self.position = {bus: k for k, bus in enumerate(self.names)}
        ends = [[self.position[a], self.position[b]] for a, b in zip(start, end, strict=True)]
        self.ends = np.array(ends, dtype=np.intp).reshape(-1, 2)

    def reached(self, keep: np.ndarray) -> np.ndarray:
        """Which of ``names`` are connected to the source over the kept edges."""
        from scipy import sparse  # here: scipy loads only for the feeders that need it
        from scipy.sparse import csgraph

        graph = sparse.csr_array(
            (np.ones(int(keep.sum())), (self.ends[keep, 0], self.ends[keep, 1])),
            shape=(len(self.names), len(self.names)),
        )
        _, label = csgraph.connected_components(graph, directed=False)
        return label == label[self.position[self.source]]

    def answer(self, flags: np.ndarray, buses: np.ndarray | list[str]) -> np.ndarray:
        """``flags`` (one per name) of each of ``buses``; False for a bus no edge names."""
        return np.array(
            [
                bool(flags[self.position[bus]]) if bus in self.position else False
                for bus in map(bus_name, buses)
            ]
        )
