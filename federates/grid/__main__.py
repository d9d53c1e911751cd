"""``python -m federates.grid FEDERATION_FILE [--name NAME]``."""

from federates.grid.logic import GridFederate
from federates.runtime.program import run_federate_program

raise SystemExit(run_federate_program("grid", GridFederate))
