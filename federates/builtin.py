"""tefed's own federate logic classes, by role (for the lockstep runner and benchmarks)."""

from __future__ import annotations

from collections.abc import Callable

from federates.runtime.logic import FederateLogic


def builtin_logic() -> dict[str, Callable[[], FederateLogic]]:
    """Logic class of each built-in role: ``price_feed``, ``ems``, ``grid``, ``market``."""
    from federates.ems.logic import EmsFederate
    from federates.grid.logic import GridFederate
    from federates.market.logic import MarketFederate
    from federates.price_feed.logic import PriceFeedFederate

    return {
        "price_feed": PriceFeedFederate,
        "ems": EmsFederate,
        "grid": GridFederate,
        "market": MarketFederate,
    }
