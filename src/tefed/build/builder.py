"""Scenario → federation file.

The builder resolves everything a run needs into one explicit JSON file: the broker and every
federate entry with its ``exec`` line and HELICS block, the time grid, the household table (each
household's devices, strategy, bus and phase, with ranges drawn from the seed), each federate's
configuration, and where results go. Building is deterministic: the same scenario, output path
and working directory give the same text.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tefed.build.household_table import COMMUNITY_ID, resolve_households
from tefed.build.market_network import NETWORK_FILE_KEY, prepare_market_network
from tefed.contract.errors import InputError
from tefed.contract.federation_file import (
    BROKER_MODULE,
    FORMAT_VERSION,
    GLOBAL_TIME_OPTION,
    WATCHDOG_MODULE,
    FederationFile,
    broker_time_limit_flag,
)
from tefed.contract.role_configs import (
    FeederConfig,
    GeneratedFeederConfig,
    GridConfig,
    OpenDssFeederConfig,
    read_role_config,
)
from tefed.contract.role_interfaces import ROLE_INTERFACES, resolve_interfaces
from tefed.contract.shard_layout import HOUSEHOLD_INTERFACE, SHARD_INTERFACE
from tefed.contract.time_grid import DEFAULT_PHASE_OFFSETS_S
from tefed.io.feeders.household_placement import missing_phases
from tefed.io.opendss.feeder_loader import (
    attach_households,
    feeder_phases_by_bus,
    generate_feeder,
)
from tefed.scenario.grid_spec import OpenDssFeederSpec
from tefed.scenario.model import CsvWholesale, Scenario

#: ZeroMQ single-socket cores: one broker port per federation, and messages of any size (the
#: tcp_ss cores dropped messages above about 4 kB, such as the awards of a community battery).
CORE_TYPE = "zmq"
HELICS_LOG_LEVEL = "warning"
#: Phases of the bus a community battery connects to: all three.
THREE_PHASES = (1, 2, 3)


def build_federation(
    scenario: Scenario,
    scenario_dir: Path,
    out_path: Path,
    base_dir: Path,
    *,
    write_network: bool = True,
) -> FederationFile:
    """Resolve a scenario into a federation file.

    With a DLMP market the feeder's network is extracted here, once, and written beside the
    federation file (`tefed.build.market_network`); the market entry names it.

    Parameters
    ----------
    scenario : Scenario
        The validated scenario.
    scenario_dir : Path
        Folder of the scenario file; relative paths in the scenario resolve against it.
    out_path : Path
        Where the federation file will be written (its ``exec`` lines name it).
    base_dir : Path
        Working directory of the federates (normally the project root); paths inside the
        federation file are relative to it.
    write_network : bool
        Whether to write the market's network file (DLMP, communities, P2P with grid
        feasibility); a draft that is never written
        extracts the network (to report a feeder the market cannot use) but writes nothing.
    """
    out_path = Path(os.path.abspath(out_path))
    base_dir = Path(os.path.abspath(base_dir))
    directory = os.path.relpath(base_dir, out_path.parent)
    federation_arg = os.path.relpath(out_path, base_dir)
    seeds = np.random.SeedSequence(scenario.seed).spawn(2)
    households = resolve_households(
        scenario, np.random.default_rng(seeds[0]), scenario_dir, base_dir
    )
    feeder_seed = int(seeds[1].generate_state(1)[0] % 2**31)
    # The community battery sits at a busbar, not in a house of its own.
    houses = int((~households["serves_community"].astype(bool)).sum())
    feeder = _feeder_section(scenario, scenario_dir, base_dir, feeder_seed, houses)
    _attach_to_feeder(households, scenario, feeder, base_dir)

    household_ids = households["household_id"].tolist()
    market_config = scenario.market.model_dump()
    if scenario.market.needs_network_file:
        market_config[NETWORK_FILE_KEY] = prepare_market_network(
            feeder, out_path, base_dir, write=write_network
        )
    elif scenario.market.mechanism == "p2p_negotiation":
        market_config[NETWORK_FILE_KEY] = None
    external = {entry.household_id: entry.exec for entry in scenario.ems.external}
    unknown = [
        f"ems.external[{k}].household_id: got {h!r}; expected an id of the household table "
        f"({household_ids[0]} … {household_ids[-1]})"
        for k, h in enumerate(external)
        if h not in household_ids
    ]
    if unknown:
        raise InputError("ems.external", unknown)
    built_in = [i for i, h in enumerate(household_ids) if h not in external]
    shards = np.array_split(np.array(built_in, dtype=int), scenario.ems.shards)
    ems_names = ["ems"] if len(shards) == 1 else [f"ems_{i + 1}" for i in range(len(shards))]
    port = scenario.run.broker_port
    time = scenario.time

    def entry(name: str, role: str, config: dict[str, Any], program: str = "") -> dict:
        """A federate entry whose HELICS interfaces follow from its role and configuration."""
        typed = read_role_config(role, config, name)
        interfaces = resolve_interfaces(role, name, typed, ems_names, list(external))
        command = program or f"python -m tefed.federates.{role}"
        return {
            "name": name,
            "directory": directory,
            "exec": f"{command} {federation_arg} --name {name}",
            "helics": _helics_block(name, role, interfaces.helics_sections(), scenario, port),
            "tefed": {"role": role, "config": typed.model_dump(mode="json")},
        }

    published_kvar = scenario.grid.reactive_power == "published"
    federates = [entry("price_feed", "price_feed", _price_config(scenario, scenario_dir, base_dir))]
    ems_config = {
        "market_mechanism": scenario.market.mechanism,
        "day_ahead": (
            {
                "gate_closure_hour": scenario.market.gate_closure_hour,
                "period_s": scenario.market.period_s,
            }
            if scenario.market.mechanism == "day_ahead"
            else None
        ),
        "pv_model": _pv_model_config(scenario, scenario_dir, base_dir),
        "publish_reactive_power": published_kvar,
    }
    hosts = [
        (name, SHARD_INTERFACE, [household_ids[i] for i in members])
        for name, members in zip(ems_names, shards, strict=True)
    ] + [(f"household_{h}", HOUSEHOLD_INTERFACE, [h]) for h in external]
    for name, interface, hosted in hosts:
        config = {"households": hosted, "interface": interface, **ems_config}
        program = external[hosted[0]] if interface == HOUSEHOLD_INTERFACE else ""
        federates.append(entry(name, "ems", config, program))
    grid_config = {
        "feeder": feeder.model_dump(mode="json"),
        **scenario.grid.model_dump(include=set(GridConfig.model_fields) - {"feeder"}),
    }
    federates.append(entry("grid", "grid", grid_config))
    federates.append(entry("market", "market", market_config))
    # helics run starts the entries in this order; the watchdog must come first (see
    # tefed.run.helics_watchdog), and the broker claims the port before any federate joins.
    watchdog = {
        "name": "watchdog",
        "directory": directory,
        "exec": f"python -m {WATCHDOG_MODULE} {federation_arg}",
    }
    broker = {
        "name": "broker",
        "directory": directory,
        "exec": (
            f"python -m {BROKER_MODULE} {federation_arg} --federates={len(federates)} "
            f"--coretype={CORE_TYPE} --port={port} --loglevel={HELICS_LOG_LEVEL} "
            "--terminate_on_error "
            + broker_time_limit_flag(scenario.run.wall_clock_limit_s)
            + (f" {GLOBAL_TIME_OPTION}" if scenario.run.time_coordination == "global" else "")
        ),
    }
    data = {
        "name": scenario.name,
        "broker": False,
        "federates": [watchdog, broker, *federates],
        "tefed": {
            "format_version": FORMAT_VERSION,
            "scenario": scenario.name,
            "seed": scenario.seed,
            "time": {
                **time.model_dump(),
                "phase_offsets_s": dict(DEFAULT_PHASE_OFFSETS_S),
                # Written only in real-time mode: other files keep the shape they had.
                **(
                    {"helics_time_scale": _helics_time_scale(scenario)}
                    if scenario.run.realtime
                    else {}
                ),
            },
            "site": scenario.site.model_dump(),
            "households": {column: households[column].tolist() for column in households.columns},
            "results": {"root": _results_root(scenario, scenario_dir, base_dir)},
            "runtime": {
                "stall_timeout_s": scenario.run.stall_timeout_s,
                "startup_timeout_s": scenario.run.startup_timeout_s,
                "wall_clock_limit_s": scenario.run.wall_clock_limit_s,
                "progress_every_s": scenario.run.progress_every_s,
                "flush_min_wall_s": scenario.run.flush_min_wall_s,
            },
        },
    }
    return FederationFile.model_validate(data)


def _feeder_section(
    scenario: Scenario, scenario_dir: Path, base_dir: Path, seed: int, n_households: int
) -> FeederConfig:
    """The grid configuration's ``feeder`` section (see `tefed.io.opendss.feeder_loader`)."""
    spec = scenario.grid.feeder
    if isinstance(spec, OpenDssFeederSpec):
        master = (scenario_dir / spec.dss).resolve()
        return OpenDssFeederConfig(
            source="opendss",
            master=os.path.relpath(master, base_dir),
            commands=list(spec.commands),
            regulators=spec.regulators,
            existing_loads=spec.existing_loads,
            existing_load_scale=spec.existing_load_scale,
        )
    design = spec.model_dump(mode="json", exclude={"generator"})
    design["n_households"] = n_households
    return GeneratedFeederConfig(
        source="generated", generator=spec.generator, seed=seed, design=design
    )


