"""Starting a federation's processes: a built-in federate forked from the runner (which has
imported its code once), any other entry from its ``exec`` line; their output read into
``logs/<name>.log`` and their progress lines into `FederateProcess.progress_s`. Every one of
them gets SIGTERM when the runner ends, even by SIGKILL (`tefed.run.bound_to_parent`)."""

from __future__ import annotations

import errno
import gc
import logging
import multiprocessing
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import setproctitle

from tefed.contract.federation_file import FederateEntry, FederationFile
from tefed.contract.run_folder import RunFolder
from tefed.federates.builtin import builtin_logic
from tefed.federates.program import write_report_if_last
from tefed.run.bound_to_parent import bound_command, end_with_parent
from tefed.run.popen_like import PopenLike
from tefed.runtime.program import SUPERVISED_ENV, run_federate_program
from tefed.runtime.run_accounting import PROGRESS_PREFIX

log = logging.getLogger(__name__)

#: Log lines kept per process for the failure report.
TAIL_LINES = 15

#: Environment variable choosing how ``tefed run`` starts built-in federates: ``fork`` (default
#: on POSIX) or ``exec`` (a new interpreter per federate, as ``helics run`` does).
START_METHOD_ENV = "TEFED_START"


@dataclass
class FederateProcess:
    name: str
    popen: subprocess.Popen | ForkedFederate
    log_path: Path
    #: Whether it is tefed's own program, which reports its progress.
    builtin: bool = False
    tail: deque = field(default_factory=lambda: deque(maxlen=TAIL_LINES))
    #: Simulated time it has covered [s]; None before its first step.
    progress_s: float | None = None
    reader: threading.Thread | None = None


class StartError(Exception):
    def __init__(self, name: str, message: str):
        super().__init__(message)
        self.name = name


def fork_builtin_federates(federation: FederationFile) -> bool:
    """Whether built-in federates are forked from this process (after importing their code)."""
    method = os.environ.get(START_METHOD_ENV, "fork")
    if method not in ("fork", "exec"):
        raise StartError(
            "tefed run",
            f"environment variable {START_METHOD_ENV}={method!r}: expected 'fork' or 'exec'",
        )
    if method == "exec" or "fork" not in multiprocessing.get_all_start_methods():
        return False
    if not any(entry.runs_builtin for entry in federation.federate_entries()):
        return False
    hazard = fork_hazard()
    if hazard is not None:
        log.warning(
            "built-in federates start as new interpreters instead of forked ones: %s, and a "
            "federate forked from here would break",
            hazard,
        )
        return False
    builtin_logic()  # imports every role's code here, once, for all forked federates
    # What this process holds now is never garbage to a child: kept out of the children's
    # collections, it is neither traversed (time) nor written to (copy-on-write memory).
    gc.collect()
    gc.freeze()
    return True


def fork_hazard() -> str | None:
    """Why a federate forked from this process and thread would break, or None if it would not.

    - From a thread other than the main one: the child lacks the thread-local state of the
      libraries its parent loaded (OpenDSS's engine crashes in it), and Linux would stop it
      when that thread ends (`tefed.run.bound_to_parent`).
    - From a process that has run HELICS: its ZeroMQ context does not survive a fork; the
      children cannot reach their broker and abort when they close the library. ZeroMQ's
      background threads (``ZMQbg/…`` in ``/proc/self/task/*/comm``) show it.
    """
    if threading.current_thread() is not threading.main_thread():
        return "the federation is run from a thread other than the process's main thread"
    if any(name.startswith("ZMQbg/") for name in _thread_names()):
        return "this process has run HELICS (ZeroMQ's threads run in it)"
    return None


def _thread_names() -> list[str]:
    """Names of this process's threads, as Linux shows them (none where it does not)."""
    names = []
    for comm in Path("/proc/self/task").glob("*/comm"):
        try:
            names.append(comm.read_text().strip())
        except OSError:
            continue  # the thread ended meanwhile
    return names


def start_process(entry: FederateEntry, folder: RunFolder, fork: bool) -> FederateProcess:
    environment = dict(os.environ)
    environment.update(entry.env or {})
    environment[SUPERVISED_ENV] = "1"
    environment["PYTHONUNBUFFERED"] = "1"
    log_path = folder.file(f"logs/{entry.name}.log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    if fork and entry.runs_builtin and entry.tefed is not None:
        child = ForkedFederate(
            entry.tefed.role,
            entry.name,
            str(folder.file("federation.json")),
            entry.directory,
            environment,
            title=entry.exec,
        )
        return FederateProcess(entry.name, child, log_path, builtin=True)
    arguments = shlex.split(entry.exec)
    executable = _program(arguments[0], entry.directory)
    try:
        if executable is None:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT))
        # It gets SIGTERM when the runner ends, even by SIGKILL (`tefed.run.bound_to_parent`).
        popen = subprocess.Popen(
            bound_command([executable, *arguments[1:]]),
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
        raise StartError(
            entry.name,
            f"federates[{entry.name}].exec: cannot start {entry.exec!r} in {entry.directory}: "
            f"{error.strerror or error}; expected a program on the PATH or a path to one",
        ) from None
    return FederateProcess(entry.name, popen, log_path, builtin=entry.runs_builtin)


def _program(name: str, directory: str) -> str | None:
    """The program ``name`` of an ``exec`` line, as it runs from ``directory``: a path (relative
    to ``directory``) to an executable file, or one on the PATH; None when there is none."""
    if os.sep in name:
        path = Path(directory) / name
        return str(path) if path.is_file() and os.access(path, os.X_OK) else None
    return shutil.which(name)


_STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


class ForkedFederate(PopenLike):
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
            args=(
                role,
                name,
                federation_path,
                directory,
                environment,
                title,
                write_fd,
                os.getpid(),
            ),
            name=f"tefed-{name}",
        )
        # The child inherits the runner's handlers (SIGTERM raises KeyboardInterrupt there);
        # keep those signals pending until the child has its own, so a stop that arrives
        # while it starts ends it quietly instead of with the runner's traceback.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            self._process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            os.close(write_fd)
        self.pid: int = self._process.pid
        self.stdout = os.fdopen(read_fd, "r", buffering=1)


def _run_forked_federate(
    role: str,
    name: str,
    federation_path: str,
    directory: str,
    environment: dict,
    title: str,
    output_fd: int,
    runner_pid: int,
) -> None:
    """Body of a forked federate: become a session leader, redirect, and run the program."""
    os.setsid()  # before the stop signals are unblocked: a Ctrl-C for the runner stays its own
    # SIGTERM when the runner ends, even by SIGKILL: no federate computes on unsupervised.
    if not end_with_parent(runner_pid):
        os._exit(1)  # the runner ended before this federate started
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    setproctitle.setproctitle(title)
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


def pump_output(process: FederateProcess) -> None:
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
