"""Figures of the feeder: voltage profile at the worst instant and substation power over time."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

#: Colours of phases A, B and C in every grid figure.
PHASE_COLOURS = {1: "tab:orange", 2: "tab:green", 3: "tab:blue"}
#: Nodes 1 and 2 are phases A and B, or the two legs of a split-phase secondary.
NODE_LABELS = {1: "node 1 (A or leg 1)", 2: "node 2 (B or leg 2)", 3: "node 3 (C)"}


def feeder_profile_figure(
    nodes: pd.DataFrame, calendar, limits_pu: tuple[float, float, float]
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


def substation_power_figure(grid: pd.DataFrame, calendar) -> plt.Figure:
    """Active and reactive power at the substation and feeder losses over time.

    Parameters
    ----------
    grid : pandas.DataFrame
        Per step: ``time_s``, ``substation_power_kw``, ``substation_reactive_power_kvar``,
        ``losses_kw`` and ``converged``.
    calendar : callable
        Simulated seconds to local timestamps.
    """
    times = calendar(grid["time_s"].to_numpy())
    figure, axis = plt.subplots(figsize=(11, 4.5))
    axis.plot(times, grid["substation_power_kw"], label="active power [kW]")
    axis.plot(times, grid["substation_reactive_power_kvar"], label="reactive power [kvar]")
    axis.plot(times, grid["losses_kw"], label="losses [kW]")
    failed = ~grid["converged"].to_numpy(bool)
    if failed.any():
        for when in times[failed]:
            axis.axvline(when, color="tab:red", alpha=0.3, linewidth=0.8)
        axis.plot([], [], color="tab:red", alpha=0.3, label="power flow did not converge")
    axis.axhline(0, color="black", linewidth=0.6)
    axis.set_xlabel(f"local time ({times.tz})")
    axis.set_ylabel("power into the feeder")
    axis.set_title("Substation (PCC): import positive, reverse flow negative")
    axis.legend(ncols=4, fontsize=8)
    axis.grid(alpha=0.3)
    figure.autofmt_xdate()
    return figure
