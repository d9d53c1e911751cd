"""Residual flexibility of scheduled households: their demand as a function of the interval price.

A household that plans its battery with `BatterySchedule` would change the first period of its
plan (the delivery interval) if the price of that interval changed. Re-solving the plan with the
first period's import and export price set to each of a few price levels gives, per household,
its demand at each level: the TENT residual flexibility, from which a curve order (vertices) or
an OpenGridGym affine order (four numbers) is made.

Sign convention: ``power_kw`` positive = consumption (the household buys), negative = generation
(it sells), as household power and TENT curve vertices. A demand curve falls with price: power is
non-increasing as the price rises.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pyomo is imported only by households that plan (schedule_lp)
    from tefed.domain.ems.strategies.schedule_lp import BatterySchedule

VERTEX_COLUMNS = ("household", "price_usd_per_kwh", "power_kw")
#: Powers closer than this are the same vertex height [kW].
POWER_TOLERANCE_KW = 1e-6


@dataclass(frozen=True, eq=False)
class ResidualFlexibility:
    """First-period grid power of a group of households at each price level.

    Attributes
    ----------
    price_levels_usd_per_kwh : numpy.ndarray
        The price levels, strictly increasing, shape (L,) [USD/kWh].
    power_kw : numpy.ndarray
        Grid power in the first period per household and level, shape (N, L), + consumption
        [kW]. At a level whose solve was not optimal it is the fallback: the net-load forecast.
    status : tuple of str
        Status of the schedule at each level (``schedule_lp.STATUSES``).
    message : str
        The messages of the levels that were not optimal; empty when all were.
    """

    price_levels_usd_per_kwh: np.ndarray
    power_kw: np.ndarray
    status: tuple[str, ...]
    message: str

    @property
    def optimal(self) -> bool:
        """Whether every level was solved to optimality."""
        return all(status == "optimal" for status in self.status)


@dataclass(frozen=True, eq=False)
class AffineCurves:
    """OpenGridGym affine quadruples of N households, with signed powers.

    Attributes
    ----------
    price_max_usd_per_kwh, price_min_usd_per_kwh : numpy.ndarray
        Highest and lowest price of the curve, shape (N,) [USD/kWh].
    power_max_kw : numpy.ndarray
        Power at the lowest price, shape (N,), + consumption [kW].
    power_min_kw : numpy.ndarray
        Power at the highest price, ``<= power_max_kw``, shape (N,), + consumption [kW].
    """

    price_max_usd_per_kwh: np.ndarray
    price_min_usd_per_kwh: np.ndarray
    power_max_kw: np.ndarray
    power_min_kw: np.ndarray


def flexibility_price_levels(
    export_price_usd_per_kwh: float, import_price_usd_per_kwh: float, count: int
) -> np.ndarray:
    """Evenly spaced price levels from the export to the import price, both included.

    Parameters
    ----------
    export_price_usd_per_kwh, import_price_usd_per_kwh : float
        Net-billing prices of the delivery interval, finite, export <= import [USD/kWh].
    count : int
        Number of levels, >= 2.

    Returns
    -------
    numpy.ndarray
        Strictly increasing levels [USD/kWh]; one level when the two prices are equal.

    Raises
    ------
    ValueError
        If a price is not finite, export > import, or ``count < 2``.

    Examples
    --------
    >>> flexibility_price_levels(0.05, 0.15, 3).round(6).tolist()
    [0.05, 0.1, 0.15]
    """
    low, high = float(export_price_usd_per_kwh), float(import_price_usd_per_kwh)
    if not (math.isfinite(low) and math.isfinite(high) and low <= high):
        raise ValueError(
            f"export_price_usd_per_kwh, import_price_usd_per_kwh are {low!r}, {high!r}; "
            "expected finite with export <= import [USD/kWh]"
        )
    if int(count) != count or count < 2:
        raise ValueError(f"count is {count!r}; expected a whole number of levels >= 2")
    return np.unique(np.linspace(low, high, int(count)))


def residual_flexibility(
    schedule: BatterySchedule,
    net_load_forecast_kw: np.ndarray,
    import_price_usd_per_kwh: np.ndarray,
    export_price_usd_per_kwh: np.ndarray,
    soc_initial_kwh: np.ndarray,
    price_levels_usd_per_kwh: np.ndarray,
) -> ResidualFlexibility:
    """Each household's first-period grid power at each price level of the delivery interval.

    Parameters
    ----------
    schedule : BatterySchedule
        The group's schedule LP; it is re-solved once per level, for all households at once.
    net_load_forecast_kw, import_price_usd_per_kwh, export_price_usd_per_kwh, soc_initial_kwh
        As for `BatterySchedule.solve`: shapes (N, H), (H,), (H,), (N,) [kW, USD/kWh, kWh].
    price_levels_usd_per_kwh : numpy.ndarray
        Prices to try for the first period, strictly increasing, finite, shape (L,) [USD/kWh].

    Returns
    -------
    ResidualFlexibility
        Power (N, L) [kW] and the status of each level's solve.

    Raises
    ------
    ValueError
        On invalid levels or any input `BatterySchedule.solve` refuses.

    Notes
    -----
    At level :math:`\\lambda` the first period's import and export prices both become
    :math:`\\lambda` (the household buys and sells the delivery interval at the market price)
    and the later periods keep their forecasts. The minimum of the LP is concave in
    :math:`\\lambda` and the first-period grid power is its slope, so the demand is
    non-increasing in :math:`\\lambda`; `curve_vertices` enforces it against ties between
    equally good schedules. Each solve starts from the previous basis, a few pivots away.

    References
    ----------
    .. [1] D. J. Hammerstrom, "Transactive Energy Network Template Metamodel", PNNL-28420,
       Pacific Northwest National Laboratory,
       https://www.pnnl.gov/publications/transactive-energy-network-template-metamodel

    Examples
    --------
    A lossless 10 kWh, 5 kW battery at 5 kWh, no load, two hours; the second hour buys at 0.30
    and sells at 0.20 USD/kWh. At 0.10 now it charges 5 kW to sell later, at 0.25 it waits,
    at 0.40 it sells 5 kW now and buys back later:

    >>> from tefed.domain.ems.devices.battery import BatteryParameters
    >>> from tefed.domain.ems.strategies.schedule_lp import BatterySchedule
    >>> battery = BatteryParameters.from_round_trip([10.0], [5.0], 1.0, 0.0, 1.0)
    >>> from tefed.io.highs_solver import HighsSolver
    >>> schedule = BatterySchedule(battery, horizon=2, period_s=3600.0, solver=HighsSolver())
    >>> flexibility = residual_flexibility(
    ...     schedule, np.zeros((1, 2)), np.array([0.25, 0.30]), np.array([0.25, 0.20]),
    ...     np.array([5.0]), np.array([0.10, 0.25, 0.40]))
    >>> flexibility.status, (flexibility.power_kw.round(6) + 0.0).tolist()  # + 0.0: no -0.0
    (('optimal', 'optimal', 'optimal'), [[5.0, 0.0, -5.0]])
    """
    levels = _levels(price_levels_usd_per_kwh)
    prices = {
        "import_price_usd_per_kwh": np.array(import_price_usd_per_kwh, dtype=float),
        "export_price_usd_per_kwh": np.array(export_price_usd_per_kwh, dtype=float),
    }
    for name, values in prices.items():
        if values.shape != (schedule.horizon,):
            raise ValueError(
                f"{name} has shape {values.shape}; expected ({schedule.horizon},), one value "
                "per period"
            )
    import_price, export_price = prices.values()
    power_kw = np.zeros((schedule.household_count, levels.size))
    statuses, messages = [], []
    for column, level in enumerate(levels.tolist()):
        import_price[0], export_price[0] = level, level
        result = schedule.solve(net_load_forecast_kw, import_price, export_price, soc_initial_kwh)
        power_kw[:, column] = result.grid_power_kw[:, 0]
        statuses.append(result.status)
        if not result.optimal:
            messages.append(f"at {level} USD/kWh: {result.message}")
    return ResidualFlexibility(levels, power_kw, tuple(statuses), "; ".join(messages))


def monotone_power_kw(price_levels_usd_per_kwh: np.ndarray, power_kw: np.ndarray) -> np.ndarray:
    """Power per level made non-increasing in price (levels in increasing order).

    Parameters
    ----------
    price_levels_usd_per_kwh : numpy.ndarray
        Distinct finite price levels, any order, shape (L,) [USD/kWh].
    power_kw : numpy.ndarray
        Power per household and level, shape (N, L), + consumption [kW].

    Returns
    -------
    numpy.ndarray
        Shape (N, L), columns in increasing price order [kW].

    Raises
    ------
    ValueError
        If levels repeat or a value is not finite, or the shapes disagree.

    Notes
    -----
    Columns sorted by price, then the running minimum along them: a power above one at a
    lower price is lowered to it.

    Examples
    --------
    >>> monotone_power_kw(np.array([0.3, 0.1, 0.2]), np.array([[0.0, 1.0, 3.0]])).tolist()
    [[1.0, 1.0, 0.0]]
    """
    levels, power = _curve_inputs(price_levels_usd_per_kwh, power_kw)
    order = np.argsort(levels, kind="stable")
    return np.minimum.accumulate(power[:, order], axis=1)


def curve_vertices(price_levels_usd_per_kwh: np.ndarray, power_kw: np.ndarray) -> pd.DataFrame:
    """TENT curve vertices of each household: monotone, without redundant vertices.

    Parameters
    ----------
    price_levels_usd_per_kwh : numpy.ndarray
        Distinct finite price levels, any order, shape (L,) [USD/kWh].
    power_kw : numpy.ndarray
        Power per household and level, shape (N, L), + consumption [kW].

    Returns
    -------
    pandas.DataFrame
        ``VERTEX_COLUMNS``: household index (0..N-1), price [USD/kWh] and power [kW], by
        household then increasing price; every household has at least one vertex.

    Raises
    ------
    ValueError
        As `monotone_power_kw`.

    Notes
    -----
    After `monotone_power_kw`, a vertex is dropped when its power equals (within
    `POWER_TOLERANCE_KW`) both neighbours' — inside a flat stretch — or its only neighbour's
    at either end, since a TENT curve holds its end power beyond its end prices. The curve
    drawn through the remaining vertices is the same; a flat curve keeps one vertex (an
    inelastic order).

    Examples
    --------
    Flat at 5 kW up to 0.30, then 2 kW at 0.40:

    >>> curve_vertices(np.array([0.1, 0.2, 0.3, 0.4]), np.array([[5.0, 5.0, 5.0, 2.0]]))
       household  price_usd_per_kwh  power_kw
    0          0                0.3       5.0
    1          0                0.4       2.0
    """
    power = monotone_power_kw(price_levels_usd_per_kwh, power_kw)
    levels = np.sort(np.asarray(price_levels_usd_per_kwh, dtype=float))
    step = np.abs(np.diff(power, axis=1)) > POWER_TOLERANCE_KW  # (N, L - 1)
    edge = np.zeros((power.shape[0], 1), dtype=bool)  # beyond the ends: no change
    keep = np.concatenate([edge, step], axis=1) | np.concatenate([step, edge], axis=1)
    keep[:, 0] |= ~keep.any(axis=1)  # a flat curve keeps its first vertex
    household, column = np.nonzero(keep)
    return pd.DataFrame(
        {
            "household": household,
            "price_usd_per_kwh": levels[column],
            "power_kw": power[household, column],
        }
    )


def affine_curves(price_levels_usd_per_kwh: np.ndarray, power_kw: np.ndarray) -> AffineCurves:
    """OpenGridGym affine quadruples spanning each household's monotone curve.

    Parameters
    ----------
    price_levels_usd_per_kwh : numpy.ndarray
        Distinct finite price levels, any order, shape (L,) [USD/kWh].
    power_kw : numpy.ndarray
        Power per household and level, shape (N, L), + consumption [kW].

    Returns
    -------
    AffineCurves
        Per household: prices at the ends of the levels and the monotone powers there.

    Raises
    ------
    ValueError
        As `monotone_power_kw`.

    Notes
    -----
    ``price_min`` / ``price_max`` are the lowest and highest level; ``power_max`` is the
    power at the lowest price and ``power_min`` the power at the highest (a straight line in
    between, the inner levels left out). Powers are signed: a curve from buying at low prices
    to selling at high prices has ``power_max > 0 > power_min`` and, as an OpenGridGym order
    with a side and magnitudes, becomes a buy and a sell order split at 0 kW. With one level,
    ``price_max == price_min``: a step.

    References
    ----------
    .. [1] R. El Helou et al., "OpenGridGym: An Open-Source AI-Friendly Toolkit for
       Distribution Market Simulation", arXiv:2203.04410 (2022).

    Examples
    --------
    >>> curves = affine_curves(np.array([0.1, 0.25, 0.4]), np.array([[5.0, 0.0, -5.0]]))
    >>> curves.price_max_usd_per_kwh.tolist(), curves.price_min_usd_per_kwh.tolist()
    ([0.4], [0.1])
    >>> curves.power_max_kw.tolist(), curves.power_min_kw.tolist()
    ([5.0], [-5.0])
    """
    power = monotone_power_kw(price_levels_usd_per_kwh, power_kw)
    levels = np.asarray(price_levels_usd_per_kwh, dtype=float)
    count = power.shape[0]
    return AffineCurves(
        price_max_usd_per_kwh=np.full(count, levels.max()),
        price_min_usd_per_kwh=np.full(count, levels.min()),
        power_max_kw=power[:, 0].copy(),
        power_min_kw=power[:, -1].copy(),
    )


def _levels(values, increasing: bool = True) -> np.ndarray:
    """Price levels as a finite 1-D float array, strictly increasing or (else) distinct."""
    levels = np.asarray(values, dtype=float)
    if levels.ndim != 1 or levels.size == 0:
        raise ValueError(
            f"price_levels_usd_per_kwh has shape {levels.shape}; expected (L,) with L >= 1"
        )
    bad = np.flatnonzero(~np.isfinite(levels))
    if bad.size:
        raise ValueError(
            f"price_levels_usd_per_kwh[{bad[0]}] is {levels[bad[0]]}; expected finite [USD/kWh]"
        )
    if not increasing:
        unique, counts = np.unique(levels, return_counts=True)
        if (counts > 1).any():
            raise ValueError(
                f"price_levels_usd_per_kwh repeats {unique[counts > 1][0]}; expected distinct "
                "levels [USD/kWh]"
            )
        return levels
    falling = np.flatnonzero(np.diff(levels) <= 0)
    if falling.size:
        j = int(falling[0]) + 1
        raise ValueError(
            f"price_levels_usd_per_kwh[{j}] is {levels[j]}; expected strictly increasing "
            f"levels, above price_levels_usd_per_kwh[{j - 1}] = {levels[j - 1]}"
        )
    return levels


def _curve_inputs(price_levels, power_kw) -> tuple[np.ndarray, np.ndarray]:
    """Checked levels (distinct, any order) and powers (N, L)."""
    levels = _levels(price_levels, increasing=False)
    power = np.asarray(power_kw, dtype=float)
    if power.ndim != 2 or power.shape[1] != levels.size:
        raise ValueError(
            f"power_kw has shape {power.shape}; expected (households, {levels.size}), one "
            "column per price level"
        )
    bad = np.argwhere(~np.isfinite(power))
    if bad.size:
        i, j = (int(k) for k in bad[0])
        raise ValueError(
            f"power_kw[{i}, {j}] is {power[i, j]}; expected finite [kW] (household {i}, level {j})"
        )
    return levels, power
