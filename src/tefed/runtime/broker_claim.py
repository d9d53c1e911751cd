"""Which run owns the broker port of a federation file started by ``helics run``.

``helics run`` starts every entry of a federation file as a child of its own process and gives
them nothing that tells one run from another: two runs of one file would share the port, and the
second run's federates would join the first run's broker. So tefed's broker program
(``python -m tefed.runtime.broker``) *claims* its port before it becomes the broker: it takes an
exclusive lock on ``<temp>/tefed-<uid>/broker-port-<port>.lock`` (held by the broker process for
its whole life, released by the kernel however it ends) and writes into that file who it is:

- ``launcher_pid``: the process that started it (the ``helics run`` process, or a shell);
- ``broker_pid``: the broker's own process;
- ``run_id``: the run's id, which names its run folder ``<results root>/helics-<run_id>``.

A federate, and the ``helics run`` watchdog, join a broker only if the live claim on its port was
made by their own launcher (their parent process): the federates of a second run see the first
run's claim, refuse to start and leave the first run untouched.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from tefed.runtime.local_ports import port_is_free

#: How often a program waiting for its broker's claim looks again [s].
CLAIM_LOOK_EVERY_S = 0.05
#: How long a program of a run waits for its own broker to claim the port [s].
CLAIM_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class BrokerClaim:
    """Who owns a broker port: the broker, the process that started it, and the run's id."""

    port: int
    launcher_pid: int
    broker_pid: int
    run_id: str
    federation_file: str


class PortTakenError(Exception):
    """The port is owned by another run, or bound by another program."""


def claim_file(port: int) -> Path:
    """The lock file of ``port`` (one folder per user: ports are shared by the machine)."""
    return Path(tempfile.gettempdir()) / f"tefed-{os.getuid()}" / f"broker-port-{port}.lock"


def claim_port(port: int, federation_file: str) -> tuple[BrokerClaim, int]:
    """Claim ``port`` for this process and its parent; the claim and the lock's descriptor.

    The descriptor is inheritable: the program that claimed keeps it open across ``exec`` into
    the broker, which then holds the claim for as long as it lives.

    Raises
    ------
    PortTakenError
        When another run holds the claim, or another program has bound the port or the one
        above it (the broker listens on both).
    """
    path = claim_file(port)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        _lock_exclusively(descriptor, port)
        busy = [
            candidate
            for candidate in (port, port + 1)
            if not port_is_free(candidate, reuse_address=True)
        ]
        if busy:
            raise PortTakenError(
                f"port {busy[0]} is in use by another program; stop it, or build the federation "
                "with another run.broker_port"
            )
    except BaseException:
        os.close(descriptor)
        raise
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    claim = BrokerClaim(
        port=port,
        launcher_pid=os.getppid(),
        broker_pid=os.getpid(),
        run_id=f"{stamp}-{secrets.token_hex(3)}",
        federation_file=str(Path(federation_file).resolve()),
    )
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, json.dumps(asdict(claim)).encode(), 0)
    os.set_inheritable(descriptor, True)
    return claim, descriptor


def _lock_exclusively(descriptor: int, port: int) -> None:
    """Take the lock, or raise ``PortTakenError`` naming the run that holds it.

    A reader looking at the claim holds a shared lock for an instant; only a lock held on every
    try over a second belongs to another run.
    """
    deadline = time.monotonic() + 1.0
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                owner = current_claim(port)
                raise PortTakenError(another_run_message(port, owner)) from None
            time.sleep(CLAIM_LOOK_EVERY_S)


def current_claim(port: int) -> BrokerClaim | None:
    """The live claim on ``port``, or None when no broker holds it (or it is being written)."""
    try:
        descriptor = os.open(claim_file(port), os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_claim(descriptor)
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        return None
    finally:
        os.close(descriptor)


def _recorded_claim(port: int) -> BrokerClaim | None:
    """The last claim written into the port's file, live or not; None if there is none."""
    try:
        text = claim_file(port).read_bytes()
    except OSError:
        return None
    try:
        return BrokerClaim(**json.loads(text))
    except (ValueError, TypeError):
        return None


def _read_claim(descriptor: int) -> BrokerClaim | None:
    """The claim in the locked file; None while its new owner has not yet written it (the text
    left by a previous owner names a broker that is gone)."""
    try:
        claim = BrokerClaim(**json.loads(os.pread(descriptor, 4096, 0)))
    except (ValueError, TypeError):
        return None
    return claim if _process_is_alive(claim.broker_pid) else None


def _process_is_alive(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return False
    return fields[0] not in ("Z", "X")


def another_run_message(port: int, owner: BrokerClaim | None) -> str:
    """Why a program of this run refuses the broker on ``port``."""
    who = (
        f"run {owner.run_id} of {owner.federation_file} (broker process {owner.broker_pid}, "
        f"started by process {owner.launcher_pid})"
        if owner is not None
        else "another run"
    )
    return (
        f"port {port} in use: {who} owns this broker; wait for it to end or stop it, or build "
        "the federation with another run.broker_port (tefed run picks a free port itself)"
    )


def wait_for_sibling_claim(port: int, timeout_s: float) -> BrokerClaim:
    """The claim on ``port`` made by this process's own launcher (its parent), once made (also
    when that broker has ended since).

    Raises
    ------
    PortTakenError
        When the port is claimed by another launcher's broker, or nothing claims it within
        ``timeout_s`` [s].
    """
    launcher = os.getppid()
    deadline = time.monotonic() + timeout_s
    while True:
        claim = current_claim(port)
        if claim is not None:
            if claim.launcher_pid != launcher:
                raise PortTakenError(another_run_message(port, claim))
            return claim
        past = _recorded_claim(port)
        if past is not None and past.launcher_pid == launcher:
            # This run's broker claimed the port and has already ended (a short wall-clock
            # limit on a loaded machine): waiting for a claim would only delay the end.
            return past
        if time.monotonic() > deadline:
            raise PortTakenError(
                f"no broker of this run claimed port {port} within {timeout_s:g} s; start the "
                "federation file's broker entry from the same process (helics run, or one "
                "shell) as its federates"
            )
        time.sleep(CLAIM_LOOK_EVERY_S)
