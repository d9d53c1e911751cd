"""What each federate role publishes, subscribes to and exchanges messages on, declared once.

A `RoleInterfaces` lists a role's publications, subscriptions and endpoints, each with its key
(or key pattern), HELICS type and unit, and the period the role steps at; each publication also
says when it is due (its `Cadence`). The builder writes
each entry's ``helics`` block from these declarations (`helics_sections`), and
``tefed check-federate`` expects of a candidate exactly what they say (`federate_interfaces`).

A key pattern holds ``{shard}`` (one key per built-in ems shard) or ``{household_id}`` (one key
per household run by its own program). For an ems shard or a household program the pattern
names the federate itself; for the grid, it stands for every shard or household program of the
federation. An interface ``only_with_reactive_power`` exists only when the households publish
their reactive power (the role's configuration says so).

Endpoints are *targeted* (HELICS's term): each names the endpoints it sends to, its role's
``message_peers`` (the market every shard and household program, each of these the market).
HELICS then coordinates the time of messages between exactly those federates. An endpoint that
names none makes the broker a party to the time coordination of its federate, and at the end of
a run the broker answered a federate that had just left, logging "unknown route and no broker,
dropping message time_grant" in about every other run.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from tefed.contract import keys
from tefed.contract.federation_file import FederationFile
from tefed.contract.role_configs import EmsConfig, GridConfig, RoleConfig, read_role_config
from tefed.contract.shard_layout import ShardLayout
from tefed.contract.time_grid import TimeGrid

#: Placeholders of key patterns.
SHARD = "{shard}"
HOUSEHOLD = "{household_id}"

#: When a publication is due (docs/interfaces.md, column "when"): ``grid_step`` at every grid
#: step; ``interval_start`` at the start of every market interval; ``interval_end`` at the last
#: grid step of every interval; ``gate_closure`` at the gate closure of every interval the market
#: clears (1 … K−1; interval 0 has no market); ``with_trades`` at gate closures with trades only,
#: which is no fixed cadence.
Cadence = Literal["grid_step", "interval_start", "interval_end", "gate_closure", "with_trades"]


def due_times_s(cadence: Cadence, grid: TimeGrid) -> np.ndarray | None:
    """Grid instants [s] at which a publication of ``cadence`` is due on ``grid``; None for
    ``with_trades``, which has no fixed instants.

    Examples
    --------
    One hour, 15-minute intervals, gate closure one minute ahead:

    >>> from datetime import datetime, timezone
    >>> grid = TimeGrid(datetime(2022, 6, 21, tzinfo=timezone.utc), 3600, 60, 900, 60)
    >>> due_times_s("gate_closure", grid).tolist()
    [840, 1740, 2640]
    >>> due_times_s("interval_start", grid).tolist()
    [0, 900, 1800, 2700]
    >>> due_times_s("interval_end", grid).tolist()
    [840, 1740, 2640, 3540]
    """
    intervals = np.arange(grid.n_intervals, dtype=np.int64)
    if cadence == "grid_step":
        return grid.step_times_s()
    if cadence == "interval_start":
        return np.asarray(grid.interval_start_s(intervals))
    if cadence == "interval_end":
        return np.asarray(grid.interval_start_s(intervals + 1)) - grid.grid_step_s
    if cadence == "gate_closure":
        return np.array([grid.gate_closure_time_s(k) for k in intervals[1:]], dtype=np.int64)
    return None


@dataclass(frozen=True)
class InterfaceDeclaration:
    """A publication, subscription or endpoint of a role.

    Parameters
    ----------
    key : str
        Global key or endpoint name, or a pattern with ``{shard}`` or ``{household_id}``.
    helics_type : str
        HELICS value type (``double``, ``vector``); empty for an endpoint.
    unit : str
        Unit of the value (``kW``, ``USD/kWh``); empty for an endpoint.
    only_with_reactive_power : bool
        The interface exists only when households publish their reactive power.
    due : Cadence
        When a publication is due (subscriptions and endpoints: unused).
    """

    key: str
    helics_type: str = ""
    unit: str = ""
    only_with_reactive_power: bool = False
    due: Cadence = "grid_step"

    def matches(self, key: str) -> bool:
        """Whether ``key`` is this declaration's key or an instance of its pattern.

        >>> InterfaceDeclaration("ems/{shard}/power_kw").matches("ems/ems_2/power_kw")
        True
        """
        pattern = re.escape(self.key)
        for placeholder in (SHARD, HOUSEHOLD):
            pattern = pattern.replace(re.escape(placeholder), "[^/]+")
        return re.fullmatch(pattern, key) is not None

    def keys_for(self, shards: Sequence[str], household_programs: Sequence[str]) -> list[str]:
        """The keys of this declaration among the given shards and household programs.

        Examples
        --------
        >>> InterfaceDeclaration("ems/{shard}/power_kw", "vector", "kW").keys_for(["ems_1",
        ...     "ems_2"], ["h07"])
        ['ems/ems_1/power_kw', 'ems/ems_2/power_kw']
        """
        if SHARD in self.key:
            return [self.key.replace(SHARD, shard) for shard in shards]
        if HOUSEHOLD in self.key:
            return [self.key.replace(HOUSEHOLD, household) for household in household_programs]
        return [self.key]


@dataclass(frozen=True)
class Interface:
    """One publication or subscription of one federate: key, HELICS type and unit."""

    key: str
    helics_type: str
    unit: str


@dataclass(frozen=True)
class FederateInterfaces:
    """The interfaces of one federate, in the order of its ``helics`` block."""

    publications: tuple[Interface, ...]
    subscriptions: tuple[Interface, ...]
    endpoints: tuple[str, ...]
    #: Endpoints this federate's endpoints send messages to.
    message_peers: tuple[str, ...] = ()

    def helics_sections(self) -> dict[str, list[dict[str, Any]]]:
        """The ``publications``, ``subscriptions`` and ``endpoints`` of a HELICS configuration
        (every publication and endpoint global, every subscription required, endpoints targeted
        at their message peers; empty sections left out)."""
        targets = (
            {"targeted": True, "destination_targets": list(self.message_peers)}
            if self.message_peers
            else {}
        )
        sections = {
            "publications": [
                {"key": item.key, "type": item.helics_type, "unit": item.unit, "global": True}
                for item in self.publications
            ],
            "subscriptions": [
                {"key": item.key, "type": item.helics_type, "unit": item.unit, "required": True}
                for item in self.subscriptions
            ],
            "endpoints": [{"name": name, "global": True, **targets} for name in self.endpoints],
        }
        return {section: items for section, items in sections.items() if items}


@dataclass(frozen=True)
class RoleInterfaces:
    """What a role declares.

    Parameters
    ----------
    publications, subscriptions, endpoints : tuple of InterfaceDeclaration
        The role's interfaces, in the order of its ``helics`` block.
    period : {"grid_step", "market_interval"}
        The time grid step the role's HELICS ``period`` is.
    message_peers : tuple of InterfaceDeclaration
        The endpoints the role's endpoints send messages to.
    """

    publications: tuple[InterfaceDeclaration, ...]
    subscriptions: tuple[InterfaceDeclaration, ...] = ()
    endpoints: tuple[InterfaceDeclaration, ...] = ()
    period: Literal["grid_step", "market_interval"] = "grid_step"
    message_peers: tuple[InterfaceDeclaration, ...] = ()

    def publication_due(self, key: str) -> Cadence | None:
        """When the role's publication ``key`` is due; None if the role does not publish it."""
        for declaration in self.publications:
            if declaration.matches(key):
                return declaration.due
        return None

    def period_s(self, grid_step_s: int, market_interval_s: int) -> int:
        """The role's HELICS ``period`` [s] on a time grid of these steps [s]."""
        return market_interval_s if self.period == "market_interval" else grid_step_s

    def resolve(
        self,
        shards: Sequence[str],
        household_programs: Sequence[str],
        reactive_power_published: bool,
    ) -> FederateInterfaces:
        """The interfaces of one federate of this role.

        Parameters
        ----------
        shards : sequence of str
            Names that ``{shard}`` stands for: the federate itself (an ems shard) or every
            built-in shard of the federation (the grid).
        household_programs : sequence of str
            Household ids that ``{household_id}`` stands for, likewise.
        reactive_power_published : bool
            Whether the interfaces ``only_with_reactive_power`` exist.
        """

        def expand(
            declarations: tuple[InterfaceDeclaration, ...],
        ) -> list[tuple[str, InterfaceDeclaration]]:
            return [
                (key, declaration)
                for declaration in declarations
                if reactive_power_published or not declaration.only_with_reactive_power
                for key in declaration.keys_for(shards, household_programs)
            ]

        def values(declarations: tuple[InterfaceDeclaration, ...]) -> tuple[Interface, ...]:
            return tuple(
                Interface(key, item.helics_type, item.unit) for key, item in expand(declarations)
            )

        return FederateInterfaces(
            publications=values(self.publications),
            subscriptions=values(self.subscriptions),
            endpoints=tuple(key for key, _ in expand(self.endpoints)),
            message_peers=tuple(key for key, _ in expand(self.message_peers)),
        )


