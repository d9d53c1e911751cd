"""Uniform-price clearing of piecewise-linear power-price curves given as vertices (TENT style).

The price is where all participants' curves plus an optional grid connection net to zero power.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tefed.domain.market.mechanisms.curve_periods import (
    STATUSES,
    VERTEX_COLUMNS,
    clear_curve_periods,
)

__all__ = [
    "AFFINE_SIDES",
    "STATUSES",
    "VERTEX_COLUMNS",
    "CurveClearingResult",
    "affine_curve_vertices",
    "clear_curves",
]

AFFINE_SIDES = ("buy", "sell")


@dataclass(frozen=True, eq=False)
class CurveClearingResult:
    """Outcome of one curve clearing.

    Attributes
    ----------
    price_usd_per_kwh : float
        Uniform clearing price [USD/kWh]; NaN unless ``status`` is exact or marginal.
    power_kw : pandas.Series
        Cleared power per order [kW], float64, indexed by ``order_id`` (sorted), positive =
        consumption, negative = generation; 0 for every order when there is no price.
    grid_import_kw : float
        Power the grid supplies to the participants [kW], >= 0.
    grid_export_kw : float
        Power the grid absorbs from the participants [kW], >= 0.
    status : str
        One of ``STATUSES``; see :func:`clear_curves`.
    """

    price_usd_per_kwh: float
    power_kw: pd.Series
    grid_import_kw: float
    grid_export_kw: float
    status: str

    @property
    def net_power_kw(self) -> float:
        """Participants' net consumption minus grid import plus grid export [kW]; ~0 if cleared."""
        return float(self.power_kw.sum()) - self.grid_import_kw + self.grid_export_kw


def affine_curve_vertices(
    order_id: str,
    participant: str,
    p_max: float,
    p_min: float,
    q_max: float,
    q_min: float,
    side: str,
) -> pd.DataFrame:
    """Vertices of an OpenGridGym-style affine bid (p_max, p_min, q_max, q_min).

    Parameters
    ----------
    order_id, participant : str
        Identifiers copied to both vertices.
    p_max, p_min : float
        Upper and lower end of the price-responsive range [USD/kWh], finite, ``p_max > p_min``.
    q_max, q_min : float
        Largest and smallest power magnitude [kW], finite, ``0 <= q_min <= q_max``.
    side : str
        ``"buy"`` (demand, positive power) or ``"sell"`` (supply, negative power).

    Returns
    -------
    pandas.DataFrame
        Two vertices with columns ``VERTEX_COLUMNS``, both continuous.

    Raises
    ------
    ValueError
        If a number is not finite, ``p_max <= p_min``, not ``0 <= q_min <= q_max`` or ``side``
        is unknown.

    Notes
    -----
    Mapping chosen here: a buyer consumes :math:`q_{max}` at prices :math:`\\le p_{min}`,
    falling linearly to :math:`q_{min}` at :math:`p_{max}` and staying there above; a seller
    generates :math:`q_{min}` at prices :math:`\\le p_{min}`, rising linearly to
    :math:`q_{max}` at :math:`p_{max}`. Vertices: buy :math:`(p_{min}, +q_{max})`,
    :math:`(p_{max}, +q_{min})`; sell :math:`(p_{min}, -q_{min})`, :math:`(p_{max}, -q_{max})`.
    A vertical bid (``p_max == p_min``) needs a step vertex below the price and is refused.

    References
    ----------
    .. [1] R. El Helou et al., "OpenGridGym: An Open-Source AI-Friendly Toolkit for
       Distribution Market Simulation", arXiv:2203.04410 (2022).

    Examples
    --------
    >>> affine_curve_vertices("s1", "pv1", 0.20, 0.10, 8.0, 2.0, "sell")[
    ...     ["price_usd_per_kwh", "power_kw"]]
       price_usd_per_kwh  power_kw
    0                0.1      -2.0
    1                0.2      -8.0
    """
    for name, value in (("p_max", p_max), ("p_min", p_min), ("q_max", q_max), ("q_min", q_min)):
        if not np.isfinite(value):
            raise ValueError(f"{name}: got {value!r} for order_id {order_id!r}, expected finite")
    if not p_max > p_min:
        raise ValueError(f"p_max: got {p_max!r} for order_id {order_id!r}, expected > p_min")
    if not 0.0 <= q_min <= q_max:
        got = f"got {q_min!r}, {q_max!r} for order_id {order_id!r}"
        raise ValueError(f"q_min, q_max: {got}, expected 0 <= q_min <= q_max [kW]")
    if side not in AFFINE_SIDES:
        raise ValueError(f"side: got {side!r} for order_id {order_id!r}, expected {AFFINE_SIDES}")
    power_kw = [q_max, q_min] if side == "buy" else [-q_min, -q_max]
    rows = [
        (order_id, participant, float(p), float(q), True)
        for p, q in zip((p_min, p_max), power_kw, strict=True)
    ]
    return pd.DataFrame(rows, columns=list(VERTEX_COLUMNS))


