"""``tefed sweep`` and ``tefed sweep report``: many runs of one base scenario, on Dask."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console

from tefed.cli.common import EXIT_INTERRUPTED, EXIT_RUN_FAILED
from tefed.contract.errors import InputError
from tefed.run.interrupts import raise_if_interrupted

#: ``tefed sweep report FOLDER`` is parsed as this command.
SWEEP_REPORT_COMMAND = "sweep-report"
#: The batch systems of ``tefed sweep --cluster`` (`tefed.sweep.batch_cluster.CLUSTER_KINDS`,
#: named here so that other commands do not import Dask).
CLUSTER_KINDS = ("slurm", "pbs", "sge")


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Add ``sweep`` and ``sweep-report`` (``sweep report``) to the command line."""
    sweep = commands.add_parser(
        "sweep", help="run a base scenario over a grid, zipped lists or samples of values, on Dask"
    )
    sweep.add_argument("sweep_file", type=Path, help="sweep file (.yaml), see README 'Sweeps'")
    sweep.add_argument(
        "-o", "--output", type=Path, help="output folder (default: results/sweeps/<name>)"
    )
    where = sweep.add_mutually_exclusive_group()
    where.add_argument(
        "--scheduler", metavar="ADDRESS", help="run on this Dask scheduler, e.g. tcp://host:8786"
    )
    where.add_argument(
        "--cluster",
        choices=CLUSTER_KINDS,
        help="submit batch jobs of Dask workers (dask-jobqueue) described by the sweep file's "
        "cluster section",
    )
    sweep.add_argument(
        "--workers",
        type=int,
        help="workers of the local Dask cluster, at least 1; no more start than there are runs "
        "to do (default: one per core)",
    )
    sweep.add_argument(
        "--check", action="store_true", help="check every run and list them; run nothing"
    )
    sweep.add_argument(
        "--print-job-script",
        action="store_true",
        help="print the batch script of --cluster's jobs; submit nothing",
    )
    sweep.add_argument(
        "--no-progress", action="store_true", help="no progress bar (a line per run only)"
    )

    sweep.set_defaults(handler=_sweep)

    sweep_report = commands.add_parser(
        SWEEP_REPORT_COMMAND,
        help="(also `tefed sweep report`) plot chosen KPIs of a sweep against each parameter",
    )
    sweep_report.add_argument("sweep_folder", type=Path, help="output folder of tefed sweep")
    sweep_report.add_argument(
        "--kpi",
        dest="kpis",
        action="append",
        default=[],
        metavar="COLUMN",
        help="a KPI column of sweep.parquet (repeatable), e.g. community.self_sufficiency_pct "
        "(default: community bill, self-sufficiency, traded energy, maximum voltage)",
    )
    sweep_report.set_defaults(handler=_sweep_report)


def _sweep(arguments: argparse.Namespace, console: Console) -> int:
    if arguments.workers is not None and arguments.workers < 1:
        # A LocalCluster of no workers never runs anything (-1 hung for ever); 0 must not
        # quietly mean the default either.
        raise InputError(
            "--workers", [f"got {arguments.workers}; expected a whole number, at least 1"]
        )
    local_runs = not (
        arguments.print_job_script or arguments.check or arguments.scheduler or arguments.cluster
    )
    if local_runs:
        from tefed.sweep.preloaded_runs import preloaded_runs_available, start_server

        if preloaded_runs_available():
            start_server()  # its imports overlap Dask's and the sweep's planning
    # Imported here: Dask takes 1.5 s to import, which every other command (and every run's
    # start) would otherwise pay.
    from tefed.sweep.batch_cluster import job_script
    from tefed.sweep.execution import scheduler_address_problem
    from tefed.sweep.progress_display import SweepProgress, parameters_text
    from tefed.sweep.run_record import STATUS_COMPLETE
    from tefed.sweep.sweep_file import read_sweep_file
    from tefed.sweep.sweep_run import plan_sweep, run_sweep

    if arguments.scheduler is not None:
        problem = scheduler_address_problem(arguments.scheduler)
        if problem is not None:
            raise InputError(
                "--scheduler",
                [
                    f"got {arguments.scheduler!r}; {problem}; expected an address such as "
                    "tcp://host:8786"
                ],
            )
    if arguments.print_job_script:
        if arguments.cluster is None:
            raise InputError("--print-job-script", ["needs --cluster slurm|pbs|sge"])
        sys.stdout.write(
            job_script(arguments.cluster, read_sweep_file(arguments.sweep_file).cluster)
        )
        return 0
    if arguments.workers is not None and (arguments.cluster or arguments.scheduler):
        raise InputError(
            "--workers",
            [
                "sizes the local cluster only; --scheduler brings its own workers, --cluster "
                "starts cluster.jobs × cluster.runs_per_job of the sweep file"
            ],
        )

    def announce(count: int, output_dir: Path) -> None:
        print(f"{arguments.sweep_file}: {count} runs into {output_dir}; checking them", flush=True)

    planned = plan_sweep(arguments.sweep_file, arguments.output, announce)
    if arguments.check:
        for point in planned.points:
            print(f"  {point.run_id}  {parameters_text(point.parameters)}")
        return 0
    try:
        # A Ctrl-C Python could not raise while the sweep imported and planned.
        raise_if_interrupted()
        with SweepProgress(len(planned.points), not arguments.no_progress) as progress:
            outcome = run_sweep(
                planned, progress, arguments.scheduler, arguments.workers, arguments.cluster
            )
    except KeyboardInterrupt:
        # The cluster is closed on the way out; its workers take their runs with them.
        print(
            f"interrupted; run the same command again to resume (runs complete so far are "
            f"kept in {planned.output_dir})",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    failed = int((outcome.table["status"] != STATUS_COMPLETE).sum())
    print(
        f"{len(outcome.table) - failed} complete, {failed} failed in "
        f"{outcome.wall_time_s:.1f} s; wrote {outcome.parquet} and {outcome.csv}"
    )
    return EXIT_RUN_FAILED if failed else 0


def _sweep_report(arguments: argparse.Namespace, console: Console) -> int:
    from tefed.sweep.sweep_report import write_sweep_report

    report = write_sweep_report(arguments.sweep_folder, arguments.kpis)
    print(f"wrote {len(report.figures)} figures and {report.page}")
    return 0
