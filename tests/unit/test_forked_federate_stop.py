"""A stop that reaches a forked federate while it starts ends it quietly."""

from __future__ import annotations

import os
import signal

from tefed.contract.errors import EXIT_USER_ERROR
from tefed.run.processes import ForkedFederate


def test_a_federate_stopped_as_it_forks_ends_without_the_runners_traceback(tmp_path) -> None:
    def interrupt(signal_number: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        for _ in range(30):
            child = ForkedFederate(
                "price_feed",
                "price_feed",
                str(tmp_path / "none.json"),
                str(tmp_path),
                dict(os.environ),
                "tefed-test",
            )
            os.kill(child.pid, signal.SIGTERM)
            output = child.stdout.read()
            child.wait(timeout=10)
            assert "Traceback" not in output
            # Stopped by the signal; or, on a loaded machine where the stop came late, ended
            # on its own on the missing federation file.
            assert child.returncode in (-signal.SIGTERM, EXIT_USER_ERROR), output
    finally:
        signal.signal(signal.SIGTERM, previous)
