"""The day-ahead market clears all its periods at once exactly as each period clears alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
from curve_books import books, curves
from hypothesis import given, settings
from hypothesis import strategies as st

from tefed.domain.market.mechanisms.curve_clearing import clear_curves
from tefed.domain.market.mechanisms.day_ahead import clear_day_ahead


@st.composite
def day_ahead_books(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.Series, pd.Series, float | None]:
    """1-6 periods labelled out of order, some without orders, order ids repeating across
    periods; grid prices per period (export <= import) and one feeder capacity."""
    labels = draw(st.lists(st.integers(0, 95), min_size=1, max_size=6, unique=True))
    frames = [curves().assign(period=np.zeros(0, dtype=np.int64))]
    frames += [draw(books())[0].assign(period=label) for label in labels if draw(st.booleans())]
    import_cents = [draw(st.integers(-10, 30)) for _ in labels]
    export_cents = [draw(st.integers(-20, cents)) for cents in import_cents]
    return (
        pd.concat(frames, ignore_index=True),
        pd.Series(np.array(import_cents) / 100, index=labels),
        pd.Series(np.array(export_cents) / 100, index=labels),
        draw(st.none() | st.integers(0, 100).map(float)),
    )


@settings(max_examples=100, deadline=None)
@given(book=day_ahead_books())
def test_all_periods_at_once_equal_each_period_alone(book) -> None:
    vertices, import_price, export_price, capacity_kw = book
    result = clear_day_ahead(vertices, import_price, export_price, capacity_kw)
    assert list(result.price_usd_per_kwh.index) == list(import_price.index)
    for period in import_price.index:
        alone = clear_curves(
            vertices[vertices["period"] == period].drop(columns="period"),
            import_price_usd_per_kwh=float(import_price[period]),
            export_price_usd_per_kwh=float(export_price[period]),
            feeder_capacity_kw=capacity_kw,
        )
        assert result.status[period] == alone.status
        # Bit for bit: the same price (NaN where there is none) and the same power per order.
        assert np.array_equal(
            [result.price_usd_per_kwh[period]], [alone.price_usd_per_kwh], equal_nan=True
        )
        cleared = result.power_kw[result.power_kw["period"] == period]
        traded = alone.power_kw[alone.power_kw != 0]
        assert cleared["order_id"].tolist() == traded.index.tolist()
        assert cleared["power_kw"].tolist() == traded.tolist()
        owner = vertices.drop_duplicates(["period", "order_id"]).set_index(["period", "order_id"])
        assert cleared["participant"].tolist() == [
            owner.loc[(period, order), "participant"] for order in traded.index
        ]
