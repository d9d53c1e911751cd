"""The report's figures drawn in two processes: every figure written, a failure raised."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from tefed.contract.run_folder import RunFolder
from tefed.reporting import plots
from tefed.reporting.plots import _draw_on_two_cores


def line_figure(height: float) -> plt.Figure:
    figure, axes = plt.subplots()
    axes.plot([0, 1], [0, height])
    return figure


def test_every_figure_is_written_whichever_process_draws_it(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path)
    names = [f"figure_{index}.png" for index in range(5)]
    _draw_on_two_cores(folder, {name: (lambda h=i: line_figure(h)) for i, name in enumerate(names)})
    written = sorted(path.name for path in (tmp_path / "plots").glob("*.png"))
    assert written == names
    assert all((tmp_path / "plots" / name).stat().st_size > 0 for name in names)


def broken() -> plt.Figure:
    raise ValueError("no data for this figure")


#: The second figure is the child's (every other one) when the figures are drawn on two cores.
FIGURES = {"a.png": lambda: line_figure(1.0), "b.png": broken, "c.png": lambda: line_figure(2.0)}


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="draws in one process on one core")
def test_a_figure_that_fails_in_the_child_raises_its_error_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plots, "FORK_LIMIT_MB", 1e9)  # a test worker may be larger than 512 MB
    with pytest.raises(ValueError, match="no data for this figure"):
        _draw_on_two_cores(RunFolder(tmp_path), FIGURES)
    # This process drew its own figures before redrawing the child's and raising.
    assert (tmp_path / "plots" / "a.png").exists() and (tmp_path / "plots" / "c.png").exists()


def test_a_process_above_the_fork_limit_draws_alone_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plots, "FORK_LIMIT_MB", 0.0)
    with pytest.raises(ValueError, match="no data for this figure"):
        _draw_on_two_cores(RunFolder(tmp_path), FIGURES)
    # One process, in order: the failure at the second figure stops it before the third.
    assert (tmp_path / "plots" / "a.png").exists()
    assert not (tmp_path / "plots" / "c.png").exists()
