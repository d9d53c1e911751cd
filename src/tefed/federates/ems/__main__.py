"""``python -m tefed.federates.ems FEDERATION_FILE [--name NAME]``."""

from tefed.federates.ems.logic import EmsFederate
from tefed.federates.program import write_report_if_last
from tefed.runtime.program import run_federate_program

raise SystemExit(run_federate_program("ems", EmsFederate, on_success=write_report_if_last))
