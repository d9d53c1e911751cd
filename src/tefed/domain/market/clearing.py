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
from functools import cache, cached_property
from itertools import pairwise
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
from tefed.domain.market.mechanisms.curve_clearing import clear_curves
from tefed.domain.market.mechanisms.day_ahead import (
    DayAheadResult,
    clear_day_ahead,
    real_time_changes_wh,
)
from tefed.domain.market.mechanisms.double_auction import clear_double_auction
from tefed.domain.market.mechanisms.matching_engine import Fill, MatchingEngine
from tefed.domain.market.order_curves import affine_orders, order_vertices
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
        communities).
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
            prices_usd_per_kwh=_pool_prices(result.trades),
        )


def _pool_prices(trades: pd.DataFrame) -> dict[str, float]:
    """Each pool's volume-weighted trade price, ``pool:<name>``, pools by name [USD/kWh].

    Under the uniform rule it is the pool's one price; under the pairwise rules the price a
    learning trader observes (T-REX's ma_crossover). Pools without trades have none.

    Notes
    -----
    A pool's value [USD·Wh/kWh] is summed as pandas' grouped sum sums it, whose rounding the
    prices households are told have always had (`_grouped_sums`); for the few trades of an
    interval without building a ``groupby`` (~0.4 ms).
    """
    if trades.empty:
        return {}
    quantity_wh = column_array(trades, "quantity_wh", dtype=np.int64)
    value = quantity_wh * column_array(trades, "price_usd_per_kwh", dtype=np.float64)
    pool = column_array(trades, "pool", dtype=object).tolist()
    if not all(type(name) is str for name in pool):
        # Pools of other kinds: numpy's unique sorts them, pandas groups them.
        names_array, group = np.unique(np.array(pool, dtype=object), return_inverse=True)
        names = names_array.tolist()
        groups = group.tolist()
    else:
        # Sorted as numpy's unique sorts str, so the pools come in the same order.
        names = sorted(set(pool))
        group_of = {name: group for group, name in enumerate(names)}
        groups = [group_of[name] for name in pool]
    energy_wh = np.zeros(len(names), dtype=np.int64)
    np.add.at(energy_wh, np.array(groups, dtype=np.intp), quantity_wh)
    summed = _grouped_sums(value, groups, len(names))
    return {
        f"pool:{name}": float(summed[k] / energy_wh[k])
        for k, name in enumerate(names)
        if energy_wh[k] > 0
    }


def _grouped_sums(values: np.ndarray, groups: list[int], group_count: int) -> np.ndarray:
    """``pandas.Series(values).groupby(groups).sum()`` as an array, bit for bit.

    Every group in ``range(group_count)`` has a value. pandas (3.1) sums the groups with
    ``np.add.reduceat`` when the labels are sorted and no value is NaN, else with Kahan's
    compensated loop in row order; both are done here as pandas does them, where
    `_pandas_grouped_sum` finds that this pandas does. Otherwise, or with NaN, pandas sums.
    """
    by_reduceat, by_kahan = _pandas_grouped_sum()
    labels_sorted = all(a <= b for a, b in pairwise(groups))
    if not np.isnan(values).any():
        if labels_sorted and by_reduceat:
            starts = [0] + [k for k in range(1, len(groups)) if groups[k] != groups[k - 1]]
            return np.add.reduceat(values, np.array(starts, dtype=np.intp), axis=0)
        if not labels_sorted and by_kahan:
            return np.array(_compensated_sums(values.tolist(), groups, group_count))
    return pd.Series(values).groupby(np.array(groups, dtype=np.intp)).sum().to_numpy()


def _compensated_sums(values: list[float], groups: list[int], group_count: int) -> list[float]:
    """Each group's Kahan-compensated sum of ``values`` in row order, as pandas' compiled loop.

    A compensation that is not a number (a value of ±inf) is reset to 0, as pandas resets it
    (GH#53606). Python floats are IEEE doubles, so every step rounds as the compiled one does.
    """
    total = [0.0] * group_count
    compensation = [0.0] * group_count
    for value, group in zip(values, groups, strict=True):
        y = value - compensation[group]
        t = total[group] + y
        c = t - total[group] - y
        compensation[group] = c if c == c else 0.0
        total[group] = t
    return total


