"""The helper process that runs the learned households' federates of a learning environment.

The learner's own process never runs HELICS (a process that has cannot fork federates that reach
their broker any more, see `tefed.rl.piped_process`), so its learned households run here: each
is a `tefed.rl.learner_household.LearnerHousehold` driven by tefed's HELICS runtime in a thread
of its own, and a forwarding thread per household sends each of its decisions to the learner and
hands it the learner's action.

With ``EnvOptions.federates = "threads"`` (the default) the episode's built-in federates (price
feed, ems, grid, market) run here too, each in a thread of its own on tefed's runtime, and every
federate of the episode shares one HELICS core (`tefed.runtime.shared_core`): their time grants
then never leave this process (HELICS's part of a fast-setting step of the default scenario fell
from about 5 ms to about 2 ms on a 2-core machine; the federates' computing, done one after
the other either way, is the rest). Each built-in federate still logs to
``logs/<name>.log``, writes its own tables and timing, and the last one done writes the run
report, as under ``tefed run``; the learned households log to ``logs/learners.log``.

Requests: ``("join", episode, federation, base_dir, run_folder, names, builtin, options)``
starts an episode's households ``names`` and its built-in federates ``builtin`` (``federation``
the run's resolved federation file, as JSON text);
``("act", episode, name, action)`` answers a decision; ``("close", episode)`` ends an episode
before its end (its households raise a HELICS global error, which stops the federation);
``("quit",)`` ends the host. Replies: ``("decision", episode, name, decision)``,
``("left", episode, name)`` when a household's federate ended without its final decision, and
``("closed", episode)`` once an episode's threads have ended (its tables are written).
"""

from __future__ import annotations

import gc
import logging
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

from tefed.contract.federation_file import FederationFile
from tefed.contract.logic import FederateContext
from tefed.contract.run_folder import RunFolder
from tefed.federates.builtin import builtin_logic
from tefed.federates.program import write_report_if_last
from tefed.rl.actions import HouseholdAction
from tefed.rl.learner_household import DecisionChannel, LearnerHousehold
from tefed.rl.options import EnvOptions
from tefed.rl.piped_process import PipedProcess, helper_connections, next_request
from tefed.runtime.helics_runtime import (
    EXIT_OK,
    HelicsRuntime,
    attach_log_file,
    close_helics_library,
    detach_log_file,
)
from tefed.runtime.shared_core import SharedCore
from tefed.runtime.stall_watchdog import STALL_WATCHDOG_PREFIX

#: Allocations (less deallocations) between two collections of the youngest generation [-]
#: in the host; Python's default is 700. With it, three day-long episodes of the fast setting
#: (288 market steps) collected 135 times in 184 ms (one full collection 132 ms of it); with
#: this threshold and the imports frozen, once in 8 ms (2-core machine, 2026-12-07).
YOUNG_COLLECTION_THRESHOLD = 20_000

#: How often a forwarding thread looks at its household [s].
POLL_S = 0.05
#: How long closing an episode waits for its households' threads [s]; one still waiting in
#: HELICS (its broker stopped after another federate failed) gives up on its own, later.
EXIT_GRACE_S = 5.0
#: How long closing an episode waits for its built-in federates' threads [s]: once the
#: federation ends they write their tables (and the last one the report, if asked for).
BUILTIN_EXIT_GRACE_S = 60.0
#: How long a federate that has left the federation waits for the episode's others to leave
#: before it writes its results [s]. Their last steps (a learned household's final decision
#: among them) then run without the writing: with the federates in threads of one process
#: (one interpreter lock) the writing held them up, a fast-setting episode's last step took
#: twice as long as the others. A federate stuck in a step is not waited for longer.
LEAVING_WAIT_S = 10.0


