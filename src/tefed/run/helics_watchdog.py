"""``python -m tefed.run.helics_watchdog FEDERATION_FILE``: the watchdog entry that makes
``helics run`` end a failed run non-zero, with the failed federate named and no process left.

``helics run`` decides its exit code from its children's exit codes, but ignores a child killed
by SIGKILL (-9), and once any child has failed it kills every other child with SIGKILL, within a
second: a run whose federate was killed ended with exit code 0 ("Done."), ``status.json`` still
``running``. This program is the federation file's first entry. ``helics run`` starts the
entries in file order and, after a failure, kills those listed after the failed one at once but
those before it only a second later; so this watchdog, first, always has a second to

1. see the failure the instant it happens (a pidfd per sibling process, Linux ≥ 5.3), and read
   the exit status of the sibling that ended while it is still a zombie;
2. record the failure in the run folder's ``status.json``, naming the federate that ended
   without finishing (killed, crashed) unless a federate already named the one that failed
   (a federate that raised names itself, a stall watchdog names the federate it waited for);
3. stop every other process of the run (and anything they started) with SIGKILL;
4. exit with code 1 at once (no interpreter clean-up), which ``helics run`` reports with the
   end of this watchdog's log.

A federate ended well when it marked itself done in the run folder; the broker when it ended
with code 0. The watchdog also stops the run when ``helics run`` itself goes away (its
children would otherwise be left running) or when, after the broker ended, a federate's process
stays stopped (SIGSTOP) longer than ``runtime.stall_timeout_s`` (`tefed.run.stopped_processes`),
and ends with 0 when every other process ended well and the run is complete. ``tefed run``
supervises its processes itself and does not start it.
"""

from __future__ import annotations

import contextlib
import os
import select
import shlex
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tefed.contract.federation_file import FederationFile, load_federation_file
from tefed.contract.run_folder import STATUS_COMPLETE, STATUS_FAILED, RunFolder, proc_stat
from tefed.run.stopped_processes import (
    CompletedClock,
    StoppedClock,
    lingering_message,
    stopped_message,
)
from tefed.runtime.broker import broker_port
from tefed.runtime.broker_claim import CLAIM_TIMEOUT_S, PortTakenError, wait_for_sibling_claim

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_PORT_TAKEN = 2
#: How long the watchdog waits for every entry of the file to be started [s].
START_TIMEOUT_S = 60.0
#: How often it looks whether its launcher is still there [s].
LOOK_EVERY_S = 0.2
#: Exit codes of a federate that stopped because another one failed or stalled: never its fault.
STOPPED_BY_OTHERS = (3, 4)


@dataclass
class Sibling:
    """Another process of the run, started by the same ``helics run``."""

    name: str
    pid: int
    descriptor: int | None
    ended: bool = False
    #: Its wait status once it ended, as ``os.waitpid`` reports it (None: not seen).
    status: int | None = None


def main(argv: list[str]) -> int:
    """Watch the run of ``argv[0]``; the watchdog's exit code."""
    if len(argv) != 1:
        print("usage: python -m tefed.run.helics_watchdog FEDERATION_FILE", file=sys.stderr)
        return EXIT_PORT_TAKEN
    federation = load_federation_file(argv[0])
    launcher = os.getppid()
    try:
        claim = wait_for_sibling_claim(_broker_port(federation), CLAIM_TIMEOUT_S)
    except PortTakenError as error:
        _stop_processes(_children_of(launcher, excluding=os.getpid()))
        return _say(EXIT_PORT_TAKEN, f"tefed watchdog: {error}")
    root = Path(federation.tefed.results.root)
    root = root if root.is_absolute() else Path.cwd() / root
    folder = RunFolder(root / f"helics-{claim.run_id}")
    siblings = _find_siblings(federation, launcher)
    if len(siblings) != len(federation.federates) - 1:
        _stop_processes([sibling.pid for sibling in siblings])
        return _say(
            EXIT_FAILED,
            f"tefed watchdog: found {len(siblings)} other processes of this run, expected "
            f"{len(federation.federates) - 1}; is helics run starting every entry of the file?",
        )
    print(f"tefed watchdog: watching run {folder.path}", flush=True)
    return watch(siblings, folder, launcher, federation.tefed.runtime.stall_timeout_s)


