"""Command line of every built-in federate: ``python -m tefed.federates.<role> FILE [--name N]``."""

from __future__ import annotations

import argparse
import gc
import logging
import os
from collections.abc import Callable
from logging.handlers import MemoryHandler
from pathlib import Path

from tefed.contract.errors import EXIT_USER_ERROR, InputError
from tefed.contract.federation_file import FederationFile, load_federation_file
from tefed.contract.logic import FederateContext, FederateLogic
from tefed.contract.run_folder import RunFolder
from tefed.runtime.helics_runtime import (
    EXIT_OK,
    HelicsRuntime,
    attach_log_file,
    configure_console_logging,
    move_console_output,
)

log = logging.getLogger("tefed.program")

#: Set by ``tefed run``, which captures each federate's console output into the run folder itself.
SUPERVISED_ENV = "TEFED_SUPERVISED"


#: Called after a federate ended well, with its federation file, run folder and name; returns
#: the program's exit code (tefed's federates write the run report there when they are last).
OnSuccess = Callable[[FederationFile, RunFolder, str], int]


def run_federate_program(
    role: str,
    make_logic: Callable[[], FederateLogic],
    argv: list[str] | None = None,
    on_success: OnSuccess | None = None,
) -> int:
    """Parse the command line, run one federate, and return its exit code."""
    parser = argparse.ArgumentParser(
        prog=f"python -m tefed.federates.{role}",
        description=f"Run tefed's {role} federate from a federation file.",
    )
    parser.add_argument("federation_file", type=Path, help="the federation JSON file")
    parser.add_argument("--name", default=role, help=f"federate name in the file (default {role})")
    arguments = parser.parse_args(argv)

    configure_console_logging()
    early_records = MemoryHandler(capacity=100_000, flushLevel=logging.CRITICAL + 1)
    logging.getLogger("tefed").addHandler(early_records)

    try:
        federation = load_federation_file(arguments.federation_file)
        entry = federation.entry(arguments.name)
        if entry.tefed is None or entry.tefed.role != role:
            raise InputError(
                str(arguments.federation_file),
                [
                    f"federates[{arguments.name}].tefed.role: expected {role!r}, got "
                    f"{None if entry.tefed is None else entry.tefed.role!r}"
                ],
            )
    except InputError as error:
        log.error("%s", error)
        return EXIT_USER_ERROR

    def on_run_folder(folder: RunFolder) -> None:
        if os.environ.get(SUPERVISED_ENV):
            early_records.close()
            return
        path = folder.file(f"logs/{arguments.name}.log")
        file_handler = attach_log_file(path)
        early_records.setTarget(file_handler)
        early_records.flush()
        logging.getLogger("tefed").removeHandler(early_records)
        if runtime.broker_claim is not None:
            # helics run writes every run's output to the same files beside the federation
            # file (a second run of the file empties them): this run's goes to its own folder.
            log.info("log continues in %s", path)
            move_console_output(path)

    context = FederateContext(
        name=arguments.name, federation=federation, entry=entry, base_dir=Path.cwd()
    )
    runtime = HelicsRuntime(context, make_logic(), on_run_folder=on_run_folder)
    code = runtime.run()
    # The federate's state (an ems shard's per-step arrays: hundreds of MB at scale) goes
    # before on_success, which may write the whole run's report in this process.
    runtime.release_logic()
    gc.collect()
    if code == EXIT_OK and runtime.run_folder is not None and on_success is not None:
        code = on_success(federation, runtime.run_folder, arguments.name)
    return code
