"""Curve books for the curve-clearing tests: vertices from rows, results as approximations."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import strategies as st

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


@st.composite
def books(draw: st.DrawFn) -> tuple[pd.DataFrame, dict]:
    """Random monotone curve books (prices on a coarse grid so that vertices coincide)."""
    rows = []
    for number in range(draw(st.integers(0, 6))):
        count = draw(st.integers(1, 4))
        cents = draw(st.lists(st.integers(-10, 30), min_size=count, max_size=count, unique=True))
        kw = sorted(draw(st.lists(st.integers(-50, 50), min_size=count, max_size=count)))
        for price, power in zip(sorted(cents), kw[::-1], strict=True):
            rows.append(
                (f"o{number}", f"h{number % 3}", price / 100, float(power), draw(st.booleans()))
            )
    grid: dict = {}
    prices = sorted(draw(st.lists(st.integers(-10, 30), min_size=2, max_size=2)))
    if draw(st.booleans()):
        grid["export_price_usd_per_kwh"] = prices[0] / 100
    if draw(st.booleans()):
        grid["import_price_usd_per_kwh"] = prices[1] / 100
    if grid:
        grid["feeder_capacity_kw"] = draw(st.none() | st.integers(0, 100).map(float))
    return curves(*rows), grid
