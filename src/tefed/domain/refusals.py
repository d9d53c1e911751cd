"""Errors about bad rows of an input table, naming the rows, the field and the expectation."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: How many offending rows an error lists before it counts the rest.
SHOWN_ROWS = 5


def refuse_rows(
    table: pd.DataFrame,
    id_column: str,
    values: pd.Series | np.ndarray,
    bad: np.ndarray,
    field: str,
    expected: str,
) -> None:
    """Raise ValueError if any row is ``bad``, naming the first few by ``id_column``.

    Parameters
    ----------
    table : pandas.DataFrame
        The input table (e.g. orders, branches); its name in the message is ``field``'s prefix.
    id_column : str
        Column that names a row (``order_id``, ``branch``).
    values : pandas.Series or numpy.ndarray
        The offending field's values, one per row.
    bad : numpy.ndarray of bool
        Which rows are wrong.
    field : str
        Dotted name of the field, e.g. ``orders.power_max_kw``.
    expected : str
        What a good value looks like.

    Examples
    --------
    >>> table = pd.DataFrame({"order_id": ["a", "b"], "power_kw": [1.0, -2.0]})
    >>> refuse_rows(table, "order_id", table["power_kw"], table["power_kw"].to_numpy() < 0,
    ...             "orders.power_kw", ">= 0 [kW]")
    Traceback (most recent call last):
    ...
    ValueError: orders.power_kw: got -2.0 for order_id 'b', expected >= 0 [kW]
    """
    bad = np.asarray(bad, dtype=bool)
    if not bad.any():
        return
    names = np.asarray(table[id_column])[bad][:SHOWN_ROWS]
    shown = [
        f"{value!r} for {id_column} {name!r}"
        for name, value in zip(
            names.tolist(), np.asarray(values)[bad][:SHOWN_ROWS].tolist(), strict=True
        )
    ]
    count = int(bad.sum())
    more = f" and {count - len(shown)} more" if count > len(shown) else ""
    raise ValueError(f"{field}: got {', '.join(shown)}{more}, expected {expected}")
