"""The market's welfare over a run, from its recorded orders, awards and prices (pure).

The welfare (`market_welfare_usd`) is what the awarded participants value their energy at,
minus what the sellers' energy costs them, minus what the grid's energy costs at its price
(import/export price under curve clearing, the wholesale price under DLMP).

Orders become piecewise-linear benefit curves (`order_curves`); a participant's benefit is its
curve integrated up to its award (`curve_benefit_usd`).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from tefed.domain.market.settlement import net_billing_amount_usd

#: What the grid's energy costs in the welfare of each mechanism (None: the grid is not in it).
GRID_PRICE_OF_MECHANISM = {
    "double_auction": None,
    "continuous": None,
    "curve_clearing": "net_billing",
    "dlmp": "wholesale",
    "p2p_negotiation": None,
    "communities": None,
}


def order_curves(orders: pd.DataFrame, interval_s: float) -> pd.DataFrame:
    """Every accepted order as vertices of energy against price [kWh, USD/kWh].

    Parameters
    ----------
    orders : pandas.DataFrame
        The market's orders: ``interval_index``, ``participant``, ``order_id``, ``kind``
        (``simple``, ``curve``, ``affine``), ``side``, ``quantity_wh`` [Wh],
        ``price_usd_per_kwh`` [USD/kWh] (simple orders), ``status`` and ``order_json`` (the
        order as received).
    interval_s : float
        Market interval [s]: a curve's power [kW] held for it is its energy.

    Returns
    -------
    pandas.DataFrame
        ``interval_index``, ``participant``, ``order_id``, ``price_usd_per_kwh`` and
        ``energy_kwh`` (+ bought, − sold), sorted by price and, at one price, by energy
        descending: a non-increasing curve, flat beyond its first and last vertex.

    Notes
    -----
    A simple bid of ``q`` at ``b`` is a step: ``q`` up to ``b``, 0 above; a simple ask of ``q``
    at ``a`` is 0 below ``a`` and ``−q`` from it. An affine buyer is :math:`(p_{min}, q_{max}),
    (p_{max}, q_{min})`, a seller :math:`(p_{min}, -q_{min}), (p_{max}, -q_{max})` (a step when
    both prices are equal), as `tefed.domain.market.order_curves.order_vertices` clears them.

    Examples
    --------
    >>> orders = pd.DataFrame({"interval_index": [1], "participant": ["h1"],
    ...     "order_id": ["b"], "kind": ["simple"], "side": ["buy"], "quantity_wh": [500],
    ...     "price_usd_per_kwh": [0.2], "status": ["accepted"], "order_json": ["{}"]})
    >>> order_curves(orders, 900)[["price_usd_per_kwh", "energy_kwh"]].to_numpy().tolist()
    [[0.2, 0.5], [0.2, 0.0]]
    """
    accepted = orders[orders["status"] == "accepted"]
    hours = interval_s / 3600.0
    rows: list[tuple] = []
    for order in accepted.itertuples(index=False):
        key = (int(order.interval_index), str(order.participant), str(order.order_id))
        if order.kind == "simple":
            energy_kwh = float(order.quantity_wh) / 1000.0
            price = float(order.price_usd_per_kwh)
            steps = [(price, energy_kwh), (price, 0.0)]
            if order.side == "sell":
                steps = [(price, 0.0), (price, -energy_kwh)]
        else:
            body = json.loads(order.order_json)
            if order.kind == "curve":
                steps = [(v["price_usd_per_kwh"], v["power_kw"] * hours) for v in body["vertices"]]
            else:
                steps = _affine_vertices(body, hours)
        rows.extend((*key, price, energy) for price, energy in steps)
    table = pd.DataFrame(
        rows,
        columns=["interval_index", "participant", "order_id", "price_usd_per_kwh", "energy_kwh"],
    )
    return table.sort_values(
        ["interval_index", "participant", "order_id", "price_usd_per_kwh", "energy_kwh"],
        ascending=[True, True, True, True, False],
        kind="stable",
    ).reset_index(drop=True)


def _affine_vertices(body: dict, hours: float) -> list[tuple[float, float]]:
    low, high = body["price_min_usd_per_kwh"], body["price_max_usd_per_kwh"]
    most, least = body["power_max_kw"] * hours, body["power_min_kw"] * hours
    if body["side"] == "buy":
        return [(low, most), (high, least)]
    return [(low, -least), (high, -most)]


def curve_benefit_usd(curves: pd.DataFrame, awards: pd.DataFrame) -> pd.Series:
    """What each awarded order's energy is worth to its participant [USD].

    Parameters
    ----------
    curves : pandas.DataFrame
        From `order_curves`: vertices per (``interval_index``, ``participant``,
        ``order_id``), sorted.
    awards : pandas.DataFrame
        ``interval_index``, ``participant``, ``order_id`` and ``energy_kwh`` (awarded, +
        bought, − sold) [kWh], one row per awarded order.

    Returns
    -------
    pandas.Series
        Per award (the awards' index): the benefit of a buyer, minus the cost of a seller [USD].

    Notes
    -----
    The area under the inverse curve :math:`P(x)` from 0 to the award :math:`q`, computed on
    the curve :math:`Q(p)` (energy at price :math:`p`, flat beyond its vertices) by parts:

    .. math:: B = \\int_0^q P(x)\\,dx = p_q\\, q + \\int_{p_q}^{p_0} Q(p)\\,dp

    with :math:`p_q` the price at which the curve reaches :math:`q` and :math:`p_0` where it
    reaches zero; a curve that never reaches a value is read at its last price (if above it)
    or its first (if below): an inelastic part is valued at the curve's end price, as in
    OpenGridGym's welfare (`tefed.domain.market.mechanisms.affine_book.order_welfare`). A bid of
    ``q`` at limit ``b`` is worth ``b q`` however little of it is filled; an ask at ``a`` costs
    ``a q``. The price the award was traded at does not enter: it moves money, not welfare.

    References
    ----------
    .. [1] R. El Helou et al., "OpenGridGym: An Open-Source AI-Friendly Toolkit for
       Distribution Market Simulation", arXiv:2203.04410 (2022).

    Examples
    --------
    An affine buyer (0.10, 3 kWh) to (0.30, 0.5 kWh) awarded 2.75 kWh, where its curve is at
    0.12 USD/kWh: 0.12 · 2.75 + 0.18 · 0.5 + 0.18 · 2.25 / 2 = 0.6225 USD.

    >>> curves = pd.DataFrame({"interval_index": [0, 0], "participant": ["h", "h"],
    ...     "order_id": ["o", "o"], "price_usd_per_kwh": [0.10, 0.30],
    ...     "energy_kwh": [3.0, 0.5]})
    >>> awards = pd.DataFrame({"interval_index": [0], "participant": ["h"], "order_id": ["o"],
    ...     "energy_kwh": [2.75]})
    >>> round(float(curve_benefit_usd(curves, awards).iloc[0]), 9)
    0.6225
    """
    key = ["interval_index", "participant", "order_id"]
    groups = curves.groupby(key, sort=False).ngroup().to_numpy()
    first_row = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]]) if len(curves) else []
    sizes = np.bincount(groups) if len(curves) else np.zeros(0, dtype=int)
    # Pad each curve to the longest by repeating its last vertex (zero-width segments).
    pad = np.minimum(np.arange(max(sizes, default=1))[None, :], sizes[:, None] - 1)
    rows = np.asarray(first_row, dtype=int)[:, None] + pad
    which = pd.MultiIndex.from_frame(curves[key].iloc[rows[:, 0]]).get_indexer(
        pd.MultiIndex.from_frame(awards[key])
    )
    if (which < 0).any():
        missing = awards.iloc[int(np.flatnonzero(which < 0)[0])][key].tolist()
        raise ValueError(f"awards: order {missing} has no recorded curve; expected every award's")
    price = curves["price_usd_per_kwh"].to_numpy(float)[rows[which]]
    energy = curves["energy_kwh"].to_numpy(float)[rows[which]]
    integral = _cumulative_integral(price, energy)
    awarded = awards["energy_kwh"].to_numpy(float)
    at_award = _price_at(price, energy, awarded)
    at_zero = _price_at(price, energy, np.zeros(len(awarded)))
    surplus = _integral_at(price, energy, integral, at_zero) - _integral_at(
        price, energy, integral, at_award
    )
    return pd.Series(at_award * awarded + surplus, index=awards.index, name="benefit_usd")


def _cumulative_integral(price: np.ndarray, energy: np.ndarray) -> np.ndarray:
    """``∫ Q dp`` from each curve's first vertex to each of its vertices (trapezoids)."""
    pieces = 0.5 * (energy[:, 1:] + energy[:, :-1]) * np.diff(price, axis=1)
    return np.concatenate([np.zeros((len(price), 1)), np.cumsum(pieces, axis=1)], axis=1)


def _integral_at(
    price: np.ndarray, energy: np.ndarray, integral: np.ndarray, at: np.ndarray
) -> np.ndarray:
    """``∫ Q dp`` from each curve's first vertex to ``at``, flat beyond the vertices."""
    rows = np.arange(len(price))
    segment = np.clip((price <= at[:, None]).sum(axis=1) - 1, 0, price.shape[1] - 1)
    nxt = np.minimum(segment + 1, price.shape[1] - 1)
    p0, q0, q1 = price[rows, segment], energy[rows, segment], energy[rows, nxt]
    span = price[rows, nxt] - p0
    slope = np.divide(q1 - q0, span, out=np.zeros_like(span), where=span > 0)
    step = at - p0
    inside = integral[rows, segment] + q0 * step + 0.5 * slope * step**2
    beyond = integral[:, -1] + energy[:, -1] * (at - price[:, -1])
    before = energy[:, 0] * (at - price[:, 0])
    return np.where(at < price[:, 0], before, np.where(at >= price[:, -1], beyond, inside))


def _price_at(price: np.ndarray, energy: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Lowest price at which each non-increasing curve reaches ``target`` (or its end)."""
    rows = np.arange(len(price))
    reached = energy <= target[:, None]
    first = np.argmax(reached, axis=1)
    before = np.maximum(first - 1, 0)
    p_prev, q_prev = price[rows, before], energy[rows, before]
    p_at, q_at = price[rows, first], energy[rows, first]
    drop = q_prev - q_at
    between = p_prev + (q_prev - target) * np.divide(
        p_at - p_prev, drop, out=np.zeros_like(drop), where=drop > 0
    )
    found = np.where(first > 0, between, p_at)
    return np.where(reached.any(axis=1), found, price[:, -1])


def market_welfare_usd(
    mechanism: str,
    orders: pd.DataFrame,
    awards: pd.DataFrame,
    prices: pd.DataFrame,
    interval_s: float,
) -> dict[str, object]:
    """Welfare of the market over the run, from its recorded orders, awards and prices [USD].

    Parameters
    ----------
    mechanism : str
        ``double_auction``, ``continuous``, ``curve_clearing`` or ``dlmp``.
    orders : pandas.DataFrame
        The market's orders (see `order_curves`).
    awards : pandas.DataFrame
        ``interval_index``, ``participant``, ``order_id``, ``side`` and ``quantity_wh`` [Wh]
        per award.
    prices : pandas.DataFrame
        Per interval: ``import_price_usd_per_kwh``, ``export_price_usd_per_kwh`` and
        ``wholesale_price_usd_per_kwh`` [USD/kWh].
    interval_s : float
        Market interval [s].

    Returns
    -------
    dict
        ``welfare_usd`` [USD] (None when the mechanism is unknown), ``participants_usd`` (the
        awarded participants' benefit minus cost) and ``grid_cost_usd`` (what the grid's net
        supply cost at its price), and ``definition``.

    Notes
    -----
    :math:`W = \\sum_{awards} B - \\sum_k c_k(N_k)`, with :math:`B` from `curve_benefit_usd`
    and :math:`N_k` the awarded net purchase of interval :math:`k` [kWh], which the grid
    supplies under the central mechanisms: :math:`c_k(N) = \\pi^{imp}_k \\max(N, 0) -
    \\pi^{exp}_k \\max(-N, 0)` under curve clearing, :math:`\\pi^{wh}_k N` under DLMP (the
    objective its clearing maximises), and 0 under the pairwise mechanisms, where it sums to
    :math:`\\sum q (b - a)` over trades (bid minus ask limit).

    Examples
    --------
    A bid of 1 kWh at 0.20 matched with an ask at 0.08 (trade at 0.14): 0.12 USD.

    >>> orders = pd.DataFrame({"interval_index": [1, 1], "participant": ["h1", "h2"],
    ...     "order_id": ["b", "a"], "kind": "simple", "side": ["buy", "sell"],
    ...     "quantity_wh": [1000, 1000], "price_usd_per_kwh": [0.20, 0.08],
    ...     "status": "accepted", "order_json": "{}"})
    >>> awards = orders[["interval_index", "participant", "order_id", "side", "quantity_wh"]]
    >>> prices = pd.DataFrame({"interval_index": [1], "import_price_usd_per_kwh": [0.3],
    ...     "export_price_usd_per_kwh": [0.05], "wholesale_price_usd_per_kwh": [0.04]})
    >>> round(market_welfare_usd("double_auction", orders, awards, prices, 900)["welfare_usd"], 9)
    0.12
    """
    if mechanism not in GRID_PRICE_OF_MECHANISM:
        return {
            "welfare_usd": None,
            "reason": f"mechanism {mechanism!r} has no welfare defined in tefed",
        }
    key = ["interval_index", "participant", "order_id"]
    signed_wh = np.where(awards["side"] == "buy", 1.0, -1.0) * awards["quantity_wh"].to_numpy(float)
    per_order = (
        awards.assign(energy_kwh=signed_wh / 1000.0)
        .groupby(key, as_index=False)["energy_kwh"]
        .sum()
    )
    benefit = curve_benefit_usd(order_curves(orders, interval_s), per_order)
    participants_usd = float(benefit.sum())
    net_kwh = per_order.groupby("interval_index")["energy_kwh"].sum()
    price = prices.set_index("interval_index").reindex(net_kwh.index)
    grid_price = GRID_PRICE_OF_MECHANISM[mechanism]
    if grid_price is None:
        grid_cost = 0.0
    elif grid_price == "wholesale":
        grid_cost = float((price["wholesale_price_usd_per_kwh"] * net_kwh).sum())
    else:
        grid_cost = float(
            net_billing_amount_usd(
                net_kwh.to_numpy(float) * 1000.0,
                price["import_price_usd_per_kwh"].to_numpy(float),
                price["export_price_usd_per_kwh"].to_numpy(float),
            ).sum()
        )
    return {
        "welfare_usd": participants_usd - grid_cost,
        "participants_usd": participants_usd,
        "grid_cost_usd": grid_cost,
        "definition": (
            "awarded buyers' value minus sellers' cost, from their recorded curves"
            + ("" if grid_price is None else f", minus the grid's supply at the {grid_price} price")
        ),
    }
