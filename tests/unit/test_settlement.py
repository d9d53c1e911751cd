"""Settlement: hand-computed MicroTE ledgers (shortfall, unused, grid rows) and net billing,
under the former rule (`buyer_credited`); T-REX rule 10 is in test_settlement_rule10.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tefed.domain.market.settlement import (
    GRID,
    LEDGER_COLUMNS,
    REASONS,
    net_billing_amount_usd,
    settle_interval,
)

IMPORT = 0.15
EXPORT = 0.05
PV, BATTERY = "non_dispatchable", "dispatchable"


def _trades(*rows: tuple) -> pd.DataFrame:
    """Trades from (buyer, seller, quantity_wh, price_usd_per_kwh[, pool]) rows."""
    frame = pd.DataFrame(
        {
            "buyer": pd.Series([row[0] for row in rows], dtype=object),
            "seller": pd.Series([row[1] for row in rows], dtype=object),
            "quantity_wh": pd.Series([row[2] for row in rows], dtype="int64"),
            "price_usd_per_kwh": pd.Series([row[3] for row in rows], dtype=float),
        }
    )
    if rows and all(len(row) == 5 for row in rows):
        frame["pool"] = [row[4] for row in rows]
    return frame


def _paid(ledger: pd.DataFrame) -> dict[str, float]:
    return ledger.groupby("participant")["amount_usd"].sum().to_dict()


def _delivery(ledger: pd.DataFrame) -> list[tuple]:
    """(participant, reason, pool, side, energy_wh, price) of the non-trade rows, in order."""
    rows = ledger[ledger["reason"] != "trade"]
    assert (rows["counterparty"] == GRID).all()
    columns = ["participant", "reason", "pool", "side", "energy_wh", "price_usd_per_kwh"]
    return list(rows[columns].itertuples(index=False, name=None))


def test_docstring_example_unused_and_shortfall() -> None:
    # a bought 1000 Wh from b at 0.10 and used 800; b delivered 900.
    energy = pd.Series({"a": 800.0, "b": -900.0})
    ledger = settle_interval(
        energy, _trades(("a", "b", 1000, 0.10)), IMPORT, EXPORT, "buyer_credited"
    )
    assert list(ledger.columns) == list(LEDGER_COLUMNS)
    assert dict(ledger.dtypes.astype(str)) == LEDGER_COLUMNS
    columns = ["participant", "counterparty", "pool", "side", "energy_wh"]
    trade_rows = ledger.loc[ledger["reason"] == "trade", columns]
    assert trade_rows.to_numpy().tolist() == [
        ["a", "b", PV, "buy", 1000.0],
        ["b", "a", PV, "sell", -1000.0],
    ]
    assert _delivery(ledger) == [
        ("a", "unused", PV, "sell", -200.0, EXPORT),
        ("b", "shortfall", PV, "buy", 100.0, IMPORT),
    ]
    paid = _paid(ledger)
    # a: 0.10 for the trade - 200 Wh × 0.05; b: -0.10 + 100 Wh × 0.15.
    assert paid["a"] == pytest.approx(0.09, abs=1e-12)
    assert paid["b"] == pytest.approx(-0.085, abs=1e-12)


def test_buyer_using_more_imports_and_short_seller_buys_its_shortfall() -> None:
    energy = pd.Series({"a": 1200.0, "b": -900.0})
    ledger = settle_interval(
        energy, _trades(("a", "b", 1000, 0.10)), IMPORT, EXPORT, "buyer_credited"
    )
    assert _delivery(ledger) == [
        ("a", "grid_import", "", "buy", 200.0, IMPORT),
        ("b", "shortfall", PV, "buy", 100.0, IMPORT),
    ]
    paid = _paid(ledger)
    # a: 0.10 + 200 Wh × 0.15 = 0.13; b: -0.10 + 100 Wh × 0.15 = -0.085.
    assert paid["a"] == pytest.approx(0.13, abs=1e-12)
    assert paid["b"] == pytest.approx(-0.085, abs=1e-12)


def test_seller_that_delivers_nothing_and_imports() -> None:
    # b sold 1000 Wh but drew 200 Wh: the whole sale is a shortfall, the 200 Wh plain import.
    energy = pd.Series({"a": 1000.0, "b": 200.0})
    ledger = settle_interval(
        energy, _trades(("a", "b", 1000, 0.10)), IMPORT, EXPORT, "buyer_credited"
    )
    assert _delivery(ledger) == [
        ("b", "shortfall", PV, "buy", 1000.0, IMPORT),
        ("b", "grid_import", "", "buy", 200.0, IMPORT),
    ]
    # b: -0.10 + 1000 Wh × 0.15 + 200 Wh × 0.15 = 0.08; a pays its trade only.
    assert _paid(ledger) == pytest.approx({"a": 0.10, "b": 0.08}, abs=1e-12)


def test_buyer_that_uses_nothing_and_exports() -> None:
    # a bought 1000 Wh but fed 300 Wh in: 1000 Wh unused, 300 Wh plain export.
    energy = pd.Series({"a": -300.0, "b": -1000.0})
    ledger = settle_interval(
        energy, _trades(("a", "b", 1000, 0.10)), IMPORT, EXPORT, "buyer_credited"
    )
    assert _delivery(ledger) == [
        ("a", "unused", PV, "sell", -1000.0, EXPORT),
        ("a", "grid_export", "", "sell", -300.0, EXPORT),
    ]
    # a: 0.10 - 1000 Wh × 0.05 - 300 Wh × 0.05 = 0.035.
    assert _paid(ledger) == pytest.approx({"a": 0.035, "b": -0.10}, abs=1e-12)


def test_seller_delivering_more_exports_the_rest() -> None:
    energy = pd.Series({"a": 1000.0, "b": -1300.0})
    ledger = settle_interval(
        energy, _trades(("a", "b", 1000, 0.10)), IMPORT, EXPORT, "buyer_credited"
    )
    assert _delivery(ledger) == [("b", "grid_export", "", "sell", -300.0, EXPORT)]
    # b: -0.10 - 300 Wh × 0.05 = -0.115.
    assert _paid(ledger)["b"] == pytest.approx(-0.115, abs=1e-12)


def test_shortfall_falls_on_pv_sales_first() -> None:
    # s sold 600 Wh of PV to a and 400 Wh of battery energy to b, then delivered 700 Wh: the
    # 300 Wh short are PV (battery deliveries count first, as T-REX settles them first).
    trades = _trades(("a", "s", 600, 0.10, PV), ("b", "s", 400, 0.12, BATTERY))
    ledger = settle_interval(
        pd.Series({"a": 600.0, "b": 400.0, "s": -700.0}), trades, 0.2, 0.05, "buyer_credited"
    )
    assert _delivery(ledger) == [("s", "shortfall", PV, "buy", 300.0, 0.2)]
    # Delivering 200 Wh: 600 Wh of PV and 200 Wh of battery energy short.
    ledger = settle_interval(
        pd.Series({"a": 600.0, "b": 400.0, "s": -200.0}), trades, 0.2, 0.05, "buyer_credited"
    )
    assert _delivery(ledger) == [
        ("s", "shortfall", PV, "buy", 600.0, 0.2),
        ("s", "shortfall", BATTERY, "buy", 200.0, 0.2),
    ]
    # s: -(0.06 + 0.048) + 800 Wh × 0.2 = 0.052.
    assert _paid(ledger)["s"] == pytest.approx(0.052, abs=1e-12)
    trade_pools = ledger.loc[ledger["reason"] == "trade", "pool"].tolist()
    assert trade_pools == [PV, BATTERY, PV, BATTERY]


@pytest.mark.parametrize(
    ("metered_wh", "expected"),
    [
        # c bought 500 Wh of battery energy from d and sold 300 Wh of PV to e: A = 200 Wh.
        # D = +200: its own PV sale fell short by 200 Wh (up to the 300 Wh it sold).
        (400.0, [("c", "shortfall", PV, "buy", 200.0, IMPORT)]),
        # D = +800: 300 Wh short (all it sold), the other 500 Wh plain import.
        (
            1000.0,
            [
                ("c", "shortfall", PV, "buy", 300.0, IMPORT),
                ("c", "grid_import", "", "buy", 500.0, IMPORT),
            ],
        ),
        # D = -300: 300 of the 500 Wh it bought went unused.
        (-100.0, [("c", "unused", BATTERY, "sell", -300.0, EXPORT)]),
        # D = -700: all 500 Wh bought unused, 200 Wh plain export.
        (
            -500.0,
            [
                ("c", "unused", BATTERY, "sell", -500.0, EXPORT),
                ("c", "grid_export", "", "sell", -200.0, EXPORT),
            ],
        ),
        (200.0, []),
    ],
)
def test_participant_that_both_bought_and_sold(metered_wh: float, expected: list) -> None:
    trades = _trades(("c", "d", 500, 0.12, BATTERY), ("e", "c", 300, 0.09, PV))
    energy = pd.Series({"c": metered_wh, "d": -500.0, "e": 300.0})
    ledger = settle_interval(energy, trades, IMPORT, EXPORT, "buyer_credited")
    assert _delivery(ledger) == expected


def test_several_trades_between_three_households() -> None:
    energy = pd.Series({"a": 700.0, "b": 300.0, "c": -1100.0})
    trades = _trades(("a", "c", 600, 0.12), ("b", "c", 400, 0.10), ("a", "c", 200, 0.11))
    ledger = settle_interval(energy, trades, 0.20, 0.05, "buyer_credited")
    assert len(ledger) == 9
    assert _delivery(ledger) == [
        ("a", "unused", PV, "sell", -100.0, 0.05),
        ("b", "unused", PV, "sell", -100.0, 0.05),
        ("c", "shortfall", PV, "buy", 100.0, 0.20),
    ]
    paid = _paid(ledger)
    # a: 0.072 + 0.022 for 800 Wh bought, uses 700 -> 100 Wh unused at 0.05 = -0.005.
    assert paid["a"] == pytest.approx(0.089, abs=1e-12)
    # b: 0.040 for 400 Wh bought, uses 300 -> -0.005.
    assert paid["b"] == pytest.approx(0.035, abs=1e-12)
    # c: receives 0.134 for 1200 Wh sold, delivers 1100 -> 100 Wh shortfall at 0.20 = 0.02.
    assert paid["c"] == pytest.approx(-0.114, abs=1e-12)
    assert ledger["amount_usd"].sum() == pytest.approx(0.01, abs=1e-12)


def test_household_without_trades_importing_and_exporting() -> None:
    ledger = settle_interval(
        pd.Series({"a": 500.0, "b": -400.0}), _trades(), IMPORT, EXPORT, "buyer_credited"
    )
    assert _delivery(ledger) == [
        ("a", "grid_import", "", "buy", 500.0, IMPORT),
        ("b", "grid_export", "", "sell", -400.0, EXPORT),
    ]
    assert ledger["amount_usd"].tolist() == pytest.approx([0.075, -0.02], abs=1e-12)


def test_household_with_zero_energy_and_no_trades_has_no_rows() -> None:
    ledger = settle_interval(pd.Series({"a": 0.0}), _trades(), IMPORT, EXPORT, "buyer_credited")
    assert ledger.empty
    assert dict(ledger.dtypes.astype(str)) == LEDGER_COLUMNS


def test_participant_that_meets_its_award_exactly_has_no_grid_row() -> None:
    energy = pd.Series({"a": 1000.0, "b": -1000.0})
    ledger = settle_interval(
        energy, _trades(("a", "b", 1000, 0.10)), IMPORT, EXPORT, "buyer_credited"
    )
    assert (ledger["reason"] == "trade").all()
    assert len(ledger) == 2


def test_a_buyer_returning_its_unused_energy_over_several_trades_has_no_grid_row() -> None:
    # a bought 749 + 156 + 1 = 906 Wh from b and used 1 Wh: it returns 905 Wh to b, split
    # 748.17 / 155.83 / 0.999 over the trades, whose float sum misses 905 by about 1e-13 Wh.
    # That rounding once billed a a grid import of 1.1e-13 Wh. b, which produced nothing,
    # still owes 906 - 905 = 1 Wh: its shortfall, bought from the grid.
    trades = _trades(("a", "b", 749, 0.0), ("a", "b", 156, 0.0), ("a", "b", 1, 0.0))
    ledger = settle_interval(pd.Series({"a": 1.0, "b": 0.0}), trades, IMPORT, EXPORT)
    grid = ledger[ledger["counterparty"] == GRID]
    assert grid["participant"].tolist() == ["b"]
    assert grid["reason"].tolist() == ["shortfall"]
    assert grid["energy_wh"].tolist() == pytest.approx([1.0], abs=1e-9)
    returned = ledger[(ledger["reason"] == "unused") & (ledger["participant"] == "a")]
    assert returned["energy_wh"].sum() == pytest.approx(-905.0)


def test_a_buyer_that_used_less_than_nothing_returns_all_it_bought_and_exports_the_rest():
    # a bought 41 + 1 + 1 = 43 Wh from b and metered an export of 4.2e-8 Wh: it returns all
    # 43 Wh to b, and the 4.2e-8 Wh beyond go to the grid at the export price. (A rule that
    # dropped a returning buyer's deviation below 1e-9 of what it returned once lost them.)
    trades = _trades(("a", "b", 41, 0.0), ("a", "b", 1, 0.0), ("a", "b", 1, 0.0))
    energy = pd.Series({"a": -4.238966616954612e-08, "b": 0.0})
    ledger = settle_interval(energy, trades, IMPORT, EXPORT)
    received = ledger.groupby("participant")["energy_wh"].sum()
    assert received["a"] == pytest.approx(energy["a"], rel=1e-6)
    exported = ledger[(ledger["participant"] == "a") & (ledger["counterparty"] == GRID)]
    assert exported["energy_wh"].tolist() == pytest.approx([energy["a"]], rel=1e-6)
    assert exported["price_usd_per_kwh"].tolist() == [EXPORT]
    returned = ledger[(ledger["reason"] == "unused") & (ledger["participant"] == "a")]
    assert returned["energy_wh"].sum() == pytest.approx(-43.0)


def test_central_counterparty_has_trade_rows_only() -> None:
    # A curve clearing sells a's 400 Wh to the market at 0.08; the market is not metered.
    energy = pd.Series({"a": -500.0})
    ledger = settle_interval(
        energy, _trades(("market", "a", 400, 0.08)), IMPORT, EXPORT, "buyer_credited"
    )
    assert ledger.loc[ledger["participant"] == "market", "reason"].tolist() == ["trade"]
    assert _delivery(ledger) == [("a", "grid_export", "", "sell", -100.0, EXPORT)]


def test_reasons_constant_lists_every_reason() -> None:
    assert REASONS == ("trade", "shortfall", "unused", "grid_import", "grid_export")


def test_unknown_trade_pool_is_rejected() -> None:
    trades = _trades(("a", "b", 100, 0.10, "wind"))
    with pytest.raises(ValueError, match=r"trades\.pool: got \['wind'\], expected one of"):
        settle_interval(
            pd.Series({"a": 100.0, "b": -100.0}), trades, IMPORT, EXPORT, "buyer_credited"
        )


def test_metered_energy_must_be_finite() -> None:
    with pytest.raises(ValueError, match=r"energy_wh: got \[nan\] for participant\(s\) \['b'\]"):
        settle_interval(
            pd.Series({"a": 100.0, "b": np.nan}), _trades(), IMPORT, EXPORT, "buyer_credited"
        )


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
