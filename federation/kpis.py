"""Key performance indicators of a run, computed from its tables (pure: no I/O).

Definitions (energies over the whole run):

- **bill** of a household: the sum of its settlement payments (``amount_usd``, positive = pays);
  its **baseline bill**: what it would pay under net billing without trading, from the same
  households' shadow dispatch (battery for self-consumption) at the same prices; the
  **income advantage** is baseline − bill (T-REX's measure).
- **self-sufficiency** of the community: share of its consumption not imported at the community
  boundary, ``1 − E_import / E_load``; **self-consumption**: share of its PV generation not
  exported, ``1 − E_export / E_pv``, where ``E_import`` and ``E_export`` come from the sum of all
  households' net power at each step (the community boundary, before feeder losses).
- **PCC** (substation) import, export and peaks from the grid's power flow, losses included.
- **voltage violations**: household-steps outside the ANSI C84.1 range A (0.95–1.05 pu) and
  above the configurable upper limit (T-REX used 1.04 pu), with their minutes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from federates.grid.grid_metrics import count_tap_changes, energy_summary
from federates.market.settlement import net_billing_amount_usd

ANSI_RANGE_A_PU = (0.95, 1.05)
TREX_UPPER_LIMIT_PU = 1.04


def household_bills(
    settlements: pd.DataFrame, household_intervals: pd.DataFrame, prices: pd.DataFrame
) -> pd.DataFrame:
    """Bill, baseline bill and income advantage per household [USD].

    Parameters
    ----------
    settlements : pandas.DataFrame
        Settlement ledger (``participant``, ``amount_usd``, ``interval_index``).
    household_intervals : pandas.DataFrame
        Per household and interval: ``baseline_energy_wh`` (shadow net-billing energy) [Wh].
    prices : pandas.DataFrame
        Per interval: ``import_price_usd_per_kwh`` and ``export_price_usd_per_kwh``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``household_id``: ``bill_usd``, ``baseline_bill_usd``,
        ``income_advantage_usd``.
    """
    price = prices.set_index("interval_index")
    rows = household_intervals.join(price, on="interval_index")
    baseline_usd = net_billing_amount_usd(
        rows["baseline_energy_wh"].to_numpy(float),
        rows["import_price_usd_per_kwh"].to_numpy(float),
        rows["export_price_usd_per_kwh"].to_numpy(float),
    )
    baseline = pd.Series(baseline_usd, index=rows.index).groupby(rows["household_id"]).sum()
    bills = settlements.groupby("participant")["amount_usd"].sum()
    table = pd.DataFrame({"baseline_bill_usd": baseline})
    table["bill_usd"] = bills.reindex(table.index, fill_value=0.0)
    table["income_advantage_usd"] = table["baseline_bill_usd"] - table["bill_usd"]
    table.index.name = "household_id"
    return table[["bill_usd", "baseline_bill_usd", "income_advantage_usd"]]


def community_energy(households: pd.DataFrame, step_s: float) -> dict[str, float]:
    """Energy totals and sharing KPIs of the community.

    Parameters
    ----------
    households : pandas.DataFrame
        Per step and household: ``time_s``, ``load_power_kw``, ``pv_power_kw``, ``power_kw``.
    step_s : float
        Grid step [s].

    Returns
    -------
    dict
        ``load_kwh``, ``pv_kwh``, ``community_import_kwh``, ``community_export_kwh``,
        ``self_sufficiency``, ``self_consumption``.
    """
    hours = step_s / 3600.0
    per_step = households.groupby("time_s")[["load_power_kw", "pv_power_kw", "power_kw"]].sum()
    load_kwh = float(per_step["load_power_kw"].sum() * hours)
    pv_kwh = float(per_step["pv_power_kw"].sum() * hours)
    import_kwh = float(per_step["power_kw"].clip(lower=0).sum() * hours)
    export_kwh = float(-per_step["power_kw"].clip(upper=0).sum() * hours)
    return {
        "load_kwh": load_kwh,
        "pv_kwh": pv_kwh,
        "community_import_kwh": import_kwh,
        "community_export_kwh": export_kwh,
        "self_sufficiency": 1.0 - import_kwh / load_kwh if load_kwh > 0 else float("nan"),
        "self_consumption": 1.0 - export_kwh / pv_kwh if pv_kwh > 0 else float("nan"),
    }


def grid_summary(
    grid: pd.DataFrame,
    nodes: pd.DataFrame,
    elements: pd.DataFrame,
    unbalance: pd.DataFrame,
    taps: pd.DataFrame,
    step_s: float,
    worst_listed: int = 10,
) -> dict[str, object]:
    """Grid KPIs of a run from the grid federate's tables.

    Parameters
    ----------
    grid : pandas.DataFrame
        Per step: ``time_s``, ``converged``, ``substation_power_kw``, ``losses_kw``,
        ``household_export_kw``.
    nodes : pandas.DataFrame
        Per node: ``node``, ``bus``, ``min_pu``, ``max_pu``, ``steps_below``, ``steps_above``,
        ``steps_above_upper_limit`` and the matching ``minutes_*`` [min].
    elements : pandas.DataFrame
        Per line and transformer: ``element``, ``kind``, ``max_pct`` [%],
        ``overload_minutes`` [min].
    unbalance : pandas.DataFrame
        Per three-phase bus: ``bus``, ``max_unbalance_pct`` [%].
    taps : pandas.DataFrame
        Per step: ``time_s`` and one column of tap positions per regulator.
    step_s : float
        Grid step [s].
    worst_listed : int
        How many worst buses and elements to name.

    Returns
    -------
    dict
        ``pcc`` (substation energy, peaks and losses, see
        `federates.grid.grid_metrics.energy_summary`), ``power_flow`` (non-converged steps and
        their times), ``node_voltage`` (node-step counts, minutes, extremes and the buses with
        the most minutes outside the range and above the upper limit), ``loading`` (maximum
        loading per kind, overload minutes, the most loaded elements), ``unbalance`` (maximum
        voltage unbalance factor and its bus) and ``tap_changes`` per regulator.
    """
    converged = grid[grid["converged"]]
    not_converged = grid.loc[~grid["converged"], "time_s"]
    summary: dict[str, object] = {
        "pcc": energy_summary(
            converged["substation_power_kw"].to_numpy(float),
            converged["losses_kw"].to_numpy(float),
            converged["household_export_kw"].to_numpy(float),
            step_s,
        ),
        "power_flow": {
            "steps": len(grid),
            "not_converged_steps": len(not_converged),
            "not_converged_times_s": [int(t) for t in not_converged.head(worst_listed)],
        },
    }
    voltage: dict[str, object] = {
        "voltage_min_pu": float(nodes["min_pu"].min()),
        "voltage_max_pu": float(nodes["max_pu"].max()),
    }
    for label in ("below", "above", "above_upper_limit"):
        voltage[f"node_steps_{label}"] = int(nodes[f"steps_{label}"].sum())
        voltage[f"node_minutes_{label}"] = float(nodes[f"minutes_{label}"].sum())
    outside = nodes["minutes_below"] + nodes["minutes_above"]
    voltage["buses_outside_range"] = _worst_buses(nodes, outside, worst_listed)
    voltage["buses_above_upper_limit"] = _worst_buses(
        nodes, nodes["minutes_above_upper_limit"], worst_listed
    )
    summary["node_voltage"] = voltage
    loading: dict[str, object] = {}
    for kind in ("line", "transformer"):
        chosen = elements[elements["kind"] == kind]
        loading[f"max_{kind}_loading_pct"] = float(chosen["max_pct"].max()) if len(chosen) else None
        loading[f"{kind}_overload_minutes"] = float(chosen["overload_minutes"].sum())
        loading[f"{kind}s_overloaded"] = int((chosen["overload_minutes"] > 0).sum())
    most = elements.nlargest(worst_listed, "max_pct")
    loading["most_loaded"] = {
        str(row.element): round(float(row.max_pct), 2) for row in most.itertuples()
    }
    summary["loading"] = loading
    if len(unbalance) and unbalance["max_unbalance_pct"].notna().any():
        worst = unbalance.loc[unbalance["max_unbalance_pct"].idxmax()]
        summary["unbalance"] = {
            "max_unbalance_pct": float(worst["max_unbalance_pct"]),
            "bus": str(worst["bus"]),
            "three_phase_buses": len(unbalance),
        }
    regulators = [column for column in taps.columns if column != "time_s"]
    changes = count_tap_changes(taps[regulators].to_numpy()) if len(taps) else []
    summary["tap_changes"] = {
        name: int(count) for name, count in zip(regulators, changes, strict=False)
    }
    return summary


def _worst_buses(nodes: pd.DataFrame, minutes: pd.Series, count: int) -> dict[str, float]:
    """The buses with the most violation minutes (summed over their nodes), most first."""
    per_bus = minutes.groupby(nodes["bus"]).sum()
    per_bus = per_bus[per_bus > 0].sort_values(ascending=False, kind="stable").head(count)
    return {str(bus): float(value) for bus, value in per_bus.items()}


def voltage_summary(
    voltages: pd.DataFrame,
    step_s: float,
    range_pu: tuple[float, float] = ANSI_RANGE_A_PU,
    upper_limit_pu: float = TREX_UPPER_LIMIT_PU,
) -> dict[str, float | int | list[str]]:
    """Voltage extremes and violations over all households and steps.

    Parameters
    ----------
    voltages : pandas.DataFrame
        ``time_s``, ``household_id``, ``voltage_pu``.
    step_s : float
        Grid step [s].
    range_pu : tuple of float
        Allowed band [pu] (ANSI C84.1 range A by default).
    upper_limit_pu : float
        A stricter upper limit to count separately [pu].
    """
    value = voltages["voltage_pu"].astype(float)
    outside = (value < range_pu[0]) | (value > range_pu[1])
    above = value > upper_limit_pu
    minutes = step_s / 60.0
    return {
        "voltage_min_pu": float(value.min()),
        "voltage_max_pu": float(value.max()),
        "range_low_pu": range_pu[0],
        "range_high_pu": range_pu[1],
        "outside_range_household_steps": int(outside.sum()),
        "outside_range_household_minutes": float(outside.sum() * minutes),
        "households_outside_range": sorted(voltages.loc[outside, "household_id"].unique()),
        "upper_limit_pu": upper_limit_pu,
        "above_upper_limit_household_steps": int(above.sum()),
        "above_upper_limit_household_minutes": float(above.sum() * minutes),
    }


def market_summary(trades: pd.DataFrame, intervals: pd.DataFrame) -> dict[str, object]:
    """Traded energy and price statistics of the market, overall and per pool.

    Parameters
    ----------
    trades : pandas.DataFrame
        ``buyer``, ``quantity_wh`` [Wh], ``price_usd_per_kwh`` [USD/kWh] and ``pool`` per trade.
        Trades with a central counterparty count once, as the participant's purchase: rows
        whose buyer is the ``market`` or the ``grid`` are not purchases.
    intervals : pandas.DataFrame
        Per cleared interval: ``status`` and ``traded_energy_wh``.
    """
    purchases = trades[~trades["buyer"].isin(["market", "grid"])]
    summary: dict[str, object] = _trade_statistics(purchases)
    summary["intervals_cleared"] = len(intervals)
    summary["intervals_with_trades"] = (
        int((intervals["traded_energy_wh"] > 0).sum()) if len(intervals) else 0
    )
    if "pool" in purchases.columns:
        summary["pools"] = {
            str(pool): _trade_statistics(rows) for pool, rows in purchases.groupby("pool")
        }
    return summary


def _trade_statistics(trades: pd.DataFrame) -> dict[str, float | int]:
    quantity = trades["quantity_wh"].astype(float)
    traded_wh = float(quantity.sum())
    mean_price = (
        float((quantity * trades["price_usd_per_kwh"]).sum() / traded_wh)
        if traded_wh > 0
        else float("nan")
    )
    prices = trades["price_usd_per_kwh"]
    return {
        "traded_energy_kwh": traded_wh / 1000.0,
        "trades": len(trades),
        "mean_trade_price_usd_per_kwh": mean_price,
        "min_trade_price_usd_per_kwh": float(prices.min()) if len(prices) else float("nan"),
        "max_trade_price_usd_per_kwh": float(prices.max()) if len(prices) else float("nan"),
    }


def battery_cycles(households: pd.DataFrame, capacity_kwh: pd.Series, step_s: float) -> pd.Series:
    """Equivalent full cycles per household with a battery: discharged energy / capacity [-]."""
    hours = step_s / 3600.0
    discharged = (-households["battery_power_kw"].clip(upper=0)).groupby(
        households["household_id"]
    ).sum() * hours
    with_battery = capacity_kwh[capacity_kwh > 0]
    return (discharged.reindex(with_battery.index) / with_battery).rename("equivalent_full_cycles")


def energy_balance_error_wh(
    households: pd.DataFrame, grid: pd.DataFrame, step_s: float
) -> np.ndarray:
    """Per step: substation energy − (households' net energy + losses) [Wh].

    The power flow delivers exactly what households draw plus the losses, so this is zero to
    the power flow's tolerance.
    """
    to_wh = step_s / 3.6
    net = households.groupby("time_s")["power_kw"].sum()
    state = grid.set_index("time_s")
    return (
        (state["substation_power_kw"] - net.reindex(state.index) - state["losses_kw"]) * to_wh
    ).to_numpy()


def settlement_checks(
    settlements: pd.DataFrame,
    household_intervals: pd.DataFrame,
    awards: pd.DataFrame,
    prices: pd.DataFrame,
) -> dict[str, float]:
    """Cross-check the market's ledger against records kept elsewhere [Wh, USD].

    Parameters
    ----------
    settlements : pandas.DataFrame
        The market's ledger (``interval_index``, ``participant``, ``counterparty``,
        ``energy_wh``, ``amount_usd``, ``reason``).
    household_intervals : pandas.DataFrame
        The households' own records per interval: ``energy_wh`` (metered by the household)
        [Wh] and ``bill_usd`` (the settlement it received) [USD].
    awards : pandas.DataFrame
        The market's awards (``interval_index``, ``participant``, ``side``, ``quantity_wh``).
    prices : pandas.DataFrame
        The price feed's net-billing prices per interval.

    Returns
    -------
    dict
        Largest absolute differences: ``metered_energy_max_abs_error_wh`` (ledger energy vs the
        household's metering), ``grid_payments_max_abs_error_usd`` (ledger payments to the grid
        vs net billing of each deviation from awards, recomputed here), ``bills_max_abs_error_usd``
        (ledger total vs the settlement the household received), ``bills_not_received`` (count),
        and ``trade_payments_sum_usd`` (trade payments must cancel).
    """
    key = ["interval_index", "household_id"]
    records = household_intervals.set_index(key)
    ledger = settlements.rename(columns={"participant": "household_id"})

    def per_household(frame: pd.DataFrame, column: str) -> pd.Series:
        return frame.groupby(key)[column].sum().reindex(records.index, fill_value=0.0)

    ledger_energy_wh = per_household(ledger, "energy_wh")
    ledger_total_usd = per_household(ledger, "amount_usd")
    # Deviations from the awards are settled with the grid; awards themselves are trades (with
    # the grid as counterparty under DLMP), so they are not part of this check.
    deviations = ledger[(ledger["counterparty"] == "grid") & (ledger["reason"] != "trade")]
    ledger_grid_usd = per_household(deviations, "amount_usd")
    signed_wh = np.where(awards["side"] == "buy", awards["quantity_wh"], -awards["quantity_wh"])
    awarded_wh = per_household(
        awards.rename(columns={"participant": "household_id"}).assign(signed_wh=signed_wh),
        "signed_wh",
    )
    price = prices.set_index("interval_index")
    intervals = records.index.get_level_values("interval_index")
    expected_grid_usd = net_billing_amount_usd(
        (records["energy_wh"] - awarded_wh).to_numpy(),
        price["import_price_usd_per_kwh"].reindex(intervals).to_numpy(),
        price["export_price_usd_per_kwh"].reindex(intervals).to_numpy(),
    )
    received = records["bill_usd"].notna()
    bill_error = (ledger_total_usd - records["bill_usd"])[received].abs()
    return {
        "metered_energy_max_abs_error_wh": float(
            (ledger_energy_wh - records["energy_wh"]).abs().max()
        ),
        "grid_payments_max_abs_error_usd": float(
            np.abs(ledger_grid_usd.to_numpy() - expected_grid_usd).max()
        ),
        "bills_max_abs_error_usd": float(bill_error.max()) if received.any() else 0.0,
        "bills_not_received": int((~received).sum()),
        "trade_payments_sum_usd": float(
            settlements.loc[settlements["reason"] == "trade", "amount_usd"].sum()
        ),
    }
