"""Tables written part by part: readable at every moment, one file exactly as before at the end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tefed.contract.parted_table import FlushClock, PartedTable, flush_period_s
from tefed.contract.run_folder import RunFolder


def frame(first: int, rows: int, *, names: list[str | None] | None = None) -> pd.DataFrame:
    """Rows ``first``..``first + rows - 1`` of a table with int, float, str and bool columns."""
    index = np.arange(first, first + rows)
    return pd.DataFrame(
        {
            "interval_index": index.astype("int64"),
            "energy_wh": index * 0.5,
            "participant": names if names is not None else [f"h{i:02d}" for i in index],
            "accepted": index % 2 == 0,
        }
    )


def test_parts_read_as_one_table_while_the_run_goes_on(tmp_path: Path):
    table = PartedTable(tmp_path, "market_trades.parquet")
    table.append(frame(0, 3))
    table.append(frame(3, 2))
    assert (tmp_path / "market_trades.parquet").is_dir()
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "market_trades.parquet"),
        pd.read_parquet(RunFolder(tmp_path / "whole").write_parquet("t.parquet", frame(0, 5))),
    )


@pytest.mark.parametrize("rows", [[4, 1, 3], [6]], ids=["three parts", "one part (moved)"])
def test_finish_writes_the_one_file_a_single_write_makes(tmp_path: Path, rows: list[int]):
    firsts = np.cumsum([0, *rows[:-1]]).tolist()
    parts = [frame(first, count) for first, count in zip(firsts, rows, strict=True)]
    table = PartedTable(tmp_path, "households/ems_0.parquet")
    for part in parts:
        table.append(part)
    path = table.finish()
    assert path.is_file()
    whole = RunFolder(tmp_path / "whole").write_parquet("t.parquet", pd.concat(parts))
    pd.testing.assert_frame_equal(pd.read_parquet(path), pd.read_parquet(whole), check_exact=True)
    # No parts, temporary files or parked folders are left beside the table.
    assert sorted(item.name for item in path.parent.iterdir()) == ["ems_0.parquet"]


def test_a_column_missing_in_early_parts_is_widened_to_the_later_type(tmp_path: Path):
    first = frame(0, 2, names=[None, None])
    later = frame(2, 2)
    table = PartedTable(tmp_path, "market_ledger.parquet")
    table.append(first)
    table.append(later)
    expected = pd.read_parquet(
        RunFolder(tmp_path / "whole").write_parquet("t.parquet", pd.concat([first, later]))
    )
    # Readable as one table before and after it is finished.
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "market_ledger.parquet"), expected)
    pd.testing.assert_frame_equal(pd.read_parquet(table.finish()), expected)


def test_sections_come_in_order_whatever_order_they_were_written(tmp_path: Path):
    table = PartedTable(tmp_path, "optimizing_plans/ems_0.parquet")
    table.append(frame(10, 2), section=1)
    table.append(frame(0, 2), section=0)
    table.append(frame(12, 1), section=1)
    table.append(frame(2, 1), section=0)
    expected = [0, 1, 2, 10, 11, 12]
    assert pd.read_parquet(tmp_path / "optimizing_plans").interval_index.tolist() == expected
    assert pd.read_parquet(table.finish()).interval_index.tolist() == expected


def test_a_half_written_part_left_by_a_killed_writer_is_not_read(tmp_path: Path):
    table = PartedTable(tmp_path, "grid.parquet")
    table.append(frame(0, 3))
    # What a process killed while writing its next part leaves behind.
    (tmp_path / "grid.parquet" / ".p000000-000000001.parquet.tmp-4242").write_bytes(b"PAR1\0")
    assert pd.read_parquet(tmp_path / "grid.parquet").interval_index.tolist() == [0, 1, 2]


def test_a_table_without_rows_is_its_empty_frame_or_nothing(tmp_path: Path):
    empty = frame(0, 0)
    written = PartedTable(tmp_path, "market_awards.parquet")
    written.append(empty)
    path = written.finish(empty=empty)
    assert pd.read_parquet(path).empty
    assert list(pd.read_parquet(path).columns) == list(empty.columns)
    assert not PartedTable(tmp_path, "market_dlmp.parquet").finish().exists()


def test_parts_after_finish_are_refused(tmp_path: Path):
    table = PartedTable(tmp_path, "prices.parquet")
    table.append(frame(0, 1))
    table.finish()
    with pytest.raises(RuntimeError, match="already finished"):
        table.append(frame(1, 1))


def test_flush_period_is_whole_market_intervals_of_at_least_an_hour():
    assert flush_period_s(900) == 3600
    assert flush_period_s(1800) == 3600
    assert flush_period_s(2400) == 4800
    assert flush_period_s(7200) == 7200


def test_flush_is_due_once_per_boundary_at_the_step_that_reaches_it():
    clock = FlushClock(3600, 60)
    due = [time_s for time_s in range(0, 3 * 3600, 60) if clock.due(time_s)]
    # The step at 3540 s covers up to 3600 s: the first hour is complete then.
    assert due == [3540, 7140, 10740]


def test_flush_after_a_gap_is_due_once_for_every_boundary_passed():
    clock = FlushClock(3600, 60)
    # A federate that steps rarely (the price feed: every interval start) flushes once.
    assert clock.due(7200) is True
    assert clock.due(7260) is False
    assert clock.due(10740) is True


def test_a_boundary_sooner_than_the_wall_clock_gap_after_the_last_flush_is_passed_over():
    # The clock is read at the first step, then at each boundary.
    wall_s = iter([0.0, 4.0, 11.0, 12.0, 30.0])
    clock = FlushClock(3600, 60, min_wall_s=10.0, wall_clock_s=lambda: next(wall_s))
    due = [time_s for time_s in range(0, 4 * 3600, 60) if clock.due(time_s)]
    # Boundaries at 1 h (4 s after the first step: too soon), 2 h (11 s), 3 h (1 s after the
    # last flush: too soon), 4 h (19 s after it).
    assert due == [7140, 14340]


def test_a_run_shorter_than_the_wall_clock_gap_never_flushes_before_its_end():
    wall_s = iter([100.0, 100.2, 100.4, 100.6])
    clock = FlushClock(3600, 900, min_wall_s=10.0, wall_clock_s=lambda: next(wall_s))
    assert not any(clock.due(time_s) for time_s in range(0, 3 * 3600, 900))


def test_without_a_wall_clock_gap_every_boundary_is_due_the_first_too():
    clock = FlushClock(3600, 900, min_wall_s=0.0, wall_clock_s=lambda: 5.0)
    due = [time_s for time_s in range(0, 3 * 3600, 900) if clock.due(time_s)]
    assert due == [2700, 6300, 9900]
