"""P2P bilateral negotiation (OpenGridGym use case 2): paired producers and consumers haggle.

Each interval a market maker pairs the sellers (producers) with the buyers (consumers) of each
pool one to one, and every pair negotiates for up to ``T`` rounds: in round ``r`` the producer
names an offer and the consumer a bid; the first round with offer ≤ bid closes the deal at the
producer's offer for ``min(q_sell, q_buy)`` Wh. Both parties pay the market maker a service
fee per kWh traded; a pair that has not agreed after ``T`` rounds pays a penalty each (per kWh
it would have traded). Energy not traded comes from (or goes to) the utility at its net-billing
prices, as the settlement of every mechanism does.

Strategies. The market maker runs each household's negotiation strategy on its behalf from its
order (its limit price), so a negotiation of many rounds costs no extra messages:

- ``truthful``: the household names its reservation price every round (the producer its limit
  plus the fee, the consumer its limit minus the fee), so a pair agrees in round 1 or never;
- ``ucb1``: a multi-armed bandit over ``K`` price arms, evenly spaced from the export to the
  import price, that each household keeps per side across intervals. In each round it plays
  the arm of highest index ``mean reward + sqrt(2 ln(1/δ) / n)`` among the arms its limit
  allows (an unplayed arm first; among equals the arm best for itself: the dearest offer, the
  cheapest bid). Rewards are normalised by the spread ``s`` between import and export price:
  a deal pays the producer ``(p − fee − export)/s`` and the consumer ``(import − p − fee)/s``,
  a round without a deal 0, and the last round of a failed negotiation ``−penalty/s``.

With fresh statistics every arm is unplayed, so the first negotiation of a household walks its
arms in its own order of preference: the producer concedes from the import price down, the
consumer from the export price up, and a pair agrees in the first round where they meet.

References
----------
.. [1] R. El Helou, K. Lee, D. Wu, L. Xie, S. Shakkottai, V. Subramanian, "OpenGridGym: An
   Open-Source AI-Friendly Toolkit for Distribution Market Simulation", arXiv:2203.04410,
   2022 (use case 2: bilateral negotiation with UCB agents).
.. [2] T. Lattimore, C. Szepesvári, "Bandit Algorithms", Cambridge University Press, 2020,
   ch. 7 (UCB with error probability δ).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from tefed.domain.market.frames import typed_frame
from tefed.domain.market.mechanisms.order_book import POOLS

STRATEGIES = ("ucb1", "truthful")
PAIRINGS = ("random", "max_weight")
#: Outcome of a pair: a deal, no deal after every round, or refused before negotiating.
OUTCOMES = ("traded", "failed", "refused")
#: Money a party pays the market maker besides its trades (ledger ``reason``).
CHARGE_REASONS = ("service_fee", "penalty")

NEGOTIATION_DTYPES = {
    "pool": "object",
    "sell_order_id": "object",
    "buy_order_id": "object",
    "seller": "object",
    "buyer": "object",
    "quantity_wh": "int64",
    "outcome": "object",
    "rounds": "int64",
    "price_usd_per_kwh": "float64",
    "offer_usd_per_kwh": "float64",
    "bid_usd_per_kwh": "float64",
}
CHARGE_DTYPES = {
    "participant": "object",
    "counterparty": "object",
    "price_usd_per_kwh": "float64",
    "amount_usd": "float64",
    "reason": "object",
}
#: ``overloads(sellers, buyers, quantity_wh)``: (S, B) pairs the grid cannot carry.
Overloads = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
_SELL, _BUY = 0, 1
#: Slack of the deal test offer ≤ bid [USD/kWh].
_PRICE_TOLERANCE = 1e-12


@dataclass(frozen=True)
class NegotiationRules:
    """The market maker's rules of a negotiation.

    Attributes
    ----------
    rounds : int
        Most rounds a pair negotiates, ``T`` >= 1.
    service_fee_usd_per_kwh : float
        Fee each party of a deal pays per kWh traded [USD/kWh], >= 0.
    failure_penalty_usd_per_kwh : float
        Penalty each party of a failed negotiation pays per kWh it would have traded
        [USD/kWh], >= 0.
    strategy : str
        One of ``STRATEGIES``.
    price_arms : int
        Number of price arms ``K`` of the bandit, >= 2.
    error_probability : float
        The bandit's δ, in (0, 1).
    """

    rounds: int
    service_fee_usd_per_kwh: float
    failure_penalty_usd_per_kwh: float
    strategy: str = "ucb1"
    price_arms: int = 5
    error_probability: float = 0.05


class ArmStatistics:
    """Each household's bandit statistics, per side and arm, kept across intervals.

    Arms are stored in each side's order of preference (arm 0: the producer's dearest offer,
    the consumer's cheapest bid).
    """

    def __init__(self, price_arms: int) -> None:
        self.price_arms = price_arms
        self.plays = np.zeros((0, 2, price_arms), dtype=np.int64)
        self.reward_sum = np.zeros((0, 2, price_arms))
        self._row: dict[str, int] = {}

    def rows(self, participants: np.ndarray) -> np.ndarray:
        """Row of each participant, adding rows for participants not seen before."""
        for participant in participants.tolist():
            self._row.setdefault(participant, len(self._row))
        grow = len(self._row) - self.plays.shape[0]
        if grow > 0:
            self.plays = np.concatenate([self.plays, np.zeros((grow, 2, self.price_arms), int)])
            self.reward_sum = np.concatenate(
                [self.reward_sum, np.zeros((grow, 2, self.price_arms))]
            )
        return np.array([self._row[p] for p in participants.tolist()], dtype=np.int64)


@dataclass(frozen=True)
class NegotiationOutcome:
    """Each pair's negotiation, arrays over pairs.

    Attributes
    ----------
    rounds : numpy.ndarray of int
        Round of the deal (1 .. T), or T for a failed negotiation.
    traded : numpy.ndarray of bool
        Whether the pair agreed.
    offer_usd_per_kwh, bid_usd_per_kwh : numpy.ndarray
        The producer's offer and the consumer's bid in the pair's last round [USD/kWh]; the
        trade price is the offer where ``traded``.
    """

    rounds: np.ndarray
    traded: np.ndarray
    offer_usd_per_kwh: np.ndarray
    bid_usd_per_kwh: np.ndarray


def negotiate(
    ask_limit_usd_per_kwh: np.ndarray,
    bid_limit_usd_per_kwh: np.ndarray,
    seller_rows: np.ndarray,
    buyer_rows: np.ndarray,
    rules: NegotiationRules,
    statistics: ArmStatistics,
    import_price_usd_per_kwh: float,
    export_price_usd_per_kwh: float,
) -> NegotiationOutcome:
    """Negotiate every pair for up to ``rules.rounds`` rounds, vectorized over pairs.

    Parameters
    ----------
    ask_limit_usd_per_kwh, bid_limit_usd_per_kwh : numpy.ndarray
        The producer's and the consumer's limit price of each pair [USD/kWh].
    seller_rows, buyer_rows : numpy.ndarray of int
        Rows of the producer and the consumer in ``statistics`` (updated in place).
    rules : NegotiationRules
        Rounds, fee, penalty, strategy and bandit parameters.
    import_price_usd_per_kwh, export_price_usd_per_kwh : float
        The utility's net-billing prices [USD/kWh]: the ends of the price arms.

    Returns
    -------
    NegotiationOutcome
        Round, deal and last prices of each pair.

    Examples
    --------
    Five arms from 0.05 to 0.15 USD/kWh; the producer's limit 0.06 and the consumer's 0.15:
    offers 0.15, 0.125, 0.10 meet bids 0.05, 0.075, 0.10 in round 3.

    >>> rules = NegotiationRules(rounds=5, service_fee_usd_per_kwh=0.0,
    ...                          failure_penalty_usd_per_kwh=0.01)
    >>> stats = ArmStatistics(5)
    >>> rows = stats.rows(np.array(["producer", "consumer"], dtype=object))
    >>> out = negotiate(np.array([0.06]), np.array([0.15]), rows[:1], rows[1:], rules, stats,
    ...                 0.15, 0.05)
    >>> int(out.rounds[0]), bool(out.traded[0]), round(float(out.offer_usd_per_kwh[0]), 3)
    (3, True, 0.1)
    """
    count = len(ask_limit_usd_per_kwh)
    fee = rules.service_fee_usd_per_kwh
    reserve_offer = np.asarray(ask_limit_usd_per_kwh, dtype=float) + fee
    reserve_bid = np.asarray(bid_limit_usd_per_kwh, dtype=float) - fee
    levels = np.linspace(export_price_usd_per_kwh, import_price_usd_per_kwh, rules.price_arms)
    spread = import_price_usd_per_kwh - export_price_usd_per_kwh
    spread = spread if spread > 0 else 1.0
    # Arm prices in each side's order of preference; an arm beyond the limit is not played,
    # and without any playable arm a party names its reservation price.
    offer_levels, bid_levels = levels[::-1], levels
    offer_allowed = offer_levels[None, :] >= reserve_offer[:, None] - _PRICE_TOLERANCE
    bid_allowed = bid_levels[None, :] <= reserve_bid[:, None] + _PRICE_TOLERANCE
    rounds = np.full(count, rules.rounds, dtype=np.int64)
    traded = np.zeros(count, dtype=bool)
    offer = reserve_offer.copy()
    bid = reserve_bid.copy()
    open_pairs = np.arange(count)
    for round_number in range(1, rules.rounds + 1):
        if open_pairs.size == 0:
            break
        if rules.strategy == "ucb1":
            sells = seller_rows[open_pairs]
            buys = buyer_rows[open_pairs]
            sell_arm = _ucb_arm(statistics, sells, _SELL, offer_allowed[open_pairs], rules)
            buy_arm = _ucb_arm(statistics, buys, _BUY, bid_allowed[open_pairs], rules)
            offer[open_pairs] = np.maximum(offer_levels[sell_arm], reserve_offer[open_pairs])
            bid[open_pairs] = np.minimum(bid_levels[buy_arm], reserve_bid[open_pairs])
        deal = offer[open_pairs] <= bid[open_pairs] + _PRICE_TOLERANCE
        if rules.strategy == "ucb1":
            last = round_number == rules.rounds
            miss = -rules.failure_penalty_usd_per_kwh / spread if last else 0.0
            price = offer[open_pairs]
            seller_reward = np.where(deal, (price - fee - export_price_usd_per_kwh) / spread, miss)
            buyer_reward = np.where(deal, (import_price_usd_per_kwh - price - fee) / spread, miss)
            np.add.at(statistics.plays, (sells, _SELL, sell_arm), 1)
            np.add.at(statistics.reward_sum, (sells, _SELL, sell_arm), seller_reward)
            np.add.at(statistics.plays, (buys, _BUY, buy_arm), 1)
            np.add.at(statistics.reward_sum, (buys, _BUY, buy_arm), buyer_reward)
        agreed = open_pairs[deal]
        traded[agreed] = True
        rounds[agreed] = round_number
        open_pairs = open_pairs[~deal]
        if rules.strategy == "truthful":
            break  # the same prices every round: agreement in round 1 or never
    return NegotiationOutcome(rounds, traded, offer, bid)


def _ucb_arm(
    statistics: ArmStatistics,
    rows: np.ndarray,
    side: int,
    allowed: np.ndarray,
    rules: NegotiationRules,
) -> np.ndarray:
    """The arm of highest UCB index per row among the allowed (first in preference on ties)."""
    plays = statistics.plays[rows, side]
    played = plays > 0
    safe = np.where(played, plays, 1)
    index = np.where(
        played,
        statistics.reward_sum[rows, side] / safe
        + np.sqrt(2.0 * np.log(1.0 / rules.error_probability) / safe),
        np.inf,
    )
    return np.argmax(np.where(allowed, index, -np.inf), axis=1)


def pair_orders(
    sell_quantity_wh: np.ndarray,
    buy_quantity_wh: np.ndarray,
    pairing: str,
    rng: np.random.Generator,
    refused: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The market maker's one-to-one pairs of sell and buy orders.

    Parameters
    ----------
    sell_quantity_wh, buy_quantity_wh : numpy.ndarray
        Quantity of each sell (S,) and buy (B,) order [Wh].
    pairing : str
        ``random``: a random permutation of each side, paired in order (``min(S, B)`` pairs);
        ``max_weight``: the pairs that maximise the energy the pairs could trade,
        ``Σ min(q_sell, q_buy)``, pairs in ``refused`` weighing nothing.
    rng : numpy.random.Generator
        Draws of the random pairing.
    refused : numpy.ndarray of bool, optional
        (S, B): pairs the market maker will not let trade (grid feasibility, self-trade).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Index of the sell and of the buy order of each pair. A ``max_weight`` pairing leaves
        out pairs of no weight unless they are refused ones it had to form.

    Examples
    --------
    >>> pair_orders(np.array([100, 300]), np.array([300, 100]), "max_weight",
    ...             np.random.default_rng(0))
    (array([0, 1]), array([1, 0]))
    """
    sells, buys = len(sell_quantity_wh), len(buy_quantity_wh)
    if pairing == "random":
        count = min(sells, buys)
        return rng.permutation(sells)[:count], rng.permutation(buys)[:count]
    weight = np.minimum(
        np.asarray(sell_quantity_wh, float)[:, None], np.asarray(buy_quantity_wh, float)[None, :]
    )
    if refused is not None:
        weight = np.where(refused, 0.0, weight)
    sell_index, buy_index = linear_sum_assignment(weight, maximize=True)
    formed = weight[sell_index, buy_index] > 0
    if refused is not None:
        formed |= refused[sell_index, buy_index]
    return sell_index[formed], buy_index[formed]


