"""What the domain's optimization models need from a solver: one model, held across solves.

The DLMP clearing (`tefed.domain.market.mechanisms.dlmp`) and the battery schedule
(`tefed.domain.ems.strategies.schedule_lp`) each declare a Pyomo model once and re-solve it
every market interval with new numbers. They talk to the solver only through
`PersistentSolver`; the domain imports no solver. The implementation on HiGHS is
`tefed.io.highs_solver.HighsSolver`, which whoever builds a mechanism or a strategy group
(the market and ems federate logic) passes in.

The interface has two levels:

- the model level, in Pyomo's terms: load the model, push changed mutable parameters, solve,
  read variable values and constraint duals;
- the array level, in the solver's column and row positions, for the warm starts and the fast
  data updates: costs and row bounds as whole arrays, a primal starting point and a simplex
  basis.

Basis statuses are integers, as HiGHS numbers them (``HighsBasisStatus``): `LOWER`, `BASIC`,
`UPPER`, `ZERO`, `NONBASIC`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Protocol

import numpy as np

#: Basis statuses: at the lower bound, basic, at the upper bound, free at zero, non-basic.
LOWER, BASIC, UPPER, ZERO, NONBASIC = range(5)
#: Outcomes of a solve.
SOLVE_STATUSES = ("optimal", "infeasible", "other")


class SolveOutcome(NamedTuple):
    """How a solve ended.

    Attributes
    ----------
    status : str
        ``optimal``, ``infeasible`` (proven infeasible, or infeasible or unbounded) or
        ``other`` (stopped otherwise: a limit, a numerical failure).
    words : str
        The solver's own name for the outcome, for messages (e.g. ``HiGHS: Optimal``).
    objective_value : float
        Value of the objective at the solution (meaningful only when optimal).
    """

    status: str
    words: str
    objective_value: float


class PersistentSolver(Protocol):
    """A solver that holds one Pyomo model and re-solves it as its numbers change.

    Call `load` once, then any number of solves. Positions (`column_positions`,
    `row_positions`) are the solver's own column and row indices; an implementation that
    cannot tell them returns None, and the caller then works at the model level only.
    """

    def load(
        self,
        model: Any,
        options: Mapping[str, object],
        columns_first: Sequence[Any] | None = None,
    ) -> None:
        """Load a Pyomo model once; its structure never changes afterwards.

        Parameters
        ----------
        model : pyomo.environ.ConcreteModel
            The model.
        options : mapping
            Solver options for the model-level `solve`.
        columns_first : sequence of pyomo VarData, optional
            Variables to add as the first columns, in this order, before any row (else the
            solver adds them as it meets them in the rows).
        """

    def update_parameters(self) -> None:
        """Push the model's mutable parameters as they are now into the solver (and drop any
        starting point set at the array level)."""

    def solve(self) -> SolveOutcome:
        """Solve the loaded model at the model level, with the options given to `load`."""

    def values(self, variables: Sequence[Any]) -> np.ndarray:
        """Values of ``variables`` (pyomo VarData) in the last `solve`'s solution, float."""

    def duals(self, constraints: Sequence[Any]) -> np.ndarray:
        """Duals of ``constraints`` (pyomo ConstraintData) in the last `solve`'s solution: the
        change of the minimum per unit of the row's bound."""

    def column_positions(self, variables: Sequence[Any]) -> np.ndarray | None:
        """Column index of each variable (int64), or None when the solver cannot tell."""

    def row_positions(self, constraints: Sequence[Any]) -> np.ndarray | None:
        """Row index of each constraint (int64), or None when the solver cannot tell."""

    def size(self) -> tuple[int, int]:
        """Number of columns and rows of the loaded model."""

    def stored_data(
        self, columns: np.ndarray, rows: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Costs of ``columns`` and lower and upper bounds of ``rows`` as the solver holds them
        now, or None when it cannot tell."""

    def apply_options(self) -> None:
        """Give the solver the options of `load` for `run` (raises ValueError naming an option
        the solver refuses)."""

    def set_costs(self, columns: np.ndarray, costs: np.ndarray) -> None:
        """Set the objective coefficients of ``columns``."""

    def set_row_bounds(self, rows: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        """Set the bounds of ``rows``."""

    def run(self) -> SolveOutcome:
        """Solve at the array level, from the solver's current basis or starting point."""

    def forget_start(self) -> None:
        """Drop the current basis and starting point: the next `run` starts from scratch."""

    def primal_values(self) -> np.ndarray | None:
        """Value of every column at the solver's last point, or None without one."""

    def basis(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Basis status of every column and row (int8), or None without a valid basis."""

    def set_primal(self, values: np.ndarray) -> bool:
        """Give the next solve a primal starting point (one value per column); False if
        refused."""

    def set_basis(self, column_status: np.ndarray, row_status: np.ndarray) -> bool:
        """Give the next solve a starting basis (one status per column and row); False if
        refused."""
