"""``python -m federates.ems FEDERATION_FILE [--name NAME]``."""

from federates.ems.logic import EmsFederate
from federates.runtime.program import run_federate_program

raise SystemExit(run_federate_program("ems", EmsFederate))
