"""Settlement: hand-computed ledgers, balance properties and net billing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federates.market.settlement import (
    GRID,
    LEDGER_COLUMNS,
    net_billing_amount_usd,
    settle_interval,
)

IMPORT = 0.15
EXPORT = 0.05


def _trades(*rows: tuple[str, str, int, float]) -> pd.DataFrame:
    """Trades from (buyer, seller, quantity_wh, price_usd_per_kwh) rows."""
    return pd.DataFrame(
        {
            "buyer": pd.Series([row[0] for row in rows], dtype=object),
            "seller": pd.Series([row[1] for row in rows], dtype=object),
            "quantity_wh": pd.Series([row[2] for row in rows], dtype="int64"),
            "price_usd_per_kwh": pd.Series([row[3] for row in rows], dtype=float),
        }
    )


def _paid(ledger: pd.DataFrame) -> dict[str, float]:
    return ledger.groupby("participant")["amount_usd"].sum().to_dict()


def test_docstring_example() -> None:
    energy = pd.Series({"a": 1200.0, "b": -900.0})
    ledger = settle_interval(energy, _trades(("a", "b", 1000, 0.10)), IMPORT, EXPORT)
    paid = _paid(ledger)
    # a: 1000 Wh * 0.10 + 200 Wh * 0.15; b: -1000 Wh * 0.10 + 100 Wh shortfall * 0.15.
    assert paid["a"] == pytest.approx(0.13, abs=1e-12)
    assert paid["b"] == pytest.approx(-0.085, abs=1e-12)
    assert sorted(ledger["reason"]) == ["grid_import", "grid_import", "trade", "trade"]
    assert dict(ledger.dtypes.astype(str)) == LEDGER_COLUMNS


def test_household_without_trades_importing() -> None:
    ledger = settle_interval(pd.Series({"a": 500.0}), _trades(), IMPORT, EXPORT)
    assert len(ledger) == 1
    row = ledger.iloc[0]
    assert row["participant"] == "a"
    assert row["counterparty"] == GRID
    assert row["reason"] == "grid_import"
    assert row["energy_wh"] == 500.0
    assert row["price_usd_per_kwh"] == IMPORT
    assert row["amount_usd"] == pytest.approx(0.075, abs=1e-12)


def test_household_without_trades_exporting() -> None:
    ledger = settle_interval(pd.Series({"b": -400.0}), _trades(), IMPORT, EXPORT)
    assert len(ledger) == 1
    row = ledger.iloc[0]
    assert row["reason"] == "grid_export"
    assert row["counterparty"] == GRID
    assert row["energy_wh"] == -400.0
    assert row["price_usd_per_kwh"] == EXPORT
    assert row["amount_usd"] == pytest.approx(-0.02, abs=1e-12)


def test_household_with_zero_energy_and_no_trades_has_no_rows() -> None:
    ledger = settle_interval(pd.Series({"a": 0.0}), _trades(), IMPORT, EXPORT)
    assert ledger.empty
    assert list(ledger.columns) == list(LEDGER_COLUMNS)


def test_buyer_using_less_than_it_bought_sells_the_rest_at_the_export_price() -> None:
    energy = pd.Series({"a": 800.0, "b": -1000.0})
    ledger = settle_interval(energy, _trades(("a", "b", 1000, 0.10)), IMPORT, EXPORT)
    grid_rows = ledger[ledger["counterparty"] == GRID]
    assert grid_rows["participant"].tolist() == ["a"]
    assert grid_rows["reason"].tolist() == ["grid_export"]
    assert grid_rows["energy_wh"].tolist() == [-200.0]
    assert grid_rows["price_usd_per_kwh"].tolist() == [EXPORT]
    paid = _paid(ledger)
    # a still pays 0.10 for the 1000 Wh it bought, and gets 200 Wh * 0.05 = 0.01 back.
    assert paid["a"] == pytest.approx(0.09, abs=1e-12)
    assert paid["b"] == pytest.approx(-0.10, abs=1e-12)


def test_seller_short_of_its_award_buys_the_shortfall_at_the_import_price() -> None:
    energy = pd.Series({"a": 1000.0, "b": -700.0})
    ledger = settle_interval(energy, _trades(("a", "b", 1000, 0.10)), IMPORT, EXPORT)
    grid_rows = ledger[ledger["counterparty"] == GRID]
    assert grid_rows["participant"].tolist() == ["b"]
    assert grid_rows["reason"].tolist() == ["grid_import"]
    assert grid_rows["energy_wh"].tolist() == [300.0]
    paid = _paid(ledger)
    # b receives 0.10 and pays 300 Wh * 0.15 = 0.045 for what it did not deliver.
    assert paid["b"] == pytest.approx(-0.055, abs=1e-12)
    assert paid["a"] == pytest.approx(0.10, abs=1e-12)


def test_several_trades_between_three_households() -> None:
    energy = pd.Series({"a": 700.0, "b": 300.0, "c": -1100.0})
    trades = _trades(("a", "c", 600, 0.12), ("b", "c", 400, 0.10), ("a", "c", 200, 0.11))
    ledger = settle_interval(energy, trades, 0.20, 0.05)
    assert len(ledger) == 9
    trade_rows = ledger[ledger["reason"] == "trade"]
    assert set(trade_rows.loc[trade_rows["participant"] == "a", "counterparty"]) == {"c"}
    assert sorted(trade_rows.loc[trade_rows["participant"] == "c", "counterparty"]) == [
        "a",
        "a",
        "b",
    ]
    paid = _paid(ledger)
    # a: 0.072 + 0.022 for 800 Wh bought, uses 700 -> 100 Wh exported at 0.05 = -0.005.
    assert paid["a"] == pytest.approx(0.089, abs=1e-12)
    # b: 0.040 for 400 Wh bought, uses 300 -> -0.005.
    assert paid["b"] == pytest.approx(0.035, abs=1e-12)
    # c: receives 0.134 for 1200 Wh sold, delivers 1100 -> 100 Wh bought at 0.20 = 0.02.
    assert paid["c"] == pytest.approx(-0.114, abs=1e-12)
    assert ledger["amount_usd"].sum() == pytest.approx(0.01, abs=1e-12)


def test_participant_that_meets_its_award_exactly_has_no_grid_row() -> None:
    energy = pd.Series({"a": 1000.0, "b": -1000.0})
    ledger = settle_interval(energy, _trades(("a", "b", 1000, 0.10)), IMPORT, EXPORT)
    assert (ledger["reason"] == "trade").all()
    assert len(ledger) == 2


@st.composite
def _intervals(draw: st.DrawFn) -> tuple[pd.Series, pd.DataFrame, float, float]:
    n = draw(st.integers(2, 5))
    names = [f"h{i:02d}" for i in range(n)]
    energy = draw(
        st.lists(
            st.floats(-10_000, 10_000, allow_nan=False, allow_infinity=False),
            min_size=n,
            max_size=n,
        )
    )
    rows = []
    for _ in range(draw(st.integers(0, 6))):
        buyer = draw(st.integers(0, n - 1))
        seller = draw(st.integers(0, n - 2))
        seller += seller >= buyer
        rows.append(
            (
                names[buyer],
                names[seller],
                draw(st.integers(1, 5000)),
                draw(st.floats(0.0, 0.5, allow_nan=False)),
            )
        )
    export = draw(st.floats(0.0, 0.2, allow_nan=False))
    import_ = export + draw(st.floats(0.0, 0.3, allow_nan=False))
    return pd.Series(energy, index=names), _trades(*rows), import_, export


@settings(max_examples=60, deadline=None)
@given(_intervals())
def test_ledger_balances(case: tuple[pd.Series, pd.DataFrame, float, float]) -> None:
    energy, trades, import_price, export_price = case
    ledger = settle_interval(energy, trades, import_price, export_price)
    trade_rows = ledger[ledger["reason"] == "trade"]
    grid_rows = ledger[ledger["counterparty"] == GRID]
    assert len(trade_rows) == 2 * len(trades)
    assert trade_rows["amount_usd"].sum() == pytest.approx(0.0, abs=1e-12)
    assert ledger["amount_usd"].sum() == pytest.approx(grid_rows["amount_usd"].sum(), abs=1e-12)
    received = ledger.groupby("participant")["energy_wh"].sum().reindex(energy.index, fill_value=0)
    np.testing.assert_allclose(received.to_numpy(), energy.to_numpy(), rtol=0, atol=1e-8)
    imports = grid_rows[grid_rows["reason"] == "grid_import"]
    exports = grid_rows[grid_rows["reason"] == "grid_export"]
    assert (imports["energy_wh"] > 0).all()
    assert (imports["price_usd_per_kwh"] == import_price).all()
    assert (exports["energy_wh"] < 0).all()
    assert (exports["price_usd_per_kwh"] == export_price).all()
    assert not grid_rows["participant"].duplicated().any()


def test_net_billing_with_scalar_prices() -> None:
    amount = net_billing_amount_usd(np.array([500.0, -400.0, 0.0]), 0.20, 0.05)
    np.testing.assert_allclose(amount, [0.10, -0.02, 0.0], rtol=0, atol=1e-15)


def test_net_billing_with_price_arrays() -> None:
    amount = net_billing_amount_usd(
        np.array([1000.0, -1000.0, 250.0]),
        np.array([0.30, 0.40, 0.20]),
        np.array([0.10, 0.20, 0.01]),
    )
    np.testing.assert_allclose(amount, [0.30, -0.20, 0.05], rtol=0, atol=1e-15)
