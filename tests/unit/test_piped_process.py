"""A learning environment's helper process that dies: sending to it is no error of its own,
the next reply reports the death."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tefed.rl.piped_process import PipedProcess


def dead(pid: int) -> bool:
    """Whether process ``pid`` has ended (a zombie not yet reaped counts)."""
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (FileNotFoundError, IndexError):
        return True


def test_a_request_to_a_killed_helper_is_lost_and_the_reply_reports_its_death():
    helper = PipedProcess("tefed.rl.learner_host")
    try:
        os.kill(helper.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while not dead(helper.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert dead(helper.pid)
        # Its end of the request pipe is closed: writing raised BrokenPipeError before.
        helper.send(("act", 1, "household_h01", None))
        with pytest.raises(RuntimeError, match=r"tefed.rl.learner_host died \(exit code -9\)"):
            helper.receive(5.0)
    finally:
        helper.quit()
