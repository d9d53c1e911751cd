"""One run's results folder: atomic writes, status, and who writes the report.

Layout of ``results/<scenario>/<run-id>/``::

    federation.json        the federation file used
    status.json            running | complete | failed (with the federate and message) |
                           partial (this host's federates are done, ``elsewhere`` ran on other
                           hosts), and ``results``: complete | incomplete (a failed run's
                           tables stop early)
    logs/<federate>.log    one log per federate (and the broker's, under ``tefed run``)
    timing/<federate>.json wall time computing vs waiting for HELICS
    *.parquet              time series per domain (grid, households, market, prices)
    summary.json           KPIs and run metadata (``incomplete`` when made of a failed run)
    plots/*.png            figures

Every file is written to a temporary name and renamed into place, so a reader never sees half a
file. Federates write their tables while the run goes on (`tefed.contract.parted_table`): until
a federate finishes, each of its tables is a folder of Parquet parts of the same name, which
``pandas.read_parquet`` reads as one table; a failed run keeps those folders.

Each tefed federate marks itself writing when it opens the folder (before it enters HELICS's
executing mode, so before any federate can finish) and done after writing its results; the
federate that finds every built-in federate and every writing one done claims the report (an
exclusive file create, so exactly one does) and writes ``summary.json`` and the plots. A program
of the user's that runs on tefed's runtime (a replaced market, say) therefore finishes its
tables before the report reads them. That works the same under ``helics run`` (no supervisor)
and ``tefed run``.

A federation spread over several hosts (``tefed run --only``) writes one folder per host, each
with the tables of the federates that ran there; none of them has every built-in federate
done, so none writes the report, and each ends ``partial``. ``tefed report MAIN --merge OTHER``
brings the other hosts' folders into the main host's and writes the report there.
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

STATUS_RUNNING = "running"
STATUS_COMPLETE = "complete"
STATUS_FAILED = "failed"
#: This host's federates finished; the others ran on other hosts (``tefed run --only``).
STATUS_PARTIAL = "partial"

#: ``results`` of ``status.json``: every table holds the whole run, or stops where the run did.
RESULTS_COMPLETE = "complete"
RESULTS_INCOMPLETE = "incomplete"
#: Longest a federate naming a failure waits for another's claimed record to appear, and how
#: often it looks [s].
CLAIM_WRITE_WAIT_S = 2.0
CLAIM_WRITE_POLL_S = 0.02


class RunFolder:
    """The folder of one run.

    Parameters
    ----------
    path : Path
        Folder of the run (created if missing).
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    def file(self, name: str) -> Path:
        """Path of a file in the run folder."""
        return self.path / name

    def _atomic_target(self, name: str) -> tuple[Path, Path]:
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        return target, target.with_name(f".{target.name}.tmp-{os.getpid()}")

    def write_text(self, name: str, text: str) -> Path:
        """Write a text file atomically."""
        target, temporary = self._atomic_target(name)
        temporary.write_text(text)
        os.replace(temporary, target)
        return target

    def write_json(self, name: str, data: Any) -> Path:
        """Write a JSON file atomically (2-space indent); NaN and infinities become null."""
        text = json.dumps(_finite_or_null(data), indent=2, default=_json_default, allow_nan=False)
        return self.write_text(name, text + "\n")

    def write_parquet(self, name: str, frame: pd.DataFrame) -> Path:
        """Write a DataFrame as Parquet atomically (no index column unless it is named)."""
        target, temporary = self._atomic_target(name)
        frame.to_parquet(temporary, index=frame.index.name is not None)
        os.replace(temporary, target)
        return target

    def write_figure(self, name: str, figure: Any) -> Path:
        """Save a matplotlib figure as PNG atomically."""
        target, temporary = self._atomic_target(name)
        figure.savefig(temporary, format="png", dpi=110, bbox_inches="tight")
        os.replace(temporary, target)
        return target

    def read_json(self, name: str) -> Any:
        """Read a JSON file of the run folder."""
        return json.loads((self.path / name).read_text())

    # --- status -------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Contents of ``status.json`` (``{}`` before the run started).

        A run still recorded ``running`` whose supervisor (the process that ran it, on this
        host) has ended reads as failed with incomplete results: that process was killed
        without a chance to record anything (SIGKILL, the out-of-memory killer), and its
        federates ended with it (`tefed.run.bound_to_parent`).
        """
        try:
            recorded = self.read_json("status.json")
        except FileNotFoundError:
            return {}
        supervisor = recorded.get("supervisor")
        if recorded.get("state") != STATUS_RUNNING or not isinstance(supervisor, dict):
            return recorded
        if supervisor.get("host") != socket.gethostname() or process_alive(
            supervisor.get("pid"), supervisor.get("process_start")
        ):
            return recorded
        return {
            **recorded,
            "state": STATUS_FAILED,
            "failed_federate": None,
            "message": (
                f"the run's supervisor (process {supervisor.get('pid')} on "
                f"{supervisor.get('host')}) ended without recording how the run ended, "
                "as when it is killed by SIGKILL; the tables hold what the federates wrote "
                "before they were stopped"
            ),
            "results": RESULTS_INCOMPLETE,
        }

    def mark_running(self, supervisor_pid: int | None = None) -> None:
        """Record that the run has started and when (unless a federate already recorded it),
        and the process supervising it (``supervisor_pid``: ``tefed run``), if any."""
        if not self.status() and not self.file(".failure-claim").exists():
            record: dict[str, Any] = {"state": STATUS_RUNNING, "started_at": _now()}
            if supervisor_pid is not None:
                record["supervisor"] = {
                    "pid": int(supervisor_pid),
                    "host": socket.gethostname(),
                    "process_start": process_start(supervisor_pid),
                }
            self.write_json("status.json", record)

    def mark_failed(self, federate: str | None, message: str) -> bool:
        """Record the first failure of the run; later failures (its consequences) are ignored.

        Parameters
        ----------
        federate : str or None
            The federate that failed, None when the caller only knows that the run ended. A
            call that names the federate replaces a record that names none (a federate stopped
            by the failure may record first, before the one that saw the cause).
        message : str
            What happened.

        Returns True when this call recorded the failure.
        """
        if not self._claim(".failure-claim"):
            if not federate:
                return False
            recorded = self._claimed_failure()
            replaceable = recorded.get("state") == STATUS_FAILED and not recorded.get(
                "failed_federate"
            )
            if not (federate and replaceable):
                return False
        self.write_json(
            "status.json",
            {
                **self._started(),
                "state": STATUS_FAILED,
                "failed_federate": federate,
                "message": message,
                "results": RESULTS_INCOMPLETE,
                "ended_at": _now(),
            },
        )
        return True

    def _claimed_failure(self) -> dict[str, Any]:
        """The status once the failure's claimant has written it: between its claim and its
        write, a caller naming the federate would otherwise see ``running`` and lose its record
        to the claimant's, which may name none (waits up to ``CLAIM_WRITE_WAIT_S``)."""
        deadline = time.monotonic() + CLAIM_WRITE_WAIT_S
        recorded = self.status()
        while recorded.get("state") != STATUS_FAILED and time.monotonic() < deadline:
            time.sleep(CLAIM_WRITE_POLL_S)
            recorded = self.status()
        return recorded

    def mark_complete(self) -> None:
        """Record that the run finished and its report is written (never over a failure)."""
        if self.status().get("state") != STATUS_FAILED:
            self.write_json(
                "status.json",
                {
                    **self._started(),
                    "state": STATUS_COMPLETE,
                    "results": RESULTS_COMPLETE,
                    "ended_at": _now(),
                },
            )

    def mark_partial(self, elsewhere: list[str]) -> None:
        """Record that this host's federates finished and wrote their tables, while the
        federates ``elsewhere`` ran on other hosts (never over a failure)."""
        if self.status().get("state") != STATUS_FAILED:
            self.write_json(
                "status.json",
                {
                    **self._started(),
                    "state": STATUS_PARTIAL,
                    "elsewhere": sorted(elsewhere),
                    "results": RESULTS_COMPLETE,
                    "ended_at": _now(),
                },
            )

    def _started(self) -> dict[str, str]:
        started = self.status().get("started_at")
        return {"started_at": started} if started else {}

    # --- completion and report ----------------------------------------------------------------

    def mark_writing(self, federate: str) -> None:
        """Record that ``federate`` writes tables here (done once it calls `mark_done`)."""
        self.write_text(f".writing/{federate}", "")

    def writing_federates(self) -> set[str]:
        """Federates that have written or are writing tables here."""
        folder = self.path / ".writing"
        return {item.name for item in folder.iterdir()} if folder.is_dir() else set()

    def mark_executing(self, federate: str) -> None:
        """Record that ``federate`` entered executing mode: the federation has started."""
        self.write_text(f".executing/{federate}", "")

    def executing_federates(self) -> set[str]:
        """Federates on tefed's runtime that have entered executing mode."""
        folder = self.path / ".executing"
        return {item.name for item in folder.iterdir()} if folder.is_dir() else set()

    def mark_done(self, federate: str) -> None:
        """Record that ``federate`` has written all its results."""
        self.write_text(f".done/{federate}", "")

    def done_federates(self) -> set[str]:
        """Federates that have written all their results."""
        folder = self.path / ".done"
        return {item.name for item in folder.iterdir()} if folder.is_dir() else set()

    def claim_report(self) -> bool:
        """Claim the job of writing the report; True for exactly one caller per run."""
        return self._claim(".report-claim")

    def _claim(self, name: str) -> bool:
        try:
            descriptor = os.open(self.path / name, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return False
        os.close(descriptor)
        return True

    def update_latest_link(self) -> None:
        """Point ``<root>/latest`` at this run (a relative symlink, replaced atomically)."""
        link = self.path.parent / "latest"
        temporary = self.path.parent / f".latest.tmp-{os.getpid()}"
        try:
            temporary.unlink(missing_ok=True)
            temporary.symlink_to(self.path.name, target_is_directory=True)
            os.replace(temporary, link)
        except OSError:
            # Filesystems without symlinks get a text pointer instead.
            temporary.unlink(missing_ok=True)
            self.write_text("../latest.txt", self.path.name + "\n")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def proc_stat(pid: int) -> list[str] | None:
    """Fields of ``/proc/<pid>/stat`` from the state on (field 3), or None if it is gone.

    The command name (field 2) is in parentheses and may hold spaces or parentheses itself,
    so the fields are those after its last ``)``.
    """
    try:
        return Path(f"/proc/{int(pid)}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, ValueError, IndexError):
        return None


def process_start(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks since boot (field 22 of `proc_stat`); None
    where that cannot be read (no such process, no ``/proc``). With the pid it names one
    process, also after the pid is given to another."""
    fields = proc_stat(pid)
    try:
        return int(fields[19]) if fields is not None else None
    except (IndexError, ValueError):
        return None


def process_alive(pid: object, started: object) -> bool:
    """Whether process ``pid`` still runs and is the one that started at ``started``
    (`process_start`; None: any process of that pid)."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    return started is None or process_start(pid) in (started, None)


def _finite_or_null(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite_or_null(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_null(item) for item in value]
    return value


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
