"""Figures of a run, written as PNG into ``plots/`` of the run folder.

`write_plots` draws every figure the run's tables allow; the figures themselves live by concept
in `household_plots`, `market_plots` and `grid_plots` of this package, and the community's
power here.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd

from tefed.analysis.kpis import household_interval_bills
from tefed.analysis.received_messages import run_settlements, run_trades
from tefed.analysis.summary import voltage_limits
from tefed.contract.federation_file import FederationFile
from tefed.contract.run_folder import RunFolder
from tefed.reporting.grid_plots import feeder_profile_figure, pcc_figure
from tefed.reporting.household_plots import (
    Calendar,
    household_voltages_figure,
    income_advantage_figure,
    voltage_by_hour_figure,
)
from tefed.reporting.market_plots import (
    community_prices_figure,
    day_ahead_figure,
    dlmp_figure,
    negotiation_figure,
    settlement_prices_figure,
)

#: What each figure shows, by file name, in the order a report lists them.
PLOT_TITLES = {
    "community_power.png": "Community load and generation (T-REX Fig. 6)",
    "income_advantage.png": "Cumulative income advantage over net billing (T-REX Fig. 4)",
    "market_prices.png": "Settlement prices by pool and the grid's prices (T-REX Fig. 5)",
    "dlmp_by_bus.png": "DLMP by bus (OpenGridGym Fig. 10)",
    "negotiations.png": "P2P negotiation outcomes and rounds to agreement",
    "community_prices.png": "Prices per community and across communities",
    "day_ahead.png": "Day-ahead commitments and their real-time corrections (TENT version 2)",
    "pcc.png": "Power at the point of common coupling and voltages (Rana et al. Figs. 11–12)",
    "voltage_by_hour.png": "Household voltages by hour of the day (T-REX Fig. 7)",
    "household_voltages.png": "Household voltages over time and per household",
    "feeder_voltage_profile.png": "Feeder voltage profile at the worst instant",
}


def write_plots(
    folder: RunFolder, federation: FederationFile, tables: dict[str, pd.DataFrame]
) -> list[str]:
    """Write every figure the run's tables allow into ``plots/``.

    Parameters
    ----------
    folder : RunFolder
        The run's folder.
    federation : FederationFile
        The run's federation file (time grid, voltage limits).
    tables : dict of str to pandas.DataFrame
        The run's tables by name (`tefed.analysis.run_tables.read_run_tables`).

    Returns
    -------
    list of str
        File names written, in the order of `PLOT_TITLES`.
    """
    time = federation.tefed.time
    calendar = time.to_time_grid().calendar
    interval_s = int(time.market_interval_s)
    limits_pu = voltage_limits(federation)
    voltages = tables.get("household_voltages")
    # The market's own tables, or what the households received from a market that wrote none.
    settlements, trades = run_settlements(tables), run_trades(tables)
    figures: dict[str, Callable[[], plt.Figure]] = {}
    if "households" in tables:
        figures["community_power.png"] = lambda: community_power_figure(
            tables["households"], tables.get("grid"), calendar
        )
    if settlements is not None and {"household_intervals", "prices"} <= tables.keys():
        figures["income_advantage.png"] = lambda: income_advantage_figure(
            household_interval_bills(settlements, tables["household_intervals"], tables["prices"]),
            calendar,
            interval_s,
        )
    if trades is not None and "prices" in tables:
        figures["market_prices.png"] = lambda: settlement_prices_figure(
            tables["prices"], trades, calendar, interval_s
        )
    if "market_dlmp" in tables and len(tables["market_dlmp"]):
        nodes = tables.get("grid_nodes")
        distance = None if nodes is None else nodes.groupby("bus")["distance_m"].first()
        figures["dlmp_by_bus.png"] = lambda: dlmp_figure(
            tables["market_dlmp"], calendar, interval_s, distance
        )
    if "market_negotiations" in tables and len(tables["market_negotiations"]):
        figures["negotiations.png"] = lambda: negotiation_figure(
            tables["market_negotiations"], calendar, interval_s
        )
    if "market_communities" in tables and len(tables["market_communities"]):
        figures["community_prices.png"] = lambda: community_prices_figure(
            tables["market_communities"], calendar, interval_s
        )
    if "market_day_ahead" in tables and len(tables["market_day_ahead"]):
        figures["day_ahead.png"] = lambda: day_ahead_figure(
            tables["market_day_ahead"], calendar, interval_s
        )
    if "grid" in tables:
        figures["pcc.png"] = lambda: pcc_figure(tables["grid"], voltages, calendar, limits_pu)
    if voltages is not None:
        figures["voltage_by_hour.png"] = lambda: voltage_by_hour_figure(
            voltages, calendar, limits_pu
        )
        figures["household_voltages.png"] = lambda: household_voltages_figure(
            voltages, calendar, limits_pu, tables.get("feeder_households")
        )
    if "grid_nodes" in tables:
        figures["feeder_voltage_profile.png"] = lambda: feeder_profile_figure(
            tables["grid_nodes"], calendar, limits_pu
        )
    names = [name for name in PLOT_TITLES if name in figures]
    _draw_on_two_cores(folder, {name: figures[name] for name in names})
    return names


#: Resident memory above which the report draws its figures in one process [MB].
FORK_LIMIT_MB = 512


def _resident_mb() -> float:
    """This process's resident memory [MB] (its peak where the current one is not known)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def _draw(folder: RunFolder, figures: dict[str, Callable[[], plt.Figure]]) -> None:
    for name, draw in figures.items():
        figure = draw()
        folder.write_figure(f"plots/{name}", figure)
        plt.close(figure)