def _prices(
    helics_type: str, *price_keys: str, due: Cadence = "grid_step"
) -> tuple[InterfaceDeclaration, ...]:
    return tuple(InterfaceDeclaration(key, helics_type, "USD/kWh", due=due) for key in price_keys)


_FORECAST_KEYS = (keys.IMPORT_PRICE_FORECAST, keys.EXPORT_PRICE_FORECAST)
_FORECASTS = _prices("vector", *_FORECAST_KEYS)

#: Every role's interfaces: ``ems`` is a built-in shard, ``household`` a household's own program.
ROLE_INTERFACES: dict[str, RoleInterfaces] = {
    "price_feed": RoleInterfaces(
        publications=(
            *_prices(
                "double",
                keys.IMPORT_PRICE,
                keys.EXPORT_PRICE,
                keys.WHOLESALE_PRICE,
                due="interval_start",
            ),
            *_prices(
                "vector", *_FORECAST_KEYS, keys.WHOLESALE_PRICE_FORECAST, due="interval_start"
            ),
        ),
        period="market_interval",
    ),
    "ems": RoleInterfaces(
        publications=(
            InterfaceDeclaration(keys.shard_power(SHARD), "vector", "kW"),
            InterfaceDeclaration(keys.shard_reactive_power(SHARD), "vector", "kvar", True),
        ),
        subscriptions=_FORECASTS,
        endpoints=(InterfaceDeclaration(keys.shard_endpoint(SHARD)),),
        message_peers=(InterfaceDeclaration(keys.MARKET_ENDPOINT),),
    ),
    "household": RoleInterfaces(
        publications=(
            InterfaceDeclaration(keys.household_power(HOUSEHOLD), "double", "kW"),
            InterfaceDeclaration(keys.household_reactive_power(HOUSEHOLD), "double", "kvar", True),
        ),
        subscriptions=_FORECASTS,
        endpoints=(InterfaceDeclaration(keys.household_endpoint(HOUSEHOLD)),),
        message_peers=(InterfaceDeclaration(keys.MARKET_ENDPOINT),),
    ),
    "grid": RoleInterfaces(
        publications=(
            InterfaceDeclaration(keys.HOUSEHOLD_VOLTAGES, "vector", "pu"),
            InterfaceDeclaration(keys.HOUSEHOLD_ENERGY, "vector", "Wh", due="interval_end"),
            InterfaceDeclaration(keys.household_voltage(HOUSEHOLD), "double", "pu"),
            InterfaceDeclaration(keys.SUBSTATION_POWER, "double", "kW"),
            InterfaceDeclaration(keys.SUBSTATION_REACTIVE_POWER, "double", "kvar"),
            InterfaceDeclaration(keys.LOSSES, "double", "kW"),
            InterfaceDeclaration(keys.VOLTAGE_MIN, "double", "pu"),
            InterfaceDeclaration(keys.VOLTAGE_MAX, "double", "pu"),
        ),
        subscriptions=(
            InterfaceDeclaration(keys.shard_power(SHARD), "vector", "kW"),
            InterfaceDeclaration(keys.household_power(HOUSEHOLD), "double", "kW"),
            InterfaceDeclaration(keys.shard_reactive_power(SHARD), "vector", "kvar", True),
            InterfaceDeclaration(keys.household_reactive_power(HOUSEHOLD), "double", "kvar", True),
        ),
    ),
    "market": RoleInterfaces(
        publications=(
            InterfaceDeclaration(keys.TRADED_ENERGY, "double", "Wh", due="gate_closure"),
            InterfaceDeclaration(keys.MEAN_TRADE_PRICE, "double", "USD/kWh", due="with_trades"),
        ),
        subscriptions=(
            InterfaceDeclaration(keys.HOUSEHOLD_ENERGY, "vector", "Wh"),
            *_FORECASTS,
            *_prices("vector", keys.WHOLESALE_PRICE_FORECAST),
        ),
        endpoints=(InterfaceDeclaration(keys.MARKET_ENDPOINT),),
        message_peers=(
            InterfaceDeclaration(keys.shard_endpoint(SHARD)),
            InterfaceDeclaration(keys.household_endpoint(HOUSEHOLD)),
        ),
    ),
}


