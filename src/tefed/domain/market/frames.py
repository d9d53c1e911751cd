"""Small tables built column by column, for the market's per-interval steps.

The market builds a handful of tables every interval, most with a few dozen rows, where
pandas' per-call overhead (row-list construction, ``astype``, inference) outweighs the data.
Columns here are numpy arrays of their final dtype and share one ``RangeIndex``, so pandas
neither converts nor aligns them. pandas 3 infers a string dtype for object arrays of str;
the market's identifier columns are ``object``, so object arrays are passed as object Series.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

import numpy as np
import pandas as pd

# pandas >= 3.0: a frame from its blocks, without per-column conversion or inference (None under
# pandas 2); the market's table builders take it from here.
try:
    from pandas.api.internals import create_dataframe_from_blocks
except ImportError:  # pragma: no cover - pandas 2
    create_dataframe_from_blocks = None


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
        The columns over a ``RangeIndex``. With pandas >= 3 numpy columns are copied into the
        table's blocks (pandas 2's constructor may keep a lone column's array); extension
        arrays are not copied.

    Notes
    -----
    With pandas >= 3 the table is assembled from its blocks (numpy columns of one dtype as
    one block) under a cached column index: the constructor's per-column checks and its
    inference of the labels' dtype cost several times more than the data of a few dozen rows.
    Columns of any other kind, and pandas 2, take the constructor.

    Examples
    --------
    >>> frame = typed_frame({"participant": np.array(["h1"], dtype=object),
    ...                      "quantity_wh": np.array([250], dtype=np.int64)})
    >>> frame.dtypes.astype(str).tolist()
    ['object', 'int64']
    """
    if create_dataframe_from_blocks is not None and columns:
        frame = _frame_from_blocks(columns)
        if frame is not None:
            return frame
    return _constructed_frame(columns)


def _constructed_frame(
    columns: Mapping[str, np.ndarray | pd.api.extensions.ExtensionArray],
) -> pd.DataFrame:
    """`typed_frame` by pandas' constructor (object arrays wrapped to stay ``object``)."""
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


def _frame_from_blocks(
    columns: Mapping[str, np.ndarray | pd.api.extensions.ExtensionArray],
) -> pd.DataFrame | None:
    """`typed_frame` from blocks; None when a column is not one the constructor keeps as is.

    Kept as is: 1-D numpy arrays of booleans, numbers or objects, pandas strings and masked
    (nullable) numbers, under labels of str. Anything else (numpy str or datetimes, other
    extension types, ragged lengths, other labels) returns None, so the constructor converts
    it or raises as it always has.
    """
    names = tuple(columns)
    if not all(type(name) is str for name in names):
        return None  # pandas may make other labels a RangeIndex
    values = list(columns.values())
    length = len(values[0])
    by_dtype: dict[np.dtype, list[int]] = {}
    blocks: list[tuple[np.ndarray | pd.api.extensions.ExtensionArray, np.ndarray]] = []
    for place, array in enumerate(values):
        if len(array) != length:
            return None
        if isinstance(array, np.ndarray):
            if array.ndim != 1 or array.dtype.kind not in _NUMPY_KINDS:
                return None
            by_dtype.setdefault(array.dtype, []).append(place)
        elif isinstance(array, _PLAIN_EXTENSION_ARRAYS):
            blocks.append((array, np.array([place], dtype=np.intp)))
        else:
            return None
    for dtype, places in by_dtype.items():
        # One 2-D block per dtype, copied as the constructor's consolidation copies it.
        block = np.empty((len(places), length), dtype=dtype)
        for row, place in enumerate(places):
            block[row] = values[place]
        blocks.append((block, np.array(places, dtype=np.intp)))
    # A view of the shared labels: renaming one table's columns leaves the others as they are.
    return create_dataframe_from_blocks(
        blocks, index=pd.RangeIndex(length), columns=_labels(names).view()
    )


