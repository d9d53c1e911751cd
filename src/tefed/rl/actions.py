"""What a learned household does at a decision: a battery set-point and a bid and an ask.

An action is five fractions, continuous (a Box) or in levels (a MultiDiscrete):

| index | name | range | meaning |
|---|---|---|---|
| 0 | `battery_fraction` | −1 … 1 | battery power request / rated power (+ charging) |
| 1 | `buy_quantity_fraction` | 0 … 1 | bid quantity / (`max_order_power_kw` · Δm); 0: no bid |
| 2 | `buy_price_fraction` | 0 … 1 | bid price between the export (0) and import (1) price |
| 3 | `sell_quantity_fraction` | 0 … 1 | ask quantity, likewise; 0: no ask |
| 4 | `sell_price_fraction` | 0 … 1 | ask price between the export (0) and import (1) price |

Discrete level ``i`` of ``L`` is the fraction ``low + i / (L − 1) · (high − low)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Names, lower and upper bounds of the action's fractions, in vector order.
ACTION_FRACTIONS: tuple[tuple[str, float, float], ...] = (
    ("battery_fraction", -1.0, 1.0),
    ("buy_quantity_fraction", 0.0, 1.0),
    ("buy_price_fraction", 0.0, 1.0),
    ("sell_quantity_fraction", 0.0, 1.0),
    ("sell_price_fraction", 0.0, 1.0),
)


@dataclass(frozen=True)
class HouseholdAction:
    """A decoded action: fractions, each within its bounds (see the module table)."""

    battery_fraction: float = 0.0
    buy_quantity_fraction: float = 0.0
    buy_price_fraction: float = 0.0
    sell_quantity_fraction: float = 0.0
    sell_price_fraction: float = 0.0


#: The action of a household before its first decision: battery idle, no orders.
IDLE = HouseholdAction()


def action_bounds() -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds of a continuous action (float32)."""
    low = np.array([low for _, low, _ in ACTION_FRACTIONS], dtype=np.float32)
    high = np.array([high for _, _, high in ACTION_FRACTIONS], dtype=np.float32)
    return low, high


def decode_action(action: np.ndarray, levels: int | None) -> HouseholdAction:
    """The fractions of a continuous action (``levels`` None) or of a discrete one.

    A continuous value outside its fraction's bounds is clipped to them (as a policy's
    unbounded output often is); a discrete level must be one of the space's.

    Raises
    ------
    ValueError
        When the action has the wrong shape, a value is not finite, or a level is outside
        ``0 … levels − 1``.

    Examples
    --------
    >>> decode_action(np.array([0, 4, 2, 0, 1]), levels=5)
    HouseholdAction(battery_fraction=-1.0, buy_quantity_fraction=1.0, buy_price_fraction=0.5, \
sell_quantity_fraction=0.0, sell_price_fraction=0.25)
    """
    values = np.asarray(action, dtype=float).reshape(-1)
    if values.shape != (len(ACTION_FRACTIONS),) or not np.isfinite(values).all():
        raise ValueError(
            f"action {np.asarray(action).tolist()}: expected {len(ACTION_FRACTIONS)} finite "
            "numbers (battery, buy quantity, buy price, sell quantity, sell price)"
        )
    low, high = action_bounds()
    if levels is not None:
        if (values < 0).any() or (values > levels - 1).any() or (values % 1).any():
            raise ValueError(
                f"action {values.tolist()}: expected whole levels from 0 to {levels - 1}"
            )
        values = low + values / (levels - 1) * (high - low)
    fractions = np.clip(values, low, high)
    return HouseholdAction(*(float(value) for value in fractions))
