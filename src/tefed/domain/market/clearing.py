"""One interface over every clearing mechanism: an interval's book in, trades and prices out.

A mechanism object is built once per run from the scenario's market section and cleared once
per delivery interval with that interval's :class:`IntervalBook` and net-billing prices. It
returns a :class:`ClearingOutcome`: trades in one table shape for every mechanism, named
prices and an explicit status. Pairwise mechanisms (double auction, continuous market) trade
participant with participant; central ones (curve clearing, DLMP) trade each participant with
the ``market`` (uniform price, the grid's share included) or with the ``grid`` (DLMP, the
distribution operator collects the congestion rent).

Energy is awarded in whole Wh: a central mechanism's power [kW] over the interval becomes
``round(power_kw · interval_s / 3.6)`` Wh per order, and the grid's share in a curve clearing is
whatever balances the participants' rounded awards, so the market's own payments cancel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd

from tefed.domain.market.frames import column_array, empty_frame, typed_frame
from tefed.domain.market.interval_book import IntervalBook
from tefed.domain.market.mechanisms.bilateral_negotiation import (
    CHARGE_DTYPES,
    ArmStatistics,
    NegotiationRules,
    Overloads,
    clear_bilateral,
)
from tefed.domain.market.mechanisms.community_markets import clear_communities
from tefed.domain.market.mechanisms.curve_clearing import CurveClearingResult, clear_curves
from tefed.domain.market.mechanisms.double_auction import clear_double_auction
from tefed.domain.market.mechanisms.matching_engine import Fill, MatchingEngine
from tefed.domain.market.order_curves import affine_orders, order_vertices
from tefed.domain.market.pool_prices import pool_prices
from tefed.domain.market.trade_tables import (
    GRID,
    MARKET,
    OUTCOME_TRADE_COLUMNS,
    central_trades,
    whole_wh,
)

if TYPE_CHECKING:  # pyomo is imported only by runs that clear with DLMP
    from tefed.domain.market.mechanisms.dlmp import DlmpMarket


#: Order kinds each mechanism accepts.
ACCEPTED_KINDS = {
    "double_auction": ("simple",),
    "continuous": ("simple",),
    "curve_clearing": ("simple", "curve", "affine"),
    "dlmp": ("simple", "affine"),
    "p2p_negotiation": ("simple",),
    "communities": ("simple",),
    "day_ahead": ("simple", "curve", "affine"),
}

#: Expiry of an order that has none [s]: it stands until its interval's book closes.
_NEVER_S = float(np.finfo(np.float64).max)


@dataclass(frozen=True)
class ClearingPrices:
    """Prices a mechanism may clear against [USD/kWh].

    Attributes
    ----------
    import_usd_per_kwh, export_usd_per_kwh : float
        Net-billing prices of the grid connection for the interval.
    wholesale_usd_per_kwh : float
        Wholesale price at the substation (NaN when the price feed has none).
    """

    import_usd_per_kwh: float
    export_usd_per_kwh: float
    wholesale_usd_per_kwh: float = float("nan")


#: The charges of a clearing without any (see `ClearingOutcome.charges`).
_NO_CHARGES = empty_frame(CHARGE_DTYPES)


@dataclass(frozen=True)
class ClearingOutcome:
    """What one interval's clearing decided.

    Attributes
    ----------
    trades : pandas.DataFrame
        Columns ``OUTCOME_TRADE_COLUMNS``: ``quantity_wh`` (int64) [Wh] from ``seller`` to
        ``buyer`` at ``price_usd_per_kwh`` [USD/kWh]; limit prices are NaN where an order has
        no single limit (curves, affine orders); a central counterparty has an empty order id.
    status : str
        The mechanism's status of the clearing (see each mechanism).
    prices_usd_per_kwh : dict of str to float
        Named prices of the clearing: per pool for a double auction, ``uniform`` for curve
        clearing, ``bus:<name>`` per bus for DLMP [USD/kWh].
    tables : dict of str to pandas.DataFrame
        Further results a mechanism reports (DLMP per bus, binding branches, negotiations,
        communities). The market keeps them as they are until it writes them: a mechanism
        does not change a table after returning it.
    charges : pandas.DataFrame
        Money participants pay the market besides their trades, columns ``CHARGE_DTYPES``
        (``participant``, ``counterparty``, ``amount_usd`` [USD], ``reason``): the service
        fees and penalties of bilateral negotiation; settled with the interval.
    reason : str
        Why nothing cleared, where the mechanism says (DLMP: the solver's outcome and limits).
    """

    trades: pd.DataFrame
    status: str
    prices_usd_per_kwh: dict[str, float] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    # Shallow copies of one template: building an empty table costs more than most clearings.
    charges: pd.DataFrame = field(default_factory=lambda: _NO_CHARGES.copy(deep=False))
    reason: str = ""

    # Cached: the market reads both for its interval row and its published values, and each
    # reads table columns (0.5 ms an interval on a 2-core machine). Trades are not changed
    # after the clearing.
    @cached_property
    def traded_energy_wh(self) -> int:
        """Energy the participants bought in the clearing [Wh] (each trade counted once)."""
        return int(self._bought_wh.astype(np.int64).sum())

    @cached_property
    def mean_price_usd_per_kwh(self) -> float:
        """Volume-weighted mean price of the participants' purchases [USD/kWh]; NaN if none."""
        quantity_wh = self._bought_wh.astype(float)
        if quantity_wh.sum() == 0:
            return float("nan")
        price = column_array(self.trades, "price_usd_per_kwh", dtype=float)[self._bought]
        return float(np.dot(quantity_wh, price) / quantity_wh.sum())

    # Each column is read once for both values, without its Series (`frames.column_array`).
    @cached_property
    def _bought_wh(self) -> np.ndarray:
        """The quantity of each trade a participant buys in, in the table's dtype [Wh]."""
        return column_array(self.trades, "quantity_wh")[self._bought]

    @cached_property
    def _bought(self) -> np.ndarray:
        """Which trades a participant (not a central counterparty) buys in."""
        buyer = column_array(self.trades, "buyer", dtype=object)
        return (buyer != MARKET) & (buyer != GRID)


class DoubleAuction:
    """MicroTE double auction (T-REX): pairwise matching per pool at gate closure."""

    name = "double_auction"
    uses_wholesale_price = False
    matches_on_arrival = False

    def __init__(self, settlement_rule: str = "midpoint", tie_breaking: str = "time") -> None:
        self.settlement_rule = settlement_rule
        self.tie_breaking = tie_breaking

    def receive(self, interval: int, orders: pd.DataFrame) -> None:
        """Nothing: this mechanism clears the whole book at gate closure."""

    def clear(self, book: IntervalBook, prices: ClearingPrices) -> ClearingOutcome:
        """Clear the simple orders of ``book`` (see `clear_double_auction`)."""
        # The book's extra columns (divisible, expiry, ...) are not read.
        result = clear_double_auction(
            book.simple, settlement_rule=self.settlement_rule, tie_breaking=self.tie_breaking
        )
        return ClearingOutcome(
            trades=result.trades,
            status=result.status,
            prices_usd_per_kwh=pool_prices(result.trades),
        )


def clear_book_curves(
    book: IntervalBook, prices: ClearingPrices, feeder_capacity_kw: float | None
) -> tuple[pd.DataFrame, CurveClearingResult]:
    """Every order of ``book`` as curve vertices, and their uniform-price clearing with the
    grid as supply at the import price and demand at the export price (`clear_curves`, the
    feeder's capacity ``feeder_capacity_kw`` [kW] if given)."""
    vertices = order_vertices(book)
    result = clear_curves(
        vertices,
        import_price_usd_per_kwh=prices.import_usd_per_kwh,
        export_price_usd_per_kwh=prices.export_usd_per_kwh,
        feeder_capacity_kw=feeder_capacity_kw,
    )
    return vertices, result


class CurveClearing:
    """TENT uniform-price clearing of curves, with the grid as supply and demand."""

    name = "curve_clearing"
    uses_wholesale_price = False
    matches_on_arrival = False

    def __init__(self, feeder_capacity_kw: float | None = None) -> None:
        self.feeder_capacity_kw = feeder_capacity_kw

    def receive(self, interval: int, orders: pd.DataFrame) -> None:
        """Nothing: this mechanism clears the whole book at gate closure."""

    def clear(self, book: IntervalBook, prices: ClearingPrices) -> ClearingOutcome:
        """Aggregate every order as vertices and clear at one price with `clear_curves`."""
        vertices, result = clear_book_curves(book, prices, self.feeder_capacity_kw)
        # Every vertex of an order names its one participant.
        order_ids, first = np.unique(vertices["order_id"].to_numpy(dtype=object), return_index=True)
        participant_of = pd.Series(
            vertices["participant"].to_numpy(dtype=object)[first], index=order_ids
        )
        energy_wh = whole_wh(result.power_kw, book.interval_s)
        trades = central_trades(
            energy_wh,
            participant_of,
            result.price_usd_per_kwh,
            MARKET,
            grid_supply_wh=int(energy_wh.sum()),
        )
        named = (
            {"uniform": result.price_usd_per_kwh} if np.isfinite(result.price_usd_per_kwh) else {}
        )
        return ClearingOutcome(trades=trades, status=result.status, prices_usd_per_kwh=named)


class NetworkClearing:
    """Welfare-maximising clearing on the feeder's LinDistFlow model; DLMP per bus."""

    name = "dlmp"
    uses_wholesale_price = True
    matches_on_arrival = False

    def __init__(self, market: DlmpMarket) -> None:
        self.market = market

    def receive(self, interval: int, orders: pd.DataFrame) -> None:
        """Nothing: this mechanism clears the whole book at gate closure."""

    def clear(self, book: IntervalBook, prices: ClearingPrices) -> ClearingOutcome:
        """Clear affine and simple orders against the substation at the wholesale price."""
        orders = affine_orders(book)
        result = self.market.clear(orders, prices.wholesale_usd_per_kwh)
        participant_of = pd.Series(
            orders["participant"].to_numpy(dtype=object),
            index=orders["order_id"].to_numpy(dtype=object),
        )
        energy_wh = whole_wh(result.power_kw, book.interval_s)
        trades = central_trades(energy_wh, participant_of, result.price_usd_per_kwh, GRID)
        named = {f"bus:{bus}": float(p) for bus, p in result.dlmp_usd_per_kwh.items()}
        return ClearingOutcome(
            trades=trades,
            status=result.status,
            prices_usd_per_kwh=named,
            tables={
                "dlmp": pd.DataFrame(
                    {
                        "bus": result.dlmp_usd_per_kwh.index.astype(str),
                        "dlmp_usd_per_kwh": result.dlmp_usd_per_kwh.to_numpy(float),
                        "voltage_pu": result.voltage_pu.reindex(
                            result.dlmp_usd_per_kwh.index
                        ).to_numpy(float),
                    }
                ),
                "binding_branches": result.binding_branches,
            },
            reason=result.reason,
        )


class ContinuousMarket:
    """TENT continuous double auction: orders match on arrival, one book per interval and pool."""

    name = "continuous"
    uses_wholesale_price = False
    matches_on_arrival = True

    def __init__(self, priority: str = "age") -> None:
        self.priority = priority
        self._engines: dict[tuple[int, str], MatchingEngine] = {}

    def receive(self, interval: int, orders: pd.DataFrame) -> None:
        """Match arriving simple orders of ``interval`` (rows in arrival order)."""
        for row in orders.itertuples(index=False):
            engine = self._engines.setdefault((interval, row.pool), MatchingEngine(self.priority))
            # Without an expiry an order stands until the interval's book closes.
            expires_s = _NEVER_S if np.isnan(row.expires_time_s) else row.expires_time_s
            engine.submit(
                row.order_id,
                row.participant,
                row.side,
                int(row.quantity_wh),
                float(row.price_usd_per_kwh),
                float(row.received_time_s),
                # An order arriving at its own expiry (at gate closure) still matches at once.
                expires_s=max(float(expires_s), np.nextafter(float(row.received_time_s), np.inf)),
                divisible=bool(row.divisible),
            )

    def clear(self, book: IntervalBook, prices: ClearingPrices) -> ClearingOutcome:
        """Close the interval's books: the fills made while the gate was open are its trades."""
        interval = book.interval_index
        fills: list[Fill] = []
        pools: list[str] = []
        for (engine_interval, pool), engine in sorted(self._engines.items()):
            if engine_interval == interval:
                records = engine.fill_records
                fills.extend(records)
                pools.extend([pool] * len(records))
        for key in [key for key in self._engines if key[0] == interval]:
            del self._engines[key]
        # The submitted (parent) orders are the ones traded; children are the engine's own.
        trades = typed_frame(
            {
                "buy_order_id": np.array([f.buy_parent_order_id for f in fills], dtype=object),
                "sell_order_id": np.array([f.sell_parent_order_id for f in fills], dtype=object),
                "buyer": np.array([f.buyer for f in fills], dtype=object),
                "seller": np.array([f.seller for f in fills], dtype=object),
                "quantity_wh": np.array([f.quantity_wh for f in fills], dtype=np.int64),
                "price_usd_per_kwh": np.array([f.price_usd_per_kwh for f in fills], dtype=float),
                "bid_price_usd_per_kwh": np.array(
                    [f.bid_price_usd_per_kwh for f in fills], dtype=float
                ),
                "ask_price_usd_per_kwh": np.array(
                    [f.ask_price_usd_per_kwh for f in fills], dtype=float
                ),
                "pool": np.array(pools, dtype=object),
            }
        )
        sides = set(book.simple["side"])
        if book.simple.empty:
            status = "empty"
        elif len(sides) < 2:
            status = "one_sided"
        else:
            status = "cleared" if len(trades) else "no_crossing"
        return ClearingOutcome(trades=trades, status=status)


class BilateralNegotiation:
    """OpenGridGym's P2P bilateral negotiation: pairs of producers and consumers haggle in
    rounds (see `tefed.domain.market.mechanisms.bilateral_negotiation`)."""

    name = "p2p_negotiation"
    uses_wholesale_price = False
    matches_on_arrival = False

    def __init__(
        self,
        rules: NegotiationRules,
        pairing: str = "random",
        seed: int = 0,
        overloads: Overloads | None = None,
    ) -> None:
        self.rules = rules
        self.pairing = pairing
        self.seed = seed
        self.overloads = overloads
        #: The households' bandit statistics, kept across intervals.
        self.statistics = ArmStatistics(rules.price_arms)

    def receive(self, interval: int, orders: pd.DataFrame) -> None:
        """Nothing: pairs are formed and negotiate at gate closure."""

    def clear(self, book: IntervalBook, prices: ClearingPrices) -> ClearingOutcome:
        """Pair the simple orders and negotiate every pair (``negotiations`` table)."""
        # One stream of draws per interval: a run's pairs do not depend on the intervals before.
        rng = np.random.default_rng([self.seed, book.interval_index])
        result = clear_bilateral(
            book.simple,
            self.rules,
            self.statistics,
            prices.import_usd_per_kwh,
            prices.export_usd_per_kwh,
            self.pairing,
            rng,
            None if self.overloads is None else _per_interval(self.overloads, book.interval_s),
            market_maker=MARKET,
        )
        return ClearingOutcome(
            trades=result.trades,
            status=result.status,
            prices_usd_per_kwh=pool_prices(result.trades),
            tables={"negotiations": result.negotiations},
            charges=result.charges,
        )


def _per_interval(overloads: Overloads, interval_s: int) -> Overloads:
    """``overloads`` of powers [kW] as the negotiation asks it, with quantities [Wh]."""
    return lambda sellers, buyers, quantity_wh: overloads(
        sellers, buyers, quantity_wh * 3.6 / interval_s
    )


class CommunityMarkets:
    """Communities of communities: a uniform-price market per community and an upper market
    across them (see `tefed.domain.market.mechanisms.community_markets`)."""

    name = "communities"
    uses_wholesale_price = False
    matches_on_arrival = False

    def __init__(self, community_of: pd.Series, tie_breaking: str = "time") -> None:
        self.community_of = community_of
        self.tie_breaking = tie_breaking

    def receive(self, interval: int, orders: pd.DataFrame) -> None:
        """Nothing: every market clears at gate closure."""

    def clear(self, book: IntervalBook, prices: ClearingPrices) -> ClearingOutcome:
        """Clear each community, then the upper market; prices ``community:<name>:<pool>``
        and ``upper:<pool>`` beside the volume-weighted ``pool:<name>``."""
        result = clear_communities(book.simple, self.community_of, self.tie_breaking)
        table = result.communities
        named = pool_prices(result.trades)
        local = table["local_price_usd_per_kwh"].to_numpy(float)
        for name, pool, price in zip(
            table["community"].tolist(), table["pool"].tolist(), local.tolist(), strict=True
        ):
            if np.isfinite(price):
                named[f"community:{name}:{pool}"] = price
        named |= {f"upper:{pool}": price for pool, price in result.upper_price_usd_per_kwh.items()}
        upper = table["pool"].map(result.upper_price_usd_per_kwh).astype(float)
        return ClearingOutcome(
            trades=result.trades[list(OUTCOME_TRADE_COLUMNS)],
            status=result.status,
            prices_usd_per_kwh=named,
            tables={"communities": table.assign(upper_price_usd_per_kwh=upper.to_numpy())},
        )


class Mechanism(Protocol):
    """What the market federate needs of a clearing mechanism.

    A mechanism says what it uses and when it matches through attributes, so the market never
    has to ask which mechanism it holds.
    """

    #: The scenario's name of the mechanism (``market.mechanism``).
    name: str
    #: True when clearing uses the wholesale price (``ClearingPrices.wholesale_usd_per_kwh``);
    #: the market passes NaN otherwise.
    uses_wholesale_price: bool
    #: True when orders match as they arrive (``receive``), not only at gate closure.
    matches_on_arrival: bool

    def receive(self, interval: int, orders: pd.DataFrame) -> None:
        """Take simple orders of ``interval`` as they arrive (rows in arrival order)."""

    def clear(self, book: IntervalBook, prices: ClearingPrices) -> ClearingOutcome:
        """The outcome of the interval whose gate has closed, from its whole book."""
