"""The ``tefed`` command line: build, validate and run federations."""

from __future__ import annotations

import argparse
import importlib.metadata
import math
import socket
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tefed.build.builder import build_federation
from tefed.build.validate import check_scenario
from tefed.conformance.harness import add_check_federate_parser, run_check_federate
from tefed.contract.errors import EXIT_USER_ERROR, InputError
from tefed.contract.federation_file import FederationFile, federation_base_dir, load_federation_file
from tefed.contract.run_folder import STATUS_PARTIAL
from tefed.federates.ems.measured_loads import check_measured_loads
from tefed.run.lockstep_run import require_builtin_federates, run_lockstep_federation
from tefed.run.multi_host import (
    HostOptions,
    HostPart,
    federates_elsewhere,
    merge_host_folder,
    plan_host_part,
)
from tefed.run.powerflow import feeder_powerflow
from tefed.run.runner import new_run_folder, run_federation
from tefed.scenario.model import load_scenario, results_root_problems
from tefed.scenario.overrides import parse_assignment
from tefed.scenario.reference import scenario_json_schema_text

EXIT_RUN_FAILED = 1
#: Exit code of a command stopped by Ctrl-C (128 + SIGINT, as a shell reports it).
EXIT_INTERRUPTED = 130
#: ``tefed sweep report FOLDER`` is parsed as this command.
SWEEP_REPORT_COMMAND = "sweep-report"
#: The batch systems of ``tefed sweep --cluster`` (`tefed.sweep.batch_cluster.CLUSTER_KINDS`,
#: named here so that other commands do not import Dask).
CLUSTER_KINDS = ("slurm", "pbs", "sge")


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``tefed``; returns the exit code (2 for input errors)."""
    parser = argparse.ArgumentParser(
        prog="tefed", description="Transactive Energy FEDeration: co-simulate local energy markets."
    )
    parser.add_argument("--version", action="version", version=f"tefed {package_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build", help="resolve a scenario into a federation file")
    build.add_argument("scenario", type=Path)
    build.add_argument("-o", "--output", type=Path, required=True, help="federation file to write")

    validate = commands.add_parser("validate", help="check a scenario and report every problem")
    validate.add_argument("scenario", type=Path)
    _add_set_option(validate)

    schema = commands.add_parser(
        "schema", help="print the JSON Schema of a scenario file (for editor completion)"
    )
    schema.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")

    run = commands.add_parser("run", help="run a scenario or a federation file end to end")
    run.add_argument("source", type=Path, help="scenario (.yaml) or federation file (.json)")
    run.add_argument("--no-progress", action="store_true", help="do not draw a progress bar")
    run.add_argument(
        "--results",
        type=Path,
        metavar="DIR",
        help="write the run folder under DIR/<scenario>/ instead of the scenario's "
        "run.results_root (relative to the working directory)",
    )
    _add_set_option(run)
    run.add_argument(
        "--lockstep",
        action="store_true",
        help="step every built-in federate in this process, without HELICS (same results folder)",
    )
    _add_host_part_options(run)

    powerflow = commands.add_parser(
        "powerflow",
        help="solve one snapshot of a feeder as the grid federate loads it; write bus voltages",
    )
    feeder = powerflow.add_mutually_exclusive_group(required=True)
    feeder.add_argument("--dss", type=Path, help="OpenDSS master file")
    feeder.add_argument(
        "--scenario", type=Path, help="scenario whose feeder and households to load"
    )
    powerflow.add_argument(
        "--command",
        dest="opendss_commands",
        action="append",
        default=[],
        metavar="OPENDSS_COMMAND",
        help="OpenDSS command applied after compiling (repeatable), e.g. to lock a tap",
    )
    powerflow.add_argument(
        "--regulators",
        choices=("automatic", "locked"),
        default="automatic",
        help="regulator controls move taps, or taps stay as compiled and commanded",
    )
    powerflow.add_argument("--out", type=Path, help="CSV file to write (default: standard output)")

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

    compare = commands.add_parser("compare", help="tabulate the main KPIs of runs side by side")
    compare.add_argument(
        "run_folders",
        type=Path,
        nargs="+",
        help="run folders to compare, or a sweep's output folder (its complete runs)",
    )
    compare.add_argument("--csv", type=Path, help="also write the table as CSV")
    compare.add_argument("--markdown", type=Path, help="also write the table as Markdown")

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
        help="workers of the local Dask cluster (default: one per two cores, at least one)",
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

    add_check_federate_parser(commands)

    argv = sys.argv[1:] if argv is None else argv
    if argv[:2] == ["sweep", "report"]:
        argv = [SWEEP_REPORT_COMMAND, *argv[2:]]
    arguments = parser.parse_args(argv)
    console = Console(stderr=True)
    try:
        if arguments.command == "build":
            return _build(arguments.scenario, arguments.output)
        if arguments.command == "validate":
            return _validate(arguments.scenario, _overrides(arguments.assignments), console)
        if arguments.command == "schema":
            return _schema(arguments.output)
        if arguments.command == "powerflow":
            return _powerflow(arguments, console)
        if arguments.command == "report":
            return _report(arguments.run_folder, arguments.merges)
        if arguments.command == "compare":
            return _compare(arguments.run_folders, arguments.csv, arguments.markdown)
        if arguments.command == "sweep":
            return _sweep(arguments)
        if arguments.command == SWEEP_REPORT_COMMAND:
            return _sweep_report(arguments.sweep_folder, arguments.kpis)
        if arguments.command == "check-federate":
            return run_check_federate(arguments, console)
        return _run(
            arguments.source,
            not arguments.no_progress,
            console,
            arguments.lockstep,
            _overrides(arguments.assignments),
            arguments.results,
            HostOptions(
                only=arguments.only,
                broker_address=arguments.broker_address,
                broker_port=arguments.broker_port,
                local_port=arguments.local_port,
            ),
        )
    except InputError as error:
        console.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
        return EXIT_USER_ERROR


def package_version() -> str:
    """The installed version of tefed (``unknown`` when run from a source tree not installed)."""
    try:
        return importlib.metadata.version("tefed")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _add_set_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a scenario value by dotted path, households by group name, value as YAML "
        "(repeatable), e.g. --set households.pv_battery.battery.capacity_kwh=15",
    )


def _add_host_part_options(run: argparse.ArgumentParser) -> None:
    hosts = run.add_argument_group(
        "a federation over several hosts (docs/multi_host.md)",
        "the main host starts the broker and its --only federates; each other host starts "
        "its --only federates with --broker-address",
    )
    hosts.add_argument(
        "--only", metavar="NAMES", help="start only these federates, e.g. ems_2,ems_3"
    )
    hosts.add_argument(
        "--broker-address",
        metavar="HOST[:PORT]",
        help="join the broker of the main host instead of starting one",
    )
    hosts.add_argument(
        "--broker-port",
        type=int,
        metavar="PORT",
        help="the broker's port (it also binds PORT+1); default: the federation file's",
    )
    hosts.add_argument(
        "--local-port",
        type=int,
        metavar="FIRST",
        help="on a joining host, the port of its first --only federate (the next ones follow); "
        "default: ports the broker assigns",
    )


def _overrides(assignments: list[str]) -> dict[str, Any]:
    """The ``--set`` assignments as dotted path → value; every malformed one is named."""
    overrides: dict[str, Any] = {}
    problems = []
    for text in assignments:
        try:
            path, value = parse_assignment(text)
        except ValueError as error:
            problems.append(str(error))
            continue
        overrides[path] = value
    if problems:
        raise InputError("--set", problems)
    return overrides


def _load_and_build(scenario_path: Path, output: Path) -> FederationFile:
    scenario, scenario_dir = load_scenario(scenario_path)
    return build_federation(scenario, scenario_dir, output, Path.cwd())


def _build(scenario_path: Path, output: Path) -> int:
    federation = _load_and_build(scenario_path, output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(federation.to_json_text())
    print(
        f"wrote {output} ({len(federation.federates)} processes, "
        f"{len(federation.tefed.households['household_id'])} households)"
    )
    return 0


def _validate(scenario_path: Path, overrides: dict[str, Any], console: Console) -> int:
    # Every stage (fields, data files, building on the feeder) reports its problems at once;
    # plausibility warnings are printed and leave the exit code 0.
    check = check_scenario(scenario_path, Path.cwd(), overrides)
    print_warnings(console, [warning.as_dict() for warning in check.warnings])
    if check.problems or check.scenario is None:
        raise InputError(check.source, check.problems)
    scenario = check.scenario
    households = sum(group.count for group in scenario.households)
    warned = f"; {len(check.warnings)} warning(s)" if check.warnings else ""
    print(
        f"{scenario_path}: valid ({households} households, "
        f"{scenario.time.duration_s} s at {scenario.time.grid_step_s} s steps){warned}"
    )
    return 0


def print_warnings(console: Console, warnings: list[dict[str, Any]]) -> None:
    """Print each plausibility warning (a dict as ``summary.json`` lists them), labelled."""
    for warning in warnings:
        text = f"{warning['check']}: {warning['message']}"
        console.print(f"[bold yellow]warning:[/] {escape(text)}", highlight=False, soft_wrap=True)


def _schema(output: Path | None) -> int:
    text = scenario_json_schema_text()
    if output is None:
        sys.stdout.write(text)
        return 0
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    print(f"wrote {output}")
    return 0


def _powerflow(arguments: argparse.Namespace, console: Console) -> int:
    table, converged = feeder_powerflow(
        arguments.dss, arguments.opendss_commands, arguments.regulators, arguments.scenario
    )
    text = table.to_csv(index=False, float_format="%.6f")
    if arguments.out is None:
        sys.stdout.write(text)
    else:
        arguments.out.parent.mkdir(parents=True, exist_ok=True)
        arguments.out.write_text(text)
        print(f"wrote {arguments.out} ({len(table)} nodes)")
    if not converged:
        console.print("[bold red]error:[/] the power flow did not converge", highlight=False)
        return EXIT_RUN_FAILED
    return 0


def _run(
    source: Path,
    show_progress: bool,
    console: Console,
    lockstep: bool = False,
    overrides: dict[str, Any] | None = None,
    results_root: Path | None = None,
    hosts: HostOptions | None = None,
) -> int:
    hosts = hosts or HostOptions()
    if lockstep and hosts != HostOptions():
        raise InputError(
            "--lockstep",
            [
                "steps every federate in this process; --only, --broker-address, --broker-port "
                "and --local-port are for a federation over several hosts"
            ],
        )
    base_dir = Path.cwd()
    if results_root is not None:
        problems = results_root_problems(str(results_root), Path.cwd())
        if problems:
            raise InputError("--results", problems)
        results_root = base_dir / results_root
    if source.suffix.lower() in (".yaml", ".yml"):
        if results_root is not None:
            overrides = {**(overrides or {}), "run.results_root": str(results_root)}
        scenario, scenario_dir = load_scenario(source, overrides)
        draft = build_federation(
            scenario, scenario_dir, base_dir / "federation.json", base_dir, write_network=False
        )
        if lockstep:
            require_builtin_federates(draft, str(source))
        part = plan_host_part(draft, str(source), hosts)
        folder = new_run_folder(draft, base_dir)
        built_path = folder.file("federation.json")
        federation = build_federation(scenario, scenario_dir, built_path, base_dir)
    else:
        if overrides:
            raise InputError(
                str(source), ["--set changes a scenario (.yaml), not a federation file"]
            )
        federation = load_federation_file(source)
        if results_root is not None:
            federation = _with_results_root(federation, results_root)
        if lockstep:
            require_builtin_federates(federation, str(source))
        part = plan_host_part(federation, str(source), hosts)
        base_dir = federation_base_dir(source, federation.federate_entries()[0])
        # A scenario's data files were checked as it was read; a federation file's are here.
        check_measured_loads(
            federation.households_frame(), federation.tefed.time.to_time_grid(), base_dir
        )
        folder = new_run_folder(federation, base_dir)
        built_path = source
    # Entry directories are relative to the federation file: the one built into the run folder
    # for a scenario, else the file given.
    if lockstep:
        outcome = run_lockstep_federation(
            federation, base_dir, folder, show_progress=show_progress, source_path=built_path
        )
    else:
        if part is not None:
            _announce_host_part(console, federation, part, source)
        outcome = run_federation(
            federation,
            base_dir,
            folder,
            show_progress=show_progress,
            source_path=built_path,
            part=part,
        )
    if not outcome.ok:
        code = EXIT_USER_ERROR if outcome.input_error else EXIT_RUN_FAILED
        console.print(
            f"[bold red]run failed:[/] {escape(outcome.message)}", highlight=False, soft_wrap=True
        )
        print(outcome.run_folder.path)
        return code
    if outcome.run_folder.status().get("state") == STATUS_PARTIAL:
        console.print(escape(outcome.message), highlight=False, soft_wrap=True)
        print(outcome.run_folder.path)
        return 0
    summary = outcome.run_folder.read_json("summary.json")
    Console().print(kpi_table(summary))
    Console().print(community_table(summary, outcome.wall_time_s))
    print_warnings(console, summary["warnings"])
    print(outcome.run_folder.path)
    return 0


def _announce_host_part(
    console: Console, federation: FederationFile, part: HostPart, source: Path
) -> None:
    """Tell the user what this host does of a federation over several hosts."""
    others = [e.name for e in federation.federate_entries() if e.name not in part.federates]
    here = ", ".join(part.federates)
    if not part.starts_broker:
        text = f"this host runs {here}, joining the broker at {part.broker_host}:{part.broker_port}"
    elif others:
        text = (
            f"this host runs the broker (ports {part.broker_port} and {part.broker_port + 1}, "
            f"every interface) and {here}; start the others on their hosts with: tefed run "
            f"{source} --only {','.join(others)} --broker-address "
            f"{socket.gethostname()}:{part.broker_port}"
        )
    else:
        text = f"this host runs the broker (port {part.broker_port}) and every federate"
    console.print(escape(text), highlight=False, soft_wrap=True)


def _with_results_root(federation: FederationFile, results_root: Path) -> FederationFile:
    """The federation with its run folders under ``results_root/<scenario>``, as a scenario
    run with ``run.results_root`` set to ``results_root`` would have them."""
    tefed = federation.tefed
    results = tefed.results.model_copy(update={"root": str(results_root / tefed.scenario)})
    return federation.model_copy(update={"tefed": tefed.model_copy(update={"results": results})})


def _sweep(arguments: argparse.Namespace) -> int:
    # Imported here: Dask takes 1.5 s to import, which every other command (and every run's
    # start) would otherwise pay.
    from tefed.sweep.batch_cluster import job_script
    from tefed.sweep.progress_display import SweepProgress, parameters_text
    from tefed.sweep.run_record import STATUS_COMPLETE
    from tefed.sweep.sweep_file import read_sweep_file
    from tefed.sweep.sweep_run import plan_sweep, run_sweep

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
    planned = plan_sweep(arguments.sweep_file, arguments.output)
    print(f"{arguments.sweep_file}: {len(planned.points)} runs into {planned.output_dir}")
    if arguments.check:
        for point in planned.points:
            print(f"  {point.run_id}  {parameters_text(point.parameters)}")
        return 0
    try:
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


def _sweep_report(sweep_folder: Path, kpis: list[str]) -> int:
    from tefed.sweep.sweep_report import write_sweep_report

    report = write_sweep_report(sweep_folder, kpis)
    print(f"wrote {len(report.figures)} figures and {report.page}")
    return 0


def _report(run_folder: Path, merges: list[Path]) -> int:
    from tefed.contract.run_folder import STATUS_FAILED, STATUS_RUNNING, RunFolder
    from tefed.reporting.html_report import write_html_report
    from tefed.reporting.report import write_report

    if not (run_folder / "federation.json").is_file():
        raise InputError(
            str(run_folder), ["no federation.json here; expected a run folder of tefed run"]
        )
    # Resolved, so that results/<scenario>/latest is reported under its run id.
    folder = RunFolder(run_folder.resolve())
    for other in merges:
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
        write_report(folder)
        folder.mark_complete()
        folder.update_latest_link()
    elif (
        merges
        or state in (STATUS_FAILED, STATUS_RUNNING)
        or not folder.file("summary.json").exists()
    ):
        # A run that failed or stopped gets the summary of the intervals it completed.
        write_report(folder)
    print(write_html_report(folder))
    return 0


def _compare(run_folders: list[Path], csv: Path | None, markdown: Path | None) -> int:
    from tefed.analysis.compare_runs import comparison_table, markdown_text, rich_table
    from tefed.sweep.results_table import is_sweep_folder, sweep_runs

    folders: list[Path] = []
    labels: list[str | None] = []
    for folder in run_folders:
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


if __name__ == "__main__":
    sys.exit(main())
