"""Figures of the feeder: voltage profile at the worst instant, PCC power and voltages over time."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from tefed.reporting.household_plots import Calendar

#: Colours of phases A, B and C in every grid figure.
PHASE_COLOURS = {1: "tab:orange", 2: "tab:green", 3: "tab:blue"}
#: Nodes 1 and 2 are phases A and B, or the two legs of a split-phase secondary.
NODE_LABELS = {1: "node 1 (A or leg 1)", 2: "node 2 (B or leg 2)", 3: "node 3 (C)"}


def feeder_profile_figure(
    nodes: pd.DataFrame, calendar: Calendar, limits_pu: tuple[float, float, float]
) -> plt.Figure:
    """Voltage of every node against its cable distance from the source, at the worst instant.

    Parameters
    ----------
    nodes : pandas.DataFrame
        Per node: ``phase`` (1–3), ``distance_m`` [m], ``worst_instant_voltage_pu`` [pu],
        ``worst_instant_time_s`` [s], and the run's ``min_pu`` and ``max_pu`` [pu].
    calendar : callable
        Simulated seconds to local timestamps.
    limits_pu : tuple of float
        Allowed band and the stricter upper limit [pu], drawn as lines.
    """
    low_pu, high_pu, upper_pu = limits_pu
    shown = nodes[nodes["phase"].between(1, 3) & nodes["worst_instant_voltage_pu"].notna()]
    figure, axis = plt.subplots(figsize=(11, 4.5))
    distance_km = shown["distance_m"] / 1000.0
    axis.vlines(
        distance_km,
        shown["min_pu"],
        shown["max_pu"],
        color="0.8",
        linewidth=0.8,
        label="range over the run",
    )
    for phase, colour in PHASE_COLOURS.items():
        chosen = shown["phase"] == phase
        axis.scatter(
            distance_km[chosen],
            shown.loc[chosen, "worst_instant_voltage_pu"],
            s=8,
            color=colour,
            label=NODE_LABELS[phase],
            zorder=3,
        )
    for limit in (low_pu, high_pu):
        axis.axhline(limit, color="black", linestyle="--", linewidth=0.8)
    axis.axhline(upper_pu, color="tab:red", linestyle=":", linewidth=0.8)
    if len(shown):
        when = calendar(np.array([int(shown["worst_instant_time_s"].iloc[0])]))[0]
        axis.set_title(f"Feeder voltage profile at the worst instant ({when:%Y-%m-%d %H:%M %Z})")
    axis.set_xlabel("cable distance from the source [km]")
    axis.set_ylabel("node voltage [pu]")
    axis.legend(ncols=4, fontsize=8)
    axis.grid(alpha=0.3)
    return figure


def pcc_figure(
    grid: pd.DataFrame,
    voltages: pd.DataFrame | None,
    calendar: Calendar,
    limits_pu: tuple[float, float, float],
) -> plt.Figure:
    """Power at the point of common coupling and the feeder's voltages over the day.

    Parameters
    ----------
    grid : pandas.DataFrame
        Per step: ``time_s`` [s], ``substation_power_kw`` [kW],
        ``substation_reactive_power_kvar`` [kvar], ``losses_kw`` [kW], ``converged`` and
        ``pcc_voltage_pu`` [pu] (absent in runs recorded before it existed).
    voltages : pandas.DataFrame or None
        Household service voltages: ``time_s`` [s], ``household_id``, ``voltage_pu`` [pu].
    calendar : callable
        Simulated seconds to local timestamps.
    limits_pu : tuple of float
        Allowed band and the stricter upper limit [pu], drawn as lines.

    Notes
    -----
    Top (Rana et al. Fig. 11): active power into the feeder at the substation, import shaded
    red and reverse flow green, with reactive power and losses. Bottom (their Fig. 12): the
    voltage at the PCC (the secondary of the feeder's first transformer; see the grid
    federate), with the households' service voltages (minimum, median, maximum over households
    at each step) around it. Steps whose power flow did not converge are marked.

    References
    ----------
    .. [1] R. Rana, K. Berg, M. Z. Degefa and M. Löschenbrand, "Modelling and Simulation
       Approaches for Local Energy Community Integrated Distribution Networks", IEEE Access 10,
       3775-3789, 2022, Figs. 11–12. doi:10.1109/ACCESS.2022.3140237
    """
    times = calendar(grid["time_s"].to_numpy())
    figure, (power_axis, voltage_axis) = plt.subplots(
        2, 1, figsize=(11, 6.5), sharex=True, gridspec_kw={"height_ratios": [1.3, 1]}
    )
    power = grid["substation_power_kw"].to_numpy(float)
    power_axis.plot(times, power, color="black", linewidth=1.0, label="active power [kW]")
    power_axis.fill_between(
        times, power, 0, where=power > 0, color="tab:red", alpha=0.25, label="import"
    )
    power_axis.fill_between(
        times, power, 0, where=power < 0, color="tab:green", alpha=0.25, label="reverse flow"
    )
    power_axis.plot(
        times, grid["substation_reactive_power_kvar"], linewidth=0.8, label="reactive [kvar]"
    )
    power_axis.plot(times, grid["losses_kw"], linewidth=0.8, label="losses [kW]")
    failed = ~grid["converged"].to_numpy(bool)
    for axis in (power_axis, voltage_axis):
        for when in times[failed]:
            axis.axvline(when, color="tab:red", alpha=0.3, linewidth=0.8)
    if failed.any():
        power_axis.plot([], [], color="tab:red", alpha=0.3, label="power flow did not converge")
    power_axis.axhline(0, color="black", linewidth=0.6)
    power_axis.set_ylabel("power into the feeder [kW, kvar]")
    power_axis.set_title("Point of common coupling (substation): import positive, export negative")
    power_axis.legend(ncols=3, fontsize=8, loc="upper left")
    power_axis.grid(alpha=0.3)
    low_pu, high_pu, upper_pu = limits_pu
    if voltages is not None and len(voltages):
        wide = voltages.pivot(index="time_s", columns="household_id", values="voltage_pu")
        at = calendar(wide.index.to_numpy())
        values = wide.to_numpy(float)
        voltage_axis.fill_between(
            at, np.nanmin(values, 1), np.nanmax(values, 1), alpha=0.3, label="min–max"
        )
        voltage_axis.plot(at, np.nanmedian(values, 1), label="median household")
    if "pcc_voltage_pu" in grid:
        voltage_axis.plot(
            times, grid["pcc_voltage_pu"], color="black", linewidth=1.2, label="PCC busbar"
        )
    if voltage_axis.get_legend_handles_labels()[0]:
        voltage_axis.legend(fontsize=8, loc="upper left")
    for limit in (low_pu, high_pu):
        voltage_axis.axhline(limit, color="black", linestyle="--", linewidth=0.8)
    voltage_axis.axhline(upper_pu, color="tab:red", linestyle=":", linewidth=0.8)
    voltage_axis.set_ylabel("voltage [pu]")
    voltage_axis.set_title(
        f"PCC and household voltages (dashed: {low_pu:g}–{high_pu:g} pu, dotted: {upper_pu:g} pu)",
        fontsize=10,
    )
    voltage_axis.set_xlabel(f"local time ({times.tz})")
    voltage_axis.grid(alpha=0.3)
    figure.autofmt_xdate()
    return figure
