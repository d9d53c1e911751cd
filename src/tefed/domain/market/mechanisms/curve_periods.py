"""Uniform-price clearing of the curves of many independent periods at once (TENT style).

The multi-period core of curve clearing: `clear_curve_periods` aggregates every period's
piecewise-linear power-price curves in one pass and clears each period at its own price,
exactly as `tefed.domain.market.mechanisms.curve_clearing.clear_curves` clears one alone.
"""

from __future__ import annotations

import itertools
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

#: Tolerance on power sums and imbalance that means failure [-], relative to the largest net power.
_RELATIVE_TOLERANCE, _FAILURE_IMBALANCE = 1e-9, 1e-6


@dataclass(frozen=True, eq=False)
class CurvePeriodsResult:
    """Outcome of clearing the curves of several independent periods (`clear_curve_periods`).

    Attributes
    ----------
    price_usd_per_kwh : numpy.ndarray
        Clearing price of each period [USD/kWh]; NaN where its status carries no price.
    status : numpy.ndarray
        Status of each period (object, one of ``STATUSES``).
    grid_kw : numpy.ndarray
        Power the grid absorbs in each period [kW]; negative: it supplies.
    order_id, participant : numpy.ndarray
        Every order (object, str), sorted by period, then order id.
    order_period : numpy.ndarray
        Period of every order (int64) [-].
    power_kw : numpy.ndarray
        Cleared power of every order [kW], positive = consumption; 0 in a period without price.
    """

    price_usd_per_kwh: np.ndarray
    status: np.ndarray
    grid_kw: np.ndarray
    order_id: np.ndarray
    participant: np.ndarray
    order_period: np.ndarray
    power_kw: np.ndarray


def clear_curve_periods(
    vertices: pd.DataFrame,
    period: np.ndarray,
    n_periods: int,
    import_price_usd_per_kwh: np.ndarray | None,
    export_price_usd_per_kwh: np.ndarray | None,
    feeder_capacity_kw: float | None = None,
) -> CurvePeriodsResult:
    """Clear the curves of many independent periods at once, each at its own uniform price.

    Parameters
    ----------
    vertices : pandas.DataFrame
        Vertices as for `clear_curves`; order ids are unique within a period.
    period : numpy.ndarray
        Period of each row of ``vertices``: int in ``[0, n_periods)`` [-].
    n_periods : int
        Number of periods P [-].
    import_price_usd_per_kwh, export_price_usd_per_kwh : numpy.ndarray or None
        Grid prices of each of the P periods [USD/kWh]; None: that side of the grid is absent.
    feeder_capacity_kw : float, optional
        Grid limit in either direction [kW], >= 0; ``None`` means unlimited.

    Returns
    -------
    CurvePeriodsResult
        Every period's price, status and grid power, every order's cleared power.

    Notes
    -----
    Every period clears exactly as `clear_curves` clears it alone, to the last bit: all
    periods' curves are aggregated in one pass (slopes and jumps scattered onto the breakpoints
    of all periods, cumulative sums along one row per period), each period's crossing is found
    on its row, and the curves are evaluated at their period's price together. The only loop
    over periods is for sums of a period's values: a period's sum is taken with `numpy.sum`
    on its slice, whose pairwise rounding a cumulative or segmented sum would not reproduce.
    The grid is checked only in periods with orders (a period without orders is ``"empty"``).

    Examples
    --------
    Period 0: a buys 2 kW whatever the price, b sells from 0 kW at 0.05 to 3 kW at 0.10
    USD/kWh, so b supplies 2 kW at 0.05 + (2/3)·0.05; period 1 has no orders:

    >>> vertices = pd.DataFrame({"order_id": ["a", "b", "b"], "participant": ["a", "b", "b"],
    ...     "price_usd_per_kwh": [0.12, 0.05, 0.10], "power_kw": [2.0, 0.0, -3.0],
    ...     "continuity": [True, True, True]})
    >>> result = clear_curve_periods(vertices, np.zeros(3, dtype=int), 2, None, None)
    >>> result.status.tolist(), round(float(result.price_usd_per_kwh[0]), 4)
    (['exact', 'empty'], 0.0833)
    >>> result.power_kw.tolist()
    [2.0, -2.0]
    """
    book = _validated_vertices(vertices, np.asarray(period, dtype=np.int64))
    orders_in = np.bincount(book.order_period, minlength=n_periods)
    import_usd = _grid_prices("import", import_price_usd_per_kwh, n_periods, orders_in > 0)
    export_usd = _grid_prices("export", export_price_usd_per_kwh, n_periods, orders_in > 0)
    _check_grid(import_usd, export_usd, feeder_capacity_kw, orders_in > 0)
    status = np.where(orders_in > 0, "", "empty").astype(object)
    price_usd_per_kwh = np.full(n_periods, np.nan)
    grid_kw = np.zeros(n_periods)
    power_kw = np.zeros(book.order_period.size)
    result = CurvePeriodsResult(
        price_usd_per_kwh=price_usd_per_kwh,
        status=status,
        grid_kw=grid_kw,
        order_id=book.order_id,
        participant=book.participant,
        order_period=book.order_period,
        power_kw=power_kw,
    )
    if book.order_period.size == 0:
        return result
    curves = _with_grid_curves(book, import_usd, export_usd, feeder_capacity_kw, status)
    live = status == ""
    if not live.any():
        return result
    curves = curves.of_periods(live)
    net_left, net_right, breakpoints, row_size = _aggregate(curves, int(live.sum()))
    crossing = _clearing_prices(curves, net_left, net_right, breakpoints, row_size)
    live_periods = np.flatnonzero(live)
    status[live_periods[~crossing.found]] = "no_crossing"
    if not crossing.found.any():
        return result
    curves = curves.of_periods(crossing.found)
    prices = crossing.price_usd_per_kwh[crossing.found]
    cleared, cleared_status = _cleared_power(curves, prices)
    failed = _failed(curves, cleared)
    rows = live_periods[crossing.found]
    status[rows] = np.where(failed, "failure", cleared_status)
    kept = ~failed[curves.curve_period]
    on_order = kept & (curves.curve_order >= 0)
    power_kw[curves.curve_order[on_order]] = cleared[on_order]
    on_grid = kept & (curves.curve_order < 0)
    grid_kw[rows[curves.curve_period[on_grid]]] = cleared[on_grid]
    price_usd_per_kwh[rows[~failed]] = prices[~failed]
    return result


