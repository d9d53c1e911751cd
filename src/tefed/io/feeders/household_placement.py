"""Household placement: attach the simulated households to an existing feeder (pure: no I/O).

A feeder from a utility or a test case (e.g. an IEEE test feeder) comes with its own loads. The
households of a run are placed at those loads' buses and phases, either by a deterministic rule
(`place_households`) or as an explicit list of ``bus.phase`` references (`explicit_placement`).
No random numbers are drawn: the same feeder and count always give the same placement.

The feeder's loads are described by *load points*, one row per phase of each load: a 3-phase
load of 300 kW gives three rows of 100 kW.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from numbers import Integral

import numpy as np
import pandas as pd

from tefed.domain.network.feeder_topology import bus_name

#: Placement rules understood by `place_households`.
METHODS = ("balanced", "proportional", "one_per_load")

#: Phase letters of OpenDSS node numbers 1, 2, 3.
PHASE_LETTERS = {1: "A", 2: "B", 3: "C"}

_PHASE_CODES = {"1": 1, "2": 2, "3": 3, "a": 1, "b": 2, "c": 3}

#: Decimals kept of the proportional quotas, so that remainders equal in decimal arithmetic tie.
_QUOTA_DECIMALS = 9


def _load_points(load_points: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(load_points, pd.DataFrame):
        raise ValueError(f"load_points: got {type(load_points).__name__}; expected a DataFrame")
    missing = [c for c in ("load", "bus", "phase", "power_kw") if c not in load_points.columns]
    if missing:
        raise ValueError(
            f"load_points: missing columns {missing}; expected load, bus, phase, power_kw"
        )
    if load_points.empty:
        raise ValueError("load_points: got no rows; expected at least one load point")
    phase = pd.to_numeric(load_points["phase"], errors="coerce").to_numpy(float)
    bad = ~np.isin(phase, (1.0, 2.0, 3.0))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        value = load_points["phase"].tolist()[row]
        raise ValueError(f"load_points.phase: got {value!r} in row {row}; expected 1, 2 or 3")
    power = pd.to_numeric(load_points["power_kw"], errors="coerce").to_numpy(float)
    bad = ~np.isfinite(power) | (power < 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        value = load_points["power_kw"].tolist()[row]
        raise ValueError(f"load_points.power_kw: got {value!r} in row {row}; expected >= 0 [kW]")
    bus = np.array([bus_name(name) for name in load_points["bus"]], dtype=object)
    if (bus == "").any():
        row = int(np.flatnonzero(bus == "")[0])
        raise ValueError(f"load_points.bus: got an empty name in row {row}; expected a bus")
    return pd.DataFrame({"bus": bus, "phase": phase.astype(np.int64), "power_kw": power})


def place_households(
    load_points: pd.DataFrame, n_households: int, method: str = "balanced"
) -> pd.DataFrame:
    """Place households at the feeder's load points by a deterministic rule.

    Parameters
    ----------
    load_points : pandas.DataFrame
        One row per phase of each existing load, in feeder order: ``load`` (str), ``bus``
        (str), ``phase`` (1, 2 or 3) and ``power_kw`` (that phase's share of the load, >= 0)
        [kW].
    n_households : int
        Number of households to place, >= 1.
    method : {"balanced", "proportional", "one_per_load"}
        The placement rule (see Notes).

    Returns
    -------
    pandas.DataFrame
        Index ``0 … n_households − 1`` (the household number); ``bus`` (lowercase, as OpenDSS
        names buses) and ``phase`` (int).

    Raises
    ------
    ValueError
        For ``n_households < 1``, an empty or malformed ``load_points``, an unknown
        ``method``, all-zero power with ``"proportional"``, or more households than load points
        with ``"one_per_load"``.

    Notes
    -----
    ``"balanced"``: with ``k`` phases present among the load points (sorted), household ``i``
    is on phase ``phases[i mod k]``, so per-phase counts differ by at most one (the extra ones
    on the lower phases). The ``j``-th household on a phase goes to that phase's load point
    ``j mod m`` (its ``m`` points in row order): round-robin in feeder order.

    ``"proportional"``: largest-remainder (Hamilton) apportionment of ``n`` households by
    ``power_kw``. Point ``r`` has quota ``q_r = n · P_r / Σ P``; it gets ``⌊q_r⌋`` and the
    ``n − Σ ⌊q_r⌋`` points with the largest remainders ``q_r − ⌊q_r⌋`` get one more (ties by row
    order; quotas and remainders are rounded to 1e-9 so that decimal ties stay ties). Every
    count is within one of its quota and they sum to ``n``. Households are listed point by
    point.

    ``"one_per_load"``: household ``i`` at load point ``i`` (needs ``n ≤`` number of points).

    References
    ----------
    .. [1] M. L. Balinski, H. P. Young, "Fair Representation: Meeting the Ideal of One Man, One
       Vote", 2nd ed., Brookings Institution Press, 2001 (Hamilton's method, chapter 2).

    Examples
    --------
    Loads of 30, 10 and 0 kW; 5 households have quotas 3.75, 1.25 and 0, so 3 + 1 + 0 and the
    remaining one goes to the largest remainder, 0.75:

    >>> points = pd.DataFrame({"load": ["l1", "l2", "l3"], "bus": ["B1", "b2", "b3"],
    ...                        "phase": [1, 2, 3], "power_kw": [30.0, 10.0, 0.0]})
    >>> place_households(points, 5, "proportional")["bus"].tolist()
    ['b1', 'b1', 'b1', 'b1', 'b2']
    >>> place_households(points, 4, "balanced")["phase"].tolist()
    [1, 2, 3, 1]
    """
    if not isinstance(n_households, Integral) or isinstance(n_households, bool):
        raise ValueError(f"n_households: got {n_households!r}; expected an integer >= 1")
    if n_households < 1:
        raise ValueError(f"n_households: got {n_households}; expected an integer >= 1")
    if method not in METHODS:
        raise ValueError(f"method: got {method!r}; expected one of {', '.join(METHODS)}")
    points = _load_points(load_points)
    n = int(n_households)
    if method == "balanced":
        rows = _balanced_rows(points["phase"].to_numpy(), n)
    elif method == "proportional":
        counts = _hamilton_counts(points["power_kw"].to_numpy(), n)
        rows = np.repeat(np.arange(len(points)), counts)
    else:
        if n > len(points):
            raise ValueError(
                f"n_households: got {n}; 'one_per_load' needs at most one household per load "
                f"point and the feeder has {len(points)} load points"
            )
        rows = np.arange(n)
    return pd.DataFrame(
        {"bus": points["bus"].to_numpy()[rows], "phase": points["phase"].to_numpy()[rows]}
    )


def _balanced_rows(point_phase: np.ndarray, n: int) -> np.ndarray:
    """Load-point row of each household under the balanced rule."""
    phases = np.unique(point_phase)
    household = np.arange(n)
    household_phase = phases[household % len(phases)]
    rank_on_phase = household // len(phases)
    rows = np.empty(n, dtype=np.int64)
    for phase in phases:  # at most three phases
        on_phase = household_phase == phase
        phase_rows = np.flatnonzero(point_phase == phase)
        rows[on_phase] = phase_rows[rank_on_phase[on_phase] % len(phase_rows)]
    return rows


def _hamilton_counts(power_kw: np.ndarray, n: int) -> np.ndarray:
    """Households per load point, largest-remainder apportionment of ``n`` by power."""
    total = power_kw.sum()
    if total <= 0:
        raise ValueError(
            "load_points.power_kw: all zero; 'proportional' needs a positive total power"
        )
    quota = np.round(n * power_kw / total, _QUOTA_DECIMALS)
    counts = np.floor(quota).astype(np.int64)
    remainder = np.round(quota - counts, _QUOTA_DECIMALS)
    left = n - int(counts.sum())
    counts[np.argsort(-remainder, kind="stable")[:left]] += 1
    return counts


def parse_node_reference(text: str) -> tuple[str, int]:
    """Split a ``bus.phase`` node reference into its bus and phase number.

    Parameters
    ----------
    text : str
        ``"<bus>.<phase>"`` with phase ``1``, ``2``, ``3`` or ``A``, ``B``, ``C`` (any case).

    Returns
    -------
    tuple of (str, int)
        The bus, lowercase (OpenDSS lowercases bus names), and the phase number 1–3.

    Examples
    --------
    >>> parse_node_reference("634.1"), parse_node_reference("Bus7.c")
    (('634', 1), ('bus7', 3))
    """
    expected = "expected 'bus.phase' with phase 1, 2, 3 or A, B, C (e.g. '634.1' or '634.A')"
    if not isinstance(text, str):
        raise ValueError(f"node reference {text!r}: not a string; {expected}")
    bus, dot, phase = text.strip().rpartition(".")
    bus = bus.strip().lower()
    if not dot or not bus or "." in bus or phase.strip().lower() not in _PHASE_CODES:
        raise ValueError(f"node reference {text!r}: {expected}")
    return bus, _PHASE_CODES[phase.strip().lower()]


def _phase_label(phase: int) -> str:
    return PHASE_LETTERS.get(phase, str(phase))


def phases_by_bus(known_nodes: set[tuple[str, int]]) -> dict[str, set[int]]:
    """The phases of each bus of a feeder, from its ``(bus, node)`` pairs (bus lowercase)."""
    phases_at: dict[str, set[int]] = defaultdict(set)
    for bus, phase in known_nodes:
        phases_at[bus_name(bus)].add(int(phase))
    return dict(phases_at)


def missing_phases(
    bus: str, phases: Sequence[int], phases_at: Mapping[str, set[int]]
) -> str | None:
    """Why a connection on ``phases`` of ``bus`` is not in the feeder, or None if it is.

    Parameters
    ----------
    bus : str
        Bus name, any case (OpenDSS ignores it).
    phases : sequence of int
        Phases (1–3) the connection needs.
    phases_at : mapping of str to set of int
        The feeder's phases by bus (`phases_by_bus`).

    Returns
    -------
    str or None
        ``"is not in the feeder"`` or ``"has no phase C (it has A, B)"``, to follow the bus's
        name; None when the bus has every phase.

    Examples
    --------
    >>> phases_at = {"634": {1, 2}}
    >>> missing_phases("634", [1, 2, 3], phases_at), missing_phases("999", [1], phases_at)
    ('has no phase C (it has A, B)', 'is not in the feeder')
    """
    present = phases_at.get(bus_name(bus))
    if present is None:
        return "is not in the feeder"
    absent = [phase for phase in phases if phase not in present]
    if not absent:
        return None
    have = ", ".join(_phase_label(p) for p in sorted(present))
    return f"has no phase {', '.join(_phase_label(p) for p in absent)} (it has {have})"


def explicit_placement(references: list[str], known_nodes: set[tuple[str, int]]) -> pd.DataFrame:
    """Place household ``i`` at the node ``references[i]``, checked against the feeder.

    Parameters
    ----------
    references : list of str
        One ``bus.phase`` reference per household (see `parse_node_reference`).
    known_nodes : set of tuple of (str, int)
        The feeder's nodes as ``(bus, phase)``; bus names are compared case-insensitively.

    Returns
    -------
    pandas.DataFrame
        Index ``0 … len(references) − 1``; ``bus`` (lowercase) and ``phase`` (int).

    Raises
    ------
    ValueError
        Listing *every* household (by its 0-based index) whose reference is malformed, whose
        bus is not in the feeder, or whose phase does not exist at its bus, with the phases
        that bus has.

    Examples
    --------
    >>> nodes = {("634", 1), ("634", 2), ("675", 3)}
    >>> explicit_placement(["634.B", "675.3"], nodes).to_numpy().tolist()
    [['634', 2], ['675', 3]]
    >>> try:
    ...     explicit_placement(["634.c", "999.1"], nodes)
    ... except ValueError as error:
    ...     print(error)
    references: 2 of 2 households are not at a feeder node:
      household 0: bus '634' has no phase C (it has A, B)
      household 1: bus '999' is not in the feeder
    """
    references = list(references)
    if not references:
        raise ValueError("references: got none; expected one 'bus.phase' per household (>= 1)")
    phases_at = phases_by_bus(known_nodes)
    placed: list[tuple[str, int]] = []
    problems: list[str] = []
    for household, text in enumerate(references):
        try:
            bus, phase = parse_node_reference(text)
        except ValueError as error:
            problems.append(f"household {household}: {error}")
            continue
        problem = missing_phases(bus, [phase], phases_at)
        if problem is not None:
            problems.append(f"household {household}: bus {bus!r} {problem}")
        placed.append((bus, phase))
    if problems:
        raise ValueError(
            f"references: {len(problems)} of {len(references)} households are not at a feeder "
            "node:" + "".join(f"\n  {problem}" for problem in problems)
        )
    return pd.DataFrame(placed, columns=["bus", "phase"])
