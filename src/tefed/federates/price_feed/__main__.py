"""``python -m tefed.federates.price_feed FEDERATION_FILE [--name NAME]``."""

from tefed.federates.price_feed.logic import PriceFeedFederate
from tefed.federates.program import write_report_if_last
from tefed.runtime.program import run_federate_program

raise SystemExit(
    run_federate_program("price_feed", PriceFeedFederate, on_success=write_report_if_last)
)