@dataclass(frozen=True)
class _Book:
    """Validated vertices of all periods, sorted by (period, order id, price), repeats merged."""

    order_id: np.ndarray  # per order (object, str)
    participant: np.ndarray  # per order (object, str)
    order_period: np.ndarray  # per order (int64)
    starts: np.ndarray  # first vertex of each order
    price: np.ndarray  # per vertex [USD/kWh]
    power: np.ndarray  # per vertex [kW]
    continuity: np.ndarray  # per vertex


@dataclass(frozen=True)
class _Curves:
    """Participants' and grid curves of the periods in play, each period's block contiguous.

    ``curve_period`` numbers the periods in play from 0 (their rows); ``curve_order`` is the
    order a curve is (-1: the grid), ``scale_kw`` and ``tolerance_kw`` are per row.
    """

    first: np.ndarray  # per vertex: it starts a curve
    price: np.ndarray
    power: np.ndarray
    continuity: np.ndarray
    vertex_period: np.ndarray
    curve_period: np.ndarray
    curve_order: np.ndarray
    low_usd_per_kwh: np.ndarray
    high_usd_per_kwh: np.ndarray
    scale_kw: np.ndarray
    tolerance_kw: np.ndarray

    @property
    def starts(self) -> np.ndarray:
        return np.flatnonzero(self.first)

    def of_periods(self, keep: np.ndarray) -> _Curves:
        """The curves of the rows where ``keep`` is true, renumbered from 0."""
        row = np.cumsum(keep) - 1
        on_vertex, on_curve = keep[self.vertex_period], keep[self.curve_period]
        return _Curves(
            first=self.first[on_vertex],
            price=self.price[on_vertex],
            power=self.power[on_vertex],
            continuity=self.continuity[on_vertex],
            vertex_period=row[self.vertex_period[on_vertex]],
            curve_period=row[self.curve_period[on_curve]],
            curve_order=self.curve_order[on_curve],
            low_usd_per_kwh=self.low_usd_per_kwh[keep],
            high_usd_per_kwh=self.high_usd_per_kwh[keep],
            scale_kw=self.scale_kw[keep],
            tolerance_kw=self.tolerance_kw[keep],
        )


