"""Layout rules and script conventions shared by the synthetic feeder generators.

Both generators — `tefed.io.feeders.generator` (European 3-phase 4-wire 400/230 V) and
`tefed.io.feeders.split_phase` (North American split-phase 120/240 V) — build the same kind
of radial feeder: a medium-voltage (MV) source bus, MV branches that chain the distribution
transformers, and behind each transformer a low-voltage network of laterals whose nodes (street
cabinets or poles) feed one service drop per household. This module holds what they share:
the splitting and placement rules (`split_evenly`, `lay_out_households`, `mv_chain`), the
OpenDSS commands of MV lines, laterals and service drops, the result type `GeneratedFeeder`,
number formatting and input validation.

Bus names. The MV source bus is ``mv``; transformer ``k`` (1-based) has its MV terminal at
``t{k}_mv`` and its LV terminal at ``t{k}_lv``; node ``n`` of lateral ``l`` behind it is
``t{k}_l{l}_n{n}``; household ``i`` (0-based) is at ``house_{i:05d}``. Lines take the name of
the bus they feed, except the service drops, named ``service_{i:05d}``.

The module is pure: it builds arrays and text, it neither imports OpenDSS nor touches files.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from functools import reduce
from numbers import Integral, Real

import numpy as np
import pandas as pd

#: Bus of the MV source.
SOURCE_BUS = "mv"


@dataclass(frozen=True)
class GeneratedFeeder:
    """A generated feeder: OpenDSS script and where the households connect.

    Parameters
    ----------
    dss_text : str
        Complete OpenDSS script from ``Clear`` to ``CalcVoltageBases``: source, line codes,
        lines and transformers; no loads and no ``Solve``.
    households : pandas.DataFrame
        One row per household, index ``0 .. n_households - 1``, columns ``bus`` (service bus,
        str), ``phase`` (1, 2 or 3: the phase the household loads; for a split-phase household
        the MV phase of its transformer), ``connection`` (``"ln"``: line-to-neutral on node
        ``phase`` of ``bus``; ``"split"``: 240 V across nodes 1 and 2 of ``bus``),
        ``transformer`` (OpenDSS transformer name, str), ``lateral`` (1-based lateral behind its
        transformer) and ``distance_m`` (cable length from its transformer's LV terminal [m]).
    transformers : pandas.DataFrame
        One row per distribution transformer, index ``0 .. n_transformers - 1``, columns
        ``name`` (str), ``mv_bus`` and ``lv_bus`` (its terminals, str), ``mv_branch`` (1-based
        MV branch), ``mv_distance_m`` (MV line length from the source bus [m]), ``kva`` (rating
        [kVA]) and ``households`` (number of households it feeds).
    source_bus : str
        Bus of the MV source.
    lv_base_kv_ln : float
        Line-to-neutral base voltage of the household nodes [kV]: a node's voltage in pu is its
        voltage to ground over this value.
    frequency_hz : float
        System frequency [Hz].
    """

    dss_text: str
    households: pd.DataFrame
    transformers: pd.DataFrame
    source_bus: str
    lv_base_kv_ln: float
    frequency_hz: float


@dataclass(frozen=True)
class HouseholdPlacement:
    """Where each household sits in the feeder (arrays indexed by household).

    Parameters
    ----------
    transformer : numpy.ndarray
        0-based index of the household's transformer.
    lateral : numpy.ndarray
        1-based lateral behind that transformer.
    node : numpy.ndarray
        1-based node (cabinet or pole) along the lateral, counted from the transformer.
    walk_order : numpy.ndarray
        Household indices in feeder order: by transformer, lateral, node, then household.
    """

    transformer: np.ndarray
    lateral: np.ndarray
    node: np.ndarray
    walk_order: np.ndarray


def split_evenly(n_items: int, n_blocks: int) -> tuple[np.ndarray, np.ndarray]:
    """Split items ``0 .. n_items - 1`` into contiguous blocks of nearly equal size.

    Parameters
    ----------
    n_items : int
        Number of items, >= 0.
    n_blocks : int
        Number of blocks, >= 1.

    Returns
    -------
    block : numpy.ndarray
        0-based block of each item.
    position : numpy.ndarray
        0-based position of each item within its block.

    Notes
    -----
    With ``q, r = divmod(n_items, n_blocks)``, blocks ``0 .. r - 1`` hold ``q + 1`` items and
    the others ``q``, in item order (the rule of ``numpy.array_split``). Block sizes therefore
    differ by at most one, and the larger blocks come first.

    Examples
    --------
    Seven items in three blocks: sizes 3, 2, 2.

    >>> block, position = split_evenly(7, 3)
    >>> block.tolist(), position.tolist()
    ([0, 0, 0, 1, 1, 2, 2], [0, 1, 2, 0, 1, 0, 1])
    """
    quotient, remainder = divmod(n_items, n_blocks)
    sizes = np.full(n_blocks, quotient, dtype=np.int64)
    sizes[:remainder] += 1
    block = np.repeat(np.arange(n_blocks, dtype=np.int64), sizes)
    starts = np.cumsum(sizes) - sizes
    return block, np.arange(n_items, dtype=np.int64) - starts[block]


def lay_out_households(
    n_households: int, n_transformers: int, laterals: int, households_per_node: int
) -> HouseholdPlacement:
    """Place households on transformers, laterals and nodes.

    Parameters
    ----------
    n_households : int
        Number of households, >= 1.
    n_transformers : int
        Number of distribution transformers, 1 .. n_households.
    laterals : int
        Laterals leaving each transformer's LV terminal, >= 1.
    households_per_node : int
        Households served from one node of a lateral, >= 1.

    Returns
    -------
    HouseholdPlacement
        Transformer, lateral and node of every household, and the feeder walk order.

    Notes
    -----
    Households are split over transformers by `split_evenly`. The ``j``-th household (0-based)
    of a transformer goes round-robin to lateral ``j mod L + 1``, where ``L = laterals``, and
    takes node ``(j // L) // households_per_node + 1`` on it, so each lateral's nodes are
    numbered 1, 2, ... without gaps and at most ``households_per_node`` households share one.

    Examples
    --------
    Five households, two transformers (3 + 2 households), two laterals, one household a node:

    >>> p = lay_out_households(5, 2, laterals=2, households_per_node=1)
    >>> p.transformer.tolist(), p.lateral.tolist(), p.node.tolist()
    ([0, 0, 0, 1, 1], [1, 2, 1, 1, 2], [1, 1, 2, 1, 1])
    >>> p.walk_order.tolist()
    [0, 2, 1, 3, 4]
    """
    transformer, local = split_evenly(n_households, n_transformers)
    lateral = local % laterals + 1
    node = (local // laterals) // households_per_node + 1
    walk_order = np.lexsort((np.arange(n_households), node, lateral, transformer))
    return HouseholdPlacement(transformer, lateral, node, walk_order)


def mv_chain(n_transformers: int, transformers_per_branch: int) -> tuple[np.ndarray, np.ndarray]:
    """MV branch and position along it of each transformer.

    Parameters
    ----------
    n_transformers : int
        Number of transformers, >= 1.
    transformers_per_branch : int
        Most transformers one MV branch chains, >= 1.

    Returns
    -------
    branch : numpy.ndarray
        1-based MV branch of each transformer.
    position : numpy.ndarray
        1-based position along the branch: the number of MV line segments between the source
        bus and the transformer.

    Notes
    -----
    ``ceil(n_transformers / transformers_per_branch)`` branches leave the source bus, and
    `split_evenly` gives each a contiguous run of transformers: a transformer's upstream MV
    node is the previous transformer's, or the source bus for the first of a branch.

    Examples
    --------
    >>> branch, position = mv_chain(5, transformers_per_branch=2)
    >>> branch.tolist(), position.tolist()
    ([1, 1, 2, 2, 3], [1, 2, 1, 2, 1])
    """
    n_branches = -(-n_transformers // transformers_per_branch)
    branch, position = split_evenly(n_transformers, n_branches)
    return branch + 1, position + 1


def transformer_names(n_transformers: int) -> np.ndarray:
    """OpenDSS names ``t1 .. tN`` of the transformers, as an object array."""
    return "t" + _text(np.arange(1, n_transformers + 1))


def household_buses(n_households: int) -> np.ndarray:
    """Service bus names ``house_00000 ...`` of the households, as an object array."""
    return "house_" + _padded(np.arange(n_households))


def mv_line_commands(
    branch_position: np.ndarray, spacing_m: float, linecode: str
) -> tuple[list[str], np.ndarray]:
    """Commands of the 3-phase MV lines, one ahead of each transformer's MV terminal.

    Parameters
    ----------
    branch_position : numpy.ndarray
        1-based position of each transformer along its MV branch (from `mv_chain`).
    spacing_m : float
        Length of every MV segment [m].
    linecode : str
        OpenDSS line code of the MV lines.

    Returns
    -------
    commands : list of str
        ``New Line.t{k}_mv`` from the previous transformer's MV terminal (from the source bus
        at position 1).
    distance_m : numpy.ndarray
        MV line length from the source bus to each transformer [m].
    """
    names = transformer_names(len(branch_position))
    mv_bus = names + "_mv"
    upstream = np.where(branch_position == 1, SOURCE_BUS, np.roll(mv_bus, 1)).astype(object)
    commands = concat(
        "New Line.", mv_bus, " bus1=", upstream, " bus2=", mv_bus,
        f" phases=3 linecode={linecode} length={dss_number(spacing_m)} units=m",
    )  # fmt: skip
    return commands.tolist(), branch_position * float(spacing_m)


def lateral_line_commands(
    placement: HouseholdPlacement,
    spacing_m: float,
    linecode: str,
    phases: int,
    nodes: str,
) -> list[str]:
    """Commands of the lateral segments, one feeding each node, in feeder order.

    Parameters
    ----------
    placement : HouseholdPlacement
        Household positions (from `lay_out_households`).
    spacing_m : float
        Length of every segment: LV terminal to node 1 and node to node [m].
    linecode : str
        OpenDSS line code of the laterals.
    phases : int
        Conductors of the line code (3 for 4-wire cable, 2 for triplex).
    nodes : str
        Node suffix of both ends, e.g. ``""`` (all phases) or ``".1.2"``.
    """
    order = placement.walk_order
    t, lateral, node = placement.transformer[order], placement.lateral[order], placement.node[order]
    # Households sharing a node are adjacent in walk order; keep the first of each node.
    first = np.r_[True, np.any(np.diff(np.stack([t, lateral, node]), axis=1) != 0, axis=0)]
    t, lateral, node = t[first], lateral[first], node[first]
    lateral_prefix = "t" + _text(t + 1) + "_l" + _text(lateral) + "_n"
    bus = lateral_prefix + _text(node)
    upstream = np.where(
        node == 1, "t" + _text(t + 1) + "_lv", lateral_prefix + _text(node - 1)
    ).astype(object)
    commands = concat(
        "New Line.", bus, " bus1=", upstream, nodes, " bus2=", bus, nodes,
        f" phases={phases} linecode={linecode} length={dss_number(spacing_m)} units=m",
    )  # fmt: skip
    return commands.tolist()


def service_line_commands(
    placement: HouseholdPlacement,
    length_m: np.ndarray,
    linecode: str,
    phases: int,
    nodes: str | np.ndarray,
) -> list[str]:
    """Commands of the service drops ``service_{i:05d}``, node to house, in household order.

    Parameters
    ----------
    placement : HouseholdPlacement
        Household positions (from `lay_out_households`).
    length_m : numpy.ndarray
        Service drop length of each household [m].
    linecode, phases : str, int
        Line code of the service drops and its conductors, as in `lateral_line_commands`.
    nodes : str or numpy.ndarray
        Node suffix of both ends, one for all or one per household (e.g. ``".2"``).
    """
    n = len(length_m)
    t, lateral, node = placement.transformer + 1, placement.lateral, placement.node
    cabinet = concat("t", _text(t), "_l", _text(lateral), "_n", _text(node))
    lengths = np.array([dss_number(v) for v in length_m.tolist()], dtype=object)
    commands = concat(
        "New Line.service_", _padded(np.arange(n)), " bus1=", cabinet, nodes,
        " bus2=", household_buses(n), nodes,
        f" phases={phases} linecode={linecode} length=", lengths, " units=m",
    )  # fmt: skip
    return commands.tolist()


def draw_service_lengths(seed: int, n_households: int, bounds_m: tuple[float, float]) -> np.ndarray:
    """Service drop lengths drawn uniformly in ``bounds_m``, rounded to the millimetre [m].

    The draw is ``numpy.random.default_rng(seed).uniform(low, high, n_households)`` in household
    order, so a seed fixes every length; the rounding makes the script text and the
    ``distance_m`` column agree exactly.
    """
    low_m, high_m = bounds_m
    return np.round(np.random.default_rng(seed).uniform(low_m, high_m, size=n_households), 3)


def transformer_table(
    branch: np.ndarray, distance_m: np.ndarray, kva: float, household_transformer: np.ndarray
) -> pd.DataFrame:
    """The `GeneratedFeeder.transformers` table (columns described there)."""
    names = transformer_names(len(branch))
    return pd.DataFrame(
        {
            "name": pd.Series(names, dtype=object),
            "mv_bus": pd.Series(names + "_mv", dtype=object),
            "lv_bus": pd.Series(names + "_lv", dtype=object),
            "mv_branch": branch.astype(np.int64),
            "mv_distance_m": distance_m.astype(np.float64),
            "kva": np.full(len(branch), float(kva)),
            "households": np.bincount(household_transformer, minlength=len(branch)),
        }
    )


def household_table(
    placement: HouseholdPlacement, phase: np.ndarray, connection: str, distance_m: np.ndarray
) -> pd.DataFrame:
    """The `GeneratedFeeder.households` table (columns described there)."""
    n = len(phase)
    return pd.DataFrame(
        {
            "bus": pd.Series(household_buses(n), dtype=object),
            "phase": phase.astype(np.int64),
            "connection": pd.Series([connection] * n, dtype=object),
            "transformer": pd.Series("t" + _text(placement.transformer + 1), dtype=object),
            "lateral": placement.lateral.astype(np.int64),
            "distance_m": distance_m.astype(np.float64),
        }
    )


def concat(*parts: object) -> np.ndarray:
    """Elementwise concatenation of strings and object arrays of strings.

    >>> concat("t", np.array(["1", "2"], dtype=object), "_lv").tolist()
    ['t1_lv', 't2_lv']
    """
    return np.asarray(reduce(operator.add, parts), dtype=object)


def dss_number(value: float) -> str:
    """Shortest stable text of a number, 12 significant digits.

    >>> dss_number(0.12 * 3**0.5), dss_number(250.0)
    ('0.207846096908', '250')
    """
    return format(float(value), ".12g")


def require_count(owner: str, field: str, value: object) -> None:
    """Raise ValueError unless ``value`` is an integer >= 1 (bool rejected)."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{owner}.{field} is {value!r}; expected an integer >= 1")


