"""The run report of a finished run: ``summary.json`` and the plots."""

from __future__ import annotations

from typing import Any

from tefed.analysis.summary import compute_summary, read_run_tables, run_metadata
from tefed.contract.federation_file import FederationFile
from tefed.contract.run_folder import RunFolder
from tefed.reporting.plots import write_plots


def write_report(folder: RunFolder) -> dict[str, Any]:
    """Compute and write ``summary.json`` and the plots of a finished run; returns the summary."""
    federation = FederationFile.model_validate(folder.read_json("federation.json"))
    tables = read_run_tables(folder)
    summary = compute_summary(federation, tables)
    summary["metadata"] = run_metadata(folder, federation)
    folder.write_json("summary.json", summary)
    write_plots(folder, federation, tables)
    return summary
