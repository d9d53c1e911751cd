"""A process that writes one run's log after another (the learning environment's learner host)
writes each record into the log of the run it belongs to only."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from tefed.runtime.helics_runtime import attach_log_file, detach_log_file


def test_a_detached_log_file_gets_no_later_records(tmp_path: Path):
    log = logging.getLogger("tefed.test_log_files")
    log.setLevel(logging.INFO)
    first = attach_log_file(tmp_path / "first" / "learners.log")
    log.warning("during the first episode")
    detach_log_file(first)
    second = attach_log_file(tmp_path / "second" / "learners.log")
    log.warning("during the second episode")
    detach_log_file(second)
    log.warning("after both")
    first_text = (tmp_path / "first" / "learners.log").read_text()
    second_text = (tmp_path / "second" / "learners.log").read_text()
    assert "during the first episode" in first_text
    assert "second episode" not in first_text and "after both" not in first_text
    assert "during the second episode" in second_text
    assert "first episode" not in second_text and "after both" not in second_text


def test_federates_sharing_a_process_each_log_to_their_own_file(tmp_path: Path):
    """The learner host's threads: each built-in federate's records (its own thread's and its
    stall watchdog's) go to its file; the learners' file gets everything else."""
    from tefed.rl.learner_host import _threads_of

    log = logging.getLogger("tefed.test_log_files")
    log.setLevel(logging.INFO)
    grid_threads = _threads_of("grid")
    handlers = [
        attach_log_file(tmp_path / "grid.log", accept=lambda thread: thread in grid_threads),
        attach_log_file(tmp_path / "learners.log", accept=lambda t: t not in grid_threads),
    ]
    threads = [
        threading.Thread(target=log.warning, args=(f"from {name}",), name=name)
        for name in [*sorted(grid_threads), "tefed-rl-household_h01"]
    ]
    try:
        for thread in threads:
            thread.start()
            thread.join()
    finally:
        for handler in handlers:
            detach_log_file(handler)
    grid_text = (tmp_path / "grid.log").read_text()
    learners_text = (tmp_path / "learners.log").read_text()
    assert "from tefed-rl-grid" in grid_text and "from stall-watchdog-grid" in grid_text
    assert "household_h01" not in grid_text
    assert "from tefed-rl-household_h01" in learners_text and "grid" not in learners_text
