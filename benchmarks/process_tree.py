"""Memory of a whole process tree, sampled from ``/proc`` (Linux).

A ``tefed run`` is a tree: the runner, the HELICS broker and one process per federate, each
started in a session of its own (so process groups do not find them; parent links do).
``ProcessTreeSampler`` walks the tree below one process every ``interval_s`` and sums the
resident set sizes of all its processes. The sum counts pages shared between processes (the
Python interpreter, numpy's and HELICS's libraries) once per process, as ``ps`` and ``top`` do:
it is what the tree holds in RAM as the kernel reports it per process, an upper bound of the
memory it uses together.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

PROC = Path("/proc")
PAGE_SIZE_BYTES = os.sysconf("SC_PAGE_SIZE")
BYTES_PER_MB = 1024 * 1024


def _stat_fields(pid: int | str) -> list[str] | None:
    """Fields of ``/proc/<pid>/stat`` after the command name (None once the process ended)."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after its
    # last closing parenthesis; fields[0] is the state, fields[1] the parent, fields[19] the
    # start time.
    return text[text.rfind(")") + 2 :].split()


def parent_pids() -> dict[int, int]:
    """Parent pid of every process now alive."""
    parents = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (fields := _stat_fields(entry.name)) is not None:
            parents[int(entry.name)] = int(fields[1])
    return parents


def process_tree(root_pid: int) -> list[int]:
    """``root_pid`` and all its descendants now alive (root first, parents before children)."""
    children: dict[int, list[int]] = {}
    for pid, parent in parent_pids().items():
        children.setdefault(parent, []).append(pid)
    tree, pending = [], [root_pid]
    while pending:
        pid = pending.pop(0)
        tree.append(pid)
        pending.extend(children.get(pid, []))
    return tree


def rss_mb(pid: int) -> float:
    """Resident set size of one process [MB] (0 when it has ended)."""
    try:
        resident_pages = int((PROC / str(pid) / "statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return resident_pages * PAGE_SIZE_BYTES / BYTES_PER_MB


def pss_mb(pid: int) -> float:
    """Proportional set size of one process [MB]: its private pages plus its share of pages it
    shares with others (a library loaded by five processes counts a fifth in each); 0 when it
    has ended."""
    try:
        for line in (PROC / str(pid) / "smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024 / BYTES_PER_MB
    except (OSError, IndexError, ValueError):
        return 0.0
    return 0.0


class ProcessTreeSampler:
    """Samples the summed RSS of a process and its descendants in a background thread.

    Parameters
    ----------
    root_pid : int
        The process whose tree is sampled (e.g. a ``subprocess.Popen``'s pid).
    interval_s : float
        Time between samples [s].

    Use as a context manager around waiting for the process; afterwards ``peak_rss_mb`` holds
    the largest sum of RSS seen [MB] (pages shared by several processes, such as numpy's and
    pandas's libraries, count once per process), ``peak_pss_mb`` the largest sum of PSS [MB]
    (each shared page counted once over the tree: the memory the tree occupies), and
    ``peak_processes`` the most processes holding memory at once.
    """

    def __init__(self, root_pid: int, interval_s: float = 0.2):
        self.root_pid = root_pid
        self.interval_s = interval_s
        self.peak_rss_mb = 0.0
        self.peak_pss_mb = 0.0
        self.peak_processes = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> ProcessTreeSampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def sample(self) -> float:
        """Take one sample now; returns the tree's summed RSS [MB]."""
        pids = process_tree(self.root_pid)
        sizes_mb = [rss_mb(pid) for pid in pids]
        total_mb = sum(sizes_mb)
        self.samples += 1
        self.peak_rss_mb = max(self.peak_rss_mb, total_mb)
        self.peak_pss_mb = max(self.peak_pss_mb, sum(pss_mb(pid) for pid in pids))
        self.peak_processes = max(self.peak_processes, sum(size > 0 for size in sizes_mb))
        return total_mb

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()


def tree_snapshot(root_pid: int) -> dict[int, str]:
    """Pids of the tree below ``root_pid`` with their start times (to know them again later)."""
    snapshot = {}
    for pid in process_tree(root_pid):
        fields = _stat_fields(pid)
        if fields is not None:
            snapshot[pid] = fields[19]
    return snapshot


def kill_snapshot(snapshot: dict[int, str]) -> list[int]:
    """SIGKILL the processes of a ``tree_snapshot`` that are still alive, children first.

    A pid whose start time changed belongs to another process by now and is left alone.
    Returns the pids signalled.
    """
    signalled = []
    for pid, started in reversed(snapshot.items()):
        fields = _stat_fields(pid)
        if fields is None or fields[19] != started or fields[0] == "Z":
            continue
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue
        signalled.append(pid)
    return signalled