def _sums_by_row(values: np.ndarray, row: np.ndarray, n_rows: int) -> np.ndarray:
    """Sum of ``values`` of each row (``row`` sorted), each by `numpy.sum` on its slice."""
    bounds = np.r_[0, np.cumsum(np.bincount(row, minlength=n_rows))]
    return np.array([values[a:b].sum() for a, b in itertools.pairwise(bounds)])


def _grid_prices(side: str, prices, n_periods: int, checked: np.ndarray) -> np.ndarray:
    """Grid prices of every period [USD/kWh] (NaN: side absent), finite where ``checked``."""
    if prices is None:
        return np.full(n_periods, np.nan)
    values = np.asarray(prices, dtype=np.float64)
    if values.shape != (n_periods,):
        raise ValueError(
            f"{side}_price_usd_per_kwh: got {values.size} prices, expected one per period "
            f"({n_periods})"
        )
    bad = checked & ~np.isfinite(values)
    if bad.any():
        value = float(values[np.argmax(bad)])
        raise ValueError(f"{side}_price_usd_per_kwh: got {value!r}, expected finite or None")
    return values


def _check_grid(import_usd, export_usd, capacity_kw, checked: np.ndarray) -> None:
    """Refuse a negative or non-finite capacity and an export price above the import price."""
    if not checked.any():
        return
    if capacity_kw is not None and not (np.isfinite(capacity_kw) and capacity_kw >= 0):
        raise ValueError(f"feeder_capacity_kw: got {capacity_kw!r}, expected >= 0 [kW] or None")
    above = checked & (export_usd > import_usd)
    if above.any():
        export, imported = float(export_usd[np.argmax(above)]), float(import_usd[np.argmax(above)])
        raise ValueError(
            f"export_price_usd_per_kwh: got {export!r}, expected <= "
            f"import_price_usd_per_kwh {imported!r} (else the grid trades with itself)"
        )


def _with_grid_curves(book: _Book, import_usd, export_usd, capacity_kw, status) -> _Curves:
    """All periods' curves with each period's grid curve after its orders' curves.

    The grid curve of a period: ``+C`` below the export price, 0 between, ``-C`` above the
    import price, anchored 1 USD/kWh below every price; none without grid price or capacity.
    Unlimited capacity is taken as more than the period's largest possible net power. Sets
    ``"one_sided"`` and ``"failure"`` (sums would overflow) in ``status``.
    """
    n_periods = status.size
    vertex_order = np.repeat(
        np.arange(book.starts.size), np.diff(np.r_[book.starts, book.price.size])
    )
    vertex_period = book.order_period[vertex_order]
    with np.errstate(over="ignore"):
        largest_kw = _sums_by_row(
            np.maximum.reduceat(np.abs(book.power), book.starts), book.order_period, n_periods
        )
    has = np.bincount(vertex_period, minlength=n_periods) > 0
    first_vertex = np.searchsorted(vertex_period, np.flatnonzero(has))
    lowest, highest = np.full(n_periods, np.inf), np.full(n_periods, -np.inf)
    lowest[has] = np.minimum.reduceat(book.price, first_vertex)
    highest[has] = np.maximum.reduceat(book.price, first_vertex)
    capacity = largest_kw + 1.0 if capacity_kw is None else np.full(n_periods, float(capacity_kw))
    has_import, has_export = ~np.isnan(import_usd), ~np.isnan(export_usd)
    grid_on = has & (capacity != 0) & (has_import | has_export)
    slot_price = np.column_stack(
        [np.fmin(np.fmin(export_usd, import_usd), lowest) - 1.0, export_usd, import_usd]
    )
    slot_power = np.column_stack(
        [np.where(has_export, capacity, 0.0), np.zeros(n_periods), -capacity]
    )
    used = np.column_stack(
        [grid_on, grid_on & has_export & (export_usd != import_usd), grid_on & has_import]
    )
    grid_period = np.repeat(np.arange(n_periods), 3).reshape(n_periods, 3)[used]
    grid_price, grid_power = slot_price[used], slot_power[used]
    grid_first = (np.cumsum(used, axis=1) == 1)[used]

    positive = (np.bincount(vertex_period, book.power > 0, n_periods) > 0) | (
        np.bincount(grid_period, grid_power > 0, n_periods) > 0
    )
    negative = (np.bincount(vertex_period, book.power < 0, n_periods) > 0) | (
        np.bincount(grid_period, grid_power < 0, n_periods) > 0
    )
    status[has & ~(positive & negative)] = "one_sided"
    low = np.minimum(lowest, np.where(used[:, 1:], slot_price[:, 1:], np.inf).min(axis=1))
    high = np.maximum(highest, np.where(used, slot_price, -np.inf).max(axis=1))
    scale_kw = largest_kw + np.where(used, np.abs(slot_power), 0.0).max(axis=1)
    status[(status == "") & ~np.isfinite(scale_kw)] = "failure"

    first = np.zeros(book.price.size, dtype=bool)
    first[book.starts] = True
    layout = np.argsort(np.r_[vertex_period, grid_period], kind="stable")
    all_first = np.r_[first, grid_first][layout]
    all_period = np.r_[vertex_period, grid_period][layout]
    return _Curves(
        first=all_first,
        price=np.r_[book.price, grid_price][layout],
        power=np.r_[book.power, grid_power][layout],
        continuity=np.r_[book.continuity, np.zeros(grid_price.size, dtype=bool)][layout],
        vertex_period=all_period,
        curve_period=all_period[all_first],
        curve_order=np.r_[vertex_order, np.full(grid_price.size, -1)][layout][all_first],
        low_usd_per_kwh=low,
        high_usd_per_kwh=high,
        scale_kw=scale_kw,
        tolerance_kw=_RELATIVE_TOLERANCE * np.maximum(scale_kw, 1.0),
    )


