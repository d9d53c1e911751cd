"""The report's figures drawn in two processes: every figure written, a failure raised."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from tefed.contract.run_folder import RunFolder
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


def test_a_figure_that_fails_in_the_child_raises_its_error_here(tmp_path: Path) -> None:
    def broken() -> plt.Figure:
        raise ValueError("no data for this figure")

    # The second figure is the child's (every other one); the parent redraws it and raises.
    figures = {"a.png": lambda: line_figure(1.0), "b.png": broken, "c.png": lambda: line_figure(2)}
    with pytest.raises(ValueError, match="no data for this figure"):
        _draw_on_two_cores(RunFolder(tmp_path), figures)
    assert (tmp_path / "plots" / "a.png").exists() and (tmp_path / "plots" / "c.png").exists()
