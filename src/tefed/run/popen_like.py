"""Children started by `multiprocessing`, seen as `subprocess.Popen` objects.

Its own module, light to import: a sweep's process uses it for its preloaded runs without
importing what `tefed.run.processes` imports (HELICS, 0.37 s).
"""

from __future__ import annotations

import multiprocessing.process
import subprocess


class PopenLike:
    """A child started by `multiprocessing` (``self._process``), seen through the part of
    `subprocess.Popen` that tefed's supervisors use: ``pid``, ``returncode``, ``poll``, ``wait``."""

    _process: multiprocessing.process.BaseProcess
    pid: int

    @property
    def returncode(self) -> int | None:
        """Exit code once the child ended (negative: the signal that killed it), else None."""
        return self._process.exitcode

    def poll(self) -> int | None:
        """The exit code if the child has ended, else None (never blocks)."""
        return self._process.exitcode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the child to end; ``subprocess.TimeoutExpired`` after ``timeout`` s."""
        self._process.join(timeout)
        if self._process.exitcode is None:
            raise subprocess.TimeoutExpired(self._process.name, timeout or 0.0)
        return self._process.exitcode
