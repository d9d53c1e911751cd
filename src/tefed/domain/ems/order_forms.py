"""The form a household's quote takes in each market: a simple order, a curve or an affine curve.

A quote is one side, a whole-Wh quantity and a limit price per household (see
`tefed.domain.ems.strategies.simple_trader.quote_orders`). Each mechanism takes it as

- ``double_auction`` and ``continuous``: a simple order (in the continuous market it stands
  until the interval's gate closes). In the double auction a sale is split by source as T-REX
  intends: the battery's part (``OrderQuotes.dispatchable_wh``) is an ask of its own in the
  dispatchable pool (order id ``<interval>-sell-battery``), the rest an ask in the
  non-dispatchable pool; bids are non-dispatchable (the auction moves what PV leaves open on
  to the batteries). The continuous market matches each pool on its own, so there every order
  stays non-dispatchable;
- ``p2p_negotiation`` and ``communities``: a simple order;
- ``curve_clearing`` and the real-time markets of ``day_ahead``: a TENT curve. A bid is
  inelastic, one vertex at its limit price (the grid supplies at the import price, so the
  household is served whatever the price); an ask
  offers its surplus elastically, from 0 kW at the export price to all of it at its ask price
  (one vertex at the ask price when the two prices are equal);
- ``dlmp``: an affine curve. A bid consumes its power at prices up to the export price, falling
  linearly to nothing at its bid price; an ask generates nothing up to the export price, rising
  to all of its surplus at its ask price (a step at the ask price when the two are equal).

Powers are the quantity's average over the interval: ``P = quantity_wh · 3.6 / interval_s``.
"""

from __future__ import annotations

import numpy as np

from tefed.contract.messages import (
    AffineOrder,
    CurveOrder,
    CurveVertex,
    DayAheadOrdersMessage,
    DayAheadPeriodOrder,
    Order,
    OrdersMessage,
)
from tefed.domain.ems.strategies.residual_flexibility import affine_curves, curve_vertices
from tefed.domain.ems.strategies.simple_trader import BUY, NO_ORDER, OrderQuotes, quote_orders

