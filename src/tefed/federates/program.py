"""What a built-in federate does after its run: the run report, written by whichever built-in
federate finishes last."""

from __future__ import annotations

import logging

from tefed.contract.federation_file import FederationFile
from tefed.contract.run_folder import RunFolder
from tefed.runtime.helics_runtime import EXIT_FAILED, EXIT_OK

log = logging.getLogger("tefed.program")


def write_report_if_last(federation: FederationFile, folder: RunFolder, name: str) -> int:
    """Write the run report once every built-in federate of ``federation`` and every other one
    writing tables into ``folder`` is done (the one that claims it first writes it); the exit
    code of federate ``name``."""
    builtin = {entry.name for entry in federation.federate_entries() if entry.runs_builtin}
    expected = builtin | folder.writing_federates()
    if not expected <= folder.done_federates() or not folder.claim_report():
        return EXIT_OK
    # Imported here, by the last federate only: the others never load matplotlib.
    from tefed.reporting.report import write_report

    try:
        write_report(folder)
    except Exception as error:
        log.exception("federate '%s' could not write the run report", name)
        folder.mark_failed(name, f"report failed: {type(error).__name__}: {error}")
        return EXIT_FAILED
    folder.mark_complete()
    folder.update_latest_link()
    log.info("run complete: %s", folder.path)
    return EXIT_OK
