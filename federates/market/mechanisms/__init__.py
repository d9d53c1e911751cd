"""Market clearing mechanisms: pure functions over one interval's order book, behind one interface.

A mechanism is called as ``mechanism(orders, settlement_rule=...)`` with the interval's orders (a
DataFrame with ``order_id``, ``participant``, ``side``, ``quantity_wh``, ``price_usd_per_kwh``,
``sequence``) and returns an ``AuctionResult``: the trades, the filled quantity of every order
and an explicit status. ``MECHANISMS`` maps the names a scenario may use to the functions.
"""

from collections.abc import Callable

from federates.market.mechanisms.double_auction import AuctionResult, clear_double_auction

MECHANISMS: dict[str, Callable[..., AuctionResult]] = {"double_auction": clear_double_auction}
