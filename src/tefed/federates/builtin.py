"""tefed's own federate logic classes, by role (for the lockstep runner and benchmarks)."""

from __future__ import annotations

from collections.abc import Callable

from tefed.contract.logic import FederateLogic


def builtin_logic() -> dict[str, Callable[[], FederateLogic]]:
    """Logic class of each built-in role: ``price_feed``, ``ems``, ``grid``, ``market``."""
    from tefed.federates.ems.logic import EmsFederate
    from tefed.federates.grid.logic import GridFederate
    from tefed.federates.market.logic import MarketFederate
    from tefed.federates.price_feed.logic import PriceFeedFederate

    return {
        "price_feed": PriceFeedFederate,
        "ems": EmsFederate,
        "grid": GridFederate,
        "market": MarketFederate,
    }
