"""One self-contained HTML page of a run (``tefed report RUN``): readable offline, shareable.

The page holds the run's metadata, the scenario as the federation file resolved it, the main
KPIs and the per-household, market, grid and check tables of ``summary.json``, the failures and
warnings the run recorded (``status.json``, warnings and errors in ``logs/``), every plot of
``plots/`` embedded as a base64 PNG, and the whole ``summary.json`` at the end. A run that failed
before its summary was written still gets a page with what it has; a summary of a failed run
(``incomplete``) is labelled as covering only the intervals the run completed.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

import pandas as pd

from tefed.analysis.compare_runs import MAIN_KPIS, format_value
from tefed.contract.federation_file import FederationFile
from tefed.contract.run_folder import RunFolder
from tefed.reporting.plots import PLOT_TITLES

#: Log lines at these levels are listed as the run's warnings.
LOGGED_LEVELS = (" WARNING ", " ERROR ", " CRITICAL ")
#: Up to this many warning lines are shown per log.
MAX_LOG_LINES = 20

PAGE_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f3f3f3; }
.ok { color: #17692f; font-weight: bold; } .bad { color: #b00020; font-weight: bold; }
.note { background: #fff6d6; border-left: 4px solid #e0a800; padding: 0.5em 1em; }
figure { margin: 1em 0 2em; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-weight: bold; margin-bottom: 0.3em; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.8em; }
"""


def write_html_report(folder: RunFolder) -> Path:
    """Write ``report.html`` into the run folder (atomically); returns its path.

    Parameters
    ----------
    folder : RunFolder
        A run folder with at least its ``federation.json``.
    """
    return folder.write_text("report.html", render_report(folder))


