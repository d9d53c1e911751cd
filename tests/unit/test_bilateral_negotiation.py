"""P2P bilateral negotiation: hand-computed negotiations, pairing, grid refusals, properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tefed.domain.market.clearing import BilateralNegotiation, ClearingPrices
from tefed.domain.market.interval_book import IntervalBook
from tefed.domain.market.ledger_checks import check_payments
from tefed.domain.market.mechanisms.bilateral_negotiation import (
    ArmStatistics,
    NegotiationRules,
    clear_bilateral,
    negotiate,
    pair_orders,
)
from tefed.domain.market.settlement import charge_rows, settle_interval
from tefed.domain.market.trade_checks import check_trades
from tefed.domain.network.radial import RadialNetwork
from tefed.domain.network.trade_paths import overloading_pairs

IMPORT, EXPORT = 0.15, 0.05  # five arms: 0.05, 0.075, 0.10, 0.125, 0.15 USD/kWh


def rules(**changes) -> NegotiationRules:
    values = {
        "rounds": 10,
        "service_fee_usd_per_kwh": 0.0,
        "failure_penalty_usd_per_kwh": 0.01,
        "strategy": "ucb1",
        "price_arms": 5,
        "error_probability": 0.05,
    }
    return NegotiationRules(**(values | changes))


def orders(rows: list[tuple[str, str, int, float]]) -> pd.DataFrame:
    """Simple orders (participant, side, quantity [Wh], limit [USD/kWh]) in the book's form."""
    return pd.DataFrame(
        {
            "order_id": [f"{who}-{side}" for who, side, _, _ in rows],
            "participant": [who for who, _, _, _ in rows],
            "side": [side for _, side, _, _ in rows],
            "quantity_wh": np.array([q for _, _, q, _ in rows], dtype=np.int64),
            "price_usd_per_kwh": [p for _, _, _, p in rows],
            "pool": "non_dispatchable",
            "sequence": np.arange(len(rows), dtype=np.int64),
        }
    )


def test_a_fresh_pair_concedes_arm_by_arm_and_agrees_in_round_3_at_the_offer():
    # Producer (limit 0.06) offers 0.15, 0.125, 0.10; consumer (limit 0.15) bids 0.05, 0.075,
    # 0.10: they meet in round 3 at the producer's offer, 0.10.
    result = clear_bilateral(
        orders([("p", "sell", 400, 0.06), ("c", "buy", 300, 0.15)]),
        rules(service_fee_usd_per_kwh=0.002),
        ArmStatistics(5),
        IMPORT,
        EXPORT,
        "random",
        np.random.default_rng(0),
    )
    (row,) = result.negotiations.itertuples()
    assert (row.outcome, row.rounds, row.quantity_wh) == ("traded", 3, 300)
    # With a 0.002 fee the consumer bids at most 0.148 and the producer offers at least 0.062;
    # the arms are unchanged inside those limits.
    assert row.price_usd_per_kwh == pytest.approx(0.10)
    (trade,) = result.trades.itertuples()
    assert (trade.seller, trade.buyer, trade.quantity_wh) == ("p", "c", 300)
    assert trade.price_usd_per_kwh == pytest.approx(0.10)
    # Each party pays 300 Wh × 0.002 USD/kWh = 0.0006 USD to the market maker.
    assert sorted(result.charges["participant"]) == ["c", "p"]
    np.testing.assert_allclose(result.charges["amount_usd"], [0.0006, 0.0006])
    assert set(result.charges["reason"]) == {"service_fee"}
    assert result.status == "cleared"


def test_a_negotiation_without_agreement_fails_after_the_last_round_and_costs_both_a_penalty():
    # Producer limit 0.11 allows the offers 0.15 and 0.125, consumer limit 0.09 the bids 0.05
    # and 0.075: each plays its two arms, then (equal means, fewer plays first) again, and the
    # last round is 0.125 against 0.075. Never offer <= bid.
    result = clear_bilateral(
        orders([("p", "sell", 200, 0.11), ("c", "buy", 500, 0.09)]),
        rules(rounds=4),
        ArmStatistics(5),
        IMPORT,
        EXPORT,
        "random",
        np.random.default_rng(0),
    )
    (row,) = result.negotiations.itertuples()
    assert (row.outcome, row.rounds, row.quantity_wh) == ("failed", 4, 200)
    assert np.isnan(row.price_usd_per_kwh)
    assert row.offer_usd_per_kwh == pytest.approx(0.125)
    assert row.bid_usd_per_kwh == pytest.approx(0.075)
    assert result.trades.empty and result.status == "no_deal"
    # 200 Wh × 0.01 USD/kWh = 0.002 USD each.
    np.testing.assert_allclose(result.charges["amount_usd"], [0.002, 0.002])
    assert set(result.charges["reason"]) == {"penalty"}