@dataclass(frozen=True)
class BilateralResult:
    """One interval of bilateral negotiation.

    Attributes
    ----------
    trades : pandas.DataFrame
        The deals, columns of `tefed.domain.market.trade_tables.TRADE_DTYPES`.
    negotiations : pandas.DataFrame
        One row per pair, columns ``NEGOTIATION_DTYPES`` (``outcome`` of ``OUTCOMES``,
        ``rounds``: the deal's round, T when failed, 0 when refused).
    charges : pandas.DataFrame
        Fees and penalties each party pays the market maker, columns ``CHARGE_DTYPES``.
    """

    trades: pd.DataFrame
    negotiations: pd.DataFrame
    charges: pd.DataFrame

    @property
    def status(self) -> str:
        """``cleared`` with a deal, ``no_deal`` with pairs but none, ``unpaired`` without."""
        outcome = self.negotiations["outcome"].to_numpy(dtype=object)
        if (outcome == "traded").any():
            return "cleared"
        return "no_deal" if outcome.size else "unpaired"


def clear_bilateral(
    simple: pd.DataFrame,
    rules: NegotiationRules,
    statistics: ArmStatistics,
    import_price_usd_per_kwh: float,
    export_price_usd_per_kwh: float,
    pairing: str,
    rng: np.random.Generator,
    overloads: Overloads | None = None,
    market_maker: str = "market",
) -> BilateralResult:
    """Pair and negotiate one interval's simple orders, pool by pool.

    Parameters
    ----------
    simple : pandas.DataFrame
        The interval's simple orders (``order_id``, ``participant``, ``side``,
        ``quantity_wh`` [Wh], ``price_usd_per_kwh`` [USD/kWh], ``pool``, ``sequence``).
    rules, statistics : NegotiationRules, ArmStatistics
        See `negotiate`.
    import_price_usd_per_kwh, export_price_usd_per_kwh : float
        Net-billing prices of the interval [USD/kWh].
    pairing : str
        One of ``PAIRINGS`` (see `pair_orders`).
    rng : numpy.random.Generator
        Draws of the random pairing.
    overloads : callable, optional
        ``overloads(sellers, buyers, quantity_wh)`` → (S, B) bool: pairs whose trade of
        ``min`` quantity the grid cannot carry (see
        `tefed.domain.network.trade_paths.overloading_pairs`); None: no grid check.
    market_maker : str
        The counterparty of fees and penalties.

    Returns
    -------
    BilateralResult
        Deals, every pair's negotiation and the charges.
    """
    ordered = simple.sort_values(["sequence", "order_id"], kind="stable")
    parts = [
        _clear_pool(
            ordered[ordered["pool"].to_numpy(dtype=object) == pool],
            pool,
            rules,
            statistics,
            import_price_usd_per_kwh,
            export_price_usd_per_kwh,
            pairing,
            rng,
            overloads,
        )
        for pool in POOLS
    ]
    negotiations = pd.concat(parts, ignore_index=True)
    return _result(negotiations, rules, market_maker)


