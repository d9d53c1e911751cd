"""The grid's power flow: households attached to a compiled OpenDSS feeder, solved step by step.

With `tefed.io.opendss.model` (compiling a feeder and reading what it holds), the only
code of the project that imports opendssdirect.

Household powers are written with AltDSS's batch interface (one edit of all loads), and every
result of a step is read as one array for the whole circuit through AltDSS, which hands over numpy
arrays (node voltages, regulator taps, the largest terminal-one current of every power-delivery
element, from the terminal currents OpenDSS computed once for the circuit's losses), so a grid
step costs a few library calls whatever the number of households. The power flow, its settings
and every number it yields are plain OpenDSS's; only the reading is cheaper.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import opendssdirect as dss
import pandas as pd

from tefed.domain.grid_metrics import voltage_unbalance_factor_pct
from tefed.domain.network.feeder_topology import bus_distances_m, bus_name
from tefed.io.opendss.model import (
    bus_base_kv,
    feeder_edges,
    feeder_nodes,
    network_source,
    node_base_v,
    run_command,
    solve_snapshot,
)

#: What happens to the loads the feeder itself defines when households are attached.
EXISTING_LOAD_MODES = ("keep", "replace", "scale")


@dataclass(frozen=True)
class FeederState:
    """Solution of one power flow.

    Attributes
    ----------
    converged : bool
        Whether OpenDSS reported convergence.
    household_voltage_pu : numpy.ndarray
        Service voltage of each household: line-to-neutral on its phase, or across both legs of
        a split-phase service over twice the leg base [pu].
    node_voltage_pu : numpy.ndarray
        Voltage magnitude of every node over its base, in `OpenDssFeeder.node_names` order [pu].
    loading_pct : numpy.ndarray
        Largest phase current at terminal one of each line and transformer over its normal
        rating, in `OpenDssFeeder.elements` order [%].
    tap_position : numpy.ndarray
        Tap number of each regulator control, in `OpenDssFeeder.regulator_names` order.
    unbalance_pct : numpy.ndarray
        Voltage unbalance factor of each three-phase bus [%].
    substation_power_kw : float
        Active power flowing into the feeder at the source [kW] (import positive).
    substation_reactive_power_kvar : float
        Reactive power flowing into the feeder at the source [kvar].
    losses_kw : float
        Total losses of lines and transformers [kW].
    feeder_loads_kw : float
        Active power drawn by the loads the feeder defines itself, kept or scaled, at this
        solution's voltages [kW] (consumption positive; 0 when they are replaced or there are
        none).
    pcc_voltage_pu : float
        Mean phase voltage at the point of common coupling (`_pcc_bus`) [pu].
    """

    converged: bool
    household_voltage_pu: np.ndarray
    node_voltage_pu: np.ndarray
    loading_pct: np.ndarray
    tap_position: np.ndarray
    unbalance_pct: np.ndarray
    substation_power_kw: float
    substation_reactive_power_kvar: float
    losses_kw: float
    feeder_loads_kw: float
    pcc_voltage_pu: float


#: The refusal of a feeder none of whose buses has a voltage base (no per-unit voltages).
NO_VOLTAGE_BASES = (
    "the feeder has no voltage bases: add 'Set VoltageBases=[...]' and 'CalcVoltageBases' to "
    "the feeder or as commands"
)


class OpenDssFeeder:
    """The compiled feeder with households attached as single-phase loads.

    Call `compile_feeder` first. Household ``i`` becomes load ``names[i]``.

    Parameters
    ----------
    households : pandas.DataFrame
        One row per household: ``name``, ``bus``, ``phase`` (1, 2 or 3) and ``connection``
        (``ln``: line-to-neutral on node ``phase``; ``split``: 240 V across nodes 1 and 2 of a
        split-phase secondary; ``three_phase``: a balanced load on nodes 1, 2 and 3, such as
        the community battery, metered on node 1).
    existing_loads : {"keep", "replace", "scale"}
        What happens to the loads the feeder defines: kept at their base power, disabled, or
        scaled by ``existing_load_scale``.
    existing_load_scale : float
        Factor on the kept loads' kW and kvar when ``existing_loads`` is ``scale`` [-].
    constant_power_voltage_range_pu : tuple of float
        Band in which OpenDSS keeps each household at its constant power [pu]; outside it the
        load becomes a constant impedance. A wide band keeps applied and metered power equal.
    """

    def __init__(
        self,
        households: pd.DataFrame,
        existing_loads: str,
        existing_load_scale: float,
        constant_power_voltage_range_pu: tuple[float, float],
    ):
        if existing_loads not in EXISTING_LOAD_MODES:
            raise ValueError(
                f"existing_loads is {existing_loads!r}; expected one of {EXISTING_LOAD_MODES}"
            )
        if len(households) == 0:
            raise ValueError("no households to attach; a scenario needs at least one")
        _check_household_nodes(households)
        altdss = dss.to_altdss()
        n_existing = len(altdss.Load)
        if n_existing and existing_loads == "replace":
            run_command(
                "BatchEdit Load..* enabled=no", "OpenDSS could not disable the feeder's loads"
            )
        vmin_pu, vmax_pu = constant_power_voltage_range_pu
        split = households["connection"].to_numpy() == "split"
        base_kv = bus_base_kv(households["bus"].tolist())
        for name, bus, phase, is_split, connection, kv in zip(
            households["name"],
            households["bus"],
            households["phase"].astype(int),
            split,
            households["connection"],
            base_kv,
            strict=True,
        ):
            phases = 1
            if is_split:
                terminal, load_kv = f"{bus}.1.2", 2 * kv
            elif connection == "three_phase":
                terminal, load_kv, phases = f"{bus}.1.2.3", kv * np.sqrt(3.0), 3
            else:
                terminal, load_kv = f"{bus}.{phase}", kv
            dss.Text.Command(
                f"New Load.{name} bus1={terminal} phases={phases} kV={load_kv:.6f} "
                f"kW=0 kvar=0 model=1 vminpu={vmin_pu} vmaxpu={vmax_pu}"
            )
        self._loads = altdss.Load
        created = [name.lower() for name in self._loads.Name[n_existing:]]
        if created != [str(name).lower() for name in households["name"]]:
            raise RuntimeError("OpenDSS did not create the household loads in order")
        self._kw = np.array(self._loads.kW.to_array(), dtype=float)
        self._kvar = np.array(self._loads.kvar.to_array(), dtype=float)
        self._first_household = n_existing
        # The feeder's own loads the power flow still serves (disabled ones draw nothing).
        self._own_loads = n_existing if existing_loads != "replace" else 0
        if n_existing and existing_loads == "scale":
            self._kw[:n_existing] *= existing_load_scale
            self._kvar[:n_existing] *= existing_load_scale
        self._altdss = altdss
        self._index_nodes(households, split)
        self._index_elements()
        self._regulators = altdss.RegControl
        self._has_regulators = len(self._regulators) > 0

    def _index_nodes(self, households: pd.DataFrame, split: np.ndarray) -> None:
        """Node order, bases, household and three-phase-bus node indices (once)."""
        names = dss.Circuit.AllNodeNames()
        self.node_names: list[str] = list(names)
        self._node_base_v = node_base_v(names)
        if not np.isfinite(self._node_base_v).any():
            raise ValueError(NO_VOLTAGE_BASES)
        index = {name: i for i, name in enumerate(names)}
        buses = [bus_name(name) for name in households["bus"]]
        phases = households["phase"].astype(int).tolist()
        first = [
            index[f"{bus}.1"] if is_split else index[f"{bus}.{phase}"]
            for bus, phase, is_split in zip(buses, phases, split, strict=True)
        ]
        ground = len(names)  # an extra zero entry stands for the neutral of a ln connection
        second = [
            index[f"{bus}.2"] if is_split else ground
            for bus, is_split in zip(buses, split, strict=True)
        ]
        self._household_first = np.asarray(first)
        self._household_second = np.asarray(second)
        self._household_base_v = self._node_base_v[self._household_first] * np.where(split, 2, 1)
        bus_of_node = [name.rsplit(".", 1)[0] for name in names]
        self.node_buses = bus_of_node
        three_phase = sorted(
            {bus for bus in bus_of_node if all(f"{bus}.{k}" in index for k in (1, 2, 3))}
        )
        self.three_phase_buses: list[str] = three_phase
        self._abc = np.array(
            [[index[f"{bus}.{k}"] for k in (1, 2, 3)] for bus in three_phase], dtype=np.int64
        ).reshape(-1, 3)
        self.pcc_bus = _pcc_bus()
        self._pcc_nodes = np.array(
            [i for i, bus in enumerate(bus_of_node) if bus == self.pcc_bus], dtype=np.int64
        )

    def _index_elements(self) -> None:
        """Lines and transformers among the power-delivery elements, with their ratings."""
        pd_names = dss.PDElements.AllNames()
        regulated = {name.lower() for name in dss.to_altdss().RegControl.Transformer_str}
        picked, kinds = [], []
        for i, full_name in enumerate(pd_names):
            cls, name = full_name.split(".", 1)
            kind = {"line": "line", "transformer": "transformer"}.get(cls.lower())
            if kind is None:
                continue
            if kind == "transformer" and name.lower() in regulated:
                kind = "regulator"
            picked.append(i)
            kinds.append(kind)
        self._pd_index = np.asarray(picked, dtype=np.int64)
        self._pd_elements = self._altdss.PDElement
        self.elements = pd.DataFrame(
            {"element": [pd_names[i] for i in picked], "kind": kinds}, dtype=object
        )
        self._normal_rating_a = np.array(
            [_normal_rating_a(pd_names[i]) for i in picked], dtype=float
        )

    @property
    def regulator_names(self) -> list[str]:
        """Names of the regulator controls, in `FeederState.tap_position` order."""
        return list(self._regulators.Name)

    def bus_distance_m(self) -> pd.Series:
        """Cable distance of every bus from the source [m] (NaN where not reachable)."""
        edges = feeder_edges()
        source, _ = network_source()
        distances = bus_distances_m(edges["from_bus"], edges["to_bus"], edges["length_m"], source)
        return pd.Series(distances).reindex(sorted(set(self.node_buses)))

    def solve(self, power_kw: np.ndarray, reactive_power_kvar: np.ndarray) -> FeederState:
        """Apply every household's power, solve the power flow and read the results.

        Parameters
        ----------
        power_kw : numpy.ndarray
            Net active power drawn by each household [kW] (negative: export).
        reactive_power_kvar : numpy.ndarray
            Reactive power drawn by each household [kvar].
        """
        self._kw[self._first_household :] = power_kw
        self._kvar[self._first_household :] = reactive_power_kvar
        # One edit of both properties: each load recomputes its model once instead of twice.
        self._loads.begin_edit()
        try:
            self._loads.kW = self._kw
            self._loads.kvar = self._kvar
        finally:
            self._loads.end_edit(2)
        converged = solve_snapshot()
        voltage = np.append(self._altdss.BusVolts(), 0.0)
        household_v = np.abs(voltage[self._household_first] - voltage[self._household_second])
        total_kva = self._altdss.TotalPower()
        # The losses make OpenDSS compute every element's terminal currents and keep them for
        # this solution; the maximum-current query after it reuses them instead of computing
        # them again (as AllPctNorm would).
        losses_va = self._altdss.Losses()
        loading_pct = self._loading_pct(self._pd_elements.MaxCurrent(1)[self._pd_index])
        feeder_loads_kw = (
            float(self._loads.TotalPowers()[: self._own_loads].real.sum())
            if self._own_loads
            else 0.0
        )
        abc = voltage[self._abc]
        return FeederState(
            converged=converged,
            household_voltage_pu=household_v / self._household_base_v,
            node_voltage_pu=np.abs(voltage[:-1]) / self._node_base_v,
            loading_pct=loading_pct,
            tap_position=self._tap_position(),
            unbalance_pct=voltage_unbalance_factor_pct(abc[:, 0], abc[:, 1], abc[:, 2]),
            substation_power_kw=-float(total_kva.real),
            substation_reactive_power_kvar=-float(total_kva.imag),
            losses_kw=float(losses_va.real) / 1000.0,
            feeder_loads_kw=feeder_loads_kw,
            pcc_voltage_pu=float(
                np.mean(np.abs(voltage[self._pcc_nodes]) / self._node_base_v[self._pcc_nodes])
            ),
        )

    def _loading_pct(self, max_current_a: np.ndarray) -> np.ndarray:
        """Loading of the lines and transformers from their largest phase current at terminal
        one [A], as OpenDSS's ``AllPctNorm`` computes it: ``100 · I / I_normal`` [%], 0 for an
        element without a normal rating."""
        rating_a = self._normal_rating_a
        loading = np.zeros_like(max_current_a)
        np.divide(100.0 * max_current_a, rating_a, out=loading, where=rating_a != 0)
        return loading

    def _tap_position(self) -> np.ndarray:
        """Tap number of each regulator control (an empty array without regulators)."""
        if not self._has_regulators:
            return np.zeros(0, dtype=np.int64)
        return self._regulators.TapNum.to_array().astype(np.int64)


def _pcc_bus() -> str:
    """The community's point of common coupling: the secondary bus of the feeder's first
    transformer that is not a regulator (a generated feeder's first LV busbar, a test feeder's
    substation secondary), or the source bus of a feeder without one."""
    regulated = {name.lower() for name in dss.to_altdss().RegControl.Transformer_str}
    for name in dss.Transformers.AllNames():
        if name.lower() in regulated:
            continue
        dss.Circuit.SetActiveElement(f"Transformer.{name}")
        return bus_name(dss.CktElement.BusNames()[1])
    return bus_name(dss.to_altdss().Vsource.Bus1[0])


def _normal_rating_a(full_name: str) -> float:
    """Normal current rating of a power-delivery element, ``Class.name`` [A]."""
    dss.Circuit.SetActiveElement(full_name)
    return float(dss.CktElement.NormalAmps())


def _check_household_nodes(households: pd.DataFrame) -> None:
    """Every household's bus exists and has the nodes its connection needs; names both."""
    nodes = feeder_nodes()
    buses = {bus for bus, _ in nodes}
    problems = []
    for name, bus, phase, connection in zip(
        households["name"],
        households["bus"],
        households["phase"],
        households["connection"],
        strict=True,
    ):
        bus = bus_name(bus)
        needed = {"split": (1, 2), "three_phase": (1, 2, 3)}.get(connection, (int(phase),))
        if bus not in buses:
            problems.append(f"household {name}: bus {bus!r} is not in the feeder")
        elif any((bus, node) not in nodes for node in needed):
            have = sorted(node for b, node in nodes if b == bus)
            want = ".".join(str(node) for node in needed)
            problems.append(
                f"household {name}: bus {bus!r} has no node {want} (it has nodes {have})"
            )
    if problems:
        more = f" and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise ValueError("; ".join(problems[:10]) + more)
