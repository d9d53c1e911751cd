"""The ``prices`` section of a scenario: wholesale series, retail import tariff, export price.

``wholesale`` is one of two sources (``synthetic``, the default, or ``csv``), ``import_tariff``
one of three kinds (``flat``, the default, ``time_of_use`` or ``wholesale_indexed``); the export
price is flat (``export_price_usd_per_kwh``) or indexed to wholesale (``export_tariff``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from tefed.domain.prices.tariffs import (
    DEFAULT_EXPORT_PRICE_USD_PER_KWH,
    DEFAULT_IMPORT_PRICE_USD_PER_KWH,
    TimeOfUseWindow,
)
from tefed.scenario.section import MAX_TIMEZONE_CHARS, ScenarioSection

#: Largest magnitude of a wholesale price (market caps are a few thousand) [USD/MWh].
MAX_WHOLESALE_USD_PER_MWH = 100_000.0
#: Largest magnitude of a retail or feed-in price [USD/kWh].
MAX_RETAIL_USD_PER_KWH = 100.0
#: Longest price forecast: four weeks of 15-minute intervals [intervals].
MAX_FORECAST_INTERVALS = 2688
#: Most time-of-use windows in a tariff [-].
MAX_TOU_WINDOWS = 1_000
#: A wholesale price [USD/MWh].
WholesalePrice = Annotated[
    float, Field(ge=-MAX_WHOLESALE_USD_PER_MWH, le=MAX_WHOLESALE_USD_PER_MWH)
]
#: A retail import or feed-in price [USD/kWh].
RetailPrice = Annotated[float, Field(ge=-MAX_RETAIL_USD_PER_KWH, le=MAX_RETAIL_USD_PER_KWH)]


class SyntheticWholesale(ScenarioSection):
    """tefed's synthetic wholesale price series."""

    source: Literal["synthetic"] = Field(
        "synthetic", description="where wholesale prices come from (the default)"
    )
    mean_usd_per_mwh: WholesalePrice = Field(45.0, description="mean price over a week [USD/MWh]")
    daily_amplitude_usd_per_mwh: float = Field(
        25.0,
        ge=0,
        le=MAX_WHOLESALE_USD_PER_MWH,
        description="amplitude of the daily price shape [USD/MWh]",
    )
    noise_usd_per_mwh: float = Field(
        4.0,
        ge=0,
        le=MAX_WHOLESALE_USD_PER_MWH,
        description="standard deviation of the correlated noise [USD/MWh]",
    )


class CsvWholesale(ScenarioSection):
    """Wholesale prices from a CSV file (ERCOT day-ahead layout or ``timestamp`` + price).

    A row's price holds until the next row's time. A market interval within one row takes its
    price; one spanning several rows of a finer file (5-minute prices on a 15-minute market)
    takes their mean, each weighted by how long it holds in the interval."""

    source: Literal["csv"] = Field(description="where wholesale prices come from")
    path: str = Field(description="CSV file, relative to the scenario file")
    timezone: str = Field(
        max_length=MAX_TIMEZONE_CHARS,
        description="IANA time zone of the market: ERCOT dates and hours and naive timestamps "
        "are local to it",
    )
    price_column: str | None = Field(
        None,
        description="column with the price in USD/MWh; none: price_usd_per_mwh (ERCOT layout) "
        "or the one column ending in _usd_per_mwh",
    )


class FlatTariff(ScenarioSection):
    """One retail import price at all times."""

    kind: Literal["flat"] = Field("flat", description="kind of tariff (the default)")
    price_usd_per_kwh: RetailPrice = Field(
        DEFAULT_IMPORT_PRICE_USD_PER_KWH, description="retail import price [USD/kWh]"
    )


class TouWindow(ScenarioSection):
    """A time-of-use window [start_hour, end_hour) in local time."""

    start_hour: float = Field(ge=0, le=24, description="local time the window starts [h]")
    end_hour: float = Field(ge=0, le=24, description="local time the window ends [h]")
    price_usd_per_kwh: RetailPrice = Field(description="import price in the window [USD/kWh]")
    days: Literal["all", "weekdays", "weekends"] = Field(
        "all", description="days the window applies to"
    )

    @model_validator(mode="after")
    def _window(self) -> TouWindow:
        TimeOfUseWindow(**self.model_dump())
        return self


class TouTariff(ScenarioSection):
    """A base import price with time-of-use windows (later windows win where they overlap)."""

    kind: Literal["time_of_use"] = Field(description="kind of tariff")
    base_price_usd_per_kwh: RetailPrice = Field(
        description="import price outside the windows [USD/kWh]"
    )
    windows: list[TouWindow] = Field(
        min_length=1, max_length=MAX_TOU_WINDOWS, description="time-of-use windows"
    )


class WholesaleIndexedTariff(ScenarioSection):
    """A dynamic import price: max(minimum, (wholesale + energy charges) · (1 + tax))."""

    kind: Literal["wholesale_indexed"] = Field(description="kind of tariff")
    energy_charge_usd_per_kwh: RetailPrice = Field(
        0.0,
        description="charges added to the wholesale price of every kWh (network, supplier "
        "margin, levies) [USD/kWh]",
    )
    tax_fraction: float = Field(
        0.0, ge=0, le=10, description="tax on the price with the charges, e.g. 0.19 [-]"
    )
    minimum_usd_per_kwh: RetailPrice | None = Field(
        None, description="lowest import price; none: no floor [USD/kWh]"
    )


class WholesaleIndexedExport(ScenarioSection):
    """A feed-in price indexed to wholesale: max(minimum, fraction · wholesale + offset)."""

    kind: Literal["wholesale_indexed"] = Field(description="kind of export price")
    fraction: float = Field(
        1.0, ge=0, le=10, description="share of the wholesale price paid for exports [-]"
    )
    offset_usd_per_kwh: RetailPrice = Field(
        0.0, description="added to every exported kWh (negative: a fee) [USD/kWh]"
    )
    minimum_usd_per_kwh: RetailPrice | None = Field(
        None, description="lowest export price; none: it follows wholesale below 0 [USD/kWh]"
    )


class PricesSpec(ScenarioSection):
    """Exogenous prices."""

    wholesale: Annotated[SyntheticWholesale | CsvWholesale, Field(discriminator="source")] = Field(
        default_factory=SyntheticWholesale, description="wholesale price series, by source"
    )
    import_tariff: Annotated[
        FlatTariff | TouTariff | WholesaleIndexedTariff, Field(discriminator="kind")
    ] = Field(default_factory=FlatTariff, description="retail price of energy drawn from the grid")
    export_price_usd_per_kwh: RetailPrice = Field(
        DEFAULT_EXPORT_PRICE_USD_PER_KWH, description="net-billing feed-in price [USD/kWh]"
    )
    export_tariff: WholesaleIndexedExport | None = Field(
        None,
        description="feed-in price indexed to the wholesale price; when given it replaces "
        "export_price_usd_per_kwh; none: the flat export_price_usd_per_kwh",
    )
    forecast_horizon_intervals: int = Field(
        96,
        ge=2,
        le=MAX_FORECAST_INTERVALS,
        description="length of the published price forecasts [intervals]",
    )


#: Tags of the wholesale sources and tariff kinds (pydantic puts them in error paths).
PRICE_KINDS = frozenset({"synthetic", "csv", "flat", "time_of_use", "wholesale_indexed"})
