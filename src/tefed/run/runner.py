"""``tefed run``: start a broker and every federate, watch them, and stop them all on failure.

For each run the runner

1. creates ``results/<scenario>/<run-id>/`` and writes a resolved copy of the federation file
   there: a free broker port and a broker key unique to the run (so runs can share a machine),
   absolute paths, and ``results.run_dir`` set to this folder;
2. starts the broker and the federates as child processes, each in its own process group, with
   their output captured into ``logs/<name>.log``. A built-in federate is forked from this
   process, which has imported tefed's federate code once, instead of starting a new interpreter
   that imports it again (``TEFED_START=exec`` starts it from its ``exec`` line instead; both run
   the same program on the same file);
3. shows "starting federates" until every built-in federate has made its first step, then a
   progress bar of the simulated time all of them have covered (they print progress lines);
4. when any process exits with an error, the wall-clock limit passes, or a federate's process
   stays stopped (SIGSTOP) longer than ``runtime.stall_timeout_s`` after the broker ended
   (`tefed.run.stopped_processes`), stops every process group (SIGTERM, then SIGKILL) and
   reports the federate that failed, with the end of its log. No process is left behind.

With a ``HostPart`` (``tefed run --only``, `tefed.run.multi_host`) it starts only this host's
share of a federation over several hosts, and a failure here ends the federation on the others.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from tefed.build.market_network import NETWORK_FILE_KEY, network_file_path
from tefed.contract.errors import EXIT_USER_ERROR, InputError
from tefed.contract.federation_file import (
    BROKER_MODULE,
    BROKER_TIME_LIMIT_OPTION,
    FederateEntry,
    FederationFile,
    RuntimeSection,
    broker_time_limit_flag,
)
from tefed.contract.host_failure import HostFailure
from tefed.contract.run_folder import (
    STATUS_COMPLETE,
    STATUS_FAILED,
    STATUS_PARTIAL,
    STATUS_RUNNING,
    RunFolder,
)
from tefed.federates.program import write_report_if_last
from tefed.run.interrupts import raise_if_interrupted
from tefed.run.multi_host import HostPart, entries_to_start, finish_host_part, for_host
from tefed.run.ports import free_port
from tefed.run.processes import (
    FederateProcess,
    StartError,
    fork_builtin_federates,
    pump_output,
    start_process,
)
from tefed.run.progress import RunProgress, simulated_progress_s
from tefed.run.stopped_processes import (
    CompletedClock,
    StoppedClock,
    lingering_message,
    stopped_message,
)
from tefed.runtime.federation_stop import STOP_TIMEOUT_S, stop_federation
from tefed.runtime.helics_runtime import (
    EXIT_FAILED,
    EXIT_STOPPED_BY_OTHER,
    HELICS_PROGRAMS_DIR,
)
from tefed.runtime.local_ports import port_is_free
from tefed.runtime.stall_watchdog import EXIT_STALL

#: Seconds a process group gets to exit after SIGTERM before SIGKILL.
TERMINATE_GRACE_S = 3.0
#: The name the runner goes by in a run's status (a failure it records, a report it writes).
RUNNER_NAME = "tefed run"
#: How long after the run's wall-clock limit the broker of a ``tefed run`` ends the run itself [s].
BROKER_LIMIT_GRACE_S = 30.0
#: How long a federate may have exited with 0 while none on tefed's runtime has entered
#: executing mode before the run fails naming it [s]: the federation cannot start without it,
#: and would wait for it until runtime.startup_timeout_s (the grace covers the moment between a
#: federate entering executing mode and its mark in the run folder).
EARLY_EXIT_GRACE_S = 1.0


@dataclass
class RunOutcome:
    """What happened to one run."""

    run_folder: RunFolder
    ok: bool
    message: str
    failed_federate: str | None = None
    input_error: bool = False
    exit_codes: dict[str, int] = field(default_factory=dict)
    wall_time_s: float = 0.0


def new_run_folder(federation: FederationFile, base_dir: Path) -> RunFolder:
    """A fresh, uniquely named folder under the federation's results root."""
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    run_id = f"{stamp}-{secrets.token_hex(3)}"
    root = Path(federation.tefed.results.root)
    root = root if root.is_absolute() else base_dir / root
    return RunFolder(root / run_id)


