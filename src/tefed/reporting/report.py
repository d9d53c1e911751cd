"""The run report: ``summary.json`` and the plots, of a finished run or of what a failed one kept.

A run that failed (or whose tables stop early) gets a report of the market intervals every
table covers (`tefed.analysis.run_tables.completed_intervals`), with ``incomplete`` in
``summary.json`` saying so, how far the run got and why it stopped; a summary or plot that cannot
be made of such partial tables is recorded there instead of raised.
"""

from __future__ import annotations

import logging
from typing import Any

from tefed.analysis.run_metadata import run_metadata
from tefed.analysis.run_tables import completed_intervals, read_run_tables, tables_until
from tefed.analysis.summary import compute_summary
from tefed.contract.federation_file import FederationFile
from tefed.contract.run_folder import RESULTS_COMPLETE, RESULTS_INCOMPLETE, STATUS_FAILED, RunFolder

log = logging.getLogger(__name__)


def write_report(folder: RunFolder, plots: bool | None = None) -> dict[str, Any]:
    """Compute and write ``summary.json`` and the plots of a run; returns the summary.

    A finished run's report covers the whole run (and an error in it is raised); a failed run's
    covers the intervals its tables hold and is marked ``incomplete`` (with none, no summary
    is written and only ``{"incomplete": ...}`` is returned). ``plots`` says whether to draw
    the figures (None: as the run's federation file says, ``tefed.results.plots``).
    """
    federation = FederationFile.model_validate(folder.read_json("federation.json"))
    if plots is None:
        plots = federation.tefed.results.plots
    tables = read_run_tables(folder)
    status = folder.status()
    if status.get("state") != STATUS_FAILED:
        n_intervals = federation.tefed.time.to_time_grid().n_intervals
        if completed_intervals(federation, tables) >= n_intervals:
            summary = compute_summary(federation, tables)
            summary["metadata"] = {**run_metadata(folder, federation), "results": RESULTS_COMPLETE}
            folder.write_json("summary.json", summary)
            if plots:
                _write_plots(folder, federation, tables)
            return summary
    return _write_incomplete_report(folder, federation, tables, status, plots)


def _write_incomplete_report(
    folder: RunFolder,
    federation: FederationFile,
    tables: dict,
    status: dict[str, Any],
    plots: bool,
) -> dict[str, Any]:
    """Summary and plots of the market intervals every table completed, marked incomplete."""
    time = federation.tefed.time
    incomplete: dict[str, Any] = {
        "completed_intervals": 0,
        "run_intervals": time.to_time_grid().n_intervals,
        "completed_until_s": 0,
        "state": status.get("state"),
        "failed_federate": status.get("failed_federate"),
        "message": status.get("message"),
        "note": "KPIs and checks cover only the completed intervals: the run stopped early",
    }
    cut: dict = {}
    try:
        intervals = completed_intervals(federation, tables)
        incomplete["completed_intervals"] = intervals
        incomplete["completed_until_s"] = intervals * int(time.market_interval_s)
        if intervals == 0:
            # Nothing to summarise: the page shows the failure and the logs.
            log.warning("the run completed no market interval: no summary")
            return {"incomplete": incomplete}
        cut = tables_until(federation, tables, intervals)
        summary = compute_summary(federation, cut)
    except Exception as error:  # partial tables: record what failed, never a traceback
        log.warning("summary of the incomplete run failed: %s", error)
        incomplete["summary_error"] = f"{type(error).__name__}: {error}"
        summary = {
            "scenario": federation.tefed.scenario,
            "seed": federation.tefed.seed,
            "time": time.model_dump(exclude={"phase_offsets_s"}),
        }
    summary["incomplete"] = incomplete
    summary["metadata"] = {**run_metadata(folder, federation), "results": RESULTS_INCOMPLETE}
    folder.write_json("summary.json", summary)
    if not plots:
        return summary
    try:
        _write_plots(folder, federation, cut)
    except Exception as error:  # a plot of partial tables is not worth a traceback
        log.warning("plots of the incomplete run failed: %s", error)
        incomplete["plots_error"] = f"{type(error).__name__}: {error}"
        folder.write_json("summary.json", summary)
    return summary


def _write_plots(folder: RunFolder, federation: FederationFile, tables: dict) -> None:
    """`tefed.reporting.plots.write_plots`, imported only when figures are drawn: matplotlib
    is half a second of every run's start otherwise (``--no-plots`` runs never load it)."""
    from tefed.reporting.plots import write_plots

    write_plots(folder, federation, tables)
