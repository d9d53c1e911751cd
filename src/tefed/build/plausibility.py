"""The plausibility warnings of a federation (`tefed.domain.plausibility` has the rules).

Where the households attach on the feeder and the source's voltage come from the feeder:
``tefed validate`` compiles it (`tefed.build.validate`), a run's summary
(`tefed.analysis.summary`) reads what the grid federate recorded of it
(`recorded_feeder_warnings`); both go through `feeder_warnings`. Whether anything
reads a wholesale price file follows from the federation file alone (`price_warnings`). This
module compiles nothing, so the summary (and the market, which writes it when it finishes last)
stays free of OpenDSS.
"""

from __future__ import annotations

import pandas as pd

from tefed.contract import keys
from tefed.contract.federation_file import FederateEntry, FederationFile
from tefed.contract.role_configs import (
    CsvWholesaleConfig,
    EmsConfig,
    GridConfig,
    PriceFeedConfig,
    RoleConfig,
    read_role_config,
)
from tefed.contract.role_interfaces import ROLE_INTERFACES
from tefed.domain.market.mechanism_types import MECHANISM_TYPES
from tefed.domain.plausibility import (
    PlausibilityWarning,
    feeder_setup_warnings,
    unused_wholesale_warning,
)

#: The keys the price feed publishes the wholesale price under.
WHOLESALE_KEYS = frozenset({keys.WHOLESALE_PRICE, keys.WHOLESALE_PRICE_FORECAST})


def recorded_feeder_warnings(
    federation: FederationFile, households: pd.DataFrame, source: pd.DataFrame
) -> list[PlausibilityWarning]:
    """`feeder_warnings` from what the grid federate recorded of the feeder it ran.

    Parameters
    ----------
    federation : FederationFile
        The run's federation file.
    households : pandas.DataFrame
        The run's ``feeder_households`` table: ``household_id``, ``bus``, ``base_kv_ll`` [kV]
        and ``behind_lv_transformer``.
    source : pandas.DataFrame
        The run's ``feeder_source`` table: ``bus`` and ``voltage_setpoint_pu`` [pu], one row.
    """
    row = source.iloc[0]
    return feeder_warnings(
        federation, households, str(row["bus"]), float(row["voltage_setpoint_pu"])
    )


def feeder_warnings(
    federation: FederationFile, supply: pd.DataFrame, source_bus: str, source_voltage_pu: float
) -> list[PlausibilityWarning]:
    """The feeder's warnings (`tefed.domain.plausibility.feeder_setup_warnings`).

    Parameters
    ----------
    federation : FederationFile
        The federation (its household table and its grid's feeder).
    supply : pandas.DataFrame
        Per household: ``household_id``, ``bus``, ``base_kv_ll`` [kV] and
        ``behind_lv_transformer``; the community battery's row (at a busbar, not in a house)
        is left out.
    source_bus : str
        Bus of the feeder's source.
    source_voltage_pu : float
        Its voltage setpoint [pu].
    """
    community = federation.households_frame()["serves_community"].astype(bool)
    houses = supply[~supply["household_id"].map(community).fillna(False).to_numpy(bool)]
    grid = role_config(federation, "grid")
    generated = isinstance(grid, GridConfig) and grid.feeder.source == "generated"
    return feeder_setup_warnings(houses, source_bus, source_voltage_pu, generated)


def price_warnings(federation: FederationFile) -> list[PlausibilityWarning]:
    """A warning when a wholesale price file is configured that nothing in the federation reads.

    The wholesale price is read by the market when its mechanism declares
    ``uses_wholesale_price`` (`tefed.domain.market.mechanism_types.MECHANISM_TYPES`), and by a
    household (a built-in shard's strategies or a household's own program) only if its role
    subscribes to a wholesale key (`tefed.contract.role_interfaces.ROLE_INTERFACES`; today
    neither does: the strategies read the import and export prices). Settlement uses the
    import and export prices. Only a CSV file is warned about: the synthetic series is the
    default every scenario records for reference.

    Parameters
    ----------
    federation : FederationFile
        A built federation.

    Returns
    -------
    list of PlausibilityWarning
        ``wholesale_prices_unused``, or nothing.
    """
    prices = role_config(federation, "price_feed")
    market = role_config(federation, "market")
    if market is None or not isinstance(prices, PriceFeedConfig):
        return []
    if not isinstance(prices.wholesale, CsvWholesaleConfig):
        return []
    mechanism_type = MECHANISM_TYPES[market.mechanism]
    households_read = any(
        declaration.key in WHOLESALE_KEYS
        for role in ("ems", "household")
        for declaration in ROLE_INTERFACES[role].subscriptions
    )
    if households_read or mechanism_type.uses_wholesale_price or prices.tariff_uses_wholesale:
        return []
    external = any(
        isinstance(config, EmsConfig) and config.interface == "household"
        for config in (
            read_role_config("ems", entry.tefed.config, entry.name)
            for entry in federation.federate_entries()
            if _role(entry) == "ems"
        )
    )
    using = [name for name, kind in MECHANISM_TYPES.items() if kind.uses_wholesale_price]
    return [unused_wholesale_warning(prices.wholesale.path, market.mechanism, using, external)]


def _role(entry: FederateEntry) -> str | None:
    return None if entry.tefed is None else entry.tefed.role


def role_config(federation: FederationFile, role: str) -> RoleConfig | None:
    """The typed configuration of the first entry of ``role`` (None without one)."""
    for entry in federation.federate_entries():
        if _role(entry) == role:
            return read_role_config(role, entry.tefed.config, entry.name)
    return None
