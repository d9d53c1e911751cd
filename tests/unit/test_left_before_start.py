"""`tefed run` names a federate that exited with 0 before the federation started, once the grace
period has passed, and only while no federate on tefed's runtime has entered executing mode."""

from __future__ import annotations

from pathlib import Path

from tefed.contract.run_folder import RunFolder
from tefed.run.processes import FederateProcess
from tefed.run.runner import EARLY_EXIT_GRACE_S, _left_before_start


class Ended:
    """A process that exited with ``code`` (None: still running)."""

    def __init__(self, code: int | None):
        self.code = code

    def poll(self) -> int | None:
        return self.code


def federates(tmp_path: Path, **codes: int | None) -> list[FederateProcess]:
    return [
        FederateProcess(name, Ended(code), tmp_path / f"{name}.log")  # type: ignore[arg-type]
        for name, code in codes.items()
    ]


def test_an_exit_before_the_start_is_named_after_the_grace(tmp_path: Path):
    folder = RunFolder(tmp_path / "run")
    folder.mark_writing("grid")  # a federate on tefed's runtime has joined
    running = federates(tmp_path, grid=None, market=0)
    seen: dict[str, float] = {}
    assert _left_before_start(running, folder, seen, now_s=100.0) is None
    assert _left_before_start(running, folder, seen, now_s=100.0 + EARLY_EXIT_GRACE_S).name == (
        "market"
    )


def test_no_one_is_named_once_a_federate_entered_executing_mode(tmp_path: Path):
    folder = RunFolder(tmp_path / "run")
    folder.mark_writing("grid")
    running = federates(tmp_path, grid=None, market=0)
    seen: dict[str, float] = {}
    assert _left_before_start(running, folder, seen, now_s=100.0) is None
    folder.mark_executing("grid")  # the federation had started: the market finished its part
    assert folder.executing_federates() == {"grid"}
    assert _left_before_start(running, folder, seen, now_s=200.0) is None
    assert seen == {}


def test_without_a_federate_on_tefed_runtime_nothing_is_judged(tmp_path: Path):
    folder = RunFolder(tmp_path / "run")
    running = federates(tmp_path, program_a=None, program_b=0)
    seen: dict[str, float] = {}
    assert _left_before_start(running, folder, seen, now_s=100.0) is None
    assert _left_before_start(running, folder, seen, now_s=1000.0) is None
