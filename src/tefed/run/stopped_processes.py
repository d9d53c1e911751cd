"""Federate processes left stopped (SIGSTOP) after the federation has ended.

While the federation runs, a stopped federate answers no query and the others' stall watchdogs
name it. Once the broker has ended, every federate has left the federation and no watchdog is
left: a federate whose process is stopped then (writing its results, or about to exit) would
hold its supervisor, ``tefed run`` until its wall-clock limit (blaming nobody) and ``helics
run`` for ever. So both supervisors (`tefed.run.runner` and `tefed.run.helics_watchdog`) look
at their federates' process states once the broker has ended, and name one that stays stopped
longer than ``runtime.stall_timeout_s``. A federate merely slow to write its results is never
named: only a process the kernel reports as stopped is.

Once the run is complete (``status.json`` says so: every result written), a process still
running holds nothing back: both supervisors stop whatever is left ``runtime.stall_timeout_s``
later (`CompletedClock`, `lingering_message`) and keep the complete run.
"""

from __future__ import annotations

from collections.abc import Iterable

from tefed.contract.run_folder import STATUS_COMPLETE, RunFolder, proc_stat

#: State letter of a process stopped by a signal (``/proc/<pid>/stat``, field 3).
STOPPED = "T"
#: How often `CompletedClock` reads the run's status [s].
STATUS_LOOK_EVERY_S = 1.0


def is_stopped(pid: int) -> bool:
    """Whether process ``pid`` is stopped by a signal (SIGSTOP, SIGTSTP)."""
    fields = proc_stat(pid)
    return fields is not None and fields[0] == STOPPED


class StoppedClock:
    """Counts how long each process has been stopped, look after look.

    Parameters
    ----------
    limit_s : float
        How long a process may stay stopped before it is overdue [s].
    """

    def __init__(self, limit_s: float):
        self._limit_s = limit_s
        self._stopped_since_s: dict[int, float] = {}

    def overdue(self, pids: Iterable[int], now_s: float) -> list[int]:
        """Those of ``pids`` found stopped on every look for more than the limit.

        Parameters
        ----------
        pids : iterable of int
            The processes to look at now.
        now_s : float
            Monotonic clock [s].

        Returns
        -------
        list of int
            The overdue processes, in the order given. A process seen running once starts
            counting afresh when it is next seen stopped.
        """
        overdue = []
        for pid in pids:
            if not is_stopped(pid):
                self._stopped_since_s.pop(pid, None)
                continue
            since_s = self._stopped_since_s.setdefault(pid, now_s)
            if now_s - since_s > self._limit_s:
                overdue.append(pid)
        return overdue


def stopped_message(name: str, limit_s: float) -> str:
    """What a supervisor reports about federate ``name`` found stopped for ``limit_s`` [s]."""
    return (
        f"federate '{name}' stayed stopped (SIGSTOP) for more than {limit_s:g} s "
        "(runtime.stall_timeout_s) after the federation ended, before its process exited"
    )


class CompletedClock:
    """How long a run has been complete, its status read at most every `STATUS_LOOK_EVERY_S`.

    Parameters
    ----------
    folder : RunFolder
        The run's folder.
    limit_s : float
        How long processes may go on running once the run is complete [s].
    """

    def __init__(self, folder: RunFolder, limit_s: float):
        self._folder = folder
        self._limit_s = limit_s
        self._complete_since_s: float | None = None
        self._next_look_s = 0.0

    def overdue(self, now_s: float) -> bool:
        """Whether the run has been complete for more than the limit at ``now_s``
        (monotonic clock [s])."""
        if self._complete_since_s is None and now_s >= self._next_look_s:
            self._next_look_s = now_s + STATUS_LOOK_EVERY_S
            if self._folder.status().get("state") == STATUS_COMPLETE:
                self._complete_since_s = now_s
        since_s = self._complete_since_s
        return since_s is not None and now_s - since_s > self._limit_s


def lingering_message(names: Iterable[str], limit_s: float) -> str:
    """What a supervisor reports after stopping the processes ``names`` of a complete run."""
    listed = ", ".join(f"'{name}'" for name in names)
    return (
        f"run complete; stopped {listed}: still running {limit_s:g} s "
        "(run.stall_timeout_s) after the run completed"
    )
