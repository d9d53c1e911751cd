"""The one mechanism interface: books in, trades with whole Wh and named prices out."""

from __future__ import annotations

from typing import get_args

import numpy as np
import pandas as pd
import pytest

from tefed.contract.role_configs import MarketConfig
from tefed.domain.market.clearing import (
    ClearingPrices,
    ContinuousMarket,
    CurveClearing,
    DoubleAuction,
    IntervalBook,
)
from tefed.domain.market.mechanism_types import MECHANISM_TYPES
from tefed.domain.market.mechanisms.curve_clearing import clear_curves
from tefed.domain.market.order_curves import affine_orders, order_vertices
from tefed.domain.market.trade_tables import GRID, MARKET
from tefed.federates.market.mechanism_setup import MECHANISMS

PRICES = ClearingPrices(import_usd_per_kwh=0.1449, export_usd_per_kwh=0.069)


def _simple(order_id, participant, side, quantity_wh, price, time_s=0, sequence=0, **extra):
    return {
        "order_id": order_id,
        "participant": participant,
        "side": side,
        "quantity_wh": quantity_wh,
        "price_usd_per_kwh": price,
        "pool": extra.get("pool", "non_dispatchable"),
        "divisible": extra.get("divisible", True),
        "expires_time_s": extra.get("expires_time_s", np.nan),
        "received_time_s": time_s,
        "sequence": sequence,
    }


def _book(simple=(), curves=(), affine=(), interval=4) -> IntervalBook:
    return IntervalBook.from_rows(interval, 900, list(simple), list(curves), list(affine))


def test_simple_orders_become_steps_at_their_limit_price():
    book = _book([_simple("b", "h1", "buy", 500, 0.12), _simple("s", "h2", "sell", 250, 0.08)])
    vertices = order_vertices(book)
    bid = vertices[vertices["order_id"] == "b"]
    # 500 Wh over 900 s is 2 kW, consumed at prices up to 0.12 and not above.
    assert bid["power_kw"].tolist() == [2.0, 0.0]
    assert bid["price_usd_per_kwh"].tolist()[1] == 0.12
    assert bid["continuity"].tolist() == [False, True]
    ask = vertices[vertices["order_id"] == "s"]
    assert ask["power_kw"].tolist() == [0.0, -1.0]
    assert ask["price_usd_per_kwh"].tolist()[1] == 0.08


def test_affine_orders_become_two_vertices_or_a_step():
    affine = [
        {
            "order_id": "a",
            "participant": "h1",
            "side": "sell",
            "price_max_usd_per_kwh": 0.20,
            "price_min_usd_per_kwh": 0.10,
            "power_max_kw": 8.0,
            "power_min_kw": 2.0,
        },
        {
            "order_id": "b",
            "participant": "h2",
            "side": "buy",
            "price_max_usd_per_kwh": 0.15,
            "price_min_usd_per_kwh": 0.15,
            "power_max_kw": 3.0,
            "power_min_kw": 1.0,
        },
    ]
    vertices = order_vertices(_book(affine=affine)).set_index("order_id")
    assert vertices.loc["a", "price_usd_per_kwh"].tolist() == [0.10, 0.20]
    assert vertices.loc["a", "power_kw"].tolist() == [-2.0, -8.0]
    # A vertical buyer: 3 kW up to 0.15, 1 kW (its inelastic part) above.
    assert vertices.loc["b", "power_kw"].tolist() == [3.0, 1.0]


def test_simple_orders_as_affine_steps():
    book = _book([_simple("b", "h1", "buy", 450, 0.12)])
    [row] = affine_orders(book).to_dict("records")
    assert row["power_max_kw"] == pytest.approx(1.8)
    assert row["power_min_kw"] == 0.0
    assert row["price_max_usd_per_kwh"] == row["price_min_usd_per_kwh"] == 0.12


