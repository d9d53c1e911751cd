"""Any built-in federate, failing on purpose, for the failure tests.

Run in place of a built-in federate as ``python faulty_federate.py FEDERATION_FILE --name NAME``:
it runs the built-in logic of the entry's role (``tefed.role`` in the file) until its fault,
which ``TEFED_TEST_FAULT`` chooses:

- in the first step at or after simulated time ``TEFED_TEST_FAULT_AT_S`` [s] (default 1800):
  ``raise`` (an exception in its step), ``hang`` (it stops responding while computing) or
  ``kill`` (the process dies at once, as if killed);
- at startup, after joining the federation: ``hang_at_start`` (it never finishes initializing),
  ``stop_at_start`` (its process stops itself, SIGSTOP, before it is ready) or ``kill_at_start``
  (its process kills itself, SIGKILL);
- at the end: ``stop_after_last_step`` (SIGSTOP once its last step has published everything,
  before it leaves the federation) or ``stop_after_leaving`` (SIGSTOP once it has left the
  federation, before it writes its results and exits);
- ``leave``: it leaves the federation after its last step before ``TEFED_TEST_FAULT_AT_S``,
  writes its results and exits 0, as a program whose loop ends too early;
- a market only, all along, for the conformance checker: it runs to the end but charges wrongly
  in every settlement it sends: ``overcharge_buyers`` (a buyer pays 1.5 times the trade price
  of its awards) or ``import_at_export_price`` (energy drawn from the grid, shortfall and grid
  import, is priced at the export price).
"""

import argparse
import os
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path

from tefed.contract.federation_file import load_federation_file
from tefed.contract.logic import FederateContext, FederateLogic, Message, StepInputs, StepOutputs
from tefed.contract.messages import SettlementLine, SettlementMessage
from tefed.contract.run_folder import RunFolder
from tefed.federates.builtin import builtin_logic
from tefed.runtime.program import run_federate_program

#: Long enough that only a watchdog ends the wait [s].
HANG_S = 3600
#: Faults of a market's settlements, and the reasons of the lines priced at the import price.
MISPRICING_FAULTS = ("overcharge_buyers", "import_at_export_price")
IMPORT_REASONS = ("shortfall", "grid_import")


def fault(name: str) -> bool:
    """Whether ``TEFED_TEST_FAULT`` is ``name``."""
    return os.environ.get("TEFED_TEST_FAULT", "raise") == name


def faulty(logic_class: type[FederateLogic]) -> type[FederateLogic]:
    """``logic_class`` with the fault of ``TEFED_TEST_FAULT`` injected."""

    class Faulty(logic_class):
        def initialize(self, context: FederateContext) -> None:
            if fault("hang_at_start"):
                time.sleep(HANG_S)
            if fault("stop_at_start"):
                os.kill(os.getpid(), signal.SIGSTOP)
            if fault("kill_at_start"):
                os.kill(os.getpid(), signal.SIGKILL)
            super().initialize(context)
            self._last_step_s = int(self.schedule_s()[-1])

        def schedule_s(self):
            times = super().schedule_s()
            if fault("leave"):
                return times[times < int(os.environ.get("TEFED_TEST_FAULT_AT_S", "1800"))]
            return times

        def step(self, time_s: int, inputs: StepInputs) -> StepOutputs:
            if time_s >= int(os.environ.get("TEFED_TEST_FAULT_AT_S", "1800")):
                if fault("raise"):
                    raise RuntimeError(f"injected {self.role} failure")
                if fault("hang"):
                    time.sleep(HANG_S)
                if fault("kill"):
                    os.kill(os.getpid(), signal.SIGKILL)
            return super().step(time_s, inputs)

        def write_progress(self, results: RunFolder, time_s: int) -> None:
            # The runtime calls this after publishing and sending a step's outputs.
            super().write_progress(results, time_s)
            if time_s == self._last_step_s and fault("stop_after_last_step"):
                os.kill(os.getpid(), signal.SIGSTOP)

        def finalize(self, results: RunFolder) -> None:
            # The runtime calls this once the federate has left the federation.
            if fault("stop_after_leaving"):
                os.kill(os.getpid(), signal.SIGSTOP)
            super().finalize(results)

    Faulty.__name__ = f"Faulty{logic_class.__name__}"
    return Faulty


def mispricing(market_class: type[FederateLogic]) -> type[FederateLogic]:
    """``market_class`` (the market's logic) sending wrongly priced settlements when
    ``TEFED_TEST_FAULT`` is one of `MISPRICING_FAULTS`."""

    class Mispricing(market_class):
        def _settle(self, interval: int) -> list[Message]:
            messages = super()._settle(interval)
            chosen = os.environ.get("TEFED_TEST_FAULT")
            if chosen not in MISPRICING_FAULTS:
                return messages
            export_price = self._prices.of(interval)[1]
            return [
                replace(message, payload=misprice(message.payload, chosen, export_price))
                for message in messages
            ]

    return Mispricing


def misprice(payload: str, chosen: str, export_price_usd_per_kwh: float) -> str:
    """A settlement message with its lines priced wrongly the way fault ``chosen`` says."""
    settlement = SettlementMessage.model_validate_json(payload)
    lines = []
    for line in settlement.lines:
        price = line.price_usd_per_kwh
        if chosen == "overcharge_buyers" and line.reason == "trade" and line.energy_wh > 0:
            price *= 1.5
        if chosen == "import_at_export_price" and line.reason in IMPORT_REASONS:
            price = export_price_usd_per_kwh
        amount_usd = line.energy_wh / 1000.0 * price
        lines.append(
            SettlementLine(
                **{**line.model_dump(), "price_usd_per_kwh": price, "amount_usd": amount_usd}
            )
        )
    return settlement.model_copy(
        update={"lines": lines, "amount_usd": sum(line.amount_usd for line in lines)}
    ).model_dump_json()


def role_of_entry(argv: list[str]) -> str:
    """The role (``tefed.role``) of the entry the command line names."""
    parser = argparse.ArgumentParser()
    parser.add_argument("federation_file", type=Path)
    parser.add_argument("--name", required=True)
    arguments = parser.parse_args(argv)
    return load_federation_file(arguments.federation_file).entry(arguments.name).tefed.role


if __name__ == "__main__":
    role = role_of_entry(sys.argv[1:])
    logic = faulty(builtin_logic()[role])
    if role == "market":
        logic = mispricing(logic)
    raise SystemExit(run_federate_program(role, logic))
