"""Radial distribution network as a market clearing sees it: a tree with LinDistFlow coefficients.

The branch table comes from `tefed.io.opendss.network_extraction` (or is written by hand); this
module is pure: it checks the table, merges parallel branches, orders the buses from the source
outwards and computes, per branch, the linear voltage-drop coefficients of the LinDistFlow model
and the downstream incidence matrix that turns bus injections into branch flows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from tefed.domain.refusals import refuse_rows

if TYPE_CHECKING:
    from scipy import sparse

#: Columns of a branch table, as `tefed.io.opendss.network_extraction.network_branches` returns.
BRANCH_COLUMNS = (
    "branch",
    "from_bus",
    "to_bus",
    "kind",
    "phases",
    "resistance_ohm",
    "reactance_ohm",
    "base_kv_ln",
    "rating_kva",
)
BRANCH_KINDS = ("line", "transformer", "regulator")


@dataclass(frozen=True, eq=False)
class RadialNetwork:
    """A radial network ordered from its source, with balanced LinDistFlow coefficients.

    Branch ``k`` feeds bus ``buses[k + 1]`` from ``buses[parent[k + 1]]``; every per-branch array
    has ``len(buses) - 1`` entries in that order.

    Attributes
    ----------
    buses : pandas.Index
        Bus names, source first, every parent before its children (breadth-first order).
    parent : numpy.ndarray
        Position in ``buses`` of each bus's parent, int64; -1 for the source.
    branch : numpy.ndarray
        Name of the branch feeding each non-source bus (parallel branches joined by ``+``).
    kind : numpy.ndarray
        Kind of that branch (``line``, ``transformer``, ``regulator``; merged kinds joined by
        ``+``).
    rating_kw : numpy.ndarray
        Apparent-power rating used as the thermal limit [kVA, compared with kW and kvar]; inf
        when the branch has no rating.
    resistance_pu2_per_kw : numpy.ndarray
        LinDistFlow coefficient :math:`r_j` [pu²/kW] (see `RadialNetwork.from_branches`).
    reactance_pu2_per_kvar : numpy.ndarray
        LinDistFlow coefficient :math:`x_j` [pu²/kvar].
    downstream : scipy.sparse.csr_array
        Path incidence, shape ``(n_buses - 1, n_buses)``: entry ``(k, j)`` is 1 when bus ``j``
        is bus ``k + 1`` or lies below it, so branch flows are ``downstream @ injections``
        (injections = net consumption per bus) and the voltage-drop sum along the path to each
        bus is ``downstream.T @ drops``.
    """

    buses: pd.Index
    parent: np.ndarray
    branch: np.ndarray
    kind: np.ndarray
    rating_kw: np.ndarray
    resistance_pu2_per_kw: np.ndarray
    reactance_pu2_per_kvar: np.ndarray
    downstream: sparse.csr_array

    @property
    def source_bus(self) -> str:
        """Name of the source (substation) bus."""
        return str(self.buses[0])

    @property
    def n_buses(self) -> int:
        """Number of buses, the source included."""
        return len(self.buses)

    def bus_positions(self, bus_of: pd.Series) -> np.ndarray:
        """Position in ``buses`` of the bus of each entry (e.g. of each market participant).

        Raises
        ------
        ValueError
            If ``bus_of`` is not a Series with a unique index or names a bus the network does
            not have (listing them).

        Examples
        --------
        >>> network = RadialNetwork.from_branches(pd.DataFrame({
        ...     "branch": ["Line.a"], "from_bus": ["s"], "to_bus": ["b"], "kind": ["line"],
        ...     "phases": [3], "resistance_ohm": [0.1], "reactance_ohm": [0.0],
        ...     "base_kv_ln": [0.23], "rating_kva": [100.0]}), "s")
        >>> network.bus_positions(pd.Series({"home": "b", "shop": "s"})).tolist()
        [1, 0]
        """
        if not isinstance(bus_of, pd.Series) or bus_of.index.has_duplicates:
            raise ValueError("participant_bus: expected a Series indexed by unique names")
        position = self.buses.get_indexer(bus_of.to_numpy())
        if (position < 0).any():
            raise ValueError(
                f"participant_bus: got bus(es) {bus_of[position < 0].to_dict()} not in the "
                f"network, expected buses of the network (e.g. {list(self.buses[:5])})"
            )
        return position.astype(np.int64)

    def lindistflow(
        self, load_kw: np.ndarray, load_kvar: np.ndarray, source_voltage_pu: float = 1.0
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Branch flows and squared bus voltages of the LinDistFlow model for given bus loads.

        Parameters
        ----------
        load_kw, load_kvar : numpy.ndarray
            Net consumption at each bus, in ``buses`` order [kW], [kvar] (negative: injection).
        source_voltage_pu : float
            Voltage of the source bus [pu].

        Returns
        -------
        flow_kw, flow_kvar : numpy.ndarray
            Power flowing into each non-source bus from its parent [kW], [kvar].
        voltage_pu2 : numpy.ndarray
            Squared voltage of every bus, source first [pu²].

        Notes
        -----
        :math:`P = D\\,p`, :math:`Q = D\\,q` and :math:`v = v_0 - 2 D^T (r \\circ P + x \\circ Q)`
        with ``D = downstream`` (see `RadialNetwork.from_branches`).

        Examples
        --------
        10 kW at the end of a line with r = 6.25e-4 pu²/kW: v = 1 - 2 * 6.25e-3 = 0.9875 pu².

        >>> network = RadialNetwork.from_branches(pd.DataFrame({
        ...     "branch": ["Line.a"], "from_bus": ["s"], "to_bus": ["b"], "kind": ["line"],
        ...     "phases": [3], "resistance_ohm": [0.1], "reactance_ohm": [0.0],
        ...     "base_kv_ln": [0.4 / 3**0.5], "rating_kva": [100.0]}), "s")
        >>> flow_kw, _, voltage_pu2 = network.lindistflow(np.array([0.0, 10.0]), np.zeros(2))
        >>> flow_kw.tolist(), voltage_pu2.round(6).tolist()
        ([10.0], [1.0, 0.9875])
        """
        flow_kw = self.downstream @ np.asarray(load_kw, dtype=float)
        flow_kvar = self.downstream @ np.asarray(load_kvar, dtype=float)
        drop = self.resistance_pu2_per_kw * flow_kw + self.reactance_pu2_per_kvar * flow_kvar
        return flow_kw, flow_kvar, source_voltage_pu**2 - 2.0 * (self.downstream.T @ drop)

    @classmethod
    def from_branches(cls, branches: pd.DataFrame, source_bus: str) -> RadialNetwork:
        """Build the radial network of a branch table, rooted at ``source_bus``.

        Parameters
        ----------
        branches : pandas.DataFrame
            One row per branch with ``BRANCH_COLUMNS``: ``branch`` (unique name), ``from_bus``,
            ``to_bus`` (distinct names), ``kind`` (one of ``BRANCH_KINDS``), ``phases`` (integer
            >= 1), ``resistance_ohm`` (>= 0) and ``reactance_ohm`` (finite) [ohm, per phase,
            referred to ``to_bus``], ``base_kv_ln`` (> 0, line-to-neutral base of ``to_bus``)
            [kV] and ``rating_kva`` (> 0, inf for none) [kVA, all phases].
        source_bus : str
            The bus the network is fed from.

        Returns
        -------
        RadialNetwork
            Buses in breadth-first order from the source, with coefficients and incidence.

        Raises
        ------
        ValueError
            If a column is missing or a value is invalid (naming field, value and expectation),
            the source is not a bus of the table, a loop exists (naming the branches that close
            loops) or buses cannot be reached from the source (naming them).

        Notes
        -----
        Parallel branches between the same pair of buses (in either direction; for example the
        three single-phase regulators of a bank) become one branch: phases and ratings are
        summed and the per-phase impedance is their mean.

        LinDistFlow (Baran & Wu [1]_, losses neglected) on the balanced per-phase equivalent:
        with :math:`P_j, Q_j` the total active and reactive power flowing into bus *j* over all
        phases [kW, kvar] and :math:`v_j = |V_j|^2` in pu²,

        .. math:: v_j = v_i - 2 (r_j P_j + x_j Q_j), \\quad
                  r_j = \\frac{1000\\,R_j}{n_j V_{LN,j}^2}, \\quad
                  x_j = \\frac{1000\\,X_j}{n_j V_{LN,j}^2}

        for branch *i → j* with per-phase series resistance :math:`R_j` and reactance
        :math:`X_j` [ohm], :math:`n_j` phases and line-to-neutral base :math:`V_{LN,j}` [V]:
        the per-unit resistance on a per-phase base :math:`S_b` is :math:`R_j S_b / V_{LN}^2` and
        the per-phase flow is :math:`P_j / (n_j S_b)`. Every phase is assumed to carry an
        equal share of the flow; unbalance, mutual coupling between phases beyond the
        positive-sequence impedance, losses and shunt elements are ignored. For a merged group
        the per-row value :math:`1000 R / V_{LN}^2` is averaged and divided by the summed
        phases, which is the same when the bases agree and otherwise stays in per unit.

        References
        ----------
        .. [1] M. E. Baran and F. F. Wu, "Network reconfiguration in distribution systems for
           loss reduction and load balancing", IEEE Transactions on Power Delivery 4(2),
           1401-1407, 1989. doi:10.1109/61.25627

        Examples
        --------
        A 400 V (230.94 V line-to-neutral) three-phase cable of 0.1 ohm:
        ``r = 1000 * 0.1 / (3 * 230.94**2) = 100 / 160000 = 6.25e-4`` pu² per kW.

        >>> branches = pd.DataFrame({
        ...     "branch": ["Line.a"], "from_bus": ["s"], "to_bus": ["b"], "kind": ["line"],
        ...     "phases": [3], "resistance_ohm": [0.1], "reactance_ohm": [0.05],
        ...     "base_kv_ln": [0.4 / 3**0.5], "rating_kva": [100.0]})
        >>> network = RadialNetwork.from_branches(branches, "s")
        >>> list(network.buses), float(network.resistance_pu2_per_kw[0].round(8))
        (['s', 'b'], 0.000625)
        """
        table = _validated(branches)
        merged = _merged(table)
        names = pd.Index(pd.unique(merged[["from_bus", "to_bus"]].to_numpy().ravel()))
        if source_bus not in names:
            if len(table) or not isinstance(source_bus, str) or not source_bus:
                raise ValueError(
                    f"source_bus: got {source_bus!r}, expected one of the branch table's buses "
                    f"({list(names[:10])}{' …' if len(names) > 10 else ''})"
                )
            names = pd.Index([source_bus])
        ends = np.column_stack(
            [names.get_indexer(merged["from_bus"]), names.get_indexer(merged["to_bus"])]
        )
        source = int(names.get_loc(source_bus))
        order, parent_of = _spanning_tree(ends, len(names), source, merged["branch"], names)

        position = np.empty(len(names), dtype=np.int64)
        position[order] = np.arange(len(order))
        parent = np.r_[-1, position[parent_of[order[1:]]]].astype(np.int64)
        # Edge of each non-source bus: the merged row joining it to its parent.
        edge_key = pd.Series(
            np.arange(len(merged)),
            index=pd.MultiIndex.from_arrays([ends.min(axis=1), ends.max(axis=1)]),
        )
        child, up = order[1:], parent_of[order[1:]]
        edge = edge_key.reindex(
            pd.MultiIndex.from_arrays([np.minimum(child, up), np.maximum(child, up)])
        ).to_numpy()
        chosen = merged.iloc[edge]
        return cls(
            buses=pd.Index(names[order], name="bus"),
            parent=parent,
            branch=chosen["branch"].to_numpy(dtype=object),
            kind=chosen["kind"].to_numpy(dtype=object),
            rating_kw=chosen["rating_kva"].to_numpy(dtype=float),
            resistance_pu2_per_kw=chosen["r_coefficient"].to_numpy(dtype=float),
            reactance_pu2_per_kvar=chosen["x_coefficient"].to_numpy(dtype=float),
            downstream=_downstream(parent),
        )


