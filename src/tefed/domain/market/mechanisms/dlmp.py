"""Network-constrained clearing with distribution locational marginal prices (OpenGridGym style).

`DlmpMarket` maximizes welfare over the LinDistFlow model of a `RadialNetwork`. The Pyomo model is
built once for a fixed set of participants; every interval changes only its mutable parameters
(award bounds, objective coefficients, wholesale price), which are pushed to the solver the market
is given (a `tefed.domain.persistent_solver.PersistentSolver`; HiGHS in tefed). The DLMP of a bus
is the dual of its balance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from tefed.domain.market.mechanisms.affine_book import (
    COEFFICIENTS,
    SIDES,
    awards_at_price,
    order_welfare,
    participant_coefficients,
    reactive_ratio,
    validated_orders,
)
from tefed.domain.network.radial import RadialNetwork
from tefed.domain.persistent_solver import BASIC, LOWER, NONBASIC, UPPER, PersistentSolver

STATUSES = ("optimal", "infeasible", "empty", "failure")
BINDING_COLUMNS = ("branch", "flow_kw", "flow_kvar", "rating_kw", "shadow_price_usd_per_kwh")
_BINDING_TOLERANCE = 1e-6  # relative slack under which a thermal limit binds [-]
_VARIABLES = ("buy_kw", "sell_kw", "import_kw", "import_kvar", "flow_kw", "flow_kvar", "v_mpu2")
_ROWS = ("balance_kw", "balance_kvar", "voltage", "limit")
#: Thermal rows of a rated branch: coefficients of P and Q, factor on the rating.
_THERMAL = ((1.0, 0.0, 1.0), (0.0, 1.0, 1.0), (1.0, 1.0, math.sqrt(2)), (1.0, -1.0, math.sqrt(2)))
#: Squared voltages are modelled in milli-pu² so that the voltage rows' coefficients (2 r, down
#: to 1e-7 pu²/kW on MV cables) stay closer to the others' (1).
_MILLI = 1000.0
#: The solver minimizes -W in milli-USD/h: prices in USD/MWh and slopes in USD/MWh per kW. HiGHS's
#: active-set QP solver holds a direction with curvature below an absolute threshold (1e-7 after
#: its own scaling) to be flat and steps from bound to bound along it; in USD/h a 1 MW unit whose
#: price rises 4 ¢/kWh over its range (4e-5 USD/kWh per kW) fell under it, and the solver cycled
#: between the unit's bounds for ever wherever no steeper curve shared the direction (every buyer
#: at a fixed power, or the import at its limit). Scaled, slopes down to 1e-7 USD/kWh per kW solve.
_OBJECTIVE_SCALE = 1000.0
#: Safety net: HiGHS's active-set iterations per column and row of the model; a clearing takes a
#: few per limit that binds.
_ITERATIONS_PER_SIZE = 100


@dataclass(frozen=True, eq=False)
class DlmpResult:
    """Outcome of one network-constrained clearing; nothing is cleared unless ``optimal``.

    Attributes
    ----------
    status : str
        ``optimal``, ``infeasible`` (no dispatch meets the inelastic parts and the network
        limits), ``empty`` (no orders) or ``failure`` (the solver stopped otherwise).
    power_kw : pandas.Series
        Award per order [kW] by ``order_id`` (input order): + consumption, − generation.
    price_usd_per_kwh : pandas.Series
        DLMP at each order's bus [USD/kWh] (NaN unless optimal, like every price and voltage).
    dlmp_usd_per_kwh, reactive_dlmp_usd_per_kvarh : pandas.Series
        Dual of each bus's active [USD/kWh] and reactive [USD/kvarh] balance, by bus.
    voltage_pu : pandas.Series
        LinDistFlow voltage magnitude by bus [pu].
    branch_flow_kw : pandas.Series
        Active power into each branch's downstream bus [kW], by branch; 0 unless optimal.
    binding_branches : pandas.DataFrame
        Branches at a thermal limit: ``BINDING_COLUMNS``, flows [kW, kvar], rating [kVA] and the
        welfare one more kVA of rating would add [USD/kWh].
    substation_power_kw : float
        Import from the upstream grid [kW] (negative: export).
    welfare_usd_per_h : float
        Benefit − cost − wholesale price × import [USD/h] (see `DlmpMarket.clear`).
    reason : str
        Why nothing was cleared (the solver's words and, on failure, its limits); empty when
        ``optimal``.
    """

    status: str
    power_kw: pd.Series
    price_usd_per_kwh: pd.Series
    dlmp_usd_per_kwh: pd.Series
    reactive_dlmp_usd_per_kvarh: pd.Series
    voltage_pu: pd.Series
    branch_flow_kw: pd.Series
    binding_branches: pd.DataFrame
    substation_power_kw: float
    welfare_usd_per_h: float
    reason: str = ""


class DlmpMarket:
    """Welfare-maximizing clearing of affine bids on a radial network, one model for all intervals.

    Parameters
    ----------
    network : RadialNetwork
        The feeder.
    participant_bus : pandas.Series
        Bus of each participant, indexed by unique participant names.
    voltage_min_pu, voltage_max_pu : float
        Voltage band of every non-source bus [pu], ``0 < min <= max``.
    source_voltage_pu : float
        Voltage of the source bus [pu], > 0.
    power_factor : float or pandas.Series
        Power factor in (0, 1] of all or of each participant: ``Q = P tan(acos pf)``, for
        generation too (a generator injects reactive power).
    substation_limit_kw : float, optional
        Largest import and export at the source [kW], >= 0; None means unlimited.
    solver : PersistentSolver
        A fresh solver (e.g. `tefed.io.highs_solver.HighsSolver()`); the market loads its model
        into it once. It must solve convex QPs, give row duals, and (for the hot start) take a
        primal point and a basis.
    time_limit_s : float
        Wall-clock time HiGHS may spend on one solve [s], > 0: a safety net, as is its limit of
        100 active-set iterations per column and row; a solve that reaches either is a
        ``failure`` whose `DlmpResult.reason` says which.

    Attributes
    ----------
    model : pyomo.environ.ConcreteModel
        The optimization model, built once; `clear` changes only its mutable parameters.
    hot_started : bool
        Whether the last `clear` handed the solver a feasible starting point (see `clear`).
    """

    def __init__(
        self,
        network: RadialNetwork,
        participant_bus: pd.Series,
        voltage_min_pu: float = 0.95,
        voltage_max_pu: float = 1.05,
        source_voltage_pu: float = 1.0,
        power_factor: float | pd.Series = 1.0,
        substation_limit_kw: float | None = None,
        *,
        solver: PersistentSolver,
        time_limit_s: float = 60.0,
    ):
        self.network = network
        self._bus_of = network.bus_positions(participant_bus)
        self.participants = pd.Index(participant_bus.index, name="participant")
        if not 0 < voltage_min_pu <= voltage_max_pu < math.inf:
            raise ValueError(
                f"voltage_min_pu, voltage_max_pu: got {voltage_min_pu!r}, {voltage_max_pu!r}, "
                "expected 0 < min <= max, finite [pu]"
            )
        if not 0 < source_voltage_pu < math.inf:
            raise ValueError(f"source_voltage_pu: got {source_voltage_pu!r}, expected > 0 [pu]")
        if not 0 < time_limit_s < math.inf:
            raise ValueError(f"time_limit_s: got {time_limit_s!r}, expected finite and > 0 [s]")
        limit = substation_limit_kw
        if limit is not None and not 0 <= limit < math.inf:
            raise ValueError(f"substation_limit_kw: got {limit!r}, expected >= 0 [kW] or None")
        self._tan = reactive_ratio(power_factor, self.participants)
        self._source_pu = float(source_voltage_pu)
        band = (voltage_min_pu**2, voltage_max_pu**2)
        self.model = _build_model(network, self._bus_of, self._tan, band, self._source_pu, limit)
        self._vars = {name: list(getattr(self.model, name).values()) for name in _VARIABLES}
        self._rows = {name: list(getattr(self.model, name).values()) for name in _ROWS}
        # Every limit as "value <= bound", in the order of `_state`'s values.
        self._rated = np.flatnonzero(np.isfinite(network.rating_kw))
        rating, n_branch = network.rating_kw[self._rated], network.n_buses - 1
        self._limited = limit is not None
        thermal = np.concatenate([rating, rating, math.sqrt(2) * rating, math.sqrt(2) * rating])
        band_rows = [np.full(n_branch, band[1]), np.full(n_branch, -band[0])]
        limits = [limit, limit] if self._limited else []
        self._bounds = np.concatenate([thermal, thermal, *band_rows, limits])
        self._solver = solver
        # HiGHS's default 1e-7 regularization moves results by about 1e-6.
        size = self.model.nvariables() + self.model.nconstraints()
        self._limits = (_ITERATIONS_PER_SIZE * size, float(time_limit_s))
        options = {
            "output_flag": False,
            "qp_regularization_value": 0.0,
            "qp_allow_hot_start": True,
            "qp_iteration_limit": self._limits[0],
            "time_limit": self._limits[1],
        }
        solver.load(self.model, options)
        self._positions = _positions(solver, self._vars, self._rows)
        self.hot_started = False

    def clear(self, orders: pd.DataFrame, wholesale_price_usd_per_kwh: float) -> DlmpResult:
        """Clear one interval's affine orders against the wholesale price on the network.

        Parameters
        ----------
        orders : pandas.DataFrame
            Affine orders, at most one per participant and side (``affine_book.ORDER_COLUMNS``;
            see `affine_book.validated_orders`).
        wholesale_price_usd_per_kwh : float
            Price of import and export at the source [USD/kWh], finite.

        Returns
        -------
        DlmpResult
            Awards, DLMPs, voltages, flows and binding branches.

        Raises
        ------
        ValueError
            On an invalid order (naming it, the field and the expectation) or price.

        Notes
        -----
        Bids as in `affine_book` (``power_min`` of a buyer is always served, of a seller always
        run; ``price_max == price_min`` is a step bid). With each curve's slope :math:`\\beta`
        the welfare

        .. math:: W = \\sum_{buy} \\left[p_{max} d - \\tfrac{\\beta}{2}(d - q_{min})^2\\right]
                  - \\sum_{sell} \\left[p_{min} g + \\tfrac{\\beta}{2}(g - q_{min})^2\\right]
                  - \\lambda s

        (inelastic parts valued at the curve's end prices) is maximized subject to
        :math:`q_{min} \\le d, g \\le q_{max}`, the active and reactive balance of every bus
        (flows along the tree, import :math:`s` at the source), the LinDistFlow squared
        voltages of `RadialNetwork.from_branches` within the band and, on every rated branch,
        :math:`|P|, |Q| \\le S` and :math:`|P| + |Q| \\le \\sqrt2 S` (an octagon around the
        circle of radius S). The DLMP is :math:`-\\partial W / \\partial` (fixed extra load at
        the bus), so without a binding limit every DLMP equals :math:`\\lambda` (losses are not
        modelled); a participant's marginal value is its DLMP plus :math:`\\tan\\varphi` times
        the reactive DLMP.

        HiGHS's active-set QP solver starts from the copper-plate clearing (every order on its
        curve at :math:`\\lambda`, steps at an edge) pulled back towards the inelastic parts
        until every limit holds: optimal as it stands when nothing binds, close otherwise. On a
        numerical failure HiGHS starts again from its own last point, then from scratch. HiGHS
        minimizes :math:`-W` in milli-USD/h: in USD/h, flat curves (a 1 MW unit over 4 ¢/kWh)
        look straight to its active-set solver, which then cycled between their bounds. A solve
        that reaches HiGHS's limits (``time_limit_s``; 100 iterations per column and row) is a
        ``failure`` whose ``reason`` names the limits.

        References
        ----------
        .. [1] R. El Helou et al., "OpenGridGym: An Open-Source AI-Friendly Toolkit for
           Distribution Market Simulation", arXiv:2203.04410 (2022).
        .. [2] L. Bai, J. Wang, C. Wang, C. Chen and F. Li, "Distribution Locational Marginal
           Pricing (DLMP) for Congestion Management and Voltage Support", IEEE Transactions on
           Power Systems 33(4), 4061-4073, 2018. doi:10.1109/TPWRS.2017.2767632

        Examples
        --------
        A buyer behind a 5 kVA line wants 2 kW always and up to 12 kW, 0.30 falling to 0.10
        USD/kWh; the grid sells at 0.10. 5 kW fit, where the bid is worth
        ``0.30 - (0.30 - 0.10) / (12 - 2) * (5 - 2) = 0.24`` USD/kWh.

        >>> network = RadialNetwork.from_branches(pd.DataFrame({
        ...     "branch": ["Line.a"], "from_bus": ["s"], "to_bus": ["b"], "kind": ["line"],
        ...     "phases": [3], "resistance_ohm": [0.01], "reactance_ohm": [0.0],
        ...     "base_kv_ln": [0.23], "rating_kva": [5.0]}), "s")
        >>> from tefed.io.highs_solver import HighsSolver
        >>> market = DlmpMarket(network, pd.Series({"home": "b"}), solver=HighsSolver())
        >>> result = market.clear(pd.DataFrame({
        ...     "order_id": ["o1"], "participant": ["home"], "side": ["buy"],
        ...     "price_max_usd_per_kwh": [0.30], "price_min_usd_per_kwh": [0.10],
        ...     "power_max_kw": [12.0], "power_min_kw": [2.0]}), 0.10)
        >>> result.status, round(float(result.power_kw["o1"]), 6)
        ('optimal', 5.0)
        >>> result.dlmp_usd_per_kwh.round(6).to_dict()
        {'s': 0.1, 'b': 0.24}
        """
        wholesale = float(wholesale_price_usd_per_kwh)
        if not math.isfinite(wholesale):
            raise ValueError(f"wholesale_price_usd_per_kwh: got {wholesale!r}, expected finite")
        book = validated_orders(orders, self.participants)
        if len(book) == 0:
            return self._result("empty", book, reason="no orders")
        values = participant_coefficients(book)
        for name, array in values.items():
            getattr(self.model, name).store_values(dict(enumerate(array.tolist())))
        self.model.wholesale.set_value(wholesale)
        self._solver.update_parameters()
        for attempt, target in enumerate((awards_at_price(book, wholesale), None, None)):
            if attempt:  # numerical trouble: again from HiGHS's last point, then from scratch
                target = self._last_awards(book) if attempt == 1 else None
                self._solver.update_parameters()  # drops the previous start point
            self.hot_started = target is not None and self._hot_start(book, target, values)
            outcome = self._solver.solve()
            if outcome.status in ("optimal", "infeasible") or not self.hot_started:
                break
        if outcome.status == "infeasible":
            unmet = "no dispatch meets the inelastic parts and the network limits"
            return self._result("infeasible", book, reason=f"{unmet} ({outcome.words})")
        if outcome.status != "optimal":
            iterations, seconds = self._limits
            reason = (
                f"the solver stopped without an optimum ({outcome.words}; limits: {iterations} "
                f"active-set iterations, {seconds:g} s)"
            )
            return self._result("failure", book, reason=reason)
        return self._report(book, wholesale)

    def _state(self, book: pd.DataFrame, award_kw: np.ndarray) -> tuple[list, np.ndarray]:
        """Variable values (in `_VARIABLES` order) of per-order awards, and every limit's value."""
        buy, sell = np.zeros(len(self.participants)), np.zeros(len(self.participants))
        is_buy, who = book["side"].to_numpy(dtype=object) == "buy", book["who"].to_numpy()
        buy[who[is_buy]], sell[who[~is_buy]] = award_kw[is_buy], award_kw[~is_buy]
        kw, n_bus = buy - sell, self.network.n_buses
        p_all, q_all, v_pu2 = self.network.lindistflow(
            np.bincount(self._bus_of, kw, n_bus),
            np.bincount(self._bus_of, self._tan * kw, n_bus),
            self._source_pu,
        )
        p, q, imported = p_all[self._rated], q_all[self._rated], kw.sum()
        thermal = np.concatenate([p, q, p + q, p - q])
        limit = [imported, -imported] if self._limited else []
        values = np.concatenate([thermal, -thermal, v_pu2[1:], -v_pu2[1:], limit])
        state = [buy, sell, imported, (self._tan * kw).sum(), p_all, q_all, _MILLI * v_pu2[1:]]
        return state, values

    def _hot_start(self, book: pd.DataFrame, target_kw: np.ndarray, values: dict) -> bool:
        """Hand HiGHS the feasible point nearest ``target_kw`` on the line from the inelastic
        parts (limits are linear along it: a ratio test); False where there is none."""
        if self._positions is None:
            return False
        low, high = book["power_min_kw"].to_numpy(), book["power_max_kw"].to_numpy()
        step = book["slope"].to_numpy() == 0  # no curvature: at a bound, never in between
        edge = np.where(target_kw - low <= high - target_kw, low, high)
        for start_kw in (np.where(step, edge, low), low):
            start = self._state(book, start_kw)[1]
            if (start <= self._bounds).all():
                break
        else:
            return False  # the inelastic parts alone break a limit
        end_kw = np.where(step, start_kw, target_kw)
        end = self._state(book, end_kw)[1]
        rising = end > self._bounds
        share = np.min((self._bounds - start)[rising] / (end - start)[rising], initial=1.0)
        state, _ = self._state(book, start_kw + max(share, 0.0) * (end_kw - start_kw))
        (columns, equality_rows), solver = self._positions, self._solver
        n_columns, n_rows = solver.size()
        value = np.zeros(n_columns)
        status = np.full(value.size, BASIC, dtype=np.int8)
        for index, part in zip(columns, state, strict=True):
            value[index] = part
        for side, index, kw in zip(SIDES, columns, state, strict=False):
            lower, upper = values[f"{side}_min"], values[f"{side}_max"]
            status[index] = np.where(
                (kw <= lower) | (lower == upper), LOWER, np.where(kw >= upper, UPPER, NONBASIC)
            )
        rows = np.full(n_rows, BASIC, dtype=np.int8)
        rows[equality_rows] = LOWER
        return solver.set_primal(value) and solver.set_basis(status, rows)

    def _last_awards(self, book: pd.DataFrame) -> np.ndarray | None:
        """Award per order [kW] in the solver's last primal point, if it has one."""
        last = None if self._positions is None else self._solver.primal_values()
        if last is None:
            return None
        columns = np.concatenate(self._positions[0][:2])  # buy, then sell variables
        return last[columns][_order_columns(book)]

    def _report(self, book: pd.DataFrame, wholesale: float) -> DlmpResult:
        """Read the optimal solution into a result."""
        found = self._solver.values([v for name in _VARIABLES for v in self._vars[name]])
        x = dict(zip(_VARIABLES, _split(found, self._vars, _VARIABLES), strict=True))
        duals = self._solver.duals([c for name in _ROWS for c in self._rows[name]])
        duals /= _OBJECTIVE_SCALE
        # A row dual is the change of the minimum (of -W) per unit of the row's bound; a fixed
        # extra kW of load at a bus raises its balance row's bound by one: the DLMP.
        y = dict(zip(_ROWS, _split(duals, self._rows, _ROWS), strict=True))
        sign = np.where(book["side"].to_numpy(dtype=object) == "buy", 1.0, -1.0)
        power = sign * np.r_[x["buy_kw"], x["sell_kw"]][_order_columns(book)]
        imported = float(power.sum())
        welfare = order_welfare(book, power) - wholesale * imported
        rating = self.network.rating_kw[self._rated]
        p, q = x["flow_kw"][self._rated], x["flow_kvar"][self._rated]
        a, b = np.abs(p), np.abs(q)
        slack = np.minimum(rating - np.maximum(a, b), math.sqrt(2) * rating - a - b)
        binding = slack <= _BINDING_TOLERANCE * np.maximum(rating, 1.0)
        shadow = np.abs(y["limit"]).reshape(-1, 4) @ np.array([row[2] for row in _THERMAL])
        table = pd.DataFrame({
            "branch": self.network.branch[self._rated[binding]], "flow_kw": p[binding],
            "flow_kvar": q[binding], "rating_kw": rating[binding],
            "shadow_price_usd_per_kwh": shadow[binding],
        })  # fmt: skip
        voltage = np.sqrt(np.r_[self._source_pu**2, x["v_mpu2"] / _MILLI])
        solved = (power, y["balance_kw"], y["balance_kvar"], voltage, x["flow_kw"], table)
        return self._result("optimal", book, solved, imported, welfare)

    def _result(
        self, status, book, solved=None, imported=0.0, welfare=0.0, reason=""
    ) -> DlmpResult:
        """Assemble a result; without ``solved``: zero awards and flows, no prices or voltages."""
        net, ids = self.network, pd.Index(book["order_id"], name="order_id")
        nan, empty = np.full(net.n_buses, np.nan), pd.DataFrame(columns=list(BINDING_COLUMNS))
        power, dlmp, reactive, voltage, flow, table = solved or (0.0, nan, nan, nan, 0.0, empty)
        at_bus = dlmp[self._bus_of[book["who"].to_numpy()]]
        return DlmpResult(
            status=status,
            power_kw=pd.Series(power, index=ids, name="power_kw", dtype=float),
            price_usd_per_kwh=pd.Series(at_bus, index=ids, name="price_usd_per_kwh"),
            dlmp_usd_per_kwh=pd.Series(dlmp, index=net.buses, name="dlmp_usd_per_kwh"),
            reactive_dlmp_usd_per_kvarh=pd.Series(
                reactive, index=net.buses, name="reactive_dlmp_usd_per_kvarh"
            ),
            voltage_pu=pd.Series(voltage, index=net.buses, name="voltage_pu"),
            branch_flow_kw=pd.Series(flow, index=pd.Index(net.branch, name="branch"), dtype=float),
            binding_branches=table,
            substation_power_kw=float(imported),
            welfare_usd_per_h=float(welfare),
            reason=reason,
        )


def _build_model(net: RadialNetwork, bus_of, tan, band_pu2, source_pu, limit_kw):
    """Variables, balances, LinDistFlow voltages, thermal limits and objective (built once)."""
    n_part, n_bus = len(bus_of), net.n_buses
    m = pyo.ConcreteModel(name="dlmp")
    m.P, m.B = pyo.RangeSet(0, n_part - 1), pyo.RangeSet(0, n_bus - 1)
    m.K = pyo.Set(initialize=range(n_bus - 1))
    for name in COEFFICIENTS:
        m.add_component(name, pyo.Param(m.P, mutable=True, initialize=0.0))
    m.wholesale = pyo.Param(mutable=True, initialize=0.0)
    m.buy_kw = pyo.Var(m.P, bounds=lambda m, i: (m.buy_min[i], m.buy_max[i]))
    m.sell_kw = pyo.Var(m.P, bounds=lambda m, i: (m.sell_min[i], m.sell_max[i]))
    m.import_kw = pyo.Var(bounds=(None, None) if limit_kw is None else (-limit_kw, limit_kw))
    m.import_kvar = pyo.Var()
    m.flow_kw, m.flow_kvar = pyo.Var(m.K), pyo.Var(m.K)
    m.v_mpu2 = pyo.Var(m.K, bounds=(_MILLI * band_pu2[0], _MILLI * band_pu2[1]))  # of bus k + 1
    children, at_bus = [[] for _ in range(n_bus)], [[] for _ in range(n_bus)]
    for k, up in enumerate(net.parent[1:]):
        children[up].append(k)
    for i, bus in enumerate(bus_of):
        at_bus[bus].append(i)

    def balance(m, j, flow, source, factor):  # inflow - outflow - net load = 0
        load = pyo.quicksum(float(factor[i]) * (m.buy_kw[i] - m.sell_kw[i]) for i in at_bus[j])
        inflow = source if j == 0 else flow[j - 1]
        return inflow - pyo.quicksum(flow[k] for k in children[j]) - load == 0

    m.balance_kw = pyo.Constraint(
        m.B, rule=lambda m, j: balance(m, j, m.flow_kw, m.import_kw, np.ones(n_part))
    )
    m.balance_kvar = pyo.Constraint(
        m.B, rule=lambda m, j: balance(m, j, m.flow_kvar, m.import_kvar, tan)
    )
    r, x = _MILLI * net.resistance_pu2_per_kw, _MILLI * net.reactance_pu2_per_kvar
    parent = net.parent

    def voltage(m, k):  # v_j = v_i - 2 (r P + x Q), in milli-pu²
        upstream = _MILLI * source_pu**2 if parent[k + 1] == 0 else m.v_mpu2[parent[k + 1] - 1]
        return m.v_mpu2[k] == upstream - 2 * (
            float(r[k]) * m.flow_kw[k] + float(x[k]) * m.flow_kvar[k]
        )

    m.voltage = pyo.Constraint(m.K, rule=voltage)
    rated = np.flatnonzero(np.isfinite(net.rating_kw)).tolist()
    m.R = pyo.Set(initialize=[(k, c) for k in rated for c in range(4)], dimen=2)

    def thermal(m, k, c):
        a, b, factor = _THERMAL[c]  # no zero coefficients in HiGHS's matrix
        body = (a * m.flow_kw[k] if a else 0) + (b * m.flow_kvar[k] if b else 0)
        return (-factor * float(net.rating_kw[k]), body, factor * float(net.rating_kw[k]))

    m.limit = pyo.Constraint(m.R, rule=thermal)

    def cost(m, i):  # -W of participant i without constants (see `participant_coefficients`)
        buy = (0.5 * m.buy_slope[i] * m.buy_kw[i] - m.buy_value[i]) * m.buy_kw[i]
        return buy + (0.5 * m.sell_slope[i] * m.sell_kw[i] + m.sell_cost[i]) * m.sell_kw[i]

    total = pyo.quicksum(cost(m, i) for i in m.P) + m.wholesale * m.import_kw
    m.cost = pyo.Objective(expr=_OBJECTIVE_SCALE * total, sense=pyo.minimize)
    return m


def _positions(solver: PersistentSolver, variables: dict, rows: dict):
    """The solver's columns per variable group and its equality rows, or None."""
    columns = [solver.column_positions(variables[name]) for name in _VARIABLES]
    equality = solver.row_positions(
        [c for name in ("balance_kw", "balance_kvar", "voltage") for c in rows[name]]
    )
    if equality is None or any(part is None for part in columns):
        return None
    return columns, equality


def _split(values: np.ndarray, groups: dict, names: tuple) -> list[np.ndarray]:
    """``values`` of the groups' elements laid end to end, split back into one array each."""
    ends = np.cumsum([len(groups[name]) for name in names])[:-1]
    return np.split(values, ends)


def _order_columns(book: pd.DataFrame) -> np.ndarray:
    """Position of each order's variable in the buy-then-sell participant vector."""
    is_buy = book["side"].to_numpy(dtype=object) == "buy"
    return book["who"].to_numpy() + np.where(is_buy, 0, book.attrs["n_participants"])