def _attach_to_feeder(
    households: pd.DataFrame, scenario: Scenario, feeder: FeederConfig, base_dir: Path
) -> None:
    """Add each household's ``bus``, ``phase`` and ``connection`` to the table."""
    spec = scenario.grid.feeder
    explicit = isinstance(spec, OpenDssFeederSpec)
    houses = ~households["serves_community"].astype(bool).to_numpy()
    try:
        placed = attach_households(
            feeder,
            int(houses.sum()),
            spec.placement if explicit else "generated",
            list(spec.household_nodes) if explicit else [],
            base_dir,
        )
    except ValueError as error:
        raise InputError("grid.feeder", [str(error)]) from None
    for column in ("bus", "phase", "connection"):
        households[column] = None
        households.loc[houses, column] = placed[column].to_numpy()
    community = scenario.community_battery
    if community is not None:
        # The community battery connects three-phase at a transformer's LV busbar.
        bus = community.bus
        if bus is None and isinstance(feeder, GeneratedFeederConfig):
            bus = str(generate_feeder(feeder).transformers["lv_bus"].iloc[0])
        if bus is None:
            raise InputError(
                "community_battery.bus",
                ["missing; with an OpenDSS feeder name the three-phase bus it connects to"],
            )
        if community.bus is not None:
            _check_community_bus(community.bus, feeder, base_dir)
        row = households.index[households["household_id"] == COMMUNITY_ID]
        households.loc[row, ["bus", "phase", "connection"]] = [bus, 1, "three_phase"]
    households["phase"] = households["phase"].astype(int)


