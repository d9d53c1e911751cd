"""The market's network model for DLMP clearing, from the same feeder the grid federate loads.

The market compiles the federation's feeder in its own OpenDSS engine (the grid federate's
loader, so both see the same circuit), reads its branches once, and builds the LinDistFlow
clearing model once; every interval then only updates the orders.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tefed.contract.role_configs import DlmpConfig
from tefed.domain.market.mechanisms.dlmp import DlmpMarket
from tefed.domain.network.radial import RadialNetwork
from tefed.io.opendss.feeder_loader import load_feeder
from tefed.io.opendss.network_extraction import network_branches, network_source, separate_engine


def dlmp_market(config: DlmpConfig, base_dir: str | Path, households: pd.DataFrame) -> DlmpMarket:
    """Build the DLMP market of a market configuration with ``mechanism: dlmp``.

    Parameters
    ----------
    config : DlmpConfig
        The market configuration: ``feeder`` (the grid's feeder section), ``voltage_min_pu``,
        ``voltage_max_pu`` [pu] and ``substation_limit_kw`` [kW] (None: unlimited).
    base_dir : str or pathlib.Path
        Folder a relative OpenDSS master path resolves against.
    households : pandas.DataFrame
        The federation's household table (``household_id``, ``bus``, ``power_factor``).
    """
    engine = separate_engine()  # the grid federate may share this process (lockstep runs)
    load_feeder(config.feeder.model_dump(), base_dir, engine=engine)
    source_bus, source_voltage_pu = network_source(engine)
    network = RadialNetwork.from_branches(network_branches(engine), source_bus)
    ids = households["household_id"].astype(str).to_numpy()
    return DlmpMarket(
        network,
        participant_bus=pd.Series(households["bus"].astype(str).str.lower().to_numpy(), index=ids),
        voltage_min_pu=config.voltage_min_pu,
        voltage_max_pu=config.voltage_max_pu,
        source_voltage_pu=source_voltage_pu,
        power_factor=pd.Series(households["power_factor"].to_numpy(float), index=ids),
        substation_limit_kw=config.substation_limit_kw,
    )
