"""What a learned household observes at a decision: one float32 vector, described by a table.

The table (`observation_fields`) is the space's documentation, its bounds and the order of its
entries at once; ``docs/learning-agents.md`` shows it. Values outside a field's bounds are
clipped into them, so an observation always lies in the space.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

#: Price bound of the market contract (a limit price within ±1,000 USD/kWh).
PRICE_BOUND_USD_PER_KWH = 1000.0
#: Energy bound of one household's interval (the contract's largest order) [Wh].
ENERGY_BOUND_WH = 1_000_000.0


@dataclass(frozen=True)
class ObservationField:
    """One entry (or a run of ``size`` entries) of the observation vector."""

    name: str
    unit: str
    low: float
    high: float
    description: str
    size: int = 1


def observation_fields(forecast_intervals: int) -> tuple[ObservationField, ...]:
    """The observation's fields in vector order, with ``forecast_intervals`` prices of each kind.

    Examples
    --------
    >>> sum(field.size for field in observation_fields(4))
    22
    """
    price = PRICE_BOUND_USD_PER_KWH
    return (
        ObservationField("time_of_day_h", "h", 0.0, 24.0, "local clock time of the decision"),
        ObservationField("episode_fraction", "-", 0.0, 1.0, "simulated time / run duration"),
        ObservationField(
            "orders_open", "-", 0.0, 1.0, "1 when this decision's orders go to the market"
        ),
        ObservationField(
            "import_price_usd_per_kwh",
            "USD/kWh",
            -price,
            price,
            "import price of the interval ordered for and the next ones (price feed forecast; "
            "the last known one repeated past the forecast)",
            forecast_intervals,
        ),
        ObservationField(
            "export_price_usd_per_kwh",
            "USD/kWh",
            -price,
            price,
            "export price, likewise",
            forecast_intervals,
        ),
        ObservationField("load_power_kw", "kW", 0.0, 1000.0, "mean load over the next interval"),
        ObservationField("pv_power_kw", "kW", 0.0, 1000.0, "mean PV power over the next interval"),
        ObservationField("ev_power_kw", "kW", 0.0, 1000.0, "mean EV charging, next interval"),
        ObservationField("soc_kwh", "kWh", 0.0, 10_000.0, "energy stored in the battery"),
        ObservationField("soc_fraction", "-", 0.0, 1.0, "stored energy / capacity (0: no battery)"),
        ObservationField(
            "awarded_net_energy_wh",
            "Wh",
            -ENERGY_BOUND_WH,
            ENERGY_BOUND_WH,
            "net energy awarded for the interval being delivered (bought − sold)",
        ),
        ObservationField(
            "last_settlement_usd",
            "USD",
            -10_000.0,
            10_000.0,
            "amount of the last settlement (positive: the household paid)",
        ),
        ObservationField(
            "last_settlement_energy_wh",
            "Wh",
            -ENERGY_BOUND_WH,
            ENERGY_BOUND_WH,
            "metered net energy of the last settled interval",
        ),
        ObservationField(
            "market_traded_energy_wh",
            "Wh",
            0.0,
            1e9,
            "energy the whole market traded at its last clearing",
        ),
        ObservationField(
            "market_mean_trade_price_usd_per_kwh",
            "USD/kWh",
            -price,
            price,
            "mean trade price of the last clearing with trades (0 before any)",
        ),
        ObservationField(
            "voltage_pu", "pu", 0.0, 2.0, "service voltage at the last grid step (1 before any)"
        ),
    )


def observation_bounds(fields: tuple[ObservationField, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds of the vector, entry by entry (float32)."""
    low = np.concatenate([np.full(field.size, field.low) for field in fields])
    high = np.concatenate([np.full(field.size, field.high) for field in fields])
    return low.astype(np.float32), high.astype(np.float32)


def observation_vector(
    fields: tuple[ObservationField, ...], values: Mapping[str, float | np.ndarray]
) -> np.ndarray:
    """The vector of ``values`` (one per field name) in field order, clipped into the bounds.

    Raises
    ------
    ValueError
        When a field's value is missing, has the wrong size or is NaN.

    Examples
    --------
    >>> fields = observation_fields(1)[:4]
    >>> observation_vector(fields, {"time_of_day_h": 13.5, "episode_fraction": 0.25,
    ...                             "orders_open": 1.0, "import_price_usd_per_kwh": [0.3]})
    array([13.5 ,  0.25,  1.  ,  0.3 ], dtype=float32)
    """
    parts = []
    for field in fields:
        value = np.atleast_1d(np.asarray(values[field.name], dtype=float))
        if value.shape != (field.size,) or np.isnan(value).any():
            raise ValueError(
                f"observation {field.name}: got {value.tolist()}; expected {field.size} number(s)"
            )
        parts.append(np.clip(value, field.low, field.high))
    return np.concatenate(parts).astype(np.float32)
