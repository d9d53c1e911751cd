"""``tefed run --lockstep``: every built-in federate stepped in this process, without HELICS.

The federates' logic runs under the lockstep runner (``tefed.runtime.lockstep``), which
reproduces the federation's data flow step for step, and the run leaves the same run folder as
``tefed run``:

- ``federation.json``, resolved for the run exactly as ``tefed run`` writes it;
- the tables each federate writes (a part per simulated hour, so a failed run keeps them);
- ``timing/<federate>.json`` with the federate's computing time (``waiting_s`` is 0: nobody
  waits for HELICS);
- ``summary.json`` and the plots, ``status.json`` complete and the ``latest`` link, written the
  way the last federate of a HELICS run writes them;
- ``logs/lockstep.log``: the log of every federate (one process, one log).

A failure is recorded in ``status.json`` with the federate, the stage and the simulated time;
the traceback goes to the log. The scenario's wall-clock limit is checked between steps.
Federates that are not tefed's own programs (a household agent, a replacement market) cannot
be stepped here: such a federation is refused as bad input before anything runs.

It serves fast debugging of a strategy (one process, breakpoints work) and is the baseline of
the co-simulation benchmark.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tefed.contract.errors import InputError
from tefed.contract.federation_file import FederationFile
from tefed.contract.logic import FederateContext, FederateLogic, StepInputs, StepOutputs
from tefed.contract.run_folder import RunFolder
from tefed.federates.builtin import builtin_logic
from tefed.reporting.report import write_report
from tefed.run.ports import free_port
from tefed.run.progress import RunProgress
from tefed.run.runner import RunOutcome, new_run_folder, resolve_for_run
from tefed.runtime.lockstep import run_lockstep

log = logging.getLogger("tefed.lockstep_run")

#: The log of a lockstep run, relative to its run folder.
LOCKSTEP_LOG = "logs/lockstep.log"
#: How status.json names the runner itself when it, not a federate, ends the run.
RUNNER_NAME = "tefed run --lockstep"
#: Wall time between two updates of the progress bar [s].
PROGRESS_UPDATE_S = 0.1


def require_builtin_federates(federation: FederationFile, source: str) -> None:
    """Refuse a federation that the lockstep runner cannot step.

    Raises
    ------
    InputError
        Naming every entry that runs a program of its own, with its ``exec`` line.
    """
    names = federation.external_federates()
    if not names:
        return
    problems = [
        f"federates[{name}].exec: got {federation.entry(name).exec!r}; --lockstep steps only "
        "tefed's built-in federates (python -m tefed.federates.<role>) in one process, so a "
        "federation with a program of its own runs with tefed run (without --lockstep)"
        for name in names
    ]
    raise InputError(source, problems)


def run_lockstep_federation(
    federation: FederationFile,
    base_dir: Path,
    run_folder: RunFolder | None = None,
    show_progress: bool = True,
    source_path: Path | None = None,
) -> RunOutcome:
    """Run a whole federation in this process and write its run folder as ``tefed run`` does.

    Parameters
    ----------
    federation : FederationFile
        The federation to run (as built, or as loaded from a file); built-in federates only.
    base_dir : Path
        Working directory of the federates; relative paths in the file resolve against it.
    run_folder : RunFolder, optional
        Where results go (default: a new folder under the federation's results root).
    show_progress : bool
        Show a progress bar of simulated time on the terminal.
    source_path : Path, optional
        The federation file the run was started from (entry directories resolve against its
        folder, as for ``tefed run``).

    Returns
    -------
    RunOutcome
        ``ok`` when the report is written; otherwise the message names the federate, the stage
        and the simulated time, and ``input_error`` is set when bad input caused the failure.

    Raises
    ------
    InputError
        When the federation has federates that are not built-in (nothing is run or written).
    """
    require_builtin_federates(federation, str(source_path or federation.name))
    base_dir = base_dir.resolve()
    folder = run_folder or new_run_folder(federation, base_dir)
    # The same resolved copy as tefed run writes (its broker port and key go unused here).
    resolved = resolve_for_run(federation, folder, free_port(), secrets.token_hex(8), source_path)
    folder.write_text("federation.json", resolved.to_json_text())
    folder.mark_running(supervisor_pid=os.getpid())
    entries = resolved.federate_entries()
    working_dir = Path(entries[0].directory) if entries else base_dir
    started = time.monotonic()
    handlers = _attach_log(folder.file(LOCKSTEP_LOG))
    previous_handler = _interrupt_on_sigterm()
    try:
        outcome = _run(resolved, working_dir, folder, show_progress, started)
    finally:
        if previous_handler is not None:
            signal.signal(signal.SIGTERM, previous_handler)
        _detach_log(handlers)
    outcome.wall_time_s = time.monotonic() - started
    return outcome


def _run(
    federation: FederationFile,
    working_dir: Path,
    folder: RunFolder,
    show_progress: bool,
    started: float,
) -> RunOutcome:
    duration_s = federation.tefed.time.duration_s
    limit_s = federation.tefed.runtime.wall_clock_limit_s
    step_busy_s: dict[str, list[float]] = {}
    progress = RunProgress(duration_s, enabled=show_progress)
    last_update = started

    def on_step(name: str, time_s: int, busy_s: float) -> None:
        nonlocal last_update
        step_busy_s.setdefault(name, []).append(busy_s)
        now = time.monotonic()
        if now - last_update >= PROGRESS_UPDATE_S:
            last_update = now
            progress.update(min(time_s, duration_s))
            if now - started > limit_s:
                raise _WallClockLimitError(
                    f"wall-clock limit of {limit_s:g} s reached at simulated t={time_s:g} s"
                )

    factories = {
        role: _attributed_factory(make_logic) for role, make_logic in builtin_logic().items()
    }
    log.info("lockstep run of %s in %s", federation.name, folder.path)
    try:
        with progress:
            busy_s = run_lockstep(federation, working_dir, folder, factories, on_step=on_step)
            progress.finish()
    except _FederateError as failure:
        log.error("%s\n%s", failure.message, failure.traceback_text.rstrip())
        folder.mark_failed(failure.federate, failure.message)
        return RunOutcome(
            folder,
            ok=False,
            message=_with_log_hint(failure.message, failure.input_error),
            failed_federate=failure.federate,
            input_error=failure.input_error,
        )
    except _WallClockLimitError as error:
        log.error("%s", error)
        folder.mark_failed(RUNNER_NAME, str(error))
        return RunOutcome(folder, ok=False, message=str(error), failed_federate=RUNNER_NAME)
    except KeyboardInterrupt:
        log.error("interrupted")
        folder.mark_failed(RUNNER_NAME, "interrupted")
        return RunOutcome(folder, ok=False, message="interrupted", failed_federate=RUNNER_NAME)
    except Exception as error:
        # The runner's own checks (an undeclared publication or endpoint) name the federate in
        # the message.
        message = f"lockstep run failed: {type(error).__name__}: {error}"
        log.error("%s\n%s", message, traceback.format_exc().rstrip())
        folder.mark_failed(None, message)
        return RunOutcome(folder, ok=False, message=_with_log_hint(message, False))
    for name, federate_busy_s in busy_s.items():
        folder.write_json(
            f"timing/{name}.json", _timing(federate_busy_s, step_busy_s.get(name, []))
        )
        folder.mark_done(name)
    return _write_report(folder)


def _write_report(folder: RunFolder) -> RunOutcome:
    """Summary, plots, status and the latest link, as the last federate of a HELICS run does."""
    if not folder.claim_report():
        return RunOutcome(folder, ok=False, message="the run report was already claimed")
    try:
        write_report(folder)
    except Exception as error:
        message = f"report failed: {type(error).__name__}: {error}"
        log.error("%s\n%s", message, traceback.format_exc().rstrip())
        folder.mark_failed(RUNNER_NAME, message)
        return RunOutcome(folder, ok=False, message=_with_log_hint(message, False))
    folder.mark_complete()
    folder.update_latest_link()
    log.info("run complete: %s", folder.path)
    return RunOutcome(folder, ok=True, message="run complete")


def _timing(busy_s: float, step_busy_s: list[float]) -> dict[str, float | int]:
    """``timing/<federate>.json`` with the keys a HELICS run writes."""
    steps = np.asarray(step_busy_s) if step_busy_s else np.zeros(1)
    return {
        "busy_s": round(busy_s, 6),
        "waiting_s": 0.0,
        "steps": len(step_busy_s),
        "step_busy_median_s": float(np.median(steps)),
        "step_busy_max_s": float(steps.max()),
    }


def _with_log_hint(message: str, input_error: bool) -> str:
    return message if input_error else f"{message}\n  traceback in {LOCKSTEP_LOG}"


# --- failures -------------------------------------------------------------------------------


class _FederateError(Exception):
    """A federate's logic raised; names the federate, the stage and the simulated time."""

    def __init__(self, federate: str, stage: str, error: Exception):
        self.federate = federate
        self.input_error = isinstance(error, InputError)
        self.message = (
            f"federate '{federate}' failed during {stage}: {type(error).__name__}: {error}"
        )
        self.traceback_text = traceback.format_exc()
        super().__init__(self.message)


class _WallClockLimitError(Exception):
    pass


class _AttributedLogic(FederateLogic):
    """A federate's logic whose exceptions name the federate, the stage and the time."""

    def __init__(self, logic: FederateLogic):
        self._logic = logic
        self.role = logic.role
        self._name = logic.role

    def initialize(self, context: FederateContext) -> None:
        self._name = context.name
        try:
            self._logic.initialize(context)
        except Exception as error:
            raise _FederateError(self._name, "initialize", error) from error

    def schedule_s(self) -> np.ndarray:
        return self._logic.schedule_s()

    def step(self, time_s: int, inputs: StepInputs) -> StepOutputs:
        try:
            return self._logic.step(time_s, inputs)
        except Exception as error:
            raise _FederateError(self._name, f"the step at t={time_s:g} s", error) from error

    def write_progress(self, results: RunFolder, time_s: int) -> None:
        try:
            self._logic.write_progress(results, time_s)
        except Exception as error:
            raise _FederateError(self._name, f"writing results at t={time_s:g} s", error) from error

    def finalize(self, results: RunFolder) -> None:
        try:
            self._logic.finalize(results)
        except Exception as error:
            raise _FederateError(self._name, "finalize", error) from error


def _attributed_factory(make_logic: Callable[[], FederateLogic]) -> Callable[[], FederateLogic]:
    return lambda: _AttributedLogic(make_logic())


def _interrupt_on_sigterm() -> object | None:
    """Turn SIGTERM into KeyboardInterrupt during the run, so that its status is written."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def interrupt(signal_number: int, frame: object) -> None:
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, interrupt)


# --- logging --------------------------------------------------------------------------------


def _attach_log(path: Path) -> list[tuple[logging.Logger, logging.Handler, int]]:
    """Send tefed's log records and Python warnings to the run's log file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
    )
    logging.captureWarnings(True)
    attached = []
    for name in ("tefed", "py.warnings"):
        logger = logging.getLogger(name)
        attached.append((logger, handler, logger.level))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    return attached


def _detach_log(attached: list[tuple[logging.Logger, logging.Handler, int]]) -> None:
    for logger, handler, level in attached:
        logger.removeHandler(handler)
        logger.setLevel(level)
    logging.captureWarnings(False)
    if attached:
        attached[0][1].close()