def watch(siblings: list[Sibling], folder: RunFolder, launcher: int, stopped_limit_s: float) -> int:
    """Wait for every sibling to end; stop the run at the first one that ends badly, or that
    stays stopped longer than ``stopped_limit_s`` [s] after the broker ended."""
    poller = select.poll()
    by_descriptor = {}
    for sibling in siblings:
        if sibling.descriptor is None:
            sibling.ended = True
            if not _ended_well(sibling, folder):
                return _stop_run(siblings, folder, sibling, _describe(sibling))
            continue
        poller.register(sibling.descriptor, select.POLLIN)
        by_descriptor[sibling.descriptor] = sibling
    broker = next((sibling for sibling in siblings if sibling.name == BROKER_NAME), None)
    stopped_clock = StoppedClock(stopped_limit_s)
    completed_clock = CompletedClock(folder, stopped_limit_s)
    while not all(sibling.ended for sibling in siblings):
        for descriptor, _ in poller.poll(LOOK_EVERY_S * 1000):
            sibling = by_descriptor[descriptor]
            poller.unregister(descriptor)
            sibling.ended = True
            sibling.status = _wait_status(sibling.pid)
            if not _ended_well(sibling, folder):
                return _stop_run(siblings, folder, sibling, _describe(sibling))
        if os.getppid() != launcher:
            return _stop_run(siblings, folder, None, _describe(None))
        if completed_clock.overdue(time.monotonic()):
            # The results are complete and written; a program still running (one that never
            # exits after its last step) holds nothing back any more: stopped, the run kept.
            lingering = [sibling for sibling in siblings if not sibling.ended]
            _stop_processes([sibling.pid for sibling in lingering])
            names = [sibling.name for sibling in lingering if sibling.name != BROKER_NAME]
            return _say(
                EXIT_OK,
                f"tefed watchdog: run complete: {folder.path}\n"
                f"  warning: {lingering_message(names, stopped_limit_s)}",
            )
        if broker is not None and broker.ended:
            # Every federate has left the federation: no stall watchdog sees one stop now.
            running = {sibling.pid: sibling for sibling in siblings if not sibling.ended}
            overdue = stopped_clock.overdue(running, time.monotonic())
            if overdue:
                stopped = running[overdue[0]]
                return _stop_run(
                    siblings, folder, stopped, stopped_message(stopped.name, stopped_limit_s)
                )
    state = folder.status().get("state")
    if state != STATUS_COMPLETE:
        return _say(EXIT_FAILED, f"tefed watchdog: every process ended but the run is {state}")
    return _say(EXIT_OK, f"tefed watchdog: run complete: {folder.path}")


def _ended_well(sibling: Sibling, folder: RunFolder) -> bool:
    """A tefed federate marks itself done once its results are written; any other program
    (and the broker) ended well when it exited with code 0."""
    return sibling.status == 0 or sibling.name in folder.done_federates()


def _stop_run(
    siblings: list[Sibling], folder: RunFolder, ended: Sibling | None, message: str
) -> int:
    """Stop every process, record the failure (``message``, blaming ``ended``) unless a
    federate named its cause, exit 1."""
    _stop_processes([sibling.pid for sibling in siblings if not sibling.ended])
    recorded = folder.status()
    named = recorded.get("state") == STATUS_FAILED and recorded.get("failed_federate")
    if not named:
        # A federate that stopped because another failed or stalled is not the cause.
        blamed = ended is not None and not _stopped_by_others(ended.status)
        culprit = ended.name if blamed and ended is not None else None
        folder.mark_failed(culprit, message)
        recorded = folder.status()
    return _say(
        EXIT_FAILED,
        f"tefed watchdog: {message}; every process of the run is stopped.\n"
        f"  status.json: failed, federate {recorded.get('failed_federate')!r}: "
        f"{recorded.get('message')}\n  run folder: {folder.path}",
    )


