"""TENT version 2 as one mechanism: day-ahead periods corrected by real-time markets.

`DayAheadRealTime` holds what each day-ahead market committed and clears every market interval
in real time against it; the clearing rules themselves are in
`tefed.domain.market.mechanisms.day_ahead` and `tefed.domain.market.mechanisms.curve_clearing`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tefed.domain.market.clearing import ClearingOutcome, ClearingPrices, clear_book_curves
from tefed.domain.market.interval_book import IntervalBook
from tefed.domain.market.mechanisms.day_ahead import (
    DayAheadResult,
    clear_day_ahead,
    real_time_changes_wh,
)
from tefed.domain.market.trade_tables import MARKET, central_trades, whole_wh


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
        vertices, result = clear_book_curves(book, prices, self.feeder_capacity_kw)
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
