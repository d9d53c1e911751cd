"""Grid federate logic: the feeder's power flow at every grid step.

At every grid instant (phase 3 of 4) the grid reads each household's net power, applies it (with
reactive power from the household's power factor while it imports, or as the household publishes
it), solves the power flow, and publishes each
household's service voltage and the feeder state (substation power, losses, voltage extremes).

It keeps, per step, the feeder state (with the power the feeder's own kept or scaled loads
draw, which the substation supplies besides the households and the losses) and every household's
voltage, and per node, line and transformer running statistics (extremes, violation and overload
steps) whose memory does not grow with the run, and writes them to the run's results at
simulated-hour boundaries (the per-step tables a part at a time, the statistics so far replaced),
so that a failed run keeps them.

A power flow that does not converge is recorded with its time (``converged`` is false in
``grid.parquet``, and the log names the time); the voltages published for that step are those of
the last converged solution. The run then goes on, or stops if the scenario says so.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from tefed.contract import keys
from tefed.contract.errors import InputError
from tefed.contract.logic import (
    FederateContext,
    FederateLogic,
    SilentPublisherError,
    StepInputs,
    StepOutputs,
)
from tefed.contract.parted_table import PartedTable, results_flush_clock
from tefed.contract.role_configs import GridConfig, read_role_config
from tefed.contract.run_folder import RunFolder
from tefed.contract.shard_layout import ShardLayout
from tefed.contract.time_grid import TimeGrid
from tefed.domain.grid_metrics import LoadingStatistics, VoltageStatistics
from tefed.io.opendss.engine import OpenDssFeeder
from tefed.io.opendss.feeder_loader import household_attachment, load_feeder
from tefed.io.opendss.model import network_source, supply_points

logger = logging.getLogger(__name__)


#: Columns of ``grid.parquet`` after ``time_s`` and ``timestamp``, one row per grid step.
STATE_COLUMNS = (
    "substation_power_kw",
    "substation_reactive_power_kvar",
    "losses_kw",
    "household_export_kw",
    "feeder_loads_kw",
    "voltage_min_pu",
    "voltage_max_pu",
    "max_line_loading_pct",
    "max_transformer_loading_pct",
    "max_unbalance_pct",
    "pcc_voltage_pu",
)


class GridFederate(FederateLogic):
    """The distribution feeder, solved by OpenDSS."""

    role = "grid"

    def initialize(self, context: FederateContext) -> None:
        """Compile the feeder and attach every household at its bus and phase."""
        config: GridConfig = read_role_config(self.role, context.config, context.name)
        self._grid: TimeGrid = context.time_grid
        self._stop_on_nonconvergence = config.on_nonconvergence == "stop"
        try:
            loaded = load_feeder(config.feeder, context.base_dir)
        except (KeyError, TypeError, ValueError) as error:
            raise InputError("grid.feeder", [str(error)]) from None
        self._dss_text = loaded.dss_text
        table = context.federation.households_frame()
        self._ids = table["household_id"].astype(str).tolist()
        self._attachment = household_attachment(table)
        try:
            self._feeder = OpenDssFeeder(
                self._attachment,
                existing_loads=loaded.existing_loads,
                existing_load_scale=loaded.existing_load_scale,
                constant_power_voltage_range_pu=config.constant_power_voltage_range_pu,
            )
        except ValueError as error:
            raise InputError("households (bus, phase)", [str(error)]) from None
        power_factor = table["power_factor"].to_numpy(float)
        bad = ~((power_factor > 0) & (power_factor <= 1))
        if bad.any():
            raise InputError(
                "households.power_factor",
                [
                    f"{self._ids[i]}: got {power_factor[i]}; expected 0 < pf <= 1"
                    for i in np.flatnonzero(bad)
                ],
            )
        self._kvar_per_kw = np.tan(np.arccos(power_factor))
        self._published_kvar = config.reactive_power_published
        try:
            self._layout = ShardLayout.from_federation(context.federation)
        except ValueError as error:
            raise InputError("federation file: ems entries", [str(error)]) from None
        self._power_keys = self._layout.power_keys()
        self._reactive_keys = self._layout.reactive_power_keys()
        # Households run by their own program read their voltage from a key of their own.
        self._single_voltage_keys = [
            (keys.household_voltage(shard.household_ids[0]), int(shard.table_index[0]))
            for shard in self._layout.shards
            if not shard.is_batched
        ]
        self._bus_distance_m = self._feeder.bus_distance_m()
        # For the summary's plausibility warnings (tefed.domain.plausibility).
        self._supply = supply_points(self._attachment["bus"].tolist())
        self._source = network_source()
        self._allocate_records(config)
        self._flush_clock = results_flush_clock(
            self._grid, context.federation.tefed.runtime.flush_min_wall_s
        )

    def _allocate_records(self, config: GridConfig) -> None:
        n_steps, count = self._grid.n_steps, len(self._ids)
        step_s = self._grid.grid_step_s
        self._voltage_pu = np.full((n_steps, count), np.nan, dtype=np.float32)
        self._state = np.full((n_steps, len(STATE_COLUMNS)), np.nan)
        self._converged = np.zeros(n_steps, dtype=bool)
        self._taps = np.zeros((n_steps, len(self._feeder.regulator_names)), dtype=np.int64)
        self._node_stats = VoltageStatistics(
            len(self._feeder.node_names),
            step_s,
            range_pu=config.voltage_range_pu,
            upper_limit_pu=config.upper_voltage_limit_pu,
        )
        self._element_stats = LoadingStatistics(
            len(self._feeder.elements), step_s, limit_pct=config.loading_limit_pct
        )
        self._max_unbalance_pct = np.zeros(len(self._feeder.three_phase_buses))
        kind = self._feeder.elements["kind"].to_numpy()
        self._is_line, self._is_transformer = kind == "line", kind == "transformer"
        self._last_voltage = np.ones(count)
        self._interval_energy_wh = np.zeros(count)
        self._tables: dict[str, PartedTable] = {}
        self._written_steps = 0
        self._feeder_written = False

    def schedule_s(self) -> np.ndarray:
        """Every grid step."""
        return self._grid.step_times_s()

    def step(self, time_s: int, inputs: StepInputs) -> StepOutputs:
        """Apply household powers, solve, publish voltages and feeder state."""
        for key in self._power_keys:
            # Else the feeder would carry the last power a household published before it left.
            if key in inputs.silent:
                raise SilentPublisherError(key, time_s)
        power_kw = self._layout.gather(inputs.values, self._power_keys)
        if self._published_kvar:
            reactive_kvar = self._layout.gather(inputs.values, self._reactive_keys)
        else:
            # Households draw reactive power with their load; an exporting inverter runs at
            # unity power factor.
            reactive_kvar = np.maximum(power_kw, 0.0) * self._kvar_per_kw
        state = self._feeder.solve(power_kw, reactive_kvar)
        step = time_s // self._grid.grid_step_s
        self._converged[step] = state.converged
        if not state.converged:
            logger.warning("power flow did not converge at t=%d s", time_s)
            if self._stop_on_nonconvergence:
                raise RuntimeError(
                    f"power flow did not converge at t={time_s} s and grid.on_nonconvergence "
                    "is 'stop'"
                )
            voltage = self._last_voltage
        else:
            voltage = state.household_voltage_pu
            self._last_voltage = voltage
            self._record(step, time_s, state, power_kw)
        values: dict[str, object] = {keys.HOUSEHOLD_VOLTAGES: voltage}
        for key, row in self._single_voltage_keys:
            values[key] = float(voltage[row])
        # The grid is where households are metered: each interval's net energy goes to the
        # market for settlement once the interval's last step is applied.
        self._interval_energy_wh += power_kw * self._grid.grid_step_s / 3.6
        if self._grid.interval_completed_at(time_s) is not None:
            values[keys.HOUSEHOLD_ENERGY] = self._interval_energy_wh
            self._interval_energy_wh = np.zeros_like(self._interval_energy_wh)
        values[keys.SUBSTATION_POWER] = state.substation_power_kw
        values[keys.SUBSTATION_REACTIVE_POWER] = state.substation_reactive_power_kvar
        values[keys.LOSSES] = state.losses_kw
        values[keys.VOLTAGE_MIN] = float(voltage.min())
        values[keys.VOLTAGE_MAX] = float(voltage.max())
        return StepOutputs(values=values)

    def _record(self, step: int, time_s: int, state, power_kw: np.ndarray) -> None:
        """Keep a converged step's results (non-converged steps stay NaN)."""
        voltage = state.household_voltage_pu
        self._voltage_pu[step] = voltage
        loading = state.loading_pct
        lines, transformers = loading[self._is_line], loading[self._is_transformer]
        self._state[step] = (
            state.substation_power_kw,
            state.substation_reactive_power_kvar,
            state.losses_kw,
            float(np.maximum(-power_kw, 0.0).sum()),
            state.feeder_loads_kw,
            voltage.min(),
            voltage.max(),
            lines.max() if lines.size else np.nan,
            transformers.max() if transformers.size else np.nan,
            state.unbalance_pct.max() if state.unbalance_pct.size else np.nan,
            state.pcc_voltage_pu,
        )
        self._taps[step] = state.tap_position
        self._node_stats.update(time_s, state.node_voltage_pu)
        self._element_stats.update(loading)
        np.fmax(self._max_unbalance_pct, state.unbalance_pct, out=self._max_unbalance_pct)

    def write_progress(self, results: RunFolder, time_s: int) -> None:
        """Once per flush period: append the steps solved since the last flush and rewrite the
        node, element and unbalance statistics so far (and, the first time, the feeder)."""
        if self._flush_clock.due(time_s):
            self._write_steps(results, time_s // self._grid.grid_step_s + 1)
            self._write_snapshots(results)

    def finalize(self, results: RunFolder) -> None:
        """Write the remaining steps, the final statistics, and make each table one file."""
        self._write_steps(results, self._grid.n_steps)
        self._write_snapshots(results)
        for table in self._tables.values():
            table.finish()

    def _write_steps(self, results: RunFolder, end_step: int) -> None:
        """Append the steps from the last flush up to ``end_step`` (excluded) to the feeder
        state, household voltage and tap tables."""
        rows = slice(self._written_steps, end_step)
        if rows.start >= rows.stop:
            return
        times = self._grid.step_times_s()[rows]
        feeder_state = pd.DataFrame(self._state[rows], columns=list(STATE_COLUMNS))
        feeder_state.insert(0, "converged", self._converged[rows])
        feeder_state.insert(0, "timestamp", self._grid.calendar(times))
        feeder_state.insert(0, "time_s", times)
        count = len(self._ids)
        voltages = pd.DataFrame(
            {
                "time_s": np.repeat(times, count),
                "household_id": np.tile(np.asarray(self._ids, dtype=object), len(times)),
                "voltage_pu": self._voltage_pu[rows].ravel(),
            }
        )
        taps = pd.DataFrame(self._taps[rows], columns=self._feeder.regulator_names)
        taps.insert(0, "time_s", times)
        for name, frame in (
            ("grid.parquet", feeder_state),
            ("household_voltages.parquet", voltages),
            ("grid_taps.parquet", taps),
        ):
            if name not in self._tables:
                self._tables[name] = PartedTable(results.path, name)
            self._tables[name].append(frame)
        self._written_steps = rows.stop

    def _write_snapshots(self, results: RunFolder) -> None:
        """Write the feeder (once) and the running statistics so far (each time, replaced)."""
        if not self._feeder_written:
            attachment = self._attachment.drop(columns="name")
            attachment.insert(0, "household_id", self._ids)
            attachment["distance_m"] = self._bus_distance_m.reindex(attachment["bus"]).to_numpy()
            for column in self._supply.columns:
                attachment[column] = self._supply[column].to_numpy()
            results.write_parquet("feeder_households.parquet", attachment)
            source_bus, source_voltage_pu = self._source
            source = pd.DataFrame({"bus": [source_bus], "voltage_setpoint_pu": [source_voltage_pu]})
            results.write_parquet("feeder_source.parquet", source)
            results.write_text("feeder.dss", self._dss_text)
            self._feeder_written = True
        results.write_parquet("grid_nodes.parquet", self._node_table())
        elements = self._element_stats.element_table(
            self._feeder.elements["element"].tolist(), self._feeder.elements["kind"].tolist()
        ).reset_index()
        results.write_parquet("grid_elements.parquet", elements)
        unbalance = pd.DataFrame(
            {"bus": self._feeder.three_phase_buses, "max_unbalance_pct": self._max_unbalance_pct}
        )
        results.write_parquet("grid_unbalance.parquet", unbalance)

    def _node_table(self) -> pd.DataFrame:
        """Per node: bus, phase, distance from the source, statistics, worst-instant voltage."""
        stats = self._node_stats
        table = stats.node_table(self._feeder.node_names).reset_index()
        buses = [name.rsplit(".", 1)[0] for name in self._feeder.node_names]
        table.insert(1, "bus", buses)
        table.insert(2, "phase", [int(name.rsplit(".", 1)[1]) for name in self._feeder.node_names])
        table.insert(3, "distance_m", self._bus_distance_m.reindex(buses).to_numpy())
        worst = stats.worst_voltage_pu
        table["worst_instant_voltage_pu"] = np.nan if worst is None else worst
        table["worst_instant_time_s"] = stats.worst_time_s
        return table
