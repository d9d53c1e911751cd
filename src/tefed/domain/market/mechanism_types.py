"""Every clearing mechanism's type by its scenario name (``market.mechanism``).

For what a mechanism declares about itself before one is built (e.g. ``uses_wholesale_price``,
read by the scenario checks); the market federate builds them in
`tefed.federates.market.mechanism_setup`.
"""

from __future__ import annotations

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

#: Every mechanism's type by its scenario name (``market.mechanism``), for what a mechanism
#: declares about itself before one is built (e.g. ``uses_wholesale_price``).
MECHANISM_TYPES: dict[str, type[Mechanism]] = {
    mechanism.name: mechanism
    for mechanism in (
        DoubleAuction,
        CurveClearing,
        NetworkClearing,
        ContinuousMarket,
        BilateralNegotiation,
        CommunityMarkets,
        DayAheadRealTime,
    )
}
