"""``tefed report`` and ``tefed compare``: what a run folder holds, written up or side by side."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from tefed.contract.errors import InputError
from tefed.contract.federation_file import load_federation_file
from tefed.contract.run_folder import STATUS_PARTIAL
from tefed.run.multi_host import federates_elsewhere, merge_host_folder


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Add ``report`` and ``compare`` to the command line."""
    report = commands.add_parser(
        "report", help="write report.html (plots, KPIs, metadata, warnings) into a run folder"
    )
    report.add_argument("run_folder", type=Path, help="results/<scenario>/<run-id>")
    report.add_argument(
        "--merge",
        dest="merges",
        action="append",
        default=[],
        type=Path,
        metavar="OTHER_RUN_FOLDER",
        help="first copy in the tables of another host's part of the same run (tefed run "
        "--only; repeatable), then write the report",
    )

    report.set_defaults(handler=_report)

    compare = commands.add_parser("compare", help="tabulate the main KPIs of runs side by side")
    compare.add_argument(
        "run_folders",
        type=Path,
        nargs="+",
        help="run folders to compare, or a sweep's output folder (its complete runs)",
    )
    compare.add_argument("--csv", type=Path, help="also write the table as CSV")
    compare.add_argument("--markdown", type=Path, help="also write the table as Markdown")
    compare.set_defaults(handler=_compare)


def _report(arguments: argparse.Namespace, console: Console) -> int:
    run_folder: Path = arguments.run_folder
    from tefed.contract.run_folder import STATUS_FAILED, STATUS_RUNNING, RunFolder
    from tefed.reporting.html_report import write_html_report
    from tefed.reporting.report import write_report

    if not (run_folder / "federation.json").is_file():
        raise InputError(
            str(run_folder), ["no federation.json here; expected a run folder of tefed run"]
        )
    # Resolved, so that results/<scenario>/latest is reported under its run id.
    folder = RunFolder(run_folder.resolve())
    for other in arguments.merges:
        merged = merge_host_folder(folder, other)
        print(f"merged the results of {', '.join(merged) or 'no federate'} from {other}")
    state = folder.status().get("state")
    if state == STATUS_PARTIAL:
        missing = federates_elsewhere(load_federation_file(folder.file("federation.json")), folder)
        if missing:
            raise InputError(
                str(run_folder),
                [
                    f"one host's part of a run: the results of {', '.join(missing)} are on "
                    "other hosts; copy their run folders here and add --merge FOLDER for each"
                ],
            )
        write_report(folder, plots=True)
        folder.mark_complete()
        folder.update_latest_link()
    elif (
        arguments.merges
        or state in (STATUS_FAILED, STATUS_RUNNING)
        or not folder.file("summary.json").exists()
        or not folder.file("plots").is_dir()
    ):
        # A run that failed or stopped gets the summary of the intervals it completed; a run
        # made without figures (``--no-plots``) gets them now.
        write_report(folder, plots=True)
    print(write_html_report(folder))
    return 0


def _compare(arguments: argparse.Namespace, console: Console) -> int:
    csv: Path | None = arguments.csv
    markdown: Path | None = arguments.markdown
    from tefed.analysis.compare_runs import comparison_table, markdown_text, rich_table
    from tefed.sweep.results_table import is_sweep_folder, sweep_runs

    folders: list[Path] = []
    labels: list[str | None] = []
    for folder in arguments.run_folders:
        if is_sweep_folder(folder):
            runs = sweep_runs(folder)
            folders += list(runs)
            labels += list(runs.values())
        else:
            folders.append(folder)
            labels.append(None)
    table = comparison_table(folders, labels)
    Console().print(rich_table(table))
    if csv is not None:
        csv.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(csv)
        print(f"wrote {csv}")
    if markdown is not None:
        markdown.parent.mkdir(parents=True, exist_ok=True)
        markdown.write_text(markdown_text(table))
        print(f"wrote {markdown}")
    return 0
