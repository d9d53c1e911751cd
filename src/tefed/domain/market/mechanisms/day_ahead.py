"""TENT version 2: a day-ahead market of hourly periods corrected by real-time markets.

The day-ahead market clears once per delivery day, at its gate closure, every period (one hour
by default) of that day from the curves the participants built from their forecasts: each
period on its own by TENT's curve clearing, all periods at once
(`curve_periods.clear_curve_periods`, which clears each period exactly as
`curve_clearing.clear_curves` would alone), the grid supplying at the import price and
absorbing at the export price. A cleared power is a commitment over its whole period:
``round(P · Δm / 3.6)`` Wh in every market interval of it.

Each market interval (15 minutes) then has a real-time market. Participants send their whole
curve again; it clears the same way, and each participant trades in real time only the change
of its cleared energy against its commitment (TENT's ``commitment = true``). Day-ahead energy
is paid at the day-ahead price, the change at the real-time price. A participant without a
real-time order keeps its commitment.

Every market object (each day-ahead period, each real-time interval) passes TENT's states,
recorded by `market_object_states`: ``inactive`` → ``active`` (taking orders) → ``cleared``
(TENT's market lead: cleared, delivery ahead) → ``delivery`` → ``reconcile`` (settled after
delivery) → ``expired``.

References
----------
.. [1] D. J. Hammerstrom, "Transactive Energy Network Template (TENT)", PNNL,
   https://github.com/pnnl/tent (market objects, states, day-ahead and real-time markets).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tefed.domain.market.mechanisms.curve_periods import clear_curve_periods

#: TENT market-object states in the order every market object passes them.
MARKET_STATES = ("inactive", "active", "cleared", "delivery", "reconcile", "expired")


@dataclass(frozen=True)
class DayAheadResult:
    """Outcome of one day-ahead clearing.

    Attributes
    ----------
    price_usd_per_kwh : pandas.Series
        Clearing price per period, indexed by period [USD/kWh]; NaN where a period found none.
    power_kw : pandas.DataFrame
        Cleared power of every order: ``period``, ``order_id``, ``participant``, ``power_kw``
        (positive = consumption) [kW]; orders cleared at 0 kW are left out.
    status : pandas.Series
        Status of each period's clearing (`curve_periods.STATUSES`), indexed by period.
    """

    price_usd_per_kwh: pd.Series
    power_kw: pd.DataFrame
    status: pd.Series


def clear_day_ahead(
    vertices: pd.DataFrame,
    import_price_usd_per_kwh: pd.Series,
    export_price_usd_per_kwh: pd.Series,
    feeder_capacity_kw: float | None = None,
) -> DayAheadResult:
    """Clear every period of a day-ahead market by uniform-price curve clearing.

    Parameters
    ----------
    vertices : pandas.DataFrame
        TENT vertices as for `clear_curves` (``order_id``, ``participant``,
        ``price_usd_per_kwh`` [USD/kWh], ``power_kw`` [kW], ``continuity``) and ``period``
        (int): the period an order is for. Order ids are unique within a period.
    import_price_usd_per_kwh, export_price_usd_per_kwh : pandas.Series
        Grid prices per period, indexed by period [USD/kWh]; every period of ``vertices``
        and every period to clear must have one.
    feeder_capacity_kw : float, optional
        Grid limit in either direction [kW]; None: unlimited.

    Returns
    -------
    DayAheadResult
        Price and status of every period of ``import_price_usd_per_kwh``'s index, and each
        order's cleared power.

    Notes
    -----
    The periods are independent (no intertemporal constraint: TENT's day-ahead market clears
    each market interval of its series on its own), so a period without orders clears at the
    grid alone (status of `clear_curves` for an empty book) and has no commitments. They are
    cleared together, vectorized over periods and orders (`clear_curve_periods`), each to the
    last bit as `clear_curves` clears it alone.

    Examples
    --------
    Hour 0: a buys 2 kW inelastically, b sells up to 3 kW from 0.05 (0 kW) to 0.10 USD/kWh
    (3 kW); with the grid at 0.14 / 0.04 the price is where b's supply meets a's 2 kW, 2/3 of
    the way from 0.05 to 0.10:

    >>> vertices = pd.DataFrame({"period": [0, 0, 0], "order_id": ["a0", "b0", "b0"],
    ...     "participant": ["a", "b", "b"], "price_usd_per_kwh": [0.12, 0.05, 0.10],
    ...     "power_kw": [2.0, 0.0, -3.0], "continuity": [True, True, True]})
    >>> result = clear_day_ahead(vertices, pd.Series({0: 0.14}), pd.Series({0: 0.04}))
    >>> round(float(result.price_usd_per_kwh[0]), 4), result.power_kw["power_kw"].tolist()
    (0.0833, [2.0, -2.0])
    """
    periods = import_price_usd_per_kwh.index
    if len(vertices):
        period = periods.get_indexer(vertices["period"])
        unknown = sorted(set(vertices["period"][period < 0]))
        if unknown:
            raise ValueError(
                f"vertices.period: got {unknown[:5]}, expected periods with grid prices"
            )
    else:
        period = np.zeros(0, dtype=np.int64)
    cleared = clear_curve_periods(
        vertices,
        period,
        len(periods),
        import_price_usd_per_kwh.to_numpy(dtype=float),
        export_price_usd_per_kwh.reindex(periods).to_numpy(dtype=float),
        feeder_capacity_kw,
    )
    traded = cleared.power_kw != 0
    return DayAheadResult(
        price_usd_per_kwh=pd.Series(cleared.price_usd_per_kwh, index=periods, dtype=float),
        power_kw=pd.DataFrame(
            {
                "period": periods.to_numpy()[cleared.order_period[traded]],
                "order_id": cleared.order_id[traded],
                "participant": cleared.participant[traded],
                "power_kw": cleared.power_kw[traded],
            }
        ),
        status=pd.Series(cleared.status, index=periods, dtype=object),
    )


def real_time_changes_wh(total_wh: pd.Series, committed_wh: pd.Series) -> pd.Series:
    """What each real-time participant trades: its cleared energy less its commitment [Wh].

    Parameters
    ----------
    total_wh : pandas.Series
        Energy each participant with a real-time order cleared at in real time (int64, by
        participant) [Wh], import positive.
    committed_wh : pandas.Series
        Day-ahead commitment of each participant in the interval (int64, by participant) [Wh].

    Returns
    -------
    pandas.Series
        ``total − committed`` for the participants of ``total_wh`` (int64), sorted by
        participant [Wh]; participants without a real-time order keep their commitment and do
        not appear.

    Examples
    --------
    a committed to buy 500 Wh and now clears at 300 Wh: it sells 200 Wh back in real time.

    >>> real_time_changes_wh(pd.Series({"a": 300}), pd.Series({"a": 500, "b": -100})).to_dict()
    {'a': -200}
    """
    committed = committed_wh.reindex(total_wh.index, fill_value=0).astype(np.int64)
    return (total_wh.astype(np.int64) - committed).sort_index()


@dataclass(frozen=True)
class DayAheadMarket:
    """One day-ahead market of a run: when it clears and the periods it clears.

    Attributes
    ----------
    gate_closure_s : int
        Time it clears [s], on the grid step.
    period_starts : numpy.ndarray
        First market interval of each of its periods (int) [-].
    """

    gate_closure_s: int
    period_starts: np.ndarray


def day_ahead_markets(
    n_intervals: int,
    interval_s: int,
    grid_step_s: int,
    period_s: int,
    gate_closure_hour: float,
) -> list[DayAheadMarket]:
    """The day-ahead markets of a run, one per delivery day counted from the run's start.

    Parameters
    ----------
    n_intervals : int
        Market intervals of the run [-].
    interval_s, grid_step_s : int
        Market interval and grid step [s].
    period_s : int
        Length of a day-ahead period, a multiple of ``interval_s`` [s].
    gate_closure_hour : float
        Hour of the day before a delivery day at which its market clears [h].

    Returns
    -------
    list of DayAheadMarket
        Day ``j`` (``[j·86400, (j+1)·86400)`` s) clears at ``j·86400 − (24 − h)·3600`` s,
        rounded down to the grid step and at the earliest at 0 (the first day's market clears
        at the run's start).

    Examples
    --------
    Two days of 15-minute intervals, hourly periods, gate closure at noon the day before:

    >>> markets = day_ahead_markets(192, 900, 60, 3600, 12.0)
    >>> [(m.gate_closure_s, m.period_starts[:2].tolist(), m.period_starts.size) for m in markets]
    [(0, [0, 4], 24), (43200, [96, 100], 24)]
    """
    period_intervals = period_s // interval_s
    run_s = n_intervals * interval_s
    markets = []
    for day_start_s in range(0, run_s, 86400):
        closure_s = day_start_s - round((24.0 - gate_closure_hour) * 3600.0)
        closure_s = max(closure_s - closure_s % grid_step_s, 0)
        first = day_start_s // interval_s
        last = min((day_start_s + 86400) // interval_s, n_intervals)
        markets.append(DayAheadMarket(closure_s, np.arange(first, last, period_intervals)))
    return markets


def market_object_states(
    day_ahead_gate_closures_s: np.ndarray,
    day_ahead_periods: list[np.ndarray],
    period_intervals: int,
    interval_s: int,
    gate_closure_s: int,
    delivery_ahead_intervals: int,
    n_intervals: int,
) -> pd.DataFrame:
    """When every market object of a run enters each of its TENT states.

    Parameters
    ----------
    day_ahead_gate_closures_s : numpy.ndarray
        Time each day-ahead market clears [s] (a negative time: at the run's start, 0).
    day_ahead_periods : list of numpy.ndarray
        For each day-ahead market, the first market interval of each of its periods [-].
    period_intervals : int
        Market intervals per day-ahead period [-].
    interval_s : int
        Length of a market interval [s].
    gate_closure_s : int
        How long before its interval a real-time market clears [s].
    delivery_ahead_intervals : int
        How many intervals ahead a real-time market takes orders [intervals].
    n_intervals : int
        Market intervals of the run [-].

    Returns
    -------
    pandas.DataFrame
        ``market`` (``day_ahead`` or ``real_time``), ``interval_index`` (the object's first
        market interval), ``state`` (`MARKET_STATES`) and ``time_s`` [s], one row per object
        and state, in time order within an object. Settlement follows the last interval's
        delivery, so ``reconcile`` is at the object's end and ``expired`` one interval later.

    Examples
    --------
    >>> states = market_object_states(np.array([0]), [np.array([1])], 4, 900, 60, 1, 5)
    >>> day_ahead = states[states["market"] == "day_ahead"]
    >>> dict(zip(day_ahead["state"], day_ahead["time_s"].tolist()))
    {'inactive': 0, 'active': 0, 'cleared': 0, 'delivery': 900, 'reconcile': 4500, 'expired': 5400}
    """
    rows = []
    previous_s = 0
    for closure_s, firsts in zip(day_ahead_gate_closures_s, day_ahead_periods, strict=True):
        closure_s = max(int(closure_s), 0)
        for first in firsts.tolist():
            end = min(first + period_intervals, n_intervals)
            rows.append(
                _states_of("day_ahead", first, previous_s, closure_s, first, end, interval_s)
            )
        previous_s = closure_s
    for interval in range(1, n_intervals):
        opens_s = max(interval - delivery_ahead_intervals, 0) * interval_s
        closes_s = interval * interval_s - gate_closure_s
        rows.append(
            _states_of("real_time", interval, opens_s, closes_s, interval, interval + 1, interval_s)
        )
    if not rows:
        return pd.DataFrame(
            {
                "market": pd.Series(dtype=object),
                "interval_index": pd.Series(dtype="int64"),
                "state": pd.Series(dtype=object),
                "time_s": pd.Series(dtype="int64"),
            }
        )
    return pd.concat(rows, ignore_index=True)


def _states_of(
    market: str, first: int, opens_s: int, clears_s: int, start: int, end: int, interval_s: int
) -> pd.DataFrame:
    """The six state changes of one market object delivering intervals ``[start, end)``."""
    times_s = [0, opens_s, clears_s, start * interval_s, end * interval_s, (end + 1) * interval_s]
    return pd.DataFrame(
        {
            "market": market,
            "interval_index": first,
            "state": list(MARKET_STATES),
            "time_s": np.asarray(times_s, dtype=np.int64),
        }
    )
