"""Household figures keep every household line in a colour of its own, whatever their number."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex

from tefed.reporting.household_plots import (
    MAX_HOUSEHOLD_LINES,
    household_voltages_figure,
    income_advantage_figure,
)

START = pd.Timestamp("2022-06-21", tz="Europe/Berlin")


def calendar(time_s: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(START + pd.to_timedelta(np.atleast_1d(time_s), unit="s"))


def household_ids(count: int) -> list[str]:
    return [f"h{number:02d}" for number in range(1, count + 1)]


def bills(count: int) -> pd.DataFrame:
    """Four intervals of bills; household ``h<n>`` gains ``n`` cents per interval."""
    index = pd.MultiIndex.from_product(
        [household_ids(count), range(4)], names=["household_id", "interval_index"]
    )
    gain = np.repeat(np.arange(1, count + 1) * 0.01, 4)
    return pd.DataFrame({"bill_usd": 1.0 - gain, "baseline_bill_usd": 1.0}, index=index)


def household_lines(axis: plt.Axes, households: list[str]) -> dict[str, str]:
    return {
        line.get_label(): to_hex(line.get_color())
        for line in axis.get_lines()
        if line.get_label() in households
    }


@pytest.mark.parametrize("count", [3, 11, 12, 25])
def test_income_advantage_lines_have_distinct_colours(count):
    figure = income_advantage_figure(bills(count), calendar, 900)
    lines = household_lines(figure.axes[0], household_ids(count))
    plt.close(figure)
    assert len(set(lines.values())) == len(lines) == min(count, MAX_HOUSEHOLD_LINES)
    # Beyond the lines: the households with the largest advantage are drawn, the rest together.
    assert set(lines) == set(household_ids(count)[-MAX_HOUSEHOLD_LINES:])
    labels = [line.get_label() for line in figure.axes[0].get_lines()]
    others = count - len(lines)
    assert (f"other {others} households: mean" in labels) == (others > 0)


@pytest.mark.parametrize("count", [4, 11, 30])
def test_voltage_lines_have_distinct_colours_or_a_band(count):
    times = np.arange(0, 600, 60)
    voltages = pd.DataFrame(
        {
            "time_s": np.tile(times, count),
            "household_id": np.repeat(household_ids(count), len(times)),
            "voltage_pu": 1.0 + np.linspace(0, 0.02, count * len(times)),
        }
    )
    figure = household_voltages_figure(voltages, calendar, (0.95, 1.05, 1.04))
    lines = household_lines(figure.axes[0], household_ids(count))
    plt.close(figure)
    expected = count if count <= MAX_HOUSEHOLD_LINES else 0
    assert len(set(lines.values())) == len(lines) == expected
