"""Processes that end when the process that started them ends, even by SIGKILL.

A process killed by SIGKILL (``kill -9``, the out-of-memory killer, a crashed notebook kernel)
runs no handler, so it cannot stop what it started: ``tefed run``'s federates and broker went on
computing without a supervisor (a week-long run for hours), and a sweep's runs beside the copy
the scheduler gave to another worker. Linux can signal a child when its parent ends
(``prctl(PR_SET_PDEATHSIG)``, kept across ``exec``): `end_with_parent` asks for SIGTERM, which
stops a federate, a broker or a ``tefed run`` (that stops its own federates first).

- A federate forked by ``tefed run`` calls `end_with_parent` itself, right after the fork.
- A program that ``tefed run`` or a sweep starts is run as
  ``python -m tefed.run.bound_to_parent PARENT_PID COMMAND …`` (`bound_command`): this module
  asks for the signal, checks the parent is still ``PARENT_PID`` (it may have ended before the
  request), and replaces itself with COMMAND.

The signal comes when the parent's *thread* that started the child ends. ``tefed run`` starts
its children from its main thread, which ends only with the process (`tefed.run.processes`
starts built-in federates as new interpreters when it is run from another thread); a sweep
starts each run from the thread of the Dask worker running the point, which lives as long as
that worker, so a run ends with its worker. Elsewhere than on Linux, nothing is asked and
children may outlive their parent.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

#: prctl option: the signal sent when the parent dies (linux/prctl.h).
PR_SET_PDEATHSIG = 1


def end_with_parent(parent_pid: int, signal_number: int = signal.SIGTERM) -> bool:
    """Have this process get ``signal_number`` when its parent ends; False when the parent is
    no longer ``parent_pid`` (it ended before the request) and the caller should end too.

    Raises
    ------
    OSError
        When Linux refuses the request.
    """
    if not sys.platform.startswith("linux"):
        return os.getppid() == parent_pid
    # The C library's symbols are already in the process: no library lookup (which runs
    # ``ldconfig`` in a subprocess) is needed.
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(signal_number), 0, 0, 0) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"prctl(PR_SET_PDEATHSIG): {os.strerror(error)}")
    return os.getppid() == parent_pid


def bound_command(command: list[str]) -> list[str]:
    """``command`` run so that it gets SIGTERM when this process ends (see the module)."""
    return [sys.executable, "-m", __name__, str(os.getpid()), *command]


def main(argv: list[str]) -> int:
    """Request the parent-death signal and exec the command (2: no command, 127: not run)."""
    if len(argv) < 2 or not argv[0].isdigit():
        print(f"usage: python -m {__name__} PARENT_PID COMMAND …", file=sys.stderr)
        return 2
    try:
        if not end_with_parent(int(argv[0])):
            return 1  # the parent died before the request: nothing to run for
    except OSError as error:
        print(error, file=sys.stderr)
        return 1
    try:
        os.execvp(argv[1], argv[1:])  # replaces this process
    except OSError as error:
        print(f"cannot run {argv[1]!r}: {error.strerror or error}", file=sys.stderr)
    return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
