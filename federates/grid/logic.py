"""Grid federate logic: the feeder's power flow at every grid step.

At every grid instant (phase 3 of 4) the grid reads each household's net power, applies it (with
reactive power at the configured power factor), solves the power flow, and publishes each
household's service voltage and the feeder state (substation power, losses, voltage extremes).
It records all of them for the run's results.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from federates import keys
from federates.grid.feeder_generator import LvFeederDesign, generate_lv_feeder
from federates.grid.opendss_engine import OpenDssFeeder
from federates.runtime.errors import InputError
from federates.runtime.logic import FederateContext, FederateLogic, StepInputs, StepOutputs
from federates.runtime.run_folder import RunFolder
from federates.runtime.time_grid import TimeGrid


class GridFederate(FederateLogic):
    """The distribution feeder, solved by OpenDSS."""

    role = "grid"

    def initialize(self, context: FederateContext) -> None:
        """Generate and compile the feeder and attach every household at its bus and phase."""
        config = context.config
        self._grid: TimeGrid = context.time_grid
        feeder_spec = config["feeder"]
        if feeder_spec.get("generator") != "radial_lv":
            raise InputError(
                "grid.feeder.generator",
                [f"got {feeder_spec.get('generator')!r}; expected 'radial_lv'"],
            )
        try:
            design = LvFeederDesign(**feeder_spec["design"])
            feeder = generate_lv_feeder(design, seed=int(feeder_spec["seed"]))
        except (TypeError, ValueError) as error:
            raise InputError("grid.feeder.design", [str(error)]) from None
        self._dss_text = feeder.dss_text
        table = context.federation.households_frame()
        self._ids = list(table["household_id"])
        self._buses = table["bus"].astype(str).tolist()
        self._phases = table["phase"].astype(int).tolist()
        self._feeder = OpenDssFeeder(
            feeder.dss_text,
            household_names=[f"hh_{household}" for household in self._ids],
            buses=self._buses,
            phases=self._phases,
            kv_line_to_neutral=feeder.lv_base_kv_ln,
            constant_power_voltage_range_pu=tuple(config["constant_power_voltage_range_pu"]),
        )
        power_factor = float(config["household_power_factor"])
        if not 0 < power_factor <= 1:
            raise InputError(
                "grid.household_power_factor", [f"got {power_factor}; expected 0 < pf <= 1"]
            )
        self._kvar_per_kw = math.tan(math.acos(power_factor))
        self._power_keys = [keys.household_power(h) for h in self._ids]
        self._voltage_keys = [keys.household_voltage(h) for h in self._ids]
        self._distance_m = (
            feeder.households.set_index("bus")["distance_m"].reindex(self._buses).to_numpy()
        )
        n_steps, count = self._grid.n_steps, len(self._ids)
        self._voltage_pu = np.zeros((n_steps, count), dtype=np.float32)
        self._state = np.zeros((n_steps, 5))

    def schedule_s(self) -> np.ndarray:
        """Every grid step."""
        return self._grid.step_times_s()

    def step(self, time_s: int, inputs: StepInputs) -> StepOutputs:
        """Apply household powers, solve, publish voltages and feeder state."""
        power_kw = inputs.finite_array(self._power_keys)
        # Households draw reactive power with their load; an exporting inverter runs at unity.
        state = self._feeder.solve(power_kw, np.maximum(power_kw, 0.0) * self._kvar_per_kw)
        if not state.converged:
            raise RuntimeError(f"power flow did not converge at t={time_s} s")
        step = time_s // self._grid.grid_step_s
        voltage = state.household_voltage_pu
        self._voltage_pu[step] = voltage
        self._state[step] = (
            state.substation_power_kw,
            state.substation_reactive_power_kvar,
            state.losses_kw,
            voltage.min(),
            voltage.max(),
        )
        values = dict(zip(self._voltage_keys, voltage.tolist(), strict=True))
        values[keys.SUBSTATION_POWER] = state.substation_power_kw
        values[keys.SUBSTATION_REACTIVE_POWER] = state.substation_reactive_power_kvar
        values[keys.LOSSES] = state.losses_kw
        values[keys.VOLTAGE_MIN] = float(voltage.min())
        values[keys.VOLTAGE_MAX] = float(voltage.max())
        return StepOutputs(values=values)

    def finalize(self, results: RunFolder) -> None:
        """Write feeder state, household voltages, and the feeder itself."""
        times = self._grid.step_times_s()
        feeder_state = pd.DataFrame(
            self._state,
            columns=[
                "substation_power_kw",
                "substation_reactive_power_kvar",
                "losses_kw",
                "voltage_min_pu",
                "voltage_max_pu",
            ],
        )
        feeder_state.insert(0, "timestamp", self._grid.calendar(times))
        feeder_state.insert(0, "time_s", times)
        results.write_parquet("grid.parquet", feeder_state)
        count = len(self._ids)
        results.write_parquet(
            "household_voltages.parquet",
            pd.DataFrame(
                {
                    "time_s": np.repeat(times, count),
                    "household_id": np.tile(np.asarray(self._ids, dtype=object), len(times)),
                    "voltage_pu": self._voltage_pu.ravel(),
                }
            ),
        )
        results.write_parquet(
            "feeder_households.parquet",
            pd.DataFrame(
                {
                    "household_id": self._ids,
                    "bus": self._buses,
                    "phase": self._phases,
                    "distance_m": self._distance_m,
                }
            ),
        )
        results.write_text("feeder.dss", self._dss_text)
