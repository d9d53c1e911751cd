"""Synthetic European residential low-voltage feeders, written as OpenDSS script text.

The generated feeder follows the European 3-phase 4-wire 400/230 V layout of the CIGRE TB 575
residential low-voltage benchmark family [1]_, repeated for as many distribution transformers as
the households need: a medium-voltage (MV) source, MV cables chaining Dyn distribution
transformers, and behind each transformer underground cables leaving its LV busbar as radial
laterals. Along each lateral, street cabinets sit at a fixed spacing, each serving up to
``households_per_node`` households (two by default) through single-phase service cables. Bus
names and the splitting rules are those of `tefed.io.feeders.layout`.

Equipment data are manufacturer figures as tabulated in the pandapower standard-type library
[2]_ (e2nIEE/pandapower, ``pandapower/std_types.py``, ``add_basic_std_types``; its cables cite
Heuck, *Elektrische Energieversorgung*, Vieweg+Teubner 2013, p. 744), BSD-3-Clause:

============================  ============  ============  ==========  =========
cable                         r [ohm/km]    x [ohm/km]    c [nF/km]   Imax [A]
============================  ============  ============  ==========  =========
NAYY 4x150 SE                 0.208         0.080         261         270
NAYY 4x120 SE                 0.225         0.080         264         242
NAYY 4x50 SE                  0.642         0.083         210         142
NA2XS2Y 1x95 RM/25 12/20 kV   0.313         0.132         216         252
NA2XS2Y 1x185 RM/25 12/20 kV  0.161         0.117         273         362
NA2XS2Y 1x240 RM/25 12/20 kV  0.122         0.112         304         421
============================  ============  ============  ==========  =========

Transformer "0.25 MVA 20/0.4 kV": short-circuit voltage 6 %, its resistive part (copper losses)
1.44 %, iron losses 0.8 kW, no-load current 0.32 %.

The module is pure: it builds text and tables, it neither imports OpenDSS nor touches files.

References
----------
.. [1] CIGRE Task Force C6.04.02, "Benchmark Systems for Network Integration of Renewable and
   Distributed Energy Resources", CIGRE Technical Brochure 575, 2014.
.. [2] L. Thurner et al., "pandapower — An Open-Source Python Tool for Convenient Modeling,
   Analysis, and Optimization of Electric Power Systems", IEEE Transactions on Power Systems
   33(6), 6510–6521, 2018. doi:10.1109/TPWRS.2018.2829021 (standard-type library in
   https://github.com/e2nIEE/pandapower, ``pandapower/std_types.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tefed.io.feeders.layout import (
    SOURCE_BUS,
    GeneratedFeeder,
    concat,
    draw_service_lengths,
    dss_number,
    household_table,
    lateral_line_commands,
    lay_out_households,
    mv_chain,
    mv_line_commands,
    require_choice,
    require_count,
    require_length_bounds,
    require_positive,
    require_seed,
    require_transformer_count,
    service_line_commands,
    transformer_count,
    transformer_names,
    transformer_table,
)

__all__ = [
    "CABLE_TYPES",
    "MV_CABLE_TYPES",
    "SOURCE_BUS",
    "CableType",
    "GeneratedFeeder",
    "LvFeederDesign",
    "generate_lv_feeder",
]

#: System frequency of the European grid [Hz]; sets the cable charging susceptance.
BASE_FREQUENCY_HZ = 50.0

#: Short-circuit voltage of the 250 kVA 20/0.4 kV transformer [%] (pandapower ``vk_percent``).
TRANSFORMER_SHORT_CIRCUIT_VOLTAGE_PCT = 6.0
#: Resistive part of the short-circuit voltage, i.e. copper losses at rated power [%].
TRANSFORMER_COPPER_LOSS_PCT = 1.44
#: Iron (no-load) losses of the 250 kVA unit as a share of its rating: 0.8 kW / 250 kVA [%].
TRANSFORMER_NO_LOAD_LOSS_PCT = 0.8 / 250.0 * 100.0
#: No-load current, active and magnetizing parts together [%] (pandapower ``i0_percent``).
TRANSFORMER_NO_LOAD_CURRENT_PCT = 0.32

#: Zero- to positive-sequence impedance ratio of a 4-core LV cable (see `generate_lv_feeder`).
ZERO_SEQUENCE_IMPEDANCE_RATIO = 4.0


@dataclass(frozen=True)
class CableType:
    """Positive-sequence data and rating of a cable.

    Parameters
    ----------
    name : str
        Manufacturer type designation, e.g. ``"NAYY 4x150 SE"``.
    r_ohm_per_km : float
        Positive-sequence resistance [ohm/km].
    x_ohm_per_km : float
        Positive-sequence reactance at 50 Hz [ohm/km].
    c_nf_per_km : float
        Operating capacitance [nF/km].
    ampacity_a : float
        Continuous current rating [A].
    """

    name: str
    r_ohm_per_km: float
    x_ohm_per_km: float
    c_nf_per_km: float
    ampacity_a: float


#: Low-voltage 4-core cable types by name, data from the pandapower standard-type library [2].
CABLE_TYPES: dict[str, CableType] = {
    cable.name: cable
    for cable in (
        CableType("NAYY 4x150 SE", 0.208, 0.08, 261.0, 270.0),
        CableType("NAYY 4x120 SE", 0.225, 0.08, 264.0, 242.0),
        CableType("NAYY 4x50 SE", 0.642, 0.083, 210.0, 142.0),
    )
}

#: 12/20 kV single-core MV cable types by name (three cables a circuit), same source [2].
MV_CABLE_TYPES: dict[str, CableType] = {
    cable.name: cable
    for cable in (
        CableType("NA2XS2Y 1x95 RM/25 12/20 kV", 0.313, 0.132, 216.0, 252.0),
        CableType("NA2XS2Y 1x185 RM/25 12/20 kV", 0.161, 0.117, 273.0, 362.0),
        CableType("NA2XS2Y 1x240 RM/25 12/20 kV", 0.122, 0.112, 304.0, 421.0),
    )
}


@dataclass(frozen=True)
class LvFeederDesign:
    """Design parameters of a synthetic European residential low-voltage feeder.

    Parameters
    ----------
    n_households : int
        Number of households, at least 1.
    laterals : int
        Number of cables leaving each transformer's LV busbar, at least 1.
    transformer_kva : float
        Rated power of each distribution transformer [kVA].
    mv_kv : float
        Medium-voltage line-to-line voltage [kV].
    lv_kv : float
        Low-voltage line-to-line voltage [kV].
    mv_short_circuit_mva : float
        Three- and single-phase short-circuit power of the MV grid [MVA].
    source_voltage_pu : float
        MV source voltage [pu].
    main_cable : str
        Cable type of the laterals, a key of `CABLE_TYPES`.
    service_cable : str
        Cable type of the service drops, a key of `CABLE_TYPES`.
    node_spacing_m : float
        Cable length between consecutive cabinets along a lateral, and from the busbar to the
        first cabinet [m].
    service_length_m : tuple of float
        ``(low, high)`` bounds of the uniformly drawn service-drop lengths [m].
    households_per_node : int
        Households served from one cabinet of a lateral, at least 1.
    households_per_transformer : int
        Households one transformer feeds when ``transformers`` is None, at least 1.
    transformers : int or None
        Number of distribution transformers, 1 .. n_households; None means
        ``ceil(n_households / households_per_transformer)``.
    transformers_per_mv_branch : int
        Most transformers chained on one MV branch leaving the source bus, at least 1; a value
        >= the number of transformers gives a single MV chain.
    mv_cable : str
        Cable type of the MV branches, a key of `MV_CABLE_TYPES`.
    mv_spacing_m : float
        MV cable length from the source bus to the first transformer of a branch and between
        consecutive transformers [m].

    Raises
    ------
    ValueError
        If a field is out of range or names an unknown cable type.
    """

    n_households: int
    laterals: int = 3
    transformer_kva: float = 250.0
    mv_kv: float = 20.0
    lv_kv: float = 0.4
    mv_short_circuit_mva: float = 100.0
    source_voltage_pu: float = 1.0
    main_cable: str = "NAYY 4x150 SE"
    service_cable: str = "NAYY 4x50 SE"
    node_spacing_m: float = 35.0
    service_length_m: tuple[float, float] = (10.0, 30.0)
    households_per_transformer: int = 60
    transformers: int | None = None
    transformers_per_mv_branch: int = 20
    mv_cable: str = "NA2XS2Y 1x185 RM/25 12/20 kV"
    mv_spacing_m: float = 250.0
    households_per_node: int = 2

    def __post_init__(self) -> None:
        owner = "LvFeederDesign"
        for field in (
            "n_households",
            "laterals",
            "households_per_node",
            "households_per_transformer",
            "transformers_per_mv_branch",
        ):
            require_count(owner, field, getattr(self, field))
        require_transformer_count(owner, self.transformers, self.n_households)
        for field in (
            "transformer_kva",
            "mv_kv",
            "lv_kv",
            "mv_short_circuit_mva",
            "source_voltage_pu",
            "node_spacing_m",
            "mv_spacing_m",
        ):
            require_positive(owner, field, getattr(self, field))
        for field in ("main_cable", "service_cable"):
            require_choice(owner, field, getattr(self, field), CABLE_TYPES)
        require_choice(owner, "mv_cable", self.mv_cable, MV_CABLE_TYPES)
        require_length_bounds(owner, "service_length_m", self.service_length_m)

    @property
    def n_transformers(self) -> int:
        """Number of distribution transformers: ``transformers`` or the ceiling rule."""
        return transformer_count(
            self.n_households, self.transformers, self.households_per_transformer
        )


def generate_lv_feeder(design: LvFeederDesign, seed: int) -> GeneratedFeeder:
    """Build the OpenDSS script of a radial European residential LV feeder.

    Parameters
    ----------
    design : LvFeederDesign
        Sizes, ratings and cable types of the feeder.
    seed : int
        Seed of ``numpy.random.default_rng`` for the service-drop lengths, >= 0.

    Returns
    -------
    GeneratedFeeder
        Script text, household and transformer tables, the source bus, the household base
        voltage [kV] and the frequency (50 Hz).

    Raises
    ------
    ValueError
        If ``seed`` is not a non-negative integer.

    Notes
    -----
    Topology. With ``T = design.n_transformers``, households are split over the transformers
    in contiguous blocks: with ``q, r = divmod(n_households, T)`` transformers ``t1 .. tr`` feed
    ``q + 1`` households and the others ``q``, in household order (household 0 is on ``t1``).
    The ``j``-th household (0-based) of a transformer goes round-robin to lateral ``j mod L + 1``
    and to cabinet ``n = (j // L) // H + 1`` on it, with ``L = design.laterals`` and ``H =
    design.households_per_node``: the first ``H`` households of a lateral share cabinet 1, the
    next ``H`` cabinet 2, and so on. Cabinet ``n`` of lateral ``l`` of transformer ``k`` is bus
    ``t{k}_l{l}_n{n}``, fed by a line of length ``node_spacing_m`` from the previous cabinet
    (from the LV busbar ``t{k}_lv`` for ``n = 1``). Household ``i`` gets bus ``house_{i:05d}``
    through line ``service_{i:05d}``, whose length is drawn uniformly from ``service_length_m``
    and rounded to the millimetre, so that ``distance_m = n * node_spacing_m + service length``
    holds exactly. Laterals and cabinets without households are not built.

    MV. Transformer ``k`` has its MV terminal at ``t{k}_mv``. ``ceil(T /
    transformers_per_mv_branch)`` MV branches leave the source bus ``mv``; each chains a
    contiguous run of transformers (split as above), with one cable of ``mv_spacing_m`` ahead
    of every transformer, so a single transformer also sits behind one MV cable. The MV cable
    is a sequence line code with ``Z0 = Z1`` and ``C0 = C1``: the delta MV windings carry no
    zero-sequence current, so ``Z0`` does not enter the solution, and each core of a screened
    single-core cable has its own capacitance to earth.

    Phases. Walking the feeder transformer by transformer, lateral by lateral from the busbar
    outwards (a cabinet's households in index order), households take phases 1, 2, 3, 1, 2, 3,
    ... (so a cabinet's households have distinct phases if ``H <= 3``). Any contiguous run of
    this cycle holds each phase equally often up to one, so the per-phase counts differ by at
    most one for the whole feeder, for every transformer and for every lateral.

    LV cables. The lateral cable becomes a 3-phase line code given by sequence impedances, which
    OpenDSS expands to the 3x3 phase matrix ``Zs = (2 Z1 + Z0) / 3``, ``Zm = (Z0 - Z1) / 3`` —
    the Kron reduction of the 4-wire cable with the neutral eliminated. ``Z1 = r + jx`` from the
    table. The zero-sequence impedance is approximated as ``Z0 = 4 Z1``: the zero-sequence
    current returns through the neutral core of the same cross-section, which adds ``3 Z1`` to
    the phase core's own ``Z1`` (mutual coupling between cores neglected). Hence a single-phase
    load sees the loop impedance ``Zs = 2 Z1`` per unit length. ``C0 = C1 = c``. Both normal and
    emergency ratings are the continuous ampacity, so any overload is flagged at the same limit.
    A service drop is a single-phase line from node ``phase`` of the cabinet to the house bus,
    which has only that node. Its code ``<cable>_1ph`` holds the self terms of the reduction as
    1x1 matrices, ``Zs = 2 Z1`` (the core-plus-neutral loop, exactly what the 3-phase drop shows
    to current in one core) and ``Cs = c``: given by sequence values, a single-phase line gets
    ``Z0 = Z1`` in OpenDSS (``Line.pas``, ``RecalcElementData``), half the loop impedance.

    Transformer. Dyn, MV delta / LV grounded wye, ``kVA = transformer_kva``, with the
    percentages of the 250 kVA 20/0.4 kV unit for every rating (a fixed per-unit impedance and
    loss share is the usual scaling across a product range): ``%loadloss = 1.44``,
    ``XHL = sqrt(6^2 - 1.44^2) = 5.8246 %``, ``%noloadloss = 0.8 / 250 * 100 = 0.32 %``. OpenDSS
    places ``%noloadloss`` (a conductance) and ``%imag`` (a susceptance) in parallel, whereas the
    datasheet's 0.32 % no-load current contains both parts, so
    ``%imag = sqrt(0.32^2 - 0.32^2) = 0`` — the no-load current of this unit is all loss
    current, as in pandapower's own conversion. OpenDSS' delta-wye convention gives a 30 degree
    shift rather than the 150 degrees of Dyn5; the shift does not affect voltage magnitudes,
    currents or losses.

    Source. ``Vsource`` at ``mv`` with ``basekv = mv_kv``, ``pu = source_voltage_pu`` and
    ``MVAsc3 = MVAsc1 = mv_short_circuit_mva``. Base frequency 50 Hz. Voltage bases
    ``[mv_kv, lv_kv]``, so the household voltage in pu is its line-to-neutral voltage over
    ``lv_kv / sqrt(3)``.

    Examples
    --------
    Six households on two laterals, two to a cabinet, 20 m service drops: lateral 1 holds
    households 0, 2, 4 at cabinets 1, 1, 2 (35 m and 70 m from the busbar), so their cable
    distances are 35 + 20 = 55, 55 and 70 + 20 = 90 m; lateral 2 holds 1, 3, 5 likewise.
    Walking lateral 1 then lateral 2, households 0, 2, 4, 1, 3, 5 take phases 1, 2, 3, 1, 2, 3.

    >>> feeder = generate_lv_feeder(
    ...     LvFeederDesign(n_households=6, laterals=2, service_length_m=(20.0, 20.0)), seed=0
    ... )
    >>> feeder.households.phase.tolist(), feeder.households.distance_m.tolist()
    ([1, 1, 2, 2, 3, 3], [55.0, 55.0, 55.0, 55.0, 90.0, 90.0])
    >>> [line.split()[2:4] for line in feeder.dss_text.splitlines() if "service_00004" in line]
    [['bus1=t1_l1_n2.3', 'bus2=house_00004.3']]
    >>> round(feeder.lv_base_kv_ln, 4), feeder.households.bus[3], feeder.households.transformer[3]
    (0.2309, 'house_00003', 't1')

    130 households at the default 60 a transformer need ``ceil(130 / 60) = 3`` transformers,
    which take 44, 43 and 43 households:

    >>> feeder = generate_lv_feeder(LvFeederDesign(n_households=130), seed=0)
    >>> feeder.transformers.households.tolist()
    [44, 43, 43]
    """
    require_seed(seed)
    n = design.n_households
    n_transformers = design.n_transformers
    placement = lay_out_households(
        n, n_transformers, design.laterals, households_per_node=design.households_per_node
    )
    phase = np.empty(n, dtype=np.int64)
    phase[placement.walk_order] = np.arange(n) % 3 + 1

    service_length_m = draw_service_lengths(seed, n, design.service_length_m)
    distance_m = placement.node * design.node_spacing_m + service_length_m

    branch, position = mv_chain(n_transformers, design.transformers_per_mv_branch)
    mv_code = _line_code_name(design.mv_cable)
    mv_lines, mv_distance_m = mv_line_commands(position, design.mv_spacing_m, mv_code)
    lateral_lines = lateral_line_commands(
        placement, design.node_spacing_m, _line_code_name(design.main_cable), 3, ""
    )
    code = _line_code_name(design.service_cable) + "_1ph"
    nodes = "." + phase.astype(str).astype(object)  # one node suffix per household, e.g. ".2"
    service_lines = service_line_commands(placement, service_length_m, code, 1, nodes)
    dss_text = "\n".join(
        [
            "Clear",
            f"Set DefaultBaseFrequency={dss_number(BASE_FREQUENCY_HZ)}",
            f"New Circuit.tefed_lv_feeder bus1={SOURCE_BUS} basekv={dss_number(design.mv_kv)} "
            f"pu={dss_number(design.source_voltage_pu)} angle=0 phases=3 "
            f"MVAsc3={dss_number(design.mv_short_circuit_mva)} "
            f"MVAsc1={dss_number(design.mv_short_circuit_mva)}",
            _line_code_command(MV_CABLE_TYPES[design.mv_cable], zero_sequence_ratio=1.0),
            _line_code_command(CABLE_TYPES[design.main_cable], ZERO_SEQUENCE_IMPEDANCE_RATIO),
            _line_code_command(
                CABLE_TYPES[design.service_cable], ZERO_SEQUENCE_IMPEDANCE_RATIO, phases=1
            ),
            *mv_lines,
            *_transformer_commands(design, n_transformers),
            *lateral_lines,
            *service_lines,
            f"Set VoltageBases=[{dss_number(design.mv_kv)}, {dss_number(design.lv_kv)}]",
            "CalcVoltageBases",
        ]
    )
    return GeneratedFeeder(
        dss_text=dss_text + "\n",
        households=household_table(placement, phase, "ln", distance_m),
        transformers=transformer_table(
            branch, mv_distance_m, design.transformer_kva, placement.transformer
        ),
        source_bus=SOURCE_BUS,
        lv_base_kv_ln=design.lv_kv / math.sqrt(3.0),
        frequency_hz=BASE_FREQUENCY_HZ,
    )


def _transformer_commands(design: LvFeederDesign, n_transformers: int) -> list[str]:
    """OpenDSS commands of the Dyn distribution transformers (percentages in the Notes above)."""
    reactance_pct = math.sqrt(
        TRANSFORMER_SHORT_CIRCUIT_VOLTAGE_PCT**2 - TRANSFORMER_COPPER_LOSS_PCT**2
    )
    magnetizing_pct = math.sqrt(
        max(TRANSFORMER_NO_LOAD_CURRENT_PCT**2 - TRANSFORMER_NO_LOAD_LOSS_PCT**2, 0.0)
    )
    kva = dss_number(design.transformer_kva)
    names = transformer_names(n_transformers)
    commands = concat(
        "New Transformer.", names, " phases=3 windings=2 buses=[", names, "_mv, ", names, "_lv] ",
        f"conns=[delta, wye] kVs=[{dss_number(design.mv_kv)}, {dss_number(design.lv_kv)}] "
        f"kVAs=[{kva}, {kva}] XHL={dss_number(reactance_pct)} "
        f"%loadloss={dss_number(TRANSFORMER_COPPER_LOSS_PCT)} "
        f"%noloadloss={dss_number(TRANSFORMER_NO_LOAD_LOSS_PCT)} "
        f"%imag={dss_number(magnetizing_pct)}",
    )  # fmt: skip
    return commands.tolist()


def _line_code_command(cable: CableType, zero_sequence_ratio: float, phases: int = 3) -> str:
    """OpenDSS command of a cable's line code (Z0 = ratio * Z1, C0 = C1; see the Notes above).

    3 phases: sequence values. 1 phase (suffix ``_1ph``): the self terms ``(2 Z1 + Z0) / 3`` and
    ``(2 C1 + C0) / 3 = c`` as 1x1 matrices.
    """
    r, x, c = cable.r_ohm_per_km, cable.x_ohm_per_km, cable.c_nf_per_km
    ratio, share = zero_sequence_ratio, (2.0 + zero_sequence_ratio) / 3.0
    values = (
        f"rmatrix=[{dss_number(share * r)}] xmatrix=[{dss_number(share * x)}] "
        f"cmatrix=[{dss_number(c)}]"
        if phases == 1
        else f"r1={dss_number(r)} x1={dss_number(x)} r0={dss_number(ratio * r)} "
        f"x0={dss_number(ratio * x)} c1={dss_number(c)} c0={dss_number(c)}"
    )
    return (
        f"New LineCode.{_line_code_name(cable.name)}{'_1ph' if phases == 1 else ''} "
        f"nphases={phases} units=km {values} "
        f"normamps={dss_number(cable.ampacity_a)} emergamps={dss_number(cable.ampacity_a)}"
    )


def _line_code_name(cable_name: str) -> str:
    """OpenDSS-safe lowercase name of a cable type, e.g. ``nayy_4x150_se``."""
    return "".join(ch if ch.isalnum() else "_" for ch in cable_name.lower())
