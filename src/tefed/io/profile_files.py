"""Readers of household load profiles: CSV files, folders of daily profiles, BDEW via demandlib.

Every reader returns mean power in kW and checks its input as it comes in: a bad file stops
with a ValueError that names the file, the line or column and the value. The pure code that
puts these profiles on the simulation grid is in :mod:`tefed.domain.ems.devices.resampling` and
:mod:`tefed.domain.ems.devices.library_profiles`.
"""

from __future__ import annotations

import csv
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from tefed.contract.errors import shown
from tefed.contract.role_configs import LoadSourceConfig
from tefed.contract.time_grid import NS_PER_S, SECONDS_PER_DAY, TimeGrid
from tefed.domain.ems.devices.resampling import measured_profiles_on_steps
from tefed.domain.time_index import IrregularTimesError, regular_step_ns

#: Units a profile file may be in, and the factor to kW for power units [kW per unit].
POWER_UNITS = {"kW": 1.0, "W": 1e-3}
#: Energy per row, converted to mean power over the row's step [kWh per unit].
ENERGY_UNITS = {"kWh": 1.0, "Wh": 1e-3}
ACCEPTED_UNITS = (*POWER_UNITS, *ENERGY_UNITS)

#: Columns of a long profile CSV: the profile's name, the step's start, the value.
LONG_COLUMNS = ("household", "time", "value")

#: Lines of a CSV before the first data row (the header) [-].
_HEADER_LINES = 1


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
        The CSV file; first line the header [-].
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
        timestamps, a gap or an irregular step, a missing, non-numeric or non-finite value, or a
        negative load. The message names the file, the line (the header is line 1) or column
        and the value.

    Notes
    -----
    Energies per row become mean power :math:`P = E / \\Delta` with :math:`\\Delta` the step;
    power in W is divided by 1000. Naive local timestamps are localized to ``timezone``: a
    time the clock skips (spring forward) is an error, and the hour the clock repeats (fall
    back) must appear twice in order, which tells its first pass from its second; data logged
    in standard time all year can be read with a fixed-offset zone such as ``"Etc/GMT-1"``.
    The step is the most frequent difference between consecutive timestamps.

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
    header = _header(path)
    time_name = header[0] if time_column is None else time_column
    if time_name not in header:
        raise ValueError(f"{path}: no column {time_name!r}; the columns are {header}")
    profiles = [name for name in header if name != time_name]
    if not profiles:
        raise ValueError(f"{path}: no profile column beside {time_name!r}")
    raw = _data_rows(path)
    if len(raw) < 2:
        raise ValueError(f"{path}: {len(raw)} data row(s); expected at least 2 to fix the step")
    times = _parsed_times(path, raw[time_name].str.strip(), timezone, time_name)
    step_s = _checked_step_s(path, times, raw.index.to_numpy())
    values = _checked_values(path, raw[profiles], unit)
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
        If the folder has no matching file, the unit or step is not accepted, a file has
        another number of lines than a day holds (or, without ``step_s``, than the first
        file), or a value is missing, non-numeric, non-finite or negative (the message names
        the file, the line and the value).

    Notes
    -----
    The files carry no timestamps: line :math:`j` (from 1) is the step starting
    :math:`(j - 1)\\,\\Delta` after midnight. Lay such a day onto the simulation calendar
    with :func:`tefed.domain.ems.devices.resampling.repeat_daily_profile`.

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
        raw = pd.read_csv(
            file, header=None, dtype=str, keep_default_na=False, skip_blank_lines=False
        ).iloc[:, 0]
        raw = raw.iloc[: _last_nonblank(raw) + 1]
        if step_s is None:
            step_s = _day_step_s(file, len(raw))
        rows = SECONDS_PER_DAY // step_s
        if len(raw) != rows:
            raise ValueError(
                f"{file}: {len(raw)} lines; expected {rows}, one per {step_s} s step of a day"
            )
        columns[file.stem] = _checked_values(file, raw.to_frame(file.stem), unit, first_line=1)[
            :, 0
        ]
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
        times = _parsed_times(path, rows["time"].str.strip(), timezone, "time")
        step_s = _checked_step_s(path, times, rows.index.to_numpy())
        if first is None:
            first = (name, times, step_s)
        elif not times.equals(first[1]):
            raise ValueError(
                f"{path}: household {name!r} has {len(times)} rows from {times[0]} every "
                f"{step_s} s; expected the timestamps of household {first[0]!r}, {len(first[1])} "
                f"rows from {first[1][0]} every {first[2]} s (every household the same)"
            )
        columns[name] = _checked_values(path, rows[["value"]], unit)[:, 0]
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
    header = _header(path)
    time_name = header[0] if source.time_column is None else source.time_column
    if time_name not in header:
        raise ValueError(f"{path}: no column {time_name!r}; the columns are {header}")
    names = [name for name in header if name != time_name]
    if not names:
        raise ValueError(f"{path}: no profile column beside {time_name!r}")
    # The first row tells a file without timestamps, which would lose its first profile.
    first_row = _data_rows(path, rows=1)
    if len(first_row):
        _parsed_times(path, first_row[time_name].str.strip(), "UTC", time_name)
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


