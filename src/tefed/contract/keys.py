"""Names of every HELICS interface tefed's federates use, defined once.

All publications and endpoints are global, so a program replacing one federate (or one
household) registers exactly these names. ``docs/interfaces.md`` lists them with types and units.
"""

from __future__ import annotations

#: Endpoint of the market; households send orders here.
MARKET_ENDPOINT = "market"

#: Price feed publications: the current market interval's prices (double) and forecasts from the
#: current interval onward (vector, element 0 = current interval).
IMPORT_PRICE = "price_feed/import_price_usd_per_kwh"
EXPORT_PRICE = "price_feed/export_price_usd_per_kwh"
WHOLESALE_PRICE = "price_feed/wholesale_price_usd_per_kwh"
IMPORT_PRICE_FORECAST = "price_feed/import_price_forecast_usd_per_kwh"
EXPORT_PRICE_FORECAST = "price_feed/export_price_forecast_usd_per_kwh"
WHOLESALE_PRICE_FORECAST = "price_feed/wholesale_price_forecast_usd_per_kwh"

#: Grid publications about the whole feeder.
SUBSTATION_POWER = "grid/substation_power_kw"
SUBSTATION_REACTIVE_POWER = "grid/substation_reactive_power_kvar"
LOSSES = "grid/losses_kw"
VOLTAGE_MIN = "grid/voltage_min_pu"
VOLTAGE_MAX = "grid/voltage_max_pu"
#: Grid publication of every household's service voltage [pu], in household-table order.
HOUSEHOLD_VOLTAGES = "grid/household_voltage_pu"
#: Grid publication, at the last grid step of each market interval, of every household's metered
#: net energy over that interval [Wh] (import positive), in household-table order.
HOUSEHOLD_ENERGY = "grid/household_energy_wh"

#: Market publications about the interval it cleared last.
TRADED_ENERGY = "market/traded_energy_wh"
MEAN_TRADE_PRICE = "market/mean_trade_price_usd_per_kwh"


def household_power(household_id: str) -> str:
    """Publication of a household's net power drawn from the grid [kW]."""
    return f"household/{household_id}/power_kw"


def household_reactive_power(household_id: str) -> str:
    """Publication of a household's reactive power drawn from the grid [kvar] (optional)."""
    return f"household/{household_id}/reactive_power_kvar"


def household_voltage(household_id: str) -> str:
    """Grid publication of a household's service voltage [pu]."""
    return f"grid/household/{household_id}/voltage_pu"


def household_endpoint(household_id: str) -> str:
    """Endpoint of a household: sends orders, receives awards and settlements."""
    return f"household/{household_id}"


def household_of_endpoint(endpoint: str) -> str | None:
    """Household id of a household endpoint name, or None for any other endpoint."""
    prefix = "household/"
    if endpoint.startswith(prefix) and "/" not in endpoint[len(prefix) :]:
        return endpoint[len(prefix) :]
    return None


def shard_power(shard: str) -> str:
    """Vector publication of an ems shard: its households' net power [kW], in the order of the
    shard's ``households`` list in the federation file."""
    return f"ems/{shard}/power_kw"


def shard_reactive_power(shard: str) -> str:
    """Vector publication of an ems shard: its households' reactive power [kvar] (optional)."""
    return f"ems/{shard}/reactive_power_kvar"


def shard_endpoint(shard: str) -> str:
    """Endpoint of an ems shard: sends its households' orders, receives their market messages,
    each as one ``batch`` message."""
    return f"ems/{shard}"