def resolve_for_run(
    federation: FederationFile,
    run_folder: RunFolder,
    port: int,
    broker_key: str | None,
    source_path: Path | None = None,
) -> FederationFile:
    """The federation file as this run executes it (written into the run folder).

    Each entry's ``directory`` becomes absolute, resolved as ``helics run`` would: against the
    folder of the original file (``source_path``), or against the run folder for a federation
    just built there. Built-in federates are started with this interpreter on the copy. Any
    other program keeps its ``exec`` line, except that an argument naming the original
    federation file is replaced by the copy, so that it joins this run's broker. The DLMP
    market's network file is copied beside the copy and named by its absolute path. A run
    over several hosts has no broker key (``broker_key`` None): the hosts share only the file.
    """
    copy_path = run_folder.file("federation.json")
    source = source_path.resolve() if source_path is not None else None
    origin = source.parent if source is not None else run_folder.path
    data = federation.model_dump(mode="json", exclude_none=True)
    data["tefed"]["results"]["run_dir"] = str(run_folder.path)
    bin_dir = Path(sys.executable).parent
    # tefed run supervises its processes itself: helics run's watchdog has nothing to do here.
    data["federates"] = [
        entry_data
        for entry_data in data["federates"]
        if not FederateEntry.model_validate(entry_data).is_watchdog
    ]
    for entry_data in data["federates"]:
        entry = FederateEntry.model_validate(entry_data)
        directory = (origin / entry.directory).resolve()
        entry_data["directory"] = str(directory)
        # A P2P market without grid feasibility names no network file (null).
        if entry.tefed is not None and entry.tefed.config.get(NETWORK_FILE_KEY) is not None:
            entry_data["tefed"]["config"][NETWORK_FILE_KEY] = str(
                _network_file_in_run(directory / entry.tefed.config[NETWORK_FILE_KEY], run_folder)
            )
        if entry.is_broker:
            entry_data["exec"] = _broker_command(
                entry.exec, port, broker_key, bin_dir, federation.tefed.runtime.wall_clock_limit_s
            )
            continue
        if entry.helics is not None:
            entry_data["helics"]["brokerport"] = str(port)
            if broker_key is not None:
                entry_data["helics"]["broker_key"] = broker_key
        if entry.runs_builtin and entry.tefed is not None:
            entry_data["exec"] = shlex.join(
                [
                    sys.executable,
                    "-m",
                    f"tefed.federates.{entry.tefed.role}",
                    str(copy_path),
                    "--name",
                    entry.name,
                ]
            )
        elif source is not None:
            words = shlex.split(entry.exec)
            entry_data["exec"] = shlex.join(
                str(copy_path) if (directory / word).resolve() == source else word for word in words
            )
    return FederationFile.model_validate(data)


def _network_file_in_run(source: Path, run_folder: RunFolder) -> Path:
    """Copy a market network file into the run folder (unless built there); its path there."""
    copy = run_folder.file(network_file_path(Path("federation.json")).name)
    source = source.resolve()
    if not source.is_file():
        raise InputError(
            "federation file: market network_file",
            [f"{str(source)!r} does not exist; rebuild the federation file (tefed build)"],
        )
    if source != copy.resolve():
        shutil.copyfile(source, copy)
    return copy


def _broker_command(
    command: str, port: int, broker_key: str | None, bin_dir: Path, limit_s: float
) -> str:
    words = shlex.split(command)
    if f" -m {BROKER_MODULE} " in f" {command} ":
        # tefed's broker program claims the file's port for helics run; tefed run picked a free
        # port itself, and starts HELICS's broker with the same options.
        words = ["helics_broker", *words[words.index(BROKER_MODULE) + 2 :]]
    words = [
        word
        for word in words
        if not word.startswith(("--port", "--brokerkey", BROKER_TIME_LIMIT_OPTION))
    ]
    # The broker program itself, not the Python launcher pip installs beside this interpreter:
    # one process less (and 30 MB), and stopping it stops the broker.
    native = Path(HELICS_PROGRAMS_DIR) / "helics_broker"
    local = bin_dir / "helics_broker"
    if native.exists():
        words[0] = str(native)
    elif local.exists():
        words[0] = str(local)
    # tefed run stops the run itself at the limit and names it; the broker's own limit comes
    # BROKER_LIMIT_GRACE_S later, a backstop should tefed run die without stopping its children.
    return shlex.join(
        [
            *words,
            f"--port={port}",
            *([f"--brokerkey={broker_key}"] if broker_key is not None else []),
            broker_time_limit_flag(limit_s + BROKER_LIMIT_GRACE_S),
        ]
    )


