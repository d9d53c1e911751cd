"""The HELICS transport of tefed's federations delivers every message whole.

An awards message to a community battery lists every counterparty (about 150 bytes each); with
thousands of households it reaches hundreds of kilobytes. Orders reach the market in bursts:
every household sends in the same time step, while the market may still be clearing. Both go
through the broker with the core type tefed's federations use (``CORE_TYPE``); tcp cores with
their default 4 KiB receive buffer stall on larger messages, and zmq_ss cores drop messages of
a burst when a process falls behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from federations import REPO, free_port

from tefed.build.builder import CORE_TYPE

pytestmark = pytest.mark.federation

ECHO = REPO / "tests" / "programs" / "message_echo.py"
SPOOFER = REPO / "tests" / "programs" / "spoofing_sender.py"
BROKER = Path(sys.executable).parent / "helics_broker"
#: Longest a federation of this test may take; a stalled one is killed then [s].
TIMEOUT_S = 45
BURST_COUNT = 10_000
BURST_SIZE_BYTES = 100
#: How long the receiver reads nothing while the burst arrives [s].
BUSY_S = 1.0


def exchange(tmp_path: Path, count: int, size_bytes: int, busy_s: float = 0.0) -> dict:
    """Send ``count`` messages of ``size_bytes`` in one time step through a broker; the
    receiver's report (received, whole, distinct)."""
    common = [CORE_TYPE, str(count), str(size_bytes)]
    report, context = run_pair(tmp_path, ECHO, common, [*common, str(busy_s)])
    report["context"] = context
    return report


def run_pair(
    tmp_path: Path, program: Path, sender_args: list[str], receiver_args: list[str]
) -> tuple[object, str]:
    """Run ``program sender PORT *sender_args`` and ``program receiver PORT *receiver_args``
    through a broker of ``CORE_TYPE``; the receiver's ``REPORT`` (JSON) and everyone's output."""
    port = str(free_port())
    logs = {name: (tmp_path / f"{name}.log").open("w+") for name in ("broker", "sender")}
    processes: list[subprocess.Popen] = []
    try:
        broker = [str(BROKER), "-f2", f"--coretype={CORE_TYPE}", f"--port={port}"]
        processes.append(
            subprocess.Popen(
                [*broker, "--loglevel=warning"],
                stdout=logs["broker"],
                stderr=subprocess.STDOUT,
                # helics_broker is a Python wrapper that runs the real broker as its child:
                # a session of its own lets both be killed together
                start_new_session=True,
            )
        )
        processes.append(
            subprocess.Popen(
                [sys.executable, str(program), "sender", port, *sender_args],
                stdout=logs["sender"],
                stderr=subprocess.STDOUT,
            )
        )
        receiver = subprocess.Popen(
            [sys.executable, str(program), "receiver", port, *receiver_args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        processes.append(receiver)
        try:
            out, err = receiver.communicate(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            receiver.kill()
            out, err = receiver.communicate()
        for process in processes[:2]:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
        reports = [line.split("REPORT ", 1)[1] for line in out.splitlines() if "REPORT " in line]
        context = f"{out}{err}" + "".join(
            f"\n--- {name}:\n{_read(log)}" for name, log in logs.items()
        )
        assert reports, f"the receiver reported nothing ({CORE_TYPE}):\n{context}"
        report, _ = json.JSONDecoder().raw_decode(reports[-1])
        return report, context
    finally:
        for process in processes[1:]:
            if process.poll() is None:
                process.kill()
            process.wait()
        if processes and processes[0].poll() is None:
            # the wrapper is not yet reaped, so its process group is still the broker's
            os.killpg(processes[0].pid, signal.SIGKILL)
        for process in processes[:1]:
            process.wait()
        for log in logs.values():
            log.close()


def _read(log) -> str:
    log.seek(0)
    return log.read()


def _counts(report: dict) -> tuple[int, int, int]:
    return report["received"], report["whole"], report["distinct"]


@pytest.mark.parametrize("size_bytes", [1, 4_096, 64_000, 1_000_000])
def test_a_message_of_any_size_arrives_whole(tmp_path: Path, size_bytes: int):
    report = exchange(tmp_path, 1, size_bytes)
    assert _counts(report) == (1, 1, 1), report["context"]


def test_a_burst_sent_while_the_receiver_is_busy_arrives_complete(tmp_path: Path):
    report = exchange(tmp_path, BURST_COUNT, BURST_SIZE_BYTES, BUSY_S)
    assert _counts(report) == (BURST_COUNT, BURST_COUNT, BURST_COUNT), report["context"]


def test_a_sender_cannot_choose_the_source_tefed_sees(tmp_path: Path):
    """HELICS sets a message's source to the sending endpoint; the original source a sender
    may write is not what tefed reads. Bytes that are not UTF-8 arrive as replaced text."""
    seen, context = run_pair(tmp_path, SPOOFER, [], [])
    assert [source for source, _ in seen] == ["household/h01"] * 3, context
    assert sorted(text for _, text in seen) == sorted(["as h02", "as market", "\ufffd\ufffdorders"])
