"""A supervisor names a federate whose process stays stopped, counted look after look."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from tefed.run.stopped_processes import StoppedClock, is_stopped


def wait_until_state(process: subprocess.Popen, stopped: bool) -> None:
    """Wait until the kernel reports the process as stopped (or running) after a signal."""
    for _ in range(1000):
        if is_stopped(process.pid) == stopped:
            return
        time.sleep(0.01)  # a moment for the signal to be delivered
    raise AssertionError(f"process {process.pid} never became {'stopped' if stopped else 'live'}")


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen]:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process
    process.kill()
    process.wait()


def test_a_process_stopped_longer_than_the_limit_is_overdue(sleeper: subprocess.Popen):
    clock = StoppedClock(limit_s=3.0)
    assert clock.overdue([sleeper.pid], now_s=100.0) == []
    sleeper.send_signal(signal.SIGSTOP)
    wait_until_state(sleeper, stopped=True)
    assert clock.overdue([sleeper.pid], now_s=101.0) == []
    assert clock.overdue([sleeper.pid], now_s=104.0) == []
    assert clock.overdue([sleeper.pid], now_s=104.5) == [sleeper.pid]


def test_a_process_seen_running_again_counts_afresh(sleeper: subprocess.Popen):
    clock = StoppedClock(limit_s=3.0)
    sleeper.send_signal(signal.SIGSTOP)
    wait_until_state(sleeper, stopped=True)
    assert clock.overdue([sleeper.pid], now_s=0.0) == []
    sleeper.send_signal(signal.SIGCONT)
    wait_until_state(sleeper, stopped=False)
    assert clock.overdue([sleeper.pid], now_s=2.0) == []
    sleeper.send_signal(signal.SIGSTOP)
    wait_until_state(sleeper, stopped=True)
    assert clock.overdue([sleeper.pid], now_s=4.0) == []
    assert clock.overdue([sleeper.pid], now_s=7.5) == [sleeper.pid]


def test_a_running_or_ended_process_is_never_overdue(sleeper: subprocess.Popen):
    clock = StoppedClock(limit_s=0.0)
    assert clock.overdue([sleeper.pid], now_s=0.0) == []
    assert clock.overdue([sleeper.pid], now_s=50.0) == []
    sleeper.kill()
    sleeper.wait()
    assert not is_stopped(sleeper.pid)
    assert clock.overdue([sleeper.pid], now_s=100.0) == []
