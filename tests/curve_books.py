"""Curve books for the curve-clearing tests: vertices from rows, results as approximations."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from tefed.domain.market.mechanisms.curve_clearing import VERTEX_COLUMNS, CurveClearingResult

CLEARED = ("exact", "marginal_buyer", "marginal_seller")


def curves(*rows: tuple) -> pd.DataFrame:
    """Vertices from (order_id, participant, price_usd_per_kwh, power_kw, continuity) rows."""
    return pd.DataFrame(list(rows), columns=list(VERTEX_COLUMNS)).astype(
        {"price_usd_per_kwh": "float64", "power_kw": "float64", "continuity": "bool"}
    )


def powers(result: CurveClearingResult) -> dict[str, float]:
    return {key: pytest.approx(value, abs=1e-9) for key, value in result.power_kw.items()}


def assert_unpriced(result: CurveClearingResult, status: str) -> None:
    assert result.status == status
    assert math.isnan(result.price_usd_per_kwh)
    assert (result.power_kw == 0).all()
    assert (result.grid_import_kw, result.grid_export_kw) == (0.0, 0.0)
