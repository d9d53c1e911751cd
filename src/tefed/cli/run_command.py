"""``tefed run``: a scenario or a federation file end to end, in a federation or in lockstep."""

from __future__ import annotations

import argparse
import socket
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from tefed.cli.common import EXIT_RUN_FAILED, add_set_option, print_warnings, set_overrides
from tefed.cli.run_tables import community_table, kpi_table
from tefed.contract.errors import EXIT_USER_ERROR, InputError
from tefed.contract.federation_file import FederationFile, federation_base_dir, load_federation_file
from tefed.contract.run_folder import STATUS_PARTIAL
from tefed.run.multi_host import HostOptions, HostPart, plan_host_part
from tefed.scenario.model import load_scenario, results_root_problems


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add ``run`` to the command line."""
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
    add_set_option(run)
    run.add_argument(
        "--no-plots",
        action="store_true",
        help="leave the figures out of the run's report (tefed report RUN_FOLDER draws them "
        "later); a sweep's runs do this unless the sweep file sets plots: true",
    )
    run.add_argument(
        "--lockstep",
        action="store_true",
        help="step every built-in federate in this process, without HELICS (same results folder)",
    )
    _add_host_part_options(run)
    run.set_defaults(handler=_run_command)


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


def _run_command(arguments: argparse.Namespace, console: Console) -> int:
    return _run(
        arguments.source,
        not arguments.no_progress,
        console,
        arguments.lockstep,
        set_overrides(arguments.assignments),
        arguments.results,
        HostOptions(
            only=arguments.only,
            broker_address=arguments.broker_address,
            broker_port=arguments.broker_port,
            local_port=arguments.local_port,
        ),
        plots=not arguments.no_plots,
    )


def _run(
    source: Path,
    show_progress: bool,
    console: Console,
    lockstep: bool = False,
    overrides: dict[str, Any] | None = None,
    results_root: Path | None = None,
    hosts: HostOptions | None = None,
    plots: bool = True,
) -> int:
    # The builder and the runners (HELICS, the federates' code) load when a run starts, not
    # with the command line: about a second of every other command.
    from tefed.build.builder import build_federation
    from tefed.federates.ems.measured_loads import check_measured_loads
    from tefed.run.lockstep_run import require_builtin_federates, run_lockstep_federation
    from tefed.run.runner import new_run_folder, run_federation

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
            federation = _with_results(
                federation, root=str(results_root / federation.tefed.scenario)
            )
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
    if not plots:
        federation = _with_results(federation, plots=False)
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
    if outcome.message.startswith("run complete; "):
        console.print(f"warning: {escape(outcome.message)}", highlight=False, soft_wrap=True)
    if not outcome.run_folder.file("summary.json").exists():
        # Every federate finished, but the report could not summarise the run (its log says
        # why): the tables are there, the KPIs are not.
        console.print(
            "[bold red]run finished without a summary:[/] the report could not be computed; "
            f"see {escape(str(outcome.run_folder.file('logs')))}",
            highlight=False,
            soft_wrap=True,
        )
        print(outcome.run_folder.path)
        return EXIT_RUN_FAILED
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


def _with_results(federation: FederationFile, **changes: Any) -> FederationFile:
    """The federation with fields of its ``tefed.results`` section changed: ``root`` (a
    scenario run with ``run.results_root`` set would have its folders under
    ``<root>/<scenario>``), ``plots``."""
    tefed = federation.tefed
    results = tefed.results.model_copy(update=changes)
    return federation.model_copy(update={"tefed": tefed.model_copy(update={"results": results})})