def test_curve_clearing_awards_whole_wh_and_the_market_balances():
    # Supplier: 0 kW at 0.01 rising to 25 kW at 0.035; inelastic 15 kW load: clears at 0.025.
    curves = [
        {
            "order_id": "gen",
            "participant": "h1",
            "price_usd_per_kwh": 0.01,
            "power_kw": 0.0,
            "continuity": True,
        },
        {
            "order_id": "gen",
            "participant": "h1",
            "price_usd_per_kwh": 0.035,
            "power_kw": -25.0,
            "continuity": True,
        },
        {
            "order_id": "load",
            "participant": "h2",
            "price_usd_per_kwh": 0.0,
            "power_kw": 15.0,
            "continuity": True,
        },
    ]
    # The grid supplies above 0.05 and absorbs below 0.005: neither at the crossing.
    outcome = CurveClearing().clear(_book(curves=curves), ClearingPrices(0.05, 0.005))
    assert outcome.status == "exact"
    assert outcome.prices_usd_per_kwh["uniform"] == pytest.approx(0.025)
    trades = outcome.trades.set_index("buyer")
    # 15 kW for 900 s is 3750 Wh, bought from the market and sold to it by the supplier.
    assert trades.loc["h2", "quantity_wh"] == 3750
    assert trades.loc[MARKET, "quantity_wh"] == 3750
    assert outcome.traded_energy_wh == 3750
    money = np.where(outcome.trades["buyer"] == MARKET, -1, 1) * outcome.trades["quantity_wh"]
    assert money.sum() == 0


def test_curve_clearing_with_the_grid_supplying_the_rest():
    book = _book([_simple("b", "h1", "buy", 1000, 0.16), _simple("s", "h2", "sell", 400, 0.08)])
    outcome = CurveClearing().clear(book, PRICES)
    # Demand exceeds local supply, so the grid supplies at the import price and sets it.
    assert outcome.prices_usd_per_kwh["uniform"] == pytest.approx(0.1449)
    trades = outcome.trades
    from_grid = trades[(trades["seller"] == GRID) & (trades["buyer"] == MARKET)]
    assert from_grid["quantity_wh"].tolist() == [600]
    assert trades.loc[trades["buyer"] == "h1", "quantity_wh"].tolist() == [1000]
    assert trades.loc[trades["seller"] == "h2", "quantity_wh"].tolist() == [400]


def test_curve_clearing_matches_the_pure_function():
    rng = np.random.default_rng(3)
    simple = [
        _simple(f"o{i}", f"h{i}", side, int(q), float(p), sequence=i)
        for i, (side, q, p) in enumerate(
            zip(
                rng.choice(["buy", "sell"], 20),
                rng.integers(50, 2000, 20),
                rng.uniform(0.07, 0.14, 20),
                strict=True,
            )
        )
    ]
    book = _book(simple)
    outcome = CurveClearing().clear(book, PRICES)
    direct = clear_curves(order_vertices(book), 0.1449, 0.069)
    assert outcome.status == direct.status
    assert outcome.prices_usd_per_kwh.get("uniform", np.nan) == pytest.approx(
        direct.price_usd_per_kwh, nan_ok=True
    )
    bought = outcome.trades[outcome.trades["buy_order_id"] != ""]
    expected = np.rint(direct.power_kw[direct.power_kw > 0] * 900 / 3.6).astype(int)
    assert dict(zip(bought["buy_order_id"], bought["quantity_wh"], strict=True)) == {
        k: v for k, v in expected.items() if v
    }