def test_truthful_parties_agree_in_round_1_at_the_producers_limit_plus_fee():
    result = clear_bilateral(
        orders([("p", "sell", 100, 0.08), ("c", "buy", 100, 0.12)]),
        rules(strategy="truthful", service_fee_usd_per_kwh=0.01),
        ArmStatistics(5),
        IMPORT,
        EXPORT,
        "random",
        np.random.default_rng(0),
    )
    (row,) = result.negotiations.itertuples()
    assert (row.outcome, row.rounds) == ("traded", 1)
    assert row.price_usd_per_kwh == pytest.approx(0.09)


def test_the_bandit_learns_across_intervals_and_plays_the_arm_that_paid():
    statistics = ArmStatistics(5)
    rows = statistics.rows(np.array(["p", "c"], dtype=object))
    first = negotiate(
        np.array([0.06]), np.array([0.15]), rows[:1], rows[1:], rules(), statistics, IMPORT, EXPORT
    )
    assert int(first.rounds[0]) == 3
    # Rounds 1 and 2 paid nothing, round 3 a deal: the producer's arms 0, 1, 2 played once.
    assert statistics.plays[rows[0], 0].tolist() == [1, 1, 1, 0, 0]
    # Producer reward (0.10 - 0.05) / 0.10 = 0.5 on its third arm.
    assert statistics.reward_sum[rows[0], 0, 2] == pytest.approx(0.5)
    second = negotiate(
        np.array([0.06]), np.array([0.15]), rows[:1], rows[1:], rules(), statistics, IMPORT, EXPORT
    )
    # Unplayed arms come first: the producer offers 0.075, the consumer bids 0.125, a deal in
    # round 1 at the offer.
    assert int(second.rounds[0]) == 1
    assert second.offer_usd_per_kwh[0] == pytest.approx(0.075)


def test_max_weight_pairing_maximises_the_energy_pairs_could_trade():
    sells, buys = pair_orders(
        np.array([100, 500, 300]), np.array([450, 120]), "max_weight", np.random.default_rng(0)
    )
    pairs = sorted(zip(sells.tolist(), buys.tolist(), strict=True))
    # 500↔450 and 300↔120 trade 570 Wh; any other pairing less.
    assert pairs == [(1, 0), (2, 1)]


def test_random_pairing_is_the_seeded_permutation_and_pairs_min_of_both_sides():
    sells, buys = pair_orders(np.ones(4), np.ones(3), "random", np.random.default_rng(11))
    again = pair_orders(np.ones(4), np.ones(3), "random", np.random.default_rng(11))
    assert len(sells) == len(buys) == 3
    np.testing.assert_array_equal(sells, again[0])
    np.testing.assert_array_equal(buys, again[1])


def tiny_feeder() -> RadialNetwork:
    """s ─ t (transformer, 250 kVA) ─ a (100 kVA), b (2 kVA service cable)."""
    return RadialNetwork.from_branches(
        pd.DataFrame(
            {
                "branch": ["Transformer.t", "Line.a", "Line.b"],
                "from_bus": ["s", "t", "t"],
                "to_bus": ["t", "a", "b"],
                "kind": ["transformer", "line", "line"],
                "phases": [3, 3, 3],
                "resistance_ohm": [0.01, 0.1, 0.1],
                "reactance_ohm": [0.0, 0.0, 0.0],
                "base_kv_ln": [0.23, 0.23, 0.23],
                "rating_kva": [250.0, 100.0, 2.0],
            }
        ),
        "s",
    )


def test_a_pair_whose_trade_would_overload_a_cable_on_its_path_is_refused():
    network = tiny_feeder()
    bus = {"p": int(network.buses.get_loc("a")), "c": int(network.buses.get_loc("b"))}

    def overloads(sellers, buyers, quantity_wh):
        power_kw = quantity_wh * 3.6 / 900
        return overloading_pairs(
            network,
            np.array([bus[s] for s in sellers]),
            np.array([bus[b] for b in buyers]),
            power_kw,
        )

    # 1000 Wh in 15 minutes is 4 kW through b's 2 kVA cable: refused, no charges, no trade.
    result = clear_bilateral(
        orders([("p", "sell", 1000, 0.06), ("c", "buy", 1000, 0.15)]),
        rules(),
        ArmStatistics(5),
        IMPORT,
        EXPORT,
        "random",
        np.random.default_rng(0),
        overloads,
    )
    (row,) = result.negotiations.itertuples()
    assert (row.outcome, row.rounds) == ("refused", 0)
    assert result.trades.empty and result.charges.empty
    # 400 Wh is 1.6 kW: the same pair negotiates.
    smaller = clear_bilateral(
        orders([("p", "sell", 400, 0.06), ("c", "buy", 400, 0.15)]),
        rules(),
        ArmStatistics(5),
        IMPORT,
        EXPORT,
        "random",
        np.random.default_rng(0),
        overloads,
    )
    assert smaller.negotiations["outcome"].tolist() == ["traded"]