@cache
def _pandas_grouped_sum() -> tuple[bool, bool]:
    """Whether this pandas' grouped float64 sum is ``np.add.reduceat`` for sorted labels, and
    whether it is `_compensated_sums` for unsorted ones.

    Judged once, on fixed values of mixed magnitudes on which the ways of summing round
    differently (naive, pairwise, compensated); `_grouped_sums` asks pandas where either is no.
    """
    # On each group of these (either labelling), a naive loop, numpy's pairwise reduction and
    # Kahan's loop give three different sums.
    values = np.random.default_rng(141).uniform(-1.0, 1.0, 64) * 10.0 ** np.tile(
        np.arange(-3, 13), 4
    )
    sorted_labels = np.repeat(np.arange(2, dtype=np.intp), 32)
    unsorted_labels = np.tile(np.arange(2, dtype=np.intp), 32)
    by_pandas = [
        pd.Series(values).groupby(labels).sum().to_numpy()
        for labels in (sorted_labels, unsorted_labels)
    ]
    by_reduceat = np.add.reduceat(values, np.array([0, 32], dtype=np.intp), axis=0)
    by_kahan = np.array(_compensated_sums(values.tolist(), unsorted_labels.tolist(), 2))
    return (
        by_reduceat.tobytes() == by_pandas[0].tobytes(),
        by_kahan.tobytes() == by_pandas[1].tobytes(),
    )


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
        vertices = order_vertices(book)
        result = clear_curves(
            vertices,
            import_price_usd_per_kwh=prices.import_usd_per_kwh,
            export_price_usd_per_kwh=prices.export_usd_per_kwh,
            feeder_capacity_kw=self.feeder_capacity_kw,
        )
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
            prices_usd_per_kwh=_pool_prices(result.trades),
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
        named = _pool_prices(result.trades)
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


