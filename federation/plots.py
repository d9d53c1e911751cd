"""Figures of a run, written as PNG into ``plots/`` of the run folder."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from federates.runtime.federation_file import FederationFile
from federates.runtime.run_folder import RunFolder
from federation.grid_plots import feeder_profile_figure, substation_power_figure


def write_plots(
    folder: RunFolder, federation: FederationFile, tables: dict[str, pd.DataFrame]
) -> list[str]:
    """Write every figure the run's tables allow; returns their file names."""
    grid = federation.tefed.time.to_time_grid()
    written = []
    if "household_voltages" in tables:
        from federation.report import voltage_limits

        figure = household_voltages_figure(
            tables["household_voltages"],
            grid.calendar,
            voltage_limits(federation),
            tables.get("feeder_households"),
        )
        written.append(folder.write_figure("plots/household_voltages.png", figure).name)
        plt.close(figure)
    if {"prices", "market_intervals", "market_trades"} <= tables.keys():
        figure = market_figure(
            tables["prices"], tables["market_intervals"], tables["market_trades"]
        )
        written.append(folder.write_figure("plots/market_prices.png", figure).name)
        plt.close(figure)
    if "grid_nodes" in tables:
        from federation.report import voltage_limits

        figure = feeder_profile_figure(
            tables["grid_nodes"], grid.calendar, voltage_limits(federation)
        )
        written.append(folder.write_figure("plots/feeder_voltage_profile.png", figure).name)
        plt.close(figure)
    if "grid" in tables:
        figure = substation_power_figure(tables["grid"], grid.calendar)
        written.append(folder.write_figure("plots/substation_power.png", figure).name)
        plt.close(figure)
    if "households" in tables:
        figure = community_power_figure(tables["households"], tables.get("grid"), grid.calendar)
        written.append(folder.write_figure("plots/community_power.png", figure).name)
        plt.close(figure)
    return written


#: Up to this many households get a line and a box each; more are grouped by distance.
MAX_HOUSEHOLDS_SHOWN = 40


