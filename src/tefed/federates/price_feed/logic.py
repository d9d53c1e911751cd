"""Price feed federate logic: publishes prices and forecasts at the start of every interval.

Prices are computed once for every market interval of the run: the wholesale price (from a CSV
file or tefed's synthetic generator, USD/MWh converted to USD/kWh), the retail import price (flat,
time-of-use, or wholesale plus charges and tax) and the export (feed-in) price (flat or indexed
to wholesale). At the start of interval ``j`` (phase 1 of 4) the
feed publishes the three prices of ``j`` and forecasts of each for intervals ``j`` up to
``j + forecast_horizon_intervals − 1`` (element 0 of a forecast is interval ``j``). Forecasts
reach past the end of the run, so that a plan made in the last hour still sees a full horizon:
tariffs and the synthetic series are computed there too; a CSV series that ends with the run
repeats its last day. The forecasts are the tariffs themselves and the wholesale series as given:
a perfect forecast.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tefed.contract import keys
from tefed.contract.errors import InputError
from tefed.contract.logic import FederateContext, FederateLogic, StepInputs, StepOutputs
from tefed.contract.role_configs import (
    CsvWholesaleConfig,
    FlatTariffConfig,
    PriceFeedConfig,
    SyntheticWholesaleConfig,
    TimeOfUseTariffConfig,
    WholesaleIndexedTariffConfig,
    read_role_config,
)
from tefed.contract.run_folder import RunFolder
from tefed.contract.time_grid import TimeGrid
from tefed.domain.periodic_extension import covered_or_repeated
from tefed.domain.prices.tariffs import (
    TimeOfUseWindow,
    flat_price_usd_per_kwh,
    time_of_use_price_usd_per_kwh,
    wholesale_indexed_export_usd_per_kwh,
    wholesale_indexed_import_usd_per_kwh,
)
from tefed.domain.prices.wholesale import (
    hold_to_intervals,
    synthetic_wholesale_usd_per_mwh,
    usd_per_mwh_to_usd_per_kwh,
)
from tefed.io.price_files import read_price_csv


class PriceFeedFederate(FederateLogic):
    """Publishes import, export and wholesale prices with forecasts."""

    role = "price_feed"

    def initialize(self, context: FederateContext) -> None:
        """Compute every interval's prices from the configured sources."""
        config: PriceFeedConfig = read_role_config(self.role, context.config, context.name)
        self._grid: TimeGrid = context.time_grid
        self._horizon = config.forecast_horizon_intervals
        n_intervals = self._grid.n_intervals
        # Forecasts run past the end of the run by one horizon.
        starts = self._grid.calendar(
            self._grid.interval_start_s(np.arange(n_intervals + self._horizon))
        )
        self._interval_starts = starts[:n_intervals]
        wholesale_usd_per_mwh = self._wholesale_usd_per_mwh(config.wholesale, starts, context)
        self._wholesale = usd_per_mwh_to_usd_per_kwh(wholesale_usd_per_mwh)
        self._import = _import_tariff(config.import_tariff, starts, self._wholesale)
        self._export = _export_price(config, starts, self._wholesale)
        self._prices_written = False

    @staticmethod
    def _wholesale_usd_per_mwh(
        spec: SyntheticWholesaleConfig | CsvWholesaleConfig,
        starts: pd.DatetimeIndex,
        context: FederateContext,
    ) -> np.ndarray:
        if isinstance(spec, SyntheticWholesaleConfig):
            return synthetic_wholesale_usd_per_mwh(
                starts,
                seed=context.seed,
                mean_usd_per_mwh=spec.mean_usd_per_mwh,
                daily_amplitude_usd_per_mwh=spec.daily_amplitude_usd_per_mwh,
                noise_usd_per_mwh=spec.noise_usd_per_mwh,
            )
        path = context.resolve(spec.path)
        grid = context.time_grid
        try:
            series = read_price_csv(path, spec.timezone, spec.price_column)
            values = series.to_numpy(float)
            # A file that ends with the run: the forecast past it repeats the last day.
            return covered_or_repeated(
                lambda rows: hold_to_intervals(
                    series.index, values, starts[:rows], grid.market_interval_s
                ),
                grid.n_intervals,
                len(starts),
                grid.intervals_per_day,
            )
        except ValueError as error:
            raise InputError(f"price_feed.wholesale ({path})", [str(error)]) from None

    def schedule_s(self) -> np.ndarray:
        """The start of every market interval."""
        return np.asarray(self._grid.interval_start_s(np.arange(self._grid.n_intervals)))

    def step(self, time_s: int, inputs: StepInputs) -> StepOutputs:
        """Publish the current interval's prices and the forecasts from it onward."""
        current = self._grid.interval_of(time_s)
        window = slice(current, current + self._horizon)
        return StepOutputs(
            values={
                keys.IMPORT_PRICE: float(self._import[current]),
                keys.EXPORT_PRICE: float(self._export[current]),
                keys.WHOLESALE_PRICE: float(self._wholesale[current]),
                keys.IMPORT_PRICE_FORECAST: self._import[window],
                keys.EXPORT_PRICE_FORECAST: self._export[window],
                keys.WHOLESALE_PRICE_FORECAST: self._wholesale[window],
            }
        )

    def write_progress(self, results: RunFolder, time_s: int) -> None:
        """Write every interval's prices once, after the first step: they are all known then,
        so a run that fails keeps them."""
        if not self._prices_written:
            self._write_prices(results)

    def finalize(self, results: RunFolder) -> None:
        """Write the price of every interval (unless already written)."""
        if not self._prices_written:
            self._write_prices(results)

    def _write_prices(self, results: RunFolder) -> None:
        n_intervals = self._grid.n_intervals
        self._prices_written = True
        results.write_parquet(
            "prices.parquet",
            pd.DataFrame(
                {
                    "interval_index": np.arange(self._grid.n_intervals),
                    "interval_start": self._interval_starts,
                    "import_price_usd_per_kwh": self._import[:n_intervals],
                    "export_price_usd_per_kwh": self._export[:n_intervals],
                    "wholesale_price_usd_per_kwh": self._wholesale[:n_intervals],
                }
            ),
        )


