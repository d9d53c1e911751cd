"""The sweep's results table: one row per run, ``sweep.parquet`` and ``sweep.csv``.

Columns: ``run_id``, the varied dotted scenario paths (one column each), ``seed`` (the
scenario's seed), ``status``, ``wall_time_s``, ``message``, ``run_folder``, then every scalar
(number or boolean) of the run's summary.json, nested keys joined with dots
(``community.self_sufficiency_pct``, ``households.h01.bill_usd``). A failed run has no KPIs.
Beside the table, ``sweep.json`` names the varied paths (the table's parameter columns), so that
``tefed sweep report`` and ``tefed compare`` read a sweep folder without guessing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from tefed.contract.errors import InputError
from tefed.sweep.points import SweepPoint
from tefed.sweep.run_record import STATUS_COMPLETE, RunRecord

#: File names of the table in the sweep's output folder.
TABLE_PARQUET = "sweep.parquet"
TABLE_CSV = "sweep.csv"
#: The sweep's description beside its table: its name and the varied paths.
MANIFEST = "sweep.json"


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


def write_sweep_table(
    table: pd.DataFrame, output_dir: Path, name: str, parameters: list[str]
) -> tuple[Path, Path]:
    """Write ``sweep.parquet``, ``sweep.csv`` and ``sweep.json`` into ``output_dir``.

    Parameters
    ----------
    table : pandas.DataFrame
        `sweep_table`'s rows.
    output_dir : pathlib.Path
        The sweep's output folder.
    name : str
        The sweep's name.
    parameters : list of str
        The varied dotted paths (columns of ``table``), as `SweepFile.varied_paths` lists them.

    Returns
    -------
    tuple of pathlib.Path
        The Parquet and CSV files.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    parquet, csv = output_dir / TABLE_PARQUET, output_dir / TABLE_CSV
    table.to_parquet(parquet, index=False)
    table.to_csv(csv, index=False)
    manifest = {"name": name, "parameters": parameters, "runs": len(table)}
    (output_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return parquet, csv


def is_sweep_folder(folder: Path) -> bool:
    """Whether ``folder`` holds a sweep's table and description (a ``tefed sweep`` output)."""
    return (folder / TABLE_PARQUET).is_file() and (folder / MANIFEST).is_file()


def read_sweep_folder(folder: Path) -> tuple[pd.DataFrame, str, list[str]]:
    """A sweep's table, name and varied paths, as `write_sweep_table` wrote them.

    Raises
    ------
    InputError
        If ``folder`` is not a sweep's output folder.
    """
    if not is_sweep_folder(folder):
        raise InputError(
            str(folder),
            [f"no {TABLE_PARQUET} and {MANIFEST} here; expected the output folder of tefed sweep"],
        )
    manifest = json.loads((folder / MANIFEST).read_text())
    return pd.read_parquet(folder / TABLE_PARQUET), manifest["name"], manifest["parameters"]


def sweep_runs(folder: Path) -> dict[Path, str]:
    """The run folders of a sweep's complete runs, each labelled ``<run id> path=value, …``.

    Raises
    ------
    InputError
        If ``folder`` is not a sweep folder, or none of its runs is complete.
    """
    table, _, parameters = read_sweep_folder(folder)
    complete = table[table["status"] == STATUS_COMPLETE]
    if complete.empty:
        raise InputError(str(folder), ["no run of this sweep is complete"])
    return {
        Path(row["run_folder"]): " ".join(
            [row["run_id"], ", ".join(f"{path}={row[path]!r}" for path in parameters)]
        )
        for _, row in complete.iterrows()
    }
