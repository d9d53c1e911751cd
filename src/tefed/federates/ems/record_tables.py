"""The tables an ems shard writes of its optimizing groups' plans and of what its households
received (awards and settlement lines): their columns, rows and empty forms."""

from __future__ import annotations

import json

import pandas as pd

from tefed.domain.ems.strategy_groups import StrategyGroup

#: Columns of ``optimizing_plans/<shard>.parquet``: one row per plan of an optimizing group.
PLAN_COLUMNS = (
    "interval_index",
    "group_index",
    "strategy_options",
    "households",
    "status",
    "optimal",
    "message",
    "objective_value",
)

#: Columns of ``household_awards/<shard>.parquet``: one row per award a household received.
AWARD_COLUMNS = {
    "interval_index": "int64",
    "household_id": "object",
    "order_id": "object",
    "side": "object",
    "pool": "object",
    "quantity_wh": "int64",
    "price_usd_per_kwh": "float64",
    "counterparty": "object",
}
#: Columns of ``household_settlements/<shard>.parquet``: one row per settlement line a
#: household received (``amount_usd`` positive: the household pays).
SETTLEMENT_LINE_COLUMNS = {
    "interval_index": "int64",
    "household_id": "object",
    "counterparty": "object",
    "energy_wh": "float64",
    "price_usd_per_kwh": "float64",
    "amount_usd": "float64",
    "reason": "object",
}


def plan_records(
    number: int, group: StrategyGroup, solves: list[tuple[int, str, str, float]]
) -> pd.DataFrame:
    """Plans of optimizing group ``number``: its solver status per plan, never silent."""
    options = json.dumps(group.options, sort_keys=True)
    rows = [
        (interval, number, options, group.members.size, status, status == "optimal", message, value)
        for interval, status, message, value in solves
    ]
    return pd.DataFrame(rows, columns=list(PLAN_COLUMNS))


def received_records(folder: str, rows: list[tuple]) -> pd.DataFrame:
    """Rows of the table ``folder`` (``household_awards`` or ``household_settlements``)."""
    columns = RECEIVED_COLUMNS[folder]
    return pd.DataFrame(rows, columns=list(columns)).astype(columns)


#: Columns of each table of what households received, by folder.
RECEIVED_COLUMNS = {
    "household_awards": AWARD_COLUMNS,
    "household_settlements": SETTLEMENT_LINE_COLUMNS,
}
#: What a table that never got a row is written as, by folder: the plans of optimizing groups
#: that never planned; no awards or settlement lines received.
EMPTY_TABLES = {
    "optimizing_plans": pd.DataFrame([], columns=list(PLAN_COLUMNS)),
    **{folder: received_records(folder, []) for folder in RECEIVED_COLUMNS},
}
