"""Readers of household load profiles: CSV files, folders of daily profiles, long tables.

Every reader returns mean power in kW and checks its input as it comes in: a bad file stops
with a ValueError that names the file, the line or column and the value. The pure code that
puts these profiles on the simulation grid is in :mod:`tefed.domain.ems.devices.resampling` and
:mod:`tefed.domain.ems.devices.library_profiles`; the checks of a CSV's cells are in
:mod:`tefed.io.profile_csv_checks`, the BDEW profile in :mod:`tefed.io.bdew_profiles`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tefed.contract.errors import shown
from tefed.contract.role_configs import LoadSourceConfig
from tefed.contract.time_grid import SECONDS_PER_DAY, TimeGrid
from tefed.domain.ems.devices.resampling import measured_profiles_on_steps
from tefed.io.profile_csv_checks import (
    HEADER_LINES,
    TEXT_ENCODING,
    checked_step_s,
    checked_values,
    csv_data_rows,
    csv_header,
    last_nonblank,
    not_utf_8,
    parsed_times,
    unnamed_columns_blank,
)

#: Units a profile file may be in, and the factor to kW for power units [kW per unit].
POWER_UNITS = {"kW": 1.0, "W": 1e-3}
#: Energy per row, converted to mean power over the row's step [kWh per unit].
ENERGY_UNITS = {"kWh": 1.0, "Wh": 1e-3}
ACCEPTED_UNITS = (*POWER_UNITS, *ENERGY_UNITS)

#: Columns of a long profile CSV: the profile's name, the step's start, the value.
LONG_COLUMNS = ("household", "time", "value")

#: What separates two fields of a line, which a daily profile's line must not hold.
_FIELD_SEPARATOR = r"[,;\s]"
#: A number written with a decimal comma, such as 0,829.
_DECIMAL_COMMA = re.compile(r"[-+]?\d+,\d+")


@dataclass(frozen=True)
class ProfileTable:
    """Household load profiles as read from a file.

    Attributes
    ----------
    power_kw : pandas.DataFrame
        Mean power over each step, one column per profile named as in the file [kW]. Indexed
        by the step starts (time-zone-aware DatetimeIndex) for calendar files, by the time of
        day (TimedeltaIndex from local midnight) for daily profiles.
    step_s : int
        Length of every step [s].
    """

    power_kw: pd.DataFrame
    step_s: int


def read_profile_csv(
    path: str | Path,
    unit: str,
    timezone: str | None = None,
    time_column: str | None = None,
) -> ProfileTable:
    """Read household load profiles from a CSV: a timestamp column and one column per profile.

    Parameters
    ----------
    path : str or pathlib.Path
        The CSV file, UTF-8 (a byte-order mark is dropped); first line the header [-].
    unit : str
        Unit of the values: ``"kW"`` or ``"W"`` (mean power over the row's step), ``"kWh"`` or
        ``"Wh"`` (energy over the row's step) [-].
    timezone : str, optional
        IANA time zone (e.g. ``"Europe/Berlin"``) of naive timestamps, required when the file
        has no UTC offsets; for timestamps with offsets, the zone to convert them to [-].
    time_column : str, optional
        Name of the timestamp column (default: the first column). Each row's timestamp is the
        start of its step [-].

    Returns
    -------
    ProfileTable
        ``power_kw`` indexed by tz-aware step starts, one column per profile, and ``step_s``.

    Raises
    ------
    ValueError
        If the unit is not accepted, or the file has no time zone and none is given, an
        unparsable, nonexistent or ambiguous local timestamp, duplicate or decreasing
        timestamps, a gap or an irregular step, a missing, non-numeric or non-finite value, a
        negative load, a value in a column without a name, or text that is not UTF-8. The
        message names the file, the line (the header is line 1) or column and the value.

    Notes
    -----
    Energies per row become mean power :math:`P = E / \\Delta` with :math:`\\Delta` the step;
    power in W is divided by 1000. Naive local timestamps are localized to ``timezone``: a
    time the clock skips (spring forward) is an error, and the hour the clock repeats (fall
    back) must appear twice in order, which tells its first pass from its second; data logged
    in standard time all year can be read with a fixed-offset zone such as ``"Etc/GMT-1"``.
    The step is the most frequent difference between consecutive timestamps. A column without
    a name in the header is no profile; it must hold no value (a comma ending every line leaves
    such a column), except as the time column: the first column may be unnamed.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "load.csv"
    ...     _ = path.write_text("time,house_1\\n2024-06-01 00:00,250\\n2024-06-01 00:15,500\\n")
    ...     table = read_profile_csv(path, unit="Wh", timezone="Europe/Berlin")
    >>> table.step_s, table.power_kw["house_1"].tolist()
    (900, [1.0, 2.0])
    """
    if unit not in ACCEPTED_UNITS:
        raise ValueError(f"unit is {unit!r}; expected one of {list(ACCEPTED_UNITS)}")
    path = Path(path)
    time_at, profiles = _wide_columns(path, csv_header(path), time_column)
    raw = csv_data_rows(path)
    unnamed_columns_blank(path, raw, keep=time_at)
    if len(raw) < 2:
        raise ValueError(f"{path}: {len(raw)} data row(s); expected at least 2 to fix the step")
    time_name = raw.columns[time_at]
    times = parsed_times(path, raw.iloc[:, time_at].str.strip(), timezone, time_name)
    step_s = checked_step_s(path, times, raw.index.to_numpy())
    values = checked_values(path, raw[profiles], unit)
    factor = POWER_UNITS.get(unit) or ENERGY_UNITS[unit] * 3600.0 / step_s
    frame = pd.DataFrame(values * factor, index=times.rename("time"), columns=profiles)
    return ProfileTable(power_kw=frame, step_s=step_s)


def read_daily_profile_folder(
    folder: str | Path, unit: str = "kW", step_s: int | None = None, pattern: str = "*.txt"
) -> ProfileTable:
    """Read a folder of one-day profiles, one file per profile, one value per line.

    Parameters
    ----------
    folder : str or pathlib.Path
        Folder of the profile files, e.g. the IEEE European LV test feeder's
        ``Daily_1min_100profiles`` [-].
    unit : str, optional
        Unit of the values, as for :func:`read_profile_csv` [-].
    step_s : int, optional
        Length of each line's step from local midnight; ``86 400 / step_s`` lines per file.
        None (default): a day over the number of lines of the first file, e.g. 60 s for the
        1,440 lines of a one-minute day [s].
    pattern : str, optional
        Glob pattern of the profile files in ``folder`` [-].

    Returns
    -------
    ProfileTable
        ``power_kw`` indexed by the time of day of each step start (TimedeltaIndex), one column
        per file named by its stem, in natural order (``load_profile_2`` before
        ``load_profile_10``); ``step_s`` as given or found.

    Raises
    ------
    ValueError
        If the folder has no matching file, the unit or step is not accepted, a file is not
        UTF-8 text, has another number of lines than a day holds (or, without ``step_s``, than
        the first file), a line holds more than one field (``0,829``: a decimal comma, or
        ``3,0.5``: an index and a value), or a value is missing, non-numeric, non-finite or
        negative (the message names the file, the line and the value).

    Notes
    -----
    Files are UTF-8 (a byte-order mark is dropped). They carry no timestamps: line :math:`j`
    (from 1) is the step starting :math:`(j - 1)\\,\\Delta` after midnight. Lay such a day
    onto the simulation calendar with
    :func:`tefed.domain.ems.devices.resampling.repeat_daily_profile`.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     for number, value in ((2, "1.5"), (10, "0.5")):
    ...         _ = (Path(folder) / f"load_profile_{number}.txt").write_text(f"{value}\\n" * 24)
    ...     table = read_daily_profile_folder(folder, step_s=3600)
    >>> list(table.power_kw.columns), table.power_kw.shape
    (['load_profile_2', 'load_profile_10'], (24, 2))
    """
    if unit not in ACCEPTED_UNITS:
        raise ValueError(f"unit is {unit!r}; expected one of {list(ACCEPTED_UNITS)}")
    if step_s is not None and (
        isinstance(step_s, bool) or not isinstance(step_s, int) or step_s <= 0
    ):
        raise ValueError(f"step_s is {step_s!r}; expected a positive integer number of seconds")
    if step_s is not None and SECONDS_PER_DAY % step_s:
        raise ValueError(f"step_s is {step_s}; expected a divisor of a day, {SECONDS_PER_DAY} s")
    files = _daily_files(Path(folder), pattern)
    columns = {}
    for file in files:
        raw = _daily_lines(file)
        if step_s is None:
            step_s = _day_step_s(file, len(raw))
        rows = SECONDS_PER_DAY // step_s
        if len(raw) != rows:
            raise ValueError(
                f"{file}: {len(raw)} lines; expected {rows}, one per {step_s} s step of a day"
            )
        columns[file.stem] = checked_values(file, raw.to_frame(file.stem), unit, first_line=1)[:, 0]
    factor = POWER_UNITS.get(unit) or ENERGY_UNITS[unit] * 3600.0 / step_s
    index = pd.to_timedelta(np.arange(rows) * step_s, unit="s").rename("time_of_day")
    return ProfileTable(pd.DataFrame(columns, index=index) * factor, step_s)


def read_long_profile_csv(path: str | Path, unit: str, timezone: str | None = None) -> ProfileTable:
    """Read household load profiles from a long CSV: one row per household and step.

    Parameters
    ----------
    path : str or pathlib.Path
        The CSV file; its header names the columns ``household`` (the profile's name),
        ``time`` (start of the row's step) and ``value``, in any order; other columns are
        ignored [-].
    unit : str
        Unit of ``value``, as for :func:`read_profile_csv` [-].
    timezone : str, optional
        IANA time zone of naive timestamps, as for :func:`read_profile_csv` [-].

    Returns
    -------
    ProfileTable
        ``power_kw`` indexed by tz-aware step starts, one column per household in the order
        of their first rows, and ``step_s``.

    Raises
    ------
    ValueError
        For every problem :func:`read_profile_csv` names, per household, and if a column is
        missing, a household name is blank, a household has fewer than two rows, or two
        households have different timestamps.

    Notes
    -----
    Each household's rows, in file order, must be regular steps like a column of
    :func:`read_profile_csv`; rows of different households may interleave. Every household
    must have the same timestamps.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "load.csv"
    ...     _ = path.write_text(
    ...         "household,time,value\\n"
    ...         "a,2024-06-01 00:00,1\\nb,2024-06-01 00:00,2\\n"
    ...         "a,2024-06-01 01:00,3\\nb,2024-06-01 01:00,4\\n"
    ...     )
    ...     table = read_long_profile_csv(path, unit="kW", timezone="UTC")
    >>> table.step_s, table.power_kw.to_dict("list")
    (3600, {'a': [1.0, 3.0], 'b': [2.0, 4.0]})
    """
    if unit not in ACCEPTED_UNITS:
        raise ValueError(f"unit is {unit!r}; expected one of {list(ACCEPTED_UNITS)}")
    path = Path(path)
    raw, names = _long_rows(path)
    households = raw[LONG_COLUMNS[0]].str.strip()
    columns: dict[str, np.ndarray] = {}
    first: tuple[str, pd.DatetimeIndex, int] | None = None
    for name in names:
        rows = raw[households == name]
        if len(rows) < 2:
            raise ValueError(
                f"{path}: household {name!r} has {len(rows)} row(s); expected at least 2 to "
                "fix the step"
            )
        times = parsed_times(path, rows["time"].str.strip(), timezone, "time")
        step_s = checked_step_s(path, times, rows.index.to_numpy())
        if first is None:
            first = (name, times, step_s)
        elif not times.equals(first[1]):
            raise ValueError(
                f"{path}: household {name!r} has {len(times)} rows from {times[0]} every "
                f"{step_s} s; expected the timestamps of household {first[0]!r}, {len(first[1])} "
                f"rows from {first[1][0]} every {first[2]} s (every household the same)"
            )
        columns[name] = checked_values(path, rows[["value"]], unit)[:, 0]
    _, times, step_s = first
    factor = POWER_UNITS.get(unit) or ENERGY_UNITS[unit] * 3600.0 / step_s
    frame = pd.DataFrame(columns, index=times.rename("time")) * factor
    return ProfileTable(power_kw=frame, step_s=step_s)


def profile_names(source: LoadSourceConfig, base_dir: Path) -> list[str]:
    """Names of the profiles a measured load source holds, in its order.

    Parameters
    ----------
    source : LoadSourceConfig
        The source; its ``path`` is relative to ``base_dir``.
    base_dir : pathlib.Path
        Folder the path resolves against [-].

    Returns
    -------
    list of str
        csv: the header's names but the time column's; daily_files: the file names without
        their extension, in natural order; long_csv: the households in the order of their
        first rows. Reads only what the names need (the header, the folder, one column).

    Raises
    ------
    ValueError
        If the file or folder is missing or holds no profile, naming it.
    """
    path = base_dir / source.path
    if source.profile == "daily_files":
        files = _daily_files(path, source.files or "*")
        stems = [file.stem for file in files]
        twice = sorted({stem for stem in stems if stems.count(stem) > 1})
        if twice:
            raise ValueError(
                f"{path}: files named {twice[0]!r} with different extensions; expected one "
                f"file per profile name (files: {source.files!r} picks them)"
            )
        return stems
    if source.profile == "long_csv":
        return _long_rows(path)[1]
    time_at, names = _wide_columns(path, csv_header(path), source.time_column)
    # The first row tells a file without timestamps, which would lose its first profile.
    first_row = csv_data_rows(path, rows=1)
    if len(first_row):
        time_name = first_row.columns[time_at]
        parsed_times(path, first_row.iloc[:, time_at].str.strip(), "UTC", time_name)
    return names


def read_load_source(source: LoadSourceConfig, base_dir: Path) -> ProfileTable:
    """Read every profile of a measured load source (by its layout, see `LoadSourceConfig`).

    Parameters
    ----------
    source : LoadSourceConfig
        The source; its ``path`` is relative to ``base_dir``.
    base_dir : pathlib.Path
        Folder the path resolves against [-].

    Returns
    -------
    ProfileTable
        As :func:`read_profile_csv`, :func:`read_daily_profile_folder` or
        :func:`read_long_profile_csv` return it.

    Raises
    ------
    ValueError
        As those readers raise it.
    """
    path = base_dir / source.path
    if source.profile == "daily_files":
        return read_daily_profile_folder(path, source.unit, source.step_s, source.files or "*")
    if source.profile == "long_csv":
        return read_long_profile_csv(path, source.unit, source.timezone)
    return read_profile_csv(path, source.unit, source.timezone, source.time_column)


def read_profiles_on_steps(
    source: LoadSourceConfig,
    names: list[str],
    base_dir: Path,
    step_times: pd.DatetimeIndex,
    grid: TimeGrid,
) -> np.ndarray:
    """Profiles ``names`` of a measured load source, on the run's steps.

    Parameters
    ----------
    source : LoadSourceConfig
        The source; its ``path`` is relative to ``base_dir``.
    names : list of str
        Profiles wanted, in the order of the result's columns (a name may repeat).
    base_dir : pathlib.Path
        Folder the path resolves against [-].
    step_times : pandas.DatetimeIndex
        Start of each step: the run's, then any forecast steps past its end [-].
    grid : TimeGrid
        The run's time grid.

    Returns
    -------
    numpy.ndarray
        Mean power over each step, ``(len(step_times), len(names))`` [kW], as
        `tefed.domain.ems.devices.resampling.measured_profiles_on_steps` lays them.

    Raises
    ------
    ValueError
        If the source cannot be read, holds no profile of a name, or does not cover the run.
    """
    profiles = read_load_source(source, base_dir)
    available = list(profiles.power_kw.columns)
    absent = sorted(set(names) - set(available))
    if absent:
        raise ValueError(
            f"no profile named {shown(absent)}; expected names among {shown(available)}"
        )
    return measured_profiles_on_steps(
        profiles.power_kw[names],
        profiles.step_s,
        step_times,
        grid.grid_step_s,
        grid.n_steps,
        grid.steps_per_day,
    )


def _wide_columns(path: Path, header: list[str], time_column: str | None) -> tuple[int, list[str]]:
    """Position of the time column of a wide CSV and the names of its profiles, or ValueError.

    The time column is ``time_column``, or else the first column, named or not (pandas writes
    an unnamed index without a name). Columns without a name are no profile.
    """
    if time_column is None:
        time_at = 0
    elif time_column in header:
        time_at = header.index(time_column)
    else:
        raise ValueError(
            f"{path}: no column {time_column!r}; the columns are {[n for n in header if n]}"
        )
    profiles = [name for position, name in enumerate(header) if name and position != time_at]
    if not profiles:
        raise ValueError(f"{path}: no profile column beside {header[time_at]!r}")
    return time_at, profiles


def _daily_files(folder: Path, pattern: str) -> list[Path]:
    """Files of ``folder`` matching ``pattern``, in natural order, or ValueError."""
    if not folder.is_dir():
        raise ValueError(f"{folder}: no such folder")
    files = sorted((file for file in folder.glob(pattern) if file.is_file()), key=_natural_key)
    if not files:
        raise ValueError(f"{folder}: no file matches {pattern!r}")
    return files


def _daily_lines(file: Path) -> pd.Series:
    """The lines of a daily profile file as text, blank lines at the end dropped, or
    ValueError naming the first line that holds more than one field.

    The index is each line's position (line ``position + 1``).
    """
    try:
        text = file.read_text(encoding=TEXT_ENCODING)
    except UnicodeDecodeError as error:
        raise not_utf_8(file, error) from None
    lines = pd.Series(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), dtype=str)
    lines = lines.iloc[: last_nonblank(lines) + 1]
    fields = lines.str.strip().str.contains(_FIELD_SEPARATOR, regex=True).to_numpy()
    if fields.any():
        row = int(np.flatnonzero(fields)[0])
        found = lines.iloc[row].strip()
        hint = (
            f" (a decimal comma? write {found.replace(',', '.')})"
            if _DECIMAL_COMMA.fullmatch(found)
            else ""
        )
        raise ValueError(
            f"{file}, line {row + 1}: {found!r} is not one number; expected one number per "
            f"line{hint}"
        )
    return lines


def _day_step_s(file: Path, lines: int) -> int:
    """Step of a one-day file of ``lines`` lines [s], or ValueError when they do not divide a
    day into whole seconds."""
    if lines == 0 or SECONDS_PER_DAY % lines:
        raise ValueError(
            f"{file}: {lines} lines; expected one line per step of a day, a number that divides "
            f"{SECONDS_PER_DAY} s into whole seconds (1440 for one-minute steps, 96 for 15 "
            "minutes), or step_s"
        )
    return SECONDS_PER_DAY // lines


def _long_rows(path: Path) -> tuple[pd.DataFrame, list[str]]:
    """Rows of a long profile CSV as text and its households in the order of their first
    rows, or ValueError."""
    header = csv_header(path)
    missing = [name for name in LONG_COLUMNS if name not in header]
    if missing:
        raise ValueError(
            f"{path}: no column {missing[0]!r}; expected the columns {list(LONG_COLUMNS)} "
            f"(the header is {header})"
        )
    raw = csv_data_rows(path)
    households = raw[LONG_COLUMNS[0]].str.strip()
    blank = np.flatnonzero(households.to_numpy() == "")
    if blank.size:
        raise ValueError(
            f"{path}, line {int(blank[0]) + 1 + HEADER_LINES}: household is blank; expected "
            "the name of the row's profile"
        )
    if households.empty:
        raise ValueError(f"{path}: no data row; expected rows of household, time, value")
    return raw, list(pd.unique(households))


def _natural_key(path: Path) -> list[object]:
    """Sort key that orders embedded numbers by value: name_2 before name_10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.stem)]
