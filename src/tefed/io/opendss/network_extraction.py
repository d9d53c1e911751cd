"""The branches of the circuit compiled in OpenDSS, as the network-constrained market needs them.

Read once when the federation is built (`extract_market_network`; the builder writes the result
to the market's network file, `tefed.io.market_network`): every enabled line and transformer
becomes a row of per-phase series impedance, voltage base and rating, which
`tefed.domain.network.radial.RadialNetwork.from_branches` turns into a radial tree.
Elements are visited with OpenDSS's own iterators (which skip disabled elements); other
power-delivery elements (series reactors, capacitors) are not branches here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import opendssdirect as dss
import pandas as pd

from tefed.contract.role_configs import FeederConfig
from tefed.domain.network.feeder_topology import bus_name
from tefed.domain.network.radial import BRANCH_COLUMNS
from tefed.io.market_network import MarketNetwork
from tefed.io.opendss.feeder_loader import load_feeder
from tefed.io.opendss.model import bus_base_kv, network_source


def separate_engine() -> Any:
    """A new OpenDSS engine of its own, beside the process's default one.

    The market's network is extracted here, so that extracting never disturbs a circuit the
    grid federate compiled in the same process (the lockstep runner builds and runs in one).
    """
    return dss.NewContext()


def extract_market_network(feeder: FeederConfig, base_dir: str | Path) -> MarketNetwork:
    """Compile a grid configuration's feeder in an engine of its own and read its network.

    Parameters
    ----------
    feeder : GeneratedFeederConfig or OpenDssFeederConfig
        The grid configuration's ``feeder`` section (`tefed.io.opendss.feeder_loader`).
    base_dir : str or pathlib.Path
        Folder a relative OpenDSS master path resolves against.

    Returns
    -------
    MarketNetwork
        `network_branches` and `network_source` of the compiled feeder.

    Raises
    ------
    ValueError
        If the feeder does not compile or has a branch `network_branches` cannot read.
    """
    engine = separate_engine()
    load_feeder(feeder, base_dir, engine=engine)
    source_bus, source_voltage_pu = network_source(engine)
    return MarketNetwork(network_branches(engine), source_bus, source_voltage_pu)


def network_branches(engine: Any = dss) -> pd.DataFrame:
    """Lines and transformers of the compiled circuit, one row per branch between two buses.

    Parameters
    ----------
    engine : opendssdirect interface, optional
        The OpenDSS engine to read: ``opendssdirect`` itself (the process's engine, where
        `compile_feeder` works) or a context from ``opendssdirect.NewContext()``, which leaves
        a circuit another federate of the same process compiled untouched.

    Returns
    -------
    pandas.DataFrame
        Columns ``BRANCH_COLUMNS``: ``branch`` (OpenDSS full name, e.g. ``"Line.650632"``),
        ``from_bus`` and ``to_bus`` (bus names without node suffixes, lower case), ``kind``
        (``line``, ``transformer`` or ``regulator``), ``phases`` (closed phases, int),
        ``resistance_ohm`` and ``reactance_ohm`` (per-phase series impedance [ohm]),
        ``base_kv_ln`` (line-to-neutral base of ``to_bus`` [kV], NaN without a base) and
        ``rating_kva`` (over all phases [kVA], inf without a rating).

    Raises
    ------
    ValueError
        If no circuit is compiled, or a transformer has more than three windings.

    Notes
    -----
    Lines: the series impedance matrix is ``RMatrix + j XMatrix`` (per unit length in the
    line's units) times ``Length``, restricted to the phase conductors. A 2- or 3-phase line
    gets its positive-sequence impedance :math:`Z_1 = \\bar Z_{self} - \\bar Z_{mutual}` (mean
    of the diagonal minus mean of the off-diagonal entries, exact for a transposed line), a
    1-phase line its self impedance. Rating: ``NormAmps x phases x kV_LN`` of ``to_bus``; a
    zero ``NormAmps`` means no rating. A line with a conductor opened at either terminal keeps
    only the phases closed at both ends; with none closed (an open switch) it is left out, as
    are lines joining a bus to itself.

    Transformers: winding 1 is ``from_bus``; the other windings grouped by bus give one branch
    each (a centre-tapped unit's two secondary halves share one). Percent resistance
    ``%R_1 + mean %R_k`` and reactance (``XHL`` to winding 2, ``XHT`` to winding 3) become
    ohms on the first such winding: :math:`Z = (\\%/100)\\, kV_k^2 \\cdot 1000 / kVA_1`, which
    is the per-phase wye equivalent for a three-phase unit (line-to-line kV, total kVA) and the
    winding impedance for a single-phase one. Rating: ``kVA`` of winding 1. A transformer
    named by a ``RegControl`` is a ``regulator``.

    References
    ----------
    .. [1] EPRI, OpenDSS documentation, Line and Transformer objects (properties ``rmatrix``,
       ``xmatrix``, ``length``, ``normamps``, ``%R``, ``XHL``, ``XHT``, ``kVA``),
       https://opendss.epri.com/
    .. [2] W. H. Kersting, *Distribution System Modeling and Analysis*, 4th ed., CRC Press,
       2017, ch. 4 and 6 (sequence impedances of a transposed line; per-unit transformer
       impedance).

    Examples
    --------
    >>> from tefed.io.opendss.model import compile_feeder
    >>> compile_feeder(script_text="\\n".join([
    ...     "New Circuit.demo bus1=s basekv=0.4 pu=1.0",
    ...     "New Line.a bus1=s bus2=b phases=3 r1=0.1 x1=0.05 r0=0.4 x0=0.2 units=km "
    ...     "length=0.5 normamps=100",
    ...     "Set VoltageBases=[0.4]", "CalcVoltageBases"]))
    >>> row = network_branches().iloc[0]
    >>> row.branch, round(float(row.resistance_ohm), 6), round(float(row.rating_kva), 2)
    ('Line.a', 0.05, 69.28)

    ``0.1 ohm/km x 0.5 km = 0.05 ohm``; ``100 A x 3 x 0.23094 kV = 69.28 kVA``.
    """
    if engine.Basic.NumCircuits() == 0:
        raise ValueError("no circuit is compiled: call compile_feeder first")
    rows = _line_rows(engine) + _transformer_rows(engine)
    table = pd.DataFrame(rows, columns=list(BRANCH_COLUMNS))
    table["phases"] = table["phases"].astype(np.int64)
    base = bus_base_kv(table["to_bus"].tolist(), engine)
    table["base_kv_ln"] = base
    lines = (table["kind"] == "line").to_numpy()
    # Lines carry NormAmps in the rating column until the bus base is known.
    table.loc[lines, "rating_kva"] = np.where(
        table.loc[lines, "rating_kva"] > 0,
        table.loc[lines, "rating_kva"] * table.loc[lines, "phases"] * base[lines],
        np.inf,
    )
    return table


def _line_rows(engine: Any) -> list[tuple]:
    """Rows of the enabled lines with a closed phase; ``rating_kva`` holds NormAmps here."""
    rows = []
    found = engine.Lines.First()
    while found:
        from_bus, to_bus = bus_name(engine.Lines.Bus1()), bus_name(engine.Lines.Bus2())
        phases = int(engine.Lines.Phases())
        closed = sum(
            not (engine.CktElement.IsOpen(1, k) or engine.CktElement.IsOpen(2, k))
            for k in range(1, phases + 1)
        )
        if engine.CktElement.Enabled() and closed and from_bus != to_bus:
            resistance, reactance = (
                np.asarray(engine.Lines.RMatrix()),
                np.asarray(engine.Lines.XMatrix()),
            )
            size = round(np.sqrt(resistance.size))  # conductors (phases after Kron reduction)
            z = (resistance + 1j * reactance).reshape(size, size)[:phases, :phases]
            z = z * float(engine.Lines.Length())
            if phases > 1:
                mutual = (z.sum() - np.trace(z)) / (phases * (phases - 1))
                z1 = np.trace(z) / phases - mutual
            else:
                z1 = z[0, 0]
            rows.append(
                (
                    "Line." + engine.Lines.Name(),
                    from_bus,
                    to_bus,
                    "line",
                    closed,
                    float(z1.real),
                    float(z1.imag),
                    np.nan,
                    float(engine.Lines.NormAmps()),
                )
            )
        found = engine.Lines.Next()
    return rows


def _transformer_rows(engine: Any) -> list[tuple]:
    """One row per (enabled transformer, secondary bus)."""
    regulated = set()
    found = engine.RegControls.First()
    while found:
        regulated.add(engine.RegControls.Transformer().lower())
        found = engine.RegControls.Next()
    rows = []
    found = engine.Transformers.First()
    while found:
        name = engine.Transformers.Name()
        windings = int(engine.Transformers.NumWindings())
        if windings > 3:
            raise ValueError(
                f"Transformer.{name}: got {windings} windings, expected 2 or 3 (no data for the "
                "reactances between windings beyond the third)"
            )
        buses = [bus_name(bus) for bus in engine.CktElement.BusNames()]
        percent_r, kv, kva = [], [], []
        for winding in range(1, windings + 1):
            engine.Transformers.Wdg(winding)
            percent_r.append(float(engine.Transformers.R()))
            kv.append(float(engine.Transformers.kV()))
            kva.append(float(engine.Transformers.kVA()))
        percent_x = {2: float(engine.Transformers.Xhl()), 3: float(engine.Transformers.Xht())}
        secondary = {}
        for winding in range(2, windings + 1):
            if buses[winding - 1] != buses[0]:
                secondary.setdefault(buses[winding - 1], []).append(winding)
        if engine.CktElement.Enabled():
            kind = "regulator" if name.lower() in regulated else "transformer"
            phases = int(engine.CktElement.NumPhases())
            for bus, group in secondary.items():
                ohm_per_pct = kv[group[0] - 1] ** 2 * 1000.0 / kva[0] / 100.0
                r_pct = percent_r[0] + np.mean([percent_r[w - 1] for w in group])
                x_pct = np.mean([percent_x[w] for w in group])
                full = f"Transformer.{name}" + (f"/{bus}" if len(secondary) > 1 else "")
                rows.append(
                    (
                        full,
                        buses[0],
                        bus,
                        kind,
                        phases,
                        r_pct * ohm_per_pct,
                        x_pct * ohm_per_pct,
                        np.nan,
                        kva[0] if kva[0] > 0 else np.inf,
                    )
                )
        found = engine.Transformers.Next()
    return rows
