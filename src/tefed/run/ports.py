"""Ports of a run's HELICS processes on this machine: a free block for each ``tefed run``."""

from __future__ import annotations

import collections
import fcntl
import os
import random
import tempfile
from pathlib import Path

from tefed.runtime.local_ports import port_is_free

#: Ports a run's HELICS processes may use: below Linux's ephemeral range (32768–60999), from
#: which the OS picks the source ports of outgoing connections.
RUN_PORT_RANGE = (20000, 32000)
#: Ports from the broker's upward that one run may bind: the broker takes its own and the next,
#: and gives each federate's core (ZeroMQ) a port a little above, without asking the OS.
PORTS_PER_RUN = 64
#: Folder of the claims of port blocks on this machine: one lock file per block, locked by the
#: process that took the block (and the federates it forks) for as long as they live.
CLAIMS_DIR = Path(tempfile.gettempdir()) / f"tefed-port-blocks-{os.getuid()}"
#: Claims one process keeps at most; taking another releases its oldest (a test process or a
#: learning environment takes a block per federation, and its earlier federations have ended).
CLAIMS_KEPT = 16

_claims: collections.deque[int] = collections.deque()


def free_port() -> int:
    """A broker port on localhost, with the ``PORTS_PER_RUN`` ports above it free too, and
    the block claimed for this process.

    A port from the OS's ephemeral range can collide with the source port of any outgoing
    connection opened meanwhile, and HELICS binds its cores' ports above the broker's without
    checking them first ("Unable to bind zmq pull socket"), so a run's block is taken from
    ``RUN_PORT_RANGE`` and checked whole. Blocks are aligned and each is claimed with a lock
    file in ``CLAIMS_DIR``: two runs started at the same moment (a sweep's workers, test
    processes) found the same free ports before either bound them, and one of them failed.
    """
    low, high = RUN_PORT_RANGE
    blocks = list(range((high - low) // PORTS_PER_RUN))
    random.SystemRandom().shuffle(blocks)
    for block in blocks:
        base = low + block * PORTS_PER_RUN
        claim = _claim(block)
        if claim is None:
            continue
        if all(port_is_free(port) for port in range(base, base + PORTS_PER_RUN)):
            _keep(claim)
            return base
        if claim >= 0:
            os.close(claim)
    raise RuntimeError(
        f"no block of {PORTS_PER_RUN} free ports between {low} and {high} on localhost"
    )


def _claim(block: int) -> int | None:
    """The descriptor of ``block``'s lock file, locked; None when another process holds it;
    -1 when claims cannot be made here (no writable temporary folder): the block is then
    only checked, as before claims."""
    try:
        CLAIMS_DIR.mkdir(mode=0o700, exist_ok=True)
        descriptor = os.open(
            CLAIMS_DIR / f"{block}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600
        )
    except OSError:
        return -1
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(descriptor)
        return None
    return descriptor


def _keep(claim: int) -> None:
    if claim < 0:
        return
    _claims.append(claim)
    while len(_claims) > CLAIMS_KEPT:
        os.close(_claims.popleft())
