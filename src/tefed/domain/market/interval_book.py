"""The accepted orders of one delivery interval, as the clearing mechanisms take them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tefed.domain.market.frames import empty_frame, typed_frame
from tefed.domain.market.mechanisms.curve_clearing import VERTEX_COLUMNS

SIMPLE_COLUMNS = {
    "order_id": "object",
    "participant": "object",
    "side": "object",
    "quantity_wh": "int64",
    "price_usd_per_kwh": "float64",
    "pool": "object",
    "divisible": "bool",
    "expires_time_s": "float64",
    "received_time_s": "int64",
    "sequence": "int64",
}
AFFINE_COLUMNS = {
    "order_id": "object",
    "participant": "object",
    "side": "object",
    "price_max_usd_per_kwh": "float64",
    "price_min_usd_per_kwh": "float64",
    "power_max_kw": "float64",
    "power_min_kw": "float64",
}


@dataclass(frozen=True)
class IntervalBook:
    """The accepted orders of one delivery interval, one table per order kind.

    Attributes
    ----------
    interval_index : int
        The delivery interval.
    interval_s : int
        Its length [s].
    simple : pandas.DataFrame
        Columns ``SIMPLE_COLUMNS``: quantities [Wh], limit prices [USD/kWh], times [s].
    curves : pandas.DataFrame
        TENT vertices, columns ``VERTEX_COLUMNS`` (power [kW], + consumption).
    affine : pandas.DataFrame
        OpenGridGym quadruples, columns ``AFFINE_COLUMNS`` [USD/kWh, kW].
    """

    interval_index: int
    interval_s: int
    simple: pd.DataFrame
    curves: pd.DataFrame
    affine: pd.DataFrame

    @classmethod
    def from_rows(
        cls,
        interval_index: int,
        interval_s: int,
        simple: list[dict],
        curves: list[dict],
        affine: list[dict],
    ) -> IntervalBook:
        """Build the three tables from accepted order rows (dicts keyed by column)."""
        return cls(
            interval_index=interval_index,
            interval_s=interval_s,
            simple=_order_table(simple, SIMPLE_COLUMNS, _EMPTY_SIMPLE),
            curves=_curve_table(curves),
            affine=_order_table(affine, AFFINE_COLUMNS, _EMPTY_AFFINE),
        )

    @property
    def order_count(self) -> int:
        """Number of orders in the book (a curve counts once)."""
        return len(self.simple) + self.curve_count + len(self.affine)

    @property
    def curve_count(self) -> int:
        """Number of curve orders in the book (each has several vertex rows)."""
        return len(set(self.curves["order_id"].tolist()))


def _order_table(rows: list[dict], dtypes: dict[str, str], empty: pd.DataFrame) -> pd.DataFrame:
    """One order kind's rows as a table with ``dtypes``; a copy of ``empty`` when there are none."""
    if not rows:
        # Shallow: a caller adding a column to its book leaves the shared template as it is.
        return empty.copy(deep=False)
    return typed_frame(_row_columns(rows, dtypes))


def _curve_table(rows: list[dict]) -> pd.DataFrame:
    """Curve vertex rows as a table with ``VERTEX_COLUMNS``.

    Identifiers keep the dtype pandas infers (str), as vertex tables built from rows always had.
    """
    if not rows:
        return _EMPTY_CURVES.copy(deep=False)
    return pd.DataFrame(
        _row_columns(rows, _VERTEX_DTYPES), index=pd.RangeIndex(len(rows)), copy=False
    )


def _row_columns(rows: list[dict], dtypes: dict[str, str]) -> dict[str, np.ndarray]:
    """The rows' values of each column of ``dtypes`` as one array of its dtype."""
    return {
        name: np.array([row[name] for row in rows], dtype=dtype) for name, dtype in dtypes.items()
    }


_VERTEX_DTYPES = dict(
    zip(VERTEX_COLUMNS, ("object", "object", "float64", "float64", "bool"), strict=True)
)
_EMPTY_SIMPLE = empty_frame(SIMPLE_COLUMNS)
_EMPTY_AFFINE = empty_frame(AFFINE_COLUMNS)
_EMPTY_CURVES = empty_frame(_VERTEX_DTYPES)
