"""The market federate's day-ahead markets (mechanism ``day_ahead``, TENT version 2).

Households send their curves for the periods of the next day-ahead market in one
``day_ahead_orders`` message each, before its gate closure (`DayAheadDesk.take`); at the gate
closure the mechanism clears them at once (`DayAheadDesk.clear`), the market keeps the orders and
the clearing as tables, and each household that ordered gets its commitments. Real-time
markets then correct the commitments interval by interval (`tefed.domain.market.clearing`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from tefed.contract import keys
from tefed.contract.logic import Message
from tefed.contract.messages import DayAheadAward, DayAheadAwardsMessage, DayAheadOrdersMessage
from tefed.domain.market.mechanisms.day_ahead import DayAheadMarket
from tefed.domain.prices.interval_prices import IntervalPrices

if TYPE_CHECKING:
    from tefed.domain.market.day_ahead_real_time import DayAheadRealTime

#: Columns of the vertices of the day-ahead orders taken for the next market.
VERTEX_COLUMNS = [
    "period",
    "order_id",
    "participant",
    "price_usd_per_kwh",
    "power_kw",
    "continuity",
]
#: Columns of ``market_day_ahead_orders.parquet``.
ORDER_TABLE_COLUMNS = [
    "gate_closure_s",
    "interval_index",
    "participant",
    "order_id",
    "price_usd_per_kwh",
    "power_kw",
    "continuity",
]


class DayAheadDesk:
    """The day-ahead markets of a run, the next to clear first, and the curves taken for it.

    Parameters
    ----------
    markets : list of DayAheadMarket
        The run's day-ahead markets in the order they clear (none: no day-ahead market).
    participants : pandas.Index
        The federation's household ids.
    """

    def __init__(self, markets: list[DayAheadMarket], participants: pd.Index):
        self.markets = markets
        self._participants = participants
        self._cleared = 0
        #: Vertices of the day-ahead orders taken for the next day-ahead market.
        self._vertices: list[dict] = []
        #: Each book key of a day-ahead order: (participant, the household's order id).
        self._keys: dict[str, tuple[str, str]] = {}

    def due(self, time_s: int) -> bool:
        """Whether the next day-ahead market clears at ``time_s`` [s]."""
        if self._cleared >= len(self.markets):
            return False
        return self.markets[self._cleared].gate_closure_s == time_s

    def take(self, time_s: int, message: Message) -> str | None:
        """Take a household's curves, sent at ``time_s`` [s], for the next day-ahead market; or
        the reason to refuse the message (it must name periods of that market, each once, and
        arrive by its gate closure)."""
        participant = keys.household_of_endpoint(message.source)
        if participant not in self._participants:
            return f"unknown participant endpoint {message.source!r}"
        if self._cleared >= len(self.markets):
            return "no day-ahead market is open: every day of the run has cleared"
        market = self.markets[self._cleared]
        try:
            parsed = DayAheadOrdersMessage.model_validate_json(message.payload)
        except ValueError as error:
            return f"malformed day-ahead orders message: {error.errors()[0]['msg']}"
        periods = [period.interval_index for period in parsed.periods]
        unknown = sorted(set(periods) - set(market.period_starts.tolist()))
        if time_s > market.gate_closure_s:
            return f"after the day-ahead gate closure (t={market.gate_closure_s} s)"
        if unknown or len(set(periods)) != len(periods):
            return (
                f"day-ahead periods {unknown or periods}: expected each period of the "
                f"open day-ahead market once (first intervals "
                f"{int(market.period_starts[0])} to {int(market.period_starts[-1])})"
            )
        for period in parsed.periods:
            key = f"{participant}:{period.interval_index}:{period.order.order_id}"
            self._keys[key] = (participant, period.order.order_id)
            self._vertices.extend(
                {
                    "period": period.interval_index,
                    "order_id": key,
                    "participant": participant,
                    "price_usd_per_kwh": vertex.price_usd_per_kwh,
                    "power_kw": vertex.power_kw,
                    "continuity": vertex.continuity,
                }
                for vertex in period.order.vertices
            )
        return None

    def clear(
        self,
        mechanism: DayAheadRealTime,
        prices: IntervalPrices,
        keep: Callable[[str, pd.DataFrame], None],
    ) -> list[Message]:
        """Clear the open day-ahead market with ``mechanism`` at the net-billing prices of its
        periods, handing ``keep`` its tables: ``market_day_ahead_orders.parquet`` (the curves,
        before clearing) and ``market_day_ahead_clearings.parquet`` (each period's status,
        price and orders).

        Returns
        -------
        list of Message
            Each household that ordered: its commitments and the periods' prices.
        """
        market = self.markets[self._cleared]
        self._cleared += 1
        periods = market.period_starts
        import_price = pd.Series([prices.of(int(p))[0] for p in periods], index=periods)
        export_price = pd.Series([prices.of(int(p))[1] for p in periods], index=periods)
        vertices = pd.DataFrame(self._vertices, columns=VERTEX_COLUMNS).astype(
            {"period": "int64", "price_usd_per_kwh": float, "power_kw": float, "continuity": bool}
        )
        self._vertices = []
        keep(
            "market_day_ahead_orders.parquet",
            vertices.rename(columns={"period": "interval_index"}).assign(
                gate_closure_s=np.int64(market.gate_closure_s)
            )[ORDER_TABLE_COLUMNS],
        )
        result = mechanism.clear_day_ahead(vertices, import_price, export_price)
        clearings = pd.DataFrame(
            {
                "gate_closure_s": market.gate_closure_s,
                "interval_index": periods.astype(np.int64),
                "status": result.status.reindex(periods).to_numpy(dtype=object),
                "price_usd_per_kwh": result.price_usd_per_kwh.reindex(periods).to_numpy(),
                "import_price_usd_per_kwh": import_price.to_numpy(),
                "export_price_usd_per_kwh": export_price.to_numpy(),
                "orders": vertices.groupby("period")["order_id"]
                .nunique()
                .reindex(periods, fill_value=0)
                .to_numpy(dtype=np.int64),
            }
        )
        keep("market_day_ahead_clearings.parquet", clearings)
        awards: dict[str, list[DayAheadAward]] = {}
        for row in result.power_kw.itertuples(index=False):
            participant, order_id = self._keys[row.order_id]
            awards.setdefault(participant, []).append(
                DayAheadAward(
                    interval_index=int(row.period),
                    order_id=order_id,
                    power_kw=float(row.power_kw),
                    price_usd_per_kwh=float(result.price_usd_per_kwh[row.period]),
                )
            )
        period_prices = {
            f"period:{int(period)}": float(price)
            for period, price in result.price_usd_per_kwh.items()
            if np.isfinite(price)
        }
        messages = [
            Message(
                source=keys.MARKET_ENDPOINT,
                destination=keys.household_endpoint(participant),
                payload=DayAheadAwardsMessage(
                    awards=awards.get(participant, []), prices_usd_per_kwh=period_prices
                ).model_dump_json(),
            )
            for participant in sorted(set(vertices["participant"]))
        ]
        self._keys = {}
        return messages