def _validated(branches: pd.DataFrame) -> pd.DataFrame:
    """Check the branch table; return its columns with numbers as float (phases as int)."""
    missing = [column for column in BRANCH_COLUMNS if column not in branches.columns]
    if missing:
        raise ValueError(f"branches: missing column(s) {missing}, expected {list(BRANCH_COLUMNS)}")
    table = branches[list(BRANCH_COLUMNS)].reset_index(drop=True).copy()
    for column in ("branch", "from_bus", "to_bus", "kind"):
        text = table[column]
        bad = ~text.map(lambda value: isinstance(value, str) and value != "").to_numpy(bool)
        _refuse(table, text, bad, column, "a non-empty str")
    _refuse(table, table["kind"], ~table["kind"].isin(BRANCH_KINDS), "kind", BRANCH_KINDS)
    repeated = table["branch"].duplicated(keep=False).to_numpy()
    _refuse(table, table["branch"], repeated, "branch", "unique names")
    loop = (table["from_bus"] == table["to_bus"]).to_numpy()
    _refuse(table, table["to_bus"], loop, "to_bus", "a bus other than from_bus")
    numbers = {}
    for column in ("phases", "resistance_ohm", "reactance_ohm", "base_kv_ln", "rating_kva"):
        numbers[column] = pd.to_numeric(table[column], errors="coerce").to_numpy(float)
    phases, resistance = numbers["phases"], numbers["resistance_ohm"]
    base, rating = numbers["base_kv_ln"], numbers["rating_kva"]
    rules = (
        ("phases", (phases >= 1) & (phases == np.round(phases)), "an integer >= 1"),
        ("resistance_ohm", np.isfinite(resistance) & (resistance >= 0), "finite and >= 0 [ohm]"),
        ("reactance_ohm", np.isfinite(numbers["reactance_ohm"]), "finite [ohm]"),
        ("base_kv_ln", np.isfinite(base) & (base > 0), "finite and > 0 [kV] (set voltage bases)"),
        ("rating_kva", rating > 0, "> 0 [kVA] or inf"),
    )
    for column, good, want in rules:
        _refuse(table, table[column], ~good, column, want)
    for column, values in numbers.items():
        table[column] = values.astype(np.int64) if column == "phases" else values
    return table


