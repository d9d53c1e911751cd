"""The market's network file: the feeder's branches as the DLMP clearing needs them, as JSON.

The builder extracts the network once from the feeder the grid federate loads
(`tefed.io.opendss.network_extraction.extract_market_network`) and writes it beside the
federation file; the market entry's ``network_file`` names it (relative to the federates'
working directory, as every path in the federation file). A market reads it here and never
needs OpenDSS, so a replacement market in any language can read the same file.

The file is one JSON object::

    {"source_bus": "sourcebus", "source_voltage_pu": 1.0001,
     "branches": {"branch": ["Line.650632", ...], "from_bus": [...], "to_bus": [...],
                  "kind": [...], "phases": [...], "resistance_ohm": [...],
                  "reactance_ohm": [...], "base_kv_ln": [...], "rating_kva": [...]}}

``branches`` holds one list per column of `tefed.domain.network.radial.BRANCH_COLUMNS`, all
of one length (one element per branch); ``null`` stands for a missing voltage base
(``base_kv_ln``) and for an unrated branch (``rating_kva``), as JSON has neither NaN nor
infinity. Numbers are written with Python's shortest round-trip representation, so a table
read back equals the extracted one bit for bit.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from tefed.domain.network.radial import BRANCH_COLUMNS

_TEXT_COLUMNS = ("branch", "from_bus", "to_bus", "kind")
_FLOAT_COLUMNS = ("resistance_ohm", "reactance_ohm", "base_kv_ln", "rating_kva")
#: Value a ``null`` of each optional column stands for.
_MISSING = {"base_kv_ln": math.nan, "rating_kva": math.inf}


class MarketNetwork(NamedTuple):
    """The network a DLMP market clears on.

    Attributes
    ----------
    branches : pandas.DataFrame
        One row per branch, columns ``BRANCH_COLUMNS``: ``branch`` (OpenDSS full name),
        ``from_bus``, ``to_bus`` (lower case, no node suffix), ``kind`` (``line``,
        ``transformer`` or ``regulator``), ``phases`` (closed phases, int),
        ``resistance_ohm``, ``reactance_ohm`` (per-phase series impedance [ohm]),
        ``base_kv_ln`` (line-to-neutral base of ``to_bus`` [kV], NaN without a base),
        ``rating_kva`` (over all phases [kVA], inf without a rating).
    source_bus : str
        The bus the upstream grid feeds (lower case, no node suffix).
    source_voltage_pu : float
        Voltage setpoint of the source [pu].
    """

    branches: pd.DataFrame
    source_bus: str
    source_voltage_pu: float


def write_market_network(path: str | Path, network: MarketNetwork) -> None:
    """Write a market network file (format in the module docstring).

    Parameters
    ----------
    path : str or pathlib.Path
        The file to write; its folder is created if missing.
    network : MarketNetwork
        The network; its branch table must have exactly the columns ``BRANCH_COLUMNS``.

    Raises
    ------
    ValueError
        If the branch table's columns differ from ``BRANCH_COLUMNS``.
    """
    branches = network.branches
    if list(branches.columns) != list(BRANCH_COLUMNS):
        raise ValueError(
            f"branches: got columns {list(branches.columns)}, expected {list(BRANCH_COLUMNS)}"
        )
    columns: dict[str, list] = {name: branches[name].astype(str).tolist() for name in _TEXT_COLUMNS}
    columns["phases"] = [int(value) for value in branches["phases"]]
    for name in _FLOAT_COLUMNS:
        values = branches[name].to_numpy(dtype=float)
        columns[name] = [float(v) if math.isfinite(v) else None for v in values]
    text = json.dumps(
        {
            "source_bus": str(network.source_bus),
            "source_voltage_pu": float(network.source_voltage_pu),
            "branches": {name: columns[name] for name in BRANCH_COLUMNS},
        },
        allow_nan=False,
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")


def read_market_network(path: str | Path) -> MarketNetwork:
    """Read a market network file written by `write_market_network`.

    Parameters
    ----------
    path : str or pathlib.Path
        The file.

    Returns
    -------
    MarketNetwork
        The branch table (``phases`` int64, the impedances, bases and ratings float64, a
        ``null`` base NaN and a ``null`` rating inf), the source bus and its voltage [pu].

    Raises
    ------
    ValueError
        If the file is not JSON, misses a field or column, or its columns differ in length;
        the message names the file and the field.
    FileNotFoundError
        If the file does not exist.

    Examples
    --------
    >>> import tempfile
    >>> table = pd.DataFrame({"branch": ["Line.a"], "from_bus": ["s"], "to_bus": ["b"],
    ...     "kind": ["line"], "phases": [3], "resistance_ohm": [0.05], "reactance_ohm": [0.025],
    ...     "base_kv_ln": [0.23094], "rating_kva": [math.inf]})
    >>> path = Path(tempfile.mkdtemp()) / "network.json"
    >>> write_market_network(path, MarketNetwork(table, "s", 1.02))
    >>> back = read_market_network(path)
    >>> back.source_bus, back.source_voltage_pu, float(back.branches["rating_kva"].iloc[0])
    ('s', 1.02, inf)
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not JSON ({error})") from None
    missing = [name for name in ("source_bus", "source_voltage_pu", "branches") if name not in data]
    branches = data.get("branches", {})
    missing += [f"branches.{name}" for name in BRANCH_COLUMNS if name not in branches]
    if missing:
        raise ValueError(f"{path}: missing {', '.join(missing)}; expected a market network file")
    lengths = {name: len(branches[name]) for name in BRANCH_COLUMNS}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"{path}: branches columns differ in length {lengths}; expected one")
    columns = {name: branches[name] for name in BRANCH_COLUMNS}
    columns["phases"] = np.array(columns["phases"], dtype=np.int64)
    for name in _FLOAT_COLUMNS:
        missing_value = _MISSING.get(name, math.nan)
        columns[name] = np.array(
            [missing_value if value is None else value for value in columns[name]], np.float64
        )
    table = pd.DataFrame(columns)
    return MarketNetwork(table, str(data["source_bus"]), float(data["source_voltage_pu"]))