def _describe(ended: Sibling | None) -> str:
    if ended is None:
        return "helics run ended before the federation (its processes would be left running)"
    what = "the broker" if ended.name == BROKER_NAME else f"federate '{ended.name}'"
    status = ended.status
    if status is None:
        return f"{what} ended without finishing its run"
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        return f"{what} was killed by signal {number} ({signal.Signals(number).name})"
    return f"{what} exited with code {os.WEXITSTATUS(status)} without finishing its run"


def _stopped_by_others(status: int | None) -> bool:
    return (
        status is not None
        and os.WIFEXITED(status)
        and os.WEXITSTATUS(status) in (STOPPED_BY_OTHERS)
    )


def _say(code: int, message: str) -> int:
    print(message, file=sys.stderr if code else sys.stdout, flush=True)
    return code


# --- processes ----------------------------------------------------------------------------------

BROKER_NAME = "broker"


def _broker_port(federation: FederationFile) -> int:
    broker = next(entry for entry in federation.federates if entry.is_broker)
    return broker_port(shlex.split(broker.exec))


def _find_siblings(federation: FederationFile, launcher: int) -> list[Sibling]:
    """The other processes of this run, named after their entries.

    ``helics run`` starts the entries one after the other in file order (each once the previous
    one has started), so its children in order of start are the file's entries in order.
    """
    expected = len(federation.federates)
    seen: dict[int, tuple[int, int]] = {}
    deadline = time.monotonic() + START_TIMEOUT_S
    while len(seen) < expected and time.monotonic() < deadline:
        for pid in _children_of(launcher):
            if pid not in seen:
                started = _start_time(pid)
                if started is not None:
                    seen[pid] = (started, pid)
        time.sleep(0.05)
    ordered = sorted(seen, key=seen.__getitem__)
    siblings = []
    for entry, pid in zip(federation.federates, ordered, strict=False):
        if pid == os.getpid():
            continue
        try:
            descriptor = os.pidfd_open(pid)
        except ProcessLookupError:
            descriptor = None
        siblings.append(Sibling(entry.name, pid, descriptor))
    return siblings


def _start_time(pid: int) -> int | None:
    fields = proc_stat(pid)
    return int(fields[19]) if fields else None  # field 22: start time [clock ticks]


def _wait_status(pid: int) -> int | None:
    """The wait status of an ended process not yet reaped by its parent (field 52)."""
    fields = proc_stat(pid)
    if fields is None or fields[0] != "Z" or len(fields) < 50:
        return None
    return int(fields[49])


def _children_of(parent: int, excluding: int | None = None) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != excluding:
            fields = proc_stat(int(entry.name))
            if fields is not None and int(fields[1]) == parent:
                children.append(int(entry.name))
    return children


def _stop_processes(pids: list[int]) -> None:
    """SIGKILL the processes and everything they started (a stopped process dies too)."""
    doomed = set(pids)
    found = True
    while found:
        found = False
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) not in doomed:
                fields = proc_stat(int(entry.name))
                if fields is not None and int(fields[1]) in doomed:
                    doomed.add(int(entry.name))
                    found = True
    for pid in doomed:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


if __name__ == "__main__":
    exit_code = main(sys.argv[1:])
    # Out at once, without the interpreter's clean-up (0.2 s of CPU, most of a second on a
    # loaded machine): helics run SIGKILLs this watchdog within a second of a failure, and a
    # watchdog killed before it exits leaves helics run ending with 0. Its files are written;
    # the kernel closes the rest.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(exit_code)
