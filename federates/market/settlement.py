"""Settlement of delivered energy against market awards (net billing for deviations).

After delivery interval ``k``, each participant's metered net energy ``E`` (import positive) is
compared with its awarded net energy ``A = Σ bought − Σ sold``. Awards are paid at their trade
prices between the two households; the deviation ``D = E − A`` is settled with the grid at the
net-billing prices: ``D > 0`` is bought at the import price, ``D < 0`` is sold at the export
price. A seller that delivers less than it sold therefore buys the shortfall at the import price,
and a buyer that uses less than it bought sells the rest at the export price (it still pays for
what it bought), as in T-REX's MicroTE settlement.

Every payment is one ledger row; ``amount_usd`` is positive when the participant pays. Trade rows
come in pairs that cancel, so the participants' payments sum to the grid's net revenue.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

GRID = "grid"

LEDGER_COLUMNS = {
    "participant": "object",
    "counterparty": "object",
    "energy_wh": "float64",
    "price_usd_per_kwh": "float64",
    "amount_usd": "float64",
    "reason": "object",
}


def settle_interval(
    energy_wh: pd.Series,
    trades: pd.DataFrame,
    import_price_usd_per_kwh: float,
    export_price_usd_per_kwh: float,
) -> pd.DataFrame:
    """Ledger rows that pay for one interval's metered energy.

    Parameters
    ----------
    energy_wh : pandas.Series
        Metered net energy of each participant in the interval [Wh], import positive, indexed by
        participant. Every participant appears, also those without awards.
    trades : pandas.DataFrame
        The interval's trades: ``buyer``, ``seller``, ``quantity_wh`` [Wh] and
        ``price_usd_per_kwh`` [USD/kWh] (as from ``clear_double_auction``).
    import_price_usd_per_kwh : float
        Net-billing price of energy drawn from the grid [USD/kWh].
    export_price_usd_per_kwh : float
        Net-billing price of energy fed into the grid [USD/kWh].

    Returns
    -------
    pandas.DataFrame
        Columns ``participant``, ``counterparty`` (another participant or ``grid``),
        ``energy_wh`` (energy the participant receives, negative when it delivers) [Wh],
        ``price_usd_per_kwh``, ``amount_usd`` (positive: the participant pays) [USD] and
        ``reason`` (``trade``, ``grid_import``, ``grid_export``).

    Examples
    --------
    Household a bought 1000 Wh from b at 0.10 USD/kWh but used 1200 Wh; b delivered 900 Wh:

    >>> energy = pd.Series({"a": 1200.0, "b": -900.0})
    >>> trades = pd.DataFrame({"buyer": ["a"], "seller": ["b"], "quantity_wh": [1000],
    ...                        "price_usd_per_kwh": [0.10]})
    >>> ledger = settle_interval(energy, trades, 0.15, 0.05)
    >>> ledger.groupby("participant")["amount_usd"].sum().round(4).to_dict()
    {'a': 0.13, 'b': -0.085}

    a pays 0.10 for the trade and 200 Wh × 0.15 = 0.03 to the grid; b receives 0.10 and pays
    100 Wh × 0.15 = 0.015 for the shortfall.
    """
    quantity_wh = trades["quantity_wh"].to_numpy(dtype=float)
    price = trades["price_usd_per_kwh"].to_numpy(dtype=float)
    amount_usd = quantity_wh / 1000.0 * price
    trade_rows = pd.DataFrame(
        {
            "participant": np.concatenate([trades["buyer"], trades["seller"]]),
            "counterparty": np.concatenate([trades["seller"], trades["buyer"]]),
            "energy_wh": np.concatenate([quantity_wh, -quantity_wh]),
            "price_usd_per_kwh": np.concatenate([price, price]),
            "amount_usd": np.concatenate([amount_usd, -amount_usd]),
            "reason": "trade",
        }
    )
    awarded_net_wh = (
        trade_rows.groupby("participant")["energy_wh"].sum().reindex(energy_wh.index, fill_value=0)
    )
    deviation_wh = energy_wh.to_numpy(dtype=float) - awarded_net_wh.to_numpy(dtype=float)
    importing = deviation_wh > 0
    exporting = deviation_wh < 0
    grid_price = np.where(importing, import_price_usd_per_kwh, export_price_usd_per_kwh)
    settled = importing | exporting
    grid_rows = pd.DataFrame(
        {
            "participant": energy_wh.index.to_numpy()[settled],
            "counterparty": GRID,
            "energy_wh": deviation_wh[settled],
            "price_usd_per_kwh": grid_price[settled],
            "amount_usd": deviation_wh[settled] / 1000.0 * grid_price[settled],
            "reason": np.where(importing[settled], "grid_import", "grid_export"),
        }
    )
    ledger = pd.concat([trade_rows, grid_rows], ignore_index=True)
    return ledger.astype(LEDGER_COLUMNS)


def net_billing_amount_usd(
    energy_wh: np.ndarray,
    import_price_usd_per_kwh: float | np.ndarray,
    export_price_usd_per_kwh: float | np.ndarray,
) -> np.ndarray:
    """What each participant pays for one interval under net billing without trading [USD].

    Parameters
    ----------
    energy_wh : numpy.ndarray
        Net energy drawn from the grid in the interval [Wh], import positive.
    import_price_usd_per_kwh, export_price_usd_per_kwh : float or numpy.ndarray
        Net-billing prices [USD/kWh], scalars or one per entry of ``energy_wh``.

    Returns
    -------
    numpy.ndarray
        Payment per participant [USD], negative when it is paid.

    Examples
    --------
    >>> net_billing_amount_usd(np.array([500.0, -400.0]), 0.1449, 0.069).round(4)
    array([ 0.0724, -0.0276])
    """
    price = np.where(energy_wh > 0, import_price_usd_per_kwh, export_price_usd_per_kwh)
    return energy_wh / 1000.0 * price