def run_federation(
    federation: FederationFile,
    base_dir: Path,
    run_folder: RunFolder | None = None,
    show_progress: bool = True,
    source_path: Path | None = None,
    part: HostPart | None = None,
    run_by_caller: Collection[str] = (),
    on_started: Callable[[FederationFile], None] | None = None,
) -> RunOutcome:
    """Run a whole federation (or this host's part of it) as processes and wait for it to end.

    Parameters
    ----------
    federation : FederationFile
        The federation to run (as built, or as loaded from a file).
    base_dir : Path
        Working directory of the federates; relative paths in the file resolve against it.
    run_folder : RunFolder, optional
        Where results go (default: a new folder under the federation's results root).
    show_progress : bool
        Show a progress bar of simulated time on the terminal.
    source_path : Path, optional
        The federation file the run was started from (see ``resolve_for_run``).
    part : HostPart, optional
        The federates this host runs of a federation spread over several hosts
        (`tefed.run.multi_host`); default: all of them, with a broker of the run's own.
    run_by_caller : collection of str
        Names of entries whose federates the caller runs itself (`tefed.rl`'s learners): they
        are resolved into the run's file like the others but not started here.
    on_started : callable, optional
        Called with the run's resolved federation once every process is started (the caller
        then joins its own federates; called from the thread that runs this function).
    """
    base_dir = base_dir.resolve()
    folder = run_folder or new_run_folder(federation, base_dir)
    if part is None:
        resolved = resolve_for_run(
            federation, folder, free_port(), secrets.token_hex(8), source_path
        )
    else:
        resolved = for_host(
            resolve_for_run(federation, folder, part.broker_port, None, source_path), part
        )
    folder.write_text("federation.json", resolved.to_json_text())
    folder.mark_running(supervisor_pid=os.getpid())
    duration_s = federation.tefed.time.duration_s
    started = time.monotonic()
    processes: list[FederateProcess] = []
    # Children run in their own sessions, so a terminal's Ctrl-C or a scheduler's SIGTERM reaches
    # only this process; both end in the same clean-up.
    previous_handler = _interrupt_on_sigterm()
    try:
        if part is not None:
            _require_free_ports(part)
        fork = fork_builtin_federates(resolved)
        for entry in entries_to_start(resolved, part):
            if entry.name not in run_by_caller:
                processes.append(start_process(entry, folder, fork))
        # Reader threads start only once every federate is forked: a fork copies no thread.
        for process in processes:
            process.reader = threading.Thread(target=pump_output, args=(process,), daemon=True)
            process.reader.start()
        if on_started is not None:
            on_started(resolved)
        outcome = _supervise(
            processes, folder, federation.tefed.runtime, duration_s, started, show_progress
        )
    except StartError as error:
        outcome = RunOutcome(
            folder, ok=False, message=str(error), failed_federate=error.name, input_error=True
        )
        folder.mark_failed(error.name, outcome.message)
    except KeyboardInterrupt:
        outcome = RunOutcome(folder, ok=False, message="interrupted")
        folder.mark_failed(RUNNER_NAME, outcome.message)
    finally:
        if previous_handler is not None:
            signal.signal(signal.SIGTERM, previous_handler)
        if part is not None:
            _end_federation_elsewhere(part, folder, processes)
        _stop_all(processes)
        for process in processes:
            if process.reader is not None:
                process.reader.join(timeout=2.0)
    outcome.exit_codes = {p.name: p.popen.returncode for p in processes}
    outcome.wall_time_s = time.monotonic() - started
    if outcome.ok and part is not None:
        outcome.message = finish_host_part(folder, resolved)
    if outcome.ok and part is None and folder.status().get("state") == STATUS_RUNNING:
        # Every process ended well, and the last to finish was a program of the user's on
        # tefed's runtime that does not write the report (no ``on_success`` hook): write it here.
        write_report_if_last(resolved, folder, RUNNER_NAME)
    if outcome.ok and folder.status().get("state") not in (STATUS_COMPLETE, STATUS_PARTIAL):
        outcome.ok = False
        outcome.message = (
            folder.status().get("message")
            or "all processes exited cleanly but the run report was not written"
        )
    return outcome


