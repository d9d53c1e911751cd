"""Reading a profile CSV's text and checking it cell by cell, for the profile readers.

Each function stops with a ValueError that names the file, the line or column and the value:
a header without duplicates (`csv_header`), rows as text (`csv_data_rows`), timestamps in a
time zone (`parsed_times`), a regular step without gaps (`checked_step_s`), finite,
non-negative numbers (`checked_values`).

Files are read as UTF-8, with or without the byte-order mark Excel's "CSV UTF-8" writes
(`TEXT_ENCODING`). A column without a name in the header (the last one of a file whose lines
end with a comma) is no column when it holds no value; `unnamed_columns_blank` refuses values
in it.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from tefed.contract.time_grid import NS_PER_S
from tefed.domain.time_index import IrregularTimesError, regular_step_ns

#: Lines of a CSV before the first data row (the header) [-].
HEADER_LINES = 1


#: Encoding of every profile file: UTF-8, a leading byte-order mark dropped [-].
TEXT_ENCODING = "utf-8-sig"

_FIELD_COUNT = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def csv_header(path: Path) -> list[str]:
    """Column names of the first line, stripped; error on duplicates.

    A column without a name is ``""`` (several may be); callers skip it, see
    `unnamed_columns_blank`.
    """
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    with path.open(newline="", encoding=TEXT_ENCODING) as handle:
        try:
            header = [name.strip() for name in next(csv.reader(handle), [])]
        except UnicodeDecodeError as error:
            raise not_utf_8(path, error) from None
    if not header:
        raise ValueError(f"{path}: empty file; expected a header line")
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise ValueError(f"{path}: column {name!r} appears twice in the header")
        if name:
            seen.add(name)
    return header


def csv_data_rows(path: Path, rows: int | None = None) -> pd.DataFrame:
    """The data rows of a CSV as text (all, or the first ``rows``), blank lines at the end
    dropped; the index is each row's position (line ``position + 2``).

    Columns are named by their stripped header, by position: a column without a name is
    ``""``, also one that only the data rows have (a comma at the end of each data line).
    """
    header = csv_header(path)
    try:
        raw = pd.read_csv(
            path,
            header=None,
            skiprows=HEADER_LINES,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            skipinitialspace=True,
            nrows=rows,
            encoding=TEXT_ENCODING,
        )
    except pd.errors.EmptyDataError:  # nothing after the header
        raw = pd.DataFrame(columns=range(len(header)), dtype=str)
    except UnicodeDecodeError as error:
        raise not_utf_8(path, error) from None
    except pd.errors.ParserError as error:
        counts = _FIELD_COUNT.search(str(error))
        if counts is None:
            raise ValueError(f"{path}: {str(error).strip()}") from None
        expected, line, found = counts.groups()
        raise ValueError(
            f"{path}, line {line}: {found} fields; expected at most {expected}, as many as the "
            "lines before it"
        ) from None
    raw = raw.fillna("")
    width = max(len(header), raw.shape[1])
    for position in range(raw.shape[1], width):
        raw[position] = ""  # the first data row is shorter than the header
    raw.columns = header + [""] * (width - len(header))
    while len(raw) and (raw.iloc[-1].str.strip() == "").all():
        raw = raw.iloc[:-1]  # blank lines at the end of the file
    return raw


def unnamed_columns_blank(path: Path, raw: pd.DataFrame, keep: int | None = None) -> None:
    """ValueError if a column without a name holds a value (but column ``keep``).

    Parameters
    ----------
    path : pathlib.Path
        The file, named in the message [-].
    raw : pandas.DataFrame
        Rows as `csv_data_rows` returns them [-].
    keep : int, optional
        Position of a column without a name that is used anyway (the time column) [-].

    Notes
    -----
    A comma at the end of every line, as some spreadsheets and loggers write, adds a column
    with neither name nor values: it is no column. A column of values without a name is
    refused: its profile would have no name, and it is more likely a header gone missing.
    """
    for position, name in enumerate(raw.columns):
        if name or position == keep:
            continue
        cells = raw.iloc[:, position].str.strip()
        filled = np.flatnonzero(cells.to_numpy() != "")
        if filled.size:
            row = int(filled[0])
            raise ValueError(
                f"{path}, line {raw.index[row] + 1 + HEADER_LINES}: value {cells.iloc[row]!r} "
                f"in column {position + 1}, which has no name in the header; expected a name "
                "for every column that holds values (a column without a name must be empty, "
                "as a comma at the end of every line leaves it)"
            )


def not_utf_8(path: Path, error: UnicodeDecodeError) -> ValueError:
    """The error for a file that is not UTF-8, naming the byte that is not."""
    return ValueError(
        f"{path}: not UTF-8 text (byte {error.object[error.start]:#04x} is not); expected a "
        "UTF-8 file (in Excel: save as 'CSV UTF-8')"
    )


#: A UTC offset ending a timestamp: ``Z``, ``+02:00``, ``-0500``.
_UTC_OFFSET = r"(?:Z|[+-]\d{2}:?\d{2})$"


def parsed_times(
    path: Path, text: pd.Series, timezone: str | None, column: str
) -> pd.DatetimeIndex:
    """Timestamps of every row as a tz-aware index, or ValueError naming the line.

    ``text`` is indexed by each row's position in the file; ``column`` names it in messages.
    """
    lines = text.index.to_numpy() + 1 + HEADER_LINES
    try:
        parsed = pd.to_datetime(text, errors="coerce")
    except ValueError:  # offsets differ between rows (e.g. +01:00 and +02:00)
        parsed = pd.to_datetime(text, errors="coerce", utc=True)
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if bad.size:
        offset = text.str.strip().str.contains(_UTC_OFFSET, regex=True).to_numpy()
        if offset.any() and not offset.all():
            # pandas parses neither kind once the two are mixed: name the mixture.
            with_offset, without = int(np.flatnonzero(offset)[0]), int(np.flatnonzero(~offset)[0])
            raise ValueError(
                f"{path}: timestamps in column {column!r} mix UTC offsets (line "
                f"{lines[with_offset]}: {text.iloc[with_offset]!r}) and none (line "
                f"{lines[without]}: {text.iloc[without]!r}); expected every timestamp with an "
                "offset, or none (and timezone= to say where they are local time)"
            )
        row = int(bad[0])
        raise ValueError(
            f"{path}, line {lines[row]}: timestamp {text.iloc[row]!r} in column {column!r} is "
            "not a date and time; expected the start of the row's step, such as "
            "'2024-06-01 00:15'"
        )
    times = pd.DatetimeIndex(parsed)
    zone = None
    if timezone is not None:
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(
                f"timezone is {timezone!r}; expected an IANA time zone such as 'Europe/Berlin'"
            ) from error
    if times.tz is not None:
        return times if zone is None else times.tz_convert(zone)
    if zone is None:
        raise ValueError(
            f"{path}: timestamps have no time zone (line {lines[0]}: "
            f"{text.iloc[0]!r}); give timezone= (e.g. 'Europe/Berlin', or 'UTC') or write "
            "UTC offsets such as +01:00 in the file"
        )
    skipped = times.tz_localize(
        zone, ambiguous=np.ones(len(times), dtype=bool), nonexistent="NaT"
    ).isna()
    if skipped.any():
        row = int(np.flatnonzero(skipped)[0])
        raise ValueError(
            f"{path}, line {lines[row]}: {text.iloc[row]!r} does not exist in "
            f"{timezone}, where the clock jumps forward there; local-time data skip that hour"
        )
    try:
        return times.tz_localize(zone, ambiguous="infer")
    except ValueError as error:
        repeated = times.tz_localize(zone, ambiguous="NaT").isna()
        row = int(np.flatnonzero(repeated)[0]) if repeated.any() else 0
        raise ValueError(
            f"{path}, line {lines[row]}: {text.iloc[row]!r} is ambiguous in "
            f"{timezone}, where the clock repeats that hour, and the order of rows does not "
            "tell which pass it is; list the repeated hour twice in order, or write UTC offsets"
        ) from error


def checked_step_s(path: Path, times: pd.DatetimeIndex, positions: np.ndarray) -> int:
    """The step of strictly increasing, gap-free timestamps [s], or ValueError.

    ``positions`` gives each timestamp's row in the file (line ``position + 2``).
    """
    line = positions + 1 + HEADER_LINES
    try:
        step_ns = regular_step_ns(times)
    except IrregularTimesError as error:
        k = error.position - 1
        if error.kind == "duplicate":
            problem = f"lines {line[k]} and {line[k + 1]}: duplicate timestamp {times[k]}"
        elif error.kind == "backwards":
            problem = (
                f"line {line[k + 1]}: timestamp {times[k + 1]} is before {times[k]} on line "
                f"{line[k]}; expected increasing timestamps"
            )
        else:
            kind = (
                f"gap of {error.spacing_ns // error.step_ns - 1} missing row(s)"
                if error.kind == "gap"
                else "irregular step"
            )
            problem = (
                f"line {line[k + 1]}: {kind}: {times[k + 1]} is {error.spacing_ns / NS_PER_S} s "
                f"after {times[k]} on line {line[k]}; expected the file's step of "
                f"{error.step_ns / NS_PER_S:g} s"
            )
        raise ValueError(f"{path}, {problem}") from None
    if step_ns % NS_PER_S:
        raise ValueError(f"{path}: step of {step_ns / NS_PER_S} s; expected whole seconds")
    return step_ns // NS_PER_S


def checked_values(
    path: Path, raw: pd.DataFrame, unit: str, first_line: int = 1 + HEADER_LINES
) -> np.ndarray:
    """Numeric, finite, non-negative values of every column, or ValueError naming the cell.

    ``raw`` is indexed by each row's position; row ``position`` is line ``position +
    first_line``.
    """
    values = np.empty(raw.shape)
    for column, name in enumerate(raw.columns):
        text = raw[name].str.strip()
        numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
        for bad, problem in (
            (~np.isfinite(numbers), "is missing, not a number or not finite"),
            (numbers < 0, f"is a negative load; expected a value >= 0 {unit}"),
        ):
            rows = np.flatnonzero(bad)
            if rows.size:
                row = int(rows[0])
                raise ValueError(
                    f"{path}, column {name!r}, line {raw.index[row] + first_line}: value "
                    f"{text.iloc[row]!r} {problem}"
                )
        values[:, column] = numbers
    return values


def last_nonblank(text: pd.Series) -> int:
    """Position of the last entry that is not blank (-1 if all are)."""
    filled = np.flatnonzero(text.str.strip().to_numpy() != "")
    return int(filled[-1]) if filled.size else -1
