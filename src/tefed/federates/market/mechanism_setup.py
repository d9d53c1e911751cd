"""The market's clearing mechanism, built from its configuration in the federation file.

`MECHANISMS` holds each mechanism's builder under the name its type declares (the names
`tefed.domain.market.mechanism_types.MECHANISM_TYPES` keys too); `build_mechanism` builds the
configured one (the DLMP, grid-feasible negotiation and community markets on the network file
the builder extracted beside the federation file).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from tefed.contract.logic import FederateContext
from tefed.contract.role_configs import (
    CommunitiesConfig,
    DlmpConfig,
    MarketRules,
    P2pNegotiationConfig,
)
from tefed.domain.market.clearing import (
    BilateralNegotiation,
    CommunityMarkets,
    ContinuousMarket,
    CurveClearing,
    DoubleAuction,
    Mechanism,
    NetworkClearing,
)
from tefed.domain.market.day_ahead_real_time import DayAheadRealTime
from tefed.domain.market.mechanisms.bilateral_negotiation import NegotiationRules
from tefed.domain.network.feeder_topology import bus_name
from tefed.domain.network.radial import RadialNetwork
from tefed.domain.network.trade_paths import feeding_transformers, overloading_pairs
from tefed.io.market_network import MarketNetwork, read_market_network

if TYPE_CHECKING:
    from tefed.domain.market.mechanisms.dlmp import DlmpMarket


def build_mechanism(
    config: MarketRules, context: FederateContext, table: pd.DataFrame
) -> Mechanism:
    """The scenario's mechanism with its parameters (DLMP: its network model, built once).

    ``table`` is the household table of the federation file (``household_id``, ``bus``,
    ``power_factor``).
    """
    return MECHANISMS[config.mechanism](config, context, table)


def _dlmp_market(config: DlmpConfig, context: FederateContext, table: pd.DataFrame) -> DlmpMarket:
    """The DLMP market on the network file the builder extracted (``network_file``)."""
    # pyomo and HiGHS load only in a market that clears with DLMP (about 1 s of start-up spared).
    from tefed.domain.market.mechanisms.dlmp import DlmpMarket
    from tefed.io.highs_solver import HighsSolver

    network = _read_network(config.network_file, context)
    ids = table["household_id"].astype(str).to_numpy()
    return DlmpMarket(
        RadialNetwork.from_branches(network.branches, network.source_bus),
        participant_bus=_participant_buses(table),
        voltage_min_pu=config.voltage_min_pu,
        voltage_max_pu=config.voltage_max_pu,
        source_voltage_pu=network.source_voltage_pu,
        power_factor=pd.Series(table["power_factor"].to_numpy(float), index=ids),
        substation_limit_kw=config.substation_limit_kw,
        solver=HighsSolver(),
    )


def _read_network(network_file: str, context: FederateContext) -> MarketNetwork:
    """The network file the builder extracted (``network_file``)."""
    path = context.resolve(network_file)
    try:
        return read_market_network(path)
    except FileNotFoundError:
        raise ValueError(
            f"market.network_file: {str(path)!r} does not exist; expected the network file the "
            "builder writes beside the federation file"
        ) from None


def _participant_buses(table: pd.DataFrame) -> pd.Series:
    """Each household's bus (network names), indexed by household id."""
    ids = table["household_id"].astype(str).to_numpy()
    return pd.Series([bus_name(bus) for bus in table["bus"]], index=ids)


def _radial_network(network_file: str, context: FederateContext) -> RadialNetwork:
    network = _read_network(network_file, context)
    return RadialNetwork.from_branches(network.branches, network.source_bus)


def _bilateral_negotiation(
    config: P2pNegotiationConfig, context: FederateContext, table: pd.DataFrame
) -> BilateralNegotiation:
    """P2P negotiation; with grid feasibility, on the network file the builder extracted."""
    rules = NegotiationRules(
        rounds=config.rounds,
        service_fee_usd_per_kwh=config.service_fee_usd_per_kwh,
        failure_penalty_usd_per_kwh=config.failure_penalty_usd_per_kwh,
        strategy=config.strategy,
        price_arms=config.price_arms,
        error_probability=config.error_probability,
    )
    if not config.grid_feasibility:
        return BilateralNegotiation(rules, config.pairing, config.pairing_seed)
    if config.network_file is None:
        raise ValueError(
            "market.network_file: got null with grid_feasibility: true; expected the network "
            "file the builder writes beside the federation file"
        )
    network = _radial_network(config.network_file, context)
    bus_of = pd.Series(
        network.bus_positions(_participant_buses(table)), index=table["household_id"].astype(str)
    )
    share = config.branch_rating_share

    def overloads(sellers: np.ndarray, buyers: np.ndarray, power_kw: np.ndarray) -> np.ndarray:
        return overloading_pairs(
            network, bus_of[sellers].to_numpy(), bus_of[buyers].to_numpy(), power_kw, share
        )

    return BilateralNegotiation(rules, config.pairing, config.pairing_seed, overloads)


def _community_markets(
    config: CommunitiesConfig, context: FederateContext, table: pd.DataFrame
) -> CommunityMarkets:
    """One community per transformer of the network file the builder extracted."""
    network = _radial_network(config.network_file, context)
    buses = _participant_buses(table)
    community = feeding_transformers(network)[network.bus_positions(buses)]
    return CommunityMarkets(pd.Series(community, index=buses.index), config.tie_breaking)


#: ``mechanism`` of the market's configuration (each type's own ``name``) to the function that
#: builds it from that configuration, the context and the household table.
MECHANISMS: dict[str, Callable[..., Mechanism]] = {
    DoubleAuction.name: lambda config, context, table: DoubleAuction(
        config.settlement_rule, config.tie_breaking
    ),
    CurveClearing.name: lambda config, context, table: CurveClearing(config.feeder_capacity_kw),
    ContinuousMarket.name: lambda config, context, table: ContinuousMarket(config.priority),
    DayAheadRealTime.name: lambda config, context, table: DayAheadRealTime(
        context.time_grid.market_interval_s,
        config.period_s // context.time_grid.market_interval_s,
        config.feeder_capacity_kw,
    ),
    NetworkClearing.name: lambda config, context, table: NetworkClearing(
        _dlmp_market(config, context, table)
    ),
    BilateralNegotiation.name: _bilateral_negotiation,
    CommunityMarkets.name: _community_markets,
}
