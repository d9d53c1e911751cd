"""P2P bilateral negotiation and the upper market of communities, at the sizes of issue 17.

- P2P negotiation: 1,000 sell and 1,000 buy orders paired at random, every pair negotiating up
  to 10 rounds with UCB1 households (limits drawn so that about half the pairs never agree and
  run all 10 rounds), per interval;
- the upper market over 50 communities: each community's residual orders after its own
  clearing (20 per community, bids and asks on separate price bands so no community crosses
  itself), cleared together at one price per pool.

Each figure is the median of repeated runs on the same books.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.market_clearing import _median_ms
from tefed.domain.market.frames import typed_frame
from tefed.domain.market.mechanisms.bilateral_negotiation import (
    ArmStatistics,
    NegotiationRules,
    clear_bilateral,
)
from tefed.domain.market.mechanisms.community_markets import clear_upper_market

NAME = "market_topologies"
PAIRS = 1_000
ROUNDS = 10
COMMUNITIES = 50
ORDERS_PER_COMMUNITY = 20
#: Targets of issue 17 [ms per interval].
P2P_LIMIT_MS = 50.0
UPPER_LIMIT_MS = 10.0


def run(output: Path) -> dict:
    """Median times [ms] of one interval of P2P negotiation and of the upper market."""
    rng = np.random.default_rng(17)
    book = _p2p_book(rng, PAIRS)
    rules = NegotiationRules(
        rounds=ROUNDS,
        service_fee_usd_per_kwh=0.002,
        failure_penalty_usd_per_kwh=0.001,
        strategy="ucb1",
        price_arms=5,
        error_probability=0.05,
    )
    statistics = ArmStatistics(rules.price_arms)
    p2p_ms = _median_ms(
        lambda: clear_bilateral(
            book, rules, statistics, 0.1449, 0.069, "random", np.random.default_rng(0)
        )
    )
    residual = _residual_book(rng, COMMUNITIES, ORDERS_PER_COMMUNITY)
    upper_ms = _median_ms(lambda: clear_upper_market(residual))
    return {
        "p2p_negotiation_ms": p2p_ms,
        "upper_market_ms": upper_ms,
        "targets": [
            {
                "name": f"P2P negotiation, {PAIRS} pairs x {ROUNDS} rounds, per interval",
                "measured": p2p_ms,
                "unit": "ms",
                "comparison": "<=",
                "limit": P2P_LIMIT_MS,
                "met": p2p_ms <= P2P_LIMIT_MS,
            },
            {
                "name": f"upper market over {COMMUNITIES} communities",
                "measured": upper_ms,
                "unit": "ms",
                "comparison": "<=",
                "limit": UPPER_LIMIT_MS,
                "met": upper_ms <= UPPER_LIMIT_MS,
            },
        ],
    }


def _p2p_book(rng: np.random.Generator, pairs: int) -> pd.DataFrame:
    """Sell and buy orders as the market's book holds them (identifiers as object columns)."""
    count = 2 * pairs
    return typed_frame(
        {
            "order_id": np.array([f"o{i}" for i in range(count)], dtype=object),
            "participant": np.array([f"h{i}" for i in range(count)], dtype=object),
            "side": np.repeat(["sell", "buy"], pairs).astype(object),
            "quantity_wh": rng.integers(10, 3000, count),
            "price_usd_per_kwh": np.round(rng.uniform(0.07, 0.145, count), 3),
            "pool": np.full(count, "non_dispatchable", dtype=object),
            "sequence": np.arange(count),
        }
    )


def _residual_book(rng: np.random.Generator, communities: int, per_community: int) -> pd.DataFrame:
    """Residual orders as the market's book holds them (identifiers as object columns)."""
    count = communities * per_community
    community = np.repeat(np.arange(communities), per_community)
    is_buy = rng.random(count) < 0.5
    # Each community's residual bids lie below its residual asks, around its own local price.
    local = rng.uniform(0.08, 0.13, communities)[community]
    price = np.where(
        is_buy, local - rng.uniform(0.0, 0.02, count), local + rng.uniform(0.001, 0.02, count)
    )
    return typed_frame(
        {
            "order_id": np.array([f"r{i}" for i in range(count)], dtype=object),
            "participant": np.array([f"c{c}h{i}" for i, c in enumerate(community)], dtype=object),
            "side": np.where(is_buy, "buy", "sell").astype(object),
            "quantity_wh": rng.integers(10, 3000, count),
            "price_usd_per_kwh": np.round(price, 4),
            "pool": np.full(count, "non_dispatchable", dtype=object),
            "sequence": np.arange(count),
        }
    )