def _check_community_bus(bus: str, feeder: FeederConfig, base_dir: Path) -> None:
    """Refuse a community battery bus the feeder lacks, or one without all three phases, as
    the grid federate would when the run starts (the bus named as the scenario writes it)."""
    try:
        problem = missing_phases(bus, THREE_PHASES, feeder_phases_by_bus(feeder, base_dir))
    except ValueError as error:
        raise InputError("grid.feeder", [str(error)]) from None
    if problem is not None:
        raise InputError(
            "community_battery.bus",
            [f"{bus!r} {problem}; expected a bus of the feeder with phases A, B and C"],
        )


# --- federate configuration ---------------------------------------------------------------------


def _price_config(scenario: Scenario, scenario_dir: Path, base_dir: Path) -> dict[str, Any]:
    prices = scenario.prices
    wholesale = prices.wholesale.model_dump()
    if isinstance(prices.wholesale, CsvWholesale):
        absolute = (scenario_dir / prices.wholesale.path).resolve()
        wholesale["path"] = os.path.relpath(absolute, base_dir)
    return {
        "wholesale": wholesale,
        "import_tariff": prices.import_tariff.model_dump(),
        "export_price_usd_per_kwh": prices.export_price_usd_per_kwh,
        "export_tariff": None
        if prices.export_tariff is None
        else prices.export_tariff.model_dump(),
        "forecast_horizon_intervals": prices.forecast_horizon_intervals,
    }


def _results_root(scenario: Scenario, scenario_dir: Path, base_dir: Path) -> str:
    """``results_root/name``: the scenario's results root resolves against its folder, and the
    federation file names it relative to the federates' working directory."""
    absolute = Path(os.path.abspath(scenario_dir / scenario.run.results_root / scenario.name))
    return os.path.relpath(absolute, base_dir)


def _pv_model_config(scenario: Scenario, scenario_dir: Path, base_dir: Path) -> dict[str, Any]:
    model = scenario.pv_model.model_dump()
    if model["weather_file"] is not None:
        absolute = (scenario_dir / model["weather_file"]).resolve()
        model["weather_file"] = os.path.relpath(absolute, base_dir)
    return model


def _helics_block(
    name: str, role: str, interfaces: dict[str, Any], scenario: Scenario, port: int
) -> dict[str, Any]:
    block = {
        "name": name,
        "core_type": CORE_TYPE,
        # A string, not a JSON number: with pandas (pyarrow) loaded before HELICS in the same
        # process, HELICS 3.6 reads an integer brokerport as empty and refuses it.
        "brokerport": str(port),
        "period": ROLE_INTERFACES[role].period_s(
            scenario.time.grid_step_s, scenario.time.market_interval_s
        ),
        "offset": DEFAULT_PHASE_OFFSETS_S[role],
        "uninterruptible": True,
        "terminate_on_error": True,
        "log_level": HELICS_LOG_LEVEL,
        **interfaces,
    }
    if scenario.run.realtime:
        # HELICS grants no time before the wall clock reaches it (less rt_lead). A federate
        # that falls behind is waited for, never forced on (rt_lag: the run's whole limit),
        # so results are those of a run without pacing; its lag is measured and reported.
        scale = _helics_time_scale(scenario)
        block["period"] *= scale
        block["offset"] *= scale
        block["realtime"] = True
        block["rt_lead"] = scenario.run.realtime_lead_s
        block["rt_lag"] = scenario.run.wall_clock_limit_s
    return block


def _helics_time_scale(scenario: Scenario) -> float:
    """HELICS seconds per simulated second: about ``1 / realtime_speed`` in real-time mode,
    else 1.

    HELICS counts time in whole nanoseconds and grants a federate only ``offset + k × period``.
    A scaled period between two nanoseconds (a 60 s step at 1,800×: 33,333,333.3 ns) made it
    grant a step late, so the scale is rounded to a whole number of nanoseconds per simulated
    second: every whole-second period is then whole nanoseconds (the speed changes by at most
    2 in a million; the summary reports the speed used).
    """
    if not scenario.run.realtime:
        return 1.0
    return round(1e9 / scenario.run.realtime_speed) * 1e-9
