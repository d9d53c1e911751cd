"""A process that runs each episode's federation with tefed's runner, for a learner's process.

`tefed.run.runner` forks the built-in federates from the process that runs it, which is only
safe from the main thread of a process that has not run HELICS itself: a child forked from
another thread lacks the thread-local state of the libraries its parent loaded (OpenDSS's
engine crashes in it), and one forked after HELICS ran in its parent cannot reach its broker.
A learner's process keeps its main thread and runs HELICS (its learned households), so it
starts this launcher once, as a fresh interpreter (``python -m tefed.rl.episode_launcher``);
the launcher's main thread then runs `run_federation` for every episode it is asked to, and
reports over a pipe when the federates are started (with the run's resolved federation, whose
broker port the learner's own federates join) and how the run ended.

The launcher ends when its parent asks it to quit or dies (its pipe then reads end-of-file);
SIGTERM stops its running federation first, as it does ``tefed run``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import weakref
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from tefed.contract.federation_file import FederationFile
from tefed.contract.run_folder import RunFolder
from tefed.run.runner import run_federation

#: How long a launcher that was asked to quit gets before it is killed [s].
QUIT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class EpisodeEnd:
    """How an episode's federation ended (`tefed.run.runner.RunOutcome`, as sent back)."""

    exit_codes: dict[str, int]
    message: str

    @property
    def clean(self) -> bool:
        """Every process of the federation exited with 0."""
        return all(code == 0 for code in self.exit_codes.values())


class EpisodeLauncher:
    """The launcher process of one learner process (see the module docstring)."""

    def __init__(self) -> None:
        request_read, request_write = os.pipe()
        reply_read, reply_write = os.pipe()
        self._process = subprocess.Popen(
            [sys.executable, "-m", __name__, str(request_read), str(reply_write)],
            pass_fds=(request_read, reply_write),
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        os.close(request_read)
        os.close(reply_write)
        self._requests = Connection(request_write, readable=False)
        self._replies = Connection(reply_read, writable=False)
        self._pending_end = False
        # Stopped when this object goes, or when the interpreter exits.
        self._finalizer = weakref.finalize(
            self, _quit, self._process, self._requests, self._replies
        )

    def launch(
        self,
        federation: FederationFile,
        source_path: Path,
        base_dir: Path,
        folder: RunFolder,
        run_by_caller: list[str],
        timeout_s: float,
    ) -> FederationFile | EpisodeEnd:
        """Start an episode's federation (as written at ``source_path``); its resolved
        federation once every process of it is started, or how it ended when it could not.

        Raises
        ------
        RuntimeError
            When the launcher does not answer within ``timeout_s`` [s] or has died.
        """
        self._requests.send(
            (
                "run",
                federation.to_json_text(),
                str(source_path),
                str(base_dir),
                str(folder.path),
                run_by_caller,
            )
        )
        self._pending_end = True
        reply = self._receive(timeout_s)
        if reply is None:
            raise RuntimeError(
                f"the episode launcher did not start the federation in {timeout_s} s"
            )
        if isinstance(reply, EpisodeEnd):
            self._pending_end = False
            return reply
        return FederationFile.model_validate_json(reply)

    def end(self, timeout_s: float) -> EpisodeEnd | None:
        """How the running episode ended, waiting up to ``timeout_s`` [s]; None while it runs."""
        if not self._pending_end:
            return None
        reply = self._receive(timeout_s)
        if isinstance(reply, EpisodeEnd):
            self._pending_end = False
            return reply
        return None

    @property
    def running(self) -> bool:
        """Whether an episode was launched whose end has not been received."""
        return self._pending_end

    def quit(self) -> None:
        """Stop the launcher (and any federation it still runs)."""
        self._finalizer()

    def _receive(self, timeout_s: float) -> str | EpisodeEnd | None:
        try:
            if not self._replies.poll(timeout_s):
                return None
            kind, *payload = self._replies.recv()
        except (EOFError, OSError):
            raise RuntimeError(
                f"the episode launcher died (exit code {self._process.poll()})"
            ) from None
        if kind == "started":
            return payload[0]
        exit_codes, message = payload
        return EpisodeEnd(exit_codes, message)


def _quit(process: subprocess.Popen, requests: Connection, replies: Connection) -> None:
    """Ask the launcher to quit; terminate it (SIGTERM stops its federation) if it does not."""
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


def serve(requests: Connection, replies: Connection) -> None:
    """The launcher's main loop: run each requested federation, report its start and end."""
    while True:
        try:
            request = requests.recv()
        except (EOFError, OSError):
            return
        if request[0] != "run":
            return
        _, federation_text, source_path, base_dir, folder_path, run_by_caller = request
        outcome = run_federation(
            FederationFile.model_validate_json(federation_text),
            Path(base_dir),
            RunFolder(Path(folder_path)),
            show_progress=False,
            source_path=Path(source_path),
            run_by_caller=set(run_by_caller),
            on_started=lambda resolved: replies.send(("started", resolved.to_json_text())),
        )
        replies.send(("ended", dict(outcome.exit_codes), outcome.message))


if __name__ == "__main__":
    serve(
        Connection(int(sys.argv[1]), writable=False), Connection(int(sys.argv[2]), readable=False)
    )