def _aggregate(curves: _Curves, n_rows: int) -> tuple[np.ndarray, ...]:
    """Net power [kW] just left of and at each breakpoint price, one row per period.

    Returns net left, net right and the breakpoints [USD/kWh] as (rows, most breakpoints)
    arrays, and each row's count of breakpoints; a shorter row is padded with its last
    breakpoint and zero jumps and slopes, so the padding changes none of its values.
    """
    price, power = curves.price, curves.power
    breakpoint_price, breakpoint_row, inverse = _breakpoints(price, curves.vertex_period, n_rows)
    row_size = np.bincount(breakpoint_row, minlength=n_rows)
    row_start = np.r_[0, np.cumsum(row_size)[:-1]]
    column = np.arange(breakpoint_price.size) - row_start[breakpoint_row]
    width = int(row_size.max(initial=1))

    def as_rows(values: np.ndarray, padding) -> np.ndarray:
        table = np.empty((n_rows, width))
        table[:] = padding
        table[breakpoint_row, column] = values
        return table

    has_next = ~np.r_[curves.first[1:], True]
    segment = np.flatnonzero(has_next)  # vertex index where each segment starts
    rise_kw = power[segment + 1] - power[segment]
    start_at, end_at = inverse[segment], inverse[segment + 1]
    linear = curves.continuity[segment]
    size = breakpoint_price.size
    jump_kw = np.bincount(end_at[~linear], weights=rise_kw[~linear], minlength=size)
    slope = rise_kw[linear] / (price[segment + 1] - price[segment])[linear]
    slope_change = np.bincount(start_at[linear], slope, size)
    slope_change -= np.bincount(end_at[linear], slope, size)
    last_price = breakpoint_price[row_start + row_size - 1][:, None]
    breakpoints = as_rows(breakpoint_price, last_price)
    jumps = as_rows(jump_kw, 0.0)
    rise_between_kw = np.cumsum(as_rows(slope_change, 0.0), axis=1)[:, :-1] * np.diff(breakpoints)
    base_kw = _sums_by_row(power[curves.first], curves.curve_period, n_rows)
    steps = np.cumsum(jumps[:, :-1] + rise_between_kw, axis=1)
    net_left = base_kw[:, None] + np.column_stack([np.zeros(n_rows), steps])
    return net_left, net_left + jumps, breakpoints, row_size


