"""Human labels of the summary's keys, with their units: one table for every page and printout.

A key of ``summary.json`` carries its unit as a suffix (docs/nomenclature.md); its label is the
entry of `KPI_LABELS` for its dotted path (``pcc.voltage_min_pu``), else for the key alone
(``self_sufficiency_pct``), else the key with its unit suffix taken off and underscores made
spaces. The unit comes from `UNIT_SUFFIXES` and is written in brackets after the label.

Examples
--------
>>> kpi_label("community_bill_usd")
'Community bill [USD]'
>>> kpi_label("voltage_min_pu", section="pcc")
'PCC voltage min [pu]'
>>> kpi_label("not_converged_steps")
'Not converged steps'
"""

from __future__ import annotations

#: Unit of a key by its suffix, longest suffixes first (so ``_usd_per_kwh`` before ``_usd``).
UNIT_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("_usd_per_kwh", "USD/kWh"),
    ("_usd_per_mwh", "USD/MWh"),
    ("_household_minutes", "household-min"),
    ("_household_steps", "household-steps"),
    ("_minutes", "min"),
    ("_kwh", "kWh"),
    ("_kvar", "kvar"),
    ("_kva", "kVA"),
    ("_kw", "kW"),
    ("_wh", "Wh"),
    ("_usd", "USD"),
    ("_pct", "%"),
    ("_pu", "pu"),
    ("_s", "s"),
    ("_m", "m"),
)

#: Labels (without unit) by dotted summary path or by key; keys not listed get a label made of
#: the key itself.
KPI_LABELS: dict[str, str] = {
    # households and the community
    "bill_usd": "bill",
    "baseline_bill_usd": "baseline bill (net billing)",
    "income_advantage_usd": "income advantage",
    "battery_equivalent_full_cycles": "battery equivalent full cycles",
    "battery_stored_energy_change_kwh": "change of stored energy",
    "battery_stored_energy_value_usd": "value of the change of stored energy",
    "community_bill_usd": "community bill",
    "community_baseline_bill_usd": "community baseline bill (net billing)",
    "community_income_advantage_usd": "community income advantage",
    "community_bill_less_stored_energy_usd": "community bill less stored energy value",
    "households_counted": "households counted",
    "load_kwh": "load",
    "pv_kwh": "PV generation",
    "community_import_kwh": "import at the community boundary",
    "community_export_kwh": "export at the community boundary",
    "self_sufficiency_pct": "self-sufficiency",
    "self_consumption_pct": "self-consumption",
    # point of common coupling
    "substation_import_kwh": "PCC import",
    "substation_export_kwh": "PCC export",
    "peak_import_kw": "PCC peak import",
    "peak_export_kw": "PCC peak export",
    "losses_kwh": "feeder losses",
    "losses_pct": "feeder losses",
    "household_export_kwh": "households' export",
    "supplied_kwh": "energy supplied into the feeder",
    "pcc.voltage_min_pu": "PCC voltage min",
    "pcc.voltage_max_pu": "PCC voltage max",
    # household voltages
    "voltage.voltage_min_pu": "household voltage min",
    "voltage.voltage_max_pu": "household voltage max",
    "voltage_min_pu": "voltage min",
    "voltage_max_pu": "voltage max",
    "range_low_pu": "lower end of the voltage range",
    "range_high_pu": "upper end of the voltage range",
    "upper_limit_pu": "upper voltage limit",
    "outside_ansi_range_a_household_steps": "outside ANSI C84.1 range A",
    "outside_ansi_range_a_household_minutes": "outside ANSI C84.1 range A",
    # market
    "mechanism": "mechanism",
    "trades": "trades",
    "traded_energy_kwh": "traded energy",
    "min_trade_price_usd_per_kwh": "min trade price",
    "mean_trade_price_usd_per_kwh": "mean trade price",
    "max_trade_price_usd_per_kwh": "max trade price",
    "volume_weighted_price_usd_per_kwh": "volume-weighted trade price",
    "sold_to_counterparty_kwh": "sold to the central counterparty",
    "intervals_cleared": "intervals cleared",
    "intervals_with_trades": "intervals with trades",
    "orders": "orders",
    "rejected_orders": "rejected orders",
    "welfare_usd": "market welfare",
    "participants_usd": "participants' surplus",
    "grid_cost_usd": "grid's net supply cost",
    "day_ahead_welfare_usd": "day-ahead welfare",
    "real_time_welfare_usd": "real-time welfare",
    "consumer_energy_kwh": "energy the consumers drew",
    "consumer_price_usd_per_kwh": "consumer price",
    "consumer_dlmp_usd_per_kwh": "consumer price at bus DLMP",
    "max_dlmp_spread_usd_per_kwh": "max DLMP spread",
    "mean_dlmp_spread_usd_per_kwh": "mean DLMP spread",
    # grid
    "max_line_loading_pct": "max line loading",
    "max_transformer_loading_pct": "max transformer loading",
    "max_unbalance_pct": "max voltage unbalance",
    "line_overload_minutes": "line overload",
    "transformer_overload_minutes": "transformer overload",
    "node_minutes_below": "node-minutes below the range",
    "node_minutes_above": "node-minutes above the range",
    "node_minutes_above_upper_limit": "node-minutes above the upper limit",
    "limit_pct": "unbalance limit (EN 50160)",
    "minutes_above_limit": "minutes above the unbalance limit",
    # checks
    "energy_balance_max_abs_error_wh": "largest energy balance error",
    "energy_balance_tolerance_wh": "energy balance tolerance",
    "energy_balance_ok": "energy balance holds",
    "settlement_ok": "settlement agrees with the households' records",
    "state_of_charge_within_limits": "state of charge within limits",
    # run
    "wall_time_s": "wall time",
    "busy_s": "busy",
    "waiting_s": "waiting",
}

#: Words written in capitals wherever a label made of a key has them.
_ACRONYMS = {"pcc": "PCC", "pv": "PV", "ev": "EV", "dlmp": "DLMP", "soc": "SOC"}


def unit_of(key: str) -> str:
    """The unit of a summary key from its suffix ('' for a count or a fraction).

    >>> unit_of("price_usd_per_kwh"), unit_of("trades")
    ('USD/kWh', '')
    """
    for suffix, unit in UNIT_SUFFIXES:
        if key.endswith(suffix):
            return unit
    return ""


def kpi_label(key: str, section: str | None = None) -> str:
    """The human label of a summary key, with its unit in brackets.

    Parameters
    ----------
    key : str
        The key as ``summary.json`` writes it (``self_sufficiency_pct``).
    section : str, optional
        The dotted path of the mapping that holds the key (``pcc``, ``grid.loading``), where the
        same key means different things in different sections.
    """
    name = KPI_LABELS.get(f"{section}.{key}") if section else None
    name = name or KPI_LABELS.get(key) or _label_of_key(key)
    unit = unit_of(key)
    label = name[:1].upper() + name[1:]
    return f"{label} [{unit}]" if unit else label


def _label_of_key(key: str) -> str:
    stem = key
    for suffix, _unit in UNIT_SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix):
            stem = key[: -len(suffix)]
            break
    return " ".join(_ACRONYMS.get(word, word) for word in stem.split("_"))
