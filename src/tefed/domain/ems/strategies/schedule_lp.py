"""Battery schedules of a group of households as one receding-horizon linear program.

`BatterySchedule` plans every household's battery over the next ``H`` market periods with the
household energy-management LP of Rana et al.: minimum cost (arbitrage against the import and
export prices) or minimum import (self-consumption). The households are independent blocks of
one LP, solved together; the first period of the plan is the next delivery interval.

The model (`schedule_model`) is declared once in Pyomo and loaded into the solver the schedule
is given (a `tefed.domain.persistent_solver.PersistentSolver`; in tefed HiGHS through Pyomo's
persistent interface, `tefed.io.highs_solver`); every call changes only numbers: the net-load
forecast (right-hand sides of the power balances), the initial state of charge (right-hand
sides of the first dynamics row and of the terminal row) and the prices (costs of the import
and export columns). The solver keeps its basis between calls, so each solve starts from the
previous optimum, moved on by a period when the window did (``periods_advanced``,
`receding_basis`).

Two ways to push those numbers (``parameter_updates``):

- ``"highspy"`` (default): two array calls into the solver (with HiGHS: ``changeColsCost``,
  ``changeRowsBounds``) at the positions it gave the columns and rows (found once and
  checked against the loaded model), then its ``run``. For 100 households × 96 periods the
  updates take about 2 ms and the warm-started simplex about 30-80 ms.
- ``"pyomo"``: store the mutable parameters, ``update_parameters()`` and Pyomo's ``solve``.
  The update evaluates one expression and makes one HiGHS call per row bound and cost
  coefficient; the solve checks the model for changes, captures the output and polls for
  interrupts in a Python callback every iteration: about 0.2 s more per interval for the same
  group (see ``benchmarks/ems_optimizing``). Used when asked for, or when the solver cannot
  tell its positions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from tefed.domain.ems.devices.battery import BatteryParameters
from tefed.domain.ems.strategies.receding_basis import advanced_basis
from tefed.domain.ems.strategies.schedule_model import (
    COLUMNS,
    OBJECTIVES,
    ScheduleData,
    battery_bounds,
    build_model,
    column_costs,
    data_positions,
    model_columns,
    row_bounds,
)
from tefed.domain.persistent_solver import PersistentSolver

STATUSES = ("optimal", "infeasible", "failed")
UPDATE_PATHS = ("highspy", "pyomo")


@dataclass(frozen=True, eq=False)
class ScheduleResult:
    """A battery schedule over the horizon, or the idle fallback when the LP was not optimal.

    Attributes
    ----------
    status : str
        ``optimal``, ``infeasible`` (no schedule meets the constraints, e.g. a state of charge
        below ``soc_min · capacity`` that the charger cannot lift into the band within one
        period) or ``failed`` (the solver stopped otherwise, e.g. at a time limit). Unless
        ``optimal`` the arrays are the fallback: batteries idle, grid power equal to the
        net-load forecast, the state of charge only self-discharging.
    message : str
        The solver's words for its outcome and, unless optimal, what the fallback is and why.
    battery_power_kw : numpy.ndarray
        Charge − discharge per household and period, shape (N, H), AC side, + charging [kW].
    grid_power_kw : numpy.ndarray
        Import − export per household and period, shape (N, H), + drawn from the grid [kW].
    soc_kwh : numpy.ndarray
        Stored energy at the start of each period and at the end of the horizon, (N, H + 1)
        [kWh]; column 0 is the initial state of charge.
    objective_value : float
        Optimal value of the LP for the whole group (USD for min_cost, kWh for min_import,
        penalties included; see `BatterySchedule.solve`); NaN unless optimal.
    """

    status: str
    message: str
    battery_power_kw: np.ndarray
    grid_power_kw: np.ndarray
    soc_kwh: np.ndarray
    objective_value: float

    @property
    def optimal(self) -> bool:
        """Whether the schedule is the LP's optimum (not the fallback)."""
        return self.status == "optimal"