def _end_federation_elsewhere(
    part: HostPart, folder: RunFolder, processes: list[FederateProcess]
) -> None:
    """When this host's part of a federation failed, end the federation on the other hosts too
    (`tefed.runtime.federation_stop`), naming the federate that failed, unless the failure has
    already gone through HELICS (a federate here was stopped by it, or stopped a stall)."""
    status = folder.status()
    if status.get("state") != STATUS_FAILED or not processes:
        return
    if {process.popen.poll() for process in processes} & {EXIT_STOPPED_BY_OTHER, EXIT_STALL}:
        return
    failure = HostFailure(
        federate=status.get("failed_federate"),
        host=socket.gethostname(),
        message=status.get("message", ""),
    )
    reached = stop_federation(
        part.broker_host or "127.0.0.1",
        part.broker_port,
        f"tefed-run-{secrets.token_hex(4)}",
        failure.to_error_text(),
    )
    broker = next((process for process in processes if process.name == "broker"), None)
    if reached and broker is not None:
        # The broker passes the error on to the other hosts' federates and then ends by
        # itself; stopping it sooner would cut them off.
        with contextlib.suppress(subprocess.TimeoutExpired):
            broker.popen.wait(timeout=STOP_TIMEOUT_S)


def _interrupt_on_sigterm() -> object | None:
    """Turn SIGTERM into KeyboardInterrupt while a run is supervised (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def interrupt(signal_number: int, frame: object) -> None:
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, interrupt)


def _require_free_ports(part: HostPart) -> None:
    """Stop before starting anything when a port this host's part binds is taken."""
    for port, option in part.bound_ports():
        if not port_is_free(port, reuse_address=True):
            raise StartError(
                RUNNER_NAME,
                f"{option}: port {port} is in use on this host; choose another {option}",
            )


def _supervise(
    processes: list[FederateProcess],
    folder: RunFolder,
    runtime: RuntimeSection,
    duration_s: float,
    started: float,
    show_progress: bool,
) -> RunOutcome:
    """Watch the processes until they all ended well or the run failed: one failed, the
    wall-clock limit passed, or a federate stayed stopped after the broker ended."""
    limit_s, stopped_limit_s = runtime.wall_clock_limit_s, runtime.stall_timeout_s
    progress = RunProgress(duration_s, enabled=show_progress)
    federates = [p for p in processes if p.name != "broker"]
    broker = next((p for p in processes if p.name == "broker"), None)
    stopped_clock = StoppedClock(stopped_limit_s)
    completed_clock = CompletedClock(folder, stopped_limit_s)
    early_exits: dict[str, float] = {}
    with progress:
        while True:
            # A Ctrl-C Python could not raise where it arrived (`tefed.run.interrupts`).
            raise_if_interrupted()
            for process in processes:
                code = process.popen.poll()
                if code not in (None, 0):
                    return _failure(process, processes, folder, code)
            if all(process.popen.poll() == 0 for process in processes):
                progress.finish()
                return RunOutcome(folder, ok=True, message="run complete")
            left = _left_before_start(federates, folder, early_exits, time.monotonic())
            if left is not None:
                message = (
                    f"federate '{left.name}' exited with code 0 before the federation started "
                    "(no federate had entered executing mode): a federate must join the "
                    "federation, enter executing mode with the others and run to the end; read "
                    f"logs/{left.name}.log"
                )
                if not folder.mark_failed(left.name, message):
                    # Another federate's failure was recorded first: it is the cause.
                    status = folder.status()
                    return RunOutcome(
                        folder,
                        ok=False,
                        message=status.get("message", message),
                        failed_federate=status.get("failed_federate"),
                    )
                return RunOutcome(folder, ok=False, message=message, failed_federate=left.name)
            if broker is not None and broker.popen.poll() == 0:
                # Every federate has left the federation: no stall watchdog sees one stop now.
                running = {p.popen.pid: p for p in federates if p.popen.poll() is None}
                overdue = stopped_clock.overdue(running, time.monotonic())
                if overdue:
                    name = running[overdue[0]].name
                    message = stopped_message(name, stopped_limit_s)
                    folder.mark_failed(name, message)
                    return RunOutcome(folder, ok=False, message=message, failed_federate=name)
            now = time.monotonic()
            if completed_clock.overdue(now):
                # The results are complete and written; a program that goes on running after
                # that (one that never exits after its last step) holds nothing back any more.
                lingering = [p for p in processes if p.popen.poll() is None]
                _stop_all(lingering)
                names = [p.name for p in lingering if p.name != "broker"]
                progress.finish()
                return RunOutcome(
                    folder, ok=True, message=lingering_message(names, stopped_limit_s)
                )
            elapsed = now - started
            if elapsed > limit_s:
                reporting = [p for p in federates if p.progress_s is not None]
                slowest = (
                    min(reporting, key=lambda p: p.progress_s or 0.0)
                    if reporting
                    else (federates[0] if federates else None)
                )
                where = (
                    f"at simulated t={slowest.progress_s:g} s"
                    if slowest is not None and slowest.progress_s is not None
                    else "(no federate reported progress)"
                )
                message = (
                    f"wall-clock limit of {limit_s:g} s reached; slowest federate "
                    f"'{slowest.name if slowest else '?'}' {where}"
                )
                folder.mark_failed(RUNNER_NAME, message)
                return RunOutcome(
                    folder,
                    ok=False,
                    message=message,
                    failed_federate=slowest.name if slowest else None,
                )
            covered_s = simulated_progress_s(processes)
            if covered_s is not None:
                progress.update(covered_s)
            time.sleep(0.1)


