"""Synthetic residential low-voltage feeders, written as OpenDSS script text.

The generated feeder follows the European 3-phase 4-wire 400/230 V layout of the CIGRE TB 575
residential low-voltage benchmark family: a medium-voltage source, one Dyn distribution
transformer, and underground cables leaving the LV busbar as radial laterals. Along each lateral,
street cabinets sit at a fixed spacing; each household hangs on its own cabinet through a service
cable and is connected to one phase.

Equipment data are manufacturer figures as tabulated in the pandapower standard-type library
(e2nIEE/pandapower, ``doc/std_types/linetypes.csv`` and ``doc/std_types/trafotypes.csv``,
BSD-3-Clause):

========================  ============  ============  ==========  =========
cable                     r [ohm/km]    x [ohm/km]    c [nF/km]   Imax [A]
========================  ============  ============  ==========  =========
NAYY 4x150 SE             0.208         0.080         261         270
NAYY 4x120 SE             0.225         0.080         264         242
NAYY 4x50 SE              0.642         0.083         210         142
========================  ============  ============  ==========  =========

Transformer "0.25 MVA 20/0.4 kV": short-circuit voltage 6 %, its resistive part (copper losses)
1.44 %, iron losses 0.8 kW, no-load current 0.32 %.

The module is pure: it builds text and a table, it neither imports OpenDSS nor touches files.

References
----------
.. [1] CIGRE Task Force C6.04.02, "Benchmark Systems for Network Integration of Renewable and
   Distributed Energy Resources", CIGRE Technical Brochure 575, 2014.
.. [2] L. Thurner et al., "pandapower — An Open-Source Python Tool for Convenient Modeling,
   Analysis, and Optimization of Electric Power Systems", IEEE Transactions on Power Systems
   33(6), 6510–6521, 2018. doi:10.1109/TPWRS.2018.2829021 (standard-type library in
   https://github.com/e2nIEE/pandapower, ``doc/std_types``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import pandas as pd

#: Bus of the MV source.
SOURCE_BUS = "mv"
#: Bus of the transformer's LV terminal.
LV_BUSBAR = "lv_busbar"

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

#: Zero- to positive-sequence impedance ratio of a 4-core cable (see `generate_lv_feeder`).
ZERO_SEQUENCE_IMPEDANCE_RATIO = 4.0


@dataclass(frozen=True)
class CableType:
    """Positive-sequence data and rating of a low-voltage cable.

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


#: Cable types by name, data from the pandapower standard-type library [2].
CABLE_TYPES: dict[str, CableType] = {
    cable.name: cable
    for cable in (
        CableType("NAYY 4x150 SE", 0.208, 0.08, 261.0, 270.0),
        CableType("NAYY 4x120 SE", 0.225, 0.08, 264.0, 242.0),
        CableType("NAYY 4x50 SE", 0.642, 0.083, 210.0, 142.0),
    )
}


