"""Where a trade between two buses of a radial network flows, and which transformer feeds a bus.

A bilateral trade between a seller at bus ``a`` and a buyer at bus ``b`` of a radial network
flows along the one path between them: up from ``a`` to their lowest common ancestor and down to
``b``. Branch ``k`` lies on that path exactly when one of the two buses is downstream of it and
the other is not (`RadialNetwork.downstream`). The market's grid-feasibility check refuses a
pair whose trade alone would take more than a share of a branch's rating on that path; the
communities market groups households by the transformer that feeds them.
"""

from __future__ import annotations

import numpy as np

from tefed.domain.network.radial import RadialNetwork

#: Community name of buses that no transformer feeds (they hang on the source directly).
FEEDER_COMMUNITY = "feeder"


def overloading_pairs(
    network: RadialNetwork,
    seller_bus: np.ndarray,
    buyer_bus: np.ndarray,
    power_kw: np.ndarray,
    rating_share: float = 1.0,
) -> np.ndarray:
    """Which seller-buyer pairs' trade would overload a line or transformer on its path.

    Parameters
    ----------
    network : RadialNetwork
        The feeder.
    seller_bus, buyer_bus : numpy.ndarray of int
        Position in ``network.buses`` of each seller (S,) and each buyer (B,), every seller
        with every buyer; or of the two parties of each of P pairs, (P,) each.
    power_kw : numpy.ndarray
        Average power of each pair's trade over the interval [kW]: (S, B), or (P,) for pairs.
    rating_share : float
        Share of a branch's rating one trade may take [-] (1.0: the whole rating).

    Returns
    -------
    numpy.ndarray of bool
        Shaped as ``power_kw``: True where a branch on the path has ``rating_share ·
        rating_kw`` below the trade's power. Unrated branches (inf) never bind; two
        participants at one bus share no branch.

    Notes
    -----
    The check sees the pair's trade alone, not the other flows of the interval (the households'
    own consumption, other pairs): it is the paper's "such a trade can be infeasible" as a
    market maker can judge it before delivery. Only branches rated below the largest trade are
    visited, so the cost is (tight branches) × S × B.

    Examples
    --------
    A 2 kVA service cable to bus ``c`` refuses a 4 kW trade from ``b`` to ``c``, not one from
    ``c``'s neighbour on a 100 kVA cable:

    >>> import pandas as pd
    >>> network = RadialNetwork.from_branches(pd.DataFrame({
    ...     "branch": ["Line.b", "Line.c"], "from_bus": ["s", "s"], "to_bus": ["b", "c"],
    ...     "kind": ["line", "line"], "phases": [3, 3], "resistance_ohm": [0.1, 0.1],
    ...     "reactance_ohm": [0.0, 0.0], "base_kv_ln": [0.23, 0.23],
    ...     "rating_kva": [100.0, 2.0]}), "s")
    >>> overloading_pairs(network, np.array([1, 0]), np.array([2]), np.array([[4.0], [1.0]]))
    array([[ True],
           [False]])
    >>> overloading_pairs(network, np.array([1, 1]), np.array([2, 1]), np.array([4.0, 4.0]))
    array([ True, False])
    """
    power_kw = np.asarray(power_kw, dtype=float)
    capacity_kw = rating_share * network.rating_kw
    tight = np.flatnonzero(capacity_kw < (power_kw.max() if power_kw.size else 0.0))
    overloads = np.zeros(power_kw.shape, dtype=bool)
    if tight.size == 0:
        return overloads
    below = network.downstream[tight]
    seller_below = below[:, np.asarray(seller_bus, dtype=np.int64)].toarray().astype(bool)
    buyer_below = below[:, np.asarray(buyer_bus, dtype=np.int64)].toarray().astype(bool)
    pairwise = power_kw.ndim == 1
    for k in range(tight.size):
        if pairwise:
            on_path = seller_below[k] != buyer_below[k]
        else:
            on_path = seller_below[k][:, None] != buyer_below[k][None, :]
        overloads |= on_path & (power_kw > capacity_kw[tight[k]])
    return overloads


def feeding_transformers(network: RadialNetwork) -> np.ndarray:
    """The transformer nearest upstream of each bus (the one that feeds it), by branch name.

    Returns
    -------
    numpy.ndarray of str (object)
        One name per bus of ``network.buses``: the branch name of the nearest transformer on
        the path from the bus to the source (the bus's own feeding branch included);
        ``FEEDER_COMMUNITY`` where there is none.

    Examples
    --------
    >>> import pandas as pd
    >>> network = RadialNetwork.from_branches(pd.DataFrame({
    ...     "branch": ["Transformer.t1", "Line.a"], "from_bus": ["mv", "lv"],
    ...     "to_bus": ["lv", "house"], "kind": ["transformer", "line"], "phases": [3, 3],
    ...     "resistance_ohm": [0.01, 0.1], "reactance_ohm": [0.0, 0.0],
    ...     "base_kv_ln": [0.23, 0.23], "rating_kva": [250.0, 60.0]}), "mv")
    >>> feeding_transformers(network).tolist()
    ['feeder', 'Transformer.t1', 'Transformer.t1']
    """
    fed_by = np.full(network.n_buses, FEEDER_COMMUNITY, dtype=object)
    is_transformer = np.array(["transformer" in kind for kind in network.kind], dtype=bool)
    # Buses are in breadth-first order: every parent is settled before its children.
    for bus in range(1, network.n_buses):
        branch = bus - 1
        fed_by[bus] = (
            network.branch[branch] if is_transformer[branch] else fed_by[network.parent[bus]]
        )
    return fed_by
