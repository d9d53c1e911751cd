"""One self-contained HTML page of a run (``tefed report RUN``): readable offline, shareable.

The page opens with the summary's plausibility warnings (``warnings``: a set-up that runs but is
unlikely to be what was meant), a table of contents and any failure of the run, then shows every
plot of ``plots/`` (embedded as base64 PNG), the main KPIs, the per-household, market, grid and
check tables of ``summary.json`` (each key by its human label and unit,
`tefed.analysis.kpi_labels`), the inputs (scenario, feeder, data files, versions), the run's
metadata, the warnings its logs recorded, and the whole ``summary.json`` at the end. Wide tables
scroll sideways in their own box. A run that failed before its summary was written still gets a
page with what it has; a summary of a failed run (``incomplete``) is labelled as covering only
the intervals the run completed.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

import pandas as pd

from tefed.analysis.compare_runs import MAIN_KPIS, format_value
from tefed.analysis.kpi_labels import kpi_label
from tefed.contract.federation_file import FederationFile
from tefed.contract.run_folder import RunFolder
from tefed.reporting.plots import PLOT_TITLES
from tefed.results.summary_model import HouseholdKpis

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
.scroll { overflow-x: auto; max-width: 100%; }
nav ol { columns: 2; margin: 0.5em 0 1.5em; }
"""

#: The page's sections in order: anchor and heading.
SECTIONS = (
    ("plots", "Plots"),
    ("kpis", "Main KPIs"),
    ("households", "Households"),
    ("market", "Market"),
    ("grid", "Grid"),
    ("checks", "Checks"),
    ("inputs", "Inputs"),
    ("run", "Run"),
    ("warnings", "Failures and warnings"),
    ("summary", "summary.json"),
)


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
    bodies = {
        "plots": _plots_section(folder),
        "inputs": _inputs_section(federation, summary),
        "run": _run_section(folder, federation, status, summary),
        "warnings": _log_warnings(folder),
    }
    if summary is not None:
        bodies |= {
            "kpis": _main_kpis_section(summary),
            "households": _households_section(summary),
            "market": _market_section(summary),
            "grid": _grid_section(summary),
            "checks": _checks_section(summary),
            "summary": f"<details><pre>{_text(json.dumps(summary, indent=2))}</pre></details>",
        }
    shown = [(anchor, heading) for anchor, heading in SECTIONS if bodies.get(anchor)]
    contents = "".join(f'<li><a href="#{anchor}">{heading}</a></li>' for anchor, heading in shown)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_text(title)}</title><style>{PAGE_STYLE}</style></head><body>",
        f"<h1>{_text(title)}</h1>",
        _plausibility_section(summary),
        f"<nav><ol>{contents}</ol></nav>",
        _status_notes(status, summary),
    ]
    parts += [f'<h2 id="{anchor}">{heading}</h2>{bodies[anchor]}' for anchor, heading in shown]
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
    return f'<div class="scroll"><table><tr>{head}</tr>{body}</table></div>'


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return '<span class="ok">yes</span>' if value else '<span class="bad">no</span>'
    if isinstance(value, float):
        # Rounding noise (a bill equal to its baseline) shows as 0, not as -2.2e-16.
        return _text(format_value(0.0 if abs(value) < 1e-12 else value, ".4g"))
    if value is None:
        return "n/a"
    return _text(value)


def _pairs(mapping: dict[str, Any], section: str | None = None) -> str:
    """A two-column table of the scalar entries of a mapping, each by its label and unit."""
    rows = [
        [kpi_label(key, section), json.dumps(value) if isinstance(value, list) else value]
        for key, value in mapping.items()
        if not isinstance(value, dict) and not (isinstance(value, list) and len(value) > 12)
    ]
    return html_table(["name", "value"], rows) if rows else ""


