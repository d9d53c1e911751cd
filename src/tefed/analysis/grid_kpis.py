"""Grid KPIs of a run from the grid federate's tables (pure: no I/O).

Definitions:

- **PCC** (the substation, where the community meets the upstream grid): import and export
  energy, peak import and export power, feeder losses, from the grid's power flow (losses
  included), see `tefed.domain.grid_metrics.energy_summary`.
- **voltage violations**: node-steps (every phase conductor of every bus) and household-steps
  outside the allowed band (ANSI C84.1 range A, 0.95–1.05 pu, by default) and above the stricter
  upper limit (T-REX used 1.04 pu), with their minutes, the worst values and where they were.
- **overloads**: line and transformer steps above the loading limit, with minutes and the
  largest loading.
- **phase unbalance**: the voltage unbalance factor ``|V2| / |V1|`` of three-phase buses, its
  maximum and the minutes during which some bus exceeded the EN 50160 limit of 2 %.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tefed.domain.grid_metrics import (
    ANSI_RANGE_A_PU,
    TREX_UPPER_LIMIT_PU,
    count_tap_changes,
    energy_summary,
)

#: EN 50160 limit of the voltage unbalance factor in LV and MV networks [%].
EN50160_UNBALANCE_LIMIT_PCT = 2.0


def grid_summary(
    grid: pd.DataFrame,
    nodes: pd.DataFrame,
    elements: pd.DataFrame,
    unbalance: pd.DataFrame,
    taps: pd.DataFrame,
    step_s: float,
    worst_listed: int = 10,
    unbalance_limit_pct: float = EN50160_UNBALANCE_LIMIT_PCT,
) -> dict[str, object]:
    """Grid KPIs of a run from the grid federate's tables.

    Parameters
    ----------
    grid : pandas.DataFrame
        Per step: ``time_s`` [s], ``converged``, ``substation_power_kw`` [kW], ``losses_kw``
        [kW], ``household_export_kw`` [kW] and, when recorded, ``max_unbalance_pct`` [%].
    nodes : pandas.DataFrame
        Per node: ``node``, ``bus``, ``min_pu``, ``max_pu`` [pu], ``steps_below``,
        ``steps_above``, ``steps_above_upper_limit`` and the matching ``minutes_*`` [min].
    elements : pandas.DataFrame
        Per line and transformer: ``element``, ``kind``, ``max_pct`` [%], ``overload_minutes``
        [min] and, when recorded, ``steps_over``.
    unbalance : pandas.DataFrame
        Per three-phase bus: ``bus``, ``max_unbalance_pct`` [%].
    taps : pandas.DataFrame
        Per step: ``time_s`` and one column of tap positions per regulator.
    step_s : float
        Grid step [s].
    worst_listed : int
        How many worst buses and elements to name.
    unbalance_limit_pct : float
        Voltage unbalance factor above which a step counts as unbalanced [%].

    Returns
    -------
    dict
        ``pcc`` (`energy_summary`, with the PCC busbar's voltage range where recorded),
        ``power_flow`` (non-converged steps and their times),
        ``node_voltage`` (`node_voltage_summary`), ``loading`` (`loading_summary`),
        ``unbalance`` (`unbalance_summary`) and ``tap_changes`` per regulator.

    Examples
    --------
    See ``tests/test_kpis.py`` for a table built by hand.
    """
    converged = grid[grid["converged"]]
    not_converged = grid.loc[~grid["converged"], "time_s"]
    regulators = [column for column in taps.columns if column != "time_s"]
    changes = count_tap_changes(taps[regulators].to_numpy()) if len(taps) else []
    pcc = energy_summary(
        converged["substation_power_kw"].to_numpy(float),
        converged["losses_kw"].to_numpy(float),
        converged["household_export_kw"].to_numpy(float),
        step_s,
    )
    if "pcc_voltage_pu" in converged and len(converged):
        pcc["voltage_min_pu"] = float(converged["pcc_voltage_pu"].min())
        pcc["voltage_max_pu"] = float(converged["pcc_voltage_pu"].max())
    return {
        "pcc": pcc,
        "power_flow": {
            "steps": len(grid),
            "not_converged_steps": len(not_converged),
            "not_converged_times_s": [int(t) for t in not_converged.head(worst_listed)],
        },
        "node_voltage": node_voltage_summary(nodes, worst_listed),
        "loading": loading_summary(elements, worst_listed),
        "unbalance": unbalance_summary(
            unbalance, grid.get("max_unbalance_pct"), step_s, unbalance_limit_pct
        ),
        "tap_changes": {name: int(count) for name, count in zip(regulators, changes, strict=False)},
    }


def node_voltage_summary(nodes: pd.DataFrame, worst_listed: int = 10) -> dict[str, object]:
    """Voltage violations over all nodes of the feeder.

    Parameters
    ----------
    nodes : pandas.DataFrame
        Per node: ``node``, ``bus``, ``min_pu``, ``max_pu`` [pu], ``steps_below``,
        ``steps_above``, ``steps_above_upper_limit`` [steps] and ``minutes_below``,
        ``minutes_above``, ``minutes_above_upper_limit`` [min].
    worst_listed : int
        How many buses to name.

    Returns
    -------
    dict
        ``voltage_min_pu`` and ``voltage_max_pu`` with the node where each occurred
        (``lowest_node``, ``highest_node``); per kind of violation (``below``, ``above``,
        ``above_upper_limit``): ``node_steps_*`` (count), ``node_minutes_*`` [min] and
        ``buses_*_count``; ``buses_outside_range`` and ``buses_above_upper_limit``: the
        ``worst_listed`` buses with the most minutes [min], summed over their nodes.

    Examples
    --------
    >>> nodes = pd.DataFrame({"node": ["a.1", "b.1"], "bus": ["a", "b"],
    ...     "min_pu": [0.94, 0.99], "max_pu": [1.0, 1.045], "steps_below": [3, 0],
    ...     "steps_above": [0, 0], "steps_above_upper_limit": [0, 2],
    ...     "minutes_below": [3.0, 0.0], "minutes_above": [0.0, 0.0],
    ...     "minutes_above_upper_limit": [0.0, 2.0]})
    >>> found = node_voltage_summary(nodes)
    >>> found["lowest_node"], found["node_minutes_below"], found["buses_above_upper_limit"]
    ('a.1', 3.0, {'b': 2.0})
    """
    has_voltage = nodes["min_pu"].notna().any()
    summary: dict[str, object] = {
        "voltage_min_pu": float(nodes["min_pu"].min()) if has_voltage else None,
        "lowest_node": str(nodes.loc[nodes["min_pu"].idxmin(), "node"]) if has_voltage else None,
        "voltage_max_pu": float(nodes["max_pu"].max()) if has_voltage else None,
        "highest_node": str(nodes.loc[nodes["max_pu"].idxmax(), "node"]) if has_voltage else None,
    }
    for label in ("below", "above", "above_upper_limit"):
        summary[f"node_steps_{label}"] = int(nodes[f"steps_{label}"].sum())
        summary[f"node_minutes_{label}"] = float(nodes[f"minutes_{label}"].sum())
        violated = nodes.loc[nodes[f"steps_{label}"] > 0, "bus"]
        summary[f"buses_{label}_count"] = int(violated.nunique())
    outside = nodes["minutes_below"] + nodes["minutes_above"]
    summary["buses_outside_range"] = _worst_buses(nodes, outside, worst_listed)
    summary["buses_above_upper_limit"] = _worst_buses(
        nodes, nodes["minutes_above_upper_limit"], worst_listed
    )
    return summary


def _worst_buses(nodes: pd.DataFrame, minutes: pd.Series, count: int) -> dict[str, float]:
    """The buses with the most violation minutes (summed over their nodes), most first."""
    per_bus = minutes.groupby(nodes["bus"]).sum()
    per_bus = per_bus[per_bus > 0].sort_values(ascending=False, kind="stable").head(count)
    return {str(bus): float(value) for bus, value in per_bus.items()}


def loading_summary(elements: pd.DataFrame, worst_listed: int = 10) -> dict[str, object]:
    """Line and transformer overloads.

    Parameters
    ----------
    elements : pandas.DataFrame
        Per element: ``element``, ``kind`` (``line``, ``transformer``), ``max_pct`` [% of its
        normal rating], ``overload_minutes`` [min] and, when recorded, ``steps_over``.
    worst_listed : int
        How many of the most loaded elements to name.

    Returns
    -------
    dict
        Per kind: ``max_<kind>_loading_pct`` [%] (None without such elements),
        ``most_loaded_<kind>``, ``<kind>_overload_minutes`` [min] (summed over elements),
        ``<kind>_overload_steps`` (element-steps) and ``<kind>s_overloaded`` (elements);
        ``most_loaded``: the ``worst_listed`` elements with their largest loading [%].

    Examples
    --------
    >>> elements = pd.DataFrame({"element": ["Line.a", "Transformer.t"],
    ...     "kind": ["line", "transformer"], "max_pct": [120.0, 80.0],
    ...     "overload_minutes": [30.0, 0.0], "steps_over": [2, 0]})
    >>> found = loading_summary(elements)
    >>> found["line_overload_minutes"], found["line_overload_steps"], found["lines_overloaded"]
    (30.0, 2, 1)
    """
    summary: dict[str, object] = {}
    for kind in ("line", "transformer"):
        chosen = elements[elements["kind"] == kind]
        loaded = chosen["max_pct"].notna().any()
        summary[f"max_{kind}_loading_pct"] = float(chosen["max_pct"].max()) if loaded else None
        summary[f"most_loaded_{kind}"] = (
            str(chosen.loc[chosen["max_pct"].idxmax(), "element"]) if loaded else None
        )
        summary[f"{kind}_overload_minutes"] = float(chosen["overload_minutes"].sum())
        if "steps_over" in chosen:
            summary[f"{kind}_overload_steps"] = int(chosen["steps_over"].sum())
        summary[f"{kind}s_overloaded"] = int((chosen["overload_minutes"] > 0).sum())
    most = elements.nlargest(worst_listed, "max_pct")
    summary["most_loaded"] = {
        str(row.element): round(float(row.max_pct), 2) for row in most.itertuples()
    }
    return summary


def unbalance_summary(
    unbalance: pd.DataFrame,
    max_unbalance_pct: pd.Series | None,
    step_s: float,
    limit_pct: float = EN50160_UNBALANCE_LIMIT_PCT,
) -> dict[str, object]:
    """Voltage unbalance of the feeder's three-phase buses.

    Parameters
    ----------
    unbalance : pandas.DataFrame
        Per three-phase bus: ``bus``, ``max_unbalance_pct`` [%] over the run.
    max_unbalance_pct : pandas.Series or None
        Per step, the largest unbalance factor over buses [%] (NaN where not solved); None
        when the grid did not record it.
    step_s : float
        Grid step [s].
    limit_pct : float
        Unbalance factor above which a step counts [%].

    Returns
    -------
    dict
        ``three_phase_buses`` (count), ``max_unbalance_pct`` [%] and its ``bus`` (None without
        three-phase buses), ``limit_pct`` [%] and ``minutes_above_limit`` [min] (None when not
        recorded per step).

    Notes
    -----
    EN 50160 asks that the 10-minute mean of the negative-sequence unbalance stay within 2 %
    for 95 % of a week; counting the steps above 2 % is the stricter, per-step reading.

    References
    ----------
    .. [1] EN 50160:2010, "Voltage characteristics of electricity supplied by public electricity
       networks", clause 4.2.5 (supply voltage unbalance).

    Examples
    --------
    >>> found = unbalance_summary(pd.DataFrame({"bus": ["a", "b"], "max_unbalance_pct": [0.5,
    ...     2.5]}), pd.Series([1.0, 2.5, 2.1]), 60.0)
    >>> found["bus"], found["max_unbalance_pct"], found["minutes_above_limit"]
    ('b', 2.5, 2.0)
    """
    summary: dict[str, object] = {"three_phase_buses": len(unbalance)}
    if len(unbalance) and unbalance["max_unbalance_pct"].notna().any():
        worst = unbalance.loc[unbalance["max_unbalance_pct"].idxmax()]
        summary["max_unbalance_pct"] = float(worst["max_unbalance_pct"])
        summary["bus"] = str(worst["bus"])
    else:
        summary["max_unbalance_pct"] = None
        summary["bus"] = None
    summary["limit_pct"] = float(limit_pct)
    summary["minutes_above_limit"] = (
        float((max_unbalance_pct.to_numpy(float) > limit_pct).sum() * step_s / 60.0)
        if max_unbalance_pct is not None and len(unbalance)
        else None
    )
    return summary


def voltage_summary(
    voltages: pd.DataFrame,
    step_s: float,
    range_pu: tuple[float, float] = ANSI_RANGE_A_PU,
    upper_limit_pu: float = TREX_UPPER_LIMIT_PU,
    worst_listed: int = 10,
) -> dict[str, object]:
    """Voltage extremes and violations at the households' service points.

    Parameters
    ----------
    voltages : pandas.DataFrame
        ``time_s`` [s], ``household_id``, ``voltage_pu`` [pu] (NaN where the power flow did
        not converge).
    step_s : float
        Grid step [s].
    range_pu : tuple of float
        Allowed band [pu] (ANSI C84.1 range A by default).
    upper_limit_pu : float
        A stricter upper limit to count separately [pu].
    worst_listed : int
        How many households to name with their minutes.

    Returns
    -------
    dict
        ``voltage_min_pu``, ``voltage_max_pu`` and where and when (``lowest``, ``highest``:
        ``household_id``, ``time_s``); the band (``range_low_pu``, ``range_high_pu``) and per
        violation household-steps (``*_household_steps``) and minutes (``*_household_minutes``)
        below, above and outside the band and above ``upper_limit_pu``; the same for ANSI C84.1
        range A (``outside_ansi_range_a_household_minutes``) whatever the band;
        ``households_outside_range``, ``households_above_upper_limit`` (ids) and
        ``household_minutes_outside_range`` (the ``worst_listed`` households [min]).

    Notes
    -----
    A sample on a bound complies: below is ``V < low``, above is ``V > high``.

    References
    ----------
    .. [1] ANSI C84.1-2020, "American National Standard for Electric Power Systems and
       Equipment — Voltage Ratings (60 Hz)", NEMA, 2020.

    Examples
    --------
    Two households, one minute each at 0.94 and 1.045 pu:

    >>> found = voltage_summary(pd.DataFrame({"time_s": [0, 0], "household_id": ["a", "b"],
    ...     "voltage_pu": [0.94, 1.045]}), 60.0)
    >>> found["below_range_household_minutes"], found["above_upper_limit_household_minutes"]
    (1.0, 1.0)
    """
    value = voltages["voltage_pu"].to_numpy(float)
    household = voltages["household_id"].to_numpy(object)
    minutes = step_s / 60.0
    below = value < range_pu[0]
    above = value > range_pu[1]
    outside = below | above
    above_limit = value > upper_limit_pu
    ansi = (value < ANSI_RANGE_A_PU[0]) | (value > ANSI_RANGE_A_PU[1])
    solved = np.isfinite(value)
    summary: dict[str, object] = {
        "voltage_min_pu": float(np.nanmin(value)) if solved.any() else None,
        "voltage_max_pu": float(np.nanmax(value)) if solved.any() else None,
        "lowest": _where(voltages, np.nanargmin(value)) if solved.any() else None,
        "highest": _where(voltages, np.nanargmax(value)) if solved.any() else None,
        "range_low_pu": range_pu[0],
        "range_high_pu": range_pu[1],
        "upper_limit_pu": upper_limit_pu,
    }
    for label, chosen in (
        ("below_range", below),
        ("above_range", above),
        ("outside_range", outside),
        ("above_upper_limit", above_limit),
        ("outside_ansi_range_a", ansi),
    ):
        summary[f"{label}_household_steps"] = int(chosen.sum())
        summary[f"{label}_household_minutes"] = float(chosen.sum() * minutes)
    summary["households_outside_range"] = sorted(set(household[outside]))
    summary["households_above_upper_limit"] = sorted(set(household[above_limit]))
    per_household = pd.Series(outside * minutes).groupby(household).sum()
    per_household = per_household[per_household > 0].sort_values(ascending=False, kind="stable")
    summary["household_minutes_outside_range"] = {
        str(name): float(value) for name, value in per_household.head(worst_listed).items()
    }
    return summary


def _where(voltages: pd.DataFrame, position: int) -> dict[str, object]:
    row = voltages.iloc[int(position)]
    return {"household_id": str(row["household_id"]), "time_s": int(row["time_s"])}