def interface_role(role: str, config: RoleConfig) -> str:
    """The key of `ROLE_INTERFACES` of an entry: its role, or ``household`` for an ems entry
    that runs one household's own program."""
    if isinstance(config, EmsConfig) and config.interface == "household":
        return "household"
    return role


def resolve_interfaces(
    role: str,
    name: str,
    config: RoleConfig,
    shards: Sequence[str],
    household_programs: Sequence[str],
) -> FederateInterfaces:
    """The interfaces of one federate, from its role's declarations and its configuration.

    Parameters
    ----------
    role : str
        The entry's ``tefed.role``.
    name : str
        The federate's name.
    config : RoleConfig
        Its validated configuration.
    shards : sequence of str
        Names of the federation's built-in ems shards.
    household_programs : sequence of str
        Households of the federation run by their own programs.

    Examples
    --------
    >>> from tefed.contract.role_configs import PvModelConfig
    >>> pv = PvModelConfig(irradiance="clear_sky", weather_file=None, system_losses=0.14,
    ...     temperature_coefficient_per_c=-0.0037, air_temperature_c=20, wind_speed_m_per_s=1)
    >>> config = EmsConfig(households=["h03"], interface="household", pv_model=pv,
    ...     market_mechanism="double_auction", day_ahead=None, publish_reactive_power=False)
    >>> resolve_interfaces("ems", "household_h03", config, ["ems"], ["h03"]).endpoints
    ('household/h03',)
    """
    if isinstance(config, EmsConfig):
        # An ems entry's key patterns name the entry itself.
        is_shard = config.interface == "shard"
        shards = [name] if is_shard else []
        household_programs = [] if is_shard else config.households
    published = isinstance(config, EmsConfig | GridConfig) and config.reactive_power_published
    return ROLE_INTERFACES[interface_role(role, config)].resolve(
        shards, household_programs, published
    )


def federate_interfaces(federation: FederationFile, name: str) -> FederateInterfaces:
    """What federate ``name`` of ``federation`` publishes, subscribes to and receives on.

    Parameters
    ----------
    federation : FederationFile
        The federation.
    name : str
        A tefed federate's entry (one with a ``tefed`` section).

    Raises
    ------
    InputError
        When the entry's configuration is invalid.
    ValueError
        When the entry has no ``tefed`` section, or the ems entries do not host every household
        exactly once.
    """
    entry = federation.entry(name)
    if entry.tefed is None:
        raise ValueError(f"federate {name!r} has no tefed section, hence no role")
    config = read_role_config(entry.tefed.role, entry.tefed.config, name)
    layout = ShardLayout.from_federation(federation)
    return resolve_interfaces(
        entry.tefed.role,
        name,
        config,
        [shard.name for shard in layout.shards if shard.is_batched],
        [shard.household_ids[0] for shard in layout.shards if not shard.is_batched],
    )
