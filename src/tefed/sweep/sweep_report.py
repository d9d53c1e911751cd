"""``tefed sweep report``: chosen KPIs of a sweep against each varied parameter.

For every KPI (a column of ``sweep.parquet``) and every varied path of the sweep, one PNG in
``report/``: each complete run is a dot at its parameter value and KPI; the mean over the runs
that share a value (they differ in the other parameters or the seed) is drawn as a line.
Parameters whose values are not all numbers are placed as categories in the order they first
appear. ``report/index.html`` shows every figure (embedded, the page stands alone) with the
table of runs: parameters, status and the chosen KPIs. Failed runs have no KPIs; the page
lists them with their messages.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from difflib import get_close_matches
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from tefed.contract.errors import InputError
from tefed.reporting.html_report import PAGE_STYLE, embedded_figure, html_table
from tefed.sweep.results_table import read_sweep_folder
from tefed.sweep.run_record import STATUS_COMPLETE

#: KPIs plotted when none are chosen (those of them the table has).
DEFAULT_KPIS = (
    "community_bill_usd",
    "community.self_sufficiency_pct",
    "market.traded_energy_kwh",
    "voltage.voltage_max_pu",
)
#: Folder of the report inside the sweep's folder.
REPORT_FOLDER = "report"
#: Size of one figure [in].
FIGURE_SIZE_IN = (6.0, 4.0)


@dataclass(frozen=True)
class SweepReport:
    """What `write_sweep_report` wrote: the page and each figure."""

    page: Path
    figures: list[Path]


def figure_name(kpi: str, parameter: str) -> str:
    """The PNG's file name of a KPI against a parameter.

    Examples
    --------
    >>> figure_name("community.self_sufficiency_pct", "households.pv_battery.battery.capacity_kwh")
    'community.self_sufficiency_pct__vs__households.pv_battery.battery.capacity_kwh.png'
    """
    return re.sub(r"[^A-Za-z0-9_.-]", "_", f"{kpi}__vs__{parameter}") + ".png"


def chosen_kpis(table: pd.DataFrame, kpis: list[str]) -> list[str]:
    """The KPI columns to plot: ``kpis``, or the `DEFAULT_KPIS` the table has.

    Raises
    ------
    InputError
        Naming each KPI that is not a numeric column of the table, with the closest ones.
    """
    numeric = [
        column
        for column in table.columns
        if is_numeric_dtype(table[column]) and not is_bool_dtype(table[column])
    ]
    if not kpis:
        return [kpi for kpi in DEFAULT_KPIS if kpi in numeric]
    problems = []
    for kpi in kpis:
        if kpi not in numeric:
            close = get_close_matches(kpi, numeric, n=4, cutoff=0.5)
            hint = f"; close: {close}" if close else ""
            problems.append(f"--kpi {kpi!r}: not a numeric column of sweep.parquet{hint}")
    if problems:
        raise InputError("tefed sweep report", problems)
    return kpis


def write_sweep_report(folder: Path, kpis: list[str]) -> SweepReport:
    """Write the figures and ``index.html`` into ``folder/report``.

    Parameters
    ----------
    folder : pathlib.Path
        A sweep's output folder (``sweep.parquet`` and ``sweep.json``).
    kpis : list of str
        KPI columns to plot; empty: `DEFAULT_KPIS`.

    Raises
    ------
    InputError
        If ``folder`` is not a sweep folder, a KPI is not in its table, or no run is complete.
    """
    table, name, parameters = read_sweep_folder(folder)
    chosen = chosen_kpis(table, kpis)
    complete = table[table["status"] == STATUS_COMPLETE]
    if complete.empty:
        raise InputError(str(folder), ["no run of the sweep is complete: nothing to plot"])
    output = folder / REPORT_FOLDER
    output.mkdir(parents=True, exist_ok=True)
    figures = []
    for kpi in chosen:
        for parameter in parameters:
            path = output / figure_name(kpi, parameter)
            _kpi_figure(complete, kpi, parameter, path)
            figures.append(path)
    page = output / "index.html"
    page.write_text(_page(table, name, parameters, chosen, figures))
    return SweepReport(page, figures)


def _kpi_figure(complete: pd.DataFrame, kpi: str, parameter: str, path: Path) -> None:
    """One KPI against one parameter: a dot per run, the mean per parameter value as a line."""
    values = complete[parameter]
    numeric = is_numeric_dtype(values) and not is_bool_dtype(values)
    if numeric:
        x = values.astype(float)
    else:
        order = list(dict.fromkeys(values.astype(str)))
        x = values.astype(str).map({label: position for position, label in enumerate(order)})
    means = complete[kpi].groupby(x).mean().sort_index()
    figure, axes = plt.subplots(figsize=FIGURE_SIZE_IN, layout="constrained")
    axes.plot(x, complete[kpi], "o", alpha=0.6, label="run")
    axes.plot(means.index, means.to_numpy(), "-", color="black", label="mean")
    if not numeric:
        axes.set_xticks(range(len(order)), order)
    axes.set_xlabel(parameter)
    axes.set_ylabel(kpi)
    axes.set_title(f"{kpi}\nagainst {parameter} ({len(complete)} runs)", fontsize="medium")
    axes.legend()
    axes.grid(alpha=0.3)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _page(
    table: pd.DataFrame, name: str, parameters: list[str], kpis: list[str], figures: list[Path]
) -> str:
    title = f"tefed sweep {name}"
    failed = table[table["status"] != STATUS_COMPLETE]
    columns = ["run_id", *parameters, "status", "wall_time_s", *kpis]
    rows = table[list(dict.fromkeys(columns))].astype(object).where(table.notna(), None)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{PAGE_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{len(table)} runs, {len(table) - len(failed)} complete, {len(failed)} failed; "
        f"varied: {html.escape(', '.join(parameters))}.</p>",
        "<h2>Runs</h2>",
        html_table(list(rows.columns), rows.values.tolist()),
    ]
    if not failed.empty:
        parts.append("<h2>Failed runs</h2>")
        parts.append(
            html_table(["run_id", "message"], failed[["run_id", "message"]].values.tolist())
        )
    parts.append("<h2>KPIs against the parameters</h2>")
    parts += [embedded_figure(path, path.stem.replace("__vs__", " against ")) for path in figures]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
