"""Figures of the market: settlement prices over the day (T-REX Fig. 5), DLMP by bus, P2P
negotiation outcomes, and prices per community and across.

Every function takes tables and returns a matplotlib figure; the caller saves and closes it.

References
----------
.. [1] D. Zhang, H. Gül, P. Musilek, "T-REX: a transactive energy market simulator"
   (University of Alberta): Fig. 5 (settlement prices by source, grid prices).
.. [2] R. El Helou et al., "OpenGridGym: An Open-Source AI-Friendly Toolkit for Distribution
   Market Simulation", arXiv:2203.04410 (2022): Fig. 10 (DLMP by bus).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from tefed.contract.messages import POOLS
from tefed.reporting.household_plots import Calendar

#: Colour of each pool's trades (T-REX: PV energy is non-dispatchable, battery dispatchable).
POOL_COLOURS = {"non_dispatchable": "tab:orange", "dispatchable": "tab:purple"}
#: Up to this many buses get a line each in the DLMP figure; more are drawn as a band.
MAX_BUSES_SHOWN = 30


def settlement_prices_figure(
    prices: pd.DataFrame,
    trades: pd.DataFrame,
    calendar: Calendar,
    interval_s: int,
) -> plt.Figure:
    """Trade prices over the day by pool, against the grid's import and export prices.

    Parameters
    ----------
    prices : pandas.DataFrame
        Per interval: ``interval_index``, ``import_price_usd_per_kwh``,
        ``export_price_usd_per_kwh`` and ``wholesale_price_usd_per_kwh`` [USD/kWh].
    trades : pandas.DataFrame
        Per trade: ``interval_index``, ``buyer``, ``seller``, ``quantity_wh`` [Wh],
        ``price_usd_per_kwh`` [USD/kWh] and ``pool``.
    calendar : callable
        Simulated seconds to local timestamps.
    interval_s : int
        Market interval [s].

    Notes
    -----
    Top: each trade at the middle of its delivery interval, coloured by pool; a trade between
    two households is a dot, one with the market or the grid as counterparty (curve clearing,
    DLMP) a cross. Bottom: energy bought by households per interval, stacked by pool.
    """
    figure, (price_axis, energy_axis) = plt.subplots(
        2, 1, figsize=(11, 6.5), sharex=True, gridspec_kw={"height_ratios": [2, 1]}
    )
    starts = calendar(prices["interval_index"].to_numpy() * interval_s)
    for column, label, style in (
        ("import_price_usd_per_kwh", "grid import (retail)", {"color": "tab:red"}),
        ("export_price_usd_per_kwh", "grid export (feed-in)", {"color": "tab:green"}),
        ("wholesale_price_usd_per_kwh", "wholesale", {"color": "0.5", "alpha": 0.7}),
    ):
        price_axis.step(starts, prices[column], where="post", label=label, **style)
    central = trades["buyer"].isin(("market", "grid")) | trades["seller"].isin(("market", "grid"))
    bought = ~trades["buyer"].isin(("market", "grid"))
    middle = calendar(trades["interval_index"].to_numpy() * interval_s + interval_s // 2)
    pools = list(POOLS) + sorted(set(trades["pool"].dropna()) - set(POOLS))
    for pool in pools:
        colour = POOL_COLOURS.get(pool, "tab:blue")
        for is_central, marker, kind in ((False, "o", "peer"), (True, "x", "with market/grid")):
            chosen = ((trades["pool"] == pool) & (central == is_central)).to_numpy()
            if chosen.any():
                price_axis.scatter(
                    middle[chosen],
                    trades.loc[chosen, "price_usd_per_kwh"],
                    s=14,
                    marker=marker,
                    color=colour,
                    label=f"{pool.replace('_', '-')} trades ({kind})",
                    zorder=3,
                )
    price_axis.set_ylabel("price [USD/kWh]")
    price_axis.set_title("Settlement prices of local trades and the grid's prices")
    price_axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    price_axis.grid(alpha=0.3)
    purchases = trades[bought]
    per_pool = (
        purchases.groupby(["interval_index", "pool"])["quantity_wh"].sum().unstack(fill_value=0)
        / 1000.0
    )
    bottom = np.zeros(len(per_pool))
    width = pd.Timedelta(seconds=interval_s * 0.8)
    middles = calendar(per_pool.index.to_numpy() * interval_s + interval_s // 2)
    for pool in per_pool.columns:
        energy_axis.bar(
            middles,
            per_pool[pool],
            width=width,
            bottom=bottom,
            color=POOL_COLOURS.get(pool, "tab:blue"),
            label=pool.replace("_", "-"),
        )
        bottom += per_pool[pool].to_numpy()
    energy_axis.set_ylabel("bought [kWh]")
    energy_axis.set_xlabel(f"local time ({starts.tz})")
    energy_axis.grid(alpha=0.3)
    if len(per_pool.columns):
        energy_axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure.autofmt_xdate()
    return figure


def dlmp_figure(
    dlmp: pd.DataFrame,
    calendar: Calendar,
    interval_s: int,
    distance_m: pd.Series | None = None,
) -> plt.Figure:
    """Distribution locational marginal prices by bus over time and at the most congested interval.

    Parameters
    ----------
    dlmp : pandas.DataFrame
        Per interval and bus: ``interval_index``, ``bus``, ``dlmp_usd_per_kwh`` [USD/kWh].
    calendar : callable
        Simulated seconds to local timestamps.
    interval_s : int
        Market interval [s].
    distance_m : pandas.Series, optional
        Cable distance of each bus from the source [m], indexed by bus: orders the buses.

    Notes
    -----
    Left: each bus's DLMP over the day (up to `MAX_BUSES_SHOWN` buses; beyond, the minimum,
    median and maximum over buses). Right: every bus's DLMP in the interval where prices spread
    most (``max − min`` over buses), buses ordered by distance from the source when known:
    congestion shows as the price step behind the binding line (OpenGridGym Fig. 10).
    """
    wide = dlmp.pivot(index="interval_index", columns="bus", values="dlmp_usd_per_kwh")
    if distance_m is not None:
        order = distance_m.reindex(wide.columns).fillna(np.inf).sort_values(kind="stable")
        wide = wide[order.index]
    times = calendar(wide.index.to_numpy() * interval_s)
    figure, (over_time, at_worst) = plt.subplots(
        1, 2, figsize=(13, 4.5), gridspec_kw={"width_ratios": [1.6, 1]}
    )
    if wide.shape[1] <= MAX_BUSES_SHOWN:
        for bus in wide.columns:
            over_time.step(times, wide[bus], where="post", linewidth=0.9, label=str(bus))
        over_time.legend(ncols=3, fontsize=6, loc="upper left")
    else:
        values = wide.to_numpy()
        over_time.fill_between(
            times, np.nanmin(values, 1), np.nanmax(values, 1), step="post", alpha=0.3,
            label="min–max over buses",
        )  # fmt: skip
        over_time.step(times, np.nanmedian(values, 1), where="post", label="median bus")
        over_time.legend(fontsize=8)
    over_time.set_xlabel(f"local time ({times.tz})")
    over_time.set_ylabel("DLMP [USD/kWh]")
    over_time.set_title("DLMP of every bus over the day")
    over_time.grid(alpha=0.3)
    spread = (wide.max(axis=1) - wide.min(axis=1)).fillna(-1.0)
    worst = spread.idxmax()
    positions = np.arange(wide.shape[1])
    at_worst.plot(positions, wide.loc[worst].to_numpy(), marker="o", markersize=4)
    every = max(1, wide.shape[1] // 25)
    at_worst.set_xticks(positions[::every], [str(b) for b in wide.columns][::every])
    at_worst.tick_params(axis="x", labelrotation=90, labelsize=7)
    at_worst.set_ylabel("DLMP [USD/kWh]")
    when = calendar(np.array([int(worst) * interval_s]))[0]
    congested = spread.loc[worst] > 1e-6
    at_worst.set_title(
        f"By bus at the most congested interval ({when:%H:%M}): spread "
        f"{spread.loc[worst]:.4f} USD/kWh"
        if congested
        else f"By bus at {when:%H:%M}: no congestion, one price at every bus",
        fontsize=10,
    )
    at_worst.set_xlabel("bus (by distance from the source)" if distance_m is not None else "bus")
    at_worst.grid(alpha=0.3)
    over_time.tick_params(axis="x", labelrotation=30)
    return figure


#: Colour of each negotiation outcome.
OUTCOME_COLOURS = {"traded": "tab:green", "failed": "tab:red", "refused": "tab:gray"}


def negotiation_figure(
    negotiations: pd.DataFrame, calendar: Calendar, interval_s: int
) -> plt.Figure:
    """P2P negotiation outcomes per interval, and the rounds deals took.

    Parameters
    ----------
    negotiations : pandas.DataFrame
        ``market_negotiations``: ``interval_index``, ``outcome`` and ``rounds`` per pair.
    calendar : callable
        Simulated seconds to local timestamps.
    interval_s : int
        Market interval [s].

    Notes
    -----
    Left: pairs per interval stacked by outcome (traded, failed, refused by the grid check),
    with the run's success rate (traded of negotiated pairs) in the title. Right: how many deals
    closed in each round.
    """
    counts = (
        negotiations.groupby(["interval_index", "outcome"]).size().unstack(fill_value=0)
        .reindex(columns=list(OUTCOME_COLOURS), fill_value=0)
    )  # fmt: skip
    times = calendar(counts.index.to_numpy() * interval_s)
    figure, (per_interval, by_round) = plt.subplots(
        1, 2, figsize=(13, 4.5), gridspec_kw={"width_ratios": [1.6, 1]}
    )
    bottom = np.zeros(len(counts))
    width = pd.Timedelta(seconds=interval_s * 0.8)
    for outcome, colour in OUTCOME_COLOURS.items():
        per_interval.bar(
            times, counts[outcome], width=width, bottom=bottom, color=colour, label=outcome,
            align="edge",
        )  # fmt: skip
        bottom += counts[outcome].to_numpy()
    negotiated = counts["traded"].sum() + counts["failed"].sum()
    rate = f"{100.0 * counts['traded'].sum() / negotiated:.0f} %" if negotiated else "n/a"
    per_interval.set_title(f"Pairs per interval by outcome (success rate {rate})")
    per_interval.set_xlabel(f"local time ({times.tz})")
    per_interval.set_ylabel("pairs")
    per_interval.legend(fontsize=8)
    per_interval.grid(alpha=0.3)
    per_interval.tick_params(axis="x", labelrotation=30)
    deals = negotiations.loc[negotiations["outcome"] == "traded", "rounds"]
    rounds = deals.value_counts().sort_index()
    by_round.bar(rounds.index.to_numpy(), rounds.to_numpy(), color=OUTCOME_COLOURS["traded"])
    by_round.set_xlabel("round of the deal")
    by_round.set_ylabel("deals")
    by_round.set_title("Rounds to agreement")
    by_round.grid(alpha=0.3)
    return figure


def community_prices_figure(
    communities: pd.DataFrame, calendar: Calendar, interval_s: int
) -> plt.Figure:
    """Each community's local price and the upper market's price across, over the day.

    Parameters
    ----------
    communities : pandas.DataFrame
        ``market_communities``: ``interval_index``, ``community``, ``pool``,
        ``local_price_usd_per_kwh``, ``upper_price_usd_per_kwh`` [USD/kWh],
        ``upper_bought_wh`` and ``upper_sold_wh`` [Wh].
    calendar : callable
        Simulated seconds to local timestamps.
    interval_s : int
        Market interval [s].

    Notes
    -----
    Top: one marker per community and interval at its local price, and the upper price as a
    black line. Bottom: each community's net purchase across [kWh] (negative: it sells).
    """
    figure, (prices, across) = plt.subplots(2, 1, figsize=(12, 7), sharex=True)
    for name, rows in communities.groupby("community", sort=True):
        times = calendar(rows["interval_index"].to_numpy() * interval_s)
        prices.plot(times, rows["local_price_usd_per_kwh"], marker="o", markersize=3,
                    linestyle="none", label=str(name))  # fmt: skip
        net_kwh = (rows["upper_bought_wh"] - rows["upper_sold_wh"]).to_numpy() / 1000.0
        across.step(times, net_kwh, where="post", label=str(name))
    upper = communities.groupby("interval_index")["upper_price_usd_per_kwh"].first().dropna()
    upper_times = calendar(upper.index.to_numpy() * interval_s)
    prices.plot(upper_times, upper.to_numpy(), color="black", marker="x", linestyle="none",
                label="upper market")  # fmt: skip
    prices.set_ylabel("price [USD/kWh]")
    prices.set_title("Price in each community and across communities")
    prices.legend(fontsize=8)
    prices.grid(alpha=0.3)
    across.set_ylabel("bought across [kWh]")
    across.set_xlabel(f"local time ({upper_times.tz if len(upper) else 'local'})")
    across.legend(fontsize=8)
    across.grid(alpha=0.3)
    across.tick_params(axis="x", labelrotation=30)
    return figure


def day_ahead_figure(day_ahead: pd.DataFrame, calendar: Calendar, interval_s: int) -> plt.Figure:
    """Day-ahead against real-time prices and energy, per market interval (TENT version 2).

    Parameters
    ----------
    day_ahead : pandas.DataFrame
        ``market_day_ahead``: per interval and participant the commitment and its real-time
        change [Wh] and both prices [USD/kWh].
    calendar : callable
        Simulated seconds to local timestamps.
    interval_s : int
        Market interval [s].

    Notes
    -----
    Top: the day-ahead price of each interval's period and the real-time price. Bottom: the
    energy the households committed to buy (positive) and sell (negative) day-ahead, and the
    changes they traded in real time.
    """
    by_interval = day_ahead.groupby("interval_index")
    prices = by_interval[["day_ahead_price_usd_per_kwh", "real_time_price_usd_per_kwh"]].first()
    signed = (
        day_ahead.assign(
            day_ahead_bought=day_ahead["day_ahead_energy_wh"].clip(lower=0),
            day_ahead_sold=day_ahead["day_ahead_energy_wh"].clip(upper=0),
            real_time_change=day_ahead["real_time_energy_wh"],
        )
        .groupby("interval_index")[["day_ahead_bought", "day_ahead_sold", "real_time_change"]]
        .sum()
    )
    times = calendar(prices.index.to_numpy() * interval_s)
    figure, (price_axis, energy_axis) = plt.subplots(2, 1, figsize=(11, 6), sharex=True)
    price_axis.step(times, prices["day_ahead_price_usd_per_kwh"], where="post", label="day-ahead")
    price_axis.step(times, prices["real_time_price_usd_per_kwh"], where="post", label="real-time")
    price_axis.set_ylabel("price [USD/kWh]")
    price_axis.legend(fontsize=8)
    price_axis.grid(alpha=0.3)
    width = pd.Timedelta(seconds=interval_s)
    energy_axis.bar(times, signed["day_ahead_bought"] / 1000.0, width, align="edge",
                    label="day-ahead bought", alpha=0.6)  # fmt: skip
    energy_axis.bar(times, signed["day_ahead_sold"] / 1000.0, width, align="edge",
                    label="day-ahead sold", alpha=0.6)  # fmt: skip
    energy_axis.step(times, signed["real_time_change"] / 1000.0, where="post", color="black",
                     linewidth=0.9, label="real-time change (net)")  # fmt: skip
    energy_axis.set_ylabel("energy per interval [kWh]")
    energy_axis.set_xlabel(f"local time ({times.tz})")
    energy_axis.legend(fontsize=8)
    energy_axis.grid(alpha=0.3)
    figure.tight_layout()
    return figure
