"""Watchdog that ends a stalled federation and names the federate that stalled it.

Each federate's runtime starts one. While the federate waits in a blocking HELICS call, the
watchdog counts; once the wait exceeds ``runtime.stall_timeout_s`` it asks the broker which
federates are executing, asks each of them for its granted and requested time, and names those
that were granted a time and have not requested the next one (they are computing, or stuck).
A federate whose core does not answer at all, twice, is named as not answering: its process is
stopped or gone (a stalled federate that still runs answers through its core's own thread).
Then it raises a HELICS global error with that message, which ends every federate's wait.

Entering executing mode is different: the others may still be reading feeders and profiles, so
that wait gets ``runtime.startup_timeout_s``, counted from the last time another federate got
ready, and the message names the federates that have not yet asked to start. A peer that does
not answer at all while it is not ready, twice, is named at once as not answering: however long
a live federate takes to start, its core answers.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from tefed.runtime.helics_library import free, h

log = logging.getLogger("tefed.runtime")

#: Exit code of a federate that stopped a stalled federation.
EXIT_STALL = 4
#: How long the watchdog waits for the broker to answer a question [s].
QUERY_TIMEOUT_S = 3.0
#: Tag a federate sets (to ``READY``) once it has read its inputs and asks to start; the
#: broker reports every waiting federate as "created" until all have asked.
STARTUP_TAG = "tefed_startup"
READY = "ready"
#: How often a federate waiting to start looks which federates are ready [s].
STARTUP_LOOK_EVERY_S = 2.0
#: Pause between the two looks that confirm which federates are stuck [s].
CONFIRM_DELAY_S = 1.0
#: How long a federate that did not answer the first look gets to answer the second [s]: a
#: stopped process never answers, a live one on a loaded machine does within this (its HELICS
#: core answers, not its Python code). A federation with a stall timeout shorter than this
#: gives the stall timeout, at least ``QUERY_TIMEOUT_S``: whoever asks for quick detection gets
#: it (a frozen federate named 7 s sooner with ``run.stall_timeout_s: 3``).
SILENCE_TIMEOUT_S = 10.0
#: First and longest pause between checks for a query's answer [s] (see `ask_federation`).
FIRST_POLL_S = 0.002
LAST_POLL_S = 0.1


#: Name of the watchdog thread of federate ``name``: this prefix and the name.
STALL_WATCHDOG_PREFIX = "stall-watchdog-"


class StallWatchdog(threading.Thread):
    """Ends the federation when this federate has waited too long for a time grant."""

    def __init__(
        self,
        federate: Any,
        name: str,
        timeout_s: float,
        startup_timeout_s: float,
        peers: Sequence[str] = (),
        finished: Callable[[], set[str]] = set,
    ):
        """``peers``: the other federates of the federation by name; ``finished``: those that
        have ended on their own (a peer neither finished nor seen by the broker does not
        answer)."""
        super().__init__(name=f"{STALL_WATCHDOG_PREFIX}{name}", daemon=True)
        self._federate = federate
        self._federate_name = name
        self._peers = [peer for peer in peers if peer != name]
        self._finished = finished
        self._timeout_s = timeout_s
        self._startup_timeout_s = startup_timeout_s
        self._silence_timeout_s = min(SILENCE_TIMEOUT_S, max(QUERY_TIMEOUT_S, timeout_s))
        self._waiting_since: float | None = None
        self._waiting_for: float = 0.0
        self._waiting_at_startup = False
        self._seen_ready: set[str] = set()
        # Not ``_stop``: that is Thread's own method, which threading calls in a child this
        # process forks (the report draws its figures on two cores) and when it is joined.
        self._stopping = threading.Event()
        self.fired_message: str | None = None
        self.culprits: list[str] = []

    def begin_wait(self, helics_time_s: float, *, startup: bool = False) -> None:
        """Called just before a blocking HELICS call (``startup``: entering executing mode)."""
        self._waiting_for = helics_time_s
        self._waiting_at_startup = startup
        self._waiting_since = time.monotonic()

    def end_wait(self) -> None:
        """Called right after it returns."""
        self._waiting_since = None

    def stop(self) -> None:
        """Stop watching (before the federate is freed)."""
        self._stopping.set()

    def run(self) -> None:
        progress_since = 0.0
        not_ready: list[str] | None = None
        silent: list[str] = []
        last_look = 0.0
        while not self._stopping.wait(0.5):
            since = self._waiting_since
            startup = self._waiting_at_startup
            now = time.monotonic()
            if since is not None and startup and now - last_look >= STARTUP_LOOK_EVERY_S:
                # Startup is stalled only when no federate got ready for a whole timeout: a
                # slow machine starting several federates at once makes progress.
                now_not_ready, now_silent = self._not_ready(patient_with=set(silent))
                last_look = time.monotonic()
                confirmed_silent = [name for name in now_silent if name in silent]
                silent = now_silent
                if confirmed_silent:
                    self.culprits = confirmed_silent
                    self._fire(self._silent_at_startup_message())
                    return
                if now_not_ready != not_ready:
                    not_ready, progress_since = now_not_ready, now
            limit_s = self._startup_timeout_s if startup else self._timeout_s
            if since is None or now - max(since, progress_since) < limit_s:
                continue
            if startup:
                self.culprits = not_ready or []
            self._fire(self._startup_message() if startup else self._stall_message())
            return

    def _fire(self, message: str) -> None:
        """Log ``message`` and end the federation with it (a HELICS global error)."""
        self.fired_message = message
        log.error(self.fired_message)
        try:
            h.helicsFederateGlobalError(self._federate, EXIT_STALL, self.fired_message)
        except h.HelicsException as error:
            log.error("could not signal the stall to the broker: %s", error)

    def _stall_message(self) -> str:
        culprits, silent = self._confirmed_culprits()
        self.culprits = [*silent, *(name for name, _ in culprits)]
        who = ", ".join(f"'{name}' (at t={granted:g} s)" for name, granted in culprits)
        mute = ", ".join(f"'{name}'" for name in silent)
        if silent:
            finding = f"not answering: {mute} (its process is stopped or gone)" + (
                f"; still computing without requesting time: {who}" if culprits else ""
            )
        elif culprits:
            finding = f"still computing without requesting time: {who}"
        else:
            finding = "no federate reports being busy (a process may have died)"
        return (
            f"federation stalled: federate '{self._federate_name}' waited more than "
            f"{self._timeout_s:g} s for time {self._waiting_for:g} s; {finding}"
        )

    def _not_ready(self, patient_with: set[str] = frozenset()) -> tuple[list[str], list[str]]:
        """Federates that have not tagged themselves ready to enter executing mode, and
        those of them that did not answer (those in ``patient_with`` get the silence timeout).

        Each peer is asked directly: a federate that has not joined yet is answered for by
        the broker (not ready), one that has joined by its own core. Without the list of peers,
        the broker's list is used. Readiness only grows: a federate seen ready once is not
        asked again (a query that goes unanswered must not make it look unready).
        """
        finished = self._finished()
        names = self._peers or [name for name, _ in self._federate_states()]
        waiting, silent = [], []
        for name in names:
            if name in self._seen_ready or name in finished:
                continue
            timeout_s = self._silence_timeout_s if name in patient_with else QUERY_TIMEOUT_S
            answer = ask_federation(self._federate, name, f"tag/{STARTUP_TAG}", timeout_s)
            if answer is None:
                silent.append(name)
                waiting.append(name)
            elif answer == READY:
                self._seen_ready.add(name)
            else:
                waiting.append(name)
        return waiting, silent

    def _silent_at_startup_message(self) -> str:
        who = ", ".join(f"'{name}'" for name in self.culprits)
        return (
            f"federation stalled at startup: federate '{self._federate_name}' is waiting to start; "
            f"not answering: {who} (its process is stopped or gone)"
        )

    def _startup_message(self) -> str:
        who = ", ".join(f"'{name}'" for name in self.culprits)
        return (
            f"federation stalled at startup: federate '{self._federate_name}' waited more than "
            f"{self._startup_timeout_s:g} s (runtime.startup_timeout_s) without another "
            "federate getting ready to start; "
            + (
                f"not yet ready: {who}"
                if self.culprits
                else "every federate that joined is ready (one may never have joined)"
            )
        )

    def _federate_states(self) -> list[tuple[str, str]]:
        """(name, state) of every federate the broker knows, this one excluded."""
        state = self._query("root", "global_state")
        found = []
        for core in (state or {}).get("cores", []):
            for federate in core.get("federates", []):
                name = federate.get("attributes", {}).get("name")
                if name and name != self._federate_name:
                    found.append((name, str(federate.get("state", ""))))
        return found

    def _confirmed_culprits(self) -> tuple[list[tuple[str, float]], list[str]]:
        """Federates still computing at the same granted time on a second look, earliest
        first, and federates that answered neither look.

        A federate caught between a grant and its next request by the first look moves on
        before the second; a stuck one does not. A federate that did not answer the first look
        gets the silence timeout (`SILENCE_TIMEOUT_S`) for the second: a loaded machine may
        delay an answer, a stopped process never gives one.
        """
        first, first_silent = self._find_computing_federates()
        if not first and not first_silent:
            return [], []
        self._stopping.wait(CONFIRM_DELAY_S)
        second, second_silent = self._find_computing_federates(patient_with=set(first_silent))
        first_times = dict(first)
        stuck = [(name, granted) for name, granted in second if first_times.get(name) == granted]
        silent = [name for name in second_silent if name in first_silent]
        return sorted(stuck or second, key=lambda item: item[1]), silent

    def _find_computing_federates(
        self, patient_with: set[str] = frozenset()
    ) -> tuple[list[tuple[str, float]], list[str]]:
        """Federates that were granted a time and have not requested the next one, and
        federates that did not answer (those in ``patient_with`` get the silence timeout).

        Each peer is asked directly (``current_time``, answered by its core's own thread): a
        stopped or dead process cannot answer, while the broker's ``global_state`` then
        fails for everyone. Without the list of peers, the broker's list is used.
        """
        finished = self._finished()
        if self._peers:
            names = [name for name in self._peers if name not in finished]
        else:
            names = [name for name, state in self._federate_states() if state == "executing"]
        culprits = []
        silent = []
        for name in names:
            timeout_s = self._silence_timeout_s if name in patient_with else QUERY_TIMEOUT_S
            times = self._query(name, "current_time", timeout_s)
            if times is None:
                silent.append(name)
                continue
            granted = times.get("granted_time")
            requested = times.get("requested_time")
            if granted is not None and requested is not None and requested <= granted:
                culprits.append((name, float(granted)))
        return culprits, silent

    def _query(self, target: str, question: str, timeout_s: float = QUERY_TIMEOUT_S) -> dict | None:
        """Ask the federation something answered in JSON; None without an answer."""
        answer = ask_federation(self._federate, target, question, timeout_s)
        try:
            data = json.loads(answer) if isinstance(answer, str) else answer
        except ValueError:
            return None
        return data if isinstance(data, dict) and "error" not in data else None


def ask_federation(
    federate: Any, target: str, question: str, timeout_s: float, poll_s: float = FIRST_POLL_S
) -> Any:
    """Ask ``target`` a HELICS query through ``federate``, without blocking past a deadline.

    Parameters
    ----------
    federate : helics federate
        The federate that asks.
    target : str
        ``root``, a broker, a core or a federate name.
    question : str
        The query, e.g. ``current_time`` or ``tag/<name>``.
    timeout_s : float
        How long to wait for the answer [s].
    poll_s : float
        First pause between checks for the answer [s]; each pause is twice the one before, up
        to ``LAST_POLL_S``. An answer usually comes within milliseconds; a stopped federate's
        never does, and checking every 5 ms for it kept the asking federate busy while a stall
        was confirmed (a run whose price feed froze at start used 4.5 s of CPU, now 3.4 s).

    Returns
    -------
    Any
        The answer as pyhelics returns it, or None when none came in time or the query failed
        (logged). The query is always freed.
    """
    query = h.helicsCreateQuery(target, question)
    try:
        h.helicsQueryExecuteAsync(query, federate)
        deadline = time.monotonic() + timeout_s
        while not h.helicsQueryIsCompleted(query):
            if time.monotonic() > deadline:
                return None
            time.sleep(poll_s)
            poll_s = min(2 * poll_s, LAST_POLL_S)
        return h.helicsQueryExecuteComplete(query)
    except h.HelicsException as error:
        log.error("query %r to %r failed: %s", question, target, error)
        return None
    finally:
        free(query, h.helicsQueryFree)
