"""The HELICS runtime: how every tefed federate (and learner) takes part in a federation.

``HelicsRuntime`` creates a federate from its ``helics`` block, enters executing mode, advances on
the time grid with finite time requests, reads inputs and messages, calls the federate's logic,
publishes and sends what it returns, and always disconnects and frees the federate.

Failure handling, so that a federation never hangs:

- the logic raises: the runtime logs the traceback and raises a HELICS *global* error naming the
  federate; the broker ends the federation and every other federate's time request fails with
  that message (exit code 1 here, 3 in the others);
- another federate stops responding (stuck in a computation, or killed): the stall watchdog
  (``stall_watchdog``) notices this federate waiting longer than ``runtime.stall_timeout_s`` for
  a time grant and raises a global error naming the federate that has not come back (exit code
  4). A killed federate is also caught by the broker's own connection timeout.

The runtime measures wall time spent computing (initialize, steps, finalize) and waiting for
HELICS (entering executing mode, time requests) and writes both into the run folder.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tefed.contract.errors import EXIT_USER_ERROR, InputError
from tefed.contract.federation_file import BROKER_MODULE
from tefed.contract.host_failure import HostFailure
from tefed.contract.logic import (
    FederateContext,
    FederateLogic,
    Message,
    MissingMessagesError,
    SilentPublisherError,
    StepInputs,
)
from tefed.contract.run_folder import RunFolder
from tefed.runtime.broker_claim import (
    CLAIM_TIMEOUT_S,
    BrokerClaim,
    PortTakenError,
    wait_for_sibling_claim,
)
from tefed.runtime.helics_library import ffi as _ffi
from tefed.runtime.helics_library import free, h
from tefed.runtime.helics_library import lib as _lib
from tefed.runtime.helics_programs import helics_programs_dir
from tefed.runtime.run_accounting import PROGRESS_PREFIX, ProgressReport, TimingRecord
from tefed.runtime.stall_watchdog import EXIT_STALL, READY, STARTUP_TAG, StallWatchdog

log = logging.getLogger("tefed.runtime")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_STOPPED_BY_OTHER = 3

#: C pointer types of the HELICS calls this module makes itself, taken from the calls' own
#: signatures: when pyhelics declared its C API itself (not from tefed's cache, see
#: ``helics_library``), cffi parses a type written as text with pycparser, 2-3 ms of CPU each
#: time it meets a new one.
_DOUBLE_POINTER = _ffi.typeof(_lib.helicsInputGetVector).args[1]
_INT_POINTER = _ffi.typeof(_lib.helicsInputGetVector).args[3]
_CHAR_POINTER = _ffi.typeof(_lib.helicsInputGetString).args[1]
#: Room beyond a value's reported size that a read leaves, as pyhelics does [items].
_SPARE_ITEMS = 1024
# The two types pyhelics writes as text in every call (an error record) and every message it
# sends (a C string), parsed now (in the same case): a runner imports this module before it
# forks the federates, which then inherit them instead of parsing them in their first steps.
_ffi.typeof("HelicsError *")
_ffi.typeof("char[]")

#: Folder of HELICS's own programs installed with pyhelics (``helics_broker``).
HELICS_PROGRAMS_DIR = helics_programs_dir()
_MISSING_DOUBLE = math.nan


class _Input:
    __slots__ = ("handle", "key", "kind")

    def __init__(self, key: str, kind: str, handle: Any):
        self.key, self.kind, self.handle = key, kind, handle

    def read(self) -> Any:
        if self.kind == "double":
            return h.helicsInputGetDouble(self.handle)
        if self.kind == "vector":
            return input_vector(self.handle)
        return input_string(self.handle)


class _Publication:
    __slots__ = ("handle", "key", "kind")

    def __init__(self, key: str, kind: str, handle: Any):
        self.key, self.kind, self.handle = key, kind, handle

    def publish(self, value: Any) -> None:
        if self.kind == "double":
            number = float(value)
            if not math.isfinite(number):
                raise ValueError(f"publication {self.key!r}: value {number} is not finite")
            h.helicsPublicationPublishDouble(self.handle, number)
        elif self.kind == "vector":
            array = np.asarray(value, dtype=float)
            if not np.isfinite(array).all():
                raise ValueError(f"publication {self.key!r}: vector has non-finite entries")
            h.helicsPublicationPublishVector(self.handle, array.tolist())
        else:
            h.helicsPublicationPublishString(self.handle, str(value))


class HelicsRuntime:
    """Runs one federate's logic as a HELICS federate.

    Parameters
    ----------
    context : FederateContext
        The federate's name, federation file and entry.
    logic : FederateLogic
        The federate's logic object (not yet initialized).
    on_run_folder : callable, optional
        Called with the run folder as soon as it is known (after entering executing mode).
    shares_process : bool
        True for one of several federates run in threads of one process (as `tefed.rl` runs
        its learners): it neither closes the HELICS library when it is freed (the process
        calls `close_helics_library` once all of them are) nor prints progress lines for a
        supervisor.
    after_leaving : callable, optional
        Called once the federate has left the federation, before its logic writes its results
        (`FederateLogic.finalize`): federates sharing a process wait there until the others
        have left too, so that no one's writing holds up another's last steps.
    """

    def __init__(
        self,
        context: FederateContext,
        logic: FederateLogic,
        on_run_folder: Callable[[RunFolder], None] | None = None,
        shares_process: bool = False,
        after_leaving: Callable[[], None] | None = None,
    ):
        self.context = context
        self.logic = logic
        self._on_run_folder = on_run_folder
        self._shares_process = shares_process
        self._after_leaving = after_leaving
        self.timing = TimingRecord()
        self._federate: Any = None
        self._watchdog: StallWatchdog
        self._inputs: list[_Input] = []
        self._publications: dict[str, _Publication] = {}
        self._endpoints: dict[str, Any] = {}
        self._current_time_s: float = 0.0
        self._executing_since = 0.0
        self._helics_time_scale = context.federation.tefed.time.helics_time_scale or 1.0
        self._run_folder: RunFolder | None = None
        self._claim: BrokerClaim | None = None

    # --- public -------------------------------------------------------------------------------

    def run(self) -> int:
        """Run the federate to the end of the time grid; returns the process exit code."""
        name = self.context.name
        block = self.context.entry.helics
        if block is None:
            log.error("federate %r has no 'helics' block in the federation file", name)
            return EXIT_USER_ERROR
        try:
            self._claim = self._own_broker_claim(block)
        except PortTakenError as error:
            log.error("federate %r does not join: %s", name, error)
            return EXIT_USER_ERROR
        try:
            self._federate = h.helicsCreateCombinationFederateFromConfig(json.dumps(block))
        except h.HelicsException as error:
            log.error("federate %r could not join the federation: %s", name, error)
            return EXIT_FAILED
        runtime = self.context.federation.tefed.runtime
        self._watchdog = StallWatchdog(
            self._federate,
            name,
            runtime.stall_timeout_s,
            runtime.startup_timeout_s,
            peers=[entry.name for entry in self.context.federation.federate_entries()],
            finished=self._finished_peers,
        )
        self._watchdog.start()
        try:
            return self._run_created()
        finally:
            self._release()

    def _own_broker_claim(self, block: dict[str, Any]) -> BrokerClaim | None:
        """The claim of this run's broker when it is tefed's broker program (``helics run``, or
        the file's entries started by hand from one shell); None under ``tefed run``, which
        gives each run a port of its own, or with HELICS's own broker program.

        Raises ``PortTakenError`` when another run's broker owns the port: joining it would end
        that run ("duplicate federate name").
        """
        federation = self.context.federation
        broker = federation.broker_entry()
        if federation.tefed.results.run_dir or broker is None:
            return None
        if not broker.runs_module(BROKER_MODULE):
            return None
        return wait_for_sibling_claim(int(block["brokerport"]), CLAIM_TIMEOUT_S)

    # --- life cycle ---------------------------------------------------------------------------

    def _run_created(self) -> int:
        name = self.context.name
        stage = "initialize"
        try:
            self._run_folder = self._resolve_run_folder()
            self._run_folder.mark_writing(name)
            if self._on_run_folder is not None:
                self._on_run_folder(self._run_folder)
            self._map_interfaces()
            started = time.perf_counter()
            self.logic.initialize(self.context)
            self.timing.busy_s += time.perf_counter() - started
            stage = "enter executing mode"
            h.helicsFederateSetTag(self._federate, STARTUP_TAG, READY)
            self._wait(
                lambda: h.helicsFederateEnterExecutingMode(self._federate), 0.0, startup=True
            )
            self.timing.executing_since_unix_s = time.time()
            self._run_folder.mark_executing(name)
            self._executing_since = time.monotonic()
            if (self.context.entry.helics or {}).get("realtime"):
                self.timing.realtime_deviations_s = []
            stage = "time loop"
            self._time_loop()
            # Leave the federation before writing results, so that no other federate waits
            # (and no stall watchdog fires) while this one writes.
            stage = "disconnect"
            self._wait(lambda: h.helicsFederateDisconnect(self._federate), self._current_time_s)
            self._watchdog.stop()
            if self._after_leaving is not None:
                started = time.perf_counter()
                self._after_leaving()
                self.timing.waiting_s += time.perf_counter() - started
            stage = "finalize"
            started = time.perf_counter()
            self.logic.finalize(self._run_folder)
            self.timing.busy_s += time.perf_counter() - started
            self._run_folder.write_json(f"timing/{name}.json", self.timing.as_dict())
            self._run_folder.mark_done(name)
            return EXIT_OK
        except h.HelicsException as error:
            return self._on_helics_error(error, stage)
        except (SilentPublisherError, MissingMessagesError) as error:
            self._on_silent_sender(error)
            return EXIT_FAILED
        except InputError as error:
            self._on_logic_error(error, stage, traceback_text=None)
            return EXIT_USER_ERROR
        except Exception as error:
            self._on_logic_error(error, stage, traceback_text=traceback.format_exc())
            return EXIT_FAILED

    def _time_loop(self) -> None:
        grid = self.context.time_grid
        role = self.logic.role
        progress = ProgressReport(
            self.context.federation.tefed.runtime.progress_every_s,
            grid.grid_step_s,
            grid.duration_s,
        )
        granted = 0.0
        for time_s in self.logic.schedule_s():
            time_s = int(time_s)
            target = grid.helics_time(time_s, role)
            if target > granted:
                granted = self._wait(
                    lambda target=target: h.helicsFederateRequestTime(self._federate, target),
                    target,
                )
                if self.timing.realtime_deviations_s is not None:
                    paced_s = time.monotonic() - self._executing_since
                    self.timing.realtime_deviations_s.append(paced_s - granted)
                    self.timing.realtime_paced_wall_s = paced_s
            if granted >= h.HELICS_TIME_MAXTIME:
                # HELICS grants the end of time to a federate whose federation is ending (a
                # federate died or left with an error while this one waited): not a timing
                # mistake of this federate, whose log would otherwise blame its helics block.
                raise h.HelicsException(
                    f"HELICS granted its end of time for t={target:g} s: the federation is "
                    "ending (another federate died or left with an error)"
                )
            # HELICS keeps whole nanoseconds: a scaled time (real-time mode) comes back rounded.
            if abs(granted - target) > 2e-9:
                # Seen in real-time mode at speeds the federation cannot keep (1,800x with 60 s
                # steps: 33 ms of wall time per step of the whole federation): HELICS then
                # granted the market a later period than it asked for.
                advice = (
                    "in real-time mode this happens at speeds the federation cannot keep up "
                    "with: lower run.realtime_speed"
                    if self.timing.realtime_deviations_s is not None
                    else "check 'period', 'offset' and 'uninterruptible' in the helics block"
                )
                raise RuntimeError(
                    f"HELICS granted t={granted!r} s but t={target!r} s was requested; {advice}"
                )
            self._current_time_s = time_s
            silent = frozenset(
                item.key for item in self._inputs if not h.helicsInputIsUpdated(item.handle)
            )
            inputs = StepInputs(
                values=self._read_inputs(), messages=self._read_messages(), silent=silent
            )
            started = time.perf_counter()
            outputs = self.logic.step(time_s, inputs)
            elapsed = time.perf_counter() - started
            self.timing.busy_s += elapsed
            self.timing.step_busy_s.append(elapsed)
            self.timing.steps += 1
            for key, value in outputs.values.items():
                self._publication(key).publish(value)
            for message in outputs.messages:
                self._send(message)
            started = time.perf_counter()
            self.logic.write_progress(self._run_folder, time_s)
            self.timing.busy_s += time.perf_counter() - started
            covered_s = progress.covered_s(time_s)
            if covered_s is not None:
                self._report_progress(covered_s)
        # Every step done: the federate has covered the whole run, whatever its last instant.
        self._report_progress(grid.duration_s)

    def _report_progress(self, covered_s: int) -> None:
        if self._shares_process:
            return
        duration_s = self.context.time_grid.duration_s
        print(f"{PROGRESS_PREFIX} {self.context.name} {covered_s} {duration_s}", flush=True)

    def _wait(self, call: Any, helics_time_s: float, *, startup: bool = False) -> Any:
        self._watchdog.begin_wait(helics_time_s, startup=startup)
        started = time.perf_counter()
        try:
            return call()
        finally:
            self.timing.waiting_s += time.perf_counter() - started
            self._watchdog.end_wait()

    def release_logic(self) -> None:
        """Drop the federate's logic and with it its state, once `run` has returned."""
        self.logic = None

    def _release(self) -> None:
        self._watchdog.stop()
        if self._federate is not None:
            try:
                h.helicsFederateDisconnect(self._federate)
            except h.HelicsException as error:
                log.debug("disconnect: %s", error)
            free(self._federate, h.helicsFederateFree)
            self._federate = None
        if not self._shares_process:
            close_helics_library()

    # --- errors -------------------------------------------------------------------------------

    def _on_logic_error(self, error: Exception, stage: str, traceback_text: str | None) -> None:
        name = self.context.name
        message = (
            f"federate '{name}' failed during {stage} at t={self._current_time_s:g} s: "
            f"{type(error).__name__}: {error}"
        )
        if traceback_text:
            log.error("%s\n%s", message, traceback_text.rstrip())
        else:
            log.error("%s", message)
        self._end_federation(name, message)

    def _end_federation(self, blamed: str | None, message: str) -> None:
        """Record the run failed by ``blamed`` and end the federation with a global error."""
        if self._run_folder is not None:
            self._run_folder.mark_failed(blamed, message)
        try:
            h.helicsFederateGlobalError(self._federate, EXIT_FAILED, message)
        except h.HelicsException as helics_error:
            log.error("could not signal the failure to the broker: %s", helics_error)

    def _on_silent_sender(self, error: SilentPublisherError | MissingMessagesError) -> None:
        """End the run blaming the federate that publishes ``error.key``, or sends from
        ``error.endpoint`` (it left the federation, or skipped a step), not this one."""
        federation = self.context.federation
        if isinstance(error, SilentPublisherError):
            sender = federation.publisher_of(error.key)
            message = (
                f"federate '{sender or '?'}' published no {error.key!r} for t={error.time_s:g} "
                "s: it left the federation or skipped a step (the contract has it publish every "
                "grid step until the end of the run, docs/interfaces.md), and the run would go "
                "on with the last value it published"
            )
        else:
            sender = federation.endpoint_owner(error.endpoint)
            message = (
                f"federate '{sender or '?'}' sent no {error.what} by t={error.time_s:g} s: it "
                "left the federation or skipped them (the contract has it send them by then, "
                "docs/interfaces.md), and the run would go on without them"
            )
        log.error("%s", message)
        self._end_federation(sender, message)

    def _on_helics_error(self, error: h.HelicsException, stage: str) -> int:
        watchdog_message = self._watchdog.fired_message
        if watchdog_message:
            culprits = self._watchdog.culprits
            if self._run_folder is not None:
                # Culprits come earliest granted time first: that one holds the others back.
                blamed = culprits[0] if culprits else self.context.name
                self._run_folder.mark_failed(blamed, watchdog_message)
            return EXIT_STALL
        message = (
            f"federate '{self.context.name}' stopped during {stage} at "
            f"t={self._current_time_s:g} s because the federation ended: {error}"
        )
        log.error("%s", message)
        if self._run_folder is None:
            return EXIT_STOPPED_BY_OTHER
        remote = HostFailure.from_error_text(str(error))
        if remote is not None:
            # The tefed run of another host ended the federation and says which federate failed.
            self._run_folder.mark_failed(remote.federate, remote.described())
        else:
            # Who ended it is unknown here; the federate that failed records itself first.
            self._run_folder.mark_failed(None, message)
        return EXIT_STOPPED_BY_OTHER

    # --- interfaces ---------------------------------------------------------------------------

    def _map_interfaces(self) -> None:
        block = self.context.entry.helics or {}
        for spec in block.get("publications", []):
            handle = h.helicsFederateGetPublication(self._federate, spec["key"])
            self._publications[spec["key"]] = _Publication(
                spec["key"], _kind(spec.get("type")), handle
            )
        for spec in block.get("subscriptions", []):
            handle = h.helicsFederateGetInputByTarget(self._federate, spec["key"])
            kind = _kind(spec.get("type"))
            if kind == "double":
                h.helicsInputSetDefaultDouble(handle, _MISSING_DOUBLE)
            self._inputs.append(_Input(spec["key"], kind, handle))
        for spec in block.get("endpoints", []):
            self._endpoints[spec["name"]] = h.helicsFederateGetEndpoint(
                self._federate, spec["name"]
            )

    def _publication(self, key: str) -> _Publication:
        try:
            return self._publications[key]
        except KeyError:
            raise KeyError(
                f"logic published {key!r}, which is not among the helics block's publications"
            ) from None

    def _finished_peers(self) -> set[str]:
        """Federates that have written their results (they left the federation on purpose)."""
        return set() if self._run_folder is None else self._run_folder.done_federates()

    def _read_inputs(self) -> dict[str, Any]:
        return {item.key: item.read() for item in self._inputs}

    def _read_messages(self) -> list[Message]:
        received = []
        for name, endpoint in self._endpoints.items():
            while h.helicsEndpointHasMessage(endpoint):
                raw = h.helicsEndpointGetMessage(endpoint)
                source = message_source(raw)
                # Simulated time (HELICS time is scaled in real-time mode).
                sent_s = h.helicsMessageGetTime(raw) / self._helics_time_scale
                message = Message(source, name, message_text(raw), sent_s)
                received.append((sent_s, source, len(received), message))
        received.sort(key=lambda item: item[:3])
        return [item[3] for item in received]

    def _send(self, message: Message) -> None:
        try:
            endpoint = self._endpoints[message.source]
        except KeyError:
            raise KeyError(
                f"logic sent from endpoint {message.source!r}, which is not among the helics "
                "block's endpoints"
            ) from None
        h.helicsEndpointSendStringTo(endpoint, message.payload, message.destination)

    # --- run folder ---------------------------------------------------------------------------

    def _resolve_run_folder(self) -> RunFolder:
        results = self.context.federation.tefed.results
        if results.run_dir:
            return RunFolder(self.context.resolve(results.run_dir))
        if self._claim is not None:
            run_name = f"helics-{self._claim.run_id}"
        else:
            # A broker of HELICS's own: the federates agree on its unique name.
            query = h.helicsCreateQuery("root", "name")
            broker_name = str(h.helicsQueryExecute(query, self._federate)).strip().strip('"')
            free(query, h.helicsQueryFree)
            run_name = f"helics-{broker_name}"
        folder = RunFolder(self.context.resolve(results.root) / run_name)
        folder.mark_running()
        copy = folder.file("federation.json")
        if not copy.exists():
            folder.write_text("federation.json", self.context.federation.to_json_text())
        return folder

    @property
    def broker_claim(self) -> BrokerClaim | None:
        """The claim of this run's broker (``helics run`` with tefed's broker program)."""
        return self._claim

    @property
    def run_folder(self) -> RunFolder | None:
        """The run folder, once the federation has entered executing mode."""
        return self._run_folder


def close_helics_library() -> None:
    """Close the HELICS library of this process: its cores' threads and ZeroMQ context end.

    A federate program's last act; a process that runs several federates in threads calls it
    once, after all of them are freed.
    """
    h.helicsCloseLibrary()


def _kind(helics_type: str | None) -> str:
    kind = (helics_type or "double").lower()
    if kind in ("double", "float"):
        return "double"
    if kind in ("vector", "double_vector"):
        return "vector"
    if kind == "string":
        return "string"
    raise ValueError(f"interface type {helics_type!r} is not supported; use double, vector, string")


def input_vector(handle: h.HelicsInput) -> np.ndarray:
    """An input's value as an array of doubles (``helicsInputGetVector``).

    pyhelics' own getter declares a new C array type for every length it meets
    (``double[<length + 1024>]``), which cffi parses with pycparser, 3 ms of CPU per new length
    (a federate met several in its first step: 6-12 ms), and copies the value through a Python
    list as long as that array. Here the C call writes into a numpy array through the pointer
    type of the call's own signature, which needs no parsing.
    """
    values = np.empty(h.helicsInputGetVectorSize(handle) + _SPARE_ITEMS)
    count = _ffi.new(_INT_POINTER)
    error = h.helicsErrorInitialize()
    _lib.helicsInputGetVector(
        handle.handle,
        _ffi.from_buffer(_DOUBLE_POINTER, values, require_writable=True),
        values.size,
        count,
        error,
    )
    _raise_helics_error(error)
    return values[: count[0]].copy()


def input_string(handle: h.HelicsInput) -> str:
    """An input's value as text (``helicsInputGetString``, without a new C type per length, as
    `input_vector`); bytes that are not UTF-8 become U+FFFD, as in `message_text`."""
    text = bytearray(h.helicsInputGetStringSize(handle) + _SPARE_ITEMS)
    length = _ffi.new(_INT_POINTER)
    error = h.helicsErrorInitialize()
    _lib.helicsInputGetString(
        handle.handle,
        _ffi.from_buffer(_CHAR_POINTER, text, require_writable=True),
        len(text),
        length,
        error,
    )
    _raise_helics_error(error)
    return bytes(text[: length[0]]).split(b"\0", 1)[0].decode("utf-8", errors="replace")


def _raise_helics_error(error: Any) -> None:
    """Raise the HELICS error a C call left in ``error``, as pyhelics words it."""
    if error.error_code != 0:
        raise h.HelicsException(f"[{error.error_code}] {_ffi.string(error.message).decode()}")


def message_source(raw: h.HelicsMessage) -> str:
    """The endpoint that sent a received message, as HELICS guarantees it.

    HELICS sets a message's ``source`` to the sending endpoint's name whatever the sender wrote
    there; its ``original_source`` is the sender's to set (for filters and forwarding), so it is
    never trusted: a household writing ``household/h02`` there is still ``household/h01``.
    """
    return h.helicsMessageGetSource(raw)


def message_bytes(raw: h.HelicsMessage) -> bytes:
    """A received message's payload, copied out of HELICS's own buffer.

    ``helicsMessageGetBytes`` of pyhelics declares a new C array type for every payload length
    it meets (``char[<length + 1024>]``), and cffi parses each new declaration with pycparser:
    about 2.5 ms of CPU per message of a length not seen before, against a few microseconds
    here (the payload's pointer and length, then one copy).
    """
    length = h.helicsMessageGetByteCount(raw)
    if length <= 0:
        return b""
    return _ffi.unpack(_ffi.cast(_CHAR_POINTER, h.helicsMessageGetBytesPointer(raw)), length)


def message_text(raw: h.HelicsMessage) -> str:
    """A received message's payload as text; bytes that are not UTF-8 become U+FFFD, so a
    garbled message reaches the logic, which refuses it, instead of stopping the federate."""
    return message_bytes(raw).decode("utf-8", errors="replace")


def attach_log_file(path: Path, accept: Callable[[str], bool] | None = None) -> logging.Handler:
    """Also write this process's tefed log to ``path`` (until `detach_log_file`); with
    ``accept``, only the records of the threads whose names it accepts (federates that share
    a process, each with a log file of its own)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, mode="a")
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    if accept is not None:
        handler.addFilter(lambda record: accept(record.threadName or ""))
    logging.getLogger("tefed").addHandler(handler)
    return handler


def detach_log_file(handler: logging.Handler) -> None:
    """Stop writing this process's tefed log to the file of `attach_log_file`'s ``handler``.

    Closing the handler alone is not enough: a closed file handler still on its logger opens
    its file again for the next record, so a process that runs one episode after another (the
    learner host) wrote every later episode's lines into each earlier episode's log.
    """
    logging.getLogger("tefed").removeHandler(handler)
    handler.close()


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def move_console_output(path: Path) -> None:
    """Send this process's standard output and error (HELICS's own messages among them) to
    the end of ``path`` instead, leaving tefed's log to the file handler already there."""
    sys.stdout.flush()
    sys.stderr.flush()
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(descriptor, 1)
    os.dup2(descriptor, 2)
    os.close(descriptor)
    root = logging.getLogger("tefed")
    root.handlers[:] = [
        handler
        for handler in root.handlers
        if not (isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr)
    ]


def configure_console_logging(level: int = logging.INFO) -> None:
    """Send tefed's log to standard error in one format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger("tefed")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
