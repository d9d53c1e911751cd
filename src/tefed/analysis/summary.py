"""The run summary: ``summary.json`` (KPIs, checks, metadata), computed from a run's tables."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tefed.analysis import (
    balance_checks,
    congestion_kpis,
    grid_kpis,
    kpis,
    market_kpis,
    market_welfare,
    received_messages,
)
from tefed.analysis.day_ahead_welfare import day_ahead_welfare_usd
from tefed.build.plausibility import price_warnings, recorded_feeder_warnings
from tefed.contract.federation_file import FederationFile
from tefed.contract.role_configs import read_role_config
from tefed.domain.grid_metrics import ANSI_RANGE_A_PU, TREX_UPPER_LIMIT_PU
from tefed.domain.plausibility import (
    PlausibilityWarning,
    failed_check_warnings,
    feeder_losses_warning,
    power_flow_warning,
)

#: Largest per-step energy mismatch accepted between substation and households + the feeder's
#: own loads + losses: this much [Wh], plus ``ENERGY_BALANCE_RELATIVE_TOLERANCE`` of the largest
#: substation energy of a step (the power flow converges to a voltage tolerance of 1e-4 pu, and
#: its power mismatch scales with the flow: a 250 kW step of a community battery missed by
#: 1.3e-4 of its energy).
ENERGY_BALANCE_TOLERANCE_WH = 0.05
ENERGY_BALANCE_RELATIVE_TOLERANCE = 1e-3
#: Largest mismatch accepted between the market's metering and the households' own [Wh].
METERED_ENERGY_TOLERANCE_WH = 1e-6
#: Largest mismatch accepted between the ledger and payments recomputed elsewhere [USD].
MONEY_TOLERANCE_USD = 1e-9


def compute_summary(federation: FederationFile, tables: dict[str, pd.DataFrame]) -> dict:
    """KPIs and balance checks of a run (no metadata).

    Parameters
    ----------
    federation : FederationFile
        The run's federation file (households, time grid, federate configurations).
    tables : dict of str to pandas.DataFrame
        The run's tables by name, as `tefed.analysis.run_tables.read_run_tables` returns
        them; any may be missing.

    Returns
    -------
    dict
        ``scenario``, ``seed``, ``time``; ``households`` (per household), ``community``,
        ``pcc``, ``grid``, ``voltage``, ``market``, ``checks`` where their tables exist,
        ``households_not_recorded_by_tefed`` when some households ran in an external program,
        and ``warnings``: the plausibility warnings of the set-up and of the feeder's losses
        (`tefed.domain.plausibility`), each as a dict, empty when there are none.
    """
    time = federation.tefed.time
    step_s = float(time.grid_step_s)
    households = tables.get("households", _NO_HOUSEHOLDS)
    table = federation.households_frame()
    unrecorded = kpis.unrecorded_households(table.index.tolist(), households)
    summary: dict[str, Any] = {
        "scenario": federation.tefed.scenario,
        "seed": federation.tefed.seed,
        "time": time.model_dump(exclude={"phase_offsets_s"}),
    }
    per_household = _per_household(table, tables, households, step_s)
    summary["households"] = {
        household: {key: _plain(value) for key, value in row.items() if not _missing(value)}
        for household, row in per_household.to_dict("index").items()
    }
    if "bill_usd" in per_household:
        recorded = per_household["baseline_bill_usd"].notna()
        summary["community_bill_usd"] = float(per_household.loc[recorded, "bill_usd"].sum())
        summary["community_baseline_bill_usd"] = float(
            per_household.loc[recorded, "baseline_bill_usd"].sum()
        )
        summary["community_income_advantage_usd"] = (
            summary["community_baseline_bill_usd"] - summary["community_bill_usd"]
        )
    if "battery_stored_energy_value_usd" in per_household:
        stored = per_household["battery_stored_energy_value_usd"].dropna()
        summary["stored_energy"] = {
            "price_usd_per_kwh": float(_stored_energy_price(tables)),
            "price_basis": "mean export price of the run's intervals",
            "change_kwh": float(per_household["battery_stored_energy_change_kwh"].sum()),
            "value_usd": float(stored.sum()),
        }
        if "community_bill_usd" in summary:
            summary["community_bill_less_stored_energy_usd"] = (
                summary["community_bill_usd"] - summary["stored_energy"]["value_usd"]
            )
    if unrecorded:
        ledger = "market_settlements" in tables
        summary["households_not_recorded_by_tefed"] = {
            "count": len(unrecorded),
            "household_ids": unrecorded,
            "bill_usd": (
                float(per_household.loc[unrecorded, "bill_usd"].sum())
                if "bill_usd" in per_household and ledger
                else None
            ),
            "reason": "run by an external program (ems.external): their load, PV and battery "
            "are not in tefed's household records, so community energy, battery cycles and "
            "baselines leave them out; "
            + (
                "their bills come from the market's ledger"
                if ledger
                else "their bills are unknown: the market wrote no ledger and only the "
                "settlements tefed's households received are recorded"
            )
            + ", their voltages from the grid, and the energy balance is checked per market "
            "interval against the energy the market metered for them",
        }
    summary["community"] = kpis.community_energy(households, step_s)
    if "grid" in tables:
        grid_tables = ("grid_nodes", "grid_elements", "grid_unbalance", "grid_taps")
        if set(grid_tables) <= tables.keys():
            summary["grid"] = grid_kpis.grid_summary(
                tables["grid"], *(tables[name] for name in grid_tables), step_s
            )
            summary["pcc"] = summary["grid"].pop("pcc")
    if "household_voltages" in tables:
        low_pu, high_pu, upper_pu = voltage_limits(federation)
        summary["voltage"] = grid_kpis.voltage_summary(
            tables["household_voltages"], step_s, (low_pu, high_pu), upper_pu
        )
    if {"market_trades", "market_intervals"} <= tables.keys():
        summary["market"] = _market(federation, tables)
    elif {"household_awards", "household_intervals"} <= tables.keys():
        summary["market"] = _received_market(federation, tables)
    summary["checks"] = _checks(federation, tables, households, unrecorded)
    summary["warnings"] = [warning.as_dict() for warning in _warnings(federation, tables, summary)]
    return summary


def _warnings(
    federation: FederationFile, tables: dict[str, pd.DataFrame], summary: dict[str, Any]
) -> list[PlausibilityWarning]:
    """The run's plausibility warnings: the feeder as the grid recorded it, its losses, prices.

    Runs recorded before the grid wrote ``feeder_source`` (and the supply columns of
    ``feeder_households``) get no feeder warnings.
    """
    warnings = []
    attached, source = tables.get("feeder_households"), tables.get("feeder_source")
    if attached is not None and source is not None and "base_kv_ll" in attached:
        warnings += recorded_feeder_warnings(federation, attached, source)
    power_flow = summary.get("grid", {}).get("power_flow")
    if power_flow is not None:
        not_converged = power_flow_warning(
            int(power_flow["not_converged_steps"]),
            int(power_flow["steps"]),
            list(power_flow["not_converged_times_s"]),
        )
        if not_converged is not None:
            warnings.append(not_converged)
    losses = feeder_losses_warning(summary.get("pcc", {}).get("losses_pct"))
    if losses is not None:
        warnings.append(losses)
    warnings += failed_check_warnings(summary.get("checks", {}))
    return warnings + price_warnings(federation)


_NO_HOUSEHOLDS = pd.DataFrame(
    {
        "time_s": pd.Series(dtype="int64"),
        "household_id": pd.Series(dtype=object),
        **{
            column: pd.Series(dtype=float)
            for column in ("load_power_kw", "pv_power_kw", "battery_power_kw", "power_kw")
        },
        "soc_kwh": pd.Series(dtype=float),
    }
)


def _per_household(
    table: pd.DataFrame, tables: dict[str, pd.DataFrame], households: pd.DataFrame, step_s: float
) -> pd.DataFrame:
    """Strategy, bills, battery cycles and voltage extremes of every household."""
    per_household = pd.DataFrame(index=table.index)
    per_household["strategy"] = table["strategy"]
    settlements = received_messages.run_settlements(tables)
    if settlements is not None and {"household_intervals", "prices"} <= tables.keys():
        bills = kpis.household_bills(settlements, tables["household_intervals"], tables["prices"])
        per_household = per_household.join(bills)
    cycles = kpis.battery_cycles(households, table["battery_capacity_kwh"], step_s)
    per_household["battery_equivalent_full_cycles"] = cycles
    if "prices" in tables and not households.empty:
        stored = kpis.stored_energy_change(households, table, _stored_energy_price(tables))
        if not stored.empty:
            per_household["battery_stored_energy_change_kwh"] = stored["stored_energy_change_kwh"]
            per_household["battery_stored_energy_value_usd"] = stored["stored_energy_value_usd"]
    if "household_voltages" in tables:
        voltage = tables["household_voltages"].groupby("household_id")["voltage_pu"]
        per_household["voltage_min_pu"] = voltage.min()
        per_household["voltage_max_pu"] = voltage.max()
    return per_household


def _stored_energy_price(tables: dict[str, pd.DataFrame]) -> float:
    """What a kWh left in a battery at the end is worth: the run's mean export price [USD/kWh]."""
    return float(tables["prices"]["export_price_usd_per_kwh"].mean())


