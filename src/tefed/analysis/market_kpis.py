"""Market KPIs of a run: trades and prices per pool, congestion, consumer prices (pure).

The market's welfare is `tefed.analysis.market_welfare`.

Definitions:

- **traded energy** counts each trade once, as the participant's purchase: with a central
  counterparty (curve clearing's ``market``, DLMP's ``grid``) a participant's sale is not a
  purchase of anyone in the community and is counted apart (``sold_to_counterparty_kwh``).
- **price statistics** per pool (T-REX: ``non_dispatchable`` = PV, ``dispatchable`` = battery):
  the count of trades, their energy, the minimum, arithmetic mean and maximum trade price and
  the volume-weighted price ``Σ q p / Σ q``.
- **congestion** (DLMP, see `dlmp_congestion`): the spread of the DLMPs across buses per
  interval and the intervals in which a thermal limit binds.
- **consumer prices** (see `consumer_prices`): what households paid per kWh they drew, as
  settled, and (DLMP) that energy valued at its bus's DLMP.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tefed.contract.messages import POOLS

#: Counterparties that are not participants: their side of a trade is not a purchase or sale.
CENTRAL_COUNTERPARTIES = ("market", "grid")


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
