"""The market's network, extracted once from the feeder when the federation is built.

A DLMP market clears on the network of the feeder the grid federate loads; the communities
market finds the transformer feeding each household on it, and P2P negotiation with grid
feasibility the branches a pair's trade flows through. Rather than have
the market compile that feeder in OpenDSS itself, the builder compiles it once, reads its
branches (`tefed.io.opendss.network_extraction`) and writes them beside the federation file
as the market's network file (`tefed.io.market_network`), which the market entry's
``network_file`` names. The market, or a replacement for it, then only reads a JSON file.
"""

from __future__ import annotations

import os
from pathlib import Path

from tefed.contract.errors import InputError
from tefed.contract.role_configs import FeederConfig

#: The market configuration's key naming the network file.
NETWORK_FILE_KEY = "network_file"
#: What the network file's name adds to the federation file's stem.
NETWORK_FILE_SUFFIX = ".network.json"


def network_file_path(federation_path: Path) -> Path:
    """Where the network file of a federation file goes: beside it, ``<stem>.network.json``.

    Examples
    --------
    >>> network_file_path(Path("federation/market_dlmp.json")).as_posix()
    'federation/market_dlmp.network.json'
    """
    return federation_path.with_name(federation_path.stem + NETWORK_FILE_SUFFIX)


def prepare_market_network(
    feeder: FeederConfig, federation_path: Path, base_dir: Path, write: bool = True
) -> str:
    """Extract the feeder's network, write it beside the federation file, and name it.

    Parameters
    ----------
    feeder : GeneratedFeederConfig or OpenDssFeederConfig
        The grid configuration's ``feeder`` section.
    federation_path : pathlib.Path
        Absolute path the federation file will be written to.
    base_dir : pathlib.Path
        Absolute working directory of the federates; the name returned is relative to it.
    write : bool
        Whether to write the file (False: only check that the network can be extracted).

    Returns
    -------
    str
        The network file's path relative to ``base_dir``, for the market's ``network_file``.

    Raises
    ------
    InputError
        If OpenDSS cannot compile the feeder or a branch cannot be read (``grid.feeder``).
    """
    # Only markets that clear on the network need these (and scipy's sparse graphs with them).
    from tefed.io.market_network import write_market_network
    from tefed.io.opendss.network_extraction import extract_market_network

    try:
        network = extract_market_network(feeder, base_dir)
    except ValueError as error:
        raise InputError("grid.feeder", [f"the market's network: {error}"]) from None
    path = network_file_path(federation_path)
    if write:
        write_market_network(path, network)
    return os.path.relpath(path, base_dir)