@dataclass(frozen=True)
class LvFeederDesign:
    """Design parameters of a synthetic residential low-voltage feeder.

    Parameters
    ----------
    n_households : int
        Number of households, at least 1.
    laterals : int
        Number of cables leaving the LV busbar, at least 1.
    transformer_kva : float
        Rated power of the distribution transformer [kVA].
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

    def __post_init__(self) -> None:
        for field_name in ("n_households", "laterals"):
            value = getattr(self, field_name)
            if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
                raise ValueError(
                    f"LvFeederDesign.{field_name} is {value!r}; expected an integer >= 1"
                )
        for field_name in (
            "transformer_kva",
            "mv_kv",
            "lv_kv",
            "mv_short_circuit_mva",
            "source_voltage_pu",
            "node_spacing_m",
        ):
            _require_positive(f"LvFeederDesign.{field_name}", getattr(self, field_name))
        for field_name in ("main_cable", "service_cable"):
            value = getattr(self, field_name)
            if value not in CABLE_TYPES:
                raise ValueError(
                    f"LvFeederDesign.{field_name} is {value!r}; expected one of "
                    f"{sorted(CABLE_TYPES)}"
                )
        bounds = self.service_length_m
        if len(bounds) != 2:
            raise ValueError(
                f"LvFeederDesign.service_length_m is {bounds!r}; expected a pair (low, high) [m]"
            )
        for bound in bounds:
            _require_positive("LvFeederDesign.service_length_m", bound)
        if bounds[0] > bounds[1]:
            raise ValueError(f"LvFeederDesign.service_length_m is {bounds!r}; expected low <= high")


@dataclass(frozen=True)
class GeneratedFeeder:
    """A generated feeder: OpenDSS script and where the households connect.

    Parameters
    ----------
    dss_text : str
        Complete OpenDSS script from ``Clear`` to ``CalcVoltageBases``: source, transformer,
        line codes and lines; no loads and no ``Solve``.
    households : pandas.DataFrame
        One row per household, index ``0 .. n_households - 1``, columns ``bus`` (service bus
        name, str), ``phase`` (1, 2 or 3), ``lateral`` (1-based lateral number) and
        ``distance_m`` (cable length from the LV busbar to the service bus [m]).
    source_bus : str
        Bus of the MV source.
    lv_busbar : str
        Bus of the transformer's LV terminal, where the laterals start.
    lv_base_kv_ln : float
        Line-to-neutral base voltage of the LV network, the ``kV`` of a single-phase load [kV].
    """

    dss_text: str
    households: pd.DataFrame
    source_bus: str
    lv_busbar: str
    lv_base_kv_ln: float


def generate_lv_feeder(design: LvFeederDesign, seed: int) -> GeneratedFeeder:
    """Build the OpenDSS script of a radial residential LV feeder.

    Parameters
    ----------
    design : LvFeederDesign
        Sizes, ratings and cable types of the feeder.
    seed : int
        Seed of ``numpy.random.default_rng`` for the service-drop lengths, >= 0.

    Returns
    -------
    GeneratedFeeder
        Script text, household connection table [bus, phase, lateral, distance in m] and the
        names and base voltage [kV] needed to attach loads.

    Raises
    ------
    ValueError
        If ``seed`` is not a non-negative integer.

    Notes
    -----
    Topology. Household ``i`` (0-based) is placed round-robin: on lateral ``i mod L + 1`` at
    cabinet ``n = i // L + 1``, where ``L`` is ``design.laterals``. Cabinet ``n`` of lateral
    ``l`` is bus ``l{l}_n{n}``, fed by line ``l{l}_n{n}`` of length ``node_spacing_m`` from the
    previous cabinet (from ``lv_busbar`` for ``n = 1``). Its household gets bus
    ``house_{i:04d}`` through line ``service_{i:04d}``, whose length is drawn uniformly from
    ``service_length_m`` and rounded to the millimetre, so that the text and ``distance_m``
    agree exactly: ``distance_m = n * node_spacing_m + service length``. With fewer households
    than laterals, the unused laterals are not built.

    Phases. Walking the feeder lateral by lateral from the busbar outwards, households take
    phases 1, 2, 3, 1, 2, 3, ... Any contiguous run of this cycle holds each phase equally often
    up to one, so the per-phase counts differ by at most one for the whole feeder and for every
    lateral, and neighbouring cabinets load different phases.

    Cables. Each cable type becomes a 3-phase line code given by sequence impedances, which
    OpenDSS expands to the 3x3 phase matrix ``Zs = (2 Z1 + Z0) / 3``, ``Zm = (Z0 - Z1) / 3`` —
    the Kron reduction of the 4-wire cable with the neutral eliminated. ``Z1 = r + jx`` from the
    table. The zero-sequence impedance is approximated as ``Z0 = 4 Z1``: the zero-sequence
    current returns through the neutral core of the same cross-section, which adds ``3 Z1`` to
    the phase core's own ``Z1`` (mutual coupling between cores neglected). Hence a single-phase
    load sees the loop impedance ``Zs = 2 Z1`` per unit length. ``C0 = C1 = c``. Both normal and
    emergency ratings are the continuous ampacity, so any overload is flagged at the same limit.
    Service drops use the 3-phase line code too; a single-phase load only draws current in its
    own phase core and the neutral, which the sequence model represents.

    Transformer. Dyn, MV delta / LV grounded wye, ``kVA = transformer_kva``, with the
    percentages of the 250 kVA 20/0.4 kV unit for every rating (a fixed per-unit impedance and
    loss share is the usual scaling across a product range; give the percentages of the real
    unit when they are known): ``%loadloss = 1.44``,
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
    Four households on two laterals with 20 m service drops: households 0 and 2 sit on lateral
    1 at cabinets 1 and 2 (35 m and 70 m from the busbar), so their cable distances are
    35 + 20 = 55 m and 70 + 20 = 90 m. Walking lateral 1 then lateral 2, households 0, 2, 1, 3
    take phases 1, 2, 3, 1.

    >>> feeder = generate_lv_feeder(
    ...     LvFeederDesign(n_households=4, laterals=2, service_length_m=(20.0, 20.0)), seed=0
    ... )
    >>> feeder.households[["lateral", "phase", "distance_m"]].to_numpy().tolist()
    [[1.0, 1.0, 55.0], [2.0, 3.0, 55.0], [1.0, 2.0, 90.0], [2.0, 1.0, 90.0]]
    >>> round(feeder.lv_base_kv_ln, 4)
    0.2309
    """
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise ValueError(f"seed is {seed!r}; expected a non-negative integer")

    n = design.n_households
    household = np.arange(n)
    lateral = household % design.laterals + 1
    node = household // design.laterals + 1
    feeder_order = np.lexsort((node, lateral))
    phase = np.empty(n, dtype=np.int64)
    phase[feeder_order] = np.arange(n) % 3 + 1

    rng = np.random.default_rng(seed)
    low_m, high_m = design.service_length_m
    service_length_m = np.round(rng.uniform(low_m, high_m, size=n), 3)
    distance_m = node * design.node_spacing_m + service_length_m

    cabinet = [f"l{lat}_n{nd}" for lat, nd in zip(lateral.tolist(), node.tolist(), strict=True)]
    house = [f"house_{i:04d}" for i in range(n)]
    upstream = [
        LV_BUSBAR if nd == 1 else f"l{lat}_n{nd - 1}"
        for lat, nd in zip(lateral.tolist(), node.tolist(), strict=True)
    ]

    main_code = _line_code_name(design.main_cable)
    service_code = _line_code_name(design.service_cable)
    spacing = _num(design.node_spacing_m)
    main_lines = [
        f"New Line.{cabinet[i]} bus1={upstream[i]} bus2={cabinet[i]} phases=3 "
        f"linecode={main_code} length={spacing} units=m"
        for i in feeder_order.tolist()
    ]
    service_lines = [
        f"New Line.service_{i:04d} bus1={cabinet[i]} bus2={house[i]} phases=3 "
        f"linecode={service_code} length={_num(length)} units=m"
        for i, length in enumerate(service_length_m.tolist())
    ]
    # One line code per distinct cable type, in a fixed order so the text is reproducible.
    cable_names = dict.fromkeys((design.main_cable, design.service_cable))

    dss_text = "\n".join(
        [
            "Clear",
            f"Set DefaultBaseFrequency={_num(BASE_FREQUENCY_HZ)}",
            f"New Circuit.tefed_lv_feeder bus1={SOURCE_BUS} basekv={_num(design.mv_kv)} "
            f"pu={_num(design.source_voltage_pu)} angle=0 phases=3 "
            f"MVAsc3={_num(design.mv_short_circuit_mva)} "
            f"MVAsc1={_num(design.mv_short_circuit_mva)}",
            *(_line_code_command(CABLE_TYPES[name]) for name in cable_names),
            _transformer_command(design),
            *main_lines,
            *service_lines,
            f"Set VoltageBases=[{_num(design.mv_kv)}, {_num(design.lv_kv)}]",
            "CalcVoltageBases",
        ]
    )
    households = pd.DataFrame(
        {
            "bus": pd.Series(house, dtype=object),
            "phase": phase,
            "lateral": lateral.astype(np.int64),
            "distance_m": distance_m.astype(np.float64),
        }
    )
    return GeneratedFeeder(
        dss_text=dss_text + "\n",
        households=households,
        source_bus=SOURCE_BUS,
        lv_busbar=LV_BUSBAR,
        lv_base_kv_ln=design.lv_kv / math.sqrt(3.0),
    )


def _transformer_command(design: LvFeederDesign) -> str:
    """OpenDSS command of the Dyn distribution transformer (percentages in the Notes above)."""
    reactance_pct = math.sqrt(
        TRANSFORMER_SHORT_CIRCUIT_VOLTAGE_PCT**2 - TRANSFORMER_COPPER_LOSS_PCT**2
    )
    magnetizing_pct = math.sqrt(
        max(TRANSFORMER_NO_LOAD_CURRENT_PCT**2 - TRANSFORMER_NO_LOAD_LOSS_PCT**2, 0.0)
    )
    kva = _num(design.transformer_kva)
    return (
        f"New Transformer.distribution phases=3 windings=2 buses=[{SOURCE_BUS}, {LV_BUSBAR}] "
        f"conns=[delta, wye] kVs=[{_num(design.mv_kv)}, {_num(design.lv_kv)}] "
        f"kVAs=[{kva}, {kva}] XHL={_num(reactance_pct)} "
        f"%loadloss={_num(TRANSFORMER_COPPER_LOSS_PCT)} "
        f"%noloadloss={_num(TRANSFORMER_NO_LOAD_LOSS_PCT)} %imag={_num(magnetizing_pct)}"
    )


def _line_code_command(cable: CableType) -> str:
    """OpenDSS command of a cable's 3-phase sequence-impedance line code (Z0 = 4 Z1, C0 = C1)."""
    ratio = ZERO_SEQUENCE_IMPEDANCE_RATIO
    return (
        f"New LineCode.{_line_code_name(cable.name)} nphases=3 units=km "
        f"r1={_num(cable.r_ohm_per_km)} x1={_num(cable.x_ohm_per_km)} "
        f"r0={_num(ratio * cable.r_ohm_per_km)} x0={_num(ratio * cable.x_ohm_per_km)} "
        f"c1={_num(cable.c_nf_per_km)} c0={_num(cable.c_nf_per_km)} "
        f"normamps={_num(cable.ampacity_a)} emergamps={_num(cable.ampacity_a)}"
    )


def _line_code_name(cable_name: str) -> str:
    """OpenDSS-safe lowercase name of a cable type, e.g. ``nayy_4x150_se``."""
    return "".join(ch if ch.isalnum() else "_" for ch in cable_name.lower())


def _num(value: float) -> str:
    """Shortest stable text of a number, 12 significant digits."""
    return format(float(value), ".12g")


def _require_positive(field: str, value: object) -> None:
    """Raise ValueError unless ``value`` is a finite real number > 0."""
    if (
        isinstance(value, bool)
        or not isinstance(value, Real)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"{field} is {value!r}; expected a finite number > 0")
