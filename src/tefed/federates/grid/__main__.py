"""``python -m tefed.federates.grid FEDERATION_FILE [--name NAME]``."""

from tefed.federates.grid.logic import GridFederate
from tefed.federates.program import write_report_if_last
from tefed.runtime.program import run_federate_program

raise SystemExit(run_federate_program("grid", GridFederate, on_success=write_report_if_last))
