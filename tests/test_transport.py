"""The HELICS transport of tefed's federations carries messages of any size an ems sends.

An awards message to a community battery lists every counterparty (about 150 bytes each); with
thousands of households it reaches hundreds of kilobytes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from federations import REPO, free_port

from federation.builder import CORE_TYPE

pytestmark = pytest.mark.federation

ECHO = REPO / "tests" / "programs" / "message_echo.py"
BROKER = Path(sys.executable).parent / "helics_broker"


@pytest.mark.parametrize("size_bytes", [100, 8_000, 500_000])
def test_a_message_of_any_size_arrives_whole(size_bytes: int):
    port = str(free_port())
    broker = subprocess.Popen(
        [str(BROKER), "-f2", f"--coretype={CORE_TYPE}", f"--port={port}", "--loglevel=warning"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        sender = subprocess.Popen(
            [sys.executable, str(ECHO), "a", port, CORE_TYPE, str(size_bytes)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        received = subprocess.run(
            [sys.executable, str(ECHO), "b", port, CORE_TYPE, str(size_bytes)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert sender.wait(timeout=30) == 0
        assert f"received {size_bytes}" in received.stdout, received.stdout + received.stderr
    finally:
        broker.wait(timeout=30)
