"""A sweep's ``tefed run`` processes forked from one that has already imported tefed.

A new ``python -m tefed run`` spends its first seconds importing what every run imports anyway:
tefed's command line, pandas, HELICS, OpenDSS and pvlib (1.85 s of CPU of the 11.5 s
of a whole default day without figures, on a 2-core machine on 2026-12-07). A sweep pays that
in every run, on cores its other runs need. Here the runs of a sweep process are instead forked
from a server process that imported all of it once (the standard library's ``forkserver``
start method, with those modules preloaded); each child then runs the ``tefed`` program exactly
as ``python -m tefed`` would, with its own arguments, working directory, session and output
files.

A child asks Linux for SIGTERM when the server ends (`tefed.run.bound_to_parent`), and the server
ends when the process that started it ends: a run still ends with its sweep, even one killed by
SIGKILL. The server runs no Python thread but its main one and has never run HELICS, so
``tefed run`` may fork its federates from the child as it does from a program started at the
command line (`tefed.run.processes.fork_hazard`).

A sweep's first runs wait for the server to finish importing (`wait_for_server`): it is ready
about when the sweep's own Dask cluster is, and a run started as a new interpreter meanwhile
would import the same modules on a core the server needs (the first two runs of a noon-hour
sweep took 5.7 s each that way, the later ones 2 s; measured 2026-12-07). A sweep starts a run
as a new interpreter instead (`PreloadedRun` is then not used) when the server is not ready
within ``SERVER_WAIT_S`` or failed, where the start method does not exist (not Linux), where
this process may not have children of its own (a daemonic Dask worker process), and always with
``TEFED_SWEEP_START=exec``.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import multiprocessing.process
import os
import runpy
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from multiprocessing import forkserver, resource_tracker
from pathlib import Path

import setproctitle

from tefed.contract.errors import InputError
from tefed.run.bound_to_parent import end_with_parent
from tefed.run.popen_like import PopenLike

log = logging.getLogger("tefed.sweep")

#: Modules the server imports before forking any run: what every ``tefed run`` imports (the
#: command line, its federation runner with HELICS, and every built-in role's logic, which
#: ``tefed run`` imports before it forks its federates), in the order ``tefed run`` imports
#: them; what the grid federate imports on its first power flow (OpenDSS's object interface,
#: 0.12 s); then this module (which its children unpickle their work from).
PRELOADED_MODULES = [
    "tefed.cli.commands",
    "tefed.run.processes",
    "tefed.federates.ems.logic",
    "tefed.federates.grid.logic",
    "tefed.federates.market.logic",
    "tefed.federates.price_feed.logic",
    "altdss",
    __name__,
]
#: Environment variable choosing how a sweep starts its runs: ``preloaded`` (default, forked
#: from the server where this process can) or ``exec`` (every run a new interpreter).
SWEEP_START_ENV = "TEFED_SWEEP_START"


def preloaded_runs_available() -> bool:
    """Whether this process can start runs from a preloaded server (see the module), and
    ``TEFED_SWEEP_START`` does not ask for new interpreters.

    Raises
    ------
    InputError
        When ``TEFED_SWEEP_START`` is neither ``preloaded`` nor ``exec``.
    """
    method = os.environ.get(SWEEP_START_ENV, "preloaded")
    if method not in ("preloaded", "exec"):
        raise InputError(
            f"environment variable {SWEEP_START_ENV}",
            [f"{method!r}: expected 'preloaded' or 'exec'"],
        )
    if method == "exec" or "forkserver" not in multiprocessing.get_all_start_methods():
        return False
    if not sys.platform.startswith("linux"):
        return False
    return not multiprocessing.current_process().daemon


#: Longest a run waits for the server to finish importing before it starts as a new
#: interpreter [s] (the server takes 1–3 s on a 2-core machine). After one run has waited
#: that long, no other waits.
SERVER_WAIT_S = 30.0
#: How often a waiting run looks whether its sweep is being stopped [s].
STOP_POLL_S = 0.05
#: Set once the server has forked its first child, i.e. has imported everything.
_SERVER_READY = threading.Event()
#: Set once runs need not wait for the server any more: it is ready, it failed, or one run
#: waited ``SERVER_WAIT_S`` for it.
_WAIT_OVER = threading.Event()
_SERVER_STARTED = threading.Lock()


def start_server() -> None:
    """Start the server now; it imports in the background (`wait_for_server` waits until it
    is done). Later calls do nothing. If it cannot start, runs start as new interpreters."""
    if not _SERVER_STARTED.acquire(blocking=False):
        return
    try:
        forkserver.set_forkserver_preload(PRELOADED_MODULES)
        with _interrupts_held():
            forkserver.ensure_running()
        threading.Thread(
            target=_probe_server, name="tefed preloaded-run probe", daemon=True
        ).start()
    except (OSError, RuntimeError) as error:
        log.warning("no preloaded-run server (%s); runs start as new interpreters", error)
        _WAIT_OVER.set()


@contextlib.contextmanager
def _interrupts_held() -> Iterator[None]:
    """SIGINT blocked in this thread while it starts the server, which inherits the blocked
    mask: the server must not see a Ctrl-C while it imports (it would end with a traceback);
    once it has, it ignores SIGINT (multiprocessing's forkserver does) and each run it forks
    unblocks it (`_run_tefed`). A blocked signal waits instead of being lost: a Ctrl-C of the
    sweep meanwhile is raised here as the block ends. (Ignoring SIGINT here instead, as before,
    threw such a Ctrl-C away: the sweep ran to its end and exited 0.) Only the main thread
    handles signals; from another, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def wait_for_server(timeout_s: float = SERVER_WAIT_S, stop: threading.Event | None = None) -> bool:
    """Start the server if it is not running, and wait until it has imported everything, at
    most ``timeout_s`` [s] and only while ``stop`` is not set: whether it forks runs at once
    (False: it failed, took too long, or the caller is being stopped)."""
    start_server()
    deadline = time.monotonic() + timeout_s
    while not _WAIT_OVER.wait(STOP_POLL_S):
        if stop is not None and stop.is_set():
            return False
        if time.monotonic() >= deadline:
            _WAIT_OVER.set()  # too slow: no later run waits for it either
            log.warning(
                "the preloaded-run server was not ready within %.0f s; runs start as new "
                "interpreters until it is",
                timeout_s,
            )
    return _SERVER_READY.is_set()


def _probe_server() -> None:
    """Fork a child that does nothing from the server: it comes back once the server is done
    importing. A server that ended (or cannot fork) leaves runs to start as new interpreters."""
    try:
        probe = _Child(multiprocessing.get_context("forkserver").Process(target=_nothing))
        if probe.wait() == 0:
            _SERVER_READY.set()
    except (OSError, EOFError, RuntimeError) as error:
        log.debug("preloaded-run server unavailable: %s", error)
    finally:
        _WAIT_OVER.set()


def _nothing() -> None:
    """What the probe runs."""


#: `multiprocessing` keeps its children's exit codes unguarded: every start polls every child
#: that has not been waited for, and a child's code is read from a pipe once. Two threads doing
#: either at once can each see the pipe readable, and the second reads its end: that child's
#: code becomes 255 (one run of 100 recorded as failed with it, 2026-12-07). Starts and reads
#: of codes hold this lock; waiting for a child does not.
_CHILDREN_LOCK = threading.Lock()


class _Child(PopenLike):
    """A child of the server, started, whose exit code is read under ``_CHILDREN_LOCK``."""

    def __init__(self, process: multiprocessing.process.BaseProcess):
        self._process = process
        with _CHILDREN_LOCK:
            process.start()
        self.pid = process.pid

    @property
    def returncode(self) -> int | None:
        """Exit code once the child ended (negative: the signal that killed it), else None."""
        with _CHILDREN_LOCK:
            return self._process.exitcode

    def poll(self) -> int | None:
        """The exit code if the child has ended, else None (never blocks)."""
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the child to end; ``subprocess.TimeoutExpired`` after ``timeout`` s."""
        if not multiprocessing.connection.wait([self._process.sentinel], timeout):
            raise subprocess.TimeoutExpired(self._process.name, timeout or 0.0)
        with _CHILDREN_LOCK:
            self._process.join()  # ended: returns at once, and the child leaves the table
            return self._process.exitcode


class PreloadedRun(_Child):
    """``python -m tefed ARGUMENTS…`` run in a child of the preloaded server.

    Like a `subprocess.Popen` started with ``start_new_session=True`` (`PopenLike`): the child
    leads a session (and process group) of its own. Its standard output and error go to the
    files named.

    Parameters
    ----------
    arguments : list of str
        The arguments of ``tefed`` (``["run", SCENARIO, …]``).
    cwd : Path
        Working directory of the run.
    stdout_path, stderr_path : Path
        Files that receive the run's standard output and error (created or truncated).
    """

    def __init__(self, arguments: list[str], cwd: Path, stdout_path: Path, stderr_path: Path):
        start_server()
        context = multiprocessing.get_context("forkserver")
        process = context.Process(
            target=_run_tefed,
            args=(list(arguments), str(cwd), str(stdout_path), str(stderr_path)),
            name="tefed run",
        )
        super().__init__(process)


def _run_tefed(arguments: list[str], cwd: str, stdout_path: str, stderr_path: str) -> None:
    """In the child: a session of its own, bound to the server, output to the files, then the
    ``tefed`` program as ``python -m tefed`` runs it (it ends the process with its exit code)."""
    os.setsid()
    server_pid = os.getppid()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # Blocked since the sweep started the server (`_interrupts_held`).
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    if not end_with_parent(server_pid):
        os._exit(1)  # the server ended before the request: nothing to run for
    _release_server_pipes()
    for fd, path in ((1, stdout_path), (2, stderr_path)):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(target, fd)
        os.close(target)
    stdin = os.open(os.devnull, os.O_RDONLY)
    os.dup2(stdin, 0)
    os.close(stdin)
    os.chdir(cwd)
    # As ``ps`` shows it: the command line a new interpreter would have had.
    setproctitle.setproctitle(shlex.join([sys.executable, "-m", "tefed", *arguments]))
    sys.argv = ["tefed", *arguments]
    runpy.run_module("tefed", run_name="__main__", alter_sys=True)


def _release_server_pipes() -> None:
    """Close what a child of the server inherits to keep the server (and the resource tracker)
    running: the write ends of their pipes, with which a child could start processes of its own
    through them. A run starts none, and as long as one held them, the server would not end
    with the sweep, nor the run with the server."""
    holders = (
        (getattr(forkserver, "_forkserver", None), "_forkserver_alive_fd"),
        (getattr(resource_tracker, "_resource_tracker", None), "_fd"),
    )
    for holder, attribute in holders:
        fd = getattr(holder, attribute, None)
        if isinstance(fd, int):
            with contextlib.suppress(OSError):
                os.close(fd)
            setattr(holder, attribute, None)