def _clear_pool(
    orders: pd.DataFrame,
    pool: str,
    rules: NegotiationRules,
    statistics: ArmStatistics,
    import_price: float,
    export_price: float,
    pairing: str,
    rng: np.random.Generator,
    overloads: Overloads | None,
) -> pd.DataFrame:
    """Every pair's negotiation in one pool (columns ``NEGOTIATION_DTYPES``)."""
    side = orders["side"].to_numpy(dtype=object)
    asks, bids = orders[side == "sell"], orders[side == "buy"]
    sell_wh = asks["quantity_wh"].to_numpy(np.int64)
    buy_wh = bids["quantity_wh"].to_numpy(np.int64)
    sellers = asks["participant"].to_numpy(dtype=object)
    buyers = bids["participant"].to_numpy(dtype=object)
    quantity_wh = np.minimum(sell_wh[:, None], buy_wh[None, :])
    refused = sellers[:, None] == buyers[None, :]
    if overloads is not None and refused.size:
        refused |= overloads(sellers, buyers, quantity_wh)
    sell_index, buy_index = pair_orders(sell_wh, buy_wh, pairing, rng, refused)
    pair_wh = quantity_wh[sell_index, buy_index]
    blocked = refused[sell_index, buy_index]
    # A self-pair is no pair at all; a pair the grid cannot carry is refused.
    kept = sellers[sell_index] != buyers[buy_index]
    sell_index, buy_index, pair_wh, blocked = (
        sell_index[kept],
        buy_index[kept],
        pair_wh[kept],
        blocked[kept],
    )
    talks = np.flatnonzero(~blocked)
    ask_limit = asks["price_usd_per_kwh"].to_numpy(float)[sell_index]
    bid_limit = bids["price_usd_per_kwh"].to_numpy(float)[buy_index]
    outcome = negotiate(
        ask_limit[talks],
        bid_limit[talks],
        statistics.rows(sellers[sell_index][talks]),
        statistics.rows(buyers[buy_index][talks]),
        rules,
        statistics,
        import_price,
        export_price,
    )
    count = len(sell_index)
    result = np.full(count, "refused", dtype=object)
    result[talks] = np.where(outcome.traded, "traded", "failed")
    rounds = np.zeros(count, dtype=np.int64)
    rounds[talks] = outcome.rounds
    offer, bid, price = np.full(count, np.nan), np.full(count, np.nan), np.full(count, np.nan)
    offer[talks], bid[talks] = outcome.offer_usd_per_kwh, outcome.bid_usd_per_kwh
    price[talks] = np.where(outcome.traded, outcome.offer_usd_per_kwh, np.nan)
    return typed_frame(
        {
            "pool": np.full(count, pool, dtype=object),
            "sell_order_id": asks["order_id"].to_numpy(dtype=object)[sell_index],
            "buy_order_id": bids["order_id"].to_numpy(dtype=object)[buy_index],
            "seller": sellers[sell_index],
            "buyer": buyers[buy_index],
            "quantity_wh": pair_wh.astype(np.int64),
            "outcome": result,
            "rounds": rounds,
            "price_usd_per_kwh": price,
            "offer_usd_per_kwh": offer,
            "bid_usd_per_kwh": bid,
            "ask_limit_usd_per_kwh": ask_limit,
            "bid_limit_usd_per_kwh": bid_limit,
        }
    )