def test_max_weight_pairing_goes_round_a_refused_pair():
    network = tiny_feeder()
    # Seller p1 at b (2 kVA) can only sell to its own bus; seller p2 at a to anyone.
    position = {
        name: int(network.buses.get_loc(bus))
        for name, bus in {"p1": "b", "p2": "a", "c1": "a", "c2": "b"}.items()
    }

    def overloads(sellers, buyers, quantity_wh):
        return overloading_pairs(
            network,
            np.array([position[s] for s in sellers]),
            np.array([position[b] for b in buyers]),
            quantity_wh * 3.6 / 900,
        )

    result = clear_bilateral(
        orders(
            [
                ("p1", "sell", 1000, 0.06),
                ("p2", "sell", 1000, 0.06),
                ("c1", "buy", 1000, 0.15),
                ("c2", "buy", 1000, 0.15),
            ]
        ),
        rules(),
        ArmStatistics(5),
        IMPORT,
        EXPORT,
        "max_weight",
        np.random.default_rng(0),
        overloads,
    )
    pairs = set(zip(result.negotiations["seller"], result.negotiations["buyer"], strict=True))
    assert pairs == {("p1", "c2"), ("p2", "c1")}
    assert set(result.negotiations["outcome"]) == {"traded"}


def test_the_mechanism_clears_a_book_through_the_one_interface():
    book = IntervalBook.from_rows(
        4,
        900,
        orders([("p", "sell", 400, 0.06), ("c", "buy", 300, 0.15)])
        .assign(divisible=True, expires_time_s=np.nan, received_time_s=0)
        .to_dict("records"),
        [],
        [],
    )
    mechanism = BilateralNegotiation(rules(service_fee_usd_per_kwh=0.002), "random", seed=3)
    outcome = mechanism.clear(book, ClearingPrices(IMPORT, EXPORT))
    assert outcome.traded_energy_wh == 300
    assert outcome.prices_usd_per_kwh == {"pool:non_dispatchable": pytest.approx(0.10)}
    assert outcome.tables["negotiations"]["outcome"].tolist() == ["traded"]
    assert len(outcome.charges) == 2
    assert check_trades(outcome.trades, book.simple) == []


book_rows = st.lists(
    st.tuples(
        st.sampled_from(["h1", "h2", "h3", "h4", "h5", "h6"]),
        st.sampled_from(["buy", "sell"]),
        st.integers(1, 2000),
        st.floats(0.0, 0.2),
    ),
    min_size=0,
    max_size=14,
)


@settings(max_examples=60, deadline=None)
@given(
    rows=book_rows,
    pairing=st.sampled_from(["random", "max_weight"]),
    strategy=st.sampled_from(["ucb1", "truthful"]),
    fee=st.floats(0.0, 0.02),
    seed=st.integers(0, 100),
)
def test_awards_stay_within_orders_and_money_balances(rows, pairing, strategy, fee, seed):
    book = orders(rows)
    book["order_id"] = [f"o{k}" for k in range(len(book))]
    result = clear_bilateral(
        book,
        rules(strategy=strategy, service_fee_usd_per_kwh=fee, rounds=3),
        ArmStatistics(5),
        IMPORT,
        EXPORT,
        pairing,
        np.random.default_rng(seed),
    )
    assert check_trades(result.trades, book) == []
    # Each order is in at most one pair; a deal's price leaves both parties their fee.
    negotiations = result.negotiations
    assert negotiations["sell_order_id"].is_unique and negotiations["buy_order_id"].is_unique
    trades = result.trades
    assert (trades["price_usd_per_kwh"] >= trades["ask_price_usd_per_kwh"] + fee - 1e-12).all()
    assert (trades["price_usd_per_kwh"] <= trades["bid_price_usd_per_kwh"] - fee + 1e-12).all()
    participants = sorted(set(book["participant"]))
    energy_wh = pd.Series(np.zeros(len(participants)), index=participants)
    ledger = pd.concat(
        [settle_interval(energy_wh, trades, IMPORT, EXPORT), charge_rows(result.charges)],
        ignore_index=True,
    )
    assert check_payments(ledger) == []
    market = ledger[ledger["participant"] == "market"]["amount_usd"].sum()
    paid = ledger[ledger["counterparty"] == "market"]["amount_usd"].sum()
    assert market == pytest.approx(-paid)
    # The market maker takes fees for every deal and penalties for every failure.
    failed = negotiations[negotiations["outcome"] == "failed"]["quantity_wh"].sum()
    expected = 2 * (trades["quantity_wh"].sum() * fee + failed * 0.01) / 1000.0
    assert paid == pytest.approx(expected)
