"""Congestion KPIs of network-constrained markets: DLMP separation and what consumers paid.

Pure functions over the market's and households' recorded tables (no file I/O).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tefed.domain.network.feeder_topology import bus_name

#: DLMP spread across buses above which an interval counts as congested [USD/kWh].
DLMP_SPREAD_TOLERANCE_USD_PER_KWH = 1e-6


def dlmp_congestion(
    dlmp: pd.DataFrame,
    binding: pd.DataFrame,
    tolerance_usd_per_kwh: float = DLMP_SPREAD_TOLERANCE_USD_PER_KWH,
) -> dict[str, object]:
    """How far the DLMPs of a run separate across buses, and which thermal limits bind.

    Parameters
    ----------
    dlmp : pandas.DataFrame
        Per interval and bus: ``interval_index``, ``bus``, ``dlmp_usd_per_kwh`` [USD/kWh], NaN
        in an interval the clearing did not solve.
    binding : pandas.DataFrame
        ``interval_index`` and ``branch`` of every branch at its thermal limit.
    tolerance_usd_per_kwh : float
        Spread above which an interval counts as separated [USD/kWh].

    Returns
    -------
    dict
        ``intervals_priced`` (intervals with a DLMP at every bus), ``max_dlmp_spread_usd_per_kwh``
        and ``mean_dlmp_spread_usd_per_kwh`` over them (NaN without any),
        ``intervals_with_dlmp_spread``, ``intervals_with_binding_branch`` and
        ``binding_branch_intervals`` (intervals each branch bound in).

    Notes
    -----
    The spread of interval *k* is :math:`\\max_b \\lambda_{b,k} - \\min_b \\lambda_{b,k}` over
    the buses *b*. LinDistFlow has no losses, so without a binding limit every DLMP is the
    substation's price and the spread is zero to solver precision; a binding thermal or
    voltage limit separates them.

    References
    ----------
    .. [1] R. El Helou et al., "OpenGridGym: An Open-Source AI-Friendly Toolkit for
       Distribution Market Simulation", arXiv:2203.04410 (2022).

    Examples
    --------
    Three buses; in the second interval a binding line puts one bus at 0.20 USD/kWh:

    >>> dlmp = pd.DataFrame({"interval_index": [1, 1, 1, 2, 2, 2],
    ...     "bus": ["s", "a", "b"] * 2, "dlmp_usd_per_kwh": [0.05] * 5 + [0.20]})
    >>> found = dlmp_congestion(dlmp, pd.DataFrame({"interval_index": [2], "branch": ["Line.ab"]}))
    >>> [round(found[f"{k}_dlmp_spread_usd_per_kwh"], 9) for k in ("max", "mean")]
    [0.15, 0.075]
    >>> found["intervals_with_dlmp_spread"], found["binding_branch_intervals"]
    (1, {'Line.ab': 1})
    """
    by_interval = dlmp.groupby("interval_index")["dlmp_usd_per_kwh"]
    priced = by_interval.count() == by_interval.size()
    spread = (by_interval.max() - by_interval.min())[priced]
    per_branch = binding.groupby("branch")["interval_index"].nunique()
    return {
        "intervals_priced": int(priced.sum()),
        "max_dlmp_spread_usd_per_kwh": float(spread.max()) if len(spread) else float("nan"),
        "mean_dlmp_spread_usd_per_kwh": float(spread.mean()) if len(spread) else float("nan"),
        "intervals_with_dlmp_spread": int((spread > tolerance_usd_per_kwh).sum()),
        "intervals_with_binding_branch": int(binding["interval_index"].nunique()),
        "binding_branch_intervals": {str(k): int(v) for k, v in per_branch.items()},
    }


def consumer_prices(
    household_intervals: pd.DataFrame,
    household_bus: pd.Series,
    dlmp: pd.DataFrame | None = None,
) -> dict[str, float]:
    """Volume-weighted prices the households paid for the energy they drew from the grid.

    Parameters
    ----------
    household_intervals : pandas.DataFrame
        Per interval and household: ``interval_index``, ``household_id``, ``energy_wh``
        (metered net energy drawn, negative when exporting) [Wh] and ``bill_usd`` (what the
        market settled for it, NaN where not settled) [USD].
    household_bus : pandas.Series
        Bus of each household to count, indexed by household id; others (such as the
        community battery's agent) are left out.
    dlmp : pandas.DataFrame, optional
        ``interval_index``, ``bus`` (lower case), ``dlmp_usd_per_kwh`` [USD/kWh] (DLMP market).

    Returns
    -------
    dict
        ``consumer_energy_kwh`` (drawn in the settled household-intervals that drew energy)
        [kWh], ``consumer_price_usd_per_kwh`` (their bills over that energy) [USD/kWh]; with
        ``dlmp`` also ``consumer_dlmp_usd_per_kwh`` (that energy valued at its bus's DLMP)
        [USD/kWh] and ``consumer_energy_unpriced_kwh`` (drawn where the bus had no DLMP) [kWh].

    Notes
    -----
    A household buys in an interval when its metered net energy :math:`E_{h,k} > 0`. With
    :math:`B_{h,k}` its bill of the interval (trades, deviations from its awards at net-billing
    prices, credits for unused awards) the consumer price is
    :math:`\\sum B_{h,k} / \\sum E_{h,k}` over those household-intervals, and the DLMP price
    :math:`\\sum E_{h,k} \\lambda_{b(h),k} / \\sum E_{h,k}`: the average price of the energy
    consumers drew if all of it were settled at its bus's DLMP (OpenGridGym's market settles
    consumption there), whatever tefed's settlement of deviations adds.

    References
    ----------
    .. [1] R. El Helou et al., "OpenGridGym: An Open-Source AI-Friendly Toolkit for
       Distribution Market Simulation", arXiv:2203.04410 (2022).

    Examples
    --------
    h1 draws 1 kWh billed 0.10 USD at a DLMP of 0.10; h2 draws 2 kWh billed 0.50 USD at 0.20,
    then exports (left out): (0.10 + 0.50) / 3 = 0.20 and (0.10 + 2 · 0.20) / 3 = 0.1667.

    >>> intervals = pd.DataFrame({"interval_index": [1, 1, 2], "household_id": ["h1", "h2", "h2"],
    ...     "energy_wh": [1000.0, 2000.0, -500.0], "bill_usd": [0.10, 0.50, -0.02]})
    >>> dlmp = pd.DataFrame({"interval_index": [1, 1, 2, 2], "bus": ["a", "b"] * 2,
    ...     "dlmp_usd_per_kwh": [0.10, 0.20, 0.04, 0.04]})
    >>> found = consumer_prices(intervals, pd.Series({"h1": "A", "h2": "b"}), dlmp)
    >>> round(found["consumer_price_usd_per_kwh"], 9), round(found["consumer_dlmp_usd_per_kwh"], 4)
    (0.2, 0.1667)
    """
    counted = household_intervals[household_intervals["household_id"].isin(household_bus.index)]
    buying = counted[(counted["energy_wh"] > 0) & counted["bill_usd"].notna()]
    energy_wh = buying["energy_wh"].to_numpy(float)
    drawn_wh = float(energy_wh.sum())
    found = {
        "consumer_energy_kwh": drawn_wh / 1000.0,
        "consumer_price_usd_per_kwh": (
            float(buying["bill_usd"].sum()) * 1000.0 / drawn_wh if drawn_wh > 0 else float("nan")
        ),
    }
    if dlmp is not None:
        price = dlmp.set_index(["interval_index", "bus"])["dlmp_usd_per_kwh"]
        bus = buying["household_id"].map(household_bus.map(bus_name))
        at_bus = price.reindex(pd.MultiIndex.from_arrays([buying["interval_index"], bus]))
        known = np.isfinite(at_bus.to_numpy(float))
        priced_wh = float(energy_wh[known].sum())
        found["consumer_dlmp_usd_per_kwh"] = (
            float(energy_wh[known] @ at_bus.to_numpy(float)[known]) / priced_wh
            if priced_wh > 0
            else float("nan")
        )
        found["consumer_energy_unpriced_kwh"] = (drawn_wh - priced_wh) / 1000.0
    return found