def _breakpoints(price: np.ndarray, row: np.ndarray, n_rows: int) -> tuple[np.ndarray, ...]:
    """Distinct prices of each row [USD/kWh], rising, with their rows, and every vertex's index
    among them (``row`` sorted; each row sorted on its own, faster than one long sort)."""
    count = np.bincount(row, minlength=n_rows)
    first = np.r_[0, np.cumsum(count)[:-1]]
    column = np.arange(price.size) - first[row]
    table = np.full((n_rows, int(count.max(initial=1))), np.inf)
    table[row, column] = price
    by_price = np.argsort(table, axis=1)
    ranked = np.take_along_axis(table, by_price, axis=1)
    distinct = np.arange(table.shape[1]) < count[:, None]
    distinct[:, 1:] &= ranked[:, 1:] != ranked[:, :-1]
    index = np.cumsum(distinct, axis=None).reshape(table.shape) - 1
    inverse = np.empty(price.size, dtype=np.intp)
    held = np.arange(table.shape[1]) < count[:, None]
    inverse[(first[:, None] + by_price)[held]] = index[held]
    return ranked[distinct], np.nonzero(distinct)[0], inverse


@dataclass(frozen=True)
class _Crossing:
    found: np.ndarray  # per row: net power crosses zero
    price_usd_per_kwh: np.ndarray  # per row, meaningful where found


