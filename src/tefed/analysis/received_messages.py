"""The market's results as the households received them, and their settlement arithmetic (pure).

Every household records the awards and settlement lines the market sent it (the ems's
``household_awards`` and ``household_settlements``, and each settlement's total as ``bill_usd``
of ``household_intervals``). Whatever program runs the market, these give

- each household's **bills** per interval (`received_bills`), hence baselines and income
  advantage;
- the **trades** (`received_trades`): each purchase a recorded household was awarded, and each
  sale of a recorded household to a party tefed did not record (a household run by an external
  program, or the central counterparty ``market``/``grid``), so every trade with at least one
  recorded side appears once;
- the **settlement arithmetic** (`settlement_discrepancies`): each settlement recomputed from
  the household's awards, its metered energy and the interval's net-billing prices under the
  MicroTE delivery rules of `tefed.domain.market.settlement`, so a market that charges
  wrongly shows, whoever wrote it.

What needs the market's own books — the orders it accepted or refused, hence welfare — cannot
be had from what the households received.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tefed.domain.market.mechanisms.bilateral_negotiation import CHARGE_REASONS
from tefed.domain.market.settlement import REASONS

#: Where a KPI computed from these records says it came from.
RECEIVED_SOURCE = "the awards and settlements every household received (the market wrote no tables)"

_KEY = ["interval_index", "household_id"]
#: The net-billing price each delivery reason is settled at.
_PRICE_OF_REASON = {
    "shortfall": "import_price_usd_per_kwh",
    "grid_import": "import_price_usd_per_kwh",
    "unused": "export_price_usd_per_kwh",
    "grid_export": "export_price_usd_per_kwh",
}


def run_settlements(tables: dict[str, pd.DataFrame]) -> pd.DataFrame | None:
    """The ledger a run's bills are summed from: the market's settlements, or, when the market
    wrote none (a replacement program), the settlements the households received.

    Parameters
    ----------
    tables : dict of str to pandas.DataFrame
        The run's tables by name (`tefed.analysis.run_tables.read_run_tables`).

    Returns
    -------
    pandas.DataFrame or None
        ``interval_index``, ``participant`` and ``amount_usd`` [USD] at least; None without
        either record.
    """
    if "market_settlements" in tables:
        return tables["market_settlements"]
    if "household_intervals" in tables:
        return received_bills(tables["household_intervals"])
    return None


def run_trades(tables: dict[str, pd.DataFrame]) -> pd.DataFrame | None:
    """The trades of a run: the market's, or, when the market wrote none, `received_trades`.

    Returns
    -------
    pandas.DataFrame or None
        ``interval_index``, ``buyer``, ``seller``, ``quantity_wh`` [Wh],
        ``price_usd_per_kwh`` [USD/kWh] and ``pool`` at least; None without either record.
    """
    if "market_trades" in tables:
        return tables["market_trades"]
    if "household_awards" in tables:
        return received_trades(tables["household_awards"])
    return None


def received_bills(household_intervals: pd.DataFrame) -> pd.DataFrame:
    """Each settlement the recorded households received, as ledger totals [USD].

    Parameters
    ----------
    household_intervals : pandas.DataFrame
        ``interval_index``, ``household_id`` and ``bill_usd`` (the settlement's ``amount_usd``;
        NaN where none was received) [USD].

    Returns
    -------
    pandas.DataFrame
        ``interval_index``, ``participant`` and ``amount_usd`` [USD], one row per settlement
        received: what `tefed.analysis.kpis.household_bills` takes as a ledger.

    Examples
    --------
    >>> received_bills(pd.DataFrame({"interval_index": [0, 0], "household_id": ["h1", "h2"],
    ...     "bill_usd": [0.12, float("nan")]})).to_dict("records")
    [{'interval_index': 0, 'participant': 'h1', 'amount_usd': 0.12}]
    """
    received = household_intervals[household_intervals["bill_usd"].notna()]
    return pd.DataFrame(
        {
            "interval_index": received["interval_index"].to_numpy(),
            "participant": received["household_id"].to_numpy(dtype=object),
            "amount_usd": received["bill_usd"].to_numpy(float),
        }
    )


def received_trades(awards: pd.DataFrame) -> pd.DataFrame:
    """The trades behind the awards recorded households received.

    Parameters
    ----------
    awards : pandas.DataFrame
        One row per award received: ``interval_index``, ``household_id``, ``side``, ``pool``,
        ``quantity_wh`` [Wh], ``price_usd_per_kwh`` [USD/kWh] and ``counterparty``.

    Returns
    -------
    pandas.DataFrame
        ``interval_index``, ``buyer``, ``seller``, ``quantity_wh`` [Wh], ``price_usd_per_kwh``
        [USD/kWh] and ``pool``: each buy award (buyer = the household), and each sell award
        whose counterparty received no awards here (seller = the household), sorted by
        interval.

    Notes
    -----
    A trade between two recorded households reaches both, as a buy and a sell award: counting
    only the buy keeps it once. A sale to a party with no records here (``market``, ``grid``,
    a household run by an external program) has no buy award to count, so its sell award
    stands for it. Trades between two unrecorded households are not seen.

    Examples
    --------
    h1 bought 300 Wh from h2; h2 also sold 200 Wh to the ``market``:

    >>> awards = pd.DataFrame({"interval_index": 4, "household_id": ["h1", "h2", "h2"],
    ...     "side": ["buy", "sell", "sell"], "pool": "non_dispatchable",
    ...     "quantity_wh": [300, 300, 200], "price_usd_per_kwh": [0.1, 0.1, 0.09],
    ...     "counterparty": ["h2", "h1", "market"]})
    >>> received_trades(awards)[["buyer", "seller", "quantity_wh"]].to_numpy().tolist()
    [['h1', 'h2', 300], ['market', 'h2', 200]]
    """
    recorded = set(awards["household_id"])
    buys = awards["side"] == "buy"
    sales_out = (awards["side"] == "sell") & ~awards["counterparty"].isin(recorded)
    chosen = awards[buys | sales_out]
    household = chosen["household_id"].to_numpy(dtype=object)
    counterparty = chosen["counterparty"].to_numpy(dtype=object)
    bought = (chosen["side"] == "buy").to_numpy()
    trades = pd.DataFrame(
        {
            "interval_index": chosen["interval_index"].to_numpy(np.int64),
            "buyer": np.where(bought, household, counterparty),
            "seller": np.where(bought, counterparty, household),
            "quantity_wh": chosen["quantity_wh"].to_numpy(np.int64),
            "price_usd_per_kwh": chosen["price_usd_per_kwh"].to_numpy(float),
            "pool": chosen["pool"].to_numpy(dtype=object),
        }
    )
    return trades.sort_values("interval_index", kind="stable").reset_index(drop=True)


def settlement_discrepancies(
    awards: pd.DataFrame,
    lines: pd.DataFrame,
    settlements: pd.DataFrame,
    prices: pd.DataFrame,
    energy_tolerance_wh: float,
    money_tolerance_usd: float,
) -> pd.DataFrame:
    """Where the settlements households received differ from the delivery rules [Wh, USD].

    Parameters
    ----------
    awards : pandas.DataFrame
        Awards received: ``interval_index``, ``household_id``, ``side``, ``quantity_wh`` [Wh]
        and ``price_usd_per_kwh`` [USD/kWh].
    lines : pandas.DataFrame
        Settlement lines received: ``interval_index``, ``household_id``, ``counterparty``,
        ``energy_wh`` [Wh], ``amount_usd`` [USD] and ``reason`` (one of `REASONS`).
    settlements : pandas.DataFrame
        One row per settlement received: ``interval_index``, ``household_id``,
        ``metered_energy_wh`` (the household's own metering of the interval) [Wh] and
        ``amount_usd`` (the settlement's total) [USD].
    prices : pandas.DataFrame
        Per interval: ``interval_index``, ``import_price_usd_per_kwh`` and
        ``export_price_usd_per_kwh`` [USD/kWh].
    energy_tolerance_wh, money_tolerance_usd : float
        Largest differences accepted [Wh] and [USD].

    Returns
    -------
    pandas.DataFrame
        ``interval_index``, ``household_id``, ``item`` (``<reason> energy`` [Wh],
        ``<reason> payment`` [USD], or ``total`` [USD]: the settlement's amount), ``expected``,
        ``observed`` and ``unit``; one row per item beyond its tolerance, by interval and
        household, items in `REASONS` order then ``total``. Empty when every settlement
        follows the rules.

    Notes
    -----
    With :math:`B`, :math:`S` the household's bought and sold awards, :math:`A = B - S`,
    :math:`E` its metered energy and :math:`D = E - A`: ``trade`` lines carry :math:`A` and
    pay :math:`\\sum \\pm q p` at the award prices; ``shortfall`` :math:`\\min(D^+, S)` and
    ``grid_import`` :math:`D^+ - \\min(D^+, S)` at the import price; ``unused``
    :math:`-\\min(D^-, B)` and ``grid_export`` :math:`-(D^- - \\min(D^-, B))` at the export
    price; the total is the sum (`tefed.domain.market.settlement.settle_interval`, summed over
    pools). Unused energy returned between households (T-REX rule 10: ``unused`` lines with
    another household as counterparty, :math:`R` in all, priced 0) is taken from the lines:
    :math:`D` is then :math:`E - A - R` and the ``unused`` energy includes :math:`R`.

    Examples
    --------
    h1 bought 1000 Wh at 0.10 USD/kWh and used 800 Wh, but was charged 1.5 times the trade:

    >>> awards = pd.DataFrame({"interval_index": [1], "household_id": ["h1"],
    ...     "side": ["buy"], "quantity_wh": [1000], "price_usd_per_kwh": [0.10]})
    >>> lines = pd.DataFrame({"interval_index": 1, "household_id": "h1",
    ...     "counterparty": ["h2", "grid"], "energy_wh": [1000.0, -200.0],
    ...     "amount_usd": [0.15, -0.01], "reason": ["trade", "unused"]})
    >>> settlements = pd.DataFrame({"interval_index": [1], "household_id": ["h1"],
    ...     "metered_energy_wh": [800.0], "amount_usd": [0.14]})
    >>> prices = pd.DataFrame({"interval_index": [1], "import_price_usd_per_kwh": [0.15],
    ...     "export_price_usd_per_kwh": [0.05]})
    >>> found = settlement_discrepancies(awards, lines, settlements, prices, 1e-6, 1e-9)
    >>> found[["item", "expected", "observed"]].round(4).to_numpy().tolist()
    [['trade payment', 0.1, 0.15], ['total', 0.09, 0.14]]
    """
    index = pd.MultiIndex.from_frame(settlements[_KEY])
    quantity_wh = awards["quantity_wh"].to_numpy(float)
    buys = (awards["side"] == "buy").to_numpy()
    signed_wh = np.where(buys, quantity_wh, -quantity_wh)
    awarded = (
        pd.DataFrame(
            {
                **{column: awards[column].to_numpy() for column in _KEY},
                "bought_wh": np.where(buys, quantity_wh, 0.0),
                "sold_wh": np.where(buys, 0.0, quantity_wh),
                "trade_usd": signed_wh / 1000.0 * awards["price_usd_per_kwh"].to_numpy(float),
            }
        )
        .groupby(_KEY)
        .sum()
        .reindex(index, fill_value=0.0)
    )
    price = prices.set_index("interval_index").reindex(settlements["interval_index"])
    bought_wh, sold_wh = awarded["bought_wh"].to_numpy(), awarded["sold_wh"].to_numpy()
    # Unused energy returned between households (T-REX rule 10), as the lines state it.
    returned = lines[(lines["reason"] == "unused") & (lines["counterparty"] != "grid")]
    returned_wh = (
        returned.groupby(_KEY)["energy_wh"].sum().reindex(index, fill_value=0.0).to_numpy()
    )
    deviation_wh = (
        settlements["metered_energy_wh"].to_numpy(float) - (bought_wh - sold_wh) - returned_wh
    )
    surplus_wh, deficit_wh = np.maximum(deviation_wh, 0.0), np.maximum(-deviation_wh, 0.0)
    shortfall_wh = np.minimum(surplus_wh, sold_wh)
    unused_wh = np.minimum(deficit_wh, bought_wh)
    expected_wh = {
        "trade": bought_wh - sold_wh,
        "shortfall": shortfall_wh,
        "unused": returned_wh - unused_wh,
        "grid_import": surplus_wh - shortfall_wh,
        "grid_export": -(deficit_wh - unused_wh),
    }
    # Returned energy is priced 0: only the grid's part of each reason is paid.
    grid_wh = expected_wh | {"unused": -unused_wh}
    expected_usd = {"trade": awarded["trade_usd"].to_numpy()} | {
        reason: grid_wh[reason] / 1000.0 * price[column].to_numpy(float)
        for reason, column in _PRICE_OF_REASON.items()
    }
    observed = (
        lines.groupby([*_KEY, "reason"])[["energy_wh", "amount_usd"]]
        .sum()
        .unstack("reason", fill_value=0.0)
        .reindex(index, fill_value=0.0)
    )
    items = []
    for reason in REASONS:
        for column, expected, unit, tolerance in (
            ("energy_wh", expected_wh[reason], "Wh", energy_tolerance_wh),
            ("amount_usd", expected_usd[reason], "USD", money_tolerance_usd),
        ):
            seen = (
                observed[(column, reason)].to_numpy(float)
                if (column, reason) in observed.columns
                else np.zeros(len(index))
            )
            name = f"{reason} {'energy' if unit == 'Wh' else 'payment'}"
            items.append((name, expected, seen, unit, tolerance))
    # A market's fees and penalties follow from no award; the total takes them as received.
    charged_usd = np.sum(
        [
            observed[("amount_usd", reason)].to_numpy(float)
            for reason in CHARGE_REASONS
            if ("amount_usd", reason) in observed.columns
        ]
        or [np.zeros(len(index))],
        axis=0,
    )
    total_usd = np.sum([expected_usd[reason] for reason in REASONS], axis=0) + charged_usd
    items.append(
        ("total", total_usd, settlements["amount_usd"].to_numpy(float), "USD", money_tolerance_usd)
    )
    found = [
        pd.DataFrame(
            {
                "interval_index": settlements["interval_index"].to_numpy()[wrong],
                "household_id": settlements["household_id"].to_numpy(dtype=object)[wrong],
                "item": name,
                "expected": expected[wrong],
                "observed": seen[wrong],
                "unit": unit,
            }
        )
        for name, expected, seen, unit, tolerance in items
        for wrong in [~(np.abs(seen - expected) <= tolerance)]
    ]
    # Stable: within a settlement the items keep the order of ``items``.
    table = pd.concat(found, ignore_index=True)
    return table.sort_values(_KEY, kind="stable").reset_index(drop=True)
