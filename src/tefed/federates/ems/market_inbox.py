"""What the market's messages tell an ems shard's households, held as arrays.

The ems takes every message its households receive through a `MarketInbox`: only the market's
endpoint may write to a household (HELICS vouches for a message's source), a batch counts only
for the households the shard hosts, and a message that cannot be read, or that names an
interval outside the run, is logged and ignored. Awards give each household's awarded net
energy per interval and show the strategies the interval's clearing price once; settlements
give each household's bill per interval; rejections are counted. Every award and settlement
line is kept as a table row until the ems writes it (``household_awards``,
``household_settlements``).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from tefed.contract import keys
from tefed.contract.logic import Message, MissingMessagesError
from tefed.contract.messages import (
    AwardsMessage,
    RejectedMessage,
    SettlementMessage,
    parse_market_message,
)
from tefed.contract.shard_layout import ShardLayout
from tefed.contract.time_grid import TimeGrid
from tefed.federates.ems.record_tables import RECEIVED_COLUMNS

log = logging.getLogger("tefed.ems")

#: Households named in the error for missing settlements; the rest are counted.
HOUSEHOLDS_NAMED = 5


class MarketInbox:
    """The market's messages to the households ``hosted`` of one ems shard.

    Parameters
    ----------
    hosted : list of str
        The shard's household ids, in shard order (the order of every array here).
    grid : TimeGrid
        The run's time grid.
    layout : ShardLayout
        How the federation's households are sharded (to take batches apart).
    settled_by_market : bool
        Whether the federation has a market, which settles every interval with every
        household: `require_settlements` then checks that it did.

    Attributes
    ----------
    awarded_net_wh : numpy.ndarray
        Awarded net energy per interval and household, bought positive [Wh].
    bill_usd : numpy.ndarray
        Settled amount per interval and household, paid positive (NaN: none yet) [USD].
    received : dict of str to list of tuple
        Award and settlement rows received and not yet written, by table (``household_awards``,
        ``household_settlements``): the ems empties each list as it writes it.
    rejections : int
        Orders the market rejected [-].
    """

    def __init__(
        self, hosted: list[str], grid: TimeGrid, layout: ShardLayout, settled_by_market: bool
    ):
        count = len(hosted)
        self._ids = list(hosted)
        self._index_of = {household: k for k, household in enumerate(self._ids)}
        self._grid = grid
        self._layout = layout
        self._settled_by_market = settled_by_market
        self.awarded_net_wh = np.zeros((grid.n_intervals, count))
        self.bill_usd = np.full((grid.n_intervals, count), np.nan)
        self._settled = np.zeros((grid.n_intervals, count), dtype=bool)
        self._observed = np.zeros(grid.n_intervals, dtype=bool)
        self.received: dict[str, list[tuple]] = {table: [] for table in RECEIVED_COLUMNS}
        self.rejections = 0

    def take(self, message: Message) -> list[tuple[int, float]]:
        """Take in one received message.

        Returns
        -------
        list of (int, float)
            Each interval whose awards came for the first time, with its clearing price (the
            mean of the market's finite named prices: per pool, uniform, or per bus; NaN when
            it named none) [USD/kWh]: for the strategies to observe.
        """
        if message.source != keys.MARKET_ENDPOINT:
            log.warning(
                "message from %r to %r ignored: only the market writes to households",
                message.source,
                message.destination,
            )
            return []
        try:
            unpacked = self._layout.unwrap_parsed(message, to_shard=True)
        except ValueError as error:
            log.warning("message from %r ignored: %s", message.source, error)
            return []
        observed = []
        for _, destination, content in unpacked:
            price = self._receive(destination, content)
            if price is not None:
                observed.append(price)
        return observed

    def require_settlements(self, time_s: int) -> None:
        """At the start of interval ``k + 1`` (and at the end of the run), every household's
        settlement of ``k`` has come, as the contract has the market send it: a market that
        left the federation early would otherwise leave the rest of the run unsettled.

        Raises
        ------
        MissingMessagesError
            Naming the market's endpoint, the interval and the households without it.
        """
        interval_s = self._grid.market_interval_s
        if not self._settled_by_market or time_s <= 0 or time_s % interval_s:
            return
        interval = time_s // interval_s - 1
        unsettled = np.flatnonzero(~self._settled[interval])
        if unsettled.size:
            shown = [self._ids[k] for k in unsettled[:HOUSEHOLDS_NAMED]]
            more = unsettled.size - HOUSEHOLDS_NAMED
            raise MissingMessagesError(
                keys.MARKET_ENDPOINT,
                time_s,
                f"settlement of interval {interval} for households {shown}"
                + (f" and {more} more" if more > 0 else ""),
            )

    def _receive(self, destination: str, content: str | dict[str, Any]) -> tuple[int, float] | None:
        """Take in one household's message; the interval and clearing price it showed first."""
        household = keys.household_of_endpoint(destination)
        index = self._index_of.get(household) if household else None
        if index is None:
            log.warning("message for %r is not for this shard; ignored", destination)
            return None
        try:
            parsed = parse_market_message(content)
        except (ValueError, RecursionError) as error:
            log.warning("message from the market to %r ignored: %s", household, error)
            return None
        interval = getattr(parsed, "interval_index", None)
        if interval is not None and not 0 <= interval < self._grid.n_intervals:
            log.warning(
                "message from the market to %r ignored: interval_index %r outside 0 to %d",
                household,
                interval,
                self._grid.n_intervals - 1,
            )
            return None
        if isinstance(parsed, AwardsMessage):
            signed = sum(
                award.quantity_wh if award.side == "buy" else -award.quantity_wh
                for award in parsed.awards
            )
            self.awarded_net_wh[parsed.interval_index, index] = signed
            self.received["household_awards"].extend(parsed.award_rows(household))
            return self._clearing_price(parsed)
        if isinstance(parsed, SettlementMessage):
            self.bill_usd[parsed.interval_index, index] = parsed.amount_usd
            self._settled[parsed.interval_index, index] = True
            self.received["household_settlements"].extend(
                (
                    parsed.interval_index,
                    household,
                    line.counterparty,
                    line.energy_wh,
                    line.price_usd_per_kwh,
                    line.amount_usd,
                    line.reason,
                )
                for line in parsed.lines
            )
        elif isinstance(parsed, RejectedMessage):
            self.rejections += len(parsed.rejections)
            log.warning(
                "market rejected orders of %s: %s",
                household,
                "; ".join(f"{r.order_id}: {r.reason}" for r in parsed.rejections),
            )
        return None

    def _clearing_price(self, awards: AwardsMessage) -> tuple[int, float] | None:
        """The interval of ``awards`` and its clearing price, the first time it comes."""
        interval = awards.interval_index
        if self._observed[interval]:
            return None
        self._observed[interval] = True
        prices = np.array(list(awards.prices_usd_per_kwh.values()), dtype=float)
        prices = prices[np.isfinite(prices)]
        return interval, float(prices.mean()) if prices.size else float("nan")
