"""Checks of per-household device arrays with errors that name the household and the field."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def require_per_household(
    name: str,
    values: np.ndarray,
    ok: np.ndarray,
    expected: str,
    *,
    household_ids: Sequence[str] | None = None,
    device: str = "battery",
) -> None:
    """Raise ValueError naming the first household where ``ok`` is false.

    Parameters
    ----------
    name : str
        Field name as the scenario spells it, e.g. ``capacity_kwh``.
    values : numpy.ndarray
        The values checked, one per household [unit of the field].
    ok : numpy.ndarray
        Boolean per household, true where the value is acceptable.
    expected : str
        What was expected, e.g. ``"in (0, 1]"``.
    household_ids : sequence of str, optional
        Household names; without them the household is named by its index.
    device : str, optional
        Section of the household the field belongs to (``battery``, ``ev``).

    Raises
    ------
    ValueError
        ``households[h007].battery.capacity_kwh is -1.0; expected ...`` with ids, else
        ``capacity_kwh[6] is -1.0; expected ...``, followed by the count of households out of
        range.

    Examples
    --------
    >>> require_per_household("soc_min", np.array([0.1, 1.5]), np.array([True, False]),
    ...                       "in [0, 1]", household_ids=["h1", "h2"])
    Traceback (most recent call last):
    ...
    ValueError: households[h2].battery.soc_min is 1.5; expected in [0, 1] (1 household(s) out of range)
    """  # noqa: E501
    passed = np.asarray(ok)
    if passed.shape in (values.shape, ()) and passed.all():
        # The common case (every step of every battery), without the arrays a message needs.
        return
    bad = np.flatnonzero(~np.broadcast_to(ok, values.shape))
    if bad.size:
        index = int(bad[0])
        if household_ids is not None and index < len(household_ids):
            label = f"households[{household_ids[index]}].{device}.{name}"
        else:
            label = f"{name}[{index}]"
        raise ValueError(
            f"{label} is {float(values.flat[index])}; expected {expected} "
            f"({bad.size} household(s) out of range)"
        )
