"""The simple trader: bid the forecast deficit, ask the forecast surplus.

For delivery interval ``k`` each trading household forecasts its net energy ``R`` (import
positive) with its battery doing self-consumption over the interval, from its current state of
charge. A deficit ``R > 0`` becomes a bid of ``R`` Wh, a surplus ``R < 0`` an ask of ``|R|`` Wh,
rounded to whole Wh. Limit prices lie between the net-billing export price ``p_e`` and import
price ``p_i``, at a fixed fraction per household:

    bid price = p_e + f_bid · (p_i − p_e),    ask price = p_e + f_ask · (p_i − p_e)

so a trade at any price between a bid and an ask beats net billing for both sides.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tefed.domain.ems.devices.battery import BatteryParameters
from tefed.domain.ems.devices.battery_dispatch import dispatch_battery, self_consumption_request_kw

BUY = 1
SELL = -1
NO_ORDER = 0


@dataclass(frozen=True)
class OrderQuotes:
    """One order (or none) per household.

    Attributes
    ----------
    side : numpy.ndarray of int
        ``BUY`` (1), ``SELL`` (-1) or ``NO_ORDER`` (0) per household.
    quantity_wh : numpy.ndarray of int64
        Order quantity [Wh], 0 where there is no order.
    price_usd_per_kwh : numpy.ndarray
        Limit price [USD/kWh].
    dispatchable_wh : numpy.ndarray or None
        Part of each sell quantity the battery supplies (int64, 0 for a bid) [Wh]; the double
        auction takes it in the dispatchable pool, the rest (PV) in the non-dispatchable one.
        None: no battery energy is sold.
    """

    side: np.ndarray
    quantity_wh: np.ndarray
    price_usd_per_kwh: np.ndarray
    dispatchable_wh: np.ndarray | None = None


def battery_sale_wh(
    side: np.ndarray, quantity_wh: np.ndarray, battery_discharge_wh: np.ndarray
) -> np.ndarray:
    """The part of each sell quantity that comes from the battery [Wh].

    Parameters
    ----------
    side : numpy.ndarray of int
        ``BUY``, ``SELL`` or ``NO_ORDER`` per household.
    quantity_wh : numpy.ndarray of int64
        Order quantity [Wh].
    battery_discharge_wh : numpy.ndarray
        Energy the battery discharges into the household's net sale over the interval,
        beyond self-consumption (negative or 0: none) [Wh].

    Returns
    -------
    numpy.ndarray of int64
        ``min(quantity, discharge)`` for a sell order, rounded to whole Wh; 0 otherwise [Wh].
        A household's PV surplus is sold first in its own order, so a sale larger than the
        discharge is PV beyond it.

    Examples
    --------
    >>> battery_sale_wh(np.array([SELL, SELL, BUY]), np.array([500, 200, 300]),
    ...                 np.array([300.0, 300.0, 300.0])).tolist()
    [300, 200, 0]
    """
    discharge_wh = np.rint(np.maximum(battery_discharge_wh, 0.0)).astype(np.int64)
    return np.where(side == SELL, np.minimum(quantity_wh, discharge_wh), 0).astype(np.int64)


def forecast_residual_energy_wh(
    natural_net_power_kw: np.ndarray,
    soc_kwh: np.ndarray,
    battery: BatteryParameters,
    step_s: float,
) -> np.ndarray:
    """Net energy each household expects to draw over an interval, battery doing self-consumption.

    Parameters
    ----------
    natural_net_power_kw : numpy.ndarray
        Forecast load minus PV power per grid step of the interval, shape (steps, households) [kW].
    soc_kwh : numpy.ndarray
        Battery energy at the start of the interval [kWh].
    battery : BatteryParameters
        Battery parameters per household (capacity 0: no battery).
    step_s : float
        Grid step [s].

    Returns
    -------
    numpy.ndarray
        Forecast net energy per household [Wh], import positive.

    Examples
    --------
    Without batteries the residual is the plain energy: 2 kW for two 60 s steps is 66.67 Wh.

    >>> none = BatteryParameters.from_round_trip(np.zeros(1), np.zeros(1), np.ones(1),
    ...                                          np.zeros(1), np.ones(1))
    >>> forecast_residual_energy_wh(np.full((2, 1), 2.0), np.zeros(1), none, 60.0).round(2)
    array([66.67])
    """
    soc = np.array(soc_kwh, dtype=float)
    residual_wh = np.zeros(natural_net_power_kw.shape[1])
    for natural_kw in natural_net_power_kw:
        request_kw = self_consumption_request_kw(natural_kw, 0.0)
        battery_kw, soc = dispatch_battery(soc, request_kw, step_s, battery)
        residual_wh += (natural_kw + battery_kw) * step_s / 3.6
    return residual_wh


def quote_orders(
    residual_wh: np.ndarray,
    import_price_usd_per_kwh: float,
    export_price_usd_per_kwh: float,
    bid_price_fraction: np.ndarray,
    ask_price_fraction: np.ndarray,
) -> OrderQuotes:
    """Turn forecast residual energy into one order per household.

    Parameters
    ----------
    residual_wh : numpy.ndarray
        Forecast net energy per household [Wh], import positive.
    import_price_usd_per_kwh, export_price_usd_per_kwh : float
        Net-billing prices of the delivery interval [USD/kWh].
    bid_price_fraction, ask_price_fraction : numpy.ndarray
        Position of each household's bid and ask price between export (0) and import (1) price.

    Returns
    -------
    OrderQuotes

    Examples
    --------
    >>> quotes = quote_orders(np.array([120.4, -80.6, 0.3]), 0.15, 0.05,
    ...                       np.full(3, 0.8), np.full(3, 0.2))
    >>> quotes.side.tolist(), quotes.quantity_wh.tolist()
    ([1, -1, 0], [120, 81, 0])
    >>> quotes.price_usd_per_kwh.round(3).tolist()
    [0.13, 0.07, 0.0]
    """
    quantity_wh = np.rint(np.abs(residual_wh)).astype(np.int64)
    side = np.where(quantity_wh == 0, NO_ORDER, np.where(residual_wh > 0, BUY, SELL))
    quantity_wh = np.where(side == NO_ORDER, 0, quantity_wh)
    spread = import_price_usd_per_kwh - export_price_usd_per_kwh
    price = np.select(
        [side == BUY, side == SELL],
        [
            export_price_usd_per_kwh + bid_price_fraction * spread,
            export_price_usd_per_kwh + ask_price_fraction * spread,
        ],
        default=0.0,
    )
    return OrderQuotes(side=side, quantity_wh=quantity_wh, price_usd_per_kwh=price)
