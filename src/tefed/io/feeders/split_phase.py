"""Synthetic North American residential feeders (split-phase 120/240 V), as OpenDSS script text.

The generated feeder follows the North American practice modelled in the IEEE 8500-node test
feeder [1]_: a 3-phase 4-wire multi-grounded 60 Hz primary (12.47 kV), single-phase
center-tapped distribution transformers connected line-to-neutral on the primary phases, and
behind each transformer a 120/240 V secondary of triplex cable: secondary runs along the street
from pole (or pedestal) to pole, and a triplex service drop from a pole to each house. Each
household is connected line-to-line across the two 120 V legs (240 V). Bus names and the
splitting rules are those of `tefed.io.feeders.layout`.

Equipment data, copied as published:

Center-tapped transformers, OpenDSS model of the IEEE 8500-node feeder [1]_
(``LoadXfmrCodes.dss``, codes ``CT5`` to ``CT250``; every size has the same percentages):
3 windings, ``kVs = [7.2, 0.12, 0.12]``, ``%Rs = [0.6, 1.2, 1.2]`` (each on its winding's
kVA), ``XHL = 2.04 %``, ``XHT = 2.04 %``, ``XLT = 1.36 %``, ``%noloadloss = 0.2``,
``%imag = 0.5``.

Triplex, same model (``Triplex_Linecodes.dss``): 2-phase line codes with the grounded neutral
Kron-reduced, in ohm and nF per 1000 ft:

===========  ======================  ======================  ===========  ===========  ======
code         r11, r12 [ohm/kft]      x11, x12 [ohm/kft]      c11 [nF/kft] c12 [nF/kft] I [A]
===========  ======================  ======================  ===========  ===========  ======
4/0 triplex  0.40995115, 0.11809509  0.16681819, 0.12759250  3.0          -2.4         156
750 triplex  0.04974733, 0.02342157  0.02782436, 0.00669472  3.0          -2.4         580
===========  ======================  ======================  ===========  ===========  ======

Emergency rating 1.25 times the normal one, as in the source.

Primary line, IEEE 13-node test feeder [2]_, configuration 601 (556,500 26/7 ACSR phases,
4/0 6/1 ACSR neutral, pole spacing 500), phase impedance matrix with the neutral Kron-reduced
as in the OpenDSS model (``IEEE13Nodeckt.dss``, ``mtx601``), in ohm per mile:
``R = [0.3465 | 0.1560 0.3375 | 0.1580 0.1535 0.3414]``,
``X = [1.0179 | 0.5017 1.0478 | 0.4236 0.3849 1.0348]``; configuration 602 (4/0 6/1 ACSR
phases and neutral): ``R = [0.7526 | 0.1580 0.7475 | 0.1560 0.1535 0.7436]``,
``X = [1.1814 | 0.4236 1.1983 | 0.5017 0.3849 1.2112]``. Ampacity of the phase conductor
(Kersting [3]_, Appendix B): 556,500 26/7 ACSR 730 A, 4/0 6/1 ACSR 340 A. The OpenDSS model
gives no capacitance; the line charging of an overhead primary (a few uS per mile, well under
1 kvar per mile and phase at 7.2 kV) is neglected.

The module is pure: it builds text and tables, it neither imports OpenDSS nor touches files.

References
----------
.. [1] IEEE PES Distribution System Analysis Subcommittee, "IEEE 8500-Node Test Feeder",
   2010; R. F. Arritt and R. C. Dugan, "The IEEE 8500-node test feeder", IEEE PES T&D
   Conference 2010, doi:10.1109/TDC.2010.5484381. OpenDSS model in the OpenDSS repository,
   ``Distrib/IEEETestCases/8500-Node`` (https://sourceforge.net/projects/electricdss, mirrored
   at https://github.com/tshort/OpenDSS).
.. [2] W. H. Kersting, "Radial distribution test feeders", IEEE PES Winter Meeting 2001,
   doi:10.1109/PESW.2001.916993; OpenDSS model ``Distrib/IEEETestCases/13Bus``, same
   repository.
.. [3] W. H. Kersting, *Distribution System Modeling and Analysis*, 4th ed., CRC Press, 2017.
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

#: System frequency of the North American grid [Hz].
BASE_FREQUENCY_HZ = 60.0
#: Voltage of each secondary leg to the grounded center tap [kV]; the household node base.
SECONDARY_LEG_KV = 0.12

#: Center-tapped transformer percentages of the IEEE 8500-node feeder (module docstring).
CENTER_TAP_RESISTANCES_PCT = (0.6, 1.2, 1.2)
CENTER_TAP_REACTANCES_PCT = {"XHL": 2.04, "XHT": 2.04, "XLT": 1.36}
CENTER_TAP_NO_LOAD_LOSS_PCT = 0.2
CENTER_TAP_MAGNETIZING_PCT = 0.5


@dataclass(frozen=True)
class PhaseMatrixLine:
    """A line code given by its (Kron-reduced) phase impedance and capacitance matrices.

    Parameters
    ----------
    name : str
        OpenDSS line code name.
    units : str
        Length unit of the matrices, an OpenDSS unit (``"mi"``, ``"kft"``).
    r_matrix, x_matrix, c_matrix : tuple of float
        Lower triangles, row by row, of the resistance [ohm/unit], reactance at 60 Hz
        [ohm/unit] and capacitance [nF/unit] matrices.
    normal_a, emergency_a : float
        Normal and emergency current ratings [A].
    """

    name: str
    units: str
    r_matrix: tuple[float, ...]
    x_matrix: tuple[float, ...]
    c_matrix: tuple[float, ...]
    normal_a: float
    emergency_a: float


_NO_CHARGING = (0.0,) * 6
#: 3-phase primary line types by name ([2], [3]).
PRIMARY_LINE_TYPES: dict[str, PhaseMatrixLine] = {
    "556.5 ACSR": PhaseMatrixLine(
        "acsr_556_5_config_601",
        "mi",
        (0.3465, 0.1560, 0.3375, 0.1580, 0.1535, 0.3414),
        (1.0179, 0.5017, 1.0478, 0.4236, 0.3849, 1.0348),
        _NO_CHARGING,
        730.0,
        730.0,
    ),
    "4/0 ACSR": PhaseMatrixLine(
        "acsr_4_0_config_602",
        "mi",
        (0.7526, 0.1580, 0.7475, 0.1560, 0.1535, 0.7436),
        (1.1814, 0.4236, 1.1983, 0.5017, 0.3849, 1.2112),
        _NO_CHARGING,
        340.0,
        340.0,
    ),
}
#: 2-phase triplex line types by name ([1]).
TRIPLEX_TYPES: dict[str, PhaseMatrixLine] = {
    "4/0 triplex": PhaseMatrixLine(
        "triplex_4_0",
        "kft",
        (0.40995115, 0.11809509, 0.40995115),
        (0.16681819, 0.12759250, 0.16681819),
        (3.0, -2.4, 3.0),
        156.0,
        195.0,
    ),
    "750 triplex": PhaseMatrixLine(
        "triplex_750",
        "kft",
        (0.04974733, 0.02342157, 0.04974733),
        (0.02782436, 0.00669472, 0.02782436),
        (3.0, -2.4, 3.0),
        580.0,
        725.0,
    ),
}


@dataclass(frozen=True)
class SplitPhaseFeederDesign:
    """Design parameters of a synthetic North American split-phase residential feeder.

    Parameters
    ----------
    n_households : int
        Number of households, at least 1.
    households_per_transformer : int
        Households one transformer feeds when ``transformers`` is None, at least 1.
    transformers : int or None
        Number of center-tapped transformers, 1 .. n_households; None means
        ``ceil(n_households / households_per_transformer)``.
    transformer_kva : float
        Rated power of each transformer (every winding) [kVA].
    laterals : int
        Secondary runs leaving each transformer along its street, at least 1.
    households_per_node : int
        Service drops from one pole or pedestal, at least 1.
    mv_kv : float
        Primary line-to-line voltage [kV].
    primary_kv : float
        Rated voltage of the transformers' primary winding, line-to-neutral [kV].
    mv_short_circuit_mva : float
        Three- and single-phase short-circuit power at the substation bus [MVA].
    source_voltage_pu : float
        Substation voltage [pu].
    primary_line : str
        Line type of the primary, a key of `PRIMARY_LINE_TYPES`.
    secondary_cable : str
        Triplex type of the secondary runs, a key of `TRIPLEX_TYPES`.
    service_cable : str
        Triplex type of the service drops, a key of `TRIPLEX_TYPES`.
    node_spacing_m : float
        Secondary span from the transformer to the first pole and between poles [m].
    service_length_m : tuple of float
        ``(low, high)`` bounds of the uniformly drawn service-drop lengths [m].
    transformers_per_mv_branch : int
        Most transformers chained on one primary branch leaving the substation, at least 1.
    mv_spacing_m : float
        Primary line length from the substation to the first transformer of a branch and
        between consecutive transformers [m].

    Raises
    ------
    ValueError
        If a field is out of range or names an unknown line type.
    """

    n_households: int
    households_per_transformer: int = 8
    transformers: int | None = None
    transformer_kva: float = 50.0
    laterals: int = 2
    households_per_node: int = 2
    mv_kv: float = 12.47
    primary_kv: float = 7.2
    mv_short_circuit_mva: float = 200.0
    source_voltage_pu: float = 1.0
    primary_line: str = "556.5 ACSR"
    secondary_cable: str = "4/0 triplex"
    service_cable: str = "4/0 triplex"
    node_spacing_m: float = 35.0
    service_length_m: tuple[float, float] = (10.0, 30.0)
    transformers_per_mv_branch: int = 30
    mv_spacing_m: float = 150.0

    def __post_init__(self) -> None:
        owner = "SplitPhaseFeederDesign"
        for field in (
            "n_households",
            "households_per_transformer",
            "laterals",
            "households_per_node",
            "transformers_per_mv_branch",
        ):
            require_count(owner, field, getattr(self, field))
        require_transformer_count(owner, self.transformers, self.n_households)
        for field in (
            "transformer_kva",
            "mv_kv",
            "primary_kv",
            "mv_short_circuit_mva",
            "source_voltage_pu",
            "node_spacing_m",
            "mv_spacing_m",
        ):
            require_positive(owner, field, getattr(self, field))
        require_choice(owner, "primary_line", self.primary_line, PRIMARY_LINE_TYPES)
        for field in ("secondary_cable", "service_cable"):
            require_choice(owner, field, getattr(self, field), TRIPLEX_TYPES)
        require_length_bounds(owner, "service_length_m", self.service_length_m)

    @property
    def n_transformers(self) -> int:
        """Number of transformers: ``transformers`` or the ceiling rule."""
        return transformer_count(
            self.n_households, self.transformers, self.households_per_transformer
        )


def generate_split_phase_feeder(design: SplitPhaseFeederDesign, seed: int) -> GeneratedFeeder:
    """Build the OpenDSS script of a radial North American split-phase residential feeder.

    Parameters
    ----------
    design : SplitPhaseFeederDesign
        Sizes, ratings and line types of the feeder.
    seed : int
        Seed of ``numpy.random.default_rng`` for the service-drop lengths, >= 0.

    Returns
    -------
    GeneratedFeeder
        Script text, household and transformer tables, the source bus, the household node base
        voltage (0.12 kV) and the frequency (60 Hz). Every household has ``connection ==
        "split"``: its load belongs across nodes 1 and 2 of its bus, e.g.
        ``New Load.x bus1=house_00000.1.2 phases=1 kV=0.24``.

    Raises
    ------
    ValueError
        If ``seed`` is not a non-negative integer.

    Notes
    -----
    Topology. Households are split over transformers and placed on laterals (secondary runs)
    by the rules of `tefed.io.feeders.layout.lay_out_households`: transformer ``k`` feeds a
    contiguous block of households; its ``j``-th household goes to lateral ``j mod L + 1`` at
    pole ``(j // L) // households_per_node + 1``. Poles ``t{k}_l{l}_n{n}`` are
    ``node_spacing_m`` apart, the first one that far from the transformer's secondary bus
    ``t{k}_lv``; the service drop ``service_{i:05d}`` to ``house_{i:05d}`` has a length drawn
    uniformly from ``service_length_m`` (rounded to the millimetre), so that ``distance_m =
    n * node_spacing_m + service length``. The primary is built as in
    `tefed.io.feeders.generator`: branches of at most ``transformers_per_mv_branch``
    transformers, ``mv_spacing_m`` of 3-phase line ahead of each transformer's primary bus
    ``t{k}_mv``.

    Phases. Transformer ``k`` (1-based) is connected to primary phase ``(k - 1) mod 3 + 1``, so
    the transformer counts per phase differ by at most one. Since the larger household blocks
    go to the first transformers, the household counts per phase are non-increasing from
    phase 1 to 3 and differ by at most ``ceil(n_households / T)``, one transformer's worth.
    A household's ``phase`` is the primary phase of its transformer.

    Transformer. OpenDSS' standard model of a center-tapped unit, as in the IEEE 8500-node
    feeder: a single-phase 3-winding transformer, primary ``t{k}_mv.p.0`` (line-to-neutral,
    ``primary_kv``), secondary windings ``t{k}_lv.1.0`` and ``t{k}_lv.0.2`` of 0.12 kV each, so
    that nodes 1 and 2 are 120 V to the grounded center tap in antiphase and 240 V apart.
    Percentages of the 8500-node codes for every ``transformer_kva``. For a 240 V load both
    halves carry the load current: the series resistance is ``0.6 % + (1.2 % + 1.2 %) / 2 =
    1.2 %`` of ``0.24^2 / kVA`` ohm, i.e. 13.824 mohm at 50 kVA.

    Triplex. 2-phase line codes: the matrices of the source, with the neutral grounded at
    both ends and Kron-reduced. A 240 V load current ``I`` (out on leg 1, back on leg 2) sees
    the loop impedance ``2 (z11 - z12)``, 0.58371212 ohm/kft resistance for 4/0 triplex.

    Voltage bases. OpenDSS voltage bases are line-to-line: ``CalcVoltageBases`` gives a bus the
    listed value nearest (relatively) to ``sqrt(3)`` times the zero-load voltage of its first
    node, divided by ``sqrt(3)``. A secondary node sits 120 V from ground, so the list
    ``[mv_kv, 0.12 sqrt(3) = 0.207846096908]`` gives the secondary buses a line-to-neutral base
    of exactly 0.12 kV: a node's pu is its voltage to ground over 120 V, and on a balanced
    secondary the household's 240 V voltage in pu is the same number. (The 8500-node model
    lists 0.208, which gives a base of 120.09 V.)

    Examples
    --------
    Twenty households at eight a transformer need ``ceil(20 / 8) = 3`` transformers with 7, 7
    and 6 households on phases 1, 2 and 3:

    >>> feeder = generate_split_phase_feeder(SplitPhaseFeederDesign(n_households=20), seed=0)
    >>> feeder.transformers.households.tolist()
    [7, 7, 6]
    >>> feeder.households.groupby("phase").size().tolist()
    [7, 7, 6]
    >>> feeder.lv_base_kv_ln, feeder.frequency_hz, feeder.households.connection[0]
    (0.12, 60.0, 'split')
    """
    require_seed(seed)
    n = design.n_households
    n_transformers = design.n_transformers
    placement = lay_out_households(
        n, n_transformers, design.laterals, households_per_node=design.households_per_node
    )
    transformer_phase = np.arange(n_transformers, dtype=np.int64) % 3 + 1

    service_length_m = draw_service_lengths(seed, n, design.service_length_m)
    distance_m = placement.node * design.node_spacing_m + service_length_m

    primary = PRIMARY_LINE_TYPES[design.primary_line]
    branch, position = mv_chain(n_transformers, design.transformers_per_mv_branch)
    mv_lines, mv_distance_m = mv_line_commands(position, design.mv_spacing_m, primary.name)
    secondary = TRIPLEX_TYPES[design.secondary_cable]
    service = TRIPLEX_TYPES[design.service_cable]
    lateral_lines = lateral_line_commands(
        placement, design.node_spacing_m, secondary.name, 2, ".1.2"
    )
    service_lines = service_line_commands(placement, service_length_m, service.name, 2, ".1.2")
    # One line code per distinct triplex type, in a fixed order so the text is reproducible.
    triplex_types = dict.fromkeys((secondary, service))
    secondary_base_kv_ll = SECONDARY_LEG_KV * math.sqrt(3.0)
    dss_text = "\n".join(
        [
            "Clear",
            f"Set DefaultBaseFrequency={dss_number(BASE_FREQUENCY_HZ)}",
            f"New Circuit.tefed_split_phase_feeder bus1={SOURCE_BUS} "
            f"basekv={dss_number(design.mv_kv)} pu={dss_number(design.source_voltage_pu)} "
            f"angle=0 phases=3 MVAsc3={dss_number(design.mv_short_circuit_mva)} "
            f"MVAsc1={dss_number(design.mv_short_circuit_mva)}",
            _line_code_command(primary, phases=3),
            *(_line_code_command(line, phases=2) for line in triplex_types),
            _center_tap_code_command(design),
            *mv_lines,
            *_transformer_commands(transformer_phase),
            *lateral_lines,
            *service_lines,
            f"Set VoltageBases=[{dss_number(design.mv_kv)}, {dss_number(secondary_base_kv_ll)}]",
            "CalcVoltageBases",
        ]
    )
    return GeneratedFeeder(
        dss_text=dss_text + "\n",
        households=household_table(
            placement, transformer_phase[placement.transformer], "split", distance_m
        ),
        transformers=transformer_table(
            branch, mv_distance_m, design.transformer_kva, placement.transformer
        ),
        source_bus=SOURCE_BUS,
        lv_base_kv_ln=SECONDARY_LEG_KV,
        frequency_hz=BASE_FREQUENCY_HZ,
    )


def _center_tap_code_command(design: SplitPhaseFeederDesign) -> str:
    """``XfmrCode.center_tap``: the 8500-node center-tap percentages at the design's ratings."""
    kva = dss_number(design.transformer_kva)
    leg = dss_number(SECONDARY_LEG_KV)
    resistances = ", ".join(dss_number(pct) for pct in CENTER_TAP_RESISTANCES_PCT)
    reactances = " ".join(f"{k}={dss_number(v)}" for k, v in CENTER_TAP_REACTANCES_PCT.items())
    return (
        f"New XfmrCode.center_tap phases=1 windings=3 "
        f"kVs=[{dss_number(design.primary_kv)}, {leg}, {leg}] kVAs=[{kva}, {kva}, {kva}] "
        f"%Rs=[{resistances}] {reactances} "
        f"%noloadloss={dss_number(CENTER_TAP_NO_LOAD_LOSS_PCT)} "
        f"%imag={dss_number(CENTER_TAP_MAGNETIZING_PCT)}"
    )


