"""``tefed run``'s progress: "starting federates" until every built-in federate has stepped,
then the simulated time they all covered, reported by every federate whatever its schedule."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from rich.console import Console

from tefed.run.processes import FederateProcess
from tefed.run.progress import STARTING, RunProgress, simulated_progress_s
from tefed.runtime.run_accounting import ProgressReport


def rendered(duration_s: float, updates: list[float]) -> str:
    console = Console(file=io.StringIO(), width=120, record=True)
    with RunProgress(duration_s, enabled=True, console=console) as progress:
        for simulated_s in updates:
            progress.update(simulated_s)
    return console.export_text()


def test_the_display_says_starting_federates_until_the_first_simulated_time():
    assert STARTING in rendered(7200, [])
    assert "0 / 7,200" not in rendered(7200, [])
    after = rendered(7200, [3600])
    assert STARTING not in after
    assert "simulated time" in after and "3,600 / 7,200 s" in after


def process(name: str, progress_s: float | None, builtin: bool = True) -> FederateProcess:
    return FederateProcess(name, popen=None, log_path=Path(f"{name}.log"), builtin=builtin,
                    progress_s=progress_s)  # fmt: skip


def test_the_federation_is_starting_until_every_builtin_federate_has_stepped():
    assert simulated_progress_s([process("grid", 60.0), process("market", None)]) is None
    assert simulated_progress_s([process("grid", 3600.0), process("market", 900.0)]) == 900.0
    # A program of one's own reports nothing; it does not hold the display back.
    federates = [process("grid", 60.0), process("agent", None, builtin=False)]
    assert simulated_progress_s(federates) == 60.0


def test_a_federate_stepping_off_the_hour_reports_every_hour():
    """The market steps at gate closures and at the last step of each interval, never at a
    whole hour: it still reports its first step and then once per hour covered."""
    intervals = np.arange(96)
    schedule = np.union1d(intervals[1:] * 900 - 60, (intervals + 1) * 900 - 60)
    report = ProgressReport(3600, 60, 86400)
    reported = [covered for t in schedule if (covered := report.covered_s(int(t))) is not None]
    assert reported == [900, *range(3600, 86400 + 1, 3600)]


def test_the_end_of_simulated_time_is_shown_as_writing_results_until_the_run_ends():
    assert "writing results" in rendered(7200, [7200])
    console = Console(file=io.StringIO(), width=120, record=True)
    with RunProgress(7200, enabled=True, console=console) as progress:
        progress.update(7200)
        progress.finish()
    final = console.export_text()
    assert "writing results" not in final and "simulated time" in final
