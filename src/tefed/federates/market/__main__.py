"""``python -m tefed.federates.market FEDERATION_FILE [--name NAME]``."""

from tefed.federates.market.logic import MarketFederate
from tefed.federates.program import write_report_if_last
from tefed.runtime.program import run_federate_program

raise SystemExit(run_federate_program("market", MarketFederate, on_success=write_report_if_last))
