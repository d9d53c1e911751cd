"""A market federate that fails on purpose, for the failure tests.

``TEFED_TEST_FAULT`` chooses how: ``raise`` (an exception in its step), ``hang`` (it stops
responding while computing) or ``kill`` (the process dies at once, as if killed), at simulated
time ``TEFED_TEST_FAULT_AT_S``; or ``hang_at_start`` (it never finishes initializing) or
``stop_at_start`` (its process stops itself, SIGSTOP, after joining and before it is ready).
Run as ``python faulty_market.py FEDERATION_FILE --name market``.
"""

import os
import signal
import time

from tefed.contract.logic import FederateContext, StepInputs, StepOutputs
from tefed.federates.market.logic import MarketFederate
from tefed.runtime.program import run_federate_program


class FaultyMarket(MarketFederate):
    """The built-in market, until the fault time."""

    def initialize(self, context: FederateContext) -> None:
        fault = os.environ.get("TEFED_TEST_FAULT")
        if fault == "hang_at_start":
            time.sleep(3600)
        if fault == "stop_at_start":
            os.kill(os.getpid(), signal.SIGSTOP)
        super().initialize(context)

    def step(self, time_s: int, inputs: StepInputs) -> StepOutputs:
        if time_s >= int(os.environ.get("TEFED_TEST_FAULT_AT_S", "1800")):
            fault = os.environ.get("TEFED_TEST_FAULT", "raise")
            if fault == "raise":
                raise RuntimeError("injected market failure")
            if fault == "hang":
                time.sleep(3600)
            if fault == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
        return super().step(time_s, inputs)


if __name__ == "__main__":
    raise SystemExit(run_federate_program("market", FaultyMarket))