class DayAheadRealTime:
    """TENT version 2: a day-ahead market of hourly periods corrected by 15-minute real-time
    markets (`tefed.domain.market.mechanisms.day_ahead`).

    The market federate clears the day-ahead market at its gate closure with
    `clear_day_ahead`; every market interval then clears in real time with `clear`, which
    trades only each participant's change against its commitment.
    """

    name = "day_ahead"
    uses_wholesale_price = False
    matches_on_arrival = False

    def __init__(
        self, interval_s: int, period_intervals: int, feeder_capacity_kw: float | None = None
    ) -> None:
        self.interval_s = interval_s
        self.period_intervals = period_intervals
        self.feeder_capacity_kw = feeder_capacity_kw
        #: Per market interval: each committed order's participant and energy [Wh].
        self._committed: dict[int, pd.DataFrame] = {}
        #: Per market interval: the day-ahead price of its period [USD/kWh].
        self._day_ahead_price: dict[int, float] = {}

    def receive(self, interval: int, orders: pd.DataFrame) -> None:
        """Nothing: each real-time market clears its whole book at gate closure."""

    def clear_day_ahead(
        self,
        vertices: pd.DataFrame,
        import_price_usd_per_kwh: pd.Series,
        export_price_usd_per_kwh: pd.Series,
    ) -> DayAheadResult:
        """Clear a day-ahead market and commit its cleared energy to every interval of each
        period (``period`` is the period's first market interval; prices indexed by it)."""
        result = clear_day_ahead(
            vertices, import_price_usd_per_kwh, export_price_usd_per_kwh, self.feeder_capacity_kw
        )
        energy_wh = whole_wh(result.power_kw["power_kw"], self.interval_s)
        for period, price in result.price_usd_per_kwh.items():
            in_period = (result.power_kw["period"] == period).to_numpy()
            commitment = pd.DataFrame(
                {
                    "order_id": result.power_kw["order_id"].to_numpy(dtype=object)[in_period],
                    "participant": result.power_kw["participant"].to_numpy(dtype=object)[in_period],
                    "energy_wh": energy_wh.to_numpy(dtype=np.int64)[in_period],
                }
            )
            for interval in range(int(period), int(period) + self.period_intervals):
                self._committed[interval] = commitment
                self._day_ahead_price[interval] = float(price)
        return result

    def clear(self, book: IntervalBook, prices: ClearingPrices) -> ClearingOutcome:
        """Clear the interval's real-time curves at one price; trade each participant's change
        against its commitment there, and its commitment at the day-ahead price."""
        interval = book.interval_index
        committed = self._committed.pop(interval, _NO_COMMITMENT)
        day_ahead_price = self._day_ahead_price.pop(interval, float("nan"))
        vertices = order_vertices(book)
        result = clear_curves(
            vertices,
            import_price_usd_per_kwh=prices.import_usd_per_kwh,
            export_price_usd_per_kwh=prices.export_usd_per_kwh,
            feeder_capacity_kw=self.feeder_capacity_kw,
        )
        order_ids, first = np.unique(vertices["order_id"].to_numpy(dtype=object), return_index=True)
        participant = vertices["participant"].to_numpy(dtype=object)[first]
        order_wh = whole_wh(result.power_kw, book.interval_s).reindex(order_ids, fill_value=0)
        total_wh = pd.Series(order_wh.to_numpy(), index=participant).groupby(level=0).sum()
        committed_wh = committed.groupby("participant")["energy_wh"].sum()
        change_wh = real_time_changes_wh(total_wh, committed_wh)
        # A participant's change is traded under its (first) real-time order.
        order_of = pd.Series(order_ids, index=participant).groupby(level=0).first()
        change_by_order = pd.Series(
            change_wh.to_numpy(), index=order_of.reindex(change_wh.index).to_numpy(dtype=object)
        )
        real_time_price = result.price_usd_per_kwh
        trades = pd.concat(
            [
                central_trades(
                    pd.Series(committed["energy_wh"].to_numpy(), index=committed["order_id"]),
                    pd.Series(committed["participant"].to_numpy(), index=committed["order_id"]),
                    day_ahead_price,
                    MARKET,
                    grid_supply_wh=int(committed["energy_wh"].sum()),
                ),
                central_trades(
                    change_by_order,
                    pd.Series(change_wh.index.to_numpy(dtype=object), index=change_by_order.index),
                    real_time_price,
                    MARKET,
                    grid_supply_wh=int(change_wh.sum()),
                ),
            ],
            ignore_index=True,
        )
        named = {
            name: price
            for name, price in (("day_ahead", day_ahead_price), ("real_time", real_time_price))
            if np.isfinite(price)
        }
        participants = committed_wh.index.union(change_wh.index)
        table = pd.DataFrame(
            {
                "participant": participants.to_numpy(dtype=object),
                "day_ahead_energy_wh": committed_wh.reindex(participants, fill_value=0)
                .to_numpy()
                .astype(np.int64),
                "day_ahead_price_usd_per_kwh": day_ahead_price,
                "real_time_energy_wh": change_wh.reindex(participants, fill_value=0)
                .to_numpy()
                .astype(np.int64),
                "real_time_price_usd_per_kwh": real_time_price,
            }
        )
        return ClearingOutcome(
            trades=trades,
            status=result.status,
            prices_usd_per_kwh=named,
            tables={"day_ahead": table},
        )


_NO_COMMITMENT = pd.DataFrame(
    {
        "order_id": pd.Series(dtype=object),
        "participant": pd.Series(dtype=object),
        "energy_wh": pd.Series(dtype="int64"),
    }
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


#: Every mechanism's type by its scenario name (``market.mechanism``), for what a mechanism
#: declares about itself before one is built (e.g. ``uses_wholesale_price``).
MECHANISM_TYPES: dict[str, type[Mechanism]] = {
    mechanism.name: mechanism
    for mechanism in (
        DoubleAuction,
        CurveClearing,
        NetworkClearing,
        ContinuousMarket,
        BilateralNegotiation,
        CommunityMarkets,
        DayAheadRealTime,
    )
}
