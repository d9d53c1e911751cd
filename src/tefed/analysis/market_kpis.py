"""Market KPIs of a run: trades and prices per pool, welfare, congestion, consumer prices (pure).

Definitions:

- **traded energy** counts each trade once, as the participant's purchase: with a central
  counterparty (curve clearing's ``market``, DLMP's ``grid``) a participant's sale is not a
  purchase of anyone in the community and is counted apart (``sold_to_counterparty_kwh``).
- **price statistics** per pool (T-REX: ``non_dispatchable`` = PV, ``dispatchable`` = battery):
  the count of trades, their energy, the minimum, arithmetic mean and maximum trade price and
  the volume-weighted price ``Σ q p / Σ q``.
- **welfare** of the market (see `market_welfare_usd`): what the awarded participants value
  their energy at, minus what the sellers' energy costs them, minus what the grid's energy
  costs at its price (import/export price under curve clearing, the wholesale price under
  DLMP), all read from the recorded orders, awards and prices.
- **congestion** (DLMP, see `dlmp_congestion`): the spread of the DLMPs across buses per
  interval and the intervals in which a thermal limit binds.
- **consumer prices** (see `consumer_prices`): what households paid per kWh they drew, as
  settled, and (DLMP) that energy valued at its bus's DLMP.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from tefed.contract.messages import POOLS
from tefed.domain.market.settlement import net_billing_amount_usd

#: Counterparties that are not participants: their side of a trade is not a purchase or sale.
CENTRAL_COUNTERPARTIES = ("market", "grid")

#: What the grid's energy costs in the welfare of each mechanism (None: the grid is not in it).
GRID_PRICE_OF_MECHANISM = {
    "double_auction": None,
    "continuous": None,
    "curve_clearing": "net_billing",
    "dlmp": "wholesale",
    "p2p_negotiation": None,
    "communities": None,
}


def negotiation_summary(
    negotiations: pd.DataFrame, settlements: pd.DataFrame
) -> dict[str, float | int | None]:
    """How the P2P pairs' negotiations went, and what the market maker charged.

    Parameters
    ----------
    negotiations : pandas.DataFrame
        ``market_negotiations``: ``outcome`` (``traded``, ``failed``, ``refused``),
        ``rounds`` and ``quantity_wh`` [Wh] per pair.
    settlements : pandas.DataFrame
        ``market_settlements``: ``participant``, ``counterparty``, ``amount_usd`` [USD],
        ``reason``.

    Returns
    -------
    dict
        ``pairs``, ``traded_pairs``, ``failed_pairs``, ``refused_pairs``,
        ``negotiation_success_pct`` (traded of negotiated pairs; None without any) [%],
        ``mean_deal_rounds`` (None without a deal), ``service_fees_usd`` and ``penalties_usd``
        (what the households paid the market maker) [USD].

    Examples
    --------
    >>> negotiations = pd.DataFrame({"outcome": ["traded", "failed", "refused", "traded"],
    ...     "rounds": [3, 10, 0, 1], "quantity_wh": [100, 50, 80, 200]})
    >>> settlements = pd.DataFrame({"participant": ["h1", "market"],
    ...     "counterparty": ["market", "h1"], "amount_usd": [0.001, -0.001],
    ...     "reason": ["service_fee", "service_fee"]})
    >>> found = negotiation_summary(negotiations, settlements)
    >>> found["negotiation_success_pct"], found["mean_deal_rounds"], found["service_fees_usd"]
    (66.66666666666667, 2.0, 0.001)
    """
    outcome = negotiations["outcome"].to_numpy(dtype=object)
    traded, failed = int((outcome == "traded").sum()), int((outcome == "failed").sum())
    paid = settlements[settlements["counterparty"] == "market"]
    reason = paid["reason"].to_numpy(dtype=object)
    return {
        "pairs": len(negotiations),
        "traded_pairs": traded,
        "failed_pairs": failed,
        "refused_pairs": int((outcome == "refused").sum()),
        "negotiation_success_pct": 100.0 * traded / (traded + failed) if traded + failed else None,
        "mean_deal_rounds": (
            float(negotiations["rounds"].to_numpy()[outcome == "traded"].mean()) if traded else None
        ),
        "service_fees_usd": float(
            paid["amount_usd"].to_numpy(float)[reason == "service_fee"].sum()
        ),
        "penalties_usd": float(paid["amount_usd"].to_numpy(float)[reason == "penalty"].sum()),
    }


def community_summary(communities: pd.DataFrame) -> dict[str, dict[str, float | None]]:
    """Energy and prices per community, and across, over the run.

    Parameters
    ----------
    communities : pandas.DataFrame
        ``market_communities``: per interval, community and pool ``local_price_usd_per_kwh``,
        ``local_energy_wh``, ``upper_bought_wh``, ``upper_sold_wh`` [Wh] and
        ``upper_price_usd_per_kwh`` [USD/kWh].

    Returns
    -------
    dict
        Per community: ``local_energy_kwh``, ``local_price_mean_usd_per_kwh`` (weighted by the
        energy traded inside it; None without), ``bought_across_kwh``, ``sold_across_kwh``;
        and under ``upper``: ``energy_kwh`` and ``price_mean_usd_per_kwh`` (weighted by the
        energy traded across; None without).

    Examples
    --------
    >>> table = pd.DataFrame({"interval_index": [1, 1], "community": ["A", "B"],
    ...     "pool": "non_dispatchable", "local_price_usd_per_kwh": [0.08, np.nan],
    ...     "local_energy_wh": [300, 0], "upper_bought_wh": [0, 200],
    ...     "upper_sold_wh": [200, 0], "upper_price_usd_per_kwh": [0.095, 0.095]})
    >>> found = community_summary(table)
    >>> found["A"]["local_price_mean_usd_per_kwh"], found["upper"]["energy_kwh"]
    (0.08, 0.2)
    """

    def weighted(price: pd.Series, energy_wh: pd.Series) -> float | None:
        used = (energy_wh > 0) & price.notna()
        if not used.any():
            return None
        return float(np.average(price[used], weights=energy_wh[used]))

    found: dict[str, dict[str, float | None]] = {}
    for name, rows in communities.groupby("community", sort=True):
        found[str(name)] = {
            "local_energy_kwh": float(rows["local_energy_wh"].sum()) / 1000.0,
            "local_price_mean_usd_per_kwh": weighted(
                rows["local_price_usd_per_kwh"], rows["local_energy_wh"]
            ),
            "bought_across_kwh": float(rows["upper_bought_wh"].sum()) / 1000.0,
            "sold_across_kwh": float(rows["upper_sold_wh"].sum()) / 1000.0,
        }
    across_wh = communities.groupby(["interval_index", "pool"])["upper_sold_wh"].sum()
    across_price = communities.groupby(["interval_index", "pool"])[
        "upper_price_usd_per_kwh"
    ].first()
    found["upper"] = {
        "energy_kwh": float(across_wh.sum()) / 1000.0,
        "price_mean_usd_per_kwh": weighted(across_price, across_wh),
    }
    return found


def market_summary(trades: pd.DataFrame, intervals: pd.DataFrame) -> dict[str, object]:
    """Traded energy and price statistics of the market, overall and per pool.

    Parameters
    ----------
    trades : pandas.DataFrame
        As for `trade_summary`.
    intervals : pandas.DataFrame
        Per cleared interval: ``status`` and ``traded_energy_wh`` [Wh].

    Returns
    -------
    dict
        `trade_summary` of the trades with ``intervals_cleared`` and ``intervals_with_trades``
        before its ``pools``.

    Examples
    --------
    >>> trades = pd.DataFrame({"buyer": ["h1"], "seller": ["h2"], "quantity_wh": [500],
    ...     "price_usd_per_kwh": [0.1], "pool": ["dispatchable"]})
    >>> found = market_summary(trades, pd.DataFrame({"status": ["ok"], "traded_energy_wh": [500]}))
    >>> found["intervals_cleared"], found["pools"]["dispatchable"]["traded_energy_kwh"]
    (1, 0.5)
    """
    summary = trade_summary(trades)
    pools = summary.pop("pools")
    summary["intervals_cleared"] = len(intervals)
    summary["intervals_with_trades"] = (
        int((intervals["traded_energy_wh"] > 0).sum()) if len(intervals) else 0
    )
    summary["pools"] = pools
    return summary


def day_ahead_summary(day_ahead: pd.DataFrame) -> dict[str, object]:
    """Day-ahead commitments against their real-time corrections (mechanism ``day_ahead``).

    Parameters
    ----------
    day_ahead : pandas.DataFrame
        Per interval and participant (``market_day_ahead``): ``interval_index``,
        ``day_ahead_energy_wh`` (commitment, import positive) [Wh],
        ``day_ahead_price_usd_per_kwh``, ``real_time_energy_wh`` (the change traded in real
        time) [Wh] and ``real_time_price_usd_per_kwh`` [USD/kWh].

    Returns
    -------
    dict
        ``day_ahead``: energy bought and sold day-ahead [kWh] and the volume-weighted
        day-ahead price [USD/kWh]; ``real_time``: the same for the changes; and
        ``deviation_ratio``: the changes' energy over the commitments' (both as absolute
        values) [-], NaN without commitments.

    Examples
    --------
    >>> table = pd.DataFrame({"interval_index": [1, 1], "day_ahead_energy_wh": [1000, -500],
    ...     "day_ahead_price_usd_per_kwh": [0.10, 0.10], "real_time_energy_wh": [-200, 100],
    ...     "real_time_price_usd_per_kwh": [0.08, 0.08]})
    >>> found = day_ahead_summary(table)
    >>> found["day_ahead"]["bought_kwh"], found["real_time"]["sold_kwh"], found["deviation_ratio"]
    (1.0, 0.2, 0.2)
    """
    summary: dict[str, object] = {}
    magnitude = {}
    for market in ("day_ahead", "real_time"):
        energy_wh = day_ahead[f"{market}_energy_wh"].to_numpy(dtype=float)
        price = day_ahead[f"{market}_price_usd_per_kwh"].to_numpy(dtype=float)
        traded = (energy_wh != 0) & np.isfinite(price)
        magnitude[market] = float(np.abs(energy_wh).sum())
        weight = np.abs(energy_wh[traded])
        summary[market] = {
            "bought_kwh": float(energy_wh[energy_wh > 0].sum() / 1000.0),
            "sold_kwh": float(-energy_wh[energy_wh < 0].sum() / 1000.0),
            "volume_weighted_price_usd_per_kwh": (
                float(np.dot(weight, price[traded]) / weight.sum()) if weight.sum() else None
            ),
        }
    summary["deviation_ratio"] = (
        magnitude["real_time"] / magnitude["day_ahead"] if magnitude["day_ahead"] else float("nan")
    )
    return summary


def trade_summary(trades: pd.DataFrame) -> dict[str, object]:
    """Traded energy and price statistics of trades, overall and per pool.

    Parameters
    ----------
    trades : pandas.DataFrame
        ``buyer``, ``seller``, ``quantity_wh`` [Wh], ``price_usd_per_kwh`` [USD/kWh] and
        ``pool`` per trade. Rows whose buyer is the ``market`` or the ``grid`` are sales to a
        central counterparty, not purchases.

    Returns
    -------
    dict
        `trade_statistics` of the purchases, ``sold_to_counterparty_kwh`` [kWh] and ``pools``:
        `trade_statistics` per pool, every pool of `tefed.contract.messages.POOLS` listed (zero
        trades where none).

    Examples
    --------
    >>> trades = pd.DataFrame({"buyer": ["h1"], "seller": ["h2"], "quantity_wh": [500],
    ...     "price_usd_per_kwh": [0.1], "pool": ["dispatchable"]})
    >>> found = trade_summary(trades)
    >>> found["pools"]["dispatchable"]["traded_energy_kwh"], found["pools"]["non_dispatchable"][
    ...     "trades"]
    (0.5, 0)
    """
    bought = ~trades["buyer"].isin(CENTRAL_COUNTERPARTIES)
    purchases = trades[bought]
    summary: dict[str, object] = trade_statistics(purchases)
    sold = ~bought & ~trades["seller"].isin(CENTRAL_COUNTERPARTIES)
    summary["sold_to_counterparty_kwh"] = float(trades.loc[sold, "quantity_wh"].sum()) / 1000.0
    pool = purchases["pool"] if "pool" in purchases else pd.Series("", index=purchases.index)
    names = list(POOLS) + sorted(set(pool.dropna()) - set(POOLS))
    summary["pools"] = {name: trade_statistics(purchases[pool == name]) for name in names}
    return summary


def trade_statistics(trades: pd.DataFrame) -> dict[str, float | int]:
    """Count, energy and price statistics of trades.

    Parameters
    ----------
    trades : pandas.DataFrame
        ``quantity_wh`` [Wh] and ``price_usd_per_kwh`` [USD/kWh] per trade.

    Returns
    -------
    dict
        ``trades`` (count), ``traded_energy_kwh`` [kWh], ``min_trade_price_usd_per_kwh``,
        ``mean_trade_price_usd_per_kwh`` (arithmetic mean over trades),
        ``max_trade_price_usd_per_kwh`` and ``volume_weighted_price_usd_per_kwh``
        ``Σ q p / Σ q`` [USD/kWh]; prices are NaN without trades.

    Examples
    --------
    100 Wh at 0.10 and 300 Wh at 0.20: mean 0.15, volume-weighted 0.175 USD/kWh.

    >>> found = trade_statistics(pd.DataFrame({"quantity_wh": [100, 300],
    ...     "price_usd_per_kwh": [0.10, 0.20]}))
    >>> round(found["mean_trade_price_usd_per_kwh"], 12), found["volume_weighted_price_usd_per_kwh"]
    (0.15, 0.175)
    """
    quantity = trades["quantity_wh"].to_numpy(float)
    prices = trades["price_usd_per_kwh"].to_numpy(float)
    traded_wh = float(quantity.sum())
    some = len(prices) > 0
    return {
        "trades": len(trades),
        "traded_energy_kwh": traded_wh / 1000.0,
        "min_trade_price_usd_per_kwh": float(prices.min()) if some else float("nan"),
        "mean_trade_price_usd_per_kwh": float(prices.mean()) if some else float("nan"),
        "max_trade_price_usd_per_kwh": float(prices.max()) if some else float("nan"),
        "volume_weighted_price_usd_per_kwh": (
            float(quantity @ prices / traded_wh) if traded_wh > 0 else float("nan")
        ),
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