def household_voltages_figure(
    voltages: pd.DataFrame,
    calendar,
    limits_pu: tuple[float, float, float],
    attachment: pd.DataFrame | None = None,
) -> plt.Figure:
    """Household voltages over time, and their distributions as box plots (T-REX Fig. 7).

    ``limits_pu`` is the allowed band and the stricter upper limit [pu], drawn as lines. Up to
    `MAX_HOUSEHOLDS_SHOWN` households get a line and a box each; beyond that the left panel shows
    the minimum, median and maximum over households, and the boxes group households into as
    many bins by cable distance from the source (``attachment``: ``household_id``,
    ``distance_m``), nearest first.
    """
    low_pu, high_pu, upper_pu = limits_pu
    wide = voltages.pivot(index="time_s", columns="household_id", values="voltage_pu")
    times = calendar(wide.index.to_numpy())
    figure, (over_time, boxes) = plt.subplots(
        1, 2, figsize=(13, 4.5), gridspec_kw={"width_ratios": [2.2, 1]}, sharey=True
    )
    if wide.shape[1] <= MAX_HOUSEHOLDS_SHOWN:
        for household in wide.columns:
            over_time.plot(times, wide[household], linewidth=0.8, label=household)
        groups = {str(c): wide[c].to_numpy() for c in wide.columns}
        boxes.set_title("Distribution per household (whiskers 1–99 %)")
    else:
        values = wide.to_numpy()
        over_time.fill_between(
            times, np.nanmin(values, 1), np.nanmax(values, 1), alpha=0.3, label="min–max"
        )
        over_time.plot(times, np.nanmedian(values, 1), label="median")
        over_time.legend(fontsize=8)
        groups = _distance_groups(wide, attachment)
        boxes.set_title("By distance from the source (whiskers 1–99 %)")
    for axis in (over_time, boxes):
        for limit in (low_pu, high_pu):
            axis.axhline(limit, color="black", linestyle="--", linewidth=0.8)
        axis.axhline(upper_pu, color="tab:red", linestyle=":", linewidth=0.8)
        axis.grid(alpha=0.3)
    over_time.set_xlabel(f"local time ({times.tz})")
    over_time.set_ylabel("service voltage [pu]")
    over_time.set_title(
        f"Household voltages (dashed: {low_pu:g}–{high_pu:g} pu, dotted: {upper_pu:g} pu)"
    )
    figure.autofmt_xdate()
    # Whiskers at the 1st and 99th percentiles; with a day of one-minute samples per box,
    # single outliers would only hide the boxes.
    boxes.boxplot(
        [values[np.isfinite(values)] for values in groups.values()],
        tick_labels=list(groups),
        whis=(1, 99),
        showfliers=False,
    )
    every = max(1, len(groups) // 10)
    positions = np.arange(1, len(groups) + 1)
    boxes.set_xticks(positions[::every], list(groups)[::every])
    boxes.tick_params(axis="x", labelrotation=90, labelsize=8)
    return figure


def _distance_groups(wide: pd.DataFrame, attachment: pd.DataFrame | None) -> dict:
    """Households' voltage samples pooled in `MAX_HOUSEHOLDS_SHOWN` bins by distance."""
    if attachment is None or attachment["distance_m"].isna().all():
        order = np.arange(wide.shape[1])
        label = "households {}–{}"
    else:
        distance = attachment.set_index("household_id")["distance_m"].reindex(wide.columns)
        order = np.argsort(distance.to_numpy(), kind="stable")
        label = None
    groups = {}
    for number, chunk in enumerate(np.array_split(order, MAX_HOUSEHOLDS_SHOWN), start=1):
        if not chunk.size:
            continue
        if label is None:
            far = attachment.set_index("household_id")["distance_m"].reindex(wide.columns[chunk])
            name = f"{number}: ≤{far.max():.0f} m"
        else:
            name = label.format(chunk[0] + 1, chunk[-1] + 1)
        groups[name] = wide.iloc[:, chunk].to_numpy().ravel()
    return groups


def market_figure(
    prices: pd.DataFrame, intervals: pd.DataFrame, trades: pd.DataFrame
) -> plt.Figure:
    """Net-billing and wholesale prices, trade prices, and traded energy per interval."""
    figure, (price_axis, energy_axis) = plt.subplots(
        2, 1, figsize=(11, 6.5), sharex=True, gridspec_kw={"height_ratios": [2, 1]}
    )
    index = prices["interval_index"]
    price_axis.step(
        index, prices["import_price_usd_per_kwh"], where="post", label="import (retail)"
    )
    price_axis.step(index, prices["export_price_usd_per_kwh"], where="post", label="export")
    price_axis.step(
        index, prices["wholesale_price_usd_per_kwh"], where="post", label="wholesale", alpha=0.7
    )
    if len(trades):
        price_axis.scatter(
            trades["interval_index"] + 0.5,
            trades["price_usd_per_kwh"],
            s=12,
            color="tab:purple",
            label="trades",
            zorder=3,
        )
    price_axis.set_ylabel("price [USD/kWh]")
    price_axis.set_title("Prices and local trades")
    price_axis.legend(loc="center right", ncols=2, fontsize=8)
    price_axis.grid(alpha=0.3)
    if len(intervals):
        energy_axis.bar(
            intervals["interval_index"] + 0.5, intervals["traded_energy_wh"] / 1000.0, width=0.8
        )
    energy_axis.set_ylabel("traded [kWh]")
    energy_axis.set_xlabel("market interval")
    energy_axis.grid(alpha=0.3)
    return figure


def community_power_figure(
    households: pd.DataFrame, grid: pd.DataFrame | None, calendar
) -> plt.Figure:
    """Community load, PV generation, households' net power and substation power over time."""
    per_step = households.groupby("time_s")[["load_power_kw", "pv_power_kw", "power_kw"]].sum()
    times = calendar(per_step.index.to_numpy())
    figure, axis = plt.subplots(figsize=(11, 4.5))
    axis.plot(times, per_step["load_power_kw"], label="load")
    axis.plot(times, per_step["pv_power_kw"], label="PV generation")
    axis.plot(times, per_step["power_kw"], label="households' net power")
    if grid is not None:
        axis.plot(
            times, grid["substation_power_kw"].to_numpy(), label="substation (PCC)", linestyle="--"
        )
    axis.axhline(0, color="black", linewidth=0.6)
    axis.set_xlabel(f"local time ({times.tz})")
    axis.set_ylabel("power [kW]")
    axis.set_title("Community power")
    axis.legend(ncols=4, fontsize=8)
    axis.grid(alpha=0.3)
    figure.autofmt_xdate()
    return figure