def _import_tariff(
    spec: FlatTariffConfig | TimeOfUseTariffConfig | WholesaleIndexedTariffConfig,
    starts: pd.DatetimeIndex,
    wholesale_usd_per_kwh: np.ndarray,
) -> np.ndarray:
    """Import price of every interval [USD/kWh]."""
    if isinstance(spec, FlatTariffConfig):
        return flat_price_usd_per_kwh(starts, spec.price_usd_per_kwh)
    if isinstance(spec, WholesaleIndexedTariffConfig):
        return wholesale_indexed_import_usd_per_kwh(
            wholesale_usd_per_kwh,
            spec.energy_charge_usd_per_kwh,
            spec.tax_fraction,
            spec.minimum_usd_per_kwh,
        )
    try:
        windows = [TimeOfUseWindow(**window.model_dump()) for window in spec.windows]
    except ValueError as error:
        raise InputError("price_feed.import_tariff.windows", [str(error)]) from None
    return time_of_use_price_usd_per_kwh(starts, spec.base_price_usd_per_kwh, windows)


def _export_price(
    config: PriceFeedConfig, starts: pd.DatetimeIndex, wholesale_usd_per_kwh: np.ndarray
) -> np.ndarray:
    """Export price of every interval: flat, or indexed to wholesale [USD/kWh]."""
    spec = config.export_tariff
    if spec is None:
        return flat_price_usd_per_kwh(starts, config.export_price_usd_per_kwh)
    return wholesale_indexed_export_usd_per_kwh(
        wholesale_usd_per_kwh, spec.fraction, spec.offset_usd_per_kwh, spec.minimum_usd_per_kwh
    )
