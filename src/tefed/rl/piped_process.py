"""A helper process of a learning environment: a fresh interpreter and a pipe each way.

A learner's process neither forks federates nor runs HELICS itself: a process that has run
HELICS cannot fork federates that reach their broker any more, and one that forks from another
thread than its main thread gives them a broken OpenDSS engine. So each environment starts two
helper processes, `tefed.rl.episode_launcher` (forks every episode's federation) and
`tefed.rl.learner_host` (runs the learned households' federates), each as
``python -m <module> REQUEST_FD REPLY_FD`` in a session of its own, talking over two pipes
(``multiprocessing.connection.Connection``, pickled tuples).

A helper ends when asked to (``("quit",)``), or when its parent dies and its request pipe reads
end-of-file; it is terminated (SIGTERM) if it does not end within ``QUIT_TIMEOUT_S``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import weakref
from multiprocessing.connection import Connection
from typing import Any

#: How long a helper that was asked to quit gets before it is terminated [s].
QUIT_TIMEOUT_S = 10.0


class PipedProcess:
    """A helper process running ``python -m module`` with a request and a reply pipe."""

    def __init__(self, module: str):
        request_read, request_write = os.pipe()
        reply_read, reply_write = os.pipe()
        self._process = subprocess.Popen(
            [sys.executable, "-m", module, str(request_read), str(reply_write)],
            pass_fds=(request_read, reply_write),
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        os.close(request_read)
        os.close(reply_write)
        self._requests = Connection(request_write, readable=False)
        self._replies = Connection(reply_read, writable=False)
        self._module = module
        # Stopped when this object goes, or when the interpreter exits.
        self._finalizer = weakref.finalize(
            self, _quit, self._process, self._requests, self._replies
        )

    def send(self, message: tuple) -> None:
        """Send a request. To a helper that has died it is lost: the `receive` that follows
        every request raises the helper's death (a learner's step then fails with
        `tefed.rl.live_federation.FederationError`, not a broken pipe)."""
        with contextlib.suppress(BrokenPipeError, ConnectionError):
            self._requests.send(message)

    def receive(self, timeout_s: float) -> tuple | None:
        """The next reply, or None when none came within ``timeout_s`` [s].

        Raises
        ------
        RuntimeError
            When the helper has died.
        """
        try:
            if not self._replies.poll(timeout_s):
                return None
            return self._replies.recv()
        except (EOFError, OSError):
            raise RuntimeError(
                f"the helper process {self._module} died (exit code {self._process.poll()})"
            ) from None

    @property
    def pid(self) -> int:
        """The helper's process id."""
        return self._process.pid

    def quit(self) -> None:
        """Ask the helper to end; terminate it if it does not."""
        self._finalizer()


def _quit(process: subprocess.Popen, requests: Connection, replies: Connection) -> None:
    if process.poll() is None:
        with contextlib.suppress(BrokenPipeError, OSError):
            requests.send(("quit",))
        try:
            process.wait(QUIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(QUIT_TIMEOUT_S)
    requests.close()
    replies.close()


def helper_connections(argv: list[str]) -> tuple[Connection, Connection]:
    """In a helper: its request and reply pipe, from its command line's two descriptors."""
    return Connection(int(argv[1]), writable=False), Connection(int(argv[2]), readable=False)


def next_request(requests: Connection) -> tuple[Any, ...]:
    """In a helper: the next request; ``("quit",)`` when the parent has gone."""
    try:
        return requests.recv()
    except (EOFError, OSError):
        return ("quit",)