def clear_curves(
    vertices: pd.DataFrame,
    import_price_usd_per_kwh: float | None = None,
    export_price_usd_per_kwh: float | None = None,
    feeder_capacity_kw: float | None = None,
) -> CurveClearingResult:
    """Clear piecewise-linear power-price curves at one uniform price.

    Parameters
    ----------
    vertices : pandas.DataFrame
        One row per curve vertex with columns ``order_id`` (str), ``participant`` (str, one
        per order), ``price_usd_per_kwh`` (finite, may be negative) [USD/kWh], ``power_kw``
        (finite; positive = consumption, negative = generation) [kW] and ``continuity``
        (bool). Rows of an order may come in any order; they are sorted by price.
    import_price_usd_per_kwh : float, optional
        Price at and above which the grid supplies up to ``feeder_capacity_kw`` [USD/kWh].
    export_price_usd_per_kwh : float, optional
        Price at and below which the grid absorbs up to ``feeder_capacity_kw`` [USD/kWh];
        must not exceed the import price.
    feeder_capacity_kw : float, optional
        Grid limit in either direction [kW], >= 0; ``None`` means unlimited.

    Returns
    -------
    CurveClearingResult
        Price [USD/kWh], cleared power per order [kW], grid import/export [kW] and status.

    Raises
    ------
    ValueError
        If a column is missing, an id is missing, a price or power is not finite, a
        continuity flag is not boolean, an order has several participants, two vertices of an
        order share a price with different power or continuity, an order's power rises with
        price, or a grid parameter is invalid. The message names the order and the field.

    Notes
    -----
    Curve of one order, vertices :math:`(p_i, q_i)` sorted by price: :math:`q_0` below
    :math:`p_0`, the last power above the last price. If ``continuity`` of vertex *i* is true
    the power is linear from :math:`q_i` to :math:`q_{i+1}`; if false it stays :math:`q_i` up
    to :math:`p_{i+1}`, where the curve is vertical (every power between :math:`q_i` and
    :math:`q_{i+1}` is acceptable at that price). A single vertex is an inelastic order.
    Power must not rise with price (demand falls, generation grows), so the net power
    :math:`N(p) = \\sum_k q_k(p)` is non-increasing. The grid is one more curve: :math:`+C`
    below the export price, :math:`0` between, :math:`-C` above the import price, vertical
    at both prices.

    Aggregation (TENT, [1]_): the curves are summed on the sorted union of vertex prices by
    scattering each linear segment's slope and each step's jump onto it and taking cumulative
    sums (:math:`O(n \\log n)`, no curves x prices matrix). The zero set
    :math:`\\{p : 0 \\in [N(p), N(p^-)]\\}` is an interval, found by a vectorised search and
    linear interpolation on the crossing segment, clipped to the range of vertex and grid
    prices; the price is its midpoint (a flat range of zero net power is split in the middle).

    Status and cleared power :math:`q_k` at the price :math:`p^*`:

    - ``"exact"``: no curve is vertical at :math:`p^*`; :math:`q_k = q_k(p^*)`.
    - ``"marginal_buyer"`` / ``"marginal_seller"``: curves are vertical at :math:`p^*` and
      zero net power lies on that step. Orders without a step get :math:`q_k(p^*)`; steps
      are placed to maximise traded power: first the consuming parts of the steps are
      served, then the generating parts are withheld, each pro rata to its width, so that
      net power is zero. The status names the side that is curtailed (strictly inside its
      step, by sign of its power); if nobody is, the sign of the steps' total power; if that
      is zero (a bid and an ask matching exactly), ``"marginal_seller"``.
    - ``"no_crossing"``: demand and supply both present but :math:`N > 0` at every price
      (shortage) or :math:`N < 0` at every price (surplus).
    - ``"one_sided"``: only consumption or only generation offered (grid included).
    - ``"empty"``: no vertices.
    - ``"failure"``: the sums overflow or the final imbalance exceeds 1e-6 of the largest
      possible net power (numerical breakdown; not expected for ordinary magnitudes).

    The last four statuses carry no price: it is NaN and every power is 0.

    References
    ----------
    .. [1] D. J. Hammerstrom, "Transactive Energy Network Template Metamodel", PNNL-28420,
       Pacific Northwest National Laboratory,
       https://www.pnnl.gov/publications/transactive-energy-network-template-metamodel

    Examples
    --------
    A supplier producing 0 kW below 0.01 USD/kWh, rising linearly to 25,000 kW at 0.035,
    against an inelastic 15,000 kW load: 15,000/25,000 of the way, 0.01 + 0.6 x 0.025.

    >>> vertices = pd.DataFrame({
    ...     "order_id": ["gen", "gen", "load"],
    ...     "participant": ["plant", "plant", "town"],
    ...     "price_usd_per_kwh": [0.01, 0.035, 0.0],
    ...     "power_kw": [0.0, -25_000.0, 15_000.0],
    ...     "continuity": [True, True, True],
    ... })
    >>> result = clear_curves(vertices)
    >>> result.status, round(result.price_usd_per_kwh, 6)
    ('exact', 0.025)
    >>> result.power_kw.round(3).to_dict()
    {'gen': -15000.0, 'load': 15000.0}
    """
    periods = clear_curve_periods(
        vertices,
        np.zeros(len(vertices), dtype=np.int64),
        1,
        None if import_price_usd_per_kwh is None else np.array([import_price_usd_per_kwh]),
        None if export_price_usd_per_kwh is None else np.array([export_price_usd_per_kwh]),
        feeder_capacity_kw,
    )
    order_ids = pd.Index(periods.order_id, dtype=str, name="order_id")
    grid_kw = float(periods.grid_kw[0])
    return CurveClearingResult(
        price_usd_per_kwh=float(periods.price_usd_per_kwh[0]),
        power_kw=pd.Series(periods.power_kw, index=order_ids, name="power_kw"),
        grid_import_kw=max(0.0, -grid_kw),
        grid_export_kw=max(0.0, grid_kw),
        status=str(periods.status[0]),
    )