def _merged(table: pd.DataFrame) -> pd.DataFrame:
    """One row per unordered bus pair: names/kinds joined, phases and ratings summed."""
    low = table[["from_bus", "to_bus"]].min(axis=1)
    high = table[["from_bus", "to_bus"]].max(axis=1)
    volts_squared = (table["base_kv_ln"] * 1000.0) ** 2
    work = table.assign(
        low=low,
        high=high,
        r_per_phase=1000.0 * table["resistance_ohm"] / volts_squared,
        x_per_phase=1000.0 * table["reactance_ohm"] / volts_squared,
    )
    groups = work.groupby(["low", "high"], sort=False)
    merged = groups.agg(
        branch=("branch", "+".join),
        kind=("kind", lambda kinds: "+".join(dict.fromkeys(kinds))),
        from_bus=("from_bus", "first"),
        to_bus=("to_bus", "first"),
        phases=("phases", "sum"),
        rating_kva=("rating_kva", "sum"),
        r_per_phase=("r_per_phase", "mean"),
        x_per_phase=("x_per_phase", "mean"),
    ).reset_index(drop=True)
    merged["r_coefficient"] = merged["r_per_phase"] / merged["phases"]
    merged["x_coefficient"] = merged["x_per_phase"] / merged["phases"]
    return merged


