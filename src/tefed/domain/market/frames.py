"""Small tables built column by column, for the market's per-interval steps.

The market builds a handful of tables every interval, most with a few dozen rows, where
pandas' per-call overhead (row-list construction, ``astype``, inference) outweighs the data.
Columns here are numpy arrays of their final dtype and share one ``RangeIndex``, so pandas
neither converts nor aligns them. pandas 3 infers a string dtype for object arrays of str;
the market's identifier columns are ``object``, so object arrays are passed as object Series.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd


def typed_frame(
    columns: Mapping[str, np.ndarray | pd.api.extensions.ExtensionArray],
) -> pd.DataFrame:
    """A table with the given columns, in order, keeping each array's dtype.

    Parameters
    ----------
    columns : mapping of str to numpy.ndarray or pandas extension array
        One 1-D array per column, all of one length; object arrays stay ``object`` columns.

    Returns
    -------
    pandas.DataFrame
        The columns over a ``RangeIndex``; the arrays are not copied.

    Examples
    --------
    >>> frame = typed_frame({"participant": np.array(["h1"], dtype=object),
    ...                      "quantity_wh": np.array([250], dtype=np.int64)})
    >>> frame.dtypes.astype(str).tolist()
    ['object', 'int64']
    """
    length = len(next(iter(columns.values()))) if columns else 0
    index = pd.RangeIndex(length)
    return pd.DataFrame(
        {
            name: pd.Series(values, index=index, dtype=object, copy=False)
            if values.dtype == object
            else values
            for name, values in columns.items()
        },
        index=index,
        copy=False,
    )


def empty_frame(dtypes: Mapping[str, str]) -> pd.DataFrame:
    """A table with no rows and the given columns and dtypes (numpy dtype names)."""
    return typed_frame({name: np.empty(0, dtype=dtype) for name, dtype in dtypes.items()})


def positions(keys: np.ndarray | pd.Index | list, values: np.ndarray | list) -> np.ndarray:
    """Each value's position among ``keys`` (distinct), -1 where it is not one of them.

    What ``pandas.Index(keys).get_indexer(values)`` returns, by one dict look-up per value:
    for the few dozen participants or orders of an interval, building the index costs more.

    >>> positions(np.array(["h1", "h2"], dtype=object), np.array(["h2", "grid"], dtype=object))
    array([ 1, -1])
    """
    lookup = {key: position for position, key in enumerate(_as_list(keys))}
    found = [lookup.get(value, -1) for value in _as_list(values)]
    return np.array(found, dtype=np.intp)


def _as_list(values: np.ndarray | pd.Index | list) -> list:
    return values.tolist() if isinstance(values, np.ndarray | pd.Index) else list(values)