def _plausibility_section(summary: dict[str, Any] | None) -> str:
    """The summary's plausibility warnings, first on the page (nothing when there are none)."""
    warnings = (summary or {}).get("warnings") or []
    if not warnings:
        return ""
    items = []
    for warning in warnings:
        unit = f" {warning['unit']}" if warning["unit"] else ""
        measured = (
            f" ({_text(format_value(warning['value'], '.4g'))}{_text(unit)}; threshold "
            f"{_text(format_value(warning['threshold'], '.4g'))}{_text(unit)})"
            if warning["value"] is not None
            else ""
        )
        items.append(
            f"<li><b>{_text(warning['check'])}</b>{measured}: {_text(warning['message'])}</li>"
        )
    return (
        f"<div class='note'><h2>Warnings: {len(warnings)} about this set-up</h2>"
        "<p>The run worked, but its set-up is unlikely to be what was meant; read these "
        f"before the results.</p><ul>{''.join(items)}</ul></div>"
    )


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
    ]
    timing = [
        [name, record.get("busy_s"), record.get("waiting_s"), record.get("steps")]
        for name, record in metadata.get("federates", {}).items()
    ]
    text = html_table(["", "value"], rows)
    if timing:
        text += "<h3>Federates: wall time computing and waiting</h3>" + html_table(
            ["federate", "busy [s]", "waiting [s]", "steps"], timing
        )
    return text


def _status_notes(status: dict[str, Any], summary: dict | None) -> str:
    """What a reader must know before any figure: the run failed, or covers part of the run."""
    items = []
    if status.get("state") == "failed":
        items.append(
            f"<p class='note'><b>The run failed</b> in "
            f"{_text(status.get('failed_federate') or 'an unknown federate')}: "
            f"{_text(status.get('message', ''))} (<a href='#warnings'>logs</a>)</p>"
        )
    if summary is None:
        items.append('<p class="note">No summary.json: the run did not finish its report.</p>')
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
    return "".join(items)


def _log_warnings(folder: RunFolder) -> str:
    """The warning and error lines of every log of the run."""
    items = []
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
    return "".join(items) if items else "<p>No warning and no error was logged.</p>"


def _inputs_section(federation: FederationFile, summary: dict[str, Any] | None) -> str:
    """The scenario as resolved, its feeder and data files, and the software that ran it."""
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
        f"<p>Scenario <b>{_text(tefed.scenario)}</b> as resolved in "
        f"federation.json: {len(households)} households in {len(groups)} group(s), "
        f"{tefed.time.duration_s} s from {_text(tefed.time.start)} ({_text(tefed.time.timezone)})"
        f" at {tefed.time.grid_step_s} s grid steps and {tefed.time.market_interval_s} s market "
        "intervals.</p>"
    )
    text += html_table(
        ["Group", "Households", "Strategy", "PV [kWp]", "Batteries [kWh]", "EVs"], rows
    )
    text += "<h3>Feeder and data files</h3>" + html_table(
        ["input", "value"], _input_files(federation)
    )
    metadata = (summary or {}).get("metadata", {})
    versions = [
        ["tefed git SHA", metadata.get("git_sha")],
        ["python", metadata.get("python")],
        ["platform", metadata.get("platform")],
        *([name, version] for name, version in metadata.get("versions", {}).items()),
    ]
    text += "<h3>Versions</h3>" + html_table(["software", "version"], versions)
    for entry in federation.federate_entries():
        if entry.tefed is None or entry.tefed.role == "ems":
            continue
        text += f"<h3>{_text(entry.name)} ({_text(entry.tefed.role)})</h3>" + _pairs(
            entry.tefed.config
        )
    return text