def _spanning_tree(
    ends: np.ndarray, n: int, source: int, branch: pd.Series, names: pd.Index
) -> tuple[np.ndarray, np.ndarray]:
    """Breadth-first order from ``source`` and each bus's predecessor; refuse loops and islands."""
    from scipy import sparse  # here: scipy loads only for the feeders that need it
    from scipy.sparse import csgraph

    graph = sparse.coo_array((np.ones(len(ends)), (ends[:, 0], ends[:, 1])), shape=(n, n)).tocsr()
    order, predecessor = csgraph.breadth_first_order(
        graph, source, directed=False, return_predecessors=True
    )
    reached = np.zeros(n, dtype=bool)
    reached[order] = True
    if not reached.all():
        islands = names[~reached].tolist()
        more = f" and {len(islands) - 20} more" if len(islands) > 20 else ""
        raise ValueError(
            f"buses not reachable from source bus {names[source]!r}: {islands[:20]}{more}; "
            "expected every bus connected (check open switches and disabled branches)"
        )
    a, b = ends[:, 0], ends[:, 1]
    closing = (predecessor[b] != a) & (predecessor[a] != b)
    if closing.any():
        loops = branch[closing].tolist()
        raise ValueError(
            f"the network is meshed: branch(es) {loops[:20]} close loops; expected a radial "
            "network (open one switch per loop)"
        )
    return order.astype(np.int64), predecessor.astype(np.int64)


def _downstream(parent: np.ndarray) -> sparse.csr_array:
    """Path incidence (branch k = bus k + 1, bus j): 1 where bus j is at or below bus k + 1."""
    from scipy import sparse  # here: scipy loads only for the feeders that need it

    n = parent.size
    up = np.where(parent < 0, 0, parent)
    rows, cols = [], []
    current = np.arange(n)
    while (current > 0).any():  # one pass per level of depth, all buses at once
        inside = current > 0
        rows.append(current[inside] - 1)
        cols.append(np.flatnonzero(inside))
        current = np.where(inside, up[current], 0)
    rows_all = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    cols_all = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    matrix = sparse.coo_array(
        (np.ones(rows_all.size), (rows_all, cols_all)), shape=(max(n - 1, 0), n)
    )
    return matrix.tocsr()


def _refuse(table: pd.DataFrame, values: pd.Series, bad, field: str, want) -> None:
    """Raise ValueError naming the first offending rows, the field and the expectation."""
    refuse_rows(table, "branch", values, bad, f"branches.{field}", str(want))
