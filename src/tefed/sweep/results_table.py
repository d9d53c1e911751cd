"""The sweep's results table: one row per run, ``sweep.parquet`` and ``sweep.csv``.

Columns: ``run_id``, the varied dotted scenario paths (one column each), ``seed`` (the
scenario's seed), ``status``, ``wall_time_s``, ``message``, ``run_folder``, then every scalar
(number or boolean) of the run's summary.json, nested keys joined with dots
(``community.self_sufficiency_pct``, ``households.h01.bill_usd``). A failed run has no KPIs.
Beside the table, ``sweep.json`` names the varied paths (the table's parameter columns), so that
``tefed sweep report`` and ``tefed compare`` read a sweep folder without guessing.

A parameter column keeps its values if they are all numbers, all text or all booleans (missing
values aside). Any other column, e.g. ``households.pv.pv.kwp: [5, [4, 7]]`` (one value for
every household, or ``[low, high]``), mappings, or numbers beside text, holds each value's JSON
text (``5``, ``[4, 7]``, ``"x"``, ``null``) in both files: Parquet has no column of mixed kinds,
and lists or mappings would come back as arrays or merged structs. ``sweep.json`` names these
columns (``json_parameters``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tefed.contract.errors import InputError
from tefed.sweep.points import SweepPoint
from tefed.sweep.run_record import STATUS_COMPLETE, RunRecord, located_run_folder

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


def json_columns(table: pd.DataFrame, parameters: list[str]) -> list[str]:
    """The parameter columns stored as their values' JSON text: those whose values (missing
    ones aside) are not all numbers, all text or all booleans.

    Examples
    --------
    >>> table = pd.DataFrame({"a": [5, [4, 7]], "b": [1, 2.5], "c": ["x", None], "d": [True, 1]})
    >>> json_columns(table, ["a", "b", "c", "d"])
    ['a', 'd']
    """
    chosen = []
    for parameter in parameters:
        kinds = {_kind(value) for value in table[parameter] if not _missing(value)}
        if len(kinds) > 1 or "other" in kinds:
            chosen.append(parameter)
    return chosen


def _missing(value: Any) -> bool:
    """Whether a cell is empty (None or NaN), not a value such as a list."""
    return value is None or (isinstance(value, float | np.floating) and np.isnan(value))


def _kind(value: Any) -> str:
    """``boolean``, ``number``, ``text`` or ``other`` (lists, mappings, …)."""
    if isinstance(value, bool | np.bool_):
        return "boolean"
    if isinstance(value, int | float | np.number):
        return "number"
    return "text" if isinstance(value, str) else "other"


def write_sweep_table(
    table: pd.DataFrame, output_dir: Path, name: str, parameters: list[str]
) -> tuple[Path, Path]:
    """Write ``sweep.parquet``, ``sweep.csv`` and ``sweep.json`` into ``output_dir``.

    A parameter column of mixed kinds, lists or mappings is written as each value's JSON text
    (`json_columns`; see the module docstring).

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
    as_json = json_columns(table, parameters)
    stored = table.assign(
        **{
            column: [json.dumps(_plain(value), default=str) for value in table[column]]
            for column in as_json
        }
    )
    stored.to_parquet(parquet, index=False)
    stored.to_csv(csv, index=False)
    manifest = {
        "name": name,
        "parameters": parameters,
        "json_parameters": as_json,
        "runs": len(table),
    }
    (output_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return parquet, csv


def _plain(value: Any) -> Any:
    """A cell as JSON can write it: NaN as None, numpy scalars as Python numbers."""
    if _missing(value):
        return None
    return value.item() if isinstance(value, np.generic) else value


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
    as_json = set(json.loads((folder / MANIFEST).read_text()).get("json_parameters", []))
    complete = table[table["status"] == STATUS_COMPLETE]
    if complete.empty:
        raise InputError(str(folder), ["no run of this sweep is complete"])
    return {
        located_run_folder(folder, row["run_id"], row["run_folder"]): " ".join(
            [
                row["run_id"],
                ", ".join(
                    f"{path}={row[path] if path in as_json else repr(row[path])}"
                    for path in parameters
                ),
            ]
        )
        for _, row in complete.iterrows()
    }
