"""A process that writes one run's log after another (the learning environment's learner host)
writes each record into the log of the run it belongs to only."""

from __future__ import annotations

import logging
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
