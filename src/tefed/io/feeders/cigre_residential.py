"""The CIGRE LV benchmark's residential sub-network (nodes R0–R18), as OpenDSS script text.

The residential feeder of the CIGRE low-voltage benchmark [1]_, European configuration, built
from its published parameters as pandapower's network library gives them [2]_
(``pandapower.networks.create_cigre_network_lv``, BSD-3-Clause). It is the feeder of T-REX's
test bench TB-1 [3]_, which places its participants on the nodes of the same names. The small
public figures are carried here with that attribution:

- source: 20 kV at node R0, short-circuit power 100 MVA with R/X = 1, 1.0 pu;
- transformer R0–R1: 500 kVA, 20/0.4 kV, Dyn, short-circuit voltage 4.123106 %, its resistive
  part 1.0 %, no iron losses;
- 17 underground cables (`LINES`), radial from the LV busbar R1, of two types (`LINE_TYPES`),
  positive-sequence resistance and reactance per km;
- the benchmark's peak loads at R1 (the other feeders of the busbar), R11 and R15–R18
  (`PUBLISHED_LOADS`), built only when asked for.

T-REX used the benchmark's North American variant, whose parameters are not published in a form
we carry; topology and node names are the same, voltages and impedances here are the European
ones.

The module is pure: it builds text and tables, it neither imports OpenDSS nor touches files.

References
----------
.. [1] CIGRE Task Force C6.04.02, "Benchmark Systems for Network Integration of Renewable and
   Distributed Energy Resources", CIGRE Technical Brochure 575, 2014.
.. [2] L. Thurner et al., "pandapower — An Open-Source Python Tool for Convenient Modeling,
   Analysis, and Optimization of Electric Power Systems", IEEE Transactions on Power Systems
   33(6), 6510–6521, 2018. doi:10.1109/TPWRS.2018.2829021 (``pandapower/networks/
   cigre_networks.py`` in https://github.com/e2nIEE/pandapower).
.. [3] S. Zhang, D. Gül, P. Musilek, "T-REX: A Software Platform for Developing Transactive
   Energy Markets", https://github.com/TREX-Core.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tefed.io.feeders.generator import ZERO_SEQUENCE_IMPEDANCE_RATIO
from tefed.io.feeders.layout import (
    GeneratedFeeder,
    dss_number,
    require_choice,
    require_count,
    require_positive,
)

#: System frequency [Hz].
BASE_FREQUENCY_HZ = 50.0
#: Source (MV) and household (LV) line-to-line voltages [kV].
MV_KV = 20.0
LV_KV = 0.4
#: Short-circuit power of the MV source [MVA] and its R/X ratio [-].
SOURCE_SHORT_CIRCUIT_MVA = 100.0
SOURCE_R_OVER_X = 1.0
#: Transformer R0–R1: rating [kVA], short-circuit voltage and its resistive part [%].
TRANSFORMER_KVA = 500.0
TRANSFORMER_SHORT_CIRCUIT_VOLTAGE_PCT = 4.123106
TRANSFORMER_RESISTANCE_PCT = 1.0
#: Node of the MV source, and the LV busbar.
SOURCE_NODE = "R0"
BUSBAR_NODE = "R1"
#: Name of the one transformer.
TRANSFORMER_NAME = "t1"


@dataclass(frozen=True)
class CigreLineType:
    """A cable type of the benchmark: positive-sequence impedance per km.

    Parameters
    ----------
    r_ohm_per_km, x_ohm_per_km : float
        Positive-sequence resistance and reactance [ohm/km].
    construction : str
        How the line is built.
    """

    r_ohm_per_km: float
    x_ohm_per_km: float
    construction: str


#: The benchmark's line types (pandapower, cigre_networks.py).
LINE_TYPES: dict[str, CigreLineType] = {
    "UG1": CigreLineType(0.162, 0.0832, "underground cable"),
    "UG3": CigreLineType(0.822, 0.0847, "underground cable"),
}

#: The 17 lines: (name, from node, to node, length [m], line type).
LINES: tuple[tuple[str, str, str, float, str], ...] = (
    ("R1-R2", "R1", "R2", 35.0, "UG1"),
    ("R2-R3", "R2", "R3", 35.0, "UG1"),
    ("R3-R4", "R3", "R4", 35.0, "UG1"),
    ("R4-R5", "R4", "R5", 35.0, "UG1"),
    ("R5-R6", "R5", "R6", 35.0, "UG1"),
    ("R6-R7", "R6", "R7", 35.0, "UG1"),
    ("R7-R8", "R7", "R8", 35.0, "UG1"),
    ("R8-R9", "R8", "R9", 35.0, "UG1"),
    ("R9-R10", "R9", "R10", 35.0, "UG1"),
    ("R3-R11", "R3", "R11", 30.0, "UG3"),
    ("R4-R12", "R4", "R12", 35.0, "UG3"),
    ("R12-R13", "R12", "R13", 35.0, "UG3"),
    ("R13-R14", "R13", "R14", 35.0, "UG3"),
    ("R14-R15", "R14", "R15", 30.0, "UG3"),
    ("R6-R16", "R6", "R16", 30.0, "UG3"),
    ("R9-R17", "R9", "R17", 30.0, "UG3"),
    ("R10-R18", "R10", "R18", 30.0, "UG3"),
)

#: The benchmark's published peak loads: (node, active [kW], reactive [kvar]).
PUBLISHED_LOADS: tuple[tuple[str, float, float], ...] = (
    ("R1", 190.0, 62.449980),
    ("R11", 14.25, 4.683748),
    ("R15", 49.4, 16.236995),
    ("R16", 52.25, 17.173744),
    ("R17", 33.25, 10.928746),
    ("R18", 44.65, 14.675745),
)

#: The LV nodes, R1 to R18.
LV_NODES: tuple[str, ...] = tuple(f"R{number}" for number in range(1, 19))
#: Where households go by default: the nodes behind the busbar, R2 to R18, in turn.
DEFAULT_HOUSEHOLD_NODES: tuple[str, ...] = LV_NODES[1:]
#: How a household connects.
CONNECTIONS = {"three_phase": "balanced on the three phases", "single_phase": "one phase"}


@dataclass(frozen=True)
class CigreResidentialDesign:
    """Where the households sit on the CIGRE residential sub-network, and what else it carries.

    Parameters
    ----------
    n_households : int
        Number of households, at least 1.
    household_nodes : tuple of str
        Node (``R1`` … ``R18``) of each household in household order, one per household; empty:
        households take the nodes R2 … R18 in turn.
    connection : {"three_phase", "single_phase"}
        A household's load balanced over the node's three phases, or on one phase: phases 1, 2,
        3, 1, … in household order.
    source_voltage_pu : float
        Voltage of the MV source [pu] (published: 1.0).
    published_loads : bool
        Build the benchmark's own peak loads (`PUBLISHED_LOADS`) as constant loads beside the
        households.

    Raises
    ------
    ValueError
        If a field is out of range, a node is not R1 … R18, or ``household_nodes`` does not
        name one node per household.
    """

    n_households: int
    household_nodes: tuple[str, ...] = field(default=())
    connection: str = "three_phase"
    source_voltage_pu: float = 1.0
    published_loads: bool = False

    def __post_init__(self) -> None:
        owner = "CigreResidentialDesign"
        require_count(owner, "n_households", self.n_households)
        require_positive(owner, "source_voltage_pu", self.source_voltage_pu)
        require_choice(owner, "connection", self.connection, CONNECTIONS)
        unknown = [node for node in self.household_nodes if node not in LV_NODES]
        if unknown:
            raise ValueError(
                f"{owner}.household_nodes names {unknown[0]!r}; expected nodes R1 … R18 of the "
                "CIGRE residential sub-network"
            )
        if self.household_nodes and len(self.household_nodes) != self.n_households:
            raise ValueError(
                f"{owner}.household_nodes lists {len(self.household_nodes)} nodes; expected one "
                f"per household ({self.n_households})"
            )

    @property
    def nodes(self) -> tuple[str, ...]:
        """The node of each household (explicit, or R2 … R18 in turn)."""
        if self.household_nodes:
            return tuple(self.household_nodes)
        count = len(DEFAULT_HOUSEHOLD_NODES)
        return tuple(DEFAULT_HOUSEHOLD_NODES[k % count] for k in range(self.n_households))


def generate_cigre_residential_feeder(
    design: CigreResidentialDesign, seed: int = 0
) -> GeneratedFeeder:
    """Build the OpenDSS script of the CIGRE LV residential sub-network with its households.

    Parameters
    ----------
    design : CigreResidentialDesign
        Household nodes, their connection, the source voltage, published loads or not.
    seed : int
        Unused (the benchmark has no random part); taken so every generator has one signature.

    Returns
    -------
    GeneratedFeeder
        Script text; household table (``bus``: the node's bus, ``phase``, ``connection``,
        ``transformer`` ``t1``, ``lateral`` 1, ``distance_m``: cable length from R1); the
        transformer table; source bus ``r0``; household base 0.4 / sqrt(3) kV; 50 Hz.

    Notes
    -----
    Buses are the node names in lower case (OpenDSS's own case), ``r0`` … ``r18``; lines keep
    the published names (``Line.r1-r2`` …).

    Cables. A 3-phase line code per type from sequence values: ``Z1 = r + jx`` as published,
    and ``Z0 = 4 Z1`` because pandapower publishes no zero-sequence data — the approximation of
    `tefed.io.feeders.generator` (the return current flows in a neutral core of the same
    cross-section). A single-phase household thus sees the loop impedance ``2 Z1`` per km; a
    balanced one sees ``Z1``. No capacitance (none published). No ampacity is published here
    either, so the line codes keep OpenDSS's default ratings (400 A normal, 600 A emergency),
    and line-loading KPIs of this feeder are against those.

    Transformer. Dyn (OpenDSS delta-wye, 30 degrees), 500 kVA, ``%loadloss = 1.0``,
    ``XHL = sqrt(4.123106^2 - 1^2) = 4.0 %``, ``%noloadloss = %imag = 0``.

    Source. ``Vsource`` at ``r0``: 20 kV, ``MVAsc3 = MVAsc1 = 100``, ``X1R1 = X0R0 = 1``.
    Voltage bases ``[20, 0.4]``.

    Published loads (``published_loads``): ``Load.cigre_<node>``, 3-phase wye at 0.4 kV with the
    published kW and kvar, constant power (model 1).

    Examples
    --------
    R10 lies nine 35 m spans of UG1 from the busbar; the positive-sequence resistance on the
    way is ``0.315 km * 0.162 ohm/km = 0.05103 ohm``:

    >>> feeder = generate_cigre_residential_feeder(
    ...     CigreResidentialDesign(n_households=2, household_nodes=("R10", "R14"))
    ... )
    >>> feeder.households.bus.tolist(), feeder.households.distance_m.tolist()
    (['r10', 'r14'], [315.0, 210.0])
    >>> sum(1 for line in feeder.dss_text.splitlines() if line.startswith("New Line."))
    17
    """
    nodes = design.nodes
    distance_m = _distances_from_busbar_m()
    n = design.n_households
    if design.connection == "single_phase":
        phase = np.arange(n, dtype=np.int64) % 3 + 1
    else:
        phase = np.ones(n, dtype=np.int64)
    households = pd.DataFrame(
        {
            "bus": pd.Series([node.lower() for node in nodes], dtype=object),
            "phase": phase,
            "connection": pd.Series(
                ["three_phase" if design.connection == "three_phase" else "ln"] * n, dtype=object
            ),
            "transformer": pd.Series([TRANSFORMER_NAME] * n, dtype=object),
            "lateral": np.ones(n, dtype=np.int64),
            "distance_m": np.array([distance_m[node] for node in nodes], dtype=np.float64),
        }
    )
    transformers = pd.DataFrame(
        {
            "name": pd.Series([TRANSFORMER_NAME], dtype=object),
            "mv_bus": pd.Series([SOURCE_NODE.lower()], dtype=object),
            "lv_bus": pd.Series([BUSBAR_NODE.lower()], dtype=object),
            "mv_branch": np.array([1], dtype=np.int64),
            "mv_distance_m": np.array([0.0]),
            "kva": np.array([TRANSFORMER_KVA]),
            "households": np.array([n], dtype=np.int64),
        }
    )
    return GeneratedFeeder(
        dss_text="\n".join(_script_lines(design)) + "\n",
        households=households,
        transformers=transformers,
        source_bus=SOURCE_NODE.lower(),
        lv_base_kv_ln=LV_KV / math.sqrt(3.0),
        frequency_hz=BASE_FREQUENCY_HZ,
    )


def _script_lines(design: CigreResidentialDesign) -> list[str]:
    """The OpenDSS commands, from ``Clear`` to ``CalcVoltageBases`` (see the Notes above)."""
    reactance_pct = math.sqrt(
        TRANSFORMER_SHORT_CIRCUIT_VOLTAGE_PCT**2 - TRANSFORMER_RESISTANCE_PCT**2
    )
    ratio = ZERO_SEQUENCE_IMPEDANCE_RATIO
    codes = [
        f"New LineCode.{name.lower()} nphases=3 units=km "
        f"r1={dss_number(kind.r_ohm_per_km)} x1={dss_number(kind.x_ohm_per_km)} "
        f"r0={dss_number(ratio * kind.r_ohm_per_km)} x0={dss_number(ratio * kind.x_ohm_per_km)} "
        "c1=0 c0=0"
        for name, kind in LINE_TYPES.items()
    ]
    lines = [
        f"New Line.{name.lower()} phases=3 bus1={start.lower()} bus2={end.lower()} "
        f"linecode={kind.lower()} length={dss_number(length_m)} units=m"
        for name, start, end, length_m, kind in LINES
    ]
    loads = [
        f"New Load.cigre_{node.lower()} bus1={node.lower()} phases=3 conn=wye "
        f"kV={dss_number(LV_KV)} kW={dss_number(p_kw)} kvar={dss_number(q_kvar)} model=1"
        for node, p_kw, q_kvar in PUBLISHED_LOADS
    ]
    return [
        "Clear",
        f"Set DefaultBaseFrequency={dss_number(BASE_FREQUENCY_HZ)}",
        f"New Circuit.cigre_lv_residential bus1={SOURCE_NODE.lower()} basekv={dss_number(MV_KV)} "
        f"pu={dss_number(design.source_voltage_pu)} angle=0 phases=3 "
        f"MVAsc3={dss_number(SOURCE_SHORT_CIRCUIT_MVA)} "
        f"MVAsc1={dss_number(SOURCE_SHORT_CIRCUIT_MVA)} "
        f"X1R1={dss_number(1.0 / SOURCE_R_OVER_X)} X0R0={dss_number(1.0 / SOURCE_R_OVER_X)}",
        *codes,
        f"New Transformer.{TRANSFORMER_NAME} phases=3 windings=2 "
        f"buses=[{SOURCE_NODE.lower()}, {BUSBAR_NODE.lower()}] conns=[delta, wye] "
        f"kVs=[{dss_number(MV_KV)}, {dss_number(LV_KV)}] "
        f"kVAs=[{dss_number(TRANSFORMER_KVA)}, {dss_number(TRANSFORMER_KVA)}] "
        f"XHL={dss_number(reactance_pct)} %loadloss={dss_number(TRANSFORMER_RESISTANCE_PCT)} "
        "%noloadloss=0 %imag=0",
        *lines,
        *(loads if design.published_loads else []),
        f"Set VoltageBases=[{dss_number(MV_KV)}, {dss_number(LV_KV)}]",
        "CalcVoltageBases",
    ]


def _distances_from_busbar_m() -> dict[str, float]:
    """Cable length from the busbar R1 to every LV node [m] (the lines run outwards)."""
    distance_m = {BUSBAR_NODE: 0.0}
    for _, start, end, length_m, _ in LINES:
        distance_m[end] = distance_m[start] + length_m
    return distance_m