def test_double_auction_through_the_interface():
    book = _book(
        [
            _simple("b1", "h1", "buy", 300, 0.30, sequence=0),
            _simple("b2", "h2", "buy", 200, 0.20, sequence=1),
            _simple("s1", "h3", "sell", 400, 0.10, sequence=2),
        ]
    )
    outcome = DoubleAuction().clear(book, PRICES)
    assert outcome.status == "cleared"
    assert outcome.trades["quantity_wh"].tolist() == [300, 100]
    assert outcome.trades["price_usd_per_kwh"].tolist() == pytest.approx([0.20, 0.15])
    assert set(outcome.trades["pool"]) == {"non_dispatchable"}
    assert outcome.traded_energy_wh == 400
    assert outcome.mean_price_usd_per_kwh == pytest.approx((300 * 0.20 + 100 * 0.15) / 400)
    # Midpoint pairs trade at two prices; the pool's price is their volume-weighted mean (what
    # a learning trader observes), and the uniform rule's one price is the same mean.
    assert outcome.prices_usd_per_kwh == {"pool:non_dispatchable": pytest.approx(0.1875)}
    uniform = DoubleAuction(settlement_rule="uniform").clear(book, PRICES)
    assert uniform.prices_usd_per_kwh == {"pool:non_dispatchable": pytest.approx(0.15)}


def test_continuous_market_matches_on_arrival_and_closes_per_interval():
    market = ContinuousMarket(priority="age")
    first = _book([_simple("s1", "h1", "sell", 300, 0.10, time_s=60)])
    second = _book([_simple("b1", "h2", "buy", 500, 0.12, time_s=120, sequence=1)])
    market.receive(4, first.simple)
    market.receive(4, second.simple)
    other = _book([_simple("s9", "h3", "sell", 100, 0.05, time_s=60)], interval=5)
    market.receive(5, other.simple)
    book = _book(
        [
            _simple("s1", "h1", "sell", 300, 0.10, time_s=60),
            _simple("b1", "h2", "buy", 500, 0.12, time_s=120, sequence=1),
        ]
    )
    outcome = market.clear(book, PRICES)
    assert outcome.status == "cleared"
    [trade] = outcome.trades.to_dict("records")
    # The bid buys the standing 300 Wh at the resting ask's price.
    assert (trade["buyer"], trade["seller"], trade["quantity_wh"]) == ("h2", "h1", 300)
    assert trade["price_usd_per_kwh"] == 0.10
    assert (trade["buy_order_id"], trade["sell_order_id"]) == ("b1", "s1")
    # Interval 5's book is untouched by closing interval 4.
    assert market.clear(_book([], interval=5), PRICES).trades.empty


def test_continuous_market_keeps_pools_apart():
    market = ContinuousMarket()
    orders = _book(
        [
            _simple("s1", "h1", "sell", 300, 0.10, pool="dispatchable"),
            _simple("b1", "h2", "buy", 300, 0.12, sequence=1),
        ]
    )
    market.receive(4, orders.simple)
    outcome = market.clear(orders, PRICES)
    assert outcome.trades.empty
    assert outcome.status == "no_crossing"


def test_empty_books():
    assert CurveClearing().clear(_book(), PRICES).status == "empty"
    assert DoubleAuction().clear(_book(), PRICES).status == "empty"
    assert ContinuousMarket().clear(_book(), PRICES).status == "empty"
    assert CurveClearing().clear(_book(), PRICES).trades.empty


def test_book_counts_orders_of_every_kind():
    curves = pd.DataFrame(
        {
            "order_id": ["c", "c"],
            "participant": ["h1", "h1"],
            "price_usd_per_kwh": [0.0, 0.1],
            "power_kw": [1.0, 0.0],
            "continuity": [True, True],
        }
    ).to_dict("records")
    assert _book([_simple("b", "h2", "buy", 5, 0.1)], curves).order_count == 2


def test_every_configurable_mechanism_has_one_builder():
    """The market's registry names every mechanism its configuration can select, and no more."""
    configurable = {
        get_args(rules.model_fields["mechanism"].annotation)[0]
        for rules in get_args(get_args(MarketConfig)[0])
    }
    assert configurable == set(MECHANISMS)
    # What the scenario checks read of a mechanism names the same ones, each by its type's name.
    assert set(MECHANISM_TYPES) == set(MECHANISMS)
    assert all(kind.name == name for name, kind in MECHANISM_TYPES.items())
