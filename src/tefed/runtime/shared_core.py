"""One HELICS core for several federates run in threads of one process.

Federates in separate processes each have a core of their own, and every time grant between
them crosses two process boundaries (federate → its core → the broker → the other's core →
the other federate). On a small machine that hop costs 1–1.5 ms of scheduling: about 5 ms of
a 17 ms step of the learning environment's fast setting (12 households, 2 cores) went to four
such grants. Federates that share a core in one process coordinate inside it: with no
computation, an instant of the five-federate chain (price feed, ems, household, grid, market)
took 0.8 ms on one core against 3.4 ms in five processes on 2 cores (HELICS 3.6, ZeroMQ).

`SharedCore` creates the core from the federates' ``helics`` blocks (core type, broker port and
address, broker key) and gives each block the core's name, so that
``helicsCreateCombinationFederateFromConfig`` joins it instead of creating a core of its own.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

from tefed.runtime.helics_library import free, h

_numbers = itertools.count(1)


class SharedCore:
    """A HELICS core for ``federates`` federates in this process (see the module docstring).

    Parameters
    ----------
    block : dict
        The ``helics`` block of one of the federates (all of them name the same broker).
    federates : int
        How many federates will join the core.
    """

    def __init__(self, block: dict[str, Any], federates: int):
        self.name = f"tefed-shared-{os.getpid()}-{next(_numbers)}"
        options = [f"--federates={federates}", "--loglevel=no_print"]
        address = block.get("broker_address") or block.get("brokeraddress") or "127.0.0.1"
        if "brokerport" in block:
            options.append(f"--broker_address={address}:{block['brokerport']}")
        if block.get("broker_key"):
            options.append(f"--brokerkey={block['broker_key']}")
        self._core = h.helicsCreateCore(
            str(block.get("core_type", "zmq")), self.name, " ".join(options)
        )

    def joining(self, block: dict[str, Any]) -> dict[str, Any]:
        """``block`` made to join this core (HELICS's console output off, as the core's)."""
        joined = {key: value for key, value in block.items() if key != "coreinitstring"}
        return {**joined, "coreName": self.name, "log_level": "no_print"}

    def release(self) -> None:
        """Let go of the core (once its federates are freed; HELICS ends it after them)."""
        if self._core is not None:
            free(self._core, h.helicsCoreFree)
            self._core = None
