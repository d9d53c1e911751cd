"""The form a household's quote takes in each market: a simple order, a curve or an affine curve.

A quote is one side, a whole-Wh quantity and a limit price per household (see
`federates.ems.strategies.simple_trader.quote_orders`). Each mechanism takes it as

- ``double_auction`` and ``continuous``: a simple order (in the continuous market it stands
  until the interval's gate closes);
- ``curve_clearing``: a TENT curve. A bid is inelastic, one vertex at its limit price (the
  grid supplies at the import price, so the household is served whatever the price); an ask
  offers its surplus elastically, from 0 kW at the export price to all of it at its ask price
  (one vertex at the ask price when the two prices are equal);
- ``dlmp``: an affine curve. A bid consumes its power at prices up to the export price, falling
  linearly to nothing at its bid price; an ask generates nothing up to the export price, rising
  to all of its surplus at its ask price (a step at the ask price when the two are equal).

Powers are the quantity's average over the interval: ``P = quantity_wh · 3.6 / interval_s``.
"""

from __future__ import annotations

import numpy as np

from federates.ems.strategies.simple_trader import BUY, NO_ORDER, OrderQuotes
from federates.messages import AffineOrder, CurveOrder, CurveVertex, Order, OrdersMessage

#: Order kind each market mechanism takes from the built-in households.
ORDER_KIND = {
    "double_auction": "simple",
    "continuous": "simple",
    "curve_clearing": "curve",
    "dlmp": "affine",
}


def order_messages(
    mechanism: str,
    quotes: OrderQuotes,
    interval: int,
    interval_s: int,
    export_price_usd_per_kwh: float,
    ordering: np.ndarray,
    expires_time_s: int | None = None,
) -> list[tuple[int, OrdersMessage]]:
    """One orders message per ordering household, in the form ``mechanism`` takes.

    Parameters
    ----------
    mechanism : str
        A key of `ORDER_KIND`.
    quotes : OrderQuotes
        Side, quantity [Wh] and limit price [USD/kWh] per household.
    interval : int
        Delivery interval the orders are for.
    interval_s : int
        Its length [s].
    export_price_usd_per_kwh : float
        Net-billing export price of the interval [USD/kWh]; the low end of elastic curves.
    ordering : numpy.ndarray of int
        Indices of the households that order (their side is not ``NO_ORDER``).
    expires_time_s : int, optional
        Expiry of simple orders [s] (continuous market).

    Returns
    -------
    list of (int, OrdersMessage)
        Household index and its message.

    Examples
    --------
    A 250 Wh ask at 0.10 USD/kWh over 15 minutes is a 1 kW curve from the 0.069 export price:

    >>> from federates.ems.strategies.simple_trader import SELL
    >>> quotes = OrderQuotes(np.array([SELL]), np.array([250]), np.array([0.10]))
    >>> [(i, m.orders[0].vertices[-1].power_kw)
    ...  for i, m in order_messages("curve_clearing", quotes, 5, 900, 0.069, np.array([0]))]
    [(0, -1.0)]
    """
    kind = ORDER_KIND[mechanism]
    messages = []
    for index in ordering.tolist():
        if quotes.side[index] == NO_ORDER:
            continue
        side = "buy" if quotes.side[index] == BUY else "sell"
        quantity_wh = int(quotes.quantity_wh[index])
        price = float(quotes.price_usd_per_kwh[index])
        power_kw = quantity_wh * 3.6 / interval_s
        order_id = f"{interval}-{side}"
        if kind == "simple":
            order = Order(
                order_id=order_id,
                side=side,
                quantity_wh=quantity_wh,
                price_usd_per_kwh=price,
                expires_time_s=expires_time_s,
            )
        elif kind == "curve":
            order = CurveOrder(
                kind="curve",
                order_id=order_id,
                vertices=_curve(side, power_kw, price, export_price_usd_per_kwh),
            )
        else:
            low = min(export_price_usd_per_kwh, price)
            order = AffineOrder(
                kind="affine",
                order_id=order_id,
                side=side,
                price_max_usd_per_kwh=price,
                price_min_usd_per_kwh=low,
                power_max_kw=power_kw,
                power_min_kw=0.0,
            )
        messages.append((index, OrdersMessage(interval_index=interval, orders=[order])))
    return messages


def _curve(
    side: str, power_kw: float, price_usd_per_kwh: float, export_price_usd_per_kwh: float
) -> list[CurveVertex]:
    if side == "buy":
        return [CurveVertex(price_usd_per_kwh=price_usd_per_kwh, power_kw=power_kw)]
    if price_usd_per_kwh <= export_price_usd_per_kwh:
        return [CurveVertex(price_usd_per_kwh=price_usd_per_kwh, power_kw=-power_kw)]
    return [
        CurveVertex(price_usd_per_kwh=export_price_usd_per_kwh, power_kw=0.0),
        CurveVertex(price_usd_per_kwh=price_usd_per_kwh, power_kw=-power_kw),
    ]