@lru_cache(maxsize=128)
def _labels(names: tuple[str, ...]) -> pd.Index:
    """The column index pandas' constructor makes of ``names`` (its dtype inferred once)."""
    return pd.Index(list(names))


#: Numpy kinds pandas' constructor keeps as they are: booleans, integers, floats, objects.
_NUMPY_KINDS = frozenset("biufO")
#: pandas' string arrays (``str`` and ``string`` dtypes).
_STRING_ARRAYS = (pd.arrays.ArrowStringArray, pd.arrays.StringArray)
#: Extension arrays that are one block of their own, as the constructor stores them.
_PLAIN_EXTENSION_ARRAYS = (
    pd.arrays.ArrowStringArray,
    pd.arrays.StringArray,
    pd.arrays.IntegerArray,
    pd.arrays.FloatingArray,
    pd.arrays.BooleanArray,
)


def empty_frame(dtypes: Mapping[str, str]) -> pd.DataFrame:
    """A table with no rows and the given columns and dtypes (numpy dtype names)."""
    return typed_frame({name: np.empty(0, dtype=dtype) for name, dtype in dtypes.items()})


def column_array(frame: pd.DataFrame, name: str, dtype: object = None) -> np.ndarray:
    """``frame[name].to_numpy(dtype=dtype)``, without building the column's Series (~15 µs).

    Read-only, like the Series' array under copy-on-write. A numpy column is returned as a view
    (cast to ``dtype`` if given), a pandas string column as objects when ``dtype`` is object;
    any other column, a label that is missing or repeated, or a subclass of DataFrame takes
    ``frame[name]`` (which raises as it always has).

    >>> frame = typed_frame({"quantity_wh": np.array([250, 100])})
    >>> column_array(frame, "quantity_wh", dtype=float)
    array([250., 100.])
    """
    values = None
    if type(frame) is pd.DataFrame:
        try:
            position = frame.columns.get_loc(name)
        except (KeyError, TypeError):
            position = None
        if type(position) is int:
            values = frame._get_column_array(position)
    if isinstance(values, _STRING_ARRAYS) and dtype is object:
        return values.to_numpy(dtype=object)
    if not isinstance(values, np.ndarray):
        return frame[name].to_numpy(dtype=dtype)
    array = values if dtype is None else values.astype(dtype, copy=False)
    if array is values:
        # The table's own storage: a read-only view, as the Series would give.
        array = values.view()
        array.flags.writeable = False
    return array


def str_array(values: list[str]) -> pd.api.extensions.ExtensionArray:
    """``pandas.array(values, dtype=str)`` of a list of str, without resolving the dtype anew.

    >>> str_array(["h1", "h2"]).dtype == pd.array(["h1"], dtype=str).dtype
    True
    """
    if _STR_ARRAY is None:  # pragma: no cover - pandas without the str dtype
        return pd.array(values, dtype=str)
    return _STR_ARRAY._from_sequence(values, dtype=_STR_DTYPE)


def object_array(values: list) -> np.ndarray:
    """``values`` as a 1-D object array of the same Python objects (str stay str when read
    back; never inferred as pandas' str dtype, never a 2-D array of sequences).

    >>> object_array(["h1", "h2"])
    array(['h1', 'h2'], dtype=object)
    """
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


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


#: The dtype ``pandas.array(..., dtype=str)`` resolves to, and its array type (None when it is
#: not one of pandas' string dtypes).
_STR_DTYPE = pd.array(np.array([], dtype=object), dtype=str).dtype
_STR_ARRAY = _STR_DTYPE.construct_array_type() if isinstance(_STR_DTYPE, pd.StringDtype) else None


def str_objects(column: pd.Series) -> np.ndarray:
    """``column.astype(str)`` as an object array; a column of str only is taken as it is."""
    values = column.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(values, skipna=False) in ("string", "empty"):
        return values
    return column.astype(str).to_numpy(dtype=object)
