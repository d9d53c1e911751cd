"""The conformance probe: a HELICS observer federate watching one candidate federate.

The harness (`tefed.conformance.harness`) adds it to a federation as one more process::

    python -m tefed.runtime.probe FEDERATION_FILE --name conformance_probe

Its entry names the candidate (``conformance.federate``). The probe

- subscribes to every publication the candidate's ``helics`` block declares and records the
  HELICS time of each update and any value that is not finite;
- clones every message the candidate's declared endpoints send (a HELICS cloning filter), and
  for a market every message they receive (the orders its awards are checked against);
- notes whether the candidate joined the federation (the broker knows its name);
- asks the broker what the candidate registered (queries ``interfaces`` and
  ``data_flow_graph``) and, at each of its own grants, the candidate's granted time
  (``current_time``);
- after the end of the run, gives the candidate ``conformance.disconnect_grace_s`` to
  disconnect once every built-in federate is done; if it does not, the probe exits with 4 so
  that the runner stops the run at once.

As an observer it never holds anyone back. What it saw is written to ``conformance/probe.json``
in the run folder (also when the run fails or the runner stops the probe) and judged by the
pure checks of `tefed.conformance.checks`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tefed.contract.federation_file import FederateEntry
from tefed.runtime.helics_library import free, h
from tefed.runtime.helics_runtime import input_string, input_vector, message_text
from tefed.runtime.stall_watchdog import READY, STARTUP_TAG, ask_federation

#: Times at or beyond this are HELICS's "maximum time", not a step [s].
HELICS_MAX_TIME_S = 1e9


@dataclass
class ProbeObservations:
    """What the probe federate saw of the candidate during one run.

    Parameters
    ----------
    interfaces : dict or None
        The broker's answer to the ``interfaces`` query about the candidate (``publications``,
        ``inputs``, ``endpoints`` with ``name``, ``type``, ``units``); None when it could not
        be asked (any other answer, such as a query error, is moved to ``errors``).
    subscription_targets : list of str or None
        Publication keys the candidate's inputs connect to; None when unknown.
    unconnected_inputs : int
        Inputs of the candidate connected to no publication.
    update_times_s : dict of str to list of float
        HELICS times of every update of each declared publication [s].
    non_finite_values : list of dict
        ``key``, ``time_s`` [s] and ``value`` of every update that was not finite.
    messages : list of dict
        Every message the candidate's endpoints sent: ``time_s`` [s], ``source``,
        ``destination``, ``payload``.
    received_messages : list of dict
        A market candidate's: every message its endpoints received (the households' orders),
        as ``messages``; empty for other roles.
    granted_times_s : list of float
        The candidate's granted times seen by the probe [s].
    final : dict or None
        Set when the probe reached the end of the run: ``time_s`` [s], ``candidate_connected``
        (still connected after the grace period) and ``waited_s`` [s].
    errors : list of str
        What went wrong on the probe's side (the federation ended early, a query failed).
    candidate_joined : bool or None
        Whether the candidate joined the federation (created its federate) while the probe
        waited for every federate to ask to initialize: True once the broker knew it, False
        when it did not know it the whole time; None when the probe could not tell.
    """

    interfaces: dict[str, Any] | None = None
    subscription_targets: list[str] | None = None
    unconnected_inputs: int = 0
    update_times_s: dict[str, list[float]] = field(default_factory=dict)
    non_finite_values: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    granted_times_s: list[float] = field(default_factory=list)
    final: dict[str, Any] | None = None
    errors: list[str] = field(default_factory=list)
    candidate_joined: bool | None = None
    received_messages: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.interfaces is not None and not isinstance(self.interfaces, dict):
            self.errors.append(f"interfaces of the candidate: {self.interfaces!r}")
            self.interfaces = None

    def to_json_text(self) -> str:
        """The observations as JSON text."""
        return json.dumps(asdict(self), indent=1, default=str)

    @classmethod
    def from_json_text(cls, text: str) -> ProbeObservations:
        """Observations written by ``to_json_text``."""
        return cls(**json.loads(text))


PROBE_NAME = "conformance_probe"
#: The role whose received messages the probe clones too (the orders a market's awards fill).
RECEIVED_MESSAGES_ROLE = "market"
OBSERVATIONS_FILE = "conformance/probe.json"
#: Exit code of the probe when it stopped the run because the candidate stayed connected.
EXIT_CANDIDATE_STAYED = 4
#: Exit code of the probe when it could not join the federation (the runner then stops the run).
EXIT_PROBE_FAILED = 1
#: HELICS query error codes: the target is unknown to the broker (a federate that has not
#: joined), and the federation has ended.
QUERY_UNKNOWN_TARGET = 404
QUERY_CORE_TERMINATED = 410
#: Seconds to wait for a broker query before giving up on it.
QUERY_DEADLINE_S = 5.0
#: Polling interval while waiting for a grant or a query [s].
POLL_S = 0.002
#: How often the observations are saved while the run goes on [s].
SAVE_EVERY_S = 2.0


class _StopRequestedError(Exception):
    """The runner asked the probe to stop (SIGTERM)."""


def _stop(signal_number: int, frame: object) -> None:
    raise _StopRequestedError


class Probe:
    """The probe federate of one harness run.

    Parameters
    ----------
    data : dict
        The resolved federation file (its ``results.run_dir`` set by the runner).
    name : str
        The probe's entry; its ``conformance`` section names the candidate federate and the
        grace period it has to disconnect [s].
    """

    def __init__(self, data: dict[str, Any], name: str):
        self._data = data
        entries = {entry["name"]: entry for entry in data["federates"]}
        self._entry = entries[name]
        settings = self._entry["conformance"]
        self._candidate_name: str = settings["federate"]
        self._grace_s = float(settings["disconnect_grace_s"])
        self._candidate = entries[self._candidate_name]["helics"]
        self._candidate_endpoints = {spec["name"] for spec in self._candidate.get("endpoints", [])}
        role = (entries[self._candidate_name].get("tefed") or {}).get("role")
        self._clone_received = role == RECEIVED_MESSAGES_ROLE
        self._others_builtin = [
            entry["name"]
            for entry in data["federates"]
            if FederateEntry.model_validate(entry).runs_builtin
            and entry["name"] != self._candidate_name
        ]
        self._others = [
            entry["name"]
            for entry in data["federates"]
            if entry.get("helics") is not None and entry["name"] != name
        ]
        self._publishers = [
            entry["name"]
            for entry in data["federates"]
            if entry.get("helics", {}).get("publications") and entry["name"] != self._candidate_name
        ]
        self._startup_timeout_s = float(data["tefed"]["runtime"]["startup_timeout_s"])
        self._run_dir = Path(data["tefed"]["results"]["run_dir"])
        self._end_s = float(data["tefed"]["time"]["duration_s"]) + 1.0
        self.observations = ProbeObservations()
        self._federate: Any = None
        self._inputs: dict[str, tuple[Any, str]] = {}
        self._clones: Any = None
        self._granted: set[float] = set()
        self._saved_at = time.monotonic()

    # --- life cycle ---------------------------------------------------------------------------

    def run(self) -> int:
        """Watch the candidate until the end of the run; returns the exit code."""
        code = EXIT_PROBE_FAILED
        try:
            self._create()
            code = 0
            # Nobody waits for an observer after the initialization barrier (a federate without
            # inputs runs to its end at once), so the candidate is asked what it registered
            # while everyone waits at the barrier for the probe.
            self._await_others_at_barrier()
            interfaces = self._query(self._candidate_name, "interfaces")
            if isinstance(interfaces, dict):
                self.observations.interfaces = interfaces
            else:
                self.observations.errors.append(f"interfaces of the candidate: {interfaces!r}")
            publications = self._publication_keys()
            # tefed's startup watchdog counts a federate without this tag as not yet started.
            h.helicsFederateSetTag(self._federate, STARTUP_TAG, READY)
            self._wait(
                lambda: h.helicsFederateEnterInitializingModeAsync(self._federate),
                h.helicsFederateEnterInitializingModeComplete,
            )
            self._resolve_subscriptions(publications)
            self._wait(
                lambda: h.helicsFederateEnterExecutingModeAsync(self._federate),
                h.helicsFederateEnterExecutingModeComplete,
            )
            code = self._watch()
        except h.HelicsException as error:
            self.observations.errors.append(f"the federation ended: {error}")
        except _StopRequestedError:
            self.observations.errors.append("the runner stopped the probe")
        finally:
            self._save()
        if code == EXIT_CANDIDATE_STAYED:
            # Disconnecting would wait for the candidate that holds the federation; ending at
            # once (observations saved) makes the runner stop every process now.
            os._exit(code)
        self._release()
        return code

    def _create(self) -> None:
        block = self._entry["helics"]
        info = h.helicsCreateFederateInfo()
        h.helicsFederateInfoSetCoreTypeFromString(info, block["core_type"])
        h.helicsFederateInfoSetCoreInitString(
            info, f"--brokerport={block['brokerport']} --broker_key={block.get('broker_key', '')}"
        )
        h.helicsFederateInfoSetFlagOption(info, h.HELICS_FLAG_OBSERVER, True)
        self._federate = h.helicsCreateCombinationFederate(self._entry["name"], info)
        free(info, h.helicsFederateInfoFree)
        for spec in self._candidate.get("publications", []):
            handle = h.helicsFederateRegisterSubscription(self._federate, spec["key"], "")
            self._inputs[spec["key"]] = (handle, spec.get("type", "double"))
        endpoints = [spec["name"] for spec in self._candidate.get("endpoints", [])]
        if endpoints:
            self._clones = h.helicsFederateRegisterEndpoint(self._federate, "clones", "")
            cloning = h.helicsFederateRegisterCloningFilter(self._federate, "")
            for endpoint in endpoints:
                h.helicsFilterAddSourceTarget(cloning, endpoint)
                if self._clone_received:
                    h.helicsFilterAddDestinationTarget(cloning, endpoint)
            h.helicsFilterAddDeliveryEndpoint(cloning, h.helicsEndpointGetName(self._clones))

    def _watch(self) -> int:
        granted = 0.0
        while granted < self._end_s:
            granted = self._request(self._end_s)
            self._record(granted)
        return self._await_disconnect(granted)

    def _request(self, time_s: float) -> float:
        """The next grant, or ``HELICS_MAX_TIME_S`` when the candidate holds the federation
        after every built-in federate is done (it never requests its last time)."""
        h.helicsFederateRequestTimeAsync(self._federate, time_s)
        looked_at = time.monotonic()
        while not h.helicsFederateIsAsyncOperationCompleted(self._federate):
            time.sleep(POLL_S)
            if time.monotonic() - looked_at > 0.5:
                looked_at = time.monotonic()
                if self._others_done_since() > self._grace_s:
                    return HELICS_MAX_TIME_S
        return h.helicsFederateRequestTimeComplete(self._federate)

    def _record(self, granted: float) -> None:
        if granted >= HELICS_MAX_TIME_S:
            return
        for key, (handle, kind) in self._inputs.items():
            if not h.helicsInputIsUpdated(handle):
                continue
            value = _read(handle, kind)
            self.observations.update_times_s.setdefault(key, []).append(granted)
            numbers = value if isinstance(value, list) else [value]
            if not all(math.isfinite(v) for v in numbers if isinstance(v, float)):
                self.observations.non_finite_values.append(
                    {"key": key, "time_s": granted, "value": str(value)}
                )
        while self._clones is not None and h.helicsEndpointHasMessage(self._clones):
            message = h.helicsEndpointGetMessage(self._clones)
            source = h.helicsMessageGetOriginalSource(message)
            sent = source in self._candidate_endpoints
            (self.observations.messages if sent else self.observations.received_messages).append(
                {
                    "time_s": h.helicsMessageGetTime(message),
                    "source": source,
                    "destination": h.helicsMessageGetOriginalDestination(message),
                    "payload": message_text(message),
                }
            )
        answer = self._query(self._candidate_name, "current_time", deadline_s=1.0)
        if isinstance(answer, dict) and isinstance(answer.get("granted_time"), int | float):
            candidate_time = float(answer["granted_time"])
            if candidate_time not in self._granted:
                self._granted.add(candidate_time)
                self.observations.granted_times_s.append(candidate_time)
        if time.monotonic() - self._saved_at > SAVE_EVERY_S:
            self._save()

    def _await_disconnect(self, granted: float) -> int:
        """After the end: wait until the candidate disconnected, at most the grace period after
        every built-in federate is done."""
        while True:
            state = self._query(self._candidate_name, "state", deadline_s=1.0)
            if state is not None and state not in ("connected", "executing", "initializing"):
                connected = False
                break
            waited_s = self._others_done_since()
            if waited_s > self._grace_s:
                connected = True
                break
            time.sleep(0.1)
        self.observations.final = {
            "time_s": granted,
            "candidate_connected": connected,
            "waited_s": round(self._others_done_since(), 1),
        }
        return EXIT_CANDIDATE_STAYED if connected else 0

    # --- helpers ------------------------------------------------------------------------------

    def _others_done_since(self) -> float:
        """Seconds since every built-in federate other than the candidate marked itself done
        (0 while some are not done)."""
        done_dir = self._run_dir / ".done"
        try:
            marks = [(done_dir / name).stat().st_mtime for name in self._others_builtin]
        except FileNotFoundError:
            return 0.0
        return max(0.0, time.time() - max(marks)) if marks else 0.0

    def _wait(self, start: Any, complete: Any) -> None:
        start()
        while not h.helicsFederateIsAsyncOperationCompleted(self._federate):
            time.sleep(POLL_S)
        complete(self._federate)

    def _query(self, target: str, text: str, deadline_s: float = QUERY_DEADLINE_S) -> Any:
        """The answer to a query; a HELICS query error as its message (a str)."""
        answer = self._ask(target, text, deadline_s)
        if isinstance(answer, dict) and "error" in answer:
            return str(answer["error"].get("message", "error"))
        return answer

    def _ask(self, target: str, text: str, deadline_s: float = QUERY_DEADLINE_S) -> Any:
        """The answer to a query as HELICS gives it (an error as ``{"error": {"code": …}}``)."""
        answer = ask_federation(self._federate, target, text, deadline_s, POLL_S)
        if isinstance(answer, str):
            answer = answer.strip().strip('"')
        return answer

    def _await_others_at_barrier(self) -> None:
        """Wait (in created mode) until every other federate has asked to initialize, so that
        all have registered their interfaces, and note whether the candidate joined.

        When one never asks, the built-in federates' startup watchdogs end the federation
        ``startup_timeout_s`` after the last federate got ready; the probe waits for that
        rather than tagging itself ready first, which would count as a federate getting ready
        and start their count again (a candidate that never joined then took twice the
        timeout). It gives up on its own after twice the timeout without progress.
        """
        waiting = set(self._others)
        patience_s = 2 * self._startup_timeout_s
        deadline = time.monotonic() + patience_s
        while waiting and time.monotonic() < deadline:
            answers = {name: self._ask(name, "isinit", 1.0) for name in waiting}
            self._note_candidate_joined(answers.get(self._candidate_name))
            if any(_error_code(answer) == QUERY_CORE_TERMINATED for answer in answers.values()):
                return
            still_waiting = {name for name, answer in answers.items() if answer is not True}
            if still_waiting != waiting:
                deadline = time.monotonic() + patience_s
            waiting = still_waiting
            time.sleep(0.05)

    def _note_candidate_joined(self, answer: Any) -> None:
        """Whether the candidate joined, from its answer to ``isinit`` (absent: answered)."""
        if isinstance(answer, bool):
            self.observations.candidate_joined = True
        elif (
            _error_code(answer) == QUERY_UNKNOWN_TARGET
            and self.observations.candidate_joined is None
        ):
            self.observations.candidate_joined = False

    def _publication_keys(self) -> dict[tuple[int, int], str]:
        """Key of every publication of the other federates by (federate id, handle)."""
        keys_by_handle = {}
        for publisher in self._publishers:
            graph = self._query(publisher, "data_flow_graph")
            if not isinstance(graph, dict):
                self.observations.errors.append(f"data_flow_graph of {publisher}: {graph!r}")
                continue
            for publication in graph.get("publications", []):
                keys_by_handle[(publication["federate"], publication["handle"])] = publication[
                    "key"
                ]
        return keys_by_handle

    def _resolve_subscriptions(self, publications: dict[tuple[int, int], str]) -> None:
        """The publication keys the candidate's inputs connect to (left unknown when the
        candidate cannot be asked); inputs whose sources do not arrive within a second count
        as connected to nothing."""
        inputs: list[dict[str, Any]] = []
        deadline = time.monotonic() + 1.0
        while True:
            graph = self._query(self._candidate_name, "data_flow_graph")
            if not isinstance(graph, dict):
                self.observations.errors.append(f"data_flow_graph of the candidate: {graph!r}")
                return
            inputs = graph.get("inputs", [])
            if all(item.get("sources") for item in inputs) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        sources = [
            (source["federate"], source["handle"])
            for item in inputs
            for source in item.get("sources", [])
        ]
        self.observations.subscription_targets = [
            publications.get(source, f"an unknown publication {source}") for source in sources
        ]
        self.observations.unconnected_inputs = sum(not item.get("sources") for item in inputs)

    def _save(self) -> None:
        path = self._run_dir / OBSERVATIONS_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(self.observations.to_json_text())
        temporary.replace(path)
        self._saved_at = time.monotonic()

    def _release(self) -> None:
        if self._federate is not None:
            with contextlib.suppress(h.HelicsException):
                h.helicsFederateDisconnect(self._federate)
            free(self._federate, h.helicsFederateFree)
        h.helicsCloseLibrary()


def _error_code(answer: Any) -> int | None:
    """The code of a HELICS query error (None: not an error)."""
    if isinstance(answer, dict) and isinstance(answer.get("error"), dict):
        code = answer["error"].get("code")
        return code if isinstance(code, int) else None
    return None


def _read(handle: Any, kind: str) -> Any:
    if kind in ("vector", "double_vector"):
        return input_vector(handle).tolist()
    if kind in ("double", "float"):
        return float(h.helicsInputGetDouble(handle))
    return input_string(handle)


def main(argv: list[str] | None = None) -> int:
    """``python -m tefed.runtime.probe FEDERATION_FILE --name NAME``."""
    parser = argparse.ArgumentParser(prog="python -m tefed.runtime.probe")
    parser.add_argument("federation_file", type=Path)
    parser.add_argument("--name", default=PROBE_NAME)
    arguments = parser.parse_args(argv)
    data = json.loads(arguments.federation_file.read_text())
    signal.signal(signal.SIGTERM, _stop)
    return Probe(data, arguments.name).run()


if __name__ == "__main__":
    raise SystemExit(main())
