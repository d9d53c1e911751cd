"""The KPI tables ``tefed run`` prints at the end of a run, from its ``summary.json``."""

from __future__ import annotations

import math
from typing import Any

from rich.table import Table


def kpi_table(summary: dict[str, Any]) -> Table:
    """Per-household bill and its difference from the net-billing baseline."""
    table = Table(title=f"{summary['scenario']}: household bills [USD]")
    stored = summary.get("stored_energy")
    columns = ["household", "strategy", "bill", "baseline", "advantage"]
    if stored is not None:
        columns.append("stored Δ value")
    for column in columns:
        table.add_column(column, justify="left" if column in ("household", "strategy") else "right")
    for household, row in summary["households"].items():
        cells = [
            household,
            row.get("strategy", ""),
            _money(row.get("bill_usd")),
            _money(row.get("baseline_bill_usd")),
            _money(row.get("income_advantage_usd")),
        ]
        if stored is not None:
            cells.append(_money(row.get("battery_stored_energy_value_usd")))
        table.add_row(*cells)
    if "community_bill_usd" in summary:
        bill, baseline = summary["community_bill_usd"], summary["community_baseline_bill_usd"]
        cells = ["all", "", _money(bill), _money(baseline), _money(baseline - bill)]
        if stored is not None:
            cells.append(_money(stored["value_usd"]))
        table.add_row(*cells, style="bold")
    if stored is not None:
        table.caption = (
            f"stored Δ value: change of the energy in each battery over the run, valued at "
            f"{stored['price_usd_per_kwh']:.4f} USD/kWh ({stored['price_basis']})"
        )
    return table


def community_table(summary: dict[str, Any], wall_time_s: float) -> Table:
    """Community self-sufficiency, market volume and price, voltage range."""
    table = Table(title="community", show_header=False)
    table.add_column("kpi")
    table.add_column("value", justify="right")
    community = summary.get("community", {})
    market = summary.get("market", {})
    voltage = summary.get("voltage", {})
    grid = summary.get("grid", {})
    nodes = grid.get("node_voltage", {})
    loading = grid.get("loading", {})
    outside_min = nodes.get("node_minutes_below", 0.0) + nodes.get("node_minutes_above", 0.0)
    rows = [
        ("self-sufficiency", _number(community.get("self_sufficiency_pct"), ".1f", "%")),
        ("self-consumption", _number(community.get("self_consumption_pct"), ".1f", "%")),
        ("traded energy", _number(market.get("traded_energy_kwh"), ".2f", "kWh")),
        (
            "volume-weighted trade price",
            _number(market.get("volume_weighted_price_usd_per_kwh"), ".4f", "USD/kWh"),
        ),
        (
            "market welfare",
            _number(market.get("welfare", {}).get("welfare_usd"), ".3f", "USD"),
        ),
        (
            "household voltage min / max",
            f"{_number(voltage.get('voltage_min_pu'), '.4f', '')}/ "
            f"{_number(voltage.get('voltage_max_pu'), '.4f', 'pu')}",
        ),
        (
            "node-minutes outside range / above limit",
            f"{_number(outside_min, '.0f', '')}/ "
            f"{_number(nodes.get('node_minutes_above_upper_limit'), '.0f', 'min')}",
        ),
        (
            "max line / transformer loading",
            f"{_number(loading.get('max_line_loading_pct'), '.0f', '')}/ "
            f"{_number(loading.get('max_transformer_loading_pct'), '.0f', '%')}",
        ),
        ("feeder losses", _number(summary.get("pcc", {}).get("losses_pct"), ".1f", "%")),
        ("wall time", f"{wall_time_s:.1f} s"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def _money(value: float | None) -> str:
    return "" if value is None else f"{round(value, 3) + 0.0:.3f}"


def _number(value: float | None, spec: str, unit: str) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:{spec}} {unit}"
