"""The sweep's results table: one row per run, ``sweep.parquet`` and ``sweep.csv``.

Columns: ``run_id``, the varied dotted scenario paths (one column each), ``seed`` (the
scenario's seed), ``status``, ``wall_time_s``, ``message``, ``run_folder``, then every scalar
(number or boolean) of the run's summary.json, nested keys joined with dots
(``community.self_sufficiency_pct``, ``households.h01.bill_usd``). A failed run has no KPIs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from tefed.sweep.execution import STATUS_COMPLETE, RunRecord
from tefed.sweep.points import SweepPoint

#: File names of the table in the sweep's output folder.
TABLE_PARQUET = "sweep.parquet"
TABLE_CSV = "sweep.csv"


def flatten_scalars(mapping: dict[str, Any], prefix: str = "") -> dict[str, float | int | bool]:
    """The numbers and booleans of a nested mapping, keyed by dotted path.

    Examples
    --------
    >>> flatten_scalars({"scenario": "x", "community": {"self_sufficiency_pct": 41.5},
    ...                  "market": {"traded_energy_kwh": 3, "welfare": {"welfare_usd": None}},
    ...                  "ok": True, "prices": [1, 2]})
    {'community.self_sufficiency_pct': 41.5, 'market.traded_energy_kwh': 3, 'ok': True}
    """
    flat: dict[str, float | int | bool] = {}
    for key, value in mapping.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_scalars(value, f"{path}."))
        elif isinstance(value, bool | int | float):
            flat[path] = value
    return flat


def sweep_table(points: list[SweepPoint], records: dict[str, RunRecord]) -> pd.DataFrame:
    """One row per point, in sweep order (see the module docstring for the columns)."""
    rows = []
    for point in points:
        record = records.get(point.run_id)
        row: dict[str, Any] = {"run_id": point.run_id, **point.parameters}
        row["seed"] = point.scenario.seed
        row["status"] = record.status if record is not None else "not run"
        row["wall_time_s"] = record.wall_time_s if record is not None else float("nan")
        row["message"] = record.message if record is not None else ""
        row["run_folder"] = record.run_folder if record is not None else ""
        if record is not None and record.status == STATUS_COMPLETE:
            summary = json.loads((Path(record.run_folder) / "summary.json").read_text())
            for key, value in flatten_scalars(summary).items():
                row.setdefault(key, value)
        rows.append(row)
    return pd.DataFrame(rows)


def write_sweep_table(table: pd.DataFrame, output_dir: Path) -> tuple[Path, Path]:
    """Write ``sweep.parquet`` and ``sweep.csv`` into ``output_dir``; returns their paths."""
    output_dir.mkdir(parents=True, exist_ok=True)
    parquet, csv = output_dir / TABLE_PARQUET, output_dir / TABLE_CSV
    table.to_parquet(parquet, index=False)
    table.to_csv(csv, index=False)
    return parquet, csv
