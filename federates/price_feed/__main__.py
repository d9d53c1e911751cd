"""``python -m federates.price_feed FEDERATION_FILE [--name NAME]``."""

from federates.price_feed.logic import PriceFeedFederate
from federates.runtime.program import run_federate_program

raise SystemExit(run_federate_program("price_feed", PriceFeedFederate))
