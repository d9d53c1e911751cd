"""Communities of communities: local markets, the upper market, communities on the feeder."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tefed.domain.market.clearing import ClearingPrices, CommunityMarkets
from tefed.domain.market.interval_book import IntervalBook
from tefed.domain.market.ledger_checks import check_payments, check_trades
from tefed.domain.market.mechanisms.community_markets import clear_communities, clear_upper_market
from tefed.domain.market.mechanisms.double_auction import clear_double_auction
from tefed.domain.market.settlement import settle_interval
from tefed.domain.network.radial import RadialNetwork
from tefed.domain.network.trade_paths import feeding_transformers

COMMUNITY = pd.Series({"a1": "A", "a2": "A", "a3": "A", "b1": "B", "b2": "B"})
#: Households that each order on one side only, as the built-in households do in an interval.
ONE_SIDED = pd.Series(
    {f"{who}-{side}": community for who, community in COMMUNITY.items() for side in ("b", "s")}
)


def orders(rows: list[tuple[str, str, int, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": [f"o{k}" for k in range(len(rows))],
            "participant": [who for who, _, _, _ in rows],
            "side": [side for _, side, _, _ in rows],
            "quantity_wh": np.array([q for _, _, q, _ in rows], dtype=np.int64),
            "price_usd_per_kwh": [p for _, _, _, p in rows],
            "pool": "non_dispatchable",
            "sequence": np.arange(len(rows), dtype=np.int64),
        }
    )


def test_two_communities_clear_inside_then_their_residuals_across():
    # A: a1 sells 500 Wh at 0.07, a2 buys 200 Wh at 0.13, a3 buys 100 Wh at 0.09.
    # Locally a2 and a3 take 300 Wh of a1's 500; the last matched pair is (0.09, 0.07): A's
    # price is 0.08. A's residual: a1's 200 Wh ask at 0.07.
    # B: b1 buys 300 Wh at 0.12, b2 sells 100 Wh at 0.125: no local crossing.
    # Across: a1's 200 Wh at 0.07 against b1's 300 Wh at 0.12: 200 Wh at 0.095.
    book = orders(
        [
            ("a1", "sell", 500, 0.07),
            ("a2", "buy", 200, 0.13),
            ("a3", "buy", 100, 0.09),
            ("b1", "buy", 300, 0.12),
            ("b2", "sell", 100, 0.125),
        ]
    )
    result = clear_communities(book, COMMUNITY)
    trades = result.trades
    local = trades[trades["level"] == "community"]
    upper = trades[trades["level"] == "upper"]
    assert sorted(zip(local["buyer"], local["quantity_wh"], strict=True)) == [
        ("a2", 200),
        ("a3", 100),
    ]
    np.testing.assert_allclose(local["price_usd_per_kwh"], 0.08)
    assert upper[["seller", "buyer", "quantity_wh"]].to_numpy().tolist() == [["a1", "b1", 200]]
    assert upper["price_usd_per_kwh"].iloc[0] == pytest.approx(0.095)
    assert result.upper_price_usd_per_kwh == {"non_dispatchable": pytest.approx(0.095)}
    table = result.communities.set_index("community")
    assert table.loc["A", "local_price_usd_per_kwh"] == pytest.approx(0.08)
    assert np.isnan(table.loc["B", "local_price_usd_per_kwh"])
    assert table.loc["A", ["local_energy_wh", "upper_bought_wh", "upper_sold_wh"]].tolist() == [
        300,
        0,
        200,
    ]
    assert table.loc["B", ["local_energy_wh", "upper_bought_wh", "upper_sold_wh"]].tolist() == [
        0,
        200,
        0,
    ]
    assert result.status == "cleared"


def test_the_mechanism_names_prices_per_community_and_across():
    rows = orders(
        [("a1", "sell", 500, 0.07), ("a2", "buy", 200, 0.13), ("b1", "buy", 300, 0.12)]
    ).assign(divisible=True, expires_time_s=np.nan, received_time_s=0)
    book = IntervalBook.from_rows(2, 900, rows.to_dict("records"), [], [])
    outcome = CommunityMarkets(COMMUNITY).clear(book, ClearingPrices(0.15, 0.05))
    prices = outcome.prices_usd_per_kwh
    assert prices["community:A:non_dispatchable"] == pytest.approx(0.10)
    assert prices["upper:non_dispatchable"] == pytest.approx(0.095)
    assert "level" not in outcome.trades.columns
    assert outcome.tables["communities"]["upper_price_usd_per_kwh"].tolist() == pytest.approx(
        [0.095, 0.095]
    )


def test_a_participant_without_a_community_is_named():
    with pytest.raises(ValueError, match=r"orders.participant: got \['x'\] without a community"):
        clear_communities(orders([("x", "buy", 100, 0.1)]), COMMUNITY)


def test_each_household_belongs_to_the_transformer_that_feeds_it():
    network = RadialNetwork.from_branches(
        pd.DataFrame(
            {
                "branch": ["Line.mv1", "Transformer.t1", "Line.mv2", "Transformer.t2", "Line.h"],
                "from_bus": ["src", "m1", "m1", "m2", "l2"],
                "to_bus": ["m1", "l1", "m2", "l2", "h"],
                "kind": ["line", "transformer", "line", "transformer", "line"],
                "phases": [3] * 5,
                "resistance_ohm": [0.1] * 5,
                "reactance_ohm": [0.0] * 5,
                "base_kv_ln": [11.5, 0.23, 11.5, 0.23, 0.23],
                "rating_kva": [1000.0, 250.0, 1000.0, 250.0, 60.0],
            }
        ),
        "src",
    )
    fed_by = pd.Series(feeding_transformers(network), index=network.buses)
    assert fed_by[["src", "m1", "m2"]].tolist() == ["feeder"] * 3
    assert fed_by[["l1", "l2", "h"]].tolist() == [
        "Transformer.t1",
        "Transformer.t2",
        "Transformer.t2",
    ]


one_sided_rows = st.lists(
    st.tuples(
        st.sampled_from(sorted(COMMUNITY.index)),
        st.sampled_from(["buy", "sell"]),
        st.integers(1, 1000),
        st.floats(0.0, 0.2),
    ),
    max_size=16,
).map(lambda rows: [(f"{who}-{side[0]}", side, q, p) for who, side, q, p in rows])


@settings(max_examples=150, deadline=None)
@given(rows=one_sided_rows, data=st.data())
def test_the_upper_market_is_the_double_auctions_uniform_rule_with_time_priority(rows, data):
    # Over both pools: the upper market walks them as the double auction does (one shared pool
    # walk), the PV pool's unfilled bids moving on to the batteries (T-REX's pools); within a
    # pool it matches by cumulative quantities instead of the double auction's order walk.
    book = orders(rows)
    book["pool"] = data.draw(
        st.lists(
            st.sampled_from(["non_dispatchable", "dispatchable"]),
            min_size=len(rows),
            max_size=len(rows),
        )
    )
    ours = clear_upper_market(book)
    oracle = clear_double_auction(book, "uniform", "time")
    pd.testing.assert_frame_equal(
        ours.trades.reset_index(drop=True),
        oracle.trades[list(ours.trades.columns)].reset_index(drop=True),
        check_dtype=False,
    )
    assert ours.status == oracle.status
    finite = {k: v for k, v in oracle.clearing_price_usd_per_kwh.items() if np.isfinite(v)}
    assert ours.price_usd_per_kwh == finite


def test_with_a_participant_on_both_sides_the_upper_market_skips_its_self_trade():
    book = orders([("a1", "buy", 100, 0.12), ("a1", "sell", 100, 0.08), ("b1", "sell", 100, 0.1)])
    result = clear_upper_market(book)
    assert result.trades[["buyer", "seller"]].to_numpy().tolist() == [["a1", "b1"]]


@settings(max_examples=60, deadline=None)
@given(rows=one_sided_rows, ties=st.sampled_from(["time", "pro_rata"]))
def test_awards_stay_within_orders_trades_cross_only_between_communities_and_money_balances(
    rows, ties
):
    book = orders(rows)
    result = clear_communities(book, ONE_SIDED, ties)
    trades = result.trades
    assert check_trades(trades, book) == []
    upper = trades[trades["level"] == "upper"]
    assert (ONE_SIDED[upper["buyer"]].to_numpy() != ONE_SIDED[upper["seller"]].to_numpy()).all()
    local = trades[trades["level"] == "community"]
    assert (ONE_SIDED[local["buyer"]].to_numpy() == ONE_SIDED[local["seller"]].to_numpy()).all()
    filled = pd.concat(
        [
            trades.groupby("buy_order_id")["quantity_wh"].sum(),
            trades.groupby("sell_order_id")["quantity_wh"].sum(),
        ]
    )
    quantity = book.set_index("order_id")["quantity_wh"]
    assert (filled <= quantity.reindex(filled.index)).all()
    energy_wh = pd.Series(0.0, index=ONE_SIDED.index)
    assert check_payments(settle_interval(energy_wh, trades, 0.15, 0.05)) == []
    table = result.communities
    bought, sold = table["upper_bought_wh"].sum(), table["upper_sold_wh"].sum()
    assert bought == sold == upper["quantity_wh"].sum()
