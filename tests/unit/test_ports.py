"""Port blocks of runs on one machine: aligned, free, and never handed to two processes."""

from __future__ import annotations

import json
import subprocess
import sys

from tefed.run.ports import CLAIMS_KEPT, PORTS_PER_RUN, RUN_PORT_RANGE, free_port


def test_blocks_are_aligned_in_range_and_distinct_within_a_process():
    low, high = RUN_PORT_RANGE
    ports = [free_port() for _ in range(CLAIMS_KEPT)]
    assert len(set(ports)) == len(ports)
    assert all((port - low) % PORTS_PER_RUN == 0 and low <= port < high for port in ports)


def test_a_block_claimed_here_is_not_handed_to_another_process():
    ours = {free_port() for _ in range(CLAIMS_KEPT)}
    code = (
        "import json; from tefed.run.ports import CLAIMS_KEPT, free_port; "
        "print(json.dumps([free_port() for _ in range(CLAIMS_KEPT)]))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    theirs = set(json.loads(completed.stdout))
    assert len(theirs) == CLAIMS_KEPT
    assert not ours & theirs
