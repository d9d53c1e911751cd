"""Learning from the market's settlement prices: per-time-of-day prices and a trend signal.

The settlement (clearing) price of each market interval is public. A
:class:`SettlementPriceLearner` turns that series into

- a learned price per time-of-day slot (one slot per market interval of the day), smoothed
  over the days, from which :func:`limit_prices_usd_per_kwh` derives bid and ask prices inside
  the net-billing band;
- a fast and a slow moving average of the whole series (:class:`MovingAverageSignal`): fast
  below slow means prices are low against their trend, fast above slow that they are high.

Both use one update rule, :func:`update_average`. The ``ma_crossover`` strategy
(`tefed.domain.ems.strategies.ma_crossover`) trades on them; other strategies may reuse them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tefed.domain.ems.strategies.simple_trader import BUY, NO_ORDER, SELL


@dataclass(frozen=True)
class MovingAverageSignal:
    """The fast and slow moving averages of the settlement price, and the side they point to.

    Attributes
    ----------
    fast_price_usd_per_kwh, slow_price_usd_per_kwh : float
        The two averages, NaN before the first observed price [USD/kWh].

    Examples
    --------
    >>> MovingAverageSignal(0.08, 0.10).side == BUY, MovingAverageSignal(0.12, 0.10).side == SELL
    (True, True)
    """

    fast_price_usd_per_kwh: float
    slow_price_usd_per_kwh: float

    @property
    def side(self) -> int:
        """Side that buys low and sells high: ``BUY`` when fast < slow, ``SELL`` when fast > slow,
        else (equal, or nothing observed yet) ``NO_ORDER``."""
        if self.fast_price_usd_per_kwh < self.slow_price_usd_per_kwh:
            return BUY
        if self.fast_price_usd_per_kwh > self.slow_price_usd_per_kwh:
            return SELL
        return NO_ORDER


def update_average(average: float, count: int, value: float, weight_floor: float) -> float:
    """Fold one observation into a running-start exponential moving average.

    Parameters
    ----------
    average : float
        Average of the earlier observations, ignored when ``count == 0`` [USD/kWh].
    count : int
        Number of earlier observations [-].
    value : float
        New observation [USD/kWh].
    weight_floor : float
        Smallest weight of a new observation, in ``(0, 1]``: the learning rate, or ``1 / N``
        for a moving average over ``N`` intervals [-].

    Returns
    -------
    float
        Average including ``value`` [USD/kWh].

    Notes
    -----
    The :math:`k`-th observation :math:`x_k` enters with weight
    :math:`w_k = \\max(1/k, w_{min})`: :math:`a_k = a_{k-1} + w_k (x_k - a_{k-1})`. The average is
    the plain mean of the observations until :math:`1/k` falls to :math:`w_{min}`, then
    exponential smoothing (Brown) with smoothing constant :math:`w_{min}`, so no arbitrary start
    value biases it. With :math:`w_{min} = 1/N` this is the "approximate EMA" of T-REX's
    crossover trader.

    References
    ----------
    .. [1] R. G. Brown, "Smoothing, Forecasting and Prediction of Discrete Time Series",
       Prentice-Hall, 1963.
    .. [2] D. Zhang, H. Gül, P. Musilek, "T-REX: a transactive energy market simulator",
       https://github.com/trex-ai/TREX-Core (agent trader ``sma_crossover``, class ``EMA``).

    Examples
    --------
    With weight floor 0.25, 0.10 then 0.12 average to 0.11; the fifth observation gets 0.25:

    >>> round(update_average(0.10, 1, 0.12, 0.25), 6), round(update_average(0.10, 4, 0.14, 0.25), 6)
    (0.11, 0.11)
    """
    weight = max(1.0 / (count + 1), weight_floor)
    return value if count == 0 else average + weight * (value - average)


def limit_prices_usd_per_kwh(
    learned_price_usd_per_kwh: float,
    import_price_usd_per_kwh: float,
    export_price_usd_per_kwh: float,
    margin_fraction: float,
    initial_bid_fraction: np.ndarray,
    initial_ask_fraction: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Bid and ask limit prices of every household for one interval.

    Parameters
    ----------
    learned_price_usd_per_kwh : float
        Learned settlement price of the interval's slot, NaN before its first observation
        [USD/kWh].
    import_price_usd_per_kwh, export_price_usd_per_kwh : float
        Net-billing prices of the interval, ``export <= import`` [USD/kWh].
    margin_fraction : float
        Margin as a fraction of the spread ``import − export`` [-].
    initial_bid_fraction, initial_ask_fraction : numpy.ndarray
        Per household, bid and ask positions between export (0) and import (1) price, used
        while the learned price is NaN [-].

    Returns
    -------
    bid_price_usd_per_kwh, ask_price_usd_per_kwh : numpy.ndarray
        Limit prices per household [USD/kWh].

    Raises
    ------
    ValueError
        If a net-billing price is not finite or the export price exceeds the import price.

    Notes
    -----
    With learned price :math:`L`, spread :math:`s = p_i - p_e` and margin fraction :math:`m`:
    bid :math:`= \\min(\\max(L + m s, p_e), p_i)` and ask :math:`= \\min(\\max(L - m s, p_e), p_i)`.
    A buyer bids a little above the price it expects the market to clear at, to be filled; a
    seller asks a little below. Both stay within the net-billing prices, so every trade is
    worth at least as much as billing the same energy with the grid. Before a slot's first
    observation the prices are :math:`p_e + f s` with the household's initial fractions
    :math:`f`, as in ``simple_trader``.

    Examples
    --------
    Learned 0.10, spread 0.15 − 0.05 = 0.10, margin 10 %: bid 0.11, ask 0.09:

    >>> bid, ask = limit_prices_usd_per_kwh(0.10, 0.15, 0.05, 0.1, np.full(1, 0.8), np.full(1, 0.2))
    >>> bid.round(6).tolist(), ask.round(6).tolist()
    ([0.11], [0.09])
    """
    finite = math.isfinite(import_price_usd_per_kwh) and math.isfinite(export_price_usd_per_kwh)
    if not (finite and export_price_usd_per_kwh <= import_price_usd_per_kwh):
        raise ValueError(
            f"export_price_usd_per_kwh is {export_price_usd_per_kwh}; expected a finite price "
            f"no higher than import_price_usd_per_kwh ({import_price_usd_per_kwh})"
        )
    spread = import_price_usd_per_kwh - export_price_usd_per_kwh
    if math.isnan(learned_price_usd_per_kwh):
        return (
            export_price_usd_per_kwh + initial_bid_fraction * spread,
            export_price_usd_per_kwh + initial_ask_fraction * spread,
        )
    margin = margin_fraction * spread
    prices = np.clip(
        [learned_price_usd_per_kwh + margin, learned_price_usd_per_kwh - margin],
        export_price_usd_per_kwh,
        import_price_usd_per_kwh,
    )
    shape = np.shape(initial_bid_fraction)
    return np.full(shape, prices[0]), np.full(shape, prices[1])


