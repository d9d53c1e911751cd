"""The helper process that runs the learned households' federates of a learning environment.

The learner's own process never runs HELICS (a process that has cannot fork federates that reach
their broker any more, see `tefed.rl.piped_process`), so its learned households run here: each
is a `tefed.rl.learner_household.LearnerHousehold` driven by tefed's HELICS runtime in a thread
of its own, and a forwarding thread per household sends each of its decisions to the learner and
hands it the learner's action.

Requests: ``("join", episode, federation, base_dir, run_folder, names, options)`` starts an
episode's households (``federation`` the run's resolved federation file, as JSON text);
``("act", episode, name, action)`` answers a decision; ``("close", episode)`` ends an episode
before its end (its households raise a HELICS global error, which stops the federation);
``("quit",)`` ends the host. Replies: ``("decision", episode, name, decision)`` and
``("left", episode, name)`` when a household's federate ended without its final decision.
"""

from __future__ import annotations

import sys
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path

from tefed.contract.federation_file import FederationFile
from tefed.contract.logic import FederateContext
from tefed.contract.run_folder import RunFolder
from tefed.rl.actions import HouseholdAction
from tefed.rl.learner_household import DecisionChannel, LearnerHousehold
from tefed.rl.options import EnvOptions
from tefed.rl.piped_process import PipedProcess, helper_connections, next_request
from tefed.runtime.helics_runtime import (
    HelicsRuntime,
    attach_log_file,
    close_helics_library,
    detach_log_file,
)

#: How often a forwarding thread looks at its household [s].
POLL_S = 0.05
#: How long closing an episode waits for its households' threads [s]; one still waiting in
#: HELICS (its broker stopped after another federate failed) gives up on its own, later.
EXIT_GRACE_S = 5.0


#: What a learned household's helics block gets in the host: HELICS's console output off.
QUIET_HELICS = {"log_level": "no_print", "coreinitstring": "--loglevel=no_print"}


class LearnerHost:
    """The learner host process of one environment, seen from the learner's process."""

    def __init__(self) -> None:
        self._process = PipedProcess(__name__)

    def join(
        self,
        episode: int,
        federation: FederationFile,
        base_dir: Path,
        folder: RunFolder,
        names: list[str],
        options: EnvOptions,
    ) -> None:
        """Start the households ``names`` of an episode in the run's resolved federation."""
        self._process.send(
            (
                "join",
                episode,
                federation.to_json_text(),
                str(base_dir),
                str(folder.path),
                names,
                options.model_dump_json(),
            )
        )

    def act(self, episode: int, name: str, action: HouseholdAction) -> None:
        """Answer household ``name``'s pending decision."""
        self._process.send(("act", episode, name, action))

    def close(self, episode: int) -> None:
        """End an episode before its end."""
        self._process.send(("close", episode))

    def receive(self, timeout_s: float) -> tuple | None:
        """The next reply (a decision or a household that left), or None within ``timeout_s``."""
        return self._process.receive(timeout_s)

    def quit(self) -> None:
        """Stop the host."""
        self._process.quit()


class _Episode:
    """One episode's households in the host: their channels and threads."""

    def __init__(self, number: int, replies: Connection, lock: threading.Lock):
        self.number = number
        self.channels: dict[str, DecisionChannel] = {}
        self.threads: list[threading.Thread] = []
        self._replies = replies
        self._lock = lock

    def start(self, context: FederateContext, options: EnvOptions) -> None:
        name = context.name
        channel = self.channels[name] = DecisionChannel()
        # HELICS prints its own copy of a learned household's errors on the learner's console,
        # and every episode the learner ends early ends with one (EpisodeClosedError ends the
        # federation); tefed's log and the environment's FederationError already report them.
        context.entry.helics = {**(context.entry.helics or {}), **QUIET_HELICS}
        runtime = HelicsRuntime(context, LearnerHousehold(options, channel), shares_process=True)
        federate = threading.Thread(target=runtime.run, name=f"tefed-rl-{name}", daemon=True)
        federate.start()
        forwarder = threading.Thread(
            target=self._forward, args=(name, channel, federate), daemon=True
        )
        forwarder.start()
        self.threads += [federate, forwarder]

    def _forward(self, name: str, channel: DecisionChannel, federate: threading.Thread) -> None:
        """Send ``name``'s decisions to the learner until its final one, or until its federate
        ended without it."""
        while True:
            decision = channel.next_decision(POLL_S)
            if decision is None and not federate.is_alive():
                decision = channel.next_decision(0.0)
                if decision is None:
                    self._send(("left", self.number, name))
                    return
            if decision is not None:
                self._send(("decision", self.number, name, decision))
                if decision.final:
                    return

    def _send(self, reply: tuple[object, ...]) -> None:
        with self._lock:
            self._replies.send(reply)

    def close(self) -> list[threading.Thread]:
        """End the episode; the threads still running after the grace period."""
        for channel in self.channels.values():
            channel.close()
        deadline = time.monotonic() + EXIT_GRACE_S
        for thread in self.threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        return [thread for thread in self.threads if thread.is_alive()]


def serve(requests: Connection, replies: Connection) -> None:
    """The host's main loop (see the module docstring)."""
    lock = threading.Lock()
    episode: _Episode | None = None
    lingering: list[threading.Thread] = []
    log_handler = None
    while True:
        request = next_request(requests)
        kind = request[0]
        if kind == "join":
            _, number, federation_text, base_dir, folder_path, names, options_text = request
            federation = FederationFile.model_validate_json(federation_text)
            options = EnvOptions.model_validate_json(options_text)
            log_handler = attach_log_file(RunFolder(Path(folder_path)).file("logs/learners.log"))
            episode = _Episode(number, replies, lock)
            for name in names:
                context = FederateContext(
                    name=name,
                    federation=federation,
                    entry=federation.entry(name),
                    base_dir=Path(base_dir),
                )
                episode.start(context, options)
        elif kind == "act":
            _, number, name, action = request
            if episode is not None and episode.number == number:
                episode.channels[name].act(action)
        elif kind in ("close", "quit"):
            if episode is not None and (kind == "quit" or episode.number == request[1]):
                lingering = [t for t in lingering if t.is_alive()] + episode.close()
                episode = None
                detach_log_file(log_handler)
            if kind == "quit":
                if not lingering:
                    # Not under a federate still running: HELICS would pull its core away.
                    close_helics_library()
                return
        else:
            raise ValueError(f"unknown request {kind!r}")


if __name__ == "__main__":
    serve(*helper_connections(sys.argv))
