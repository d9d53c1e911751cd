"""Net-billing prices per market interval, as a federate learns them from the price feed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from tefed.contract import keys


class IntervalPrices:
    """Import, export and wholesale price of every market interval of a run [USD/kWh].

    The price feed publishes, at the start of interval ``j``, forecast vectors whose element
    ``i`` is the price of interval ``j + i``. Each update overwrites the intervals it covers, so
    a price is always the latest published for its interval.

    Parameters
    ----------
    n_intervals : int
        Number of market intervals in the run.
    """

    def __init__(self, n_intervals: int):
        self.import_usd_per_kwh = np.full(n_intervals, np.nan)
        self.export_usd_per_kwh = np.full(n_intervals, np.nan)
        self.wholesale_usd_per_kwh = np.full(n_intervals, np.nan)

    def update(self, first_interval: int, values: Mapping[str, Any]) -> None:
        """Take in the forecast vectors read at a step of interval ``first_interval``."""
        for key, table in (
            (keys.IMPORT_PRICE_FORECAST, self.import_usd_per_kwh),
            (keys.EXPORT_PRICE_FORECAST, self.export_usd_per_kwh),
            (keys.WHOLESALE_PRICE_FORECAST, self.wholesale_usd_per_kwh),
        ):
            forecast = np.asarray(values.get(key, ()), dtype=float)
            table[first_interval : first_interval + forecast.size] = forecast[
                : table.size - first_interval
            ]

    def of(self, interval: int) -> tuple[float, float]:
        """Import and export price of ``interval`` [USD/kWh].

        Raises
        ------
        ValueError
            When the price feed has not published a price for it.
        """
        import_price = float(self.import_usd_per_kwh[interval])
        export_price = float(self.export_usd_per_kwh[interval])
        if not (np.isfinite(import_price) and np.isfinite(export_price)):
            raise ValueError(
                f"no net-billing price for interval {interval} from the price feed "
                f"({keys.IMPORT_PRICE_FORECAST}, {keys.EXPORT_PRICE_FORECAST}); its forecast "
                "horizon must reach the next market interval"
            )
        return import_price, export_price

    def wholesale_of(self, interval: int) -> float:
        """Wholesale price of ``interval`` [USD/kWh].

        Raises
        ------
        ValueError
            When the price feed has not published one (the federate does not subscribe to it, or
            the forecast horizon is too short).
        """
        price = float(self.wholesale_usd_per_kwh[interval])
        if not np.isfinite(price):
            raise ValueError(
                f"no wholesale price for interval {interval} from the price feed "
                f"({keys.WHOLESALE_PRICE_FORECAST}); its forecast horizon must reach the next "
                "market interval"
            )
        return price
