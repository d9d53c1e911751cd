"""The learner host's federates write their results only once every federate of the episode
has left the federation (or ended), so that no one's writing holds up another's last steps."""

from __future__ import annotations

import threading
import time

from tefed.rl import learner_host
from tefed.rl.learner_host import _Episode


def episode_with(names: list[str]) -> tuple[_Episode, dict[str, threading.Event]]:
    """An episode whose federates ``names`` are threads that run until their event is set."""
    episode = _Episode(1, replies=None, lock=threading.Lock())
    running = {name: threading.Event() for name in names}
    for name, stop in running.items():
        thread = threading.Thread(target=stop.wait, daemon=True)
        episode._federate_threads[name] = thread
        thread.start()
    return episode, running


def test_a_federate_that_left_waits_until_the_others_have_left_or_ended():
    episode, running = episode_with(["market", "grid", "household_h01"])
    finished = threading.Event()

    def market_leaves() -> None:
        episode._after_leaving("market")()
        finished.set()

    threading.Thread(target=market_leaves, daemon=True).start()
    time.sleep(0.2)
    assert not finished.is_set()  # the grid and the household are still in the federation
    running["grid"].set()  # the grid's thread ends (as on an error, without leaving)
    time.sleep(0.2)
    assert not finished.is_set()
    threading.Thread(target=episode._after_leaving("household_h01"), daemon=True).start()
    assert finished.wait(2.0)
    for stop in running.values():
        stop.set()


def test_the_wait_for_the_others_is_bounded(monkeypatch):
    monkeypatch.setattr(learner_host, "LEAVING_WAIT_S", 0.3)
    episode, running = episode_with(["market", "ems"])
    market = threading.Thread(target=episode._after_leaving("market"), daemon=True)
    market.start()
    market.join(timeout=5.0)
    # The market went on to write its results though the ems never left (stuck in a step).
    assert not market.is_alive()
    assert episode._federate_threads["ems"].is_alive()
    running["ems"].set()