def _draw_on_two_cores(folder: RunFolder, figures: dict[str, Callable[[], plt.Figure]]) -> None:
    """Draw every other figure in a forked child while this process draws the rest.

    Rendering PNGs is most of a short run's report (about 2.5 s of the default day's 8 s);
    the federates have ended by then, so a second core is free. A child that fails leaves its
    figures to this process, which then raises the error they give. A process above
    `FORK_LIMIT_MB` draws alone: its child would count its memory a second time in the run's
    summed RSS (and copy the pages it touches), where the figures are a small share of the time.
    """
    names = list(figures)
    usable_cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    if usable_cores < 2 or len(names) < 2 or _resident_mb() > FORK_LIMIT_MB:
        _draw(folder, figures)
        return
    theirs = {name: figures[name] for name in names[1::2]}
    child = os.fork()
    if child == 0:  # pragma: no cover (the child's coverage is not collected)
        code = 1
        try:
            _draw(folder, theirs)
            code = 0
        finally:
            os._exit(code)
    try:
        _draw(folder, {name: figures[name] for name in names[::2]})
    finally:
        _, status = os.waitpid(child, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        _draw(folder, theirs)


def community_power_figure(
    households: pd.DataFrame, grid: pd.DataFrame | None, calendar: Calendar
) -> plt.Figure:
    """Community consumption, PV generation, battery, net power and PCC power over the day.

    Parameters
    ----------
    households : pandas.DataFrame
        Per step and household: ``time_s`` [s], ``load_power_kw``, ``pv_power_kw``,
        ``battery_power_kw`` (positive = charging), ``power_kw`` [kW] and, when recorded,
        ``ev_power_kw`` [kW].
    grid : pandas.DataFrame or None
        Per step: ``substation_power_kw`` [kW] (includes the feeder losses).
    calendar : callable
        Simulated seconds to local timestamps.

    Notes
    -----
    Sums over the households tefed recorded; households run by an external program are not in
    them, but their power is in the substation's.
    """
    columns = ["load_power_kw", "pv_power_kw", "battery_power_kw", "power_kw"]
    if "ev_power_kw" in households:
        columns.append("ev_power_kw")
    per_step = households.groupby("time_s")[columns].sum()
    times = calendar(per_step.index.to_numpy())
    figure, axis = plt.subplots(figsize=(11, 4.5))
    consumption = per_step["load_power_kw"] + per_step.get("ev_power_kw", 0.0)
    axis.fill_between(times, consumption, color="tab:blue", alpha=0.25, label="load (incl. EV)")
    axis.fill_between(
        times, per_step["pv_power_kw"], color="gold", alpha=0.45, label="PV generation"
    )
    axis.plot(times, per_step["battery_power_kw"], color="tab:purple", label="batteries (+ charge)")
    axis.plot(times, per_step["power_kw"], color="black", label="households' net power")
    if grid is not None:
        axis.plot(
            times,
            grid["substation_power_kw"].to_numpy(),
            color="tab:red",
            linestyle="--",
            label="PCC (substation, with losses)",
        )
    axis.axhline(0, color="black", linewidth=0.6)
    axis.set_xlabel(f"local time ({times.tz})")
    axis.set_ylabel("power [kW]")
    axis.set_title(
        f"Community load and generation ({households['household_id'].nunique()} households)"
    )
    axis.legend(ncols=3, fontsize=8, loc="upper left")
    axis.grid(alpha=0.3)
    figure.autofmt_xdate()
    return figure
