"""Settlement over random intervals: money balances, delivery rules, and the checks pass."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_double_auction_properties import order_books

from tefed.domain.market.ledger_checks import check_ledger
from tefed.domain.market.mechanisms.double_auction import (
    POOLS,
    SETTLEMENT_RULES,
    TIE_BREAKING,
    clear_double_auction,
)
from tefed.domain.market.settlement import (
    GRID,
    UNUSED_ENERGY_RULES,
    net_billing_amount_usd,
    settle_interval,
)

PV, BATTERY = POOLS


@st.composite
def intervals(draw: st.DrawFn) -> tuple[pd.Series, pd.DataFrame, float, float]:
    """Metered energy of 2-5 households, up to 6 trades between them (both pools), prices."""
    n = draw(st.integers(2, 5))
    names = [f"h{i:02d}" for i in range(n)]
    whole = st.integers(-3_000, 3_000).map(float)
    energy = draw(st.lists(st.one_of(whole, st.floats(-10_000, 10_000)), min_size=n, max_size=n))
    rows = []
    for _ in range(draw(st.integers(0, 6))):
        buyer = draw(st.integers(0, n - 1))
        seller = draw(st.integers(0, n - 2))
        seller += seller >= buyer
        rows.append(
            {
                "buyer": names[buyer],
                "seller": names[seller],
                "quantity_wh": draw(st.integers(1, 5000)),
                "price_usd_per_kwh": draw(st.floats(0.0, 0.5)),
                "pool": draw(st.sampled_from(POOLS)),
            }
        )
    trades = pd.DataFrame(
        rows, columns=["buyer", "seller", "quantity_wh", "price_usd_per_kwh", "pool"]
    ).astype({"quantity_wh": "int64", "price_usd_per_kwh": "float64"})
    export = draw(st.floats(0.0, 0.2))
    import_ = export + draw(st.floats(0.0, 0.3))
    return pd.Series(energy, index=names), trades, import_, export


def awards(trades: pd.DataFrame, column: str, index: pd.Index) -> pd.DataFrame:
    """Awarded energy per participant (rows) and pool (columns) [Wh]."""
    table = trades.groupby([column, "pool"])["quantity_wh"].sum().unstack()
    return table.reindex(index=index, columns=list(POOLS)).fillna(0.0)


@settings(max_examples=60, deadline=None)
@given(intervals(), st.sampled_from(UNUSED_ENERGY_RULES))
def test_ledger_balances_and_follows_the_delivery_rules(case: tuple, unused_energy: str) -> None:
    energy, trades, import_price, export_price = case
    ledger = settle_interval(energy, trades, import_price, export_price, unused_energy)
    trade_rows = ledger[ledger["reason"] == "trade"]
    grid_rows = ledger[ledger["counterparty"] == GRID]
    # Unused energy handed back from buyers to sellers (T-REX rule 10), free of charge.
    returned_rows = ledger[(ledger["reason"] == "unused") & (ledger["counterparty"] != GRID)]
    assert len(trade_rows) + len(grid_rows) + len(returned_rows) == len(ledger)
    assert (returned_rows["amount_usd"] == 0).all()
    assert returned_rows["energy_wh"].sum() == pytest.approx(0.0, abs=1e-6)
    if unused_energy == "buyer_credited":
        assert returned_rows.empty
    assert len(trade_rows) == 2 * len(trades)
    assert trade_rows["amount_usd"].sum() == pytest.approx(0.0, abs=1e-12)
    assert ledger["amount_usd"].sum() == pytest.approx(grid_rows["amount_usd"].sum(), abs=1e-12)
    np.testing.assert_allclose(
        ledger["amount_usd"], ledger["energy_wh"] / 1000 * ledger["price_usd_per_kwh"]
    )
    received = ledger.groupby("participant")["energy_wh"].sum().reindex(energy.index, fill_value=0)
    np.testing.assert_allclose(received.to_numpy(), energy.to_numpy(), rtol=0, atol=1e-8)

    # The rules only label the net billing of each deviation D = E - A - R (R: energy returned).
    bought, sold = awards(trades, "buyer", energy.index), awards(trades, "seller", energy.index)
    returned = returned_rows.groupby("participant")["energy_wh"].sum()
    deviation = (
        energy
        - (bought.sum(axis=1) - sold.sum(axis=1))
        - returned.reindex(energy.index, fill_value=0.0)
    )
    grid_usd = grid_rows.groupby("participant")["amount_usd"].sum().reindex(energy.index)
    np.testing.assert_allclose(
        grid_usd.fillna(0.0).to_numpy(),
        net_billing_amount_usd(deviation.to_numpy(), import_price, export_price),
        rtol=0,
        atol=1e-12,
    )

    by_reason = {reason: grid_rows[grid_rows["reason"] == reason] for reason in REASON_RULES}
    for reason, (sign, side, price, pooled) in REASON_RULES.items():
        rows = by_reason[reason]
        assert (np.sign(rows["energy_wh"]) == sign).all()
        assert (rows["side"] == side).all()
        assert (
            rows["price_usd_per_kwh"] == (import_price if price == "import" else export_price)
        ).all()
        assert rows["pool"].isin(POOLS).all() if pooled else (rows["pool"] == "").all()
        assert not rows[["participant", "pool"]].duplicated().any()
        positive = deviation[rows["participant"]].to_numpy() > 0
        assert (positive if sign > 0 else ~positive).all()

    shortfall = by_reason["shortfall"].pivot(
        index="participant", columns="pool", values="energy_wh"
    )
    shortfall = shortfall.reindex(index=energy.index, columns=list(POOLS)).fillna(0.0)
    unused = -by_reason["unused"].pivot(index="participant", columns="pool", values="energy_wh")
    unused = unused.reindex(index=energy.index, columns=list(POOLS)).fillna(0.0)
    tolerance = 1e-9 * (1 + sold.to_numpy())
    assert (shortfall.to_numpy() <= sold.to_numpy() + tolerance).all()
    assert (unused.to_numpy() <= bought.to_numpy() + 1e-9 * (1 + bought.to_numpy())).all()
    # PV sales fall short before battery sales, PV purchases go unused before battery ones.
    assert ((shortfall[BATTERY] == 0) | np.isclose(shortfall[PV], sold[PV])).all()
    assert ((unused[BATTERY] == 0) | np.isclose(unused[PV], bought[PV])).all()
    # Plain grid rows only beyond what was sold (import) or bought (export).
    importing = by_reason["grid_import"]["participant"]
    np.testing.assert_allclose(shortfall.sum(axis=1)[importing], sold.sum(axis=1)[importing])
    exporting = by_reason["grid_export"]["participant"]
    np.testing.assert_allclose(unused.sum(axis=1)[exporting], bought.sum(axis=1)[exporting])

    # Delivery rows follow the order of energy_wh.
    order = grid_rows["participant"].map({name: k for k, name in enumerate(energy.index)})
    assert order.is_monotonic_increasing
    assert check_ledger(ledger, trades.assign(buy_order_id="", sell_order_id=""), ORDERLESS) == []


#: Per delivery reason: sign of energy_wh, side, price, tied to a pool.
REASON_RULES = {
    "shortfall": (1, "buy", "import", True),
    "unused": (-1, "sell", "export", True),
    "grid_import": (1, "buy", "import", False),
    "grid_export": (-1, "sell", "export", False),
}
ORDERLESS = pd.DataFrame(
    columns=["order_id", "participant", "side", "quantity_wh", "price_usd_per_kwh"]
)


@settings(max_examples=80, deadline=None)
@given(
    orders=order_books(),
    settlement_rule=st.sampled_from(SETTLEMENT_RULES),
    tie_breaking=st.sampled_from(TIE_BREAKING),
    data=st.data(),
)
def test_cleared_and_settled_interval_passes_the_checks(
    orders: pd.DataFrame, settlement_rule: str, tie_breaking: str, data: st.DataObject
) -> None:
    trades = clear_double_auction(orders, settlement_rule, tie_breaking).trades
    participants = sorted(set(orders["participant"]) | {"h09"})
    metered = data.draw(
        st.lists(
            st.integers(-2_000, 2_000).map(float),
            min_size=len(participants),
            max_size=len(participants),
        )
    )
    energy = pd.Series(metered, index=participants)
    ledger = settle_interval(energy, trades, 0.1449, 0.069)
    assert check_ledger(ledger, trades, orders) == []
    trade_rows = ledger[ledger["reason"] == "trade"]
    assert abs(trade_rows["amount_usd"].sum()) <= 1e-9
