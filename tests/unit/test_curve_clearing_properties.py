"""Curve clearing over random monotone books: properties every clearing must have."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from curve_books import CLEARED, books
from hypothesis import given, settings

from tefed.domain.market.mechanisms.curve_clearing import STATUSES, clear_curves

# --- properties over random books ------------------------------------------------------------


def reference_power(order: pd.DataFrame, price: float, left: bool) -> float:
    """One curve's power at ``price`` (or just below it), walked vertex by vertex."""
    order = order.sort_values("price_usd_per_kwh")
    p = order["price_usd_per_kwh"].to_numpy()
    q = order["power_kw"].to_numpy()
    flags = order["continuity"].to_numpy()
    if price < p[0] or (left and price == p[0]):
        return float(q[0])
    for i in range(len(p) - 1):
        if p[i] <= price < p[i + 1] or (left and p[i] < price <= p[i + 1]):
            if flags[i]:
                return float(q[i] + (q[i + 1] - q[i]) * (price - p[i]) / (p[i + 1] - p[i]))
            return float(q[i])
    return float(q[-1])


@settings(max_examples=120, deadline=None)
@given(book=books())
def test_properties_of_every_clearing(book: tuple[pd.DataFrame, dict]) -> None:
    vertices, grid = book
    result = clear_curves(vertices, **grid)
    assert result.status in STATUSES
    assert list(result.power_kw.index) == sorted(vertices["order_id"].unique())
    shuffled = clear_curves(vertices.sample(frac=1.0, random_state=7), **grid)
    assert shuffled.status == result.status
    assert shuffled.price_usd_per_kwh == pytest.approx(result.price_usd_per_kwh, nan_ok=True)
    assert shuffled.power_kw.to_numpy() == pytest.approx(result.power_kw.to_numpy())
    if result.status == "one_sided":
        capacity = grid.get("feeder_capacity_kw")
        signs = set(np.sign(vertices["power_kw"])) - {0.0}
        if capacity != 0 and "export_price_usd_per_kwh" in grid:
            signs.add(1.0)
        if capacity != 0 and "import_price_usd_per_kwh" in grid:
            signs.add(-1.0)
        assert len(signs) <= 1
    if result.status not in CLEARED:
        assert math.isnan(result.price_usd_per_kwh)
        assert (result.power_kw == 0).all()
        return
    price = result.price_usd_per_kwh
    grid_prices = [grid[k] for k in grid if k.endswith("price_usd_per_kwh")]
    all_prices = [*vertices["price_usd_per_kwh"], *grid_prices]
    assert min(all_prices) - 1e-12 <= price <= max(all_prices) + 1e-12
    assert result.net_power_kw == pytest.approx(0.0, abs=1e-6)
    capacity = grid.get("feeder_capacity_kw")
    if capacity is not None:
        assert result.grid_import_kw <= capacity + 1e-9
        assert result.grid_export_kw <= capacity + 1e-9
    assert min(result.grid_import_kw, result.grid_export_kw) == 0.0
    for order_id, order in vertices.groupby("order_id"):
        cleared = result.power_kw[order_id]
        assert order["power_kw"].min() - 1e-9 <= cleared <= order["power_kw"].max() + 1e-9
        at, below = reference_power(order, price, False), reference_power(order, price, True)
        assert min(at, below) - 1e-9 <= cleared <= max(at, below) + 1e-9
        if result.status == "exact":
            assert cleared == pytest.approx(at, abs=1e-6)


@settings(max_examples=200, deadline=None)
@given(book=books())
def test_no_crossing_means_one_sign_everywhere(book: tuple[pd.DataFrame, dict]) -> None:
    vertices, grid = book
    if clear_curves(vertices, **grid).status != "no_crossing":
        return
    # The net power far below every price is negative or far above it positive.
    net = [
        sum(reference_power(order, price, False) for _, order in vertices.groupby("order_id"))
        for price in (-10.0, 10.0)
    ]
    capacity = grid.get("feeder_capacity_kw")
    capacity = math.inf if capacity is None else capacity
    if "export_price_usd_per_kwh" in grid:
        net[0] += capacity
    if "import_price_usd_per_kwh" in grid:
        net[1] -= capacity
    assert net[0] < 0 or net[1] > 0
