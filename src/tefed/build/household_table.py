"""The household table of a federation file: one row per household, every parameter explicit.

Values given as ``[low, high]`` in the scenario are drawn uniformly per household, group by
group in scenario order and field by field in a fixed order, so adding a group never changes
earlier households. Optional devices draw only when present, so adding an EV to one group leaves
the other groups' draws alone. A group's ``strategy_mix`` gives counts by largest remainder, and
which household takes which strategy is shuffled by a generator spawned for mixes alone, so a mix
changes no other draw. Households are named as `household_ids` says. A household with a
measured load profile records its source (``load_source``, the file and how to read it) and
the profile it takes (``load_profile_name``), as `assign_measured_loads` decides them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from tefed.scenario.household_spec import (
    COMMUNITY_ID,
    DRAWN_DECIMALS,
    DRAWN_HOUR_DECIMALS,
    BatterySpec,
    HouseholdGroup,
    household_ids,
)
from tefed.scenario.measured_loads import assign_measured_loads
from tefed.scenario.model import Scenario
from tefed.scenario.strategy_spec import STRATEGY_TYPES


def resolve_households(
    scenario: Scenario, rng: np.random.Generator, scenario_dir: Path, base_dir: Path
) -> pd.DataFrame:
    """The household table, with the community battery (if any) as the last row.

    Parameters
    ----------
    scenario : Scenario
        The validated scenario.
    rng : numpy.random.Generator
        Draws of ranges, from the scenario seed (strategy mixes draw from a generator spawned
        from it).
    scenario_dir, base_dir : Path
        Folder of the scenario (data paths resolve against it) and working directory of the
        federates (paths in the table are relative to it).

    Raises
    ------
    InputError
        If the measured load profiles cannot be assigned (`assign_measured_loads`).
    """
    loads = assign_measured_loads(scenario.households, scenario_dir, base_dir)
    mixes = rng.spawn(1)[0]
    frames = [_group_table(group, rng, mixes) for group in scenario.households]
    table = pd.concat(frames, ignore_index=True)
    table.insert(0, "household_id", household_ids(scenario.households))
    # Where each measured profile comes from, recorded beside the household's other devices.
    position = table.columns.get_loc("load_profile") + 1
    sources = ["" if source is None else source.model_dump_json() for source in loads.sources]
    table.insert(position, "load_source", sources)
    table.insert(position + 1, "load_profile_name", loads.profile_names)
    table["profile_seed"] = rng.integers(0, 2**31 - 1, size=len(table))
    table["serves_community"] = False
    community = scenario.community_battery
    if community is not None:
        row = _community_row(community.battery, community.strategy.model_dump(exclude={"name"}))
        row["profile_seed"] = int(rng.integers(0, 2**31 - 1))
        table = pd.concat([table, pd.DataFrame([row])], ignore_index=True)
    table["power_factor"] = table["power_factor"].fillna(scenario.grid.household_power_factor)
    return table


def _group_table(
    group: HouseholdGroup, rng: np.random.Generator, mixes: np.random.Generator
) -> pd.DataFrame:
    count = group.count

    def draw(value: float | list[float], decimals: int = DRAWN_DECIMALS) -> np.ndarray:
        if isinstance(value, list):
            return np.round(rng.uniform(value[0], value[1], size=count), decimals)
        return np.full(count, float(value))

    pv = group.pv
    kwp = draw(pv.kwp) if pv else np.zeros(count)
    columns = {
        "group": group.group,
        **_strategy_columns(group, mixes),
        "load_daily_energy_kwh": draw(group.load_daily_energy_kwh),
        "load_profile": group.load.profile,
        "load_scale_to_daily_energy": group.load.scale_to_daily_energy,
        "load_min_kw": np.full(count, group.load.range_kw[0] if group.load.range_kw else np.nan),
        "load_max_kw": np.full(count, group.load.range_kw[1] if group.load.range_kw else np.nan),
        "pv_kwp": kwp,
        "pv_tilt_deg": draw(pv.tilt_deg, 1) if pv else np.zeros(count),
        "pv_azimuth_deg": draw(pv.azimuth_deg, 1) if pv else np.full(count, 180.0),
        "pv_inverter_kw": np.round(kwp * (pv.inverter_ratio if pv else 0.0), 3),
        "pv_peak_kw": np.full(count, pv.peak_kw if pv and pv.peak_kw else np.nan),
        **_battery_columns(group.battery, count, draw),
        "bid_price_fraction": draw(group.bid_price_fraction),
        "ask_price_fraction": draw(group.ask_price_fraction),
        "power_factor": np.full(count, group.power_factor or np.nan),
        **_ev_columns(group, rng, draw),
    }
    return pd.DataFrame(columns)


def _strategy_columns(group: HouseholdGroup, rng: np.random.Generator) -> dict[str, object]:
    """Each household's strategy and options: the group's, or drawn from its mix."""
    if group.strategy_mix is None:
        options = group.strategy.model_dump(exclude={"name"})
        return {
            "strategy": group.strategy.name,
            "strategy_options": json.dumps(options, sort_keys=True),
        }
    counts = strategy_mix_counts(group.strategy_mix, group.count)
    names = np.array(list(counts))
    options = np.array(
        [
            json.dumps(STRATEGY_TYPES[name]().model_dump(exclude={"name"}), sort_keys=True)
            for name in names
        ]
    )
    which = rng.permutation(np.repeat(np.arange(names.size), list(counts.values())))
    return {"strategy": names[which], "strategy_options": options[which]}


def strategy_mix_counts(shares: dict[str, float], count: int) -> dict[str, int]:
    """How many of ``count`` households take each strategy of a mix (largest remainder).

    Parameters
    ----------
    shares : dict of str to float
        Share of each strategy, summing to 1 [-].
    count : int
        Households in the group.

    Returns
    -------
    dict of str to int
        Households per strategy, in the order of ``shares``; they sum to ``count``.

    Notes
    -----
    Each strategy first gets the whole part of its quota ``share · count``; the households
    left over go one each to the largest fractional parts, earlier strategies first on a tie
    (the largest remainder or Hamilton method).

    Examples
    --------
    Four households at 60 / 40: quotas 2.4 and 1.6, whole parts 2 and 1, and the one left over
    goes to the larger remainder (0.6):

    >>> strategy_mix_counts({"self_consumption": 0.6, "ma_crossover": 0.4}, 4)
    {'self_consumption': 2, 'ma_crossover': 2}
    """
    quotas = np.round(np.array(list(shares.values()), dtype=float) * count, 9)
    counts = np.floor(quotas).astype(int)
    left = count - int(counts.sum())
    counts[np.argsort(-(quotas - counts), kind="stable")[:left]] += 1
    return dict(zip(shares, counts.tolist(), strict=True))


def _battery_columns(battery: BatterySpec | None, count: int, draw) -> dict[str, np.ndarray]:
    def constant(name: str, default: float | bool) -> np.ndarray:
        return np.full(count, getattr(battery, name) if battery else default)

    return {
        "battery_capacity_kwh": draw(battery.capacity_kwh) if battery else np.zeros(count),
        "battery_power_kw": draw(battery.power_kw) if battery else np.zeros(count),
        "battery_round_trip_efficiency": constant("round_trip_efficiency", 1.0),
        "battery_soc_min": constant("soc_min", 0.0),
        "battery_soc_max": constant("soc_max", 1.0),
        "battery_soc_initial": constant("soc_initial", 0.0),
        "battery_self_discharge_per_h": constant("self_discharge_per_h", 0.0),
        "battery_covers_shortfall": constant("covers_shortfall", False),
    }


def _ev_columns(group: HouseholdGroup, rng: np.random.Generator, draw) -> dict[str, np.ndarray]:
    count, ev = group.count, group.ev
    if ev is None:
        zeros = np.zeros(count)
        return {
            "ev_capacity_kwh": zeros,
            "ev_charger_kw": zeros,
            "ev_efficiency": np.ones(count),
            "ev_arrival_hour": zeros,
            "ev_departure_hour": zeros,
            "ev_energy_needed_kwh": zeros,
            "ev_charging": "none",
        }
    has_ev = rng.uniform(size=count) < ev.share
    columns = {
        "ev_capacity_kwh": draw(ev.capacity_kwh),
        "ev_charger_kw": draw(ev.charger_kw),
        "ev_efficiency": np.full(count, ev.efficiency),
        "ev_arrival_hour": draw(ev.arrival_hour, DRAWN_HOUR_DECIMALS),
        "ev_departure_hour": draw(ev.departure_hour, DRAWN_HOUR_DECIMALS),
        "ev_energy_needed_kwh": draw(ev.energy_needed_kwh),
    }
    for name in ("ev_capacity_kwh", "ev_charger_kw", "ev_energy_needed_kwh"):
        columns[name] = np.where(has_ev, columns[name], 0.0)
    columns["ev_charging"] = np.where(has_ev, ev.charging, "none")
    return columns


def _community_row(battery: BatterySpec, strategy_options: dict) -> dict:
    """The community battery's agent: no load or PV, the shared battery, the optimizing LP."""
    return {
        "household_id": COMMUNITY_ID,
        "group": "community",
        "strategy": "optimizing",
        "strategy_options": json.dumps(strategy_options, sort_keys=True),
        "load_daily_energy_kwh": 0.0,
        "load_profile": "synthetic",
        "load_source": "",
        "load_profile_name": "",
        "load_scale_to_daily_energy": False,
        "load_min_kw": np.nan,
        "load_max_kw": np.nan,
        "pv_kwp": 0.0,
        "pv_tilt_deg": 0.0,
        "pv_azimuth_deg": 180.0,
        "pv_inverter_kw": 0.0,
        "pv_peak_kw": np.nan,
        "battery_capacity_kwh": float(battery.capacity_kwh),
        "battery_power_kw": float(battery.power_kw),
        "battery_round_trip_efficiency": battery.round_trip_efficiency,
        "battery_soc_min": battery.soc_min,
        "battery_soc_max": battery.soc_max,
        "battery_soc_initial": battery.soc_initial,
        "battery_self_discharge_per_h": battery.self_discharge_per_h,
        "battery_covers_shortfall": False,
        "bid_price_fraction": 1.0,
        "ask_price_fraction": 0.0,
        "power_factor": 1.0,
        "ev_capacity_kwh": 0.0,
        "ev_charger_kw": 0.0,
        "ev_efficiency": 1.0,
        "ev_arrival_hour": 0.0,
        "ev_departure_hour": 0.0,
        "ev_energy_needed_kwh": 0.0,
        "ev_charging": "none",
        "serves_community": True,
    }
