"""Measured household load profiles on the run's steps, as the household table assigns them.

The builder records each household's source (``load_source``: the file and how to read it) and
profile (``load_profile_name``); the ems reads every source once and lays the profiles on its
steps. The same computation, done before a run starts (`check_measured_loads`), stops a run
from a federation file whose data no longer fit before any federate starts.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from tefed.contract.errors import InputError, shown
from tefed.contract.role_configs import LoadSourceConfig
from tefed.contract.time_grid import SECONDS_PER_DAY, TimeGrid
from tefed.io.profile_files import read_profiles_on_steps


def check_measured_loads(table: pd.DataFrame, grid: TimeGrid, base_dir: Path) -> None:
    """Read every measured load profile of a household table and lay it on the run's steps.

    What the ems does at ``initialize``, done before a run starts, so that a bad data file
    stops the run before any federate does.

    Parameters
    ----------
    table : pandas.DataFrame
        A federation file's household table (``households_frame``).
    grid : TimeGrid
        Its time grid.
    base_dir : Path
        The federates' working directory, which the table's paths are relative to.

    Raises
    ------
    InputError
        For the first source that cannot be read or does not cover the run, naming the
        households, the file and the problem.
    """
    step_times = grid.calendar(np.arange(grid.n_steps, dtype=np.int64) * grid.grid_step_s)
    for _ in measured_loads_kw(table, step_times, grid, base_dir):
        pass  # computing each source's load is the check


def measured_loads_kw(
    rows: pd.DataFrame, step_times: pd.DatetimeIndex, grid: TimeGrid, base_dir: Path
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The load of the households with measured profiles, one source at a time.

    Parameters
    ----------
    rows : pandas.DataFrame
        Rows of the household table, indexed by household id.
    step_times : pandas.DatetimeIndex
        Start of each step: the run's, then any forecast steps past its end [-].
    grid : TimeGrid
        The run's time grid.
    base_dir : Path
        Folder that data paths of the table resolve against.

    Yields
    ------
    members : numpy.ndarray
        Positions in ``rows`` of the households that read one source.
    load_kw : numpy.ndarray
        Their load, ``(len(step_times), len(members))`` [kW]: the profile each takes
        (``load_profile_name``), resampled to the grid step keeping energy (past the end of the
        data the same time of an earlier day), and scaled to the household's daily energy
        where ``load_scale_to_daily_energy``.

    Raises
    ------
    InputError
        If a source cannot be read, lacks a profile or does not cover the run, naming the
        households, the file and the problem.
    """
    sources = rows["load_source"].to_numpy()
    for source_text in sorted({text for text in sources if text}):
        members = np.flatnonzero(sources == source_text)
        chosen = rows.iloc[members]
        try:
            source = LoadSourceConfig.model_validate_json(source_text)
        except ValueError as error:
            raise InputError("household table", [f"load_source: {error}"]) from None
        names = chosen["load_profile_name"].tolist()
        try:
            load_kw = read_profiles_on_steps(source, names, base_dir, step_times, grid)
        except (OSError, ValueError) as error:
            raise InputError(
                f"households {shown(chosen.index.tolist())}",
                [f"load_source ({source.path}): {error}"],
            ) from None
        scaled = chosen["load_scale_to_daily_energy"].to_numpy(bool)
        days = grid.duration_s / SECONDS_PER_DAY
        energy_kwh = load_kw[: grid.n_steps].sum(axis=0) * grid.grid_step_s / 3600.0
        wanted_kwh = chosen["load_daily_energy_kwh"].to_numpy(float) * days
        factor = np.divide(
            wanted_kwh, energy_kwh, out=np.zeros_like(energy_kwh), where=energy_kwh > 0
        )
        yield members, load_kw * np.where(scaled, factor, 1.0)
