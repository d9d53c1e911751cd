"""The one regular-time-index check: the step, or the first entry off it and why."""

from __future__ import annotations

import pandas as pd
import pytest

from tefed.domain.time_index import IrregularTimesError, regular_step_ns

TZ = "Europe/Berlin"


def times(*clock: str) -> pd.DatetimeIndex:
    return pd.DatetimeIndex([f"2024-06-03 {hhmm}" for hhmm in clock], tz=TZ)


def test_the_step_of_regular_times() -> None:
    assert regular_step_ns(times("00:00", "00:15", "00:30")) == 900 * 10**9
    assert regular_step_ns(times("00:00", "00:15"), step_ns=900 * 10**9) == 900 * 10**9


def test_fewer_than_two_entries_have_the_step_given() -> None:
    assert regular_step_ns(times("00:00")) == 0
    assert regular_step_ns(times("00:00"), step_ns=60 * 10**9) == 60 * 10**9


@pytest.mark.parametrize(
    ("clock", "step_ns", "position", "kind"),
    [
        # The step is the most common spacing, so an odd first spacing is the one named.
        (("00:00", "00:05", "00:20", "00:35"), None, 1, "irregular"),
        (("00:00", "00:15", "00:15", "00:30"), None, 2, "duplicate"),
        (("00:00", "00:15", "00:30", "00:20"), None, 3, "backwards"),
        (("00:00", "00:15", "00:30", "01:00", "01:15"), None, 3, "gap"),
        # An entry out of order is named before an irregular spacing that comes earlier.
        (("00:00", "00:10", "00:20", "00:15"), 600 * 10**9, 3, "backwards"),
        (("00:00", "00:15", "00:30"), 600 * 10**9, 1, "irregular"),
    ],
)
def test_the_first_entry_off_the_step_is_named(clock, step_ns, position, kind) -> None:
    with pytest.raises(IrregularTimesError) as excinfo:
        regular_step_ns(times(*clock), step_ns=step_ns, name="load.index")
    error = excinfo.value
    assert (error.position, error.kind) == (position, kind)
    spacing_s = (times(*clock)[position] - times(*clock)[position - 1]).total_seconds()
    assert error.spacing_ns == spacing_s * 10**9
    assert str(error).startswith(
        f"load.index is not regular: entry {position} ({times(*clock)[position]}) is {spacing_s} s "
        "after the previous one; expected a constant step of"
    )


def test_the_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"expected a constant step of 900\.0 s$"):
        regular_step_ns(times("00:00", "00:15", "00:30", "00:40"))
