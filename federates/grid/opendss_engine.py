"""OpenDSS through opendssdirect.py: compile a feeder, attach households, solve, read results.

Household powers are written with AltDSS's batch interface (one call for all loads) and
voltages read as one array of all node magnitudes, so a grid step costs a few library calls
whatever the number of households.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import opendssdirect as dss


@dataclass(frozen=True)
class FeederState:
    """Solution of one power flow.

    Attributes
    ----------
    converged : bool
        Whether OpenDSS reported convergence.
    household_voltage_pu : numpy.ndarray
        Service voltage of each household, line-to-neutral on its phase [pu].
    substation_power_kw : float
        Active power flowing into the feeder at the source [kW] (import positive).
    substation_reactive_power_kvar : float
        Reactive power flowing into the feeder at the source [kvar].
    losses_kw : float
        Total losses of lines and transformers [kW].
    """

    converged: bool
    household_voltage_pu: np.ndarray
    substation_power_kw: float
    substation_reactive_power_kvar: float
    losses_kw: float


class OpenDssFeeder:
    """One feeder loaded in this process's OpenDSS engine, with households attached.

    Parameters
    ----------
    dss_text : str
        OpenDSS script defining the feeder (``Clear`` … ``CalcVoltageBases``).
    household_names : list of str
        Load names to create, one per household.
    buses : list of str
        Bus of each household.
    phases : list of int
        Phase (1, 2 or 3) of each household.
    kv_line_to_neutral : float
        Nominal voltage of the households' service [kV].
    constant_power_voltage_range_pu : tuple of float
        Band in which OpenDSS keeps each household at its constant power [pu]; outside it the
        load becomes a constant impedance. A wide band keeps applied and metered power equal.
    """

    def __init__(
        self,
        dss_text: str,
        household_names: list[str],
        buses: list[str],
        phases: list[int],
        kv_line_to_neutral: float,
        constant_power_voltage_range_pu: tuple[float, float],
    ):
        dss.Basic.ClearAll()
        _run_script(dss_text)
        known_buses = set(dss.Circuit.AllBusNames())
        missing = sorted({bus.lower() for bus in buses} - known_buses)
        if missing:
            raise ValueError(f"household buses not in the feeder: {missing[:10]}")
        vmin_pu, vmax_pu = constant_power_voltage_range_pu
        for name, bus, phase in zip(household_names, buses, phases, strict=True):
            dss.Text.Command(
                f"New Load.{name} bus1={bus}.{phase} phases=1 kV={kv_line_to_neutral:.6f} "
                f"kW=0 kvar=0 model=1 vminpu={vmin_pu} vmaxpu={vmax_pu}"
            )
        dss.Text.Command("Set ControlMode=Static")
        dss.Text.Command("CalcVoltageBases")
        self._loads = dss.to_altdss().Load
        created = [name.lower() for name in self._loads.Name]
        if created != [name.lower() for name in household_names]:
            raise RuntimeError("the feeder already has loads; households must be its only loads")
        node_index = {node: i for i, node in enumerate(dss.Circuit.AllNodeNames())}
        self._household_nodes = np.array(
            [node_index[f"{bus.lower()}.{phase}"] for bus, phase in zip(buses, phases, strict=True)]
        )

    def solve(self, power_kw: np.ndarray, reactive_power_kvar: np.ndarray) -> FeederState:
        """Apply every household's power, solve the power flow and read the results.

        Parameters
        ----------
        power_kw : numpy.ndarray
            Net active power drawn by each household [kW] (negative: export).
        reactive_power_kvar : numpy.ndarray
            Reactive power drawn by each household [kvar].
        """
        self._loads.kW = np.asarray(power_kw, dtype=float)
        self._loads.kvar = np.asarray(reactive_power_kvar, dtype=float)
        dss.Solution.Solve()
        node_voltage_pu = np.asarray(dss.Circuit.AllBusMagPu())
        total_kw, total_kvar = dss.Circuit.TotalPower()
        losses_w, _ = dss.Circuit.Losses()
        return FeederState(
            converged=bool(dss.Solution.Converged()),
            household_voltage_pu=node_voltage_pu[self._household_nodes],
            substation_power_kw=-float(total_kw),
            substation_reactive_power_kvar=-float(total_kvar),
            losses_kw=float(losses_w) / 1000.0,
        )


def _run_script(text: str) -> None:
    for number, line in enumerate(text.splitlines(), start=1):
        command = line.split("!", 1)[0].strip()
        if not command or command.startswith("//"):
            continue
        dss.Text.Command(command)
        error = dss.Error.Description() if dss.Error.Number() else ""
        if error:
            raise ValueError(f"OpenDSS error at line {number} ({command!r}): {error}")
