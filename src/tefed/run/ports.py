"""Ports of a run's HELICS processes on this machine: a free block for each ``tefed run``."""

from __future__ import annotations

import random

from tefed.runtime.local_ports import port_is_free

#: Ports a run's HELICS processes may use: below Linux's ephemeral range (32768–60999), from
#: which the OS picks the source ports of outgoing connections.
RUN_PORT_RANGE = (20000, 32000)
#: Ports from the broker's upward that one run may bind: the broker takes its own and the next,
#: and gives each federate's core (ZeroMQ) a port a little above, without asking the OS.
PORTS_PER_RUN = 64


def free_port() -> int:
    """A broker port on localhost, with the ``PORTS_PER_RUN`` ports above it free too.

    A port from the OS's ephemeral range can collide with the source port of any outgoing
    connection opened meanwhile, and HELICS binds its cores' ports above the broker's without
    checking them first ("Unable to bind zmq pull socket"), so a run's block is taken from
    ``RUN_PORT_RANGE`` at random and checked whole.
    """
    low, high = RUN_PORT_RANGE
    chooser = random.SystemRandom()
    for _ in range(200):
        base = chooser.randrange(low, high - PORTS_PER_RUN)
        if all(port_is_free(port) for port in range(base, base + PORTS_PER_RUN)):
            return base
    raise RuntimeError(
        f"no block of {PORTS_PER_RUN} free ports between {low} and {high} on localhost"
    )