def check_learning_settings(
    slots_per_day: int, learning_rate: float, fast_window_intervals: int, slow_window_intervals: int
) -> None:
    """Check the settings of a :class:`SettlementPriceLearner`.

    Raises
    ------
    ValueError
        Naming the first setting out of range: the slots and windows must be integers ``>= 1``
        with ``fast < slow``, the learning rate in ``(0, 1]``.

    Examples
    --------
    >>> check_learning_settings(96, 0.5, 50, 23)
    Traceback (most recent call last):
    ...
    ValueError: slow_window_intervals is 23; expected more than fast_window_intervals (50)
    """
    windows = {
        "slots_per_day": slots_per_day,
        "fast_window_intervals": fast_window_intervals,
        "slow_window_intervals": slow_window_intervals,
    }
    for name, value in windows.items():
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} is {value!r}; expected an integer >= 1")
    if slow_window_intervals <= fast_window_intervals:
        raise ValueError(
            f"slow_window_intervals is {slow_window_intervals}; expected more than "
            f"fast_window_intervals ({fast_window_intervals})"
        )
    if not 0 < learning_rate <= 1:
        raise ValueError(f"learning_rate is {learning_rate!r}; expected in (0, 1]")


class SettlementPriceLearner:
    """Learned price per time-of-day slot and fast/slow moving averages of settlement prices.

    Parameters
    ----------
    slots_per_day : int
        Time-of-day slots, one per market interval of the day (96 for 15 min) [-].
    learning_rate : float
        Smallest weight of a new observation in its slot's learned price, in ``(0, 1]`` [-].
    fast_window_intervals, slow_window_intervals : int
        Windows of the two moving averages, ``1 <= fast < slow`` [intervals].

    Notes
    -----
    Every update is :func:`update_average`: a slot's learned price with weight floor
    ``learning_rate`` over the observations of that slot (one a day), the moving averages with
    ``1 / window`` over all observations. An interval without trades (NaN price) changes
    nothing. The state is a few floats and two arrays over slots, whatever the number of
    households that share it.

    Examples
    --------
    Slot 5 on two days, learning rate 0.5: the learned price is the mean of the two prices.

    >>> learner = SettlementPriceLearner(96, 0.5, 2, 4)
    >>> learner.observe(5, 5, 0.09); learner.observe(101, 5, 0.11)
    >>> round(float(learner.learned_price_usd_per_kwh[5]), 6)
    0.1
    """

    def __init__(
        self,
        slots_per_day: int,
        learning_rate: float,
        fast_window_intervals: int,
        slow_window_intervals: int,
    ) -> None:
        check_learning_settings(
            slots_per_day, learning_rate, fast_window_intervals, slow_window_intervals
        )
        self.slots_per_day = int(slots_per_day)
        self.learning_rate = float(learning_rate)
        self._fast_weight = 1.0 / fast_window_intervals
        self._slow_weight = 1.0 / slow_window_intervals
        self._learned_price = np.full(self.slots_per_day, np.nan)
        self._slot_observations = np.zeros(self.slots_per_day, dtype=np.int64)
        self._fast = math.nan
        self._slow = math.nan
        self._price_observations = 0
        self._last_interval_index = -1

    @property
    def learned_price_usd_per_kwh(self) -> np.ndarray:
        """Learned settlement price per slot, NaN before the slot's first observation [USD/kWh]."""
        return self._learned_price.copy()

    def observe(self, interval_index: int, slot: int, settlement_price_usd_per_kwh: float) -> None:
        """Learn from the settlement price of interval ``interval_index`` (time-of-day ``slot``).

        Parameters
        ----------
        interval_index : int
            Settled interval, later than every interval observed before [-].
        slot : int
            Its time-of-day slot, in ``[0, slots_per_day)`` [-].
        settlement_price_usd_per_kwh : float
            Its clearing price; NaN when nothing traded, which is ignored [USD/kWh].

        Raises
        ------
        ValueError
            If the interval was already observed or comes out of order, the slot is out of
            range, or the price is infinite.
        """
        if interval_index <= self._last_interval_index:
            raise ValueError(
                f"interval_index is {interval_index}; expected more than "
                f"{self._last_interval_index}, the last interval observed"
            )
        self.check_slot(slot)
        price = float(settlement_price_usd_per_kwh)
        if math.isinf(price):
            raise ValueError(f"settlement_price_usd_per_kwh is {price}; expected finite or NaN")
        self._last_interval_index = interval_index
        if math.isnan(price):
            return
        count = int(self._slot_observations[slot])
        self._learned_price[slot] = update_average(
            float(self._learned_price[slot]), count, price, self.learning_rate
        )
        self._slot_observations[slot] = count + 1
        seen = self._price_observations
        self._fast = update_average(self._fast, seen, price, self._fast_weight)
        self._slow = update_average(self._slow, seen, price, self._slow_weight)
        self._price_observations = seen + 1

    def signal(self) -> MovingAverageSignal:
        """The fast and slow moving averages now, for decisions and records."""
        return MovingAverageSignal(self._fast, self._slow)

    def check_slot(self, slot: int) -> None:
        """Raise ValueError unless ``0 <= slot < slots_per_day``."""
        if not 0 <= slot < self.slots_per_day:
            raise ValueError(
                f"slot is {slot}; expected in [0, {self.slots_per_day}) (slots_per_day)"
            )