def _input_files(federation: FederationFile) -> list[list[Any]]:
    """The feeder and where loads, PV weather and prices come from, as (input, value) rows."""
    rows: list[list[Any]] = []
    for entry in federation.federate_entries():
        if entry.tefed is None:
            continue
        config = entry.tefed.config
        feeder = config.get("feeder") if entry.tefed.role == "grid" else None
        if feeder and feeder["source"] == "opendss":
            rows.append(["feeder: OpenDSS master file", feeder["master"]])
            rows += [["feeder: command after compiling", command] for command in feeder["commands"]]
        elif feeder:
            households = feeder["design"].get("n_households")
            rows.append(
                ["feeder", f"generated {feeder['generator']} (seed {feeder['seed']}, "
                 f"{households} households)"]
            )  # fmt: skip
        wholesale = config.get("wholesale")
        if entry.tefed.role == "price_feed" and wholesale:
            rows.append(["wholesale prices", wholesale.get("path") or wholesale["source"]])
        pv_model = config.get("pv_model")
        if entry.tefed.role == "ems" and pv_model:
            rows.append(["PV irradiance", pv_model.get("weather_file") or pv_model["irradiance"]])
    households = federation.households_frame()
    profiles = households["load_profile"].astype(str).unique()
    rows.append(["household load profiles", ", ".join(sorted(profiles))])
    if "load_csv" in households:
        files = households["load_csv"].replace("", None).dropna().unique()
        rows += [["household load (CSV)", path] for path in sorted(files)]
    # The feeder first, whichever entry came first in the file.
    return sorted(rows, key=lambda row: not row[0].startswith("feeder"))


def _main_kpis_section(summary: dict[str, Any]) -> str:
    rows = [
        [
            _capitalized(f"{kpi.label} [{kpi.unit}]" if kpi.unit else kpi.label),
            format_value(kpi.read(summary), kpi.spec),
        ]
        for kpi in MAIN_KPIS
    ]
    return html_table(["KPI", "value"], rows)


def _households_section(summary: dict[str, Any]) -> str:
    rows = summary.get("households", {})
    present = {key for row in rows.values() for key in row} - {"strategy"}
    # The typed summary's order (bills first), then keys it does not name.
    named = [field for field in HouseholdKpis.model_fields if field in present]
    columns = named + sorted(present - set(named))
    table = [
        [name, row.get("strategy"), *(row.get(c) for c in columns)] for name, row in rows.items()
    ]
    return html_table(["Household", "Strategy", *(kpi_label(column) for column in columns)], table)


def _market_section(summary: dict[str, Any]) -> str:
    market = summary.get("market")
    if not market:
        return ""
    pools = market.get("pools", {})
    statistics = sorted({key for stats in pools.values() for key in stats})
    text = _pairs(market, "market")
    text += "<h3>Per pool</h3>" + html_table(
        ["Pool", *(kpi_label(key) for key in statistics)],
        [[pool, *(stats.get(k) for k in statistics)] for pool, stats in pools.items()],
    )
    welfare = market.get("welfare", {})
    text += "<h3>Welfare</h3>" + _pairs(welfare or {}, "market.welfare")
    if market.get("not_available"):
        # A market that wrote no tables: what only its own books could tell.
        text += "<h3>Not available</h3>" + _pairs(market["not_available"])
    return text


def _grid_section(summary: dict[str, Any]) -> str:
    text = ""
    if "pcc" in summary:
        text += "<h3>Point of common coupling</h3>" + _pairs(summary["pcc"], "pcc")
    if "voltage" in summary:
        voltage = summary["voltage"]
        text += "<h3>Household voltages</h3>" + _pairs(voltage, "voltage")
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
            text += f"<h3>{heading}</h3>" + _pairs(grid[name], f"grid.{name}")
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
    return html_table(
        ["Check", "value"], [[kpi_label(key, "checks"), v] for key, v in checks.items()]
    )


def _plots_section(folder: RunFolder) -> str:
    found = {path.name: path for path in sorted((folder.path / "plots").glob("*.png"))}
    names = [name for name in PLOT_TITLES if name in found] + [
        name for name in found if name not in PLOT_TITLES
    ]
    if not names:
        return "<p>No plots were written.</p>"
    return "".join(embedded_figure(found[name], PLOT_TITLES.get(name, name)) for name in names)


def embedded_figure(path: Path, caption: str) -> str:
    """An HTML figure of the PNG at ``path``, embedded (the page stands alone), with a caption."""
    encoded = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f"<figure><figcaption>{_text(caption)}</figcaption>"
        f'<img alt="{_text(path.name)}" src="data:image/png;base64,{encoded}"></figure>'
    )


def _capitalized(label: str) -> str:
    return label[:1].upper() + label[1:]
