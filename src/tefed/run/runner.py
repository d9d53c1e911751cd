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
3. shows a progress bar of simulated time (federates print progress lines);
4. when any process exits with an error, the wall-clock limit passes, or a federate's process
   stays stopped (SIGSTOP) longer than ``runtime.stall_timeout_s`` after the broker ended
   (`tefed.run.stopped_processes`), stops every process group (SIGTERM, then SIGKILL) and
   reports the federate that failed, with the end of its log. No process is left behind.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import random
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import setproctitle

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
from tefed.contract.run_folder import STATUS_COMPLETE, RunFolder
from tefed.federates.builtin import builtin_logic
from tefed.federates.program import write_report_if_last
from tefed.run.stopped_processes import StoppedClock, stopped_message
from tefed.runtime.helics_runtime import (
    EXIT_FAILED,
    EXIT_STOPPED_BY_OTHER,
    HELICS_PROGRAMS_DIR,
    PROGRESS_PREFIX,
)
from tefed.runtime.program import SUPERVISED_ENV, run_federate_program

#: Seconds a process group gets to exit after SIGTERM before SIGKILL.
TERMINATE_GRACE_S = 3.0
#: How long after the run's wall-clock limit the broker of a ``tefed run`` ends the run itself [s].
BROKER_LIMIT_GRACE_S = 30.0
#: Log lines kept per process for the failure report.
TAIL_LINES = 15


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


#: Environment variable choosing how ``tefed run`` starts built-in federates: ``fork`` (default
#: on POSIX) or ``exec`` (a new interpreter per federate, as ``helics run`` does).
START_METHOD_ENV = "TEFED_START"


@dataclass
class _Process:
    name: str
    popen: subprocess.Popen | _ForkedFederate
    log_path: Path
    tail: deque = field(default_factory=lambda: deque(maxlen=TAIL_LINES))
    progress_s: float = 0.0
    reader: threading.Thread | None = None


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
    broker_key: str,
    source_path: Path | None = None,
) -> FederationFile:
    """The federation file as this run executes it (written into the run folder).

    Each entry's ``directory`` becomes absolute, resolved as ``helics run`` would: against the
    folder of the original file (``source_path``), or against the run folder for a federation
    just built there. Built-in federates are started with this interpreter on the copy. Any
    other program keeps its ``exec`` line, except that an argument naming the original
    federation file is replaced by the copy, so that it joins this run's broker. The DLMP
    market's network file is copied beside the copy and named by its absolute path.
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
        if entry.tefed is not None and NETWORK_FILE_KEY in entry.tefed.config:
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


def _broker_command(command: str, port: int, broker_key: str, bin_dir: Path, limit_s: float) -> str:
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
            f"--brokerkey={broker_key}",
            broker_time_limit_flag(limit_s + BROKER_LIMIT_GRACE_S),
        ]
    )


#: Ports a run's HELICS processes may use: below Linux's ephemeral range (32768–60999), from
#: which the OS picks the source ports of outgoing connections.
RUN_PORT_RANGE = (20000, 32000)
#: Ports from the broker's upward that one run may bind: the broker takes its own and the next,
#: and gives each federate's core (ZeroMQ) a port a little above, without asking the OS.
PORTS_PER_RUN = 64


def free_port() -> int:
    """A broker port on localhost, with the ``PORTS_PER_RUN`` ports above it free too.

    A port from the OS's ephemeral range can collide with the source port of any outgoing
    connection opened meanwhile, and HELICS binds its cores' ports above the broker's without
    checking them first ("Unable to bind zmq pull socket"), so a run's block is taken from
    ``RUN_PORT_RANGE`` at random and checked whole.
    """
    low, high = RUN_PORT_RANGE
    chooser = random.SystemRandom()
    for _ in range(200):
        base = chooser.randrange(low, high - PORTS_PER_RUN)
        if all(_port_is_free(port) for port in range(base, base + PORTS_PER_RUN)):
            return base
    raise RuntimeError(
        f"no block of {PORTS_PER_RUN} free ports between {low} and {high} on localhost"
    )


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def run_federation(
    federation: FederationFile,
    base_dir: Path,
    run_folder: RunFolder | None = None,
    show_progress: bool = True,
    source_path: Path | None = None,
) -> RunOutcome:
    """Run a whole federation as processes and wait for it to end.

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
    """
    base_dir = base_dir.resolve()
    folder = run_folder or new_run_folder(federation, base_dir)
    resolved = resolve_for_run(federation, folder, free_port(), secrets.token_hex(8), source_path)
    folder.write_text("federation.json", resolved.to_json_text())
    folder.mark_running()
    duration_s = federation.tefed.time.duration_s
    started = time.monotonic()
    processes: list[_Process] = []
    # Children run in their own sessions, so a terminal's Ctrl-C or a scheduler's SIGTERM reaches
    # only this process; both end in the same clean-up.
    previous_handler = _interrupt_on_sigterm()
    try:
        fork = _fork_builtin_federates(resolved)
        for entry in resolved.federates:
            processes.append(_start(entry, folder, fork))
        # Reader threads start only once every federate is forked: a fork copies no thread.
        for process in processes:
            process.reader = threading.Thread(target=_pump, args=(process,), daemon=True)
            process.reader.start()
        outcome = _supervise(
            processes, folder, federation.tefed.runtime, duration_s, started, show_progress
        )
    except _StartError as error:
        outcome = RunOutcome(
            folder, ok=False, message=str(error), failed_federate=error.name, input_error=True
        )
        folder.mark_failed(error.name, outcome.message)
    except KeyboardInterrupt:
        outcome = RunOutcome(folder, ok=False, message="interrupted")
        folder.mark_failed("tefed run", outcome.message)
    finally:
        if previous_handler is not None:
            signal.signal(signal.SIGTERM, previous_handler)
        _stop_all(processes)
        for process in processes:
            if process.reader is not None:
                process.reader.join(timeout=2.0)
    outcome.exit_codes = {p.name: p.popen.returncode for p in processes}
    outcome.wall_time_s = time.monotonic() - started
    if outcome.ok and folder.status().get("state") != STATUS_COMPLETE:
        outcome.ok = False
        outcome.message = "all processes exited cleanly but the run report was not written"
    return outcome


def _interrupt_on_sigterm() -> object | None:
    """Turn SIGTERM into KeyboardInterrupt while a run is supervised (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def interrupt(signal_number: int, frame: object) -> None:
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, interrupt)


