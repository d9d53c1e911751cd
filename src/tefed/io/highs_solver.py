"""The domain's `PersistentSolver` on HiGHS, through Pyomo's persistent interface and highspy.

HiGHS is an external program, like OpenDSS, so its adapter lives in `tefed.io`: the layer
above the domain, which the domain must not import ("the domain is pure" in
``pyproject.toml`` forbids ``highspy``, ``pyomo.contrib.solver`` and ``pyomo.opt`` there) and
which every layer that builds domain objects may. The market and ems federate logic create a
`HighsSolver` for each DLMP market and each battery-schedule group; the lockstep runner builds
the same logic objects, so both run modes use it.

The model level goes through Pyomo's persistent HiGHS interface
(``pyomo.contrib.solver.solvers.highs.Highs``) with the structure's automatic updates off
(the models never change shape; their owners push parameters themselves). The array level
calls the ``highspy.Highs`` object that interface holds, at the column and row positions of
its variable and constraint maps (Pyomo 6.10 internals; without them the positions are None
and the owners stay at the model level).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import highspy
import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.solver.common.results import TerminationCondition
from pyomo.contrib.solver.solvers.highs import Highs

from tefed.domain.persistent_solver import SolveOutcome

_INFEASIBLE_CONDITIONS = (
    TerminationCondition.provenInfeasible,
    TerminationCondition.infeasibleOrUnbounded,
)
_MODEL_STATUS = {
    highspy.HighsModelStatus.kOptimal: "optimal",
    highspy.HighsModelStatus.kInfeasible: "infeasible",
    highspy.HighsModelStatus.kUnboundedOrInfeasible: "infeasible",
}
#: HiGHS basis statuses by their integer value (`tefed.domain.persistent_solver.LOWER` ...).
_BASIS = np.array([highspy.HighsBasisStatus(value) for value in range(5)], dtype=object)


class HighsSolver:
    """`tefed.domain.persistent_solver.PersistentSolver` on HiGHS (one model per instance).

    Examples
    --------
    Minimize ``x`` subject to ``x >= 2``:

    >>> model = pyo.ConcreteModel()
    >>> model.x = pyo.Var()
    >>> model.floor = pyo.Constraint(expr=model.x >= 2)
    >>> model.cost = pyo.Objective(expr=model.x)
    >>> solver = HighsSolver()
    >>> solver.load(model, {"output_flag": False})
    >>> solver.solve().status, solver.values([model.x]).tolist()
    ('optimal', [2.0])
    >>> solver.duals([model.floor]).tolist()  # one more unit of floor costs one more
    [1.0]
    """

    def __init__(self) -> None:
        self._pyomo = Highs()
        self._model: Any = None
        self._results: Any = None

    @property
    def options(self) -> dict:
        """The options of the model-level `solve` (Pyomo's ``solver_options``; mutable)."""
        return self._pyomo.config.solver_options

    def load(
        self, model: pyo.ConcreteModel, options: Mapping, columns_first: Sequence | None = None
    ) -> None:
        """Load ``model`` (see `PersistentSolver.load`).

        With ``columns_first`` every column is added in one call before the rows:
        ``set_instance`` alone adds columns constraint by constraint as it meets them, one
        HiGHS call each (a quarter of the build time of a 100-household, 96-period schedule).
        """
        config = self._pyomo.config
        config.load_solutions, config.raise_exception_on_nonoptimal_result = False, False
        config.solver_options = dict(options)
        for name in list(config.auto_updates):  # the structure never changes: the owner
            setattr(config.auto_updates, name, False)  # pushes the parameters itself
        self._model = model
        if columns_first is None:
            self._pyomo.set_instance(model)
            return
        parts = list(model.component_objects((pyo.Objective, pyo.Constraint), active=True))
        for part in parts:
            part.deactivate()
        self._pyomo.set_instance(model)
        self._pyomo.add_variables(list(columns_first))
        for part in parts:
            part.activate()
        self._pyomo.add_constraints(list(model.component_data_objects(pyo.Constraint, active=True)))
        self._pyomo.set_objective(next(model.component_data_objects(pyo.Objective, active=True)))

    def update_parameters(self) -> None:
        """Push the mutable parameters (Pyomo's ``update_parameters``)."""
        self._pyomo.update_parameters()

    def solve(self) -> SolveOutcome:
        """Solve through Pyomo; ``words`` is Pyomo's termination condition."""
        self._results = self._pyomo.solve(self._model)
        condition = self._results.termination_condition
        if condition == TerminationCondition.convergenceCriteriaSatisfied:
            status = "optimal"
        else:
            status = "infeasible" if condition in _INFEASIBLE_CONDITIONS else "other"
        objective = self._results.incumbent_objective
        return SolveOutcome(
            status, f"Pyomo: {condition.name}", math.nan if objective is None else objective
        )

    def values(self, variables: Sequence[Any]) -> np.ndarray:
        """Values of ``variables`` in the last `solve`'s solution."""
        found = self._results.solution_loader.get_vars(list(variables))
        return np.fromiter((found[v] for v in variables), float, len(variables))

    def duals(self, constraints: Sequence[Any]) -> np.ndarray:
        """Duals of ``constraints`` in the last `solve`'s solution (HiGHS's row duals)."""
        found = self._results.solution_loader.get_duals(list(constraints))
        return np.fromiter((found[c] for c in constraints), float, len(constraints))

    def column_positions(self, variables: Sequence[Any]) -> np.ndarray | None:
        """HiGHS column of each variable, from Pyomo's variable map; None without it."""
        try:
            column = self._pyomo._pyomo_var_to_solver_var_map
            return np.array([column[id(v)] for v in variables], dtype=np.int64)
        except (AttributeError, KeyError, TypeError):
            return None

    def row_positions(self, constraints: Sequence[Any]) -> np.ndarray | None:
        """HiGHS row of each constraint, from Pyomo's constraint map; None without it."""
        try:
            row = self._pyomo._pyomo_con_to_solver_con_map
            return np.array([row[c] for c in constraints], dtype=np.int64)
        except (AttributeError, KeyError, TypeError):
            return None

    def size(self) -> tuple[int, int]:
        """Columns and rows HiGHS holds."""
        highs = self._pyomo._solver_model
        return highs.getNumCol(), highs.getNumRow()

    def stored_data(
        self, columns: np.ndarray, rows: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Costs of ``columns`` and bounds of ``rows`` in HiGHS's copy of the LP."""
        try:
            lp = self._pyomo._solver_model.getLp()
        except AttributeError:
            return None
        return (
            np.asarray(lp.col_cost_)[columns],
            np.asarray(lp.row_lower_)[rows],
            np.asarray(lp.row_upper_)[rows],
        )

    def apply_options(self) -> None:
        """Set the options on HiGHS itself, for `run`; ValueError names one it refuses."""
        highs = self._pyomo._solver_model
        for key, value in self._pyomo.config.solver_options.items():
            if highs.setOptionValue(key, value) != highspy.HighsStatus.kOk:
                raise ValueError(f"solver_options[{key!r}] is {value!r}; HiGHS refused it")

    def set_costs(self, columns: np.ndarray, costs: np.ndarray) -> None:
        """HiGHS's ``changeColsCost``."""
        self._pyomo._solver_model.changeColsCost(columns.size, columns, costs)

    def set_row_bounds(self, rows: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        """HiGHS's ``changeRowsBounds``."""
        self._pyomo._solver_model.changeRowsBounds(rows.size, rows, lower, upper)

    def run(self) -> SolveOutcome:
        """HiGHS's ``run``; ``words`` is HiGHS's model status."""
        highs = self._pyomo._solver_model
        highs.run()
        model_status = highs.getModelStatus()
        return SolveOutcome(
            _MODEL_STATUS.get(model_status, "other"),
            f"HiGHS: {highs.modelStatusToString(model_status)}",
            float(highs.getInfo().objective_function_value),
        )

    def forget_start(self) -> None:
        """HiGHS's ``clearSolver``."""
        self._pyomo._solver_model.clearSolver()

    def primal_values(self) -> np.ndarray | None:
        """Column values of HiGHS's last point, if valid."""
        last = self._pyomo._solver_model.getSolution()
        return np.asarray(last.col_value) if last.value_valid else None

    def basis(self) -> tuple[np.ndarray, np.ndarray] | None:
        """HiGHS's basis as integer statuses, if valid."""
        basis = self._pyomo._solver_model.getBasis()
        if not basis.valid:
            return None
        return tuple(
            np.fromiter((status.value for status in statuses), np.int8, len(statuses))
            for statuses in (basis.col_status, basis.row_status)
        )

    def set_primal(self, values: np.ndarray) -> bool:
        """HiGHS's ``setSolution`` with column values only."""
        solution = highspy.HighsSolution()
        solution.col_value, solution.value_valid = np.asarray(values).tolist(), True
        return self._pyomo._solver_model.setSolution(solution) == highspy.HighsStatus.kOk

    def set_basis(self, column_status: np.ndarray, row_status: np.ndarray) -> bool:
        """HiGHS's ``setBasis`` from integer statuses."""
        basis = highspy.HighsBasis()
        basis.col_status = list(_BASIS[np.asarray(column_status, dtype=np.int64)])
        basis.row_status = list(_BASIS[np.asarray(row_status, dtype=np.int64)])
        basis.valid = True
        return self._pyomo._solver_model.setBasis(basis) == highspy.HighsStatus.kOk
