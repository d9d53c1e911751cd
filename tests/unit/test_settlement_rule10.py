"""T-REX rule 10: unused awarded energy is paid to its sellers and exported on their account."""

from __future__ import annotations

import pandas as pd
import pytest

from tefed.domain.market.ledger_checks import check_payments
from tefed.domain.market.settlement import settle_interval

IMPORT, EXPORT = 0.15, 0.05
# a buys 600 Wh from b at 0.10 and 400 Wh from c at 0.12, and uses only 500 Wh; b and c deliver
# what they sold. The 500 Wh a left unused flowed to the grid.
TRADES = pd.DataFrame(
    {
        "buyer": ["a", "a"],
        "seller": ["b", "c"],
        "quantity_wh": [600, 400],
        "price_usd_per_kwh": [0.10, 0.12],
    }
)
ENERGY = pd.Series({"a": 500.0, "b": -600.0, "c": -400.0})


def bills(ledger: pd.DataFrame) -> dict[str, float]:
    return ledger.groupby("participant")["amount_usd"].sum().round(10).to_dict()


def test_unused_energy_is_exported_by_its_sellers_in_proportion_to_their_trades() -> None:
    ledger = settle_interval(ENERGY, TRADES, IMPORT, EXPORT)
    # a pays both trades in full: 600·0.10 + 400·0.12 = 0.108 USD, and gets no credit.
    # The 500 Wh go back 300 : 200 (600 : 400); b and c export them at 0.05 USD/kWh.
    assert bills(ledger) == {
        "a": pytest.approx(0.108),
        "b": pytest.approx(-0.060 - 0.015),
        "c": pytest.approx(-0.048 - 0.010),
    }
    returned = ledger[(ledger["reason"] == "unused") & (ledger["counterparty"] != "grid")]
    assert returned[["participant", "counterparty", "energy_wh", "amount_usd"]].to_numpy(
        dtype=object
    ).tolist() == [
        ["a", "b", -300.0, 0.0],
        ["a", "c", -200.0, 0.0],
        ["b", "a", 300.0, 0.0],
        ["c", "a", 200.0, 0.0],
    ]
    exports = ledger[ledger["reason"] == "grid_export"]
    assert dict(zip(exports["participant"], exports["energy_wh"], strict=True)) == {
        "b": -300.0,
        "c": -200.0,
    }
    # Every participant's rows add up to its metered energy; trade payments cancel.
    assert ledger.groupby("participant")["energy_wh"].sum().to_dict() == ENERGY.to_dict()
    assert check_payments(ledger) == []


def test_buyer_credited_keeps_the_former_rule() -> None:
    ledger = settle_interval(ENERGY, TRADES, IMPORT, EXPORT, "buyer_credited")
    # a: 0.108 − 500 Wh · 0.05 = 0.083; b and c are paid their trades only.
    assert bills(ledger) == {
        "a": pytest.approx(0.083),
        "b": pytest.approx(-0.060),
        "c": pytest.approx(-0.048),
    }


def test_the_grid_pays_the_same_under_both_rules() -> None:
    for rule in ("seller_exports", "buyer_credited"):
        ledger = settle_interval(ENERGY, TRADES, IMPORT, EXPORT, rule)
        grid_usd = ledger.loc[ledger["counterparty"] == "grid", "amount_usd"].sum()
        assert grid_usd == pytest.approx(-0.025)  # 500 Wh exported at 0.05 USD/kWh


def test_a_seller_short_of_its_sale_nets_the_returned_energy() -> None:
    # b delivered only 500 of its 600 Wh (shortfall 100) while a returns 300 Wh to it:
    # b's deviation is 100 − 300 = −200 Wh, exported at 0.05.
    energy = pd.Series({"a": 500.0, "b": -500.0, "c": -400.0})
    ledger = settle_interval(energy, TRADES, IMPORT, EXPORT)
    b_rows = ledger[(ledger["participant"] == "b") & (ledger["counterparty"] == "grid")]
    assert b_rows[["reason", "energy_wh"]].to_numpy(dtype=object).tolist() == [
        ["grid_export", -200.0]
    ]


def test_energy_bought_from_a_central_counterparty_stays_with_the_buyer() -> None:
    trades = TRADES.assign(seller=["b", "market"])
    energy = pd.Series({"a": 500.0, "b": -600.0})
    ledger = settle_interval(energy, trades, IMPORT, EXPORT)
    # 300 Wh go back to b; the 200 Wh bought from the market are credited to a.
    a_grid = ledger[(ledger["participant"] == "a") & (ledger["counterparty"] == "grid")]
    assert a_grid[["reason", "energy_wh"]].to_numpy(dtype=object).tolist() == [["unused", -200.0]]


def test_unknown_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="unused_energy: got 'nobody'"):
        settle_interval(ENERGY, TRADES, IMPORT, EXPORT, "nobody")
