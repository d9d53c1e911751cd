"""``python -m federates.market FEDERATION_FILE [--name NAME]``."""

from federates.market.logic import MarketFederate
from federates.runtime.program import run_federate_program

raise SystemExit(run_federate_program("market", MarketFederate))