def _clearing_prices(curves: _Curves, net_left, net_right, breakpoints, row_size) -> _Crossing:
    """Midpoint of each row's zero interval of net power, clipped to its range of prices.

    The zero interval is where ``0 ∈ [N(p), N(p^-)]``; on the interleaved row N(p_0^-),
    N(p_0), N(p_1^-), N(p_1), ... (non-increasing), its ends lie at the first entry <= 0 and
    the last entry >= 0, interpolated on the segment they end or start.
    """
    n_rows, width = net_left.shape
    interleaved = np.empty((n_rows, 2 * width))
    interleaved[:, 0::2], interleaved[:, 1::2] = net_left, net_right
    interleaved[np.abs(interleaved) <= curves.tolerance_kw[:, None]] = 0.0
    size = 2 * row_size
    valid = np.arange(2 * width) < size[:, None]
    rows = np.arange(n_rows)
    found = ~((interleaved[:, 0] < 0) | (interleaved[rows, size - 1] > 0))
    first = np.argmax((interleaved <= 0) | ~valid, axis=1)
    last = 2 * width - 1 - np.argmax(((interleaved >= 0) & valid)[:, ::-1], axis=1)
    low, high = breakpoints[rows, first // 2], breakpoints[rows, last // 2]
    inside = found & (first > 0) & (first % 2 == 0)  # on the segment ending at first // 2
    row, j = rows[inside], first[inside] // 2
    above, below = interleaved[row, first[inside] - 1], interleaved[row, first[inside]]
    step = breakpoints[row, j] - breakpoints[row, j - 1]
    low[inside] = breakpoints[row, j - 1] + step * above / (above - below)
    inside = found & (last < size - 1) & (last % 2 == 1)  # on the segment after last // 2
    row, j = rows[inside], last[inside] // 2
    above, below = interleaved[row, last[inside]], interleaved[row, last[inside] + 1]
    step = breakpoints[row, j + 1] - breakpoints[row, j]
    high[inside] = breakpoints[row, j] + step * above / (above - below)
    price = 0.5 * (
        np.maximum(low, curves.low_usd_per_kwh) + np.minimum(high, curves.high_usd_per_kwh)
    )
    return _Crossing(found, price)


def _evaluate(curves: _Curves, at_usd_per_kwh: np.ndarray, left: bool) -> np.ndarray:
    """Power of every curve [kW] at its row's price, or its limit from below when ``left``."""
    price, power, starts = curves.price, curves.power, curves.starts
    at_vertex = at_usd_per_kwh[curves.vertex_period]
    below = price < at_vertex if left else price <= at_vertex
    ends = np.r_[starts[1:], price.size]
    last = np.add.reduceat(below.astype(np.int64), starts) + starts - 1
    inside = (last >= starts) & (last < ends - 1)
    here = np.clip(last, starts, ends - 1)
    there = np.minimum(here + 1, ends - 1)
    width = np.where(inside, price[there] - price[here], 1.0)
    at_curve = at_usd_per_kwh[curves.curve_period]
    fraction = np.where(inside & curves.continuity[here], (at_curve - price[here]) / width, 0.0)
    return power[here] + fraction * (power[there] - power[here])


def _cleared_power(curves: _Curves, price_usd_per_kwh: np.ndarray) -> tuple[np.ndarray, ...]:
    """Cleared power of every curve [kW] and status of every row at its price.

    Where curves are vertical at a row's price (net power steps over zero there), the steps
    are placed so that net power is zero: consuming parts served first, then generating parts
    withheld, each pro rata to its width; the status names the side curtailed.
    """
    n_rows, row = price_usd_per_kwh.size, curves.curve_period
    right = _evaluate(curves, price_usd_per_kwh, left=False)
    left = _evaluate(curves, price_usd_per_kwh, left=True)
    right_kw = _sums_by_row(right, row, n_rows)
    tolerance_kw = curves.tolerance_kw
    on_step = _sums_by_row(left, row, n_rows) - right_kw > tolerance_kw
    status = np.full(n_rows, "exact", dtype=object)
    if not on_step.any():
        return right, status
    demand_kw = np.maximum(left, 0.0) - np.maximum(right, 0.0)
    supply_kw = np.minimum(left, 0.0) - np.minimum(right, 0.0)
    demand_sum_kw = _sums_by_row(demand_kw, row, n_rows)
    supply_sum_kw = _sums_by_row(supply_kw, row, n_rows)
    needed_kw = np.clip(-right_kw, 0.0, _sums_by_row(left - right, row, n_rows))
    served_kw = np.minimum(needed_kw, demand_sum_kw)
    served = np.divide(served_kw, demand_sum_kw, out=np.zeros(n_rows), where=demand_sum_kw > 0)
    withheld = np.divide(
        needed_kw - served_kw, supply_sum_kw, out=np.zeros(n_rows), where=supply_sum_kw > 0
    )
    placed = (
        right
        + np.minimum(served, 1.0)[row] * demand_kw
        + np.minimum(withheld, 1.0)[row] * supply_kw
    )
    cleared = np.where(on_step[row], placed, right)
    tolerance = tolerance_kw[row]
    stepping = left - right > tolerance
    curtailed = stepping & (cleared > right + tolerance) & (cleared < left - tolerance)
    seller = np.bincount(row, curtailed & (cleared < 0), n_rows) > 0
    buyer = np.bincount(row, curtailed & (cleared > 0), n_rows) > 0
    stepping_kw = _sums_by_row(cleared[stepping], row[stepping], n_rows)
    side = np.where(
        seller,
        "marginal_seller",
        np.where(buyer | (stepping_kw > tolerance_kw), "marginal_buyer", "marginal_seller"),
    )
    status[on_step] = side[on_step]
    return cleared, status


def _failed(curves: _Curves, cleared: np.ndarray) -> np.ndarray:
    """Rows whose cleared power is not finite or does not balance within 1e-6 of its scale."""
    n_rows = curves.scale_kw.size
    finite = np.bincount(curves.curve_period, ~np.isfinite(cleared), n_rows) == 0
    with np.errstate(invalid="ignore", over="ignore"):
        imbalance_kw = np.abs(_sums_by_row(cleared, curves.curve_period, n_rows))
    return ~finite | (imbalance_kw > _FAILURE_IMBALANCE * curves.scale_kw)


def _validated_vertices(vertices: pd.DataFrame, period: np.ndarray) -> _Book:
    """Check ``vertices`` (of the periods ``period``, one per row); return them as a `_Book`.

    Vertices are sorted by (period, order id, price), repeats merged. Identifiers are handled
    as codes; strings are built only for the orders' ids and for an error message.
    """
    missing = [column for column in VERTEX_COLUMNS if column not in vertices.columns]
    if missing:
        raise ValueError(f"vertices: missing column(s) {missing}, expected {list(VERTEX_COLUMNS)}")
    for column in ("order_id", "participant"):
        absent = np.flatnonzero(vertices[column].isna().to_numpy())[:5].tolist()
        if absent:
            raise ValueError(f"vertices.{column}: missing in row(s) {absent}, expected str")
    first_seen, labels = pd.factorize(vertices["order_id"].astype(str))
    labels = np.asarray(labels, dtype=str)  # hashing, then sorting only unique labels
    alphabetical = np.argsort(labels, kind="stable")
    id_of_code = labels[alphabetical].astype(object)
    code = np.empty_like(alphabetical)
    code[alphabetical] = np.arange(alphabetical.size)
    code = code[first_seen]
    owner_code, owners = pd.factorize(vertices["participant"].astype(str))
    numbers = []
    for column in ("price_usd_per_kwh", "power_kw"):
        values = pd.to_numeric(vertices[column], errors="coerce").to_numpy(float, na_value=np.nan)
        _refuse(
            id_of_code, code, vertices[column].to_numpy(), ~np.isfinite(values), column, "finite"
        )
        numbers.append(values)
    raw_flag = vertices["continuity"]
    if not pd.api.types.is_bool_dtype(raw_flag) or raw_flag.hasnans:
        is_flag = np.array([isinstance(flag, bool | np.bool_) for flag in raw_flag], dtype=bool)
        _refuse(id_of_code, code, raw_flag.to_numpy(), ~is_flag, "continuity", "True or False")
    flag = raw_flag.to_numpy().astype(bool)

    rank = _by_order_and_price(period * max(alphabetical.size, 1) + code, numbers[0])
    code, period, owner_code = code[rank], period[rank], owner_code[rank]
    price, power, flag = numbers[0][rank], numbers[1][rank], flag[rank]

    new_order = (np.diff(code, prepend=-1) != 0) | (np.diff(period, prepend=-1) != 0)
    owner = owner_code[np.flatnonzero(new_order)][np.cumsum(new_order) - 1]
    bad = owner_code != owner
    if bad.any():
        participant = np.asarray(owners, dtype=object)[owner_code]
        _refuse(id_of_code, code, participant, bad, "participant", "one per order_id")
    repeat = ~new_order
    repeat[1:] &= price[1:] == price[:-1]
    before = np.flatnonzero(repeat) - 1
    clash = np.zeros_like(repeat)
    clash[repeat] = power[repeat] != power[before]
    _refuse(id_of_code, code, power, clash, "power_kw", "one power per (order_id, price) vertex")
    clash[repeat] = flag[repeat] != flag[before]
    _refuse(id_of_code, code, flag, clash, "continuity", "one flag per (order_id, price) vertex")
    if repeat.any():
        new_order, code, owner_code, period, price, power, flag = (
            a[~repeat] for a in (new_order, code, owner_code, period, price, power, flag)
        )
    rises = ~new_order
    rises[1:] &= power[1:] > power[:-1]
    _refuse(
        id_of_code, code, power, rises, "power_kw", "power not rising with price within an order"
    )
    starts = np.flatnonzero(new_order)
    return _Book(
        order_id=id_of_code[code[starts]],
        participant=np.asarray(owners, dtype=object)[owner_code[starts]],
        order_period=period[starts],
        starts=starts,
        price=price,
        power=power,
        continuity=flag,
    )


def _by_order_and_price(order: np.ndarray, price: np.ndarray) -> np.ndarray:
    """Rows sorted by order, then price, ties in row order (as `numpy.lexsort`).

    Vertices usually come with each order's prices rising: then sorting by order alone is
    enough, and an integer sort is many times faster than sorting by price as well.
    """
    rank = np.argsort(order, kind="stable")
    ranked = price[rank]
    same_order = order[rank][1:] == order[rank][:-1]
    if not (same_order & (ranked[1:] < ranked[:-1])).any():
        return rank
    return np.lexsort((price, order))


def _refuse(
    id_of_code: np.ndarray, code: np.ndarray, values: np.ndarray, bad: np.ndarray, field, want
) -> None:
    """Raise ValueError naming the first offending orders, the field and what was expected."""
    if bad.any():
        shown = [
            f"{value!r} for order_id {identifier!r}"
            for identifier, value in zip(
                id_of_code[code[bad][:5]], values[bad][:5].tolist(), strict=True
            )
        ]
        more = int(bad.sum()) - len(shown)
        raise ValueError(
            f"vertices.{field}: got {', '.join(shown)}{f' and {more} more' if more > 0 else ''}"
            f", expected {want}"
        )
