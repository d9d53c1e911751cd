"""Warm start of a receding-horizon LP: the last optimal basis, moved on with the horizon.

When the planning window of `schedule_lp.BatterySchedule` moves on by one market interval, the
period that was second becomes first. The simplex basis of the previous optimum, read period by
period, is then one period off; moved back by the periods the window advanced (the last period
repeated to fill the end), it is usually a few pivots from the new optimum instead of thousands.

Statuses are the integers of `tefed.domain.persistent_solver` (HiGHS's ``HighsBasisStatus``:
0 lower, 1 basic, 2 upper, 3 zero, 4 non-basic).
"""

from __future__ import annotations

import numpy as np

from tefed.domain.persistent_solver import BASIC


def advanced_basis(
    column_status: np.ndarray,
    row_status: np.ndarray,
    period_columns: np.ndarray,
    period_rows: np.ndarray,
    periods: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Basis statuses moved ``periods`` earlier, household by household.

    Parameters
    ----------
    column_status, row_status : numpy.ndarray of int
        Statuses of every column and row of the LP.
    period_columns : numpy.ndarray of int
        Positions of the per-period columns, shape (kinds, N households, H periods).
    period_rows : numpy.ndarray of int
        Positions of the per-period rows, shape (kinds, N, H).
    periods : int
        Periods the window advanced, >= 0.

    Returns
    -------
    tuple of numpy.ndarray
        New column and row statuses; other columns and rows keep theirs.

    Raises
    ------
    ValueError
        If ``periods`` is negative.

    Notes
    -----
    The status of period :math:`t + k` becomes that of period :math:`t`; the last :math:`k`
    periods take the status of the old last period. The households are independent blocks of
    the LP, so a basis has as many basic variables in each household's columns and rows as
    that household has rows; a household whose count the move changes keeps its old statuses
    (HiGHS would refuse the whole basis otherwise).

    Examples
    --------
    One household, one kind of column and of row, three periods, moved on by one:

    >>> columns, rows = advanced_basis(np.array([1, 0, 2]), np.array([0, 1, 1]),
    ...                                np.array([[[0, 1, 2]]]), np.array([[[0, 1, 2]]]), 1)
    >>> columns.tolist(), rows.tolist()
    ([0, 2, 2], [1, 1, 1])

    Here the count of basic statuses went from 3 to 3 (1 + 2 → 0 + 3); had it changed, both
    would be returned as given.
    """
    if periods < 0:
        raise ValueError(f"periods is {periods}; expected the periods advanced, >= 0")
    columns, rows = np.array(column_status), np.array(row_status)
    if periods == 0:
        return columns, rows
    old_columns, old_rows = columns[period_columns], rows[period_rows]
    new_columns, new_rows = _moved(old_columns, periods), _moved(old_rows, periods)

    def basic_count(block: np.ndarray) -> np.ndarray:  # per household
        return (block == BASIC).sum(axis=(0, 2))

    before = basic_count(old_columns) + basic_count(old_rows)
    keep = (basic_count(new_columns) + basic_count(new_rows) == before)[None, :, None]
    columns[period_columns] = np.where(keep, new_columns, old_columns)
    rows[period_rows] = np.where(keep, new_rows, old_rows)
    return columns, rows


def _moved(block: np.ndarray, periods: int) -> np.ndarray:
    """``block[..., t + periods]`` at ``t``, the last period repeated beyond the end."""
    horizon = block.shape[-1]
    source = np.minimum(np.arange(horizon) + periods, horizon - 1)
    return block[..., source]