def render_report(folder: RunFolder) -> str:
    """The HTML page of a run (see the module's description)."""
    federation = FederationFile.model_validate(folder.read_json("federation.json"))
    summary_path = folder.file("summary.json")
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else None
    status = folder.status()
    title = f"tefed run {federation.tefed.scenario} — {folder.path.name}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_text(title)}</title><style>{PAGE_STYLE}</style></head><body>",
        f"<h1>{_text(title)}</h1>",
        _run_section(folder, federation, status, summary),
        _problems_section(folder, status, summary),
        _scenario_section(federation),
    ]
    if summary is None:
        parts.append('<p class="note">No summary.json: the run did not finish its report.</p>')
    else:
        parts += [
            _main_kpis_section(summary),
            _households_section(summary),
            _market_section(summary),
            _grid_section(summary),
            _checks_section(summary),
        ]
    parts.append(_plots_section(folder))
    if summary is not None:
        text = json.dumps(summary, indent=2)
        parts.append(f"<h2>summary.json</h2><details><pre>{_text(text)}</pre></details>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _text(value: Any) -> str:
    return html.escape(str(value))


def html_table(header: list[str], rows: list[list[Any]]) -> str:
    """An HTML table: a header row, then one row per list (values escaped and formatted)."""
    head = "".join(f"<th>{_text(name)}</th>" for name in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(value)}</td>" for value in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return '<span class="ok">yes</span>' if value else '<span class="bad">no</span>'
    if isinstance(value, float):
        # Rounding noise (a bill equal to its baseline) shows as 0, not as -2.2e-16.
        return _text(format_value(0.0 if abs(value) < 1e-12 else value, ".4g"))
    if value is None:
        return "n/a"
    return _text(value)


def _pairs(mapping: dict[str, Any]) -> str:
    """A two-column table of the scalar entries of a mapping."""
    rows = [
        [key, json.dumps(value) if isinstance(value, list) else value]
        for key, value in mapping.items()
        if not isinstance(value, dict) and not (isinstance(value, list) and len(value) > 12)
    ]
    return html_table(["name", "value"], rows) if rows else ""


def _run_section(
    folder: RunFolder,
    federation: FederationFile,
    status: dict[str, Any],
    summary: dict[str, Any] | None,
) -> str:
    metadata = (summary or {}).get("metadata", {})
    state = status.get("state", "unknown")
    rows = [
        ["run folder", str(folder.path)],
        ["state", state],
        ["started at", status.get("started_at")],
        ["ended at", status.get("ended_at")],
        ["wall time [s]", metadata.get("wall_time_s")],
        ["seed", federation.tefed.seed],
        ["git SHA", metadata.get("git_sha")],
        ["python", metadata.get("python")],
        ["platform", metadata.get("platform")],
    ]
    rows += [
        [f"version of {name}", version] for name, version in metadata.get("versions", {}).items()
    ]
    timing = [
        [name, record.get("busy_s"), record.get("waiting_s"), record.get("steps")]
        for name, record in metadata.get("federates", {}).items()
    ]
    text = "<h2>Run</h2>" + html_table(["", "value"], rows)
    if timing:
        text += "<h3>Federates: wall time computing and waiting</h3>" + html_table(
            ["federate", "busy [s]", "waiting [s]", "steps"], timing
        )
    return text


def _problems_section(folder: RunFolder, status: dict[str, Any], summary: dict | None) -> str:
    items = []
    if status.get("state") == "failed":
        items.append(
            f"<p class='note'><b>The run failed</b> in "
            f"{_text(status.get('failed_federate') or 'an unknown federate')}: "
            f"{_text(status.get('message', ''))}</p>"
        )
    incomplete = (summary or {}).get("incomplete")
    if incomplete:
        items.append(
            "<p class='note'><b>Incomplete results</b>: the KPIs and checks below cover the "
            f"first {incomplete.get('completed_intervals')} of "
            f"{incomplete.get('run_intervals')} market intervals (until t="
            f"{incomplete.get('completed_until_s')} s), the part of the run every federate "
            "completed and wrote.</p>"
        )
        for key in ("summary_error", "plots_error"):
            if incomplete.get(key):
                items.append(f"<p class='note'>{_text(key)}: {_text(incomplete[key])}</p>")
    unrecorded = (summary or {}).get("households_not_recorded_by_tefed")
    if unrecorded:
        items.append(
            f"<p class='note'><b>{unrecorded['count']} household(s) not recorded by tefed</b> "
            f"({_text(', '.join(unrecorded['household_ids']))}): {_text(unrecorded['reason'])}"
            "</p>"
        )
    for log in sorted((folder.path / "logs").glob("*.log")):
        lines = [
            line
            for line in log.read_text(errors="replace").splitlines()
            if any(level in line for level in LOGGED_LEVELS)
        ]
        if lines:
            shown = "\n".join(lines[:MAX_LOG_LINES])
            more = len(lines) - MAX_LOG_LINES
            items.append(
                f"<h3>{_text(log.name)}: {len(lines)} warning(s) or error(s)</h3>"
                f"<pre>{_text(shown)}</pre>" + (f"<p>… and {more} more</p>" if more > 0 else "")
            )
    body = "".join(items) if items else "<p>No failure and no warning was recorded.</p>"
    return "<h2>Failures and warnings</h2>" + body


def _scenario_section(federation: FederationFile) -> str:
    tefed = federation.tefed
    households = federation.households_frame()
    # Older federation files lack some device columns; a missing one counts as none.
    devices = households.reindex(
        columns=[
            "group",
            "household_id",
            "strategy",
            "pv_kwp",
            "battery_capacity_kwh",
            "ev_capacity_kwh",
        ]
    ).fillna({"pv_kwp": 0.0, "battery_capacity_kwh": 0.0, "ev_capacity_kwh": 0.0})
    groups = devices.groupby("group", sort=False).agg(
        households=("household_id", "size"),
        strategy=("strategy", lambda s: ", ".join(sorted(set(s)))),
        pv_kwp=("pv_kwp", "sum"),
        battery_kwh=("battery_capacity_kwh", "sum"),
        evs=("ev_capacity_kwh", lambda s: int((pd.to_numeric(s, errors="coerce") > 0).sum())),
    )
    rows = [list(row) for row in groups.itertuples()]
    text = (
        f"<h2>Scenario</h2><p>Scenario <b>{_text(tefed.scenario)}</b> as resolved in "
        f"federation.json: {len(households)} households in {len(groups)} group(s), "
        f"{tefed.time.duration_s} s from {_text(tefed.time.start)} ({_text(tefed.time.timezone)})"
        f" at {tefed.time.grid_step_s} s grid steps and {tefed.time.market_interval_s} s market "
        "intervals.</p>"
    )
    text += html_table(
        ["group", "households", "strategy", "PV [kWp]", "batteries [kWh]", "EVs"], rows
    )
    for entry in federation.federate_entries():
        if entry.tefed is None or entry.tefed.role == "ems":
            continue
        text += f"<h3>{_text(entry.name)} ({_text(entry.tefed.role)})</h3>" + _pairs(
            entry.tefed.config
        )
    return text


def _main_kpis_section(summary: dict[str, Any]) -> str:
    rows = [
        [
            f"{kpi.label} [{kpi.unit}]" if kpi.unit else kpi.label,
            format_value(kpi.read(summary), kpi.spec),
        ]
        for kpi in MAIN_KPIS
    ]
    return "<h2>Main KPIs</h2>" + html_table(["KPI", "value"], rows)


def _households_section(summary: dict[str, Any]) -> str:
    rows = summary.get("households", {})
    columns = sorted({key for row in rows.values() for key in row} - {"strategy"})
    table = [
        [name, row.get("strategy"), *(row.get(c) for c in columns)] for name, row in rows.items()
    ]
    return "<h2>Households</h2>" + html_table(["household", "strategy", *columns], table)


def _market_section(summary: dict[str, Any]) -> str:
    market = summary.get("market")
    if not market:
        return ""
    pools = market.get("pools", {})
    statistics = sorted({key for stats in pools.values() for key in stats})
    text = "<h2>Market</h2>" + _pairs(market)
    text += "<h3>Per pool</h3>" + html_table(
        ["pool", *statistics],
        [[pool, *(stats.get(k) for k in statistics)] for pool, stats in pools.items()],
    )
    welfare = market.get("welfare", {})
    return text + "<h3>Welfare</h3>" + _pairs(welfare)


def _grid_section(summary: dict[str, Any]) -> str:
    text = "<h2>Grid</h2>"
    if "pcc" in summary:
        text += "<h3>Point of common coupling</h3>" + _pairs(summary["pcc"])
    if "voltage" in summary:
        voltage = summary["voltage"]
        text += "<h3>Household voltages</h3>" + _pairs(voltage)
        if voltage.get("household_minutes_outside_range"):
            text += html_table(
                ["household", "minutes outside the range"],
                list(voltage["household_minutes_outside_range"].items()),
            )
    grid = summary.get("grid", {})
    for name, heading in (
        ("node_voltage", "Node voltages"),
        ("loading", "Lines and transformers"),
        ("unbalance", "Phase unbalance"),
        ("power_flow", "Power flow"),
    ):
        if name in grid:
            text += f"<h3>{heading}</h3>" + _pairs(grid[name])
    for name, heading in (
        ("buses_outside_range", "Buses with the most minutes outside the range [min]"),
        ("buses_above_upper_limit", "Buses with the most minutes above the upper limit [min]"),
    ):
        found = grid.get("node_voltage", {}).get(name)
        if found:
            text += f"<h4>{heading}</h4>" + html_table(["bus", "minutes"], list(found.items()))
    most = grid.get("loading", {}).get("most_loaded")
    if most:
        text += "<h4>Most loaded elements [%]</h4>" + html_table(
            ["element", "max loading"], list(most.items())
        )
    return text


def _checks_section(summary: dict[str, Any]) -> str:
    checks = summary.get("checks", {})
    return "<h2>Checks</h2>" + html_table(["check", "value"], [[k, v] for k, v in checks.items()])


def _plots_section(folder: RunFolder) -> str:
    found = {path.name: path for path in sorted((folder.path / "plots").glob("*.png"))}
    names = [name for name in PLOT_TITLES if name in found] + [
        name for name in found if name not in PLOT_TITLES
    ]
    if not names:
        return "<h2>Plots</h2><p>No plots were written.</p>"
    figures = [embedded_figure(found[name], PLOT_TITLES.get(name, name)) for name in names]
    return "<h2>Plots</h2>" + "".join(figures)


def embedded_figure(path: Path, caption: str) -> str:
    """An HTML figure of the PNG at ``path``, embedded (the page stands alone), with a caption."""
    encoded = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f"<figure><figcaption>{_text(caption)}</figcaption>"
        f'<img alt="{_text(path.name)}" src="data:image/png;base64,{encoded}"></figure>'
    )
