"""Regular time indexes: the one check that instants are equally spaced (pure: no I/O).

Profiles, price series, weather and resampled power all live on regular time indexes. The
`regular_step_ns` check finds their step, or the first entry off it, and raises
`IrregularTimesError` carrying where and by how much, so that a reader of a file can name the
file's lines while a function of arrays names its argument.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tefed.contract.time_grid import NS_PER_S


class IrregularTimesError(ValueError):
    """Instants that are not equally spaced.

    Parameters
    ----------
    name : str
        What the instants are called in the message (e.g. ``times``).
    times : pandas.DatetimeIndex
        The instants checked.
    position : int
        Entry ``k`` whose spacing from entry ``k - 1`` is off the step [-].
    step_ns : int
        The step expected: the one given, or the most common spacing [ns].
    """

    def __init__(self, name: str, times: pd.DatetimeIndex, position: int, step_ns: int):
        instants_ns = times.as_unit("ns").asi8
        self.times = times
        self.position = position
        self.spacing_ns = int(instants_ns[position] - instants_ns[position - 1])
        self.step_ns = step_ns
        super().__init__(
            f"{name} is not regular: entry {position} ({times[position]}) is "
            f"{self.spacing_ns / NS_PER_S} s after the previous one; expected a constant step of "
            f"{step_ns / NS_PER_S} s"
        )

    @property
    def kind(self) -> str:
        """``duplicate`` (spacing 0), ``backwards`` (negative), ``gap`` (a whole number of steps
        above one) or ``irregular``."""
        if self.spacing_ns == 0:
            return "duplicate"
        if self.spacing_ns < 0:
            return "backwards"
        if self.spacing_ns > self.step_ns > 0 and self.spacing_ns % self.step_ns == 0:
            return "gap"
        return "irregular"


def regular_step_ns(
    times: pd.DatetimeIndex, step_ns: int | None = None, name: str = "times"
) -> int:
    """The step of equally spaced, increasing instants [ns].

    Parameters
    ----------
    times : pandas.DatetimeIndex
        The instants, in order [-].
    step_ns : int, optional
        The step they must have [ns]; by default the most common spacing.
    name : str
        What ``times`` is called in an error message.

    Returns
    -------
    int
        The step [ns]; ``step_ns`` (or 0) when ``times`` has fewer than two entries.

    Raises
    ------
    IrregularTimesError
        At the first entry that is not after its predecessor, else at the first spacing off the
        step.

    Examples
    --------
    >>> regular_step_ns(pd.date_range("2022-06-21", periods=3, freq="15min")) // NS_PER_S
    900
    """
    spacings_ns = np.diff(times.as_unit("ns").asi8)
    not_after = np.flatnonzero(spacings_ns <= 0)
    if step_ns is None:
        if spacings_ns.size == 0:
            return 0
        values, counts = np.unique(spacings_ns, return_counts=True)
        step_ns = int(values[np.argmax(counts)])
    if not_after.size:
        raise IrregularTimesError(name, times, int(not_after[0]) + 1, int(step_ns))
    off = np.flatnonzero(spacings_ns != step_ns)
    if off.size:
        raise IrregularTimesError(name, times, int(off[0]) + 1, int(step_ns))
    return int(step_ns)