def require_positive(owner: str, field: str, value: object) -> None:
    """Raise ValueError unless ``value`` is a finite real number > 0."""
    if (
        isinstance(value, bool)
        or not isinstance(value, Real)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"{owner}.{field} is {value!r}; expected a finite number > 0")


def require_choice(owner: str, field: str, value: object, choices: dict) -> None:
    """Raise ValueError unless ``value`` is a key of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{owner}.{field} is {value!r}; expected one of {sorted(choices)}")


def require_transformer_count(owner: str, transformers: object, n_households: int) -> None:
    """Raise ValueError unless ``transformers`` is None or an integer in 1 .. n_households."""
    if transformers is None:
        return
    require_count(owner, "transformers", transformers)
    if transformers > n_households:
        raise ValueError(
            f"{owner}.transformers is {transformers!r}; expected at most n_households "
            f"({n_households}), since every transformer feeds at least one household"
        )


def transformer_count(n_households: int, transformers: int | None, per_transformer: int) -> int:
    """``transformers`` if given, else ``ceil(n_households / per_transformer)``."""
    if transformers is not None:
        return int(transformers)
    return -(-n_households // per_transformer)


def require_length_bounds(owner: str, field: str, bounds: object) -> None:
    """Raise ValueError unless ``bounds`` is a pair ``(low, high)`` with 0 < low <= high."""
    try:
        pair = tuple(bounds)  # type: ignore[arg-type]
    except TypeError:
        pair = ()
    if len(pair) != 2:
        raise ValueError(f"{owner}.{field} is {bounds!r}; expected a pair (low, high) [m]")
    for bound in pair:
        require_positive(owner, field, bound)
    if pair[0] > pair[1]:
        raise ValueError(f"{owner}.{field} is {bounds!r}; expected low <= high")


def require_seed(seed: object) -> None:
    """Raise ValueError unless ``seed`` is a non-negative integer (bool rejected)."""
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise ValueError(f"seed is {seed!r}; expected a non-negative integer")


def _text(values: np.ndarray) -> np.ndarray:
    """Integers as an object array of decimal strings, ready for elementwise ``+``."""
    return np.asarray(values).astype(str).astype(object)


def _padded(values: np.ndarray) -> np.ndarray:
    """Integers as 5-digit zero-padded strings (object array)."""
    return np.char.zfill(np.asarray(values).astype(str), 5).astype(object)
