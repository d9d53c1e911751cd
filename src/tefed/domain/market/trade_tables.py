"""The trades table every mechanism returns, and trades with a central counterparty.

Pairwise mechanisms trade household with household. Curve clearing trades every award with
the ``market`` (the grid's share included, so the market's payments cancel); DLMP trades every
award with the ``grid`` (the distribution operator, who keeps the congestion rent).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tefed.domain.market.frames import empty_frame, typed_frame
from tefed.domain.market.mechanisms.double_auction import TRADE_COLUMNS

MARKET = "market"
GRID = "grid"
OUTCOME_TRADE_COLUMNS = (*TRADE_COLUMNS, "pool")


def whole_wh(power_kw: pd.Series, interval_s: int) -> pd.Series:
    """Energy of a constant power over the interval, rounded to whole Wh (int64)."""
    return np.rint(power_kw * interval_s / 3.6).astype(np.int64)


def central_trades(
    energy_wh: pd.Series,
    participant_of: pd.Series,
    price_usd_per_kwh: float | pd.Series,
    counterparty: str,
    grid_supply_wh: int = 0,
) -> pd.DataFrame:
    """Trades of each order's award with a central counterparty.

    ``grid_supply_wh`` is what the grid delivers to the counterparty [Wh] (negative: what it
    takes), the balance of the participants' rounded awards.
    """
    energy_wh = energy_wh[energy_wh != 0]
    if isinstance(price_usd_per_kwh, pd.Series):
        price = price_usd_per_kwh.reindex(energy_wh.index).to_numpy(float)
    else:
        price = np.full(len(energy_wh), float(price_usd_per_kwh))
    quantity_wh = energy_wh.to_numpy()
    buys = quantity_wh > 0
    order_ids = energy_wh.index.to_numpy(dtype=object)
    participants = participant_of.reindex(energy_wh.index).to_numpy(dtype=object)
    columns = {
        "buy_order_id": np.where(buys, order_ids, ""),
        "sell_order_id": np.where(buys, "", order_ids),
        "buyer": np.where(buys, participants, counterparty),
        "seller": np.where(buys, counterparty, participants),
        "quantity_wh": np.abs(quantity_wh),
        "price_usd_per_kwh": price,
    }
    if grid_supply_wh and len(price):
        grid_buys = grid_supply_wh < 0  # the grid absorbs the participants' surplus
        grid_row = {
            "buy_order_id": "",
            "sell_order_id": "",
            "buyer": GRID if grid_buys else MARKET,
            "seller": MARKET if grid_buys else GRID,
            "quantity_wh": abs(grid_supply_wh),
            "price_usd_per_kwh": float(price[0]),
        }
        columns = {name: np.append(values, grid_row[name]) for name, values in columns.items()}
    count = len(columns["price_usd_per_kwh"])
    columns |= {
        "bid_price_usd_per_kwh": np.full(count, np.nan),
        "ask_price_usd_per_kwh": np.full(count, np.nan),
        "pool": np.full(count, "non_dispatchable", dtype=object),
    }
    return typed_frame(
        {name: np.asarray(columns[name], dtype=dtype) for name, dtype in TRADE_DTYPES.items()}
    )


TRADE_DTYPES = {
    "buy_order_id": "object",
    "sell_order_id": "object",
    "buyer": "object",
    "seller": "object",
    "quantity_wh": "int64",
    "price_usd_per_kwh": "float64",
    "bid_price_usd_per_kwh": "float64",
    "ask_price_usd_per_kwh": "float64",
    "pool": "object",
}


def empty_trades() -> pd.DataFrame:
    """A trades table with no rows and the outcome's columns and dtypes."""
    # Shallow: a caller adding a column leaves the shared template as it is.
    return _EMPTY_TRADES.copy(deep=False)


_EMPTY_TRADES = empty_frame(TRADE_DTYPES)