class BatterySchedule:
    """Receding-horizon battery LP of N households, built once and re-solved every interval.

    Parameters
    ----------
    battery : BatteryParameters
        Batteries of the N >= 1 households (capacity 0: no battery; it stays idle).
    horizon : int
        Number of periods H >= 1 planned at each call.
    period_s : float
        Length of one period, the market interval, > 0 [s] (900 for 15 min, 3600 hourly).
    objective : str
        ``"min_cost"`` (arbitrage) or ``"min_import"`` (self-consumption), see `solve`.
    solver_options : mapping, optional
        Solver options (with HiGHS e.g. ``{"time_limit": 10.0}``); on the ``highspy`` path
        they are set once here, and one the solver refuses raises ValueError.
    parameter_updates : str
        ``"highspy"`` (array updates into the solver) or ``"pyomo"`` (mutable parameters); see
        the module notes. The path in use is the attribute of the same name.
    solver : PersistentSolver
        A fresh LP solver (e.g. `tefed.io.highs_solver.HighsSolver()`); the schedule loads its
        model into it once.

    Attributes
    ----------
    model : pyomo.environ.ConcreteModel
        The LP, built once. Its mutable parameters hold the last data only on the ``pyomo``
        path; on the ``highspy`` path the data go straight into the solver.
    parameter_updates : str
        The update path in use.

    Raises
    ------
    ValueError
        If ``horizon``, ``period_s``, ``objective``, ``parameter_updates`` or a solver option
        is invalid.
    """

    def __init__(
        self,
        battery: BatteryParameters,
        horizon: int,
        period_s: float,
        objective: str = "min_cost",
        solver_options: Mapping[str, object] | None = None,
        parameter_updates: str = "highspy",
        *,
        solver: PersistentSolver,
    ):
        if int(horizon) != horizon or horizon < 1:
            raise ValueError(f"horizon is {horizon!r}; expected a whole number of periods >= 1")
        if not 0 < period_s < math.inf:
            raise ValueError(f"period_s is {period_s!r}; expected a finite length > 0 [s]")
        if objective not in OBJECTIVES:
            raise ValueError(f"objective is {objective!r}; expected one of {OBJECTIVES}")
        if parameter_updates not in UPDATE_PATHS:
            raise ValueError(
                f"parameter_updates is {parameter_updates!r}; expected one of {UPDATE_PATHS}"
            )
        if battery.household_count < 1:
            raise ValueError("battery describes 0 households; expected at least one")
        self.battery, self.horizon, self.period_s = battery, int(horizon), float(period_s)
        self.objective, self.household_count = objective, battery.household_count
        self._bounds = battery_bounds(battery, self.period_s)
        # Placeholder data until the first solve, all non-zero so that the check of the solver's
        # positions would notice a row or cost that Pyomo loaded with the other sign.
        middle_kwh = 0.5 * (self._bounds.soc_low_kwh + self._bounds.soc_high_kwh)
        placeholder = ScheduleData(
            np.ones((self.household_count, self.horizon)), np.full(self.horizon, 0.2),
            np.full(self.horizon, 0.1), middle_kwh,
        )  # fmt: skip
        self.model = build_model(battery, self.period_s, objective, placeholder)
        self._solver = solver
        self._variables = model_columns(self.model)
        options = {"output_flag": False, **dict(solver_options or {})}
        solver.load(self.model, options, columns_first=self._variables)
        self._positions = None
        if parameter_updates == "highspy":
            expected = (self._costs(placeholder), row_bounds(placeholder, self._bounds))
            self._positions = data_positions(solver, self.model, placeholder, expected)
        self.parameter_updates = "highspy" if self._positions is not None else "pyomo"
        if self._positions is not None:  # the solver is run directly: give it the options now
            solver.apply_options()

    def solve(
        self,
        net_load_forecast_kw: np.ndarray,
        import_price_usd_per_kwh: np.ndarray,
        export_price_usd_per_kwh: np.ndarray,
        soc_initial_kwh: np.ndarray,
        periods_advanced: int = 0,
    ) -> ScheduleResult:
        """Plan the batteries over the horizon from the current state of charge.

        Parameters
        ----------
        net_load_forecast_kw : numpy.ndarray
            Load − PV per household and period, shape (N, H), finite [kW].
        import_price_usd_per_kwh, export_price_usd_per_kwh : numpy.ndarray
            Price of energy drawn from and fed into the grid per period, shape (H,), finite,
            export <= import in every period [USD/kWh].
        soc_initial_kwh : numpy.ndarray
            Stored energy now, shape (N,), in ``[0, capacity_kwh]`` [kWh]. Outside
            ``[soc_min, soc_max]·capacity_kwh`` the schedule must bring it back within the
            first period, else the LP is infeasible.
        periods_advanced : int
            Periods this window starts after the previous call's, >= 0: 1 when the receding
            horizon moved on by one interval, 0 for the same window (e.g. re-solved at other
            prices). On the ``highspy`` path the solver then starts from the previous optimal basis
            moved on by as many periods (`receding_basis.advanced_basis`), else from the
            previous basis as it is; the result is the same optimum either way.

        Returns
        -------
        ScheduleResult
            The optimal schedule, or the idle fallback flagged with the status and a message.

        Raises
        ------
        ValueError
            On a wrong shape or a value out of range, naming the field, household, period,
            value and what was expected. Solver trouble never raises: see the status.

        Notes
        -----
        For household :math:`i` and period :math:`t` of length :math:`\\Delta t` [h], with
        import :math:`g^+`, export :math:`g^-`, charge :math:`c \\le P_{c,i}`, discharge
        :math:`d \\le P_{d,i}` (all :math:`\\ge 0`; ``charge_power_kw``, ``discharge_power_kw``
        where the parameters carry them, else ``power_kw``; 0 without a battery) and stored
        energy :math:`E`:

        .. math:: g^+_{it} - g^-_{it} = L_{it} + c_{it} - d_{it}

        .. math:: E_{i,t+1} = \\rho_i E_{it} + (\\eta_{c,i} c_{it} - d_{it} / \\eta_{d,i})
                  \\Delta t, \\quad s_{min,i} C_i \\le E_{i,t+1} \\le s_{max,i} C_i

        .. math:: E_{i0} = E^{init}_i, \\quad
                  E_{iH} = \\min(\\max(E^{init}_i, s_{min,i} C_i), s_{max,i} C_i)

        with :math:`\\rho_i = (1 - \\sigma_i)^{\\Delta t}` the energy kept over a period of
        self-discharge :math:`\\sigma_i` per hour (``self_discharge_per_h``, 0 if absent), as
        in `dispatch_battery`. The terminal condition is Rana et al.'s :math:`E_{iH} = E_{i0}`;
        the clip only matters for a state of charge outside the band (self-discharge of an
        idle battery), which the schedule then brings back. The objective, summed over
        households and periods, is

        .. math:: \\Delta t \\left[(a + b\\,\\pi^{imp}_t) g^+_{it} - b\\,\\pi^{exp}_t g^-_{it}
                  + \\epsilon (c_{it} + d_{it})\\right]

        with :math:`(a, b) = (0, 1)` for min_cost and :math:`(1, w)` for min_import,
        :math:`w` = `schedule_model.COST_TIE_BREAK_KWH_PER_USD`, :math:`\\epsilon` =
        `schedule_model.THROUGHPUT_PENALTY`.
        With export <= import the LP never imports and exports at once for profit; with
        efficiencies below 1 and prices >= 0, charging and discharging at once only loses
        energy, and :math:`\\epsilon` settles the ties left (zero prices, efficiency 1). An
        LP cannot forbid it outright: at negative prices the schedule may charge and discharge
        together to burn energy, and ``battery_power_kw`` reports the net.

        References
        ----------
        .. [1] R. Rana, K. Berg, M. Z. Degefa and M. Löschenbrand, "Modelling and Simulation
           Approaches for Local Energy Community Integrated Distribution Networks", IEEE
           Access 10, 3775-3789, 2022. doi:10.1109/ACCESS.2022.3140237

        Examples
        --------
        A 10 kWh, 5 kW lossless battery holding 5 kWh, two hours, 4 kW of load in the second
        at 0.30 USD/kWh, nothing to sell: it buys 4 kWh at 0.10 in the first hour, then covers
        the load, ``4 · 0.10 = 0.40`` USD plus 8 kWh of throughput at 1e-5 USD/kWh.

        >>> battery = BatteryParameters.from_round_trip([10.0], [5.0], 1.0, 0.0, 1.0)
        >>> from tefed.io.highs_solver import HighsSolver
        >>> schedule = BatterySchedule(battery, horizon=2, period_s=3600.0, solver=HighsSolver())
        >>> plan = schedule.solve(
        ...     np.array([[0.0, 4.0]]), np.array([0.10, 0.30]), np.zeros(2), np.array([5.0]))
        >>> plan.status, plan.battery_power_kw.round(6).tolist(), round(plan.objective_value, 6)
        ('optimal', [[4.0, -4.0]], 0.40008)
        """
        data = self._validated(
            net_load_forecast_kw, import_price_usd_per_kwh, export_price_usd_per_kwh,
            soc_initial_kwh,
        )  # fmt: skip
        if int(periods_advanced) != periods_advanced or periods_advanced < 0:
            raise ValueError(
                f"periods_advanced is {periods_advanced!r}; expected a whole number >= 0"
            )
        if self._positions is not None:
            if periods_advanced:
                self._advance_basis(int(periods_advanced))
            status, words, objective_value, x = self._solve_with_arrays(data)
        else:
            status, words, objective_value, x = self._solve_in_pyomo(data)
        if status != "optimal":
            return self._fallback(status, words, data)
        imported, exported, charge, discharge, soc = x.reshape(
            len(COLUMNS), *data.net_load_kw.shape
        )
        return ScheduleResult(
            status=status,
            message=words,
            battery_power_kw=charge - discharge,
            grid_power_kw=imported - exported,
            soc_kwh=np.column_stack([data.soc_initial_kwh, soc]),
            objective_value=objective_value,
        )

    def _costs(self, data: ScheduleData) -> np.ndarray:
        """Costs of the import and export columns for ``data``'s prices."""
        return column_costs(data, self.period_s, self.objective)

    def _advance_basis(self, periods: int) -> None:
        """Move the solver's basis on by ``periods``; it keeps its own if it refuses the move."""
        positions, basis = self._positions, self._solver.basis()
        if basis is None:
            return
        period_columns = positions.columns.reshape(len(COLUMNS), *positions.period_rows.shape[1:])
        columns, rows = advanced_basis(*basis, period_columns, positions.period_rows, periods)
        self._solver.set_basis(columns, rows)

    def _solve_with_arrays(self, data: ScheduleData) -> tuple[str, str, float, np.ndarray | None]:
        """Push the data as arrays and run the solver from its last basis; status, the
        solver's words, objective and every column (`COLUMNS` order) when optimal."""
        solver, positions = self._solver, self._positions
        solver.set_costs(positions.priced_columns, self._costs(data))
        rhs = row_bounds(data, self._bounds)
        solver.set_row_bounds(positions.data_rows, rhs, rhs)
        outcome = solver.run()
        if outcome.status == "other":  # a warm start gone wrong numerically: again from scratch
            solver.forget_start()
            outcome = solver.run()
        status = "failed" if outcome.status == "other" else outcome.status
        if status != "optimal":
            return status, outcome.words, math.nan, None
        x = solver.primal_values()[positions.columns]
        return status, outcome.words, float(outcome.objective_value), x

    def _solve_in_pyomo(self, data: ScheduleData) -> tuple[str, str, float, np.ndarray | None]:
        """Store the data in the mutable parameters and solve through Pyomo; as above."""
        model, households = self.model, self.household_count
        rhs = row_bounds(data, self._bounds)
        values = {
            model.net_load_kw: data.net_load_kw.ravel(),
            model.import_price_usd_per_kwh: data.import_price_usd_per_kwh,
            model.export_price_usd_per_kwh: data.export_price_usd_per_kwh,
            model.soc_initial_kwh: data.soc_initial_kwh,
            model.soc_terminal_kwh: rhs[-households:],
        }
        for parameter, array in values.items():  # index order: household-major, as ravel
            parameter.store_values(dict(zip(parameter.keys(), array.tolist(), strict=True)))
        self._solver.update_parameters()
        outcome = self._solver.solve()
        if outcome.status != "optimal":
            status = "failed" if outcome.status == "other" else outcome.status
            return status, outcome.words, math.nan, None
        x = self._solver.values(self._variables)
        return "optimal", outcome.words, float(outcome.objective_value), x

    def _validated(self, net_load, import_price, export_price, soc_initial) -> ScheduleData:
        """Inputs as float arrays, checked; ValueError on the first problem."""
        n, h = self.household_count, self.horizon
        net_load = _array("net_load_forecast_kw", net_load, (n, h), ("household", "period"))
        import_price = _array("import_price_usd_per_kwh", import_price, (h,), ("period",))
        export_price = _array("export_price_usd_per_kwh", export_price, (h,), ("period",))
        soc_initial = _array("soc_initial_kwh", soc_initial, (n,), ("household",))
        dearer = np.flatnonzero(export_price > import_price)
        if dearer.size:
            t = int(dearer[0])
            raise ValueError(
                f"export_price_usd_per_kwh[{t}] is {export_price[t]}; expected <= "
                f"import_price_usd_per_kwh[{t}] = {import_price[t]} (period {t})"
            )
        capacity = self.battery.capacity_kwh
        outside = np.flatnonzero((soc_initial < 0) | (soc_initial > capacity))
        if outside.size:
            i = int(outside[0])
            raise ValueError(
                f"soc_initial_kwh[{i}] is {soc_initial[i]}; expected in [0, capacity_kwh = "
                f"{capacity[i]}] for {self._household(i)}"
            )
        return ScheduleData(net_load, import_price, export_price, soc_initial)

    def _household(self, index: int) -> str:
        """``household 3``, with its name where the battery parameters carry names."""
        names = getattr(self.battery, "household_ids", None)
        return f"household {index}" + (f" ({names[index]})" if names else "")

    def _fallback(self, status: str, words: str, data: ScheduleData) -> ScheduleResult:
        """The idle schedule, flagged with why the LP gave none."""
        net_load, soc_initial = data.net_load_kw, data.soc_initial_kwh
        message = (
            f"{words}; no optimal schedule, "
            "fallback: batteries idle, grid power = net-load forecast"
        )
        low, high = self._bounds.soc_low_kwh, self._bounds.soc_high_kwh
        outside = np.flatnonzero((soc_initial < low) | (soc_initial > high))
        if status == "infeasible" and outside.size:
            named = ", ".join(self._household(int(i)) for i in outside[:10])
            message += (
                f"; soc_initial_kwh is outside [soc_min, soc_max]·capacity_kwh for {named} "
                "and may not be reachable within one period"
            )
        decay = self._bounds.retention[:, None] ** np.arange(self.horizon + 1)
        return ScheduleResult(
            status=status,
            message=message,
            battery_power_kw=np.zeros_like(net_load),
            grid_power_kw=net_load.copy(),
            soc_kwh=soc_initial[:, None] * decay,
            objective_value=math.nan,
        )


def _array(name: str, values, shape: tuple, axes: tuple) -> np.ndarray:
    """``values`` as a float array of ``shape`` with finite entries; ValueError otherwise."""
    array = np.asarray(values, dtype=float)
    if array.shape != shape:
        raise ValueError(
            f"{name} has shape {array.shape}; expected {shape}, one value per {' and '.join(axes)}"
        )
    bad = np.argwhere(~np.isfinite(array))
    if bad.size:
        where = tuple(int(k) for k in bad[0])
        label = ", ".join(f"{axis} {k}" for axis, k in zip(axes, where, strict=True))
        raise ValueError(
            f"{name}[{', '.join(map(str, where))}] is {array[where]}; expected a finite number "
            f"({label})"
        )
    return array
