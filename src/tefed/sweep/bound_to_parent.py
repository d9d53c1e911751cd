"""Run a command that gets SIGTERM when the process that started this one dies.

``python -m tefed.sweep.bound_to_parent PARENT_PID COMMAND …`` asks Linux for SIGTERM on the
death of its parent (``prctl(PR_SET_PDEATHSIG)``, kept across ``exec``), checks the parent is
still ``PARENT_PID`` (it may have died before the request), and replaces itself with COMMAND.
A sweep starts each ``tefed run`` this way from its Dask worker: a worker that is killed takes
its run down with it (``tefed run`` stops its federates on SIGTERM) instead of leaving it running
beside the rescheduled copy.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys

#: prctl option: the signal sent when the parent dies (linux/prctl.h).
PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> int:
    """Request the parent-death signal and exec the command (2: no command, 127: not run)."""
    if len(argv) < 2 or not argv[0].isdigit():
        print("usage: python -m tefed.sweep.bound_to_parent PARENT_PID COMMAND …", file=sys.stderr)
        return 2
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        error = ctypes.get_errno()
        print(f"prctl(PR_SET_PDEATHSIG) failed: {os.strerror(error)}", file=sys.stderr)
        return 1
    if os.getppid() != int(argv[0]):
        return 1  # the parent died before the request: nothing to run for
    try:
        os.execvp(argv[1], argv[1:])  # replaces this process
    except OSError as error:
        print(f"cannot run {argv[1]!r}: {error.strerror or error}", file=sys.stderr)
    return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
