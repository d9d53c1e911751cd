"""Welfare of TENT's day-ahead market and its real-time corrections (mechanism ``day_ahead``, pure).

Under TENT's commitment model a participant's day-ahead clearing commits it to an energy
:math:`c` in every market interval of the period, and each real-time market trades only the
change :math:`\\Delta` from :math:`c` to the total :math:`c + \\Delta` at which the
participant's real-time curve clears. The welfare of the run is split accordingly:

- **day-ahead** (per delivered market interval :math:`k` of period :math:`d`): what each
  committed participant's day-ahead curve values its commitment at, minus what the grid's net
  supply of the commitments costs at the period's import/export price, as curve clearing
  counts it (`tefed.analysis.market_welfare.market_welfare_usd`):
  :math:`W^{DA}_k = \\sum_i B^{DA}_{i,d}(c_{i,k}) - g_d(\\sum_i c_{i,k})`;
- **real time**: the value of each participant's change along its real-time curve, from its
  commitment to its total, minus what the grid's supply of the changes adds at the interval's
  import/export price:
  :math:`W^{RT}_k = \\sum_i [B^{RT}_{i,k}(c_{i,k} + \\Delta_{i,k}) - B^{RT}_{i,k}(c_{i,k})]
  - [g_k(C_k + D_k) - g_k(C_k)]`, with :math:`C_k, D_k` the interval's net commitments and
  net changes; a participant without a real-time order keeps its commitment and adds nothing.

:math:`B` is `tefed.analysis.market_welfare.curve_benefit_usd` on the participant's curves summed
(a participant with several orders in one market is valued on their horizontal sum), and
:math:`g(N) = \\pi^{imp} \\max(N, 0) - \\pi^{exp} \\max(-N, 0)`. Energy is what was committed and
traded (whole Wh per market interval), so the first interval, which no real-time market
clears and whose commitments are not traded, is not counted.

References
----------
.. [1] D. J. Hammerstrom, "Transactive Energy Network Template (TENT)", PNNL,
   https://github.com/pnnl/tent (day-ahead and real-time markets, ``commitment``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tefed.analysis.market_welfare import curve_benefit_usd, order_curves
from tefed.domain.market.settlement import net_billing_amount_usd

_KEY = ["interval_index", "participant", "order_id"]


def day_ahead_welfare_usd(
    day_ahead_orders: pd.DataFrame,
    day_ahead_clearings: pd.DataFrame,
    day_ahead: pd.DataFrame,
    orders: pd.DataFrame,
    prices: pd.DataFrame,
    interval_s: float,
) -> dict[str, object]:
    """Welfare of the day-ahead market and of its real-time corrections over the run [USD].

    Parameters
    ----------
    day_ahead_orders : pandas.DataFrame
        ``market_day_ahead_orders``: the day-ahead curves as vertices, ``interval_index`` (the
        period's first market interval), ``participant``, ``order_id``, ``price_usd_per_kwh``
        [USD/kWh] and ``power_kw`` [kW] (import positive).
    day_ahead_clearings : pandas.DataFrame
        ``market_day_ahead_clearings``: per period ``interval_index`` (its first market
        interval), ``import_price_usd_per_kwh`` and ``export_price_usd_per_kwh`` [USD/kWh].
    day_ahead : pandas.DataFrame
        ``market_day_ahead``: per cleared interval and participant ``day_ahead_energy_wh``
        (commitment) and ``real_time_energy_wh`` (change) [Wh], import positive.
    orders : pandas.DataFrame
        ``market_orders``: the real-time orders (see `market_welfare.order_curves`).
    prices : pandas.DataFrame
        Per interval ``import_price_usd_per_kwh`` and ``export_price_usd_per_kwh`` [USD/kWh].
    interval_s : float
        Market interval [s].

    Returns
    -------
    dict
        ``welfare_usd`` (the sum of the two parts), ``day_ahead_welfare_usd``,
        ``real_time_welfare_usd`` [USD] and ``definition``.

    Examples
    --------
    One hourly period, one interval delivered: a committed to buy 0.5 kWh (its curve flat at
    0.12 USD/kWh), b to sell it (its cost rising from 0.05 at 0 to 0.10 at 0.75 kWh, so
    0.5 · (0.05 + 0.0833) / 2); the grid supplies nothing and nobody changes in real time:
    0.06 − 0.0333 = 0.0267 USD.

    >>> da_orders = pd.DataFrame({"interval_index": 0, "participant": ["a", "b", "b"],
    ...     "order_id": ["a0", "b0", "b0"], "price_usd_per_kwh": [0.12, 0.05, 0.10],
    ...     "power_kw": [2.0, 0.0, -3.0]})
    >>> clearings = pd.DataFrame({"interval_index": [0], "import_price_usd_per_kwh": [0.14],
    ...     "export_price_usd_per_kwh": [0.04]})
    >>> table = pd.DataFrame({"interval_index": 1, "participant": ["a", "b"],
    ...     "day_ahead_energy_wh": [500, -500], "real_time_energy_wh": 0})
    >>> no_orders = pd.DataFrame(columns=["interval_index", "participant", "order_id", "kind",
    ...     "side", "quantity_wh", "price_usd_per_kwh", "status", "order_json"])
    >>> prices = pd.DataFrame({"interval_index": [1], "import_price_usd_per_kwh": [0.14],
    ...     "export_price_usd_per_kwh": [0.04]})
    >>> found = day_ahead_welfare_usd(da_orders, clearings, table, no_orders, prices, 900)
    >>> round(found["day_ahead_welfare_usd"], 6), found["real_time_welfare_usd"]
    (0.026667, 0.0)
    """
    hours = interval_s / 3600.0
    committed_wh = day_ahead["day_ahead_energy_wh"].to_numpy(float)
    change_wh = day_ahead["real_time_energy_wh"].to_numpy(float)
    interval = day_ahead["interval_index"].to_numpy(np.int64)

    # Day-ahead: each interval's commitments on its period's curves.
    periods = day_ahead_clearings.sort_values("interval_index")
    starts = periods["interval_index"].to_numpy(np.int64)
    period = _period_of(starts, interval)
    da_curves = participant_curves(
        pd.DataFrame(
            {
                "interval_index": day_ahead_orders["interval_index"].to_numpy(np.int64),
                "participant": day_ahead_orders["participant"].to_numpy(dtype=object),
                "order_id": day_ahead_orders["order_id"].to_numpy(dtype=object),
                "price_usd_per_kwh": day_ahead_orders["price_usd_per_kwh"].to_numpy(float),
                "energy_kwh": day_ahead_orders["power_kw"].to_numpy(float) * hours,
            }
        ).sort_values([*_KEY, "price_usd_per_kwh", "energy_kwh"], ascending=[True] * 4 + [False])
    )
    held = committed_wh != 0
    da_benefit = curve_benefit_usd(
        da_curves,
        pd.DataFrame(
            {
                "interval_index": period[held],
                "participant": day_ahead["participant"].to_numpy(dtype=object)[held],
                "order_id": "",
                "energy_kwh": committed_wh[held] / 1000.0,
            }
        ),
    )
    net_committed_wh = pd.Series(committed_wh).groupby(interval).sum()
    period_prices = periods.set_index("interval_index").reindex(
        _period_of(starts, net_committed_wh.index.to_numpy(np.int64))
    )
    da_grid_usd = net_billing_amount_usd(
        net_committed_wh.to_numpy(float),
        period_prices["import_price_usd_per_kwh"].to_numpy(float),
        period_prices["export_price_usd_per_kwh"].to_numpy(float),
    )
    day_ahead_usd = float(da_benefit.sum() - da_grid_usd.sum())

    # Real time: each change along its participant's real-time curve, from the commitment.
    rt_curves = participant_curves(order_curves(orders, interval_s))
    curve_keys = pd.MultiIndex.from_frame(rt_curves[["interval_index", "participant"]])
    ordered = pd.MultiIndex.from_arrays(
        [interval, day_ahead["participant"].to_numpy(dtype=object)]
    ).isin(curve_keys)
    at = pd.DataFrame(
        {
            "interval_index": interval[ordered],
            "participant": day_ahead["participant"].to_numpy(dtype=object)[ordered],
            "order_id": "",
        }
    )
    rt_benefit = curve_benefit_usd(
        rt_curves, at.assign(energy_kwh=(committed_wh + change_wh)[ordered] / 1000.0)
    ) - curve_benefit_usd(rt_curves, at.assign(energy_kwh=committed_wh[ordered] / 1000.0))
    net_change_wh = pd.Series(change_wh).groupby(interval).sum()
    interval_prices = prices.set_index("interval_index").reindex(net_change_wh.index)
    imports = interval_prices["import_price_usd_per_kwh"].to_numpy(float)
    exports = interval_prices["export_price_usd_per_kwh"].to_numpy(float)
    rt_grid_usd = net_billing_amount_usd(
        (net_committed_wh + net_change_wh).to_numpy(float), imports, exports
    ) - net_billing_amount_usd(net_committed_wh.to_numpy(float), imports, exports)
    real_time_usd = float(rt_benefit.sum() - rt_grid_usd.sum())
    return {
        "welfare_usd": day_ahead_usd + real_time_usd,
        "day_ahead_welfare_usd": day_ahead_usd,
        "real_time_welfare_usd": real_time_usd,
        "definition": (
            "day-ahead: each commitment valued on its participant's day-ahead curve, minus the "
            "grid's net supply of the commitments at the period's import/export price; real "
            "time: each change valued on the participant's real-time curve from its commitment "
            "to its total, minus what the grid's supply of the changes adds at the interval's "
            "import/export price"
        ),
    }


def participant_curves(curves: pd.DataFrame) -> pd.DataFrame:
    """Each participant's curves of an interval summed into one (horizontally) [kWh, USD/kWh].

    Parameters
    ----------
    curves : pandas.DataFrame
        Vertices as `market_welfare.order_curves` gives them: ``interval_index``,
        ``participant``, ``order_id``, ``price_usd_per_kwh`` [USD/kWh] and ``energy_kwh``
        [kWh], sorted, each curve non-increasing and flat beyond its vertices.

    Returns
    -------
    pandas.DataFrame
        The same columns, one curve per (``interval_index``, ``participant``) with
        ``order_id`` ``""``, sorted likewise: at every vertex price of the participant's curves
        the sum of their energies just below and just above it.

    Examples
    --------
    A step bid of 1 kWh up to 0.20 and a flat bid of 0.5 kWh: 1.5 kWh up to 0.20, 0.5 above.

    >>> curves = pd.DataFrame({"interval_index": 1, "participant": "h",
    ...     "order_id": ["a", "a", "b"], "price_usd_per_kwh": [0.2, 0.2, 0.1],
    ...     "energy_kwh": [1.0, 0.0, 0.5]})
    >>> participant_curves(curves)[["price_usd_per_kwh", "energy_kwh"]].to_numpy().tolist()
    [[0.1, 1.5], [0.1, 1.5], [0.2, 1.5], [0.2, 0.5]]
    """
    group = ["interval_index", "participant"]
    orders_per = curves.groupby(group)["order_id"].transform("nunique")
    single = curves[orders_per.to_numpy() <= 1].assign(order_id="")
    summed = [single]
    for (interval, participant), rows in curves[orders_per.to_numpy() > 1].groupby(group):
        at = np.unique(rows["price_usd_per_kwh"].to_numpy(float))
        below = np.zeros(len(at))
        above = np.zeros(len(at))
        for _, curve in rows.groupby("order_id", sort=False):
            left, right = _limits(
                curve["price_usd_per_kwh"].to_numpy(float), curve["energy_kwh"].to_numpy(float), at
            )
            below += left
            above += right
        summed.append(
            pd.DataFrame(
                {
                    "interval_index": interval,
                    "participant": participant,
                    "order_id": "",
                    "price_usd_per_kwh": np.repeat(at, 2),
                    "energy_kwh": np.column_stack([below, above]).ravel(),
                }
            )
        )
    return (
        pd.concat(summed, ignore_index=True)
        .sort_values([*_KEY, "price_usd_per_kwh", "energy_kwh"], ascending=[True] * 4 + [False])
        .reset_index(drop=True)
    )


def _period_of(starts: np.ndarray, interval: np.ndarray) -> np.ndarray:
    """The day-ahead period (its first market interval) each market interval belongs to."""
    if not len(starts):
        return np.zeros(len(interval), dtype=np.int64)
    return starts[np.clip(np.searchsorted(starts, interval, side="right") - 1, 0, None)]


def _limits(price: np.ndarray, energy: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, ...]:
    """A curve's energy just below and just above each price of ``at`` (flat beyond it)."""
    last = len(price) - 1

    def between(lower: np.ndarray) -> np.ndarray:
        inside = (lower >= 0) & (lower < last)
        j = np.clip(lower, 0, max(last - 1, 0))
        upper = np.minimum(j + 1, last)
        span = price[upper] - price[j]
        slope = np.divide(energy[upper] - energy[j], span, out=np.zeros_like(span), where=span > 0)
        edge = np.where(lower < 0, energy[0], energy[last])
        return np.where(inside, energy[j] + slope * (at - price[j]), edge)

    below = between(np.searchsorted(price, at, side="left") - 1)
    above = between(np.searchsorted(price, at, side="right") - 1)
    return below, above
