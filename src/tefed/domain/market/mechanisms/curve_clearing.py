"""Uniform-price clearing of piecewise-linear power-price curves given as vertices (TENT style).

The price is where all participants' curves plus an optional grid connection net to zero power.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

VERTEX_COLUMNS = ("order_id", "participant", "price_usd_per_kwh", "power_kw", "continuity")
STATUSES = (
    "exact",
    "marginal_buyer",
    "marginal_seller",
    "no_crossing",
    "one_sided",
    "empty",
    "failure",
)
AFFINE_SIDES = ("buy", "sell")

#: Tolerance on power sums and imbalance that means failure [-], relative to the largest net power.
_RELATIVE_TOLERANCE, _FAILURE_IMBALANCE = 1e-9, 1e-6


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
    order_ids, (starts, price, power, continuity) = _validated_vertices(vertices)
    no_power = pd.Series(np.zeros(len(order_ids)), index=order_ids, name="power_kw")
    if price.size == 0:
        return CurveClearingResult(float("nan"), no_power, 0.0, 0.0, "empty")

    with np.errstate(over="ignore"):
        largest_kw = float(np.maximum.reduceat(np.abs(power), starts).sum())
    grid = _grid_curve(
        import_price_usd_per_kwh, export_price_usd_per_kwh, feeder_capacity_kw, price, largest_kw
    )
    grid_price, grid_power = grid[:, 0], grid[:, 1]
    signs = np.sign(np.r_[power, grid_power])
    if not ((signs > 0).any() and (signs < 0).any()):
        return CurveClearingResult(float("nan"), no_power, 0.0, 0.0, "one_sided")
    low_usd_per_kwh = min(price.min(), grid_price[1:].min(initial=np.inf))
    high_usd_per_kwh = max(price.max(), grid_price.max(initial=-np.inf))
    starts = np.r_[starts, [price.size] if grid_price.size else []].astype(np.intp)
    price, power = np.r_[price, grid_price], np.r_[power, grid_power]
    continuity = np.r_[continuity, np.zeros(grid_price.size, dtype=bool)]
    scale_kw = largest_kw + np.abs(grid_power).max(initial=0.0)
    tolerance_kw = _RELATIVE_TOLERANCE * max(scale_kw, 1.0)
    failure = CurveClearingResult(float("nan"), no_power, 0.0, 0.0, "failure")
    if not np.isfinite(scale_kw):  # the sums would overflow
        return failure

    breakpoints = np.unique(price)
    net_left, net_right = _aggregate(price, power, continuity, starts, breakpoints)
    interleaved = np.column_stack([net_left, net_right]).ravel()
    interleaved[np.abs(interleaved) <= tolerance_kw] = 0.0
    if interleaved[0] < 0 or interleaved[-1] > 0:
        return CurveClearingResult(float("nan"), no_power, 0.0, 0.0, "no_crossing")

    low, high = _zero_interval(interleaved, breakpoints)
    clearing_price = 0.5 * (max(low, low_usd_per_kwh) + min(high, high_usd_per_kwh))
    right = _evaluate(price, power, continuity, starts, clearing_price, left=False)
    left = _evaluate(price, power, continuity, starts, clearing_price, left=True)
    if left.sum() - right.sum() > tolerance_kw:
        cleared, status = _place_on_step(right, left, tolerance_kw)
    else:
        cleared, status = right, "exact"
    if not np.isfinite(cleared).all() or abs(cleared.sum()) > _FAILURE_IMBALANCE * scale_kw:
        return failure
    grid_kw = float(cleared[-1]) if grid_price.size else 0.0
    return CurveClearingResult(
        price_usd_per_kwh=float(clearing_price),
        power_kw=pd.Series(cleared[: len(order_ids)], index=order_ids, name="power_kw"),
        grid_import_kw=max(0.0, -grid_kw),
        grid_export_kw=max(0.0, grid_kw),
        status=status,
    )


def _aggregate(price, power, continuity, starts, breakpoints: np.ndarray) -> tuple[np.ndarray, ...]:
    """Net power [kW] just left of and at each breakpoint price, summed over all curves."""
    has_next = np.ones(price.size, dtype=bool)
    has_next[np.r_[starts[1:] - 1, price.size - 1]] = False
    segment = np.flatnonzero(has_next)  # vertex index where each segment starts
    rise_kw = power[segment + 1] - power[segment]
    start_at = np.searchsorted(breakpoints, price[segment])
    end_at = np.searchsorted(breakpoints, price[segment + 1])
    linear = continuity[segment]
    size = breakpoints.size
    jump_kw = np.bincount(end_at[~linear], weights=rise_kw[~linear], minlength=size)
    slope = rise_kw[linear] / (price[segment + 1] - price[segment])[linear]
    slope_change = np.bincount(start_at[linear], slope, size)
    slope_change -= np.bincount(end_at[linear], slope, size)
    rise_between_kw = np.cumsum(slope_change)[:-1] * np.diff(breakpoints)
    net_left = power[starts].sum() + np.r_[0.0, np.cumsum(jump_kw[:-1] + rise_between_kw)]
    return net_left, net_left + jump_kw


def _zero_interval(interleaved: np.ndarray, breakpoints: np.ndarray) -> tuple[float, float]:
    """Lowest and highest price [USD/kWh] with zero in [N(p), N(p^-)].

    ``interleaved``: N(p_0^-), N(p_0), N(p_1^-), N(p_1), ... [kW], non-increasing, >= 0 to <= 0.
    """
    first = int(np.argmax(interleaved <= 0))
    last = interleaved.size - 1 - int(np.argmax(interleaved[::-1] >= 0))
    low, high = breakpoints[first // 2], breakpoints[last // 2]
    if first > 0 and first % 2 == 0:  # crossing on the segment ending at breakpoint first // 2
        j, above, below = first // 2, interleaved[first - 1], interleaved[first]
        low = breakpoints[j - 1] + (breakpoints[j] - breakpoints[j - 1]) * above / (above - below)
    if last < interleaved.size - 1 and last % 2 == 1:  # on the segment after breakpoint last // 2
        j, above, below = last // 2, interleaved[last], interleaved[last + 1]
        high = breakpoints[j] + (breakpoints[j + 1] - breakpoints[j]) * above / (above - below)
    return float(low), float(high)


def _evaluate(price, power, continuity, starts, at_usd_per_kwh: float, left: bool) -> np.ndarray:
    """Power of every curve [kW] at one price, or its limit from below when ``left``."""
    below = price < at_usd_per_kwh if left else price <= at_usd_per_kwh
    ends = np.r_[starts[1:], price.size]
    last = np.add.reduceat(below.astype(np.int64), starts) + starts - 1
    inside = (last >= starts) & (last < ends - 1)
    here = np.clip(last, starts, ends - 1)
    there = np.minimum(here + 1, ends - 1)
    width = np.where(inside, price[there] - price[here], 1.0)
    fraction = np.where(inside & continuity[here], (at_usd_per_kwh - price[here]) / width, 0.0)
    return power[here] + fraction * (power[there] - power[here])


def _place_on_step(right, left: np.ndarray, tolerance_kw: float) -> tuple[np.ndarray, str]:
    """Place the curves that are vertical at the price so net power is zero; name the side."""
    demand_kw = np.maximum(left, 0.0) - np.maximum(right, 0.0)
    supply_kw = np.minimum(left, 0.0) - np.minimum(right, 0.0)
    needed_kw = np.clip(-right.sum(), 0.0, (left - right).sum())
    served_kw = min(needed_kw, demand_kw.sum())
    served = served_kw / demand_kw.sum() if demand_kw.sum() > 0 else 0.0
    withheld = (needed_kw - served_kw) / supply_kw.sum() if supply_kw.sum() > 0 else 0.0
    cleared = right + min(served, 1.0) * demand_kw + min(withheld, 1.0) * supply_kw
    stepping = left - right > tolerance_kw
    curtailed = stepping & (cleared > right + tolerance_kw) & (cleared < left - tolerance_kw)
    if (curtailed & (cleared < 0)).any():
        return cleared, "marginal_seller"
    if (curtailed & (cleared > 0)).any():
        return cleared, "marginal_buyer"
    return cleared, "marginal_buyer" if cleared[
        stepping
    ].sum() > tolerance_kw else "marginal_seller"


def _grid_curve(import_price, export_price, capacity_kw, price, largest_kw: float) -> np.ndarray:
    """Check the grid parameters; return its step curve as rows of (price, power [kW]).

    Anchored 1 USD/kWh below every price; empty without grid price or capacity. Unlimited
    capacity is taken as more than the participants' largest possible net power ``largest_kw``.
    """
    for name, value in (("import", import_price), ("export", export_price)):
        if value is not None and not np.isfinite(value):
            raise ValueError(f"{name}_price_usd_per_kwh: got {value!r}, expected finite or None")
    if capacity_kw is not None and not (np.isfinite(capacity_kw) and capacity_kw >= 0):
        raise ValueError(f"feeder_capacity_kw: got {capacity_kw!r}, expected >= 0 [kW] or None")
    if None not in (import_price, export_price) and export_price > import_price:
        raise ValueError(
            f"export_price_usd_per_kwh: got {export_price!r}, expected <= "
            f"import_price_usd_per_kwh {import_price!r} (else the grid trades with itself)"
        )
    capacity_kw = largest_kw + 1.0 if capacity_kw is None else float(capacity_kw)
    prices = [p for p in (export_price, import_price) if p is not None]
    if capacity_kw == 0 or not prices:
        return np.zeros((0, 2))
    rows = [(min(*prices, price.min()) - 1.0, capacity_kw if export_price is not None else 0.0)]
    if export_price is not None and export_price != import_price:
        rows.append((export_price, 0.0))
    if import_price is not None:
        rows.append((import_price, -capacity_kw))
    return np.asarray(rows, dtype=np.float64)


def _validated_vertices(vertices: pd.DataFrame) -> tuple[pd.Index, tuple[np.ndarray, ...]]:
    """Check ``vertices``; return the sorted order ids and (starts, price, power, continuity).

    Vertices are sorted by (order, price), repeats merged; ``starts`` is each order's first row.
    """
    missing = [column for column in VERTEX_COLUMNS if column not in vertices.columns]
    if missing:
        raise ValueError(f"vertices: missing column(s) {missing}, expected {list(VERTEX_COLUMNS)}")
    for column in ("order_id", "participant"):
        absent = np.flatnonzero(vertices[column].isna().to_numpy())[:5].tolist()
        if absent:
            raise ValueError(f"vertices.{column}: missing in row(s) {absent}, expected str")
    order_id = vertices["order_id"].astype(str).to_numpy(dtype=object)
    participant = vertices["participant"].astype(str).to_numpy(dtype=object)
    numbers = []
    for column in ("price_usd_per_kwh", "power_kw"):
        values = pd.to_numeric(vertices[column], errors="coerce").to_numpy(float, na_value=np.nan)
        _refuse(order_id, vertices[column].to_numpy(), ~np.isfinite(values), column, "finite")
        numbers.append(values)
    raw_flag = vertices["continuity"]
    if not pd.api.types.is_bool_dtype(raw_flag) or raw_flag.hasnans:
        is_flag = np.array([isinstance(flag, bool | np.bool_) for flag in raw_flag], dtype=bool)
        _refuse(order_id, raw_flag.to_numpy(), ~is_flag, "continuity", "True or False")
    flag = raw_flag.to_numpy().astype(bool)

    first_seen, labels = pd.factorize(order_id)  # hashing, then sorting only unique labels
    labels = np.asarray(labels, dtype=str)
    alphabetical = np.argsort(labels, kind="stable")
    code = np.empty_like(alphabetical)
    code[alphabetical] = np.arange(alphabetical.size)
    rank = np.lexsort((numbers[0], code[first_seen]))
    code, order_id, participant = code[first_seen][rank], order_id[rank], participant[rank]
    price, power, flag = numbers[0][rank], numbers[1][rank], flag[rank]

    new_order = np.diff(code, prepend=-1) != 0
    owner = participant[np.flatnonzero(new_order)][np.cumsum(new_order) - 1]
    _refuse(order_id, participant, participant != owner, "participant", "one per order_id")
    repeat = ~new_order
    repeat[1:] &= price[1:] == price[:-1]
    before = np.flatnonzero(repeat) - 1
    clash = np.zeros_like(repeat)
    clash[repeat] = power[repeat] != power[before]
    _refuse(order_id, power, clash, "power_kw", "one power per (order_id, price) vertex")
    clash[repeat] = flag[repeat] != flag[before]
    _refuse(order_id, flag, clash, "continuity", "one flag per (order_id, price) vertex")
    new_order, order_id, price, power, flag = (
        a[~repeat] for a in (new_order, order_id, price, power, flag)
    )
    rises = ~new_order
    rises[1:] &= power[1:] > power[:-1]
    _refuse(order_id, power, rises, "power_kw", "power not rising with price within an order")
    index = pd.Index(labels[alphabetical], dtype=str, name="order_id")
    return index, (np.flatnonzero(new_order), price, power, flag)


def _refuse(order_id: np.ndarray, values: np.ndarray, bad: np.ndarray, field: str, want: str):
    """Raise ValueError naming the first offending orders, the field and what was expected."""
    if bad.any():
        shown = [
            f"{value!r} for order_id {identifier!r}"
            for identifier, value in zip(order_id[bad][:5], values[bad][:5].tolist(), strict=True)
        ]
        more = int(bad.sum()) - len(shown)
        raise ValueError(
            f"vertices.{field}: got {', '.join(shown)}{f' and {more} more' if more > 0 else ''}"
            f", expected {want}"
        )