def _transformer_commands(transformer_phase: np.ndarray) -> list[str]:
    """One center-tapped transformer per primary phase node, secondary legs .1.0 and .0.2."""
    names = transformer_names(len(transformer_phase))
    phase = transformer_phase.astype(str).astype(object)
    commands = concat(
        "New Transformer.", names, " XfmrCode=center_tap buses=[", names, "_mv.", phase, ".0, ",
        names, "_lv.1.0, ", names, "_lv.0.2]",
    )  # fmt: skip
    return commands.tolist()


def _line_code_command(line: PhaseMatrixLine, phases: int) -> str:
    """OpenDSS command of a phase-matrix line code (lower triangles, rows split by ``|``)."""
    return (
        f"New LineCode.{line.name} nphases={phases} units={line.units} "
        f"rmatrix=[{_triangle(line.r_matrix)}] xmatrix=[{_triangle(line.x_matrix)}] "
        f"cmatrix=[{_triangle(line.c_matrix)}] "
        f"normamps={dss_number(line.normal_a)} emergamps={dss_number(line.emergency_a)}"
    )


def _triangle(values: tuple[float, ...]) -> str:
    """Lower triangle row by row as OpenDSS matrix text, e.g. ``0.3 | 0.1 0.3``."""
    rows, start, size = [], 0, 1
    while start < len(values):
        rows.append(" ".join(dss_number(v) for v in values[start : start + size]))
        start, size = start + size, size + 1
    return " | ".join(rows)
