"""The battery-schedule LP of `schedule_lp`: its Pyomo declaration and where the solver holds it.

`build_model` declares the LP once for N households and H periods (equations in
`schedule_lp.BatterySchedule.solve`); `model_columns` lists its variables in the order they are
loaded into the solver. `data_positions` finds the solver's columns and rows that carry the
per-interval data, so that `column_costs` and `row_bounds` can be written into the solver as
whole arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pyomo.environ as pyo

from tefed.contract.time_grid import SECONDS_PER_HOUR
from tefed.domain.ems.devices.battery import BatteryParameters
from tefed.domain.persistent_solver import PersistentSolver

OBJECTIVES = ("min_cost", "min_import")
#: Cost of every kWh charged and every kWh discharged, in objective units (USD for min_cost,
#: kWh for min_import). It breaks ties towards less cycling (zero prices, ideal efficiencies).
THROUGHPUT_PENALTY = 1e-5
#: Weight of the energy cost in the min_import objective [kWh/USD]: among schedules with the
#: least import, the cheapest. It never buys more import while every price is below about
#: ``round_trip_efficiency / COST_TIE_BREAK_KWH_PER_USD`` (90 USD/kWh at 90 %).
COST_TIE_BREAK_KWH_PER_USD = 1e-2
#: Variables per household and period, in the order `model_columns` lists them.
COLUMNS = ("import_kw", "export_kw", "charge_kw", "discharge_kw", "soc_kwh")
_PERIOD_ROWS = ("power_balance", "soc_dynamics")


class ScheduleData(NamedTuple):
    """What changes between solves: forecasts, prices and the state of charge.

    Attributes
    ----------
    net_load_kw : numpy.ndarray
        Load − PV per household and period, shape (N, H) [kW].
    import_price_usd_per_kwh, export_price_usd_per_kwh : numpy.ndarray
        Grid prices per period, shape (H,) [USD/kWh].
    soc_initial_kwh : numpy.ndarray
        Stored energy at the start, shape (N,) [kWh].
    """

    net_load_kw: np.ndarray
    import_price_usd_per_kwh: np.ndarray
    export_price_usd_per_kwh: np.ndarray
    soc_initial_kwh: np.ndarray


@dataclass(frozen=True, eq=False)
class BatteryBounds:
    """Per-household limits of the LP, shape (N,) each.

    Attributes
    ----------
    charge_kw, discharge_kw : numpy.ndarray
        Largest charging and discharging power, 0 without a battery [kW].
    soc_low_kwh, soc_high_kwh : numpy.ndarray
        Band of the stored energy, ``soc_min · capacity`` to ``soc_max · capacity`` [kWh].
    retention : numpy.ndarray
        Fraction of the stored energy kept over one period of self-discharge [-].
    """

    charge_kw: np.ndarray
    discharge_kw: np.ndarray
    soc_low_kwh: np.ndarray
    soc_high_kwh: np.ndarray
    retention: np.ndarray


class DataPositions(NamedTuple):
    """Where the solver holds the LP's data (its column and row indices).

    Attributes
    ----------
    priced_columns : numpy.ndarray of int32
        Import then export columns, each household-major (N·H each), as `column_costs`.
    data_rows : numpy.ndarray of int32
        Power-balance rows (N·H), first dynamics rows (N), terminal rows (N), as `row_bounds`.
    columns : numpy.ndarray of int32
        Every variable, in `COLUMNS` order, household-major: shape (5, N, H) reshaped.
    period_rows : numpy.ndarray of int32
        Power-balance and dynamics rows, shape (2, N, H).
    """

    priced_columns: np.ndarray
    data_rows: np.ndarray
    columns: np.ndarray
    period_rows: np.ndarray


def battery_bounds(battery: BatteryParameters, period_s: float) -> BatteryBounds:
    """The limits the LP puts on each household's battery.

    Parameters
    ----------
    battery : BatteryParameters
        Batteries of N households.
    period_s : float
        Length of one period [s].

    Returns
    -------
    BatteryBounds

    Notes
    -----
    Power limits are ``charge_power_kw`` and ``discharge_power_kw`` where the parameters carry
    them, else ``power_kw``, and 0 where ``capacity_kwh`` is 0. With self-discharge
    :math:`\\sigma` per hour (``self_discharge_per_h``, 0 if absent) a period of
    :math:`\\Delta t` hours keeps :math:`\\rho = (1 - \\sigma)^{\\Delta t}` of the energy, as in
    `tefed.domain.ems.devices.battery_dispatch.dispatch_battery`.

    Examples
    --------
    >>> battery = BatteryParameters.from_round_trip([10.0, 0.0], [5.0, 3.0], 0.9, 0.1, 0.9)
    >>> bounds = battery_bounds(battery, 900.0)
    >>> bounds.charge_kw.tolist(), bounds.soc_low_kwh.tolist(), bounds.retention.tolist()
    ([5.0, 0.0], [1.0, 0.0], [1.0, 1.0])
    """
    has_battery = battery.capacity_kwh > 0
    return BatteryBounds(
        charge_kw=np.where(has_battery, battery.charge_power_kw, 0.0),
        discharge_kw=np.where(has_battery, battery.discharge_power_kw, 0.0),
        soc_low_kwh=battery.soc_min * battery.capacity_kwh,
        soc_high_kwh=battery.soc_max * battery.capacity_kwh,
        retention=np.exp(period_s / SECONDS_PER_HOUR * np.log1p(-battery.self_discharge_per_h)),
    )


def objective_weights(objective: str) -> tuple[float, float]:
    """Weights (a, b) of import energy and energy cost in the objective.

    Parameters
    ----------
    objective : str
        ``"min_cost"`` or ``"min_import"``.

    Returns
    -------
    tuple of float
        ``a`` [kWh/kWh or 0] and ``b`` [1 or kWh/USD]: a period costs
        :math:`\\Delta t [(a + b \\pi^{imp}) g^+ - b \\pi^{exp} g^-]`.

    Examples
    --------
    >>> objective_weights("min_cost"), objective_weights("min_import")
    ((0.0, 1.0), (1.0, 0.01))
    """
    return (0.0, 1.0) if objective == "min_cost" else (1.0, COST_TIE_BREAK_KWH_PER_USD)


def column_costs(data: ScheduleData, period_s: float, objective: str) -> np.ndarray:
    """Objective coefficients of the import then the export columns (`DataPositions` order).

    Parameters
    ----------
    data : ScheduleData
        Prices (H,) [USD/kWh]; the net load gives the shape (N, H).
    period_s : float
        Length of one period [s].
    objective : str
        ``"min_cost"`` or ``"min_import"``.

    Returns
    -------
    numpy.ndarray
        2·N·H coefficients [USD/kW or kWh/kW per period].

    Examples
    --------
    >>> data = ScheduleData(np.zeros((1, 2)), np.array([0.2, 0.3]), np.array([0.1, 0.1]),
    ...                     np.zeros(1))
    >>> column_costs(data, 1800.0, "min_cost").tolist()
    [0.1, 0.15, -0.05, -0.05]
    """
    shape, (a, b) = data.net_load_kw.shape, objective_weights(objective)
    period_h = period_s / SECONDS_PER_HOUR
    import_cost = np.broadcast_to(period_h * (a + b * data.import_price_usd_per_kwh), shape)
    export_cost = np.broadcast_to(-period_h * b * data.export_price_usd_per_kwh, shape)
    return np.concatenate([import_cost.ravel(), export_cost.ravel()])


def row_bounds(data: ScheduleData, bounds: BatteryBounds) -> np.ndarray:
    """Right-hand sides of the data rows (`DataPositions` order).

    Parameters
    ----------
    data : ScheduleData
        Net load (N, H) [kW] and initial state of charge (N,) [kWh].
    bounds : BatteryBounds
        The same households' limits.

    Returns
    -------
    numpy.ndarray
        Net load [kW], retained initial energy [kWh], terminal energy [kWh]: N·H + 2·N values.

    Notes
    -----
    The terminal energy is the initial one clipped into the band: Rana et al.'s
    :math:`E_H = E_0` inside it, and a way back for a state of charge below or above it.

    Examples
    --------
    >>> bounds = battery_bounds(BatteryParameters.from_round_trip([10.0], [5.0], 1, 0.1, 1), 3600)
    >>> row_bounds(ScheduleData(np.array([[2.0, 3.0]]), None, None, np.array([0.5])), bounds)
    array([2. , 3. , 0.5, 1. ])
    """
    soc = data.soc_initial_kwh
    terminal = np.clip(soc, bounds.soc_low_kwh, bounds.soc_high_kwh)
    return np.concatenate([data.net_load_kw.ravel(), bounds.retention * soc, terminal])


def build_model(
    battery: BatteryParameters,
    period_s: float,
    objective: str,
    data: ScheduleData,
) -> pyo.ConcreteModel:
    """The LP as a Pyomo model: sets, mutable data, variables, constraints, objective.

    Parameters
    ----------
    battery : BatteryParameters
        Batteries of the N households.
    period_s : float
        Length of one period [s].
    objective : str
        ``"min_cost"`` or ``"min_import"``.
    data : ScheduleData
        Initial values of the mutable parameters; the net load's shape sets (N, H).

    Returns
    -------
    pyomo.environ.ConcreteModel
        Parameters ``net_load_kw``, ``import_price_usd_per_kwh``, ``export_price_usd_per_kwh``,
        ``soc_initial_kwh``, ``soc_terminal_kwh``; variables `COLUMNS` (``soc_kwh[i, t]``: at
        the end of period t); constraints ``power_balance``, ``soc_dynamics``,
        ``terminal_soc``; ``objective``.

    Notes
    -----
    The equations are in `schedule_lp.BatterySchedule.solve`.

    References
    ----------
    .. [1] R. Rana, K. Berg, M. Z. Degefa and M. Löschenbrand, "Modelling and Simulation
       Approaches for Local Energy Community Integrated Distribution Networks", IEEE
       Access 10, 3775-3789, 2022. doi:10.1109/ACCESS.2022.3140237

    Examples
    --------
    >>> battery = BatteryParameters.from_round_trip([10.0, 5.0], [5.0, 2.5], 0.9, 0.1, 0.9)
    >>> model = build_model(battery, 900.0, "min_cost", ScheduleData(
    ...     np.zeros((2, 4)), np.full(4, 0.2), np.full(4, 0.1), np.array([5.0, 2.5])))
    >>> len(model.power_balance), len(model.terminal_soc), model.charge_kw[1, 3].ub
    (8, 2, 2.5)
    """
    bounds = battery_bounds(battery, period_s)
    period_h = period_s / SECONDS_PER_HOUR
    eta_c, eta_d, kept = battery.charge_efficiency, battery.discharge_efficiency, bounds.retention
    net_load = data.net_load_kw
    m = pyo.ConcreteModel(name="battery_schedule")
    m.households = pyo.RangeSet(0, net_load.shape[0] - 1)
    m.periods = pyo.RangeSet(0, net_load.shape[1] - 1)
    last = net_load.shape[1] - 1

    def per_household(values):
        return pyo.Param(m.households, mutable=True, initialize=lambda m, i: float(values[i]))

    def per_period(values):
        return pyo.Param(m.periods, mutable=True, initialize=lambda m, t: float(values[t]))

    m.net_load_kw = pyo.Param(
        m.households, m.periods, mutable=True, initialize=lambda m, i, t: float(net_load[i, t])
    )
    m.import_price_usd_per_kwh = per_period(data.import_price_usd_per_kwh)
    m.export_price_usd_per_kwh = per_period(data.export_price_usd_per_kwh)
    m.soc_initial_kwh = per_household(data.soc_initial_kwh)
    m.soc_terminal_kwh = per_household(row_bounds(data, bounds)[-net_load.shape[0] :])

    def limited(upper):
        return pyo.Var(m.households, m.periods, bounds=lambda m, i, t: (0.0, float(upper[i])))

    m.import_kw = pyo.Var(m.households, m.periods, bounds=(0.0, None))
    m.export_kw = pyo.Var(m.households, m.periods, bounds=(0.0, None))
    m.charge_kw = limited(bounds.charge_kw)
    m.discharge_kw = limited(bounds.discharge_kw)
    low, high = bounds.soc_low_kwh, bounds.soc_high_kwh
    m.soc_kwh = pyo.Var(
        m.households, m.periods, bounds=lambda m, i, t: (float(low[i]), float(high[i]))
    )

    def power_balance(m, i, t):
        flows = m.import_kw[i, t] - m.export_kw[i, t] - m.charge_kw[i, t] + m.discharge_kw[i, t]
        return flows == m.net_load_kw[i, t]

    def soc_dynamics(m, i, t):
        stored = float(eta_c[i]) * m.charge_kw[i, t] - m.discharge_kw[i, t] / float(eta_d[i])
        if t == 0:
            return m.soc_kwh[i, t] - period_h * stored == float(kept[i]) * m.soc_initial_kwh[i]
        return m.soc_kwh[i, t] - float(kept[i]) * m.soc_kwh[i, t - 1] - period_h * stored == 0

    m.power_balance = pyo.Constraint(m.households, m.periods, rule=power_balance)
    m.soc_dynamics = pyo.Constraint(m.households, m.periods, rule=soc_dynamics)
    m.terminal_soc = pyo.Constraint(
        m.households, rule=lambda m, i: m.soc_kwh[i, last] == m.soc_terminal_kwh[i]
    )

    a, b = objective_weights(objective)

    def period_cost(m, i, t):
        energy = (a + b * m.import_price_usd_per_kwh[t]) * m.import_kw[i, t]
        energy -= b * m.export_price_usd_per_kwh[t] * m.export_kw[i, t]
        return period_h * (energy + THROUGHPUT_PENALTY * (m.charge_kw[i, t] + m.discharge_kw[i, t]))

    m.objective = pyo.Objective(
        expr=pyo.quicksum(period_cost(m, i, t) for i in m.households for t in m.periods),
        sense=pyo.minimize,
    )
    return m


def data_positions(
    solver: PersistentSolver, model: pyo.ConcreteModel, data: ScheduleData, expected: tuple
) -> DataPositions | None:
    """The solver's positions of the data-carrying columns and rows, checked against the data.

    Parameters
    ----------
    solver : PersistentSolver
        The solver ``model`` is loaded into.
    model : pyomo.environ.ConcreteModel
        The model, loaded with ``data``.
    data : ScheduleData
        The data the model was built with (non-zero, so that a sign flip would show).
    expected : tuple of numpy.ndarray
        `column_costs` and `row_bounds` of ``data``.

    Returns
    -------
    DataPositions or None
        None when the solver cannot tell its positions or its data, or does not hold
        ``expected`` at the positions found; the caller then updates through the model's
        parameters.

    Examples
    --------
    >>> from tefed.io.highs_solver import HighsSolver
    >>> battery = BatteryParameters.from_round_trip([10.0], [5.0], 0.9, 0.1, 0.9)
    >>> data = ScheduleData(np.ones((1, 3)), np.full(3, 0.2), np.full(3, 0.1), np.array([5.0]))
    >>> model, solver = build_model(battery, 3600.0, "min_cost", data), HighsSolver()
    >>> solver.load(model, {"output_flag": False}, columns_first=model_columns(model))
    >>> bounds = battery_bounds(battery, 3600.0)
    >>> expected = (column_costs(data, 3600.0, "min_cost"), row_bounds(data, bounds))
    >>> data_positions(solver, model, data, expected).data_rows.size  # 3 + 1 + 1
    5
    """
    households, periods = data.net_load_kw.shape
    pairs = [(i, t) for i in range(households) for t in range(periods)]
    columns = solver.column_positions(
        [getattr(model, name)[pair] for name in COLUMNS for pair in pairs]
    )
    period_rows = solver.row_positions(
        [getattr(model, name)[pair] for name in _PERIOD_ROWS for pair in pairs]
    )
    terminal_rows = solver.row_positions([model.terminal_soc[i] for i in range(households)])
    if columns is None or period_rows is None or terminal_rows is None:
        return None
    columns = columns.astype(np.int32)
    period_rows = period_rows.astype(np.int32).reshape(2, households, periods)
    data_rows = np.concatenate([period_rows[0].ravel(), period_rows[1, :, 0], terminal_rows])
    positions = DataPositions(
        columns[: 2 * len(pairs)], data_rows.astype(np.int32), columns, period_rows
    )
    stored = solver.stored_data(positions.priced_columns, positions.data_rows)
    if stored is None:
        return None
    held, lower, upper = stored
    costs, rhs = expected
    tight = {"rtol": 1e-12, "atol": 1e-12}
    same = np.allclose(lower, rhs, **tight) and np.allclose(upper, rhs, **tight)
    return positions if same and np.allclose(held, costs, **tight) else None


def model_columns(model: pyo.ConcreteModel) -> list:
    """Every variable of a `build_model` model, in `COLUMNS` order, household-major.

    Loaded first and in this order (`PersistentSolver.load`'s ``columns_first``), they are the
    solver's columns in this order.
    """
    return [var for name in COLUMNS for var in getattr(model, name).values()]