def bdew_household_shape(
    times: pd.DatetimeIndex, holidays: Sequence[object] | None = None
) -> pd.Series:
    """BDEW standard household load profile (H25) for the calendar years around ``times``.

    Parameters
    ----------
    times : pandas.DatetimeIndex
        Time-zone-aware instants of the run; the profile covers every whole calendar year from
        the local day before the first to the local day after the last [-].
    holidays : sequence of date-like, optional
        Local dates to treat as Sundays and holidays (BDEW day type "FT") [-]. None by default:
        demandlib knows no holidays by itself, and every Sunday is "FT" anyway.

    Returns
    -------
    pandas.Series
        ``shape`` indexed by the naive local wall-clock start of every 15-minute slot (96 a
        day, also on clock-change days): relative mean power of the standard household,
        normalised so that each calendar year sums to 1 [-].

    Raises
    ------
    ValueError
        If ``times`` is not a non-empty time-zone-aware DatetimeIndex.

    Notes
    -----
    Calls ``demandlib.bdew.H25`` (demandlib 0.2.2, MIT), the 2025 revision of the BDEW
    household profile: one 96-slot day per month and day type (working day, Saturday,
    Sunday/holiday), multiplied by the BDEW dynamisation polynomial of the day of the year
    :math:`F(t) = -3.92\\cdot10^{-10} t^4 + 3.2\\cdot10^{-7} t^3 - 7.02\\cdot10^{-5} t^2 +
    2.1\\cdot10^{-3} t + 1.24`, which carries the seasonal change of the daily energy. It
    reads only the CSV tables inside the demandlib package: no network, no other package
    than numpy and pandas. The classic H0 of ``demandlib.bdew.ElecSlp`` is not used: with
    pandas 3.1 it fails, because it turns every warning into an error for the whole process
    (``warnings.simplefilter("error")``) and then triggers a pandas deprecation warning; the
    call here runs inside ``warnings.catch_warnings`` so that demandlib's pandas deprecation
    warnings do not reach the user.

    References
    ----------
    BDEW, "Standardlastprofile Strom", 2025 revision (H25), Bundesverband der Energie- und
    Wasserwirtschaft, Berlin, 2025.

    C. Fünfgeld and R. Tiedemann, "Anwendung der Repräsentativen VDEW-Lastprofile",
    Brandenburgische Technische Universität Cottbus, 2000 (the dynamisation function).

    Examples
    --------
    >>> times = pd.date_range("2024-06-03", periods=4, freq="h", tz="Europe/Berlin")
    >>> shape = bdew_household_shape(times)
    >>> len(shape), round(float(shape.sum()), 12)
    (35136, 1.0)
    """
    import demandlib.bdew

    if not isinstance(times, pd.DatetimeIndex) or times.tz is None or len(times) == 0:
        raise ValueError("times must be a non-empty time-zone-aware pandas.DatetimeIndex")
    local = times.tz_localize(None)
    first_year = (local.min() - pd.Timedelta(days=1)).year
    last_year = (local.max() + pd.Timedelta(days=1)).year
    slots = pd.date_range(f"{first_year}-01-01", f"{last_year}-12-31 23:45", freq="15min")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*inplace.*")
        profile = demandlib.bdew.H25(slots, holidays=list(holidays) if holidays else None)
    values = profile.to_numpy(dtype=float)
    yearly = pd.Series(values, index=slots).groupby(slots.year).transform("sum").to_numpy()
    return pd.Series(values / yearly, index=slots, name="shape")


