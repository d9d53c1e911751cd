"""Time grid: consistency checks, step and interval arithmetic, HELICS phases, calendar."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from tefed.contract.time_grid import DEFAULT_PHASE_OFFSETS_S, TimeGrid, parse_start

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2022, 6, 21, tzinfo=BERLIN)


def _grid(**changes: Any) -> TimeGrid:
    """One hour, 60 s steps, 15 min intervals, gate closure one step ahead: 4 intervals."""
    values: dict[str, Any] = {
        "start": START,
        "duration_s": 3600,
        "grid_step_s": 60,
        "market_interval_s": 900,
        "gate_closure_s": 60,
    }
    values.update(changes)
    return TimeGrid(**values)


def test_valid_grid_has_no_problems_and_its_counts() -> None:
    grid = _grid()
    assert grid.consistency_problems() == []
    assert grid.n_steps == 60
    assert grid.n_intervals == 4
    assert grid.steps_per_interval == 15
    assert grid.phase_offsets_s == DEFAULT_PHASE_OFFSETS_S


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"grid_step_s": 0}, "time.grid_step_s"),
        ({"market_interval_s": 950}, "time.market_interval_s"),
        ({"market_interval_s": 0}, "time.market_interval_s"),
        ({"duration_s": 4000}, "time.duration_s"),
        ({"duration_s": 0}, "time.duration_s"),
        ({"gate_closure_s": 0}, "time.gate_closure_s"),
        ({"gate_closure_s": 90}, "time.gate_closure_s"),
        ({"gate_closure_s": 960}, "time.gate_closure_s"),
        ({"start": datetime(2022, 6, 21)}, "time.start"),
        ({"phase_offsets_s": {"ems": 1.0}}, "time.phase_offsets_s"),
        ({"phase_offsets_s": {"ems": -0.001}}, "time.phase_offsets_s"),
    ],
)
def test_each_inconsistency_names_its_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        _grid(**changes)
    # Exactly one problem: the message starts with the field and holds no second problem.
    message = str(excinfo.value)
    assert message.startswith(field)
    assert "; time." not in message


def test_gate_closure_message_gives_the_allowed_range() -> None:
    with pytest.raises(ValueError, match=r"from 60 up to time.market_interval_s \(900\)"):
        _grid(gate_closure_s=960)


def test_gate_closure_of_a_whole_interval_clears_at_the_previous_interval_start() -> None:
    grid = _grid(gate_closure_s=900)
    assert grid.interval_cleared_at(0) == 1
    assert grid.interval_cleared_at(900) == 2
    assert grid.interval_cleared_at(60) is None


def test_several_problems_are_reported_together() -> None:
    with pytest.raises(ValueError) as excinfo:
        _grid(start=datetime(2022, 6, 21), duration_s=1000, gate_closure_s=0)
    message = str(excinfo.value)
    for field in ("time.start", "time.duration_s", "time.gate_closure_s"):
        assert field in message


def test_step_times_s() -> None:
    grid = _grid(duration_s=1800, grid_step_s=300, market_interval_s=900, gate_closure_s=300)
    times = grid.step_times_s()
    assert times.tolist() == [0, 300, 600, 900, 1200, 1500]
    assert times.dtype == np.int64


def test_interval_of_and_interval_start() -> None:
    grid = _grid()
    assert grid.interval_of(0) == 0
    assert grid.interval_of(899) == 0
    assert grid.interval_of(900) == 1
    assert grid.interval_of(3599) == 3
    assert grid.interval_of(np.array([0, 840, 900, 2700])).tolist() == [0, 0, 1, 3]
    assert grid.interval_start_s(3) == 2700


def test_gate_closure_time_s() -> None:
    grid = _grid(gate_closure_s=120)
    assert grid.gate_closure_time_s(1) == 780
    assert grid.gate_closure_time_s(3) == 2580


def test_interval_cleared_at_every_step() -> None:
    grid = _grid()
    cleared = {
        int(t): grid.interval_cleared_at(int(t))
        for t in grid.step_times_s()
        if grid.interval_cleared_at(int(t)) is not None
    }
    # Interval 0 has no market; interval 3 (the last) clears one step before 2700 s.
    assert cleared == {840: 1, 1740: 2, 2640: 3}


def test_interval_zero_and_intervals_past_the_end_are_never_cleared() -> None:
    grid = _grid()
    # Interval 0's gate would close at -60 s; interval 4 is beyond the run.
    assert grid.interval_cleared_at(-60) is None
    assert grid.interval_cleared_at(3540) is None
    assert grid.interval_cleared_at(900) is None


def test_interval_cleared_at_with_a_longer_gate_closure() -> None:
    grid = _grid(gate_closure_s=300)
    assert grid.interval_cleared_at(600) == 1
    assert grid.interval_cleared_at(2400) == 3
    assert grid.interval_cleared_at(840) is None


def test_interval_completed_at_every_step() -> None:
    grid = _grid()
    completed = {
        int(t): grid.interval_completed_at(int(t))
        for t in grid.step_times_s()
        if grid.interval_completed_at(int(t)) is not None
    }
    assert completed == {840: 0, 1740: 1, 2640: 2, 3540: 3}


def test_helics_time_adds_the_phase_offset_of_the_role() -> None:
    grid = _grid()
    assert grid.helics_time(120, "price_feed") == 120.0
    assert grid.helics_time(120, "ems") == pytest.approx(120.001, abs=1e-12)
    assert grid.helics_time(120, "grid") == pytest.approx(120.002, abs=1e-12)
    assert grid.helics_time(120, "market") == pytest.approx(120.003, abs=1e-12)
    custom = _grid(phase_offsets_s={"price_feed": 0.0, "ems": 0.25, "grid": 0.5, "market": 0.75})
    assert custom.helics_time(60, "grid") == 60.5
    phases = [custom.helics_time(60, role) for role in ("price_feed", "ems", "grid", "market")]
    assert phases == sorted(phases)
    with pytest.raises(KeyError):
        grid.helics_time(0, "weather")


def test_calendar_in_summer() -> None:
    stamps = _grid().calendar(np.array([0, 900]))
    assert stamps[0].isoformat() == "2022-06-21T00:00:00+02:00"
    assert stamps[1].isoformat() == "2022-06-21T00:15:00+02:00"
    assert len(_grid().calendar(60)) == 1


def test_calendar_across_the_spring_dst_change() -> None:
    # Berlin: 2022-03-27 02:00 CET jumps to 03:00 CEST.
    grid = TimeGrid(
        start=datetime(2022, 3, 27, tzinfo=BERLIN),
        duration_s=4 * 3600,
        grid_step_s=900,
        market_interval_s=3600,
        gate_closure_s=900,
    )
    stamps = grid.calendar(np.array([0, 3600, 7200, 10800]))
    assert stamps.hour.tolist() == [0, 1, 3, 4]
    assert [stamp.utcoffset() for stamp in stamps] == [
        timedelta(hours=1),
        timedelta(hours=1),
        timedelta(hours=2),
        timedelta(hours=2),
    ]
    # Simulated seconds are absolute: every step is one hour of real time.
    assert (stamps[1:] - stamps[:-1]).total_seconds().tolist() == [3600.0] * 3
    assert stamps.tz_convert("UTC").hour.tolist() == [23, 0, 1, 2]


def test_parse_start_naive_takes_the_zone() -> None:
    summer = parse_start("2022-06-21T00:00:00", "Europe/Berlin")
    assert summer.tzinfo == BERLIN
    assert summer.utcoffset() == timedelta(hours=2)
    winter = parse_start("2022-01-01T00:00", "Europe/Berlin")
    assert winter.utcoffset() == timedelta(hours=1)


def test_parse_start_with_an_agreeing_offset() -> None:
    start = parse_start("2022-06-21T00:00:00+02:00", "Europe/Berlin")
    assert start.tzinfo == BERLIN
    assert start == datetime(2022, 6, 20, 22, tzinfo=ZoneInfo("UTC"))
    assert start.hour == 0


@pytest.mark.parametrize("start", ["2022-06-21T00:00:00+01:00", "2022-06-21T00:00:00+00:00"])
def test_parse_start_with_a_disagreeing_offset_raises(start: str) -> None:
    with pytest.raises(ValueError, match=r"^time\.start .*Europe/Berlin"):
        parse_start(start, "Europe/Berlin")