def _result(
    negotiations: pd.DataFrame, rules: NegotiationRules, market_maker: str
) -> BilateralResult:
    """Deals and charges of the pairs' negotiations."""
    outcome = negotiations["outcome"].to_numpy(dtype=object)
    deal = negotiations[outcome == "traded"]
    trades = typed_frame(
        {
            "buy_order_id": deal["buy_order_id"].to_numpy(dtype=object),
            "sell_order_id": deal["sell_order_id"].to_numpy(dtype=object),
            "buyer": deal["buyer"].to_numpy(dtype=object),
            "seller": deal["seller"].to_numpy(dtype=object),
            "quantity_wh": deal["quantity_wh"].to_numpy(np.int64),
            "price_usd_per_kwh": deal["price_usd_per_kwh"].to_numpy(float),
            "bid_price_usd_per_kwh": deal["bid_limit_usd_per_kwh"].to_numpy(float),
            "ask_price_usd_per_kwh": deal["ask_limit_usd_per_kwh"].to_numpy(float),
            "pool": deal["pool"].to_numpy(dtype=object),
        }
    )
    failed = negotiations[outcome == "failed"]
    fee_usd = deal["quantity_wh"].to_numpy(float) / 1000.0 * rules.service_fee_usd_per_kwh
    penalty_usd = failed["quantity_wh"].to_numpy(float) / 1000.0 * rules.failure_penalty_usd_per_kwh
    fee, penalty = rules.service_fee_usd_per_kwh, rules.failure_penalty_usd_per_kwh
    payers = [
        (deal["buyer"], fee_usd, fee, "service_fee"),
        (deal["seller"], fee_usd, fee, "service_fee"),
        (failed["buyer"], penalty_usd, penalty, "penalty"),
        (failed["seller"], penalty_usd, penalty, "penalty"),
    ]
    participant = np.concatenate([who.to_numpy(dtype=object) for who, _, _, _ in payers])
    amount_usd = np.concatenate([amount for _, amount, _, _ in payers])
    rate = np.concatenate([np.full(len(amount), r) for _, amount, r, _ in payers])
    reason = np.concatenate(
        [np.full(len(amount), why, dtype=object) for _, amount, _, why in payers]
    )
    charged = amount_usd != 0
    charges = typed_frame(
        {
            "participant": participant[charged],
            "counterparty": np.full(int(charged.sum()), market_maker, dtype=object),
            "price_usd_per_kwh": rate[charged],
            "amount_usd": amount_usd[charged],
            "reason": reason[charged],
        }
    )
    return BilateralResult(
        trades=trades,
        negotiations=negotiations[list(NEGOTIATION_DTYPES)].reset_index(drop=True),
        charges=charges,
    )
