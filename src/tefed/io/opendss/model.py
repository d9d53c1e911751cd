"""Compiling an OpenDSS feeder and reading what it holds (nodes, load points, voltages, edges,
the source and how it supplies each bus).

With `tefed.io.opendss.engine` (the step-by-step power flow), the only code of the project
that imports opendssdirect. A feeder is either an OpenDSS master file (any feeder a distribution
engineer already has) or script text from the project's feeder generators; both go through
`compile_feeder`, followed by optional extra OpenDSS commands (for example locking regulator
taps).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import opendssdirect as dss
import pandas as pd

from tefed.domain.network.feeder_topology import (
    bus_name,
    buses_behind,
    buses_reached,
    length_to_m,
)
from tefed.domain.plausibility import LOW_VOLTAGE_MAX_KV_LL

#: How regulator controls behave during the run.
REGULATOR_MODES = ("automatic", "locked")
#: Phase letters of OpenDSS nodes 1, 2 and 3, as the IEEE test-feeder reports name them.
PHASE_LETTERS = {1: "A", 2: "B", 3: "C"}


def compile_feeder(
    *,
    master_path: str | Path | None = None,
    script_text: str | None = None,
    commands: Sequence[str] = (),
    regulators: str = "automatic",
    engine=None,
) -> None:
    """Load a feeder into an OpenDSS engine, ready for snapshot power flows.

    Parameters
    ----------
    master_path : str or pathlib.Path, optional
        OpenDSS master file; its ``Redirect`` and ``BusCoords`` paths resolve against its folder.
    script_text : str, optional
        OpenDSS script text instead of a file (generated feeders).
    commands : sequence of str
        OpenDSS commands applied after compiling, in order (e.g. ``Transformer.Reg1.Taps=[1
        1.0625]``).
    regulators : {"automatic", "locked"}
        ``automatic``: regulator controls move taps within every solve (``ControlMode=Static``);
        ``locked``: every ``RegControl`` is disabled, so taps stay where the file and the commands
        left them.
    engine : optional
        The engine to compile into (a ``NewContext`` of opendssdirect); default: this
        process's own.

    Raises
    ------
    ValueError
        If the file is missing, OpenDSS rejects a line (its own message, with file and line), the
        script defines no circuit, or a command fails.

    Notes
    -----
    The engine is put in snapshot mode after compiling, whatever mode the file set: the grid
    federate owns time and solves one snapshot per grid step.
    """
    if (master_path is None) == (script_text is None):
        raise ValueError("compile_feeder needs exactly one of master_path and script_text")
    if regulators not in REGULATOR_MODES:
        raise ValueError(f"regulators is {regulators!r}; expected one of {REGULATOR_MODES}")
    engine = dss if engine is None else engine
    engine.Basic.ClearAll()
    engine.Basic.AllowChangeDir(False)
    engine.Basic.AllowForms(False)
    if master_path is not None:
        path = Path(master_path).resolve()
        if not path.is_file():
            raise ValueError(f"OpenDSS file {str(path)!r} does not exist or is not a file")
        run_command(f"Compile [{path}]", f"OpenDSS could not compile {path}", engine)
    else:
        for number, line in enumerate(script_text.splitlines(), start=1):
            if line.strip():
                run_command(line, f"OpenDSS rejected line {number} of the generated feeder", engine)
    if engine.Basic.NumCircuits() == 0:
        raise ValueError(
            "the feeder defines no circuit: an OpenDSS feeder starts with 'New Circuit.<name>' "
            "(which also creates its source)"
        )
    run_command("Set Mode=Snapshot", "OpenDSS refused snapshot mode", engine)
    run_command("Set ControlMode=Static", "OpenDSS refused static control mode", engine)
    for command in commands:
        run_command(command, f"OpenDSS rejected the command {command!r}", engine)
    if regulators == "locked" and engine.RegControls.Count():
        # BatchEdit rather than AltDSS's Enabled array, whose setter crashes the engine.
        run_command(
            "BatchEdit RegControl..* enabled=no", "OpenDSS could not lock the regulators", engine
        )


def feeder_load_points() -> pd.DataFrame:
    """The compiled feeder's own loads, one row per phase they draw from.

    Returns
    -------
    pandas.DataFrame
        Columns ``load`` (name), ``bus``, ``phase`` (1, 2 or 3) and ``power_kw`` (the load's
        kW shared equally over its phases) [kW], in the feeder's load order.
    """
    loads = dss.to_altdss().Load
    if len(loads) == 0:
        return pd.DataFrame({"load": [], "bus": [], "phase": [], "power_kw": []})
    rows = []
    for name, bus1, phases, power_kw in zip(
        loads.Name, loads.Bus1, loads.Phases.to_array(), loads.kW.to_array(), strict=True
    ):
        bus, nodes = _split_bus(bus1, int(phases))
        rows.extend((name, bus, node, power_kw / len(nodes)) for node in nodes)
    return pd.DataFrame(rows, columns=["load", "bus", "phase", "power_kw"])


def feeder_nodes() -> set[tuple[str, int]]:
    """Every (bus, node) pair of the compiled feeder, bus names in lower case."""
    pairs = set()
    for name in dss.Circuit.AllNodeNames():
        bus, node = name.rsplit(".", 1)
        pairs.add((bus, int(node)))
    return pairs


def solve_snapshot() -> bool:
    """Solve the compiled feeder once; returns whether OpenDSS converged."""
    dss.Solution.Solve()
    return bool(dss.Solution.Converged())


def node_voltage_table() -> pd.DataFrame:
    """Voltage of every node of the last solution.

    Returns
    -------
    pandas.DataFrame
        Columns ``node`` (bus name), ``phase`` (``A``/``B``/``C`` for nodes 1–3, else the node
        number), ``vmag_pu`` (magnitude over the bus's line-to-neutral base, NaN without a base)
        [pu] and ``angle_deg`` [degrees].
    """
    names = dss.Circuit.AllNodeNames()
    voltage = _complex(dss.Circuit.AllBusVolts())
    base_v = node_base_v(names)
    buses, nodes = zip(*(name.rsplit(".", 1) for name in names), strict=True)
    return pd.DataFrame(
        {
            "node": list(buses),
            "phase": [PHASE_LETTERS.get(int(node), node) for node in nodes],
            "vmag_pu": np.abs(voltage) / base_v,
            "angle_deg": np.degrees(np.angle(voltage)),
        }
    )


def run_command(command: str, context: str, engine=dss) -> None:
    try:
        engine.Text.Command(command)
    except Exception as error:  # OpenDSS raises its own DSSException type
        raise ValueError(f"{context}: {error}") from None
    if engine.Error.Number():
        raise ValueError(f"{context}: {engine.Error.Description()}")


def _split_bus(bus1: str, phases: int) -> tuple[str, list[int]]:
    """Bus name and the phase nodes (1–3) a load at ``bus1`` with ``phases`` draws from."""
    bus, nodes = bus_name(bus1), bus1.split(".")[1:]
    phase_nodes = [int(node) for node in nodes if node.isdigit() and 1 <= int(node) <= 3]
    if not phase_nodes:
        phase_nodes = list(range(1, min(phases, 3) + 1))
    return bus, phase_nodes


def bus_base_kv(buses: Sequence[str], engine=dss) -> np.ndarray:
    """Line-to-neutral base voltage of each bus [kV] (NaN where OpenDSS has none).

    ``engine``: the process's OpenDSS engine, or a context of its own (`compile_feeder`). A bus
    OpenDSS does not know, or any bus before a solve or ``CalcVoltageBases`` has built the
    circuit's bus list, has no base.
    """
    if engine.Circuit.NumBuses() == 0:
        return np.full(len(buses), np.nan)
    base = {}
    for bus in dict.fromkeys(bus_name(bus) for bus in buses):
        found = engine.Circuit.SetActiveBus(bus) >= 0
        base[bus] = (engine.Bus.kVBase() or np.nan) if found else np.nan
    return np.array([base[bus_name(bus)] for bus in buses], dtype=float)


def network_source(engine=dss) -> tuple[str, float]:
    """The circuit's source bus (lower case, no node suffix) and its voltage setpoint [pu].

    The first voltage source is the circuit's own (``New Circuit`` creates ``Vsource.source``);
    ``engine`` as in `bus_base_kv`.

    Examples
    --------
    >>> compile_feeder(script_text="New Circuit.demo bus1=Sub.1.2.3 basekv=0.4 pu=1.02")
    >>> network_source()
    ('sub', 1.02)
    """
    if engine.Basic.NumCircuits() == 0 or not engine.Vsources.First():
        raise ValueError("no circuit with a voltage source is compiled: call compile_feeder")
    return bus_name(engine.CktElement.BusNames()[0]), float(engine.Vsources.PU())


def feeder_edges(engine=dss) -> pd.DataFrame:
    """The compiled feeder's lines and transformer windings as edges between its buses.

    Parameters
    ----------
    engine : optional
        As in `bus_base_kv`.

    Returns
    -------
    pandas.DataFrame
        One row per line (``kind`` ``line``, ``from_bus`` its bus 1, ``to_bus`` its bus 2,
        ``length_m`` [m]) and per further winding of a transformer (``kind`` ``transformer``,
        from its first winding's bus to that winding's, ``length_m`` 0); buses as OpenDSS
        names them, with node suffixes.

    Notes
    -----
    A line without units of its own is in its line code's units; without either, its length is
    taken as metres (lengths only place nodes on the voltage-profile plot).
    """
    altdss = engine.to_altdss()
    lines = altdss.Line
    code_units = dict(
        zip(
            (name.lower() for name in altdss.LineCode.Name),
            altdss.LineCode.Units.to_array().tolist(),
            strict=True,
        )
    )
    none_units = np.array(
        [code_units.get(code.lower(), 0) or 4 for code in lines.LineCode_str], dtype=np.int64
    )
    line_edges = pd.DataFrame(
        {
            "kind": "line",
            "from_bus": pd.Series(list(lines.Bus1), dtype=object),
            "to_bus": pd.Series(list(lines.Bus2), dtype=object),
            "length_m": length_to_m(
                lines.Length.to_array(), lines.Units.to_array(), none_units=none_units
            ),
        }
    )
    windings = [(buses[0], other) for buses in altdss.Transformer.Buses for other in buses[1:]]
    transformer_edges = pd.DataFrame(
        {
            "kind": "transformer",
            "from_bus": pd.Series([pair[0] for pair in windings], dtype=object),
            "to_bus": pd.Series([pair[1] for pair in windings], dtype=object),
            "length_m": np.zeros(len(windings)),
        }
    )
    return pd.concat([line_edges, transformer_edges], ignore_index=True)


def supply_points(buses: Sequence[str], engine=dss) -> pd.DataFrame:
    """How the source supplies each bus: its voltage level and the transformers on the way.

    Parameters
    ----------
    buses : sequence of str
        Buses to describe (node suffixes are dropped).
    engine : optional
        As in `bus_base_kv`.

    Returns
    -------
    pandas.DataFrame
        One row per bus of ``buses``, in order: ``base_kv_ll`` (√3 times OpenDSS's
        line-to-neutral base [kV], NaN without a base) and ``behind_lv_transformer`` (the source
        reaches the bus only through a transformer whose secondary base is at most
        `tefed.domain.plausibility.LOW_VOLTAGE_MAX_KV_LL`, see
        `tefed.domain.network.feeder_topology.buses_behind`).

    Examples
    --------
    An 11 kV source, a transformer to a 0.4 kV busbar, a line on to a street:

    >>> compile_feeder(script_text="\\n".join([
    ...     "New Circuit.demo bus1=mv basekv=11 pu=1.0",
    ...     "New Transformer.t phases=3 windings=2 buses=[mv lv] conns=[delta wye] "
    ...     "kvs=[11 0.4] kvas=[250 250]",
    ...     "New Line.l bus1=lv bus2=street phases=3 length=0.1 units=km",
    ...     "Set VoltageBases=[11 0.4]", "CalcVoltageBases"]))
    >>> supply_points(["mv", "street.1"]).round(3).to_dict("list")
    {'base_kv_ll': [11.0, 0.4], 'behind_lv_transformer': [False, True]}
    """
    edges = feeder_edges(engine)
    transformers = edges[edges["kind"] == "transformer"]
    secondary_kv_ll = np.sqrt(3.0) * bus_base_kv(transformers["to_bus"].tolist(), engine)
    lv_transformer = np.zeros(len(edges), dtype=bool)
    lv_transformer[transformers.index.to_numpy()] = secondary_kv_ll <= LOW_VOLTAGE_MAX_KV_LL
    source, _ = network_source(engine)
    return pd.DataFrame(
        {
            "base_kv_ll": np.sqrt(3.0) * bus_base_kv(list(buses), engine),
            "behind_lv_transformer": buses_behind(
                edges["from_bus"], edges["to_bus"], lv_transformer, source, list(buses)
            ),
        }
    )


def cut_off_buses(buses: Sequence[str], engine=dss) -> tuple[list[str], list[str]]:
    """The buses among ``buses`` that no chain of the feeder's power-delivery elements (lines,
    transformers, reactors, switches…) connects to its source, and the elements cut off with
    them.

    Parameters
    ----------
    buses : sequence of str
        Buses to check (node suffixes are dropped, case is ignored).
    engine : optional
        As in `bus_base_kv`; the feeder need not have been solved.

    Returns
    -------
    tuple of (list of str, list of str)
        The cut-off buses (lower case, each once, in the order given) and the names of the
        elements none of whose buses the source reaches (OpenDSS's ``Class.name``).

    Examples
    --------
    A street whose second line starts at ``b2`` where the first ended at ``b1``:

    >>> compile_feeder(script_text="\\n".join([
    ...     "New Circuit.demo bus1=src basekv=0.4 pu=1.0",
    ...     "New Line.l1 bus1=src bus2=b1 length=0.1 units=km",
    ...     "New Line.l2 bus1=b2 bus2=b3 length=0.1 units=km"]))
    >>> cut_off_buses(["b1.1", "B3.2", "b3"])
    (['b3'], ['Line.l2'])
    """
    source, _ = network_source(engine)
    start: list[str] = []
    end: list[str] = []
    elements: list[tuple[str, list[str]]] = []
    more = engine.PDElements.First()
    while more:
        terminals = [bus_name(bus) for bus in engine.CktElement.BusNames()]
        elements.append((engine.PDElements.Name(), terminals))
        start += terminals[:1] * (len(terminals) - 1)
        end += terminals[1:]
        more = engine.PDElements.Next()
    named = list(dict.fromkeys(bus_name(bus) for bus in buses))
    element_buses = sorted({bus for _, terminals in elements for bus in terminals})
    reached = dict(
        zip(element_buses, buses_reached(start, end, source, element_buses).tolist(), strict=True)
    )
    cut_off = [bus for bus in named if not reached.get(bus, True) and bus != source]
    isolated = [
        name
        for name, terminals in elements
        if not any(reached.get(bus, False) for bus in terminals)
    ]
    return cut_off, isolated


def node_base_v(names: Sequence[str]) -> np.ndarray:
    """Line-to-neutral base voltage of every node [V] (NaN where the bus has no base)."""
    base_kv = bus_base_kv([name.rsplit(".", 1)[0] for name in names])
    return base_kv * 1000.0


def _complex(interleaved: Sequence[float]) -> np.ndarray:
    return np.asarray(interleaved, dtype=float).view(np.complex128)