#: Name of the thread that runs federate ``name`` in the host (its log records carry it).
THREAD_PREFIX = "tefed-rl-"


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
        builtin: list[str],
        options: EnvOptions,
    ) -> None:
        """Start the households ``names`` and the built-in federates ``builtin`` of an episode
        in the run's resolved federation."""
        self._process.send(
            (
                "join",
                episode,
                federation.to_json_text(),
                str(base_dir),
                str(folder.path),
                names,
                builtin,
                options.model_dump_json(),
            )
        )

    def act(self, episode: int, name: str, action: HouseholdAction) -> None:
        """Answer household ``name``'s pending decision."""
        self._process.send(("act", episode, name, action))

    def close(self, episode: int) -> None:
        """End an episode (before its end, or let go of it after); `closed` tells when its
        threads have ended."""
        self._process.send(("close", episode))

    def closed(self, episode: int, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` [s] until episode ``episode``'s threads have ended (its
        tables written), passing over its other replies; whether they have."""
        deadline = time.monotonic() + timeout_s
        while True:
            reply = self._process.receive(max(0.0, deadline - time.monotonic()))
            if reply is None:
                return False
            if reply[0] == "closed" and reply[1] == episode:
                return True

    def receive(self, timeout_s: float) -> tuple | None:
        """The next reply (a decision or a household that left), or None within ``timeout_s``."""
        return self._process.receive(timeout_s)

    def quit(self) -> None:
        """Stop the host."""
        self._process.quit()

    @property
    def pid(self) -> int:
        """The host's process id."""
        return self._process.pid


class _Episode:
    """One episode's federates in the host: their channels, threads, log files and core."""

    def __init__(self, number: int, replies: Connection, lock: threading.Lock):
        self.number = number
        self.channels: dict[str, DecisionChannel] = {}
        self.threads: list[threading.Thread] = []
        self._replies = replies
        self._lock = lock
        self._core: SharedCore | None = None
        self._log_handlers: list = []
        self._builtin_threads: list[threading.Thread] = []
        #: Every federate's thread, by federate name, and those that have left the federation.
        self._federate_threads: dict[str, threading.Thread] = {}
        self._left: set[str] = set()
        self._leaving = threading.Condition()

    def start(
        self,
        federation: FederationFile,
        base_dir: Path,
        folder: RunFolder,
        names: list[str],
        builtin: list[str],
        options: EnvOptions,
    ) -> None:
        """Start the learned households ``names`` and the built-in federates ``builtin``, all
        on one core of this process."""
        entries = {name: federation.entry(name) for name in [*names, *builtin]}
        self._core = SharedCore(entries[names[0]].helics or {}, len(entries))
        builtin_threads = {thread for name in builtin for thread in _threads_of(name)}
        self._log_handlers.append(
            attach_log_file(
                folder.file("logs/learners.log"),
                accept=lambda thread: thread not in builtin_threads,
            )
        )
        for name in builtin:
            own = _threads_of(name)
            self._log_handlers.append(
                attach_log_file(folder.file(f"logs/{name}.log"), accept=own.__contains__)
            )
        for name, entry in entries.items():
            # HELICS prints its own copy of a federate's errors on the learner's console, and
            # every episode the learner ends early ends with one (EpisodeClosedError ends the
            # federation); tefed's log and the environment's FederationError report them.
            entry.helics = self._core.joining(entry.helics or {})
            context = FederateContext(
                name=name, federation=federation, entry=entry, base_dir=base_dir
            )
            if name in builtin:
                self._start_builtin(context, folder)
            else:
                self._start_learner(context, options)

    def _start_learner(self, context: FederateContext, options: EnvOptions) -> None:
        name = context.name
        channel = self.channels[name] = DecisionChannel()
        # A learned household writes no tables: nothing to hold back once it has left.
        runtime = HelicsRuntime(context, LearnerHousehold(options, channel), shares_process=True)
        federate = threading.Thread(target=runtime.run, name=THREAD_PREFIX + name, daemon=True)
        self._federate_threads[name] = federate
        federate.start()
        forwarder = threading.Thread(
            target=self._forward, args=(name, channel, federate), daemon=True
        )
        forwarder.start()
        self.threads += [federate, forwarder]

    def _start_builtin(self, context: FederateContext, folder: RunFolder) -> None:
        role = context.entry.tefed.role
        runtime = HelicsRuntime(
            context,
            builtin_logic()[role](),
            shares_process=True,
            after_leaving=self._after_leaving(context.name),
        )

        def run() -> None:
            if runtime.run() == EXIT_OK:
                runtime.release_logic()
                write_report_if_last(context.federation, folder, context.name)

        thread = threading.Thread(target=run, name=THREAD_PREFIX + context.name, daemon=True)
        self._federate_threads[context.name] = thread
        thread.start()
        self._builtin_threads.append(thread)

    def _after_leaving(self, name: str) -> Callable[[], None]:
        """What federate ``name`` does once it has left the federation: wait (up to
        `LEAVING_WAIT_S`) until every other federate of the episode has left or ended."""

        def wait_for_the_others() -> None:
            deadline = time.monotonic() + LEAVING_WAIT_S
            with self._leaving:
                self._left.add(name)
                self._leaving.notify_all()
                # Polled too: a federate that ended on an error never says it left.
                while not self._all_left() and time.monotonic() < deadline:
                    self._leaving.wait(POLL_S)

        return wait_for_the_others

    def _all_left(self) -> bool:
        """Whether every federate of the episode has left the federation or its thread ended."""
        return all(
            name in self._left or not thread.is_alive()
            for name, thread in self._federate_threads.items()
        )

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
        started = time.monotonic()
        for threads, grace_s in (
            (self.threads, EXIT_GRACE_S),
            (self._builtin_threads, BUILTIN_EXIT_GRACE_S),
        ):
            for thread in threads:
                thread.join(timeout=max(0.0, started + grace_s - time.monotonic()))
        for handler in self._log_handlers:
            detach_log_file(handler)
        lingering = [t for t in [*self.threads, *self._builtin_threads] if t.is_alive()]
        if self._core is not None and not lingering:
            self._core.release()
        return lingering


def _threads_of(name: str) -> frozenset[str]:
    """Names of the threads that log for federate ``name`` in the host: its own and its stall
    watchdog's."""
    return frozenset({THREAD_PREFIX + name, f"{STALL_WATCHDOG_PREFIX}{name}"})


def serve(requests: Connection, replies: Connection) -> None:
    """The host's main loop (see the module docstring)."""
    lock = threading.Lock()
    episode: _Episode | None = None
    lingering: list[threading.Thread] = []
    # Every role's code imported now, while the learner sets up, not in the first reset.
    builtin_logic()
    # What is imported lives as long as the host: kept out of every later collection (a full
    # one scanned its 157,000 objects, inside an environment step).
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])
    # As in a federate's own process: its log files get tefed's information lines too, and
    # nothing of it goes to the learner's console.
    logging.getLogger("tefed").setLevel(logging.INFO)
    logging.getLogger("tefed").propagate = False
    while True:
        request = next_request(requests)
        kind = request[0]
        if kind == "join":
            _, number, federation_text, base_dir, folder_path, names, builtin, options_text = (
                request
            )
            episode = _Episode(number, replies, lock)
            episode.start(
                FederationFile.model_validate_json(federation_text),
                Path(base_dir),
                RunFolder(Path(folder_path)),
                names,
                builtin,
                EnvOptions.model_validate_json(options_text),
            )
        elif kind == "act":
            _, number, name, action = request
            if episode is not None and episode.number == number:
                episode.channels[name].act(action)
        elif kind in ("close", "quit"):
            if episode is not None and (kind == "quit" or episode.number == request[1]):
                lingering = [t for t in lingering if t.is_alive()] + episode.close()
                episode = None
            if kind == "close":
                with lock:
                    replies.send(("closed", request[1]))
            if kind == "quit":
                if not lingering:
                    # Not under a federate still running: HELICS would pull its core away.
                    close_helics_library()
                return
        else:
            raise ValueError(f"unknown request {kind!r}")


if __name__ == "__main__":
    serve(*helper_connections(sys.argv))
