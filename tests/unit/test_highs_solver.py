"""HiGHS behind the domain's PersistentSolver: model level, array level, warm starts."""

from __future__ import annotations

import inspect

import numpy as np
import pyomo.environ as pyo
import pytest

from tefed.domain.persistent_solver import BASIC, LOWER, UPPER, PersistentSolver
from tefed.io.highs_solver import HighsSolver


def two_variable_lp() -> pyo.ConcreteModel:
    """min c_x x + 2 y  s.t.  x + y >= d,  0 <= x <= 2,  y >= 0 (c_x and d mutable)."""
    model = pyo.ConcreteModel()
    model.cost_x = pyo.Param(mutable=True, initialize=1.0)
    model.demand = pyo.Param(mutable=True, initialize=3.0)
    model.x = pyo.Var(bounds=(0.0, 2.0))
    model.y = pyo.Var(bounds=(0.0, None))
    model.cover = pyo.Constraint(expr=model.x + model.y >= model.demand)
    model.cost = pyo.Objective(expr=model.cost_x * model.x + 2.0 * model.y)
    return model


def loaded(columns_first: bool = False) -> tuple[HighsSolver, pyo.ConcreteModel]:
    model, solver = two_variable_lp(), HighsSolver()
    solver.load(model, {"output_flag": False}, [model.y, model.x] if columns_first else None)
    return solver, model


def test_it_implements_every_method_of_the_protocol_with_its_parameters() -> None:
    methods = [
        name
        for name, member in vars(PersistentSolver).items()
        if inspect.isfunction(member) and not name.startswith("_")
    ]
    assert len(methods) == 18
    for name in methods:
        expected = inspect.signature(getattr(PersistentSolver, name)).parameters
        assert inspect.signature(getattr(HighsSolver, name)).parameters.keys() == expected.keys()


def test_model_level_values_duals_and_objective_by_hand() -> None:
    solver, model = loaded()
    outcome = solver.solve()
    # x is cheaper: x = 2 (its bound), y = 1 covers the rest; cost 2 + 2 = 4. One more unit
    # of demand is met by y at 2.
    assert outcome.status == "optimal" and outcome.objective_value == pytest.approx(4.0)
    assert solver.values([model.x, model.y]).tolist() == pytest.approx([2.0, 1.0])
    assert solver.duals([model.cover]).tolist() == pytest.approx([2.0])
    model.demand.set_value(1.0)
    solver.update_parameters()
    assert solver.solve().objective_value == pytest.approx(1.0)  # x = 1 alone


def test_an_infeasible_model_says_so() -> None:
    model = pyo.ConcreteModel()
    model.floor = pyo.Param(mutable=True, initialize=0.5)
    model.x = pyo.Var(bounds=(0.0, 1.0))
    model.above = pyo.Constraint(expr=model.x >= model.floor)
    model.cost = pyo.Objective(expr=model.x)
    solver = HighsSolver()
    solver.load(model, {"output_flag": False})
    assert solver.solve().status == "optimal"
    model.floor.set_value(2.0)  # above x's upper bound 1
    solver.update_parameters()
    outcome = solver.solve()
    assert outcome.status == "infeasible" and outcome.words.startswith("Pyomo: ")


def test_columns_first_fixes_the_column_order() -> None:
    solver, model = loaded(columns_first=True)
    assert solver.column_positions([model.y, model.x]).tolist() == [0, 1]
    assert solver.row_positions([model.cover]).tolist() == [0]
    assert solver.size() == (2, 1)
    assert solver.solve().status == "optimal"
    assert solver.values([model.x, model.y]).tolist() == pytest.approx([2.0, 1.0])


def test_array_level_updates_reach_the_solver() -> None:
    solver, _ = loaded(columns_first=True)
    solver.apply_options()
    columns, rows = np.array([1], np.int32), np.array([0], np.int32)  # x; the cover row
    costs, lower, upper = solver.stored_data(columns, rows)
    assert (costs.tolist(), lower.tolist(), upper.tolist()) == ([1.0], [3.0], [np.inf])
    solver.set_costs(columns, np.array([5.0]))  # x now dearer than y: y covers everything
    solver.set_row_bounds(rows, np.array([4.0]), np.array([4.0]))
    outcome = solver.run()
    assert outcome.status == "optimal" and outcome.words == "HiGHS: Optimal"
    assert outcome.objective_value == pytest.approx(8.0)  # y = 4 at 2
    assert solver.primal_values().tolist() == pytest.approx([4.0, 0.0])  # y, x
    assert solver.stored_data(columns, rows)[0].tolist() == [5.0]


def test_a_basis_read_back_is_taken_and_changes_nothing() -> None:
    solver, _ = loaded(columns_first=True)
    solver.apply_options()
    assert solver.run().status == "optimal"
    column_status, row_status = solver.basis()
    # y basic (1), x at its upper bound 2, the cover row at its lower bound 3.
    assert column_status.tolist() == [BASIC, UPPER] and row_status.tolist() == [LOWER]
    assert solver.set_basis(column_status, row_status)
    assert solver.set_primal(np.array([1.0, 2.0]))
    assert solver.run().objective_value == pytest.approx(4.0)
    solver.forget_start()
    assert solver.run().objective_value == pytest.approx(4.0)


def test_an_unknown_option_is_named() -> None:
    model, solver = two_variable_lp(), HighsSolver()
    solver.load(model, {"output_flag": False, "no_such_option": 1})
    with pytest.raises(ValueError, match=r"solver_options\['no_such_option'\] is 1"):
        solver.apply_options()
