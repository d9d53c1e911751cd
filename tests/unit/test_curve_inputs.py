"""Curve-clearing input: affine (OpenGridGym) bids and bad vertices or grid parameters."""

from __future__ import annotations

import pandas as pd
import pytest
from curve_books import curves, powers

from tefed.domain.market.mechanisms.curve_clearing import (
    VERTEX_COLUMNS,
    affine_curve_vertices,
    clear_curves,
)

# --- affine (OpenGridGym) bids ---------------------------------------------------------------


def test_affine_vertices_mapping() -> None:
    buy = affine_curve_vertices("b", "h1", p_max=0.3, p_min=0.1, q_max=10, q_min=2, side="buy")
    sell = affine_curve_vertices("s", "h2", p_max=0.3, p_min=0.1, q_max=10, q_min=2, side="sell")
    assert list(buy.columns) == list(VERTEX_COLUMNS)
    assert buy[["price_usd_per_kwh", "power_kw"]].values.tolist() == [[0.1, 10.0], [0.3, 2.0]]
    assert sell[["price_usd_per_kwh", "power_kw"]].values.tolist() == [[0.1, -2.0], [0.3, -10.0]]
    assert buy["continuity"].all() and sell["continuity"].all()


def test_affine_bids_cross_in_the_middle() -> None:
    # Demand 10 -> 0 kW and supply 0 -> 10 kW over 0.1..0.3 meet at 0.2 with 5 kW.
    book = pd.concat(
        [
            affine_curve_vertices("b", "h1", 0.3, 0.1, 10.0, 0.0, "buy"),
            affine_curve_vertices("s", "h2", 0.3, 0.1, 10.0, 0.0, "sell"),
        ]
    )
    result = clear_curves(book)
    assert result.status == "exact"
    assert result.price_usd_per_kwh == pytest.approx(0.2)
    assert result.power_kw.to_dict() == {"b": pytest.approx(5.0), "s": pytest.approx(-5.0)}


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ((0.1, 0.1, 5.0, 1.0, "buy"), "p_max"),
        ((0.3, 0.1, 1.0, 5.0, "buy"), "q_min, q_max"),
        ((0.3, 0.1, 5.0, -1.0, "sell"), "q_min, q_max"),
        ((0.3, 0.1, 5.0, 1.0, "bid"), "side"),
        ((0.3, float("nan"), 5.0, 1.0, "buy"), "p_min"),
    ],
)
def test_affine_bad_input(arguments: tuple, field: str) -> None:
    with pytest.raises(ValueError, match=rf"^{field}: got .* for order_id 'o7'"):
        affine_curve_vertices("o7", "h1", *arguments)


# --- bad input -------------------------------------------------------------------------------


def good_book() -> pd.DataFrame:
    return curves(
        ("gen", "a", 0.01, 0.0, True), ("gen", "a", 0.03, -5.0, True), ("load", "b", 0.0, 2.0, True)
    )


@pytest.mark.parametrize(
    ("column", "value", "pattern"),
    [
        ("price_usd_per_kwh", float("nan"), r"price_usd_per_kwh: got nan for order_id 'gen'"),
        ("price_usd_per_kwh", "cheap", r"price_usd_per_kwh: got 'cheap' for order_id 'gen'"),
        ("power_kw", float("inf"), r"power_kw: got inf for order_id 'gen'"),
        ("continuity", 1.0, r"continuity: got 1.0 for order_id 'gen'"),
        ("participant", "z", r"participant: got 'z' for order_id 'gen'.*one per order_id"),
        ("order_id", None, r"order_id: missing in row\(s\) \[1\]"),
    ],
)
def test_bad_vertex_values(column: str, value: object, pattern: str) -> None:
    vertices = good_book().astype({column: object})
    vertices.loc[1, column] = value
    with pytest.raises(ValueError, match=pattern):
        clear_curves(vertices)


def test_missing_column() -> None:
    with pytest.raises(ValueError, match=r"missing column\(s\) \['continuity'\]"):
        clear_curves(good_book().drop(columns="continuity"))


def test_conflicting_duplicate_vertex() -> None:
    vertices = pd.concat([good_book(), curves(("gen", "a", 0.03, -4.0, True))])
    with pytest.raises(ValueError, match=r"power_kw: got -4.0 for order_id 'gen'.*one power per"):
        clear_curves(vertices)
    flipped = pd.concat([good_book(), curves(("gen", "a", 0.03, -5.0, False))])
    with pytest.raises(ValueError, match=r"continuity: got .*False.* for order_id 'gen'"):
        clear_curves(flipped)


def test_identical_duplicate_vertex_is_merged() -> None:
    vertices = pd.concat([good_book(), curves(("gen", "a", 0.03, -5.0, True))])
    assert clear_curves(vertices).power_kw.to_dict() == powers(clear_curves(good_book()))


def test_power_rising_with_price_is_refused() -> None:
    vertices = curves(("gen", "a", 0.01, -5.0, True), ("gen", "a", 0.03, 0.0, True))
    with pytest.raises(ValueError, match=r"power_kw: got 0.0 for order_id 'gen'.*not rising"):
        clear_curves(vertices)


@pytest.mark.parametrize(
    ("grid", "pattern"),
    [
        ({"import_price_usd_per_kwh": float("nan")}, r"import_price_usd_per_kwh: got nan"),
        ({"export_price_usd_per_kwh": float("inf")}, r"export_price_usd_per_kwh: got inf"),
        ({"feeder_capacity_kw": -1.0}, r"feeder_capacity_kw: got -1.0"),
        (
            {"import_price_usd_per_kwh": 0.1, "export_price_usd_per_kwh": 0.2},
            r"export_price_usd_per_kwh: got 0.2, expected <= import_price_usd_per_kwh 0.1",
        ),
    ],
)
def test_bad_grid_parameters(grid: dict, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        clear_curves(good_book(), **grid)