#: Order kind each market mechanism takes from the built-in households.
ORDER_KIND = {
    "double_auction": "simple",
    "continuous": "simple",
    "curve_clearing": "curve",
    "dlmp": "affine",
    "p2p_negotiation": "simple",
    "communities": "simple",
    "day_ahead": "curve",
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

    >>> from tefed.domain.ems.strategies.simple_trader import SELL
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
            battery_wh = (
                int(quotes.dispatchable_wh[index])
                if quotes.dispatchable_wh is not None and mechanism == "double_auction"
                else 0
            )
            parts = [
                (order_id, "non_dispatchable", quantity_wh - battery_wh),
                (f"{order_id}-battery", "dispatchable", battery_wh),
            ]
            orders = [
                Order(
                    order_id=part_id,
                    side=side,
                    quantity_wh=part_wh,
                    price_usd_per_kwh=price,
                    expires_time_s=expires_time_s,
                    pool=pool,
                )
                for part_id, pool, part_wh in parts
                if part_wh > 0
            ]
            messages.append((index, OrdersMessage(interval_index=interval, orders=orders)))
            continue
        if kind == "curve":
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


def day_ahead_messages(
    period_starts: np.ndarray,
    power_kw: np.ndarray,
    import_price_usd_per_kwh: np.ndarray,
    export_price_usd_per_kwh: np.ndarray,
    bid_price_fraction: np.ndarray,
    ask_price_fraction: np.ndarray,
) -> list[tuple[int, DayAheadOrdersMessage]]:
    """Each household's curves for a day-ahead market, from its forecast power per period.

    Parameters
    ----------
    period_starts : numpy.ndarray of int
        First market interval of each period (periods,) [-].
    power_kw : numpy.ndarray
        Forecast mean net power of each household in each period, (households, periods),
        import positive [kW].
    import_price_usd_per_kwh, export_price_usd_per_kwh : numpy.ndarray
        Grid prices of each period (periods,) [USD/kWh].
    bid_price_fraction, ask_price_fraction : numpy.ndarray
        Each household's limit prices between export (0) and import (1) price (households,).

    Returns
    -------
    list of (int, DayAheadOrdersMessage)
        Household row and its message (periods with a forecast of 0 W are left out; a
        household without any period sends nothing).

    Notes
    -----
    Each period is quoted as a real-time interval is (`quote_orders`, `_curve`): a forecast
    deficit is an inelastic bid, a surplus an ask rising from 0 kW at the export price to all
    of it at the household's ask price. Order ids are ``da-<interval>``.

    Examples
    --------
    One household that expects to draw 1 kW in the first hour and feed in 2 kW in the second:

    >>> [(row, [(p.interval_index, [v.power_kw for v in p.order.vertices]) for p in m.periods])
    ...  for row, m in day_ahead_messages(np.array([4, 8]), np.array([[1.0, -2.0]]),
    ...      np.full(2, 0.15), np.full(2, 0.05), np.array([0.8]), np.array([0.2]))]
    [(0, [(4, [1.0]), (8, [0.0, -2.0])])]
    """
    per_row: dict[int, list[DayAheadPeriodOrder]] = {}
    rows = np.arange(power_kw.shape[0])
    for column, first in enumerate(np.asarray(period_starts).tolist()):
        # quote_orders rounds to whole units: in watts, a forecast below 1 W is no order.
        quotes = quote_orders(
            power_kw[:, column] * 1000.0,
            float(import_price_usd_per_kwh[column]),
            float(export_price_usd_per_kwh[column]),
            bid_price_fraction,
            ask_price_fraction,
        )
        for row in rows[quotes.side != NO_ORDER].tolist():
            side = "buy" if quotes.side[row] == BUY else "sell"
            vertices = _curve(
                side,
                abs(float(power_kw[row, column])),
                float(quotes.price_usd_per_kwh[row]),
                float(export_price_usd_per_kwh[column]),
            )
            per_row.setdefault(row, []).append(
                DayAheadPeriodOrder(
                    interval_index=first,
                    order=CurveOrder(kind="curve", order_id=f"da-{first}", vertices=vertices),
                )
            )
    return [
        (row, DayAheadOrdersMessage(periods=periods)) for row, periods in sorted(per_row.items())
    ]


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


def curve_messages(
    mechanism: str,
    interval: int,
    price_levels_usd_per_kwh: np.ndarray,
    power_kw: np.ndarray,
    ordering: np.ndarray,
) -> list[tuple[int, OrdersMessage]]:
    """Orders from demand curves: a TENT curve, or one affine curve per side.

    Parameters
    ----------
    mechanism : str
        ``curve_clearing``, ``day_ahead`` (its real-time markets) or ``dlmp``.
    interval : int
        Delivery interval the orders are for.
    price_levels_usd_per_kwh : numpy.ndarray
        Price levels of the curves, distinct, (levels,) [USD/kWh].
    power_kw : numpy.ndarray
        Power drawn at each level per household, (households, levels), + buying [kW].
    ordering : numpy.ndarray of int
        Rows that order (a row that is 0 kW at every level sends nothing).

    Returns
    -------
    list of (int, OrdersMessage)
        Row index and its message.

    Notes
    -----
    For ``curve_clearing`` the vertices are those of
    `tefed.domain.ems.strategies.residual_flexibility.curve_vertices` (a vertex inside a flat
    stretch is dropped). For ``dlmp`` the quadruple of
    `tefed.domain.ems.strategies.residual_flexibility.affine_curves` is split at 0 kW: the buying
    part becomes an affine bid from its power at the lowest level (``power_max_kw`` at
    ``price_min``) to its power at the highest (``power_min_kw`` at ``price_max``), the selling
    part an affine ask the other way round; a household that buys at low prices and sells at
    high ones sends both.

    Examples
    --------
    A battery household that buys 2 kW at 0.07 USD/kWh and sells 1 kW at 0.14 USD/kWh:

    >>> [(i, [o.side for o in m.orders]) for i, m in curve_messages(
    ...     "dlmp", 3, np.array([0.07, 0.14]), np.array([[2.0, -1.0]]), np.array([0]))]
    [(0, ['buy', 'sell'])]
    """
    ordering = np.asarray(ordering, dtype=np.int64)
    active = ordering[np.any(np.abs(power_kw[ordering]) > 1e-9, axis=1)]
    if active.size == 0:
        return []
    if ORDER_KIND[mechanism] == "curve":
        vertices = curve_vertices(price_levels_usd_per_kwh, power_kw[active])
        by_row = vertices.groupby("household", sort=True)
        return [
            (
                int(active[row]),
                OrdersMessage(
                    interval_index=interval,
                    orders=[
                        CurveOrder(
                            kind="curve",
                            order_id=f"{interval}-curve",
                            vertices=[
                                CurveVertex(price_usd_per_kwh=float(p), power_kw=float(q))
                                for p, q in zip(
                                    rows["price_usd_per_kwh"], rows["power_kw"], strict=True
                                )
                            ],
                        )
                    ],
                ),
            )
            for row, rows in by_row
        ]
    curves = affine_curves(price_levels_usd_per_kwh, power_kw[active])
    low, high = curves.price_min_usd_per_kwh, curves.price_max_usd_per_kwh
    messages = []
    for k, row in enumerate(active.tolist()):
        most, least = float(curves.power_max_kw[k]), float(curves.power_min_kw[k])
        # (side, power at the price end the side prefers, power at the other end)
        sides = [("buy", most, max(least, 0.0))] if most > 0 else []
        sides += [("sell", -least, max(-most, 0.0))] if least < 0 else []
        orders = [
            AffineOrder(
                kind="affine",
                order_id=f"{interval}-{side}",
                side=side,
                price_max_usd_per_kwh=float(high[k]),
                price_min_usd_per_kwh=float(low[k]),
                power_max_kw=power_max_kw,
                power_min_kw=power_min_kw,
            )
            for side, power_max_kw, power_min_kw in sides
        ]
        messages.append((row, OrdersMessage(interval_index=interval, orders=orders)))
    return messages