def _header(path: Path) -> list[str]:
    """Column names of the first line, stripped; error on duplicates."""
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    with path.open(newline="") as handle:
        header = [name.strip() for name in next(csv.reader(handle), [])]
    if not header:
        raise ValueError(f"{path}: empty file; expected a header line")
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise ValueError(f"{path}: column {name!r} appears twice in the header")
        seen.add(name)
    return header


def _data_rows(path: Path, rows: int | None = None) -> pd.DataFrame:
    """The data rows of a CSV as text (all, or the first ``rows``), columns named by their
    stripped header, blank lines at the end dropped; the index is each row's position (line
    ``position + 2``)."""
    raw = pd.read_csv(
        path,
        dtype=str,
        keep_default_na=False,
        skip_blank_lines=False,
        skipinitialspace=True,
        nrows=rows,
    )
    raw.columns = [str(name).strip() for name in raw.columns]
    while len(raw) and (raw.iloc[-1].str.strip() == "").all():
        raw = raw.iloc[:-1]  # blank lines at the end of the file
    return raw


def _parsed_times(
    path: Path, text: pd.Series, timezone: str | None, column: str
) -> pd.DatetimeIndex:
    """Timestamps of every row as a tz-aware index, or ValueError naming the line.

    ``text`` is indexed by each row's position in the file; ``column`` names it in messages.
    """
    lines = text.index.to_numpy() + 1 + _HEADER_LINES
    try:
        parsed = pd.to_datetime(text, errors="coerce")
    except ValueError:  # offsets differ between rows (e.g. +01:00 and +02:00)
        parsed = pd.to_datetime(text, errors="coerce", utc=True)
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if bad.size:
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


def _checked_step_s(path: Path, times: pd.DatetimeIndex, positions: np.ndarray) -> int:
    """The step of strictly increasing, gap-free timestamps [s], or ValueError.

    ``positions`` gives each timestamp's row in the file (line ``position + 2``).
    """
    line = positions + 1 + _HEADER_LINES
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


def _checked_values(
    path: Path, raw: pd.DataFrame, unit: str, first_line: int = 1 + _HEADER_LINES
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


def _last_nonblank(text: pd.Series) -> int:
    """Position of the last entry that is not blank (-1 if all are)."""
    filled = np.flatnonzero(text.str.strip().to_numpy() != "")
    return int(filled[-1]) if filled.size else -1


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


def _daily_files(folder: Path, pattern: str) -> list[Path]:
    """Files of ``folder`` matching ``pattern``, in natural order, or ValueError."""
    if not folder.is_dir():
        raise ValueError(f"{folder}: no such folder")
    files = sorted((file for file in folder.glob(pattern) if file.is_file()), key=_natural_key)
    if not files:
        raise ValueError(f"{folder}: no file matches {pattern!r}")
    return files


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
    header = _header(path)
    missing = [name for name in LONG_COLUMNS if name not in header]
    if missing:
        raise ValueError(
            f"{path}: no column {missing[0]!r}; expected the columns {list(LONG_COLUMNS)} "
            f"(the header is {header})"
        )
    raw = _data_rows(path)
    households = raw[LONG_COLUMNS[0]].str.strip()
    blank = np.flatnonzero(households.to_numpy() == "")
    if blank.size:
        raise ValueError(
            f"{path}, line {int(blank[0]) + 1 + _HEADER_LINES}: household is blank; expected "
            "the name of the row's profile"
        )
    if households.empty:
        raise ValueError(f"{path}: no data row; expected rows of household, time, value")
    return raw, list(pd.unique(households))


def _natural_key(path: Path) -> list[object]:
    """Sort key that orders embedded numbers by value: name_2 before name_10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.stem)]