def _left_before_start(
    federates: list[FederateProcess], folder: RunFolder, seen_s: dict[str, float], now_s: float
) -> FederateProcess | None:
    """A federate that exited with 0 at least `EARLY_EXIT_GRACE_S` ago while no federate on
    tefed's runtime in this run folder has entered executing mode (though one has started);
    None otherwise. ``seen_s`` keeps when each such exit was first seen [s, monotonic]."""
    if not seen_s and not any(process.popen.poll() == 0 for process in federates):
        return None  # the common case: no file system look-up while every federate runs
    if folder.executing_federates() or not folder.writing_federates():
        seen_s.clear()
        return None
    for process in federates:
        if process.popen.poll() == 0:
            seen_s.setdefault(process.name, now_s)
    early = [p for p in federates if now_s - seen_s.get(p.name, now_s) >= EARLY_EXIT_GRACE_S]
    return min(early, key=lambda p: seen_s[p.name]) if early else None


def _failure(
    failed: FederateProcess, processes: list[FederateProcess], folder: RunFolder, code: int
) -> RunOutcome:
    # Wait a moment so that the federate whose error stopped the others is seen first.
    time.sleep(0.5)
    candidates = [p for p in processes if p.popen.poll() not in (None, 0)]
    status = folder.status()
    recorded = [p for p in processes if p.name == status.get("failed_federate")]
    first = recorded[0] if recorded else (_root_cause(candidates) or failed)
    if first.reader is not None:
        first.reader.join(timeout=1.0)
    if status.get("failed_federate"):
        culprit, message = status["failed_federate"], status.get("message", "")
    else:
        culprit = first.name
        message = f"federate '{first.name}' exited with code {first.popen.returncode}" + (
            " (killed by a signal)" if first.popen.returncode < 0 else ""
        )
        folder.mark_failed(culprit, message)
    tail = "\n".join(f"    {line}" for line in first.tail)
    return RunOutcome(
        folder,
        ok=False,
        message=f"{message}\n  last lines of logs/{first.name}.log:\n{tail}",
        failed_federate=culprit,
        input_error=first.popen.poll() == EXIT_USER_ERROR,
    )


def _root_cause(candidates: list[FederateProcess]) -> FederateProcess | None:
    """The process that failed on its own, not because another one stopped the federation.

    A federate killed by a signal failed first (the others can only have noticed its loss),
    then one that failed itself or on bad input; one that stopped a stalled federation or was
    stopped by another comes last.
    """
    federates = [p for p in candidates if p.name != "broker"] or candidates

    def rank(process: FederateProcess) -> int:
        code = process.popen.returncode
        if code < 0:
            return 0
        if code in (EXIT_FAILED, EXIT_USER_ERROR):
            return 1
        return 3 if code == EXIT_STOPPED_BY_OTHER else 2

    return min(federates, key=rank) if federates else None


def _stop_all(processes: list[FederateProcess]) -> None:
    running = [p for p in processes if p.popen.poll() is None]
    for process in running:
        _signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + TERMINATE_GRACE_S
    for process in running:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
    for process in processes:
        _signal_group(process, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.popen.wait(timeout=5.0)


def _signal_group(process: FederateProcess, signal_number: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.popen.pid, signal_number)