def _market(federation: FederationFile, tables: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """Market KPIs: trades and prices per pool, orders, and welfare."""
    mechanism = market_config(federation).get("mechanism")
    market: dict[str, Any] = {"mechanism": mechanism}
    market.update(market_kpis.market_summary(tables["market_trades"], tables["market_intervals"]))
    orders = tables.get("market_orders")
    if orders is not None:
        market["orders"] = len(orders)
        market["rejected_orders"] = int((orders["status"] == "rejected").sum())
    needed = ("market_orders", "market_awards", "prices")
    day_ahead_needed = ("market_day_ahead_orders", "market_day_ahead_clearings", "market_day_ahead")
    if mechanism == "day_ahead":
        needed = ("market_orders", "prices", *day_ahead_needed)
    if mechanism == "day_ahead" and set(needed) <= tables.keys():
        market["welfare"] = day_ahead_welfare_usd(
            tables["market_day_ahead_orders"],
            tables["market_day_ahead_clearings"],
            tables["market_day_ahead"],
            orders,
            tables["prices"],
            float(federation.tefed.time.market_interval_s),
        )
    elif set(needed) <= tables.keys():
        market["welfare"] = market_welfare.market_welfare_usd(
            str(mechanism),
            orders,
            tables["market_awards"],
            tables["prices"],
            float(federation.tefed.time.market_interval_s),
        )
    else:
        missing = ", ".join(name for name in needed if name not in tables)
        market["welfare"] = {"welfare_usd": None, "reason": f"not recorded: {missing}"}
    if "market_negotiations" in tables and "market_settlements" in tables:
        market["negotiation"] = market_kpis.negotiation_summary(
            tables["market_negotiations"], tables["market_settlements"]
        )
    if "market_communities" in tables:
        market["communities"] = market_kpis.community_summary(tables["market_communities"])
    if mechanism == "day_ahead" and "market_day_ahead" in tables:
        market["day_ahead"] = market_kpis.day_ahead_summary(tables["market_day_ahead"])
    dlmp = tables.get("market_dlmp") if mechanism == "dlmp" else None
    if dlmp is not None:
        binding = tables.get("market_binding_branches")
        if binding is None:
            binding = pd.DataFrame({"interval_index": [], "branch": []})
        market.update(congestion_kpis.dlmp_congestion(dlmp, binding))
    if "household_intervals" in tables:
        table = federation.households_frame()
        buses = table.loc[~table["serves_community"].astype(bool), "bus"]
        market.update(congestion_kpis.consumer_prices(tables["household_intervals"], buses, dlmp))
    return market


#: Why a KPI that needs the market's own books is missing when the market wrote none.
_NEEDS_BOOKS = (
    "not available: it needs the market's own {books}, which the program that ran the market "
    "did not write; the households' messages do not carry it"
)


def _received_market(federation: FederationFile, tables: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """Market KPIs from what the households received, for a market that wrote no tables: trades
    and prices per pool and consumer prices; what needs the market's books is named as not
    available, with the reason."""
    mechanism = market_config(federation).get("mechanism")
    trades = received_messages.received_trades(tables["household_awards"])
    market: dict[str, Any] = {"mechanism": mechanism, "source": received_messages.RECEIVED_SOURCE}
    market.update(market_kpis.trade_summary(trades))
    market["intervals_with_trades"] = int(trades["interval_index"].nunique())
    market["welfare"] = {
        "welfare_usd": None,
        "reason": _NEEDS_BOOKS.format(books="orders (market_orders: the bids and asks)"),
    }
    table = federation.households_frame()
    buses = table.loc[~table["serves_community"].astype(bool), "bus"]
    market.update(congestion_kpis.consumer_prices(tables["household_intervals"], buses, None))
    market["not_available"] = {
        "orders": _NEEDS_BOOKS.format(books="orders (market_orders)"),
        "rejected_orders": _NEEDS_BOOKS.format(books="orders (market_orders)"),
        "intervals_cleared": _NEEDS_BOOKS.format(
            books="clearing records (market_intervals); an interval nobody ordered for sends "
            "no message"
        ),
    }
    if mechanism == "dlmp":
        market["not_available"]["dlmp_congestion"] = _NEEDS_BOOKS.format(
            books="prices per bus (market_dlmp, market_binding_branches)"
        )
    return market


def _checks(
    federation: FederationFile,
    tables: dict[str, pd.DataFrame],
    households: pd.DataFrame,
    unrecorded: list[str],
) -> dict[str, Any]:
    """Energy balance, settlement and state-of-charge checks."""
    time = federation.tefed.time
    checks: dict[str, Any] = {}
    if "grid" in tables:
        # Steps whose power flow did not converge are NaN (all of them on a feeder that never
        # converges: no largest step then, and no numpy warning of an all-NaN slice).
        substation_kw = np.abs(tables["grid"]["substation_power_kw"].to_numpy(float))
        solved_kw = substation_kw[np.isfinite(substation_kw)]
        largest_step_wh = float(solved_kw.max()) * time.grid_step_s / 3.6 if solved_kw.size else 0.0
        tolerance_wh = (
            ENERGY_BALANCE_TOLERANCE_WH + ENERGY_BALANCE_RELATIVE_TOLERANCE * largest_step_wh
        )
    if "grid" in tables and not unrecorded:
        error_wh = balance_checks.energy_balance_error_wh(
            households, tables["grid"], float(time.grid_step_s)
        )
        worst_wh = float(np.abs(error_wh).max()) if error_wh.size else 0.0
        checks["energy_balance_max_abs_error_wh"] = worst_wh
        checks["energy_balance_tolerance_wh"] = tolerance_wh
        checks["energy_balance_ok"] = bool(worst_wh <= tolerance_wh)
    elif "grid" in tables and "market_settlements" in tables:
        ledger = tables["market_settlements"]
        metered_wh = (
            ledger[ledger["participant"].isin(unrecorded)]
            .groupby("interval_index")["energy_wh"]
            .sum()
        )
        error_wh = balance_checks.interval_energy_balance_error_wh(
            households,
            tables["grid"],
            metered_wh,
            float(time.grid_step_s),
            float(time.market_interval_s),
        )
        worst_wh = float(np.abs(error_wh).max()) if error_wh.size else 0.0
        steps = time.market_interval_s // time.grid_step_s
        checks["energy_balance_max_abs_error_wh"] = worst_wh
        checks["energy_balance_per"] = "market interval (external households metered by market)"
        checks["energy_balance_tolerance_wh"] = tolerance_wh * steps
        checks["energy_balance_ok"] = bool(worst_wh <= tolerance_wh * steps)
    elif "grid" in tables:
        checks["energy_balance_not_checked"] = (
            "households run by an external program and no market ledger to meter them"
        )
    if "optimizing_plans" in tables:
        # A plan that was not optimal left its batteries idle: counted, never silent.
        plans = tables["optimizing_plans"]
        failed = plans[~plans["optimal"].astype(bool)]
        checks["optimizing_plans"] = len(plans)
        checks["optimizing_plans_not_optimal"] = len(failed)
        checks["optimizing_plans_not_optimal_intervals"] = sorted(
            int(i) for i in failed["interval_index"].unique()
        )
    if {"market_settlements", "market_awards", "household_intervals", "prices"} <= tables.keys():
        found = balance_checks.settlement_checks(
            tables["market_settlements"],
            tables["household_intervals"],
            tables["market_awards"],
            tables["prices"],
        )
        checks.update(found)
        checks["settlement_ok"] = bool(
            found["metered_energy_max_abs_error_wh"] <= METERED_ENERGY_TOLERANCE_WH
            and found["grid_payments_max_abs_error_usd"] <= MONEY_TOLERANCE_USD
            and found["bills_max_abs_error_usd"] <= MONEY_TOLERANCE_USD
            and found["bills_not_received"] == 0
            and abs(found["trade_payments_sum_usd"]) <= MONEY_TOLERANCE_USD
        )
    elif "market_settlements" not in tables and tables.keys() >= _RECEIVED_RECORDS:
        checks.update(_received_settlement_checks(tables))
    soc = households["soc_kwh"].to_numpy(float)
    if np.isfinite(soc).any():
        table = federation.households_frame()
        ids = households["household_id"]
        capacity = table["battery_capacity_kwh"].reindex(ids).to_numpy(float)
        low = table["battery_soc_min"].reindex(ids).to_numpy(float) * capacity
        high = table["battery_soc_max"].reindex(ids).to_numpy(float) * capacity
        has = np.isfinite(soc)
        inside = (soc[has] >= low[has] - 1e-9) & (soc[has] <= high[has] + 1e-9)
        checks["state_of_charge_within_limits"] = bool(inside.all())
    return checks


#: The records a market's settlements are recomputed from when it wrote no ledger.
_RECEIVED_RECORDS = {"household_awards", "household_settlements", "household_intervals", "prices"}
#: Settlement discrepancies listed in ``summary.json`` before the rest are counted.
DISCREPANCIES_LISTED = 10


def _received_settlement_checks(tables: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """The settlements households received, recomputed from their awards, metering and prices
    (`tefed.analysis.received_messages.settlement_discrepancies`): the check of a market that
    wrote no ledger."""
    intervals = tables["household_intervals"]
    received = intervals["bill_usd"].notna()
    found = received_messages.settlement_discrepancies(
        tables["household_awards"],
        tables["household_settlements"],
        intervals.loc[received, ["interval_index", "household_id", "energy_wh", "bill_usd"]]
        .rename(columns={"energy_wh": "metered_energy_wh", "bill_usd": "amount_usd"})
        .reset_index(drop=True),
        tables["prices"],
        METERED_ENERGY_TOLERANCE_WH,
        MONEY_TOLERANCE_USD,
    )
    return {
        "settlement_checked_from": received_messages.RECEIVED_SOURCE
        + ", recomputed from each household's awards, its metered energy and the interval's "
        "net-billing prices",
        "bills_not_received": int((~received).sum()),
        "settlement_discrepancies": len(found),
        "settlement_discrepancies_listed": found.head(DISCREPANCIES_LISTED).to_dict("records"),
        "settlement_ok": bool(found.empty and received.all()),
    }


def market_config(federation: FederationFile) -> dict[str, Any]:
    """The market federate's configuration from the federation file ({} without a market)."""
    for entry in federation.federate_entries():
        if entry.tefed is not None and entry.tefed.role == "market":
            return dict(entry.tefed.config)
    return {}


def voltage_limits(federation: FederationFile) -> tuple[float, float, float]:
    """The grid's allowed voltage band and stricter upper limit [pu] from the federation file."""
    for entry in federation.federate_entries():
        if entry.tefed is not None and entry.tefed.role == "grid":
            grid = read_role_config("grid", entry.tefed.config, entry.name)
            low_pu, high_pu = grid.voltage_range_pu
            return low_pu, high_pu, grid.upper_voltage_limit_pu
    return (*ANSI_RANGE_A_PU, TREX_UPPER_LIMIT_PU)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _missing(value: Any) -> bool:
    return isinstance(value, float) and np.isnan(value)
