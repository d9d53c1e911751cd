"""Main KPIs of several runs side by side (``tefed compare``).

Each run is a results folder with a ``summary.json``; a run is labelled by its scenario name and
run id. The table has one row per KPI (`MAIN_KPIS`, each with its unit) and one column per run,
and can be printed (rich), or written as CSV or Markdown.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from rich.markup import escape
from rich.table import Table

from tefed.contract.errors import InputError


@dataclass(frozen=True)
class Kpi:
    """One row of the comparison: a name, its unit, how to read it from a summary, a format."""

    label: str
    unit: str
    read: Callable[[dict[str, Any]], float | int | bool | None]
    spec: str = ".3f"


def _at(*path: str) -> Callable[[dict[str, Any]], Any]:
    """A reader of the value at ``path`` in a summary (None where any key is missing)."""

    def read(summary: dict[str, Any]) -> Any:
        value: Any = summary
        for key in path:
            if not isinstance(value, dict) or key not in value:
                return None
            value = value[key]
        return value

    return read


def _node_minutes_outside(summary: dict[str, Any]) -> float | None:
    below = _at("grid", "node_voltage", "node_minutes_below")(summary)
    above = _at("grid", "node_voltage", "node_minutes_above")(summary)
    return None if below is None or above is None else below + above


def _mean_battery_cycles(summary: dict[str, Any]) -> float | None:
    cycles = [
        row["battery_equivalent_full_cycles"]
        for row in summary.get("households", {}).values()
        if row.get("battery_equivalent_full_cycles") is not None
    ]
    return sum(cycles) / len(cycles) if cycles else None


def _checks_passed(summary: dict[str, Any]) -> bool | None:
    checks = summary.get("checks", {})
    verdicts = [value for key, value in checks.items() if key.endswith(("_ok", "_within_limits"))]
    return all(verdicts) if verdicts else None


#: The KPIs ``tefed compare`` and the HTML report show first.
MAIN_KPIS = (
    Kpi("community bill", "USD", _at("community_bill_usd")),
    Kpi("community baseline bill (net billing)", "USD", _at("community_baseline_bill_usd")),
    Kpi("community income advantage", "USD", _at("community_income_advantage_usd")),
    Kpi("self-sufficiency", "%", _at("community", "self_sufficiency_pct"), ".1f"),
    Kpi("self-consumption", "%", _at("community", "self_consumption_pct"), ".1f"),
    Kpi("PCC import", "kWh", _at("pcc", "substation_import_kwh"), ".2f"),
    Kpi("PCC export", "kWh", _at("pcc", "substation_export_kwh"), ".2f"),
    Kpi("PCC peak import", "kW", _at("pcc", "peak_import_kw"), ".2f"),
    Kpi("PCC peak export", "kW", _at("pcc", "peak_export_kw"), ".2f"),
    Kpi("PCC voltage min", "pu", _at("pcc", "voltage_min_pu"), ".4f"),
    Kpi("PCC voltage max", "pu", _at("pcc", "voltage_max_pu"), ".4f"),
    Kpi("feeder losses", "kWh", _at("pcc", "losses_kwh"), ".2f"),
    Kpi("feeder losses", "%", _at("pcc", "losses_pct"), ".2f"),
    Kpi("traded energy", "kWh", _at("market", "traded_energy_kwh"), ".2f"),
    Kpi("trades", "count", _at("market", "trades"), "d"),
    Kpi(
        "volume-weighted trade price",
        "USD/kWh",
        _at("market", "volume_weighted_price_usd_per_kwh"),
        ".4f",
    ),
    Kpi("market welfare", "USD", _at("market", "welfare", "welfare_usd")),
    Kpi("consumer price", "USD/kWh", _at("market", "consumer_price_usd_per_kwh"), ".4f"),
    Kpi("consumer price at bus DLMP", "USD/kWh", _at("market", "consumer_dlmp_usd_per_kwh"), ".4f"),
    Kpi("max DLMP spread", "USD/kWh", _at("market", "max_dlmp_spread_usd_per_kwh"), ".4f"),
    Kpi("binding intervals", "", _at("market", "intervals_with_binding_branch"), ".0f"),
    Kpi("household voltage min", "pu", _at("voltage", "voltage_min_pu"), ".4f"),
    Kpi("household voltage max", "pu", _at("voltage", "voltage_max_pu"), ".4f"),
    Kpi(
        "household-minutes outside the range",
        "min",
        _at("voltage", "outside_range_household_minutes"),
        ".0f",
    ),
    Kpi(
        "household-minutes above the upper limit",
        "min",
        _at("voltage", "above_upper_limit_household_minutes"),
        ".0f",
    ),
    Kpi("node-minutes outside the range", "min", _node_minutes_outside, ".0f"),
    Kpi("max line loading", "%", _at("grid", "loading", "max_line_loading_pct"), ".1f"),
    Kpi(
        "max transformer loading", "%", _at("grid", "loading", "max_transformer_loading_pct"), ".1f"
    ),
    Kpi("line overload minutes", "min", _at("grid", "loading", "line_overload_minutes"), ".0f"),
    Kpi(
        "transformer overload minutes",
        "min",
        _at("grid", "loading", "transformer_overload_minutes"),
        ".0f",
    ),
    Kpi("max voltage unbalance", "%", _at("grid", "unbalance", "max_unbalance_pct"), ".2f"),
    Kpi("mean battery equivalent full cycles", "cycles", _mean_battery_cycles, ".2f"),
    Kpi("wall time", "s", _at("metadata", "wall_time_s"), ".1f"),
    Kpi("all checks passed", "", _checks_passed, ""),
)


def read_summary(folder: Path) -> dict[str, Any]:
    """The ``summary.json`` of a run folder.

    Raises
    ------
    InputError
        Naming the folder when it has no ``summary.json`` (with the failure recorded in its
        ``status.json``, if any) or the file is not valid JSON.
    """
    path = Path(folder) / "summary.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        problem = f"no summary.json in {folder}"
        try:
            status = json.loads((Path(folder) / "status.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            status = {}
        if status.get("state") == "failed":
            problem += (
                f": the run failed ({status.get('failed_federate') or 'unknown federate'}: "
                f"{status.get('message', '')})"
            )
        elif not Path(folder).is_dir():
            problem += ": no such folder"
        else:
            problem += "; expected a finished run's results folder"
        raise InputError(str(folder), [problem]) from None
    except json.JSONDecodeError as error:
        raise InputError(str(path), [f"not valid JSON at line {error.lineno}"]) from None


def run_label(folder: Path, summary: dict[str, Any]) -> str:
    """``<scenario> <run id>`` of a run (the run id is the folder's name if not recorded)."""
    run_id = summary.get("metadata", {}).get("run_id") or Path(folder).resolve().name
    return f"{summary.get('scenario', '?')} {run_id}"


def comparison_table(folders: list[Path], labels: list[str | None] | None = None) -> pd.DataFrame:
    """The main KPIs of every run, one column per run.

    Parameters
    ----------
    folders : list of Path
        Run folders, each with a ``summary.json``.
    labels : list of (str or None), optional
        A column label per folder (a sweep's run: its parameters); None: `run_label`.

    Returns
    -------
    pandas.DataFrame
        Index: ``KPI [unit]`` for each of `MAIN_KPIS`; columns: run labels (`run_label`, made
        unique by a ``#n`` suffix where two runs share one); values as read (None where a run
        has no such KPI).

    Raises
    ------
    InputError
        Listing every folder without a readable ``summary.json``.
    """
    problems, columns = [], {}
    for folder, given in zip(folders, labels or [None] * len(folders), strict=True):
        try:
            summary = read_summary(folder)
        except InputError as error:
            problems.extend(error.problems)
            continue
        label = given or run_label(folder, summary)
        if label in columns:
            label = f"{label} #{sum(name.startswith(label) for name in columns) + 1}"
        columns[label] = [kpi.read(summary) for kpi in MAIN_KPIS]
    if problems:
        raise InputError("tefed compare", problems)
    index = [_row_name(kpi) for kpi in MAIN_KPIS]
    return pd.DataFrame(columns, index=pd.Index(index, name="KPI"), dtype=object)


def _row_name(kpi: Kpi) -> str:
    return f"{kpi.label} [{kpi.unit}]" if kpi.unit else kpi.label


def format_value(value: Any, spec: str) -> str:
    """A KPI value as text: ``n/a`` when missing, yes/no for verdicts, else with ``spec``.

    Examples
    --------
    >>> format_value(0.12345, ".3f"), format_value(None, ".3f"), format_value(True, "")
    ('0.123', 'n/a', 'yes')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if spec == "d":
        return f"{int(value)}"
    return f"{value:{spec}}" if spec else str(value)


def formatted(table: pd.DataFrame) -> pd.DataFrame:
    """`comparison_table` with every value as text in its KPI's format."""
    specs = {_row_name(kpi): kpi.spec for kpi in MAIN_KPIS}
    return pd.DataFrame(
        {
            label: [format_value(value, specs.get(name, "")) for name, value in column.items()]
            for label, column in table.items()
        },
        index=table.index,
    )


def rich_table(table: pd.DataFrame) -> Table:
    """A rich table of `comparison_table` for the terminal."""
    shown = Table(title="main KPIs")
    shown.add_column("KPI")
    for label in table.columns:
        shown.add_column(escape(label), justify="right")
    for name, row in formatted(table).iterrows():
        shown.add_row(escape(str(name)), *(escape(value) for value in row))
    return shown


def markdown_text(table: pd.DataFrame) -> str:
    """`comparison_table` as a Markdown (GitHub) table.

    Examples
    --------
    >>> print(markdown_text(pd.DataFrame({"a 1": [0.5]}, index=pd.Index(
    ...     [_row_name(MAIN_KPIS[0])], name="KPI"))).strip())
    | KPI | a 1 |
    |---|---:|
    | community bill [USD] | 0.500 |
    """
    text = formatted(table)
    lines = [
        "| KPI | " + " | ".join(text.columns) + " |",
        "|---|" + "---:|" * len(text.columns),
    ]
    lines += [f"| {name} | " + " | ".join(row) + " |" for name, row in text.iterrows()]
    return "\n".join(lines) + "\n"
