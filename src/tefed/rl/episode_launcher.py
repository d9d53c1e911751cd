"""The helper process that runs each episode's federation with tefed's runner.

`tefed.run.runner` forks the built-in federates from the process that runs it. That is only
safe from the main thread of a process that has not run HELICS: a child forked from another
thread lacks the thread-local state of the libraries its parent loaded (OpenDSS's engine
crashes in it), and a child forked after HELICS ran in its parent cannot reach its broker. So
a learning environment starts this launcher once, as a fresh interpreter
(`tefed.rl.piped_process`); its main thread runs `run_federation` for every episode it is asked
to and replies when the federates are started (with the run's resolved federation, whose broker
port the learned households join) and how the run ended. SIGTERM stops a running federation
first, as it does ``tefed run``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from tefed.contract.federation_file import FederationFile
from tefed.contract.run_folder import RunFolder
from tefed.rl.piped_process import PipedProcess, helper_connections, next_request
from tefed.run.runner import run_federation


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
    """The launcher process of one environment (see the module docstring)."""

    def __init__(self) -> None:
        self._process = PipedProcess(__name__)
        self._pending_end = False

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
        self._process.send(
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
        self._process.quit()

    def _receive(self, timeout_s: float) -> str | EpisodeEnd | None:
        reply = self._process.receive(timeout_s)
        if reply is None:
            return None
        kind, *payload = reply
        if kind == "started":
            return payload[0]
        exit_codes, message = payload
        return EpisodeEnd(exit_codes, message)


def serve(requests: Connection, replies: Connection) -> None:
    """The launcher's main loop: run each requested federation, report its start and end."""
    while True:
        request = next_request(requests)
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
    serve(*helper_connections(sys.argv))
