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
        self._known = pd.Index([], dtype=object)

    def rows(self, participants: np.ndarray) -> np.ndarray:
        """Row of each participant, adding rows for participants not seen before."""
        row = self._known.get_indexer(participants)
        if (row < 0).any():
            new = pd.unique(participants[row < 0])
            self._known = self._known.append(pd.Index(new, dtype=object))
            grow = np.zeros((len(new), 2, self.price_arms))
            self.plays = np.concatenate([self.plays, grow.astype(np.int64)])
            self.reward_sum = np.concatenate([self.reward_sum, grow])
            row = self._known.get_indexer(participants)
        return row.astype(np.int64)


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
    # scipy.optimize loads here, not with the module: every scenario's validation imports the
    # mechanisms, and only max-weight pairing needs it (about 0.2 s of each command's start).
    from scipy.optimize import linear_sum_assignment

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
        ``overloads(sellers, buyers, quantity_wh)``: which pairs' trades the grid cannot carry
        (see `tefed.domain.network.trade_paths.overloading_pairs`), for (S,) sellers and (B,)
        buyers with (S, B) quantities [Wh], or for P pairs with (P,) quantities; None: no grid
        check.
    market_maker : str
        The counterparty of fees and penalties.

    Returns
    -------
    BilateralResult
        Deals, every pair's negotiation and the charges.
    """
    # Orders in submission order: a random pairing draws over them in that order.
    order = np.argsort(simple["sequence"].to_numpy(np.int64), kind="stable")
    book = {
        "order_id": simple["order_id"].to_numpy(dtype=object)[order],
        "participant": simple["participant"].to_numpy(dtype=object)[order],
        "side": simple["side"].to_numpy(dtype=object)[order],
        "quantity_wh": simple["quantity_wh"].to_numpy(np.int64)[order],
        "price_usd_per_kwh": simple["price_usd_per_kwh"].to_numpy(np.float64)[order],
        "pool": simple["pool"].to_numpy(dtype=object)[order],
    }
    market = (statistics, import_price_usd_per_kwh, export_price_usd_per_kwh)
    parts = [
        _clear_pool(book, pool, rules, market, pairing, rng, overloads)
        for pool in POOLS
        if (book["pool"] == pool).any()
    ]
    columns = {
        name: np.concatenate([part[name] for part in parts]) if parts else np.empty(0, dtype=dtype)
        for name, dtype in _PAIR_DTYPES.items()
    }
    return _result(columns, rules, market_maker)


#: Columns of each pair while the interval clears (``NEGOTIATION_DTYPES`` and the limits).
_PAIR_DTYPES = {
    **NEGOTIATION_DTYPES,
    "ask_limit_usd_per_kwh": "float64",
    "bid_limit_usd_per_kwh": "float64",
}


def _clear_pool(
    book: dict[str, np.ndarray],
    pool: str,
    rules: NegotiationRules,
    market: tuple[ArmStatistics, float, float],
    pairing: str,
    rng: np.random.Generator,
    overloads: Overloads | None,
) -> dict[str, np.ndarray]:
    """Every pair's negotiation in one pool (columns ``_PAIR_DTYPES``)."""
    statistics, import_price, export_price = market
    in_pool = book["pool"] == pool
    asks = {name: values[in_pool & (book["side"] == "sell")] for name, values in book.items()}
    bids = {name: values[in_pool & (book["side"] == "buy")] for name, values in book.items()}
    sellers, buyers = asks["participant"], bids["participant"]
    if pairing == "random":
        sell_index, buy_index = pair_orders(asks["quantity_wh"], bids["quantity_wh"], pairing, rng)
        pair_wh = np.minimum(asks["quantity_wh"][sell_index], bids["quantity_wh"][buy_index])
        same = sellers[sell_index] == buyers[buy_index]
        blocked = same.copy()
        if overloads is not None and pair_wh.size:
            blocked |= overloads(sellers[sell_index], buyers[buy_index], pair_wh)
    else:
        quantity_wh = np.minimum(asks["quantity_wh"][:, None], bids["quantity_wh"][None, :])
        refused = sellers[:, None] == buyers[None, :]
        if overloads is not None and refused.size:
            refused |= overloads(sellers, buyers, quantity_wh)
        sell_index, buy_index = pair_orders(
            asks["quantity_wh"], bids["quantity_wh"], pairing, rng, refused
        )
        pair_wh = quantity_wh[sell_index, buy_index]
        same = sellers[sell_index] == buyers[buy_index]
        blocked = refused[sell_index, buy_index]
    # A self-pair is no pair at all; a pair the grid cannot carry is refused.
    kept = ~same
    sell_index, buy_index, pair_wh, blocked = (
        sell_index[kept],
        buy_index[kept],
        pair_wh[kept],
        blocked[kept],
    )
    talks = np.flatnonzero(~blocked)
    ask_limit = asks["price_usd_per_kwh"][sell_index]
    bid_limit = bids["price_usd_per_kwh"][buy_index]
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
    return {
        "pool": np.full(count, pool, dtype=object),
        "sell_order_id": asks["order_id"][sell_index],
        "buy_order_id": bids["order_id"][buy_index],
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


def _result(
    pairs: dict[str, np.ndarray], rules: NegotiationRules, market_maker: str
) -> BilateralResult:
    """Deals and charges of the pairs' negotiations."""
    deal = pairs["outcome"] == "traded"
    failed = pairs["outcome"] == "failed"
    trades = typed_frame(
        {
            "buy_order_id": pairs["buy_order_id"][deal],
            "sell_order_id": pairs["sell_order_id"][deal],
            "buyer": pairs["buyer"][deal],
            "seller": pairs["seller"][deal],
            "quantity_wh": pairs["quantity_wh"][deal],
            "price_usd_per_kwh": pairs["price_usd_per_kwh"][deal],
            "bid_price_usd_per_kwh": pairs["bid_limit_usd_per_kwh"][deal],
            "ask_price_usd_per_kwh": pairs["ask_limit_usd_per_kwh"][deal],
            "pool": pairs["pool"][deal],
        }
    )
    kwh = pairs["quantity_wh"] / 1000.0
    fee, penalty = rules.service_fee_usd_per_kwh, rules.failure_penalty_usd_per_kwh
    payers = [
        (pairs["buyer"][deal], kwh[deal] * fee, fee, "service_fee"),
        (pairs["seller"][deal], kwh[deal] * fee, fee, "service_fee"),
        (pairs["buyer"][failed], kwh[failed] * penalty, penalty, "penalty"),
        (pairs["seller"][failed], kwh[failed] * penalty, penalty, "penalty"),
    ]
    participant = np.concatenate([who for who, _, _, _ in payers])
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
    negotiations = typed_frame(
        {name: np.asarray(pairs[name], dtype=dtype) for name, dtype in NEGOTIATION_DTYPES.items()}
    )
    return BilateralResult(trades=trades, negotiations=negotiations, charges=charges)
