"""A market federate that fails on purpose, for the failure and conformance tests.

``TEFED_TEST_FAULT`` chooses how: ``raise`` (an exception in its step), ``hang`` (it stops
responding while computing) or ``kill`` (the process dies at once, as if killed), at simulated
time ``TEFED_TEST_FAULT_AT_S``; ``hang_at_start`` (it never finishes initializing);
``stop_at_start`` (its process stops itself, SIGSTOP, after joining and before it is ready); or
it runs to the end but charges wrongly in every settlement it sends: ``overcharge_buyers`` (a
buyer pays 1.5 times the trade price of its awards) or ``import_at_export_price`` (energy drawn
from the grid, shortfall and grid import, is priced at the export price).
Run as ``python faulty_market.py FEDERATION_FILE --name market``.
"""

import os
import signal
import time
from dataclasses import replace

from tefed.contract.logic import FederateContext, Message, StepInputs, StepOutputs
from tefed.contract.messages import SettlementLine, SettlementMessage
from tefed.federates.market.logic import MarketFederate
from tefed.runtime.program import run_federate_program

#: Reasons of the lines priced at the import price.
IMPORT_REASONS = ("shortfall", "grid_import")


class FaultyMarket(MarketFederate):
    """The built-in market, until the fault time (or with wrong settlements)."""

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

    def _settle(self, interval: int) -> list[Message]:
        messages = super()._settle(interval)
        fault = os.environ.get("TEFED_TEST_FAULT")
        if fault not in ("overcharge_buyers", "import_at_export_price"):
            return messages
        export_price = self._prices.of(interval)[1]
        return [
            replace(message, payload=misprice(message.payload, fault, export_price))
            for message in messages
        ]


def misprice(payload: str, fault: str, export_price_usd_per_kwh: float) -> str:
    """A settlement message with its lines priced wrongly the way ``fault`` says."""
    settlement = SettlementMessage.model_validate_json(payload)
    lines = []
    for line in settlement.lines:
        price = line.price_usd_per_kwh
        if fault == "overcharge_buyers" and line.reason == "trade" and line.energy_wh > 0:
            price *= 1.5
        if fault == "import_at_export_price" and line.reason in IMPORT_REASONS:
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


if __name__ == "__main__":
    raise SystemExit(run_federate_program("market", FaultyMarket))