class _StartError(Exception):
    def __init__(self, name: str, message: str):
        super().__init__(message)
        self.name = name


def _fork_builtin_federates(federation: FederationFile) -> bool:
    """Whether built-in federates are forked from this process (after importing their code)."""
    method = os.environ.get(START_METHOD_ENV, "fork")
    if method not in ("fork", "exec"):
        raise _StartError(
            "tefed run",
            f"environment variable {START_METHOD_ENV}={method!r}: expected 'fork' or 'exec'",
        )
    if method == "exec" or "fork" not in multiprocessing.get_all_start_methods():
        return False
    if not any(entry.runs_builtin for entry in federation.federate_entries()):
        return False
    builtin_logic()  # imports every role's code here, once, for all forked federates
    # What this process holds now is never garbage to a child: kept out of the children's
    # collections, it is neither traversed (time) nor written to (copy-on-write memory).
    gc.collect()
    gc.freeze()
    return True


def _start(entry: FederateEntry, folder: RunFolder, fork: bool) -> _Process:
    environment = dict(os.environ)
    environment.update(entry.env or {})
    environment[SUPERVISED_ENV] = "1"
    environment["PYTHONUNBUFFERED"] = "1"
    log_path = folder.file(f"logs/{entry.name}.log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    if fork and entry.runs_builtin and entry.tefed is not None:
        child = _ForkedFederate(
            entry.tefed.role,
            entry.name,
            str(folder.file("federation.json")),
            entry.directory,
            environment,
            title=entry.exec,
        )
        return _Process(entry.name, child, log_path)
    arguments = shlex.split(entry.exec)
    executable = shutil.which(arguments[0]) or arguments[0]
    try:
        popen = subprocess.Popen(
            [executable, *arguments[1:]],
            cwd=entry.directory,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            text=True,
            bufsize=1,
        )
    except OSError as error:
        raise _StartError(
            entry.name,
            f"federates[{entry.name}].exec: cannot start {entry.exec!r} in {entry.directory}: "
            f"{error.strerror or error}; expected a program on the PATH or a path to one",
        ) from None
    return _Process(entry.name, popen, log_path)


class _ForkedFederate:
    """A built-in federate forked from the runner, seen through the part of ``Popen`` it uses.

    The child starts its own session (so a process-group signal reaches it and whatever it
    starts), writes its output to a pipe read as ``stdout``, gets the entry's environment and
    working directory, and runs ``python -m tefed.federates.<role> FILE --name NAME``'s program. Its
    command line, as ``ps`` shows it, is that ``exec`` line (``title``).
    """

    def __init__(
        self,
        role: str,
        name: str,
        federation_path: str,
        directory: str,
        environment: dict,
        title: str,
    ):
        read_fd, write_fd = os.pipe()
        context = multiprocessing.get_context("fork")
        self._process = context.Process(
            target=_run_forked_federate,
            args=(role, name, federation_path, directory, environment, title, write_fd),
            name=f"tefed-{name}",
        )
        try:
            self._process.start()
        finally:
            os.close(write_fd)
        self.pid: int = self._process.pid
        self.stdout = os.fdopen(read_fd, "r", buffering=1)

    @property
    def returncode(self) -> int | None:
        """Exit code once the child ended (negative: the signal that killed it), else None."""
        return self._process.exitcode

    def poll(self) -> int | None:
        """The exit code if the child has ended, else None (never blocks)."""
        return self._process.exitcode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the child to end; ``subprocess.TimeoutExpired`` after ``timeout`` s."""
        self._process.join(timeout)
        if self._process.exitcode is None:
            raise subprocess.TimeoutExpired(self._process.name, timeout or 0.0)
        return self._process.exitcode


def _run_forked_federate(
    role: str,
    name: str,
    federation_path: str,
    directory: str,
    environment: dict,
    title: str,
    output_fd: int,
) -> None:
    """Body of a forked federate: become a session leader, redirect, and run the program."""
    os.setsid()
    setproctitle.setproctitle(title)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    os.close(output_fd)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115 (the process's own)
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    os.environ.clear()
    os.environ.update(environment)
    os.chdir(directory)
    code = run_federate_program(
        role,
        builtin_logic()[role],
        [federation_path, "--name", name],
        on_success=write_report_if_last,
    )
    sys.stdout.flush()
    sys.stderr.flush()
    raise SystemExit(code)


def _pump(process: _Process) -> None:
    with process.log_path.open("w") as log_file:
        for line in process.popen.stdout:
            if line.startswith(PROGRESS_PREFIX):
                parts = line.split()
                if len(parts) >= 3:
                    process.progress_s = float(parts[2])
                continue
            log_file.write(line)
            log_file.flush()
            process.tail.append(line.rstrip("\n"))


def _supervise(
    processes: list[_Process],
    folder: RunFolder,
    runtime: RuntimeSection,
    duration_s: float,
    started: float,
    show_progress: bool,
) -> RunOutcome:
    """Watch the processes until they all ended well or the run failed: one failed, the
    wall-clock limit passed, or a federate stayed stopped after the broker ended."""
    limit_s, stopped_limit_s = runtime.wall_clock_limit_s, runtime.stall_timeout_s
    progress = _Progress(duration_s, enabled=show_progress)
    federates = [p for p in processes if p.name != "broker"]
    broker = next((p for p in processes if p.name == "broker"), None)
    stopped_clock = StoppedClock(stopped_limit_s)
    with progress:
        while True:
            for process in processes:
                code = process.popen.poll()
                if code not in (None, 0):
                    return _failure(process, processes, folder, code)
            if all(process.popen.poll() == 0 for process in processes):
                progress.update(duration_s)
                return RunOutcome(folder, ok=True, message="run complete")
            if broker is not None and broker.popen.poll() == 0:
                # Every federate has left the federation: no stall watchdog sees one stop now.
                running = {p.popen.pid: p for p in federates if p.popen.poll() is None}
                overdue = stopped_clock.overdue(running, time.monotonic())
                if overdue:
                    name = running[overdue[0]].name
                    message = stopped_message(name, stopped_limit_s)
                    folder.mark_failed(name, message)
                    return RunOutcome(folder, ok=False, message=message, failed_federate=name)
            elapsed = time.monotonic() - started
            if elapsed > limit_s:
                slowest = min(federates, key=lambda p: p.progress_s) if federates else None
                message = (
                    f"wall-clock limit of {limit_s:g} s reached; slowest federate "
                    f"'{slowest.name if slowest else '?'}' at simulated t="
                    f"{slowest.progress_s if slowest else 0:g} s"
                )
                folder.mark_failed("tefed run", message)
                return RunOutcome(
                    folder,
                    ok=False,
                    message=message,
                    failed_federate=slowest.name if slowest else None,
                )
            if federates:
                progress.update(min(p.progress_s for p in federates))
            time.sleep(0.1)


def _failure(
    failed: _Process, processes: list[_Process], folder: RunFolder, code: int
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


def _root_cause(candidates: list[_Process]) -> _Process | None:
    """The process that failed on its own, not because another one stopped the federation.

    A federate killed by a signal failed first (the others can only have noticed its loss),
    then one that failed itself or on bad input; one that stopped a stalled federation or was
    stopped by another comes last.
    """
    federates = [p for p in candidates if p.name != "broker"] or candidates

    def rank(process: _Process) -> int:
        code = process.popen.returncode
        if code < 0:
            return 0
        if code in (EXIT_FAILED, EXIT_USER_ERROR):
            return 1
        return 3 if code == EXIT_STOPPED_BY_OTHER else 2

    return min(federates, key=rank) if federates else None


def _stop_all(processes: list[_Process]) -> None:
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


def _signal_group(process: _Process, signal_number: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.popen.pid, signal_number)


class _Progress:
    """A rich progress bar of simulated time, or nothing when disabled."""

    def __init__(self, duration_s: float, enabled: bool):
        self._duration_s = duration_s
        self._bar = None
        if enabled:
            from rich.progress import (
                BarColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("simulated time"),
                BarColumn(),
                TextColumn("{task.completed:,.0f} / {task.total:,.0f} s"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                transient=False,
            )
            self._task = self._bar.add_task("run", total=duration_s)

    def __enter__(self) -> _Progress:
        if self._bar is not None:
            self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def update(self, simulated_s: float) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=simulated_s)
