"""Which measured load profile each household takes, and whether the data serve the run.

A household group with ``load.profile`` csv, daily_files or long_csv takes its profiles from a
file or folder (`LoadSpec` describes the layouts). `assign_measured_loads` decides, for every
household of the scenario, the source and the name of its profile, as the group's
``load.assign`` says; the builder writes the result into the household table, so every run
records it. `measured_load_problems` reads every source in full, as the ems will, and lays
the profiles on the run's steps: a file whose timestamps are missing, do not cover the run
or whose values are implausible for the unit is found before anything starts.

Rules (each broken rule is one problem naming the field, the value and what was expected):

- ``in_order`` deals a source's profiles out in its order to the households that take it in
  order, group after group, leaving out the profiles other groups name; there must be as many
  profiles as households, unless ``repeat``.
- ``household_id``, a list or a mapping name profiles that must exist in the source; a
  mapping names exactly the group's households.
- A profile serves one household, unless every group of the households sharing it sets
  ``repeat: true``.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tefed.contract.errors import InputError, shown
from tefed.contract.role_configs import LoadSourceConfig
from tefed.contract.time_grid import SECONDS_PER_DAY, TimeGrid
from tefed.io.profile_files import profile_names, read_profiles_on_steps
from tefed.scenario.household_spec import (
    MAX_DAILY_KWH,
    MEASURED_PROFILES,
    HouseholdGroup,
    LoadSpec,
    household_ids,
)


@dataclass(frozen=True)
class LoadAssignment:
    """The measured profile of every household, in the scenario's household order.

    Attributes
    ----------
    sources : list of LoadSourceConfig or None
        Where each household's profile is (paths relative to the ``base_dir`` it was made
        for); None for a generated profile.
    profile_names : list of str
        Name of each household's profile in its source (a column, a file name without
        extension, a household of a long table); empty for a generated profile.
    groups : list of int
        Position of each household's group in ``households``.
    """

    sources: list[LoadSourceConfig | None]
    profile_names: list[str]
    groups: list[int]


def load_source_config(load: LoadSpec, scenario_dir: Path, base_dir: Path) -> LoadSourceConfig:
    """The source of a group's measured profiles, its path made relative to ``base_dir``.

    Parameters
    ----------
    load : LoadSpec
        A group's ``load`` section with a measured profile.
    scenario_dir, base_dir : pathlib.Path
        Folder the scenario's path resolves against, and folder the result's path is
        relative to (the federates' working directory) [-].
    """
    path = os.path.relpath((scenario_dir / load.path).resolve(), base_dir)
    daily = load.profile == "daily_files"
    return LoadSourceConfig(
        profile=load.profile,
        path=path,
        unit=load.unit,
        timezone=load.timezone,
        time_column=load.time_column,
        files=load.files if daily else None,
        step_s=load.step_s if daily else None,
    )


def assign_profiles(
    ids: list[str],
    names: list[str],
    assign: str | list[str] | dict[str, str],
    repeat: bool,
    first: int = 0,
) -> list[str]:
    """Profile of each household of a group, as ``load.assign`` says.

    Parameters
    ----------
    ids : list of str
        The group's household ids, in order.
    names : list of str
        The profiles the group may take, in the source's order (for ``in_order``, those no
        group names).
    assign : str, list of str or dict of str to str
        ``"in_order"``, ``"household_id"``, a profile name per household, or household id →
        profile name.
    repeat : bool
        Whether ``in_order`` may start again from the first profile.
    first : int
        In order: position of the group's first household among the households that take
        this source in order [-].

    Returns
    -------
    list of str
        The profile name of each household.

    Raises
    ------
    ValueError
        If a profile does not exist, a mapping does not name exactly the group's households,
        or ``in_order`` runs out of profiles without ``repeat``; the message says what was
        expected.

    Examples
    --------
    >>> assign_profiles(["h01", "h02"], ["a", "b", "c"], "in_order", False, first=1)
    ['b', 'c']
    >>> assign_profiles(["h01", "h02", "h03"], ["a", "b"], "in_order", True)
    ['a', 'b', 'a']
    >>> assign_profiles(["h01", "h02"], ["h02", "h01"], "household_id", False)
    ['h01', 'h02']
    """
    if assign == "in_order":
        last = first + len(ids)
        if last > len(names) and not repeat:
            raise ValueError(
                f"in_order gives these {len(ids)} households profiles {first + 1} to {last} of "
                f"the {len(names)} the source offers ({shown(names)}); expected at least "
                f"{last} profiles, or repeat: true to reuse them"
            )
        return [names[position % len(names)] for position in range(first, last)]
    if assign == "household_id":
        chosen = list(ids)
    elif isinstance(assign, dict):
        unknown = [h for h in assign if h not in ids]
        missing = [h for h in ids if h not in assign]
        if unknown or missing:
            raise ValueError(
                f"got a mapping for {shown(list(assign))}; expected exactly the group's "
                f"households {shown(ids)} (not in the group: {shown(unknown)}, without a "
                f"profile: {shown(missing)})"
            )
        chosen = [assign[h] for h in ids]
    else:
        chosen = list(assign)
    known = set(names)
    absent = list(dict.fromkeys(name for name in chosen if name not in known))
    if absent:
        raise ValueError(
            f"no profile named {shown(absent)} in the source; expected names among "
            f"{shown(names)} ({len(names)} profiles)"
        )
    return chosen


def assign_measured_loads(
    groups: list[HouseholdGroup], scenario_dir: Path, base_dir: Path
) -> LoadAssignment:
    """The measured profile of every household of ``groups`` (see the module's rules).

    Reads only the profile names of each source (a header, a folder listing, a column).

    Parameters
    ----------
    groups : list of HouseholdGroup
        The scenario's household groups.
    scenario_dir : pathlib.Path
        Folder the groups' ``load.path`` resolve against [-].
    base_dir : pathlib.Path
        Folder the paths of the result are relative to [-].

    Returns
    -------
    LoadAssignment
        Source and profile name of every household.

    Raises
    ------
    InputError
        Listing every problem: a source that cannot be listed, a profile that does not exist,
        too few profiles, a profile shared without ``repeat``.
    """
    ids = household_ids(groups)
    first_of = np.cumsum([0] + [group.count for group in groups]).tolist()
    sources: list[LoadSourceConfig | None] = [None] * len(ids)
    chosen = [""] * len(ids)
    group_of = np.repeat(np.arange(len(groups)), [group.count for group in groups]).tolist()
    problems: list[str] = []
    names_of: dict[LoadSourceConfig, list[str] | None] = {}
    measured = [k for k, group in enumerate(groups) if group.load.profile in MEASURED_PROFILES]
    for position in measured:
        load = groups[position].load
        source = load_source_config(load, scenario_dir, base_dir)
        if source not in names_of:
            try:
                names_of[source] = profile_names(source, base_dir)
            except (OSError, ValueError) as error:
                names_of[source] = None
                problems.append(f"households[{position}].load.path: got {load.path!r}; {error}")
        members = slice(first_of[position], first_of[position + 1])
        sources[members] = [source] * groups[position].count
    # Named profiles first, so that in_order deals out the rest.
    in_order = [k for k in measured if groups[k].load.assign == "in_order"]
    named = [k for k in measured if k not in in_order]
    taken: dict[tuple[str, str], set[str]] = defaultdict(set)
    dealt: dict[tuple[str, str], int] = defaultdict(int)
    for position in named + in_order:
        group, members = groups[position], slice(first_of[position], first_of[position + 1])
        source = sources[first_of[position]]
        names = names_of[source]
        if names is None:
            continue
        if position in in_order:
            names = [name for name in names if name not in taken[_key(source)]]
        try:
            chosen[members] = assign_profiles(
                ids[members], names, group.load.assign, group.load.repeat, dealt[_key(source)]
            )
        except ValueError as error:
            problems.append(f"households[{position}].load.assign ({group.load.path}): {error}")
        if position in named:
            taken[_key(source)].update(chosen[members])
        else:
            dealt[_key(source)] += group.count
    problems += _shared_profiles(groups, ids, sources, chosen, group_of)
    if problems:
        raise InputError("households", problems)
    return LoadAssignment(sources, chosen, group_of)


def measured_load_problems(groups: list[HouseholdGroup], grid: TimeGrid, folder: Path) -> list[str]:
    """Problems with the measured load profiles of ``groups`` for a run on ``grid``.

    Every source is read in full and the profiles the households take are laid on the run's
    steps exactly as the ems does (`tefed.io.profile_files.read_profiles_on_steps`).

    Parameters
    ----------
    groups : list of HouseholdGroup
        The scenario's household groups.
    grid : TimeGrid
        The run's time grid.
    folder : pathlib.Path
        Folder of the scenario file (paths resolve against it) [-].

    Returns
    -------
    list of str
        Each problem, naming the field (``households[k].load…``), the value and what was
        expected: the assignment's problems, a file that cannot be read (timestamps missing
        or irregular, values missing or negative), profiles that do not cover the run, a
        profile whose mean day exceeds a household's largest daily energy (values in W read
        as kW), or a profile with no energy to scale.
    """
    try:
        assignment = assign_measured_loads(groups, folder, folder)
    except InputError as error:
        return error.problems
    step_times = grid.calendar(np.arange(grid.n_steps, dtype=np.int64) * grid.grid_step_s)
    days = grid.duration_s / SECONDS_PER_DAY
    problems = []
    users: dict[LoadSourceConfig, list[int]] = defaultdict(list)
    for household, source in enumerate(assignment.sources):
        if source is not None:
            users[source].append(household)
    for source, households in users.items():
        position = assignment.groups[households[0]]
        load = groups[position].load
        field = f"households[{position}].load"
        names = list(dict.fromkeys(assignment.profile_names[h] for h in households))
        try:
            power_kw = read_profiles_on_steps(source, names, folder, step_times, grid)
        except (OSError, ValueError) as error:
            problems.append(f"{field}.path ({load.path}): {error}")
            continue
        daily_kwh = power_kw.sum(axis=0) * grid.grid_step_s / 3600.0 / days
        for name, energy_kwh in zip(names, daily_kwh, strict=True):
            if energy_kwh > MAX_DAILY_KWH:
                problems.append(
                    f"{field}.unit: got {load.unit!r}; profile {name!r} of {load.path} then "
                    f"uses {energy_kwh:,.0f} kWh a day over the run; expected at most "
                    f"{MAX_DAILY_KWH:,.0f} kWh for a household (is the unit W or Wh?)"
                )
        if any(groups[assignment.groups[h]].load.scale_to_daily_energy for h in households):
            empty = [name for name, kwh in zip(names, daily_kwh, strict=True) if kwh <= 0]
            if empty:
                problems.append(
                    f"{field}.scale_to_daily_energy: profiles {shown(empty)} of {load.path} use "
                    "no energy over the run; expected some energy to scale"
                )
    return problems


def _shared_profiles(
    groups: list[HouseholdGroup],
    ids: list[str],
    sources: list[LoadSourceConfig | None],
    chosen: list[str],
    group_of: list[int],
) -> list[str]:
    """A problem for each profile that serves more than one household without ``repeat``."""
    users: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for household, (source, name) in enumerate(zip(sources, chosen, strict=True)):
        if source is not None and name:
            users[(*_key(source), name)].append(household)
    problems = []
    for (*_, name), households in users.items():
        strict = [h for h in households if not groups[group_of[h]].load.repeat]
        if len(households) > 1 and strict:
            position = group_of[strict[0]]
            problems.append(
                f"households[{position}].load.repeat: got false; profile {name!r} of "
                f"{groups[position].load.path} would serve households "
                f"{shown([ids[h] for h in households])}; expected each profile to serve one "
                "household (repeat: true in their groups lets them share it)"
            )
    return problems


def _key(source: LoadSourceConfig) -> tuple[str, str]:
    """What makes two groups read the same profiles: the layout and the file or folder."""
    return source.profile, source.path
