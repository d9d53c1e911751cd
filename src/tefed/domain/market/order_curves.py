"""Orders of one interval in the forms the central mechanisms clear: TENT vertices, affine curves.

Curve clearing takes every order as TENT vertices; DLMP clearing takes every order as an
OpenGridGym affine curve. A simple order is a step in both: its average power over the interval
``quantity_wh · 3.6 / interval_s`` [kW] at its limit price.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tefed.domain.market.frames import typed_frame
from tefed.domain.market.interval_book import IntervalBook

#: Vertex columns (``VERTEX_COLUMNS``) and their dtypes.
_VERTEX_DTYPES = {
    "order_id": object,
    "participant": object,
    "price_usd_per_kwh": np.float64,
    "power_kw": np.float64,
    "continuity": bool,
}
#: Price distance of the lower vertex that turns a step order into TENT vertices [USD/kWh].
_STEP_WIDTH_USD_PER_KWH = 1.0


def order_vertices(book: IntervalBook) -> pd.DataFrame:
    """Every order of ``book`` as TENT vertices [USD/kWh, kW], for curve clearing.

    A simple order is a step: its power ``quantity_wh · 3.6 / interval_s`` at prices up to its
    limit (a bid) or from its limit up (an ask), zero beyond. An affine order is a step when its
    two prices are equal and otherwise its two vertices, as in `affine_curve_vertices`: a buyer
    :math:`(p_{min}, q_{max}), (p_{max}, q_{min})`, a seller
    :math:`(p_{min}, -q_{min}), (p_{max}, -q_{max})`.
    """
    steps = _affine_columns(book)
    is_buy = steps["side"] == "buy"
    sign = np.where(is_buy, 1.0, -1.0)
    low_price_kw = sign * np.where(is_buy, steps["power_max_kw"], steps["power_min_kw"])
    high_price_kw = sign * np.where(is_buy, steps["power_min_kw"], steps["power_max_kw"])
    is_step = steps["price_max_usd_per_kwh"] == steps["price_min_usd_per_kwh"]
    sloped = ~is_step
    # Curves' own vertices, then two per step order, then two per sloped affine order.
    parts = [
        {name: book.curves[name].to_numpy(dtype=dtype) for name, dtype in _VERTEX_DTYPES.items()},
        _step_vertices(
            steps["order_id"][is_step],
            steps["participant"][is_step],
            steps["price_max_usd_per_kwh"][is_step],
            low_price_kw[is_step],
            high_price_kw[is_step],
        ),
        {
            "order_id": np.repeat(steps["order_id"][sloped], 2),
            "participant": np.repeat(steps["participant"][sloped], 2),
            "price_usd_per_kwh": np.column_stack(
                [steps["price_min_usd_per_kwh"][sloped], steps["price_max_usd_per_kwh"][sloped]]
            ).ravel(),
            "power_kw": np.column_stack([low_price_kw[sloped], high_price_kw[sloped]]).ravel(),
            "continuity": np.ones(2 * int(sloped.sum()), dtype=bool),
        },
    ]
    columns = {name: np.concatenate([part[name] for part in parts]) for name in _VERTEX_DTYPES}
    if not columns["order_id"].size:
        return book.curves
    # Identifiers get the dtype pandas infers (str), as vertex tables always had.
    return pd.DataFrame(columns, index=pd.RangeIndex(columns["order_id"].size), copy=False)


def _step_vertices(
    order_id: np.ndarray,
    participant: np.ndarray,
    price_usd_per_kwh: np.ndarray,
    below_kw: np.ndarray,
    above_kw: np.ndarray,
) -> dict[str, np.ndarray]:
    """Two vertices per order: ``below_kw`` up to the price, a vertical step to ``above_kw``."""
    return {
        "order_id": np.repeat(order_id, 2),
        "participant": np.repeat(participant, 2),
        "price_usd_per_kwh": np.column_stack(
            [price_usd_per_kwh - _STEP_WIDTH_USD_PER_KWH, price_usd_per_kwh]
        ).ravel(),
        "power_kw": np.column_stack([below_kw, above_kw]).ravel(),
        "continuity": np.tile([False, True], len(order_id)),
    }


def affine_orders(book: IntervalBook) -> pd.DataFrame:
    """Affine and simple orders of ``book`` as one affine table (a simple order is a step).

    A simple order of ``quantity_wh`` becomes ``power_max_kw = quantity_wh · 3.6 / interval_s``,
    ``power_min_kw = 0`` and both prices at its limit [USD/kWh, kW].
    """
    if book.simple.empty and book.affine.empty:
        return book.affine
    return typed_frame(_affine_columns(book))


def _affine_columns(book: IntervalBook) -> dict[str, np.ndarray]:
    """The columns of `affine_orders`: the affine orders, then the simple ones as steps."""
    simple = book.simple
    power_kw = simple["quantity_wh"].to_numpy(float) * 3.6 / book.interval_s
    as_affine = {
        "order_id": simple["order_id"].to_numpy(object),
        "participant": simple["participant"].to_numpy(object),
        "side": simple["side"].to_numpy(object),
        "price_max_usd_per_kwh": simple["price_usd_per_kwh"].to_numpy(float),
        "price_min_usd_per_kwh": simple["price_usd_per_kwh"].to_numpy(float),
        "power_max_kw": power_kw,
        "power_min_kw": np.zeros(len(simple)),
    }
    return {
        name: np.concatenate([book.affine[name].to_numpy(dtype=dtype), as_affine[name]])
        for name, dtype in book.affine.dtypes.items()
    }
