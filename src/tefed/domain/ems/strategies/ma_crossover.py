"""The moving-average crossover trader: T-REX's TB-1 "expert trader", for many households at once.

Every household that uses the strategy watches the same public series: the settlement (clearing)
price of each market interval. From it the trader keeps

- a learned price per time-of-day slot (one slot per market interval of the day), by
  exponential smoothing of the prices observed in that slot on earlier days; the limit prices
  of its orders sit a margin around it, so a buyer bids slightly above the expected clearing
  price and a seller asks slightly below it, always inside ``[export price, import price]``;
- a fast and a slow moving average of the whole series. Fast below slow means prices are low
  against their trend, so the battery buys (charges from the market); fast above slow means
  they are high, so the battery sells (discharges into the market).

Both come from `tefed.domain.ems.strategies.settlement_price_learning`.

Three stages (T-REX TB-1 gives batteries to households R10 and R11 in stages 2 and 3):

1. ``pv_only``: order the forecast deficit or surplus with the battery doing self-consumption
   (the quantity of ``simple_trader``), at the learned prices;
2. ``battery_buys``: as 1, and on a buy signal the battery charges from the market as much as
   its power and headroom allow over the interval; its energy serves self-consumption only;
3. ``battery_trades``: as 2, and on a sell signal the battery discharges into the market as much
   as its power and stored energy above ``soc_min`` allow: it buys low and sells high.

The battery's energy and the household's own deficit or surplus are netted into one order per
household and interval. The ems then steers each battery toward the awarded net energy, so an
awarded battery purchase charges the battery and an unfilled one leaves it to self-consumption.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from tefed.contract.time_grid import SECONDS_PER_HOUR
from tefed.domain.ems.devices.battery import BatteryParameters
from tefed.domain.ems.devices.battery_dispatch import dispatch_battery
from tefed.domain.ems.strategies.settlement_price_learning import (
    MovingAverageSignal,
    SettlementPriceLearner,
    check_learning_settings,
    limit_prices_usd_per_kwh,
)
from tefed.domain.ems.strategies.simple_trader import BUY, SELL, OrderQuotes, battery_sale_wh


class TradingStage(IntEnum):
    """What the battery of an ``ma_crossover`` household may do in the market (T-REX TB-1)."""

    PV_ONLY = 1
    BATTERY_BUYS = 2
    BATTERY_TRADES = 3

    @classmethod
    def parse(cls, value: int | str) -> TradingStage:
        """Read a stage given as 1, 2, 3 or by name (``pv_only``, ``battery_buys``, ...).

        Examples
        --------
        >>> TradingStage.parse("battery_trades") is TradingStage.parse(3)
        True
        """
        if isinstance(value, str) and value.upper() in cls.__members__:
            return cls[value.upper()]
        if isinstance(value, int | np.integer) and not isinstance(value, bool) and 1 <= value <= 3:
            return cls(int(value))
        names = ", ".join(stage.name.lower() for stage in cls)
        raise ValueError(f"stage is {value!r}; expected 1, 2, 3 or one of {names}")


@dataclass(frozen=True, eq=False)
class MaCrossoverParameters:
    """Settings of one ``ma_crossover`` strategy instance over its ``n`` households.

    Parameters
    ----------
    stage : TradingStage, int or str
        1 ``pv_only``, 2 ``battery_buys`` or 3 ``battery_trades``.
    fast_window_intervals, slow_window_intervals : int
        Windows of the fast and the slow moving average, ``1 <= fast < slow`` [intervals].
    learning_rate : float
        Weight of a new observation in a slot's learned price once the slot has seen
        ``1 / learning_rate`` days (before, the plain mean), in ``(0, 1]`` [-].
    slots_per_day : int
        Time-of-day slots, one per market interval of the day (96 for 15 min) [-].
    margin_fraction : float
        Distance of the limit prices from the learned price, as a fraction of the interval's
        import − export spread, in ``[0, 1]`` [-].
    initial_bid_fraction, initial_ask_fraction : numpy.ndarray
        Per household, the position of bid and ask between export (0) and import (1) price
        used in a slot before its first observation, in ``[0, 1]`` [-]; their length is ``n``.

    Raises
    ------
    ValueError
        Naming the first setting out of range (and the household for the fractions).

    Examples
    --------
    T-REX's crossover windows (23 and 50 intervals) for two households:

    >>> parameters = MaCrossoverParameters("battery_buys", 23, 50, 0.5, 96, 0.05,
    ...                                    [0.6, 0.7], [0.4, 0.3])
    >>> int(parameters.stage), parameters.household_count
    (2, 2)
    """

    stage: TradingStage
    fast_window_intervals: int
    slow_window_intervals: int
    learning_rate: float
    slots_per_day: int
    margin_fraction: float
    initial_bid_fraction: np.ndarray
    initial_ask_fraction: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "stage", TradingStage.parse(self.stage))
        check_learning_settings(
            self.slots_per_day,
            self.learning_rate,
            self.fast_window_intervals,
            self.slow_window_intervals,
        )
        if not 0 <= self.margin_fraction <= 1:
            raise ValueError(f"margin_fraction is {self.margin_fraction!r}; expected in [0, 1]")
        for name in ("initial_bid_fraction", "initial_ask_fraction"):
            # Private read-only copies, like BatteryParameters.
            values = np.array(getattr(self, name), dtype=float)
            values.setflags(write=False)
            object.__setattr__(self, name, values)
            if values.ndim != 1:
                raise ValueError(f"{name} has shape {values.shape}; expected a 1-D array")
            _require_per_household(name, values, (values >= 0) & (values <= 1), "in [0, 1]")
        if self.initial_ask_fraction.shape != self.initial_bid_fraction.shape:
            raise ValueError(
                f"initial_ask_fraction has {self.initial_ask_fraction.size} entries; expected "
                f"{self.initial_bid_fraction.size}, one per household like initial_bid_fraction"
            )

    @property
    def household_count(self) -> int:
        """Number of households ``n`` of the strategy instance."""
        return int(self.initial_bid_fraction.size)


def battery_energy_range_wh(
    soc_kwh: np.ndarray, battery: BatteryParameters, interval_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Least and most AC energy each battery can take over an interval from its state of charge.

    Parameters
    ----------
    soc_kwh : numpy.ndarray
        Stored energy at the start of the interval [kWh].
    battery : BatteryParameters
        Ratings of the same households.
    interval_s : float
        Length of the interval [s].

    Returns
    -------
    lowest_wh, highest_wh : numpy.ndarray
        Battery energy at the AC side, charging positive: ``lowest_wh <= 0`` is the most it can
        deliver, ``highest_wh >= 0`` the most it can take [Wh].

    Notes
    -----
    The battery's own limits:
    :func:`~tefed.domain.ems.devices.battery_dispatch.dispatch_battery` asked for its full power
    rating, charging and discharging, over one step as long as the interval. For
    a battery with one power limit :math:`P` and no self-discharge this is
    :math:`\\min(P \\Delta t_h, (s_{max} C - E)^+ / \\eta_c)` charging and
    :math:`\\min(P \\Delta t_h, (E - s_{min} C)^+ \\eta_d)` discharging.

    Examples
    --------
    10 kWh, 5 kW, 0.9 each way, 1 to 9 kWh, at 8.5 kWh over 15 min: it can take
    :math:`0.5 / 0.9` kWh and deliver its power limit, 1.25 kWh:

    >>> battery = BatteryParameters.from_round_trip([10.0], [5.0], 0.81, 0.1, 0.9)
    >>> lowest_wh, highest_wh = battery_energy_range_wh(np.array([8.5]), battery, 900.0)
    >>> lowest_wh.round(1).tolist(), highest_wh.round(1).tolist()
    ([-1250.0], [555.6])
    """
    soc = np.asarray(soc_kwh, dtype=float)
    to_wh = interval_s / SECONDS_PER_HOUR * 1000.0
    charge_kw, _ = dispatch_battery(soc, battery.power_kw, interval_s, battery)
    discharge_kw, _ = dispatch_battery(soc, -battery.power_kw, interval_s, battery)
    highest_wh, lowest_wh = charge_kw * to_wh, discharge_kw * to_wh
    return lowest_wh, highest_wh


def battery_market_energy_wh(
    battery_side: int,
    stage: TradingStage,
    natural_energy_wh: np.ndarray,
    residual_wh: np.ndarray,
    soc_kwh: np.ndarray,
    battery: BatteryParameters,
    interval_s: float,
) -> np.ndarray:
    """Energy each battery buys (+) or sells (−) in the market, on top of self-consumption.

    Parameters
    ----------
    battery_side : int
        ``BUY``, ``SELL`` or ``NO_ORDER``: the crossover signal, ``MovingAverageSignal.side``.
    stage : TradingStage
        What the battery may do.
    natural_energy_wh : numpy.ndarray
        Forecast net energy of each household over the interval without its battery, load − PV
        [Wh].
    residual_wh : numpy.ndarray
        The same with the battery doing self-consumption
        (:func:`~tefed.domain.ems.strategies.simple_trader.forecast_residual_energy_wh`) [Wh].
    soc_kwh : numpy.ndarray
        Stored energy at the start of the interval [kWh].
    battery : BatteryParameters
        Ratings of the same households.
    interval_s : float
        Length of the interval [s].

    Returns
    -------
    numpy.ndarray of int64
        Whole Wh to add to ``rint(residual_wh)`` for the household's net order, import positive:
        ``>= 0`` on a buy signal from stage 2 on, ``<= 0`` on a sell signal in stage 3, else 0.

    Notes
    -----
    With :math:`[B_{lo}, B_{hi}]` from :func:`battery_energy_range_wh`, natural energy
    :math:`N` and :math:`R_0 = \\mathrm{rint}(R)`, a buying battery moves the household's net
    energy up to :math:`\\lfloor N + B_{hi} \\rfloor` (charging as much as it can instead of
    discharging for self-consumption), a selling one down to :math:`\\lceil N + B_{lo} \\rceil`:
    extra :math:`= \\max(\\lfloor N + B_{hi} \\rfloor - R_0, 0)` or
    :math:`-\\max(R_0 - \\lceil N + B_{lo} \\rceil, 0)`. Rounding toward the inside keeps the
    battery energy implied by the order, :math:`R_0 + \\mathrm{extra} - N`, within the limits.
    A household without a battery has :math:`B_{lo} = B_{hi} = 0`, hence no extra.

    Examples
    --------
    An empty battery (1 kWh = soc_min) of a household drawing 400 Wh buys its 1250 Wh power
    limit on top; the order becomes 1650 Wh:

    >>> battery = BatteryParameters.from_round_trip([10.0], [5.0], 0.81, 0.1, 0.9)
    >>> battery_market_energy_wh(BUY, TradingStage.BATTERY_BUYS, np.array([400.0]),
    ...                          np.array([400.0]), np.array([1.0]), battery, 900.0).tolist()
    [1250]
    """
    base_wh = np.rint(residual_wh)
    lowest_wh, highest_wh = battery_energy_range_wh(soc_kwh, battery, interval_s)
    if battery_side == BUY and stage >= TradingStage.BATTERY_BUYS:
        extra_wh = np.maximum(np.floor(natural_energy_wh + highest_wh) - base_wh, 0.0)
    elif battery_side == SELL and stage >= TradingStage.BATTERY_TRADES:
        extra_wh = -np.maximum(base_wh - np.ceil(natural_energy_wh + lowest_wh), 0.0)
    else:
        extra_wh = np.zeros_like(base_wh)
    return extra_wh.astype(np.int64)


class MaCrossoverTrader:
    """State of one ``ma_crossover`` strategy instance: learned prices and moving averages.

    Parameters
    ----------
    parameters : MaCrossoverParameters
        Settings and per-household initial fractions.

    Notes
    -----
    The state is shared by the instance's households: all observe the same public settlement
    prices; they differ only in their initial fractions, devices and forecasts. Each call is
    O(slots) or O(n) array work, never a loop over households.

    References
    ----------
    .. [1] D. Zhang, H. Gül, P. Musilek, "T-REX: a transactive energy market simulator",
       https://github.com/trex-ai/TREX-Core (TB-1 test bench; agent trader ``sma_crossover``:
       per-time-of-day price tables, 23/50-period EMA crossover driving the battery).

    Examples
    --------
    Prices fall to 0.08 in slot 2: fast (2) 0.10 < slow (4) 0.1067, a buy signal. An empty
    10 kWh, 5 kW battery bids its power limit over 15 min, 1250 Wh, at the learned 0.08 plus
    10 % of the 0.15 − 0.05 spread:

    >>> parameters = MaCrossoverParameters(
    ...     "battery_trades", 2, 4, 0.5, 96, 0.1, np.full(1, 0.8), np.full(1, 0.2))
    >>> trader = MaCrossoverTrader(parameters)
    >>> for interval, price in enumerate([0.12, 0.12, 0.08]):
    ...     trader.observe(interval, interval, price)
    >>> battery = BatteryParameters.from_round_trip([10.0], [5.0], 0.81, 0.1, 0.9)
    >>> quotes = trader.quote(2, np.zeros(1), np.zeros(1), np.array([1.0]), battery, 900.0,
    ...                       0.15, 0.05)
    >>> quotes.side.tolist(), quotes.quantity_wh.tolist(), quotes.price_usd_per_kwh.round(4)
    ([1], [1250], array([0.09]))
    """

    def __init__(self, parameters: MaCrossoverParameters) -> None:
        self.parameters = parameters
        self._learner = SettlementPriceLearner(
            parameters.slots_per_day,
            parameters.learning_rate,
            parameters.fast_window_intervals,
            parameters.slow_window_intervals,
        )

    @property
    def learned_price_usd_per_kwh(self) -> np.ndarray:
        """Learned settlement price per slot, NaN before the slot's first observation [USD/kWh]."""
        return self._learner.learned_price_usd_per_kwh

    def observe(self, interval_index: int, slot: int, settlement_price_usd_per_kwh: float) -> None:
        """Learn from the settlement price of a settled interval (NaN: nothing traded, ignored).

        See :meth:`SettlementPriceLearner.observe
        <tefed.domain.ems.strategies.settlement_price_learning.SettlementPriceLearner.observe>`.
        """
        self._learner.observe(interval_index, slot, settlement_price_usd_per_kwh)

    def signal(self) -> MovingAverageSignal:
        """The fast and slow moving averages now, for decisions and records [USD/kWh]."""
        return self._learner.signal()

    def limit_prices_usd_per_kwh(
        self, slot: int, import_price_usd_per_kwh: float, export_price_usd_per_kwh: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Bid and ask price of every household for an interval in ``slot`` [USD/kWh].

        See :func:`limit_prices_usd_per_kwh` for the rule.
        """
        self._learner.check_slot(slot)
        return limit_prices_usd_per_kwh(
            float(self._learner.learned_price_usd_per_kwh[slot]),
            import_price_usd_per_kwh,
            export_price_usd_per_kwh,
            self.parameters.margin_fraction,
            self.parameters.initial_bid_fraction,
            self.parameters.initial_ask_fraction,
        )

    def quote(
        self,
        slot: int,
        natural_energy_wh: np.ndarray,
        residual_wh: np.ndarray,
        soc_kwh: np.ndarray,
        battery: BatteryParameters,
        interval_s: float,
        import_price_usd_per_kwh: float,
        export_price_usd_per_kwh: float,
    ) -> OrderQuotes:
        """One order per household for a delivery interval in ``slot``.

        Parameters
        ----------
        slot : int
            Time-of-day slot of the delivery interval [-].
        natural_energy_wh : numpy.ndarray
            Forecast load − PV energy per household over the interval [Wh].
        residual_wh : numpy.ndarray
            Forecast net energy with the battery doing self-consumption [Wh].
        soc_kwh : numpy.ndarray
            Battery energy at the start of the interval [kWh].
        battery : BatteryParameters
            Battery ratings of the same households (capacity 0: no battery).
        interval_s : float
            Length of the interval, ``> 0`` [s].
        import_price_usd_per_kwh, export_price_usd_per_kwh : float
            Net-billing prices of the interval [USD/kWh].

        Returns
        -------
        OrderQuotes
            Side, whole-Wh quantity and limit price; the net of the household's residual and
            its battery's market energy (:func:`battery_market_energy_wh`). Of a sale, the
            battery's discharge into the market is its dispatchable part (T-REX's pools).

        Raises
        ------
        ValueError
            If a shape disagrees with the household count, the slot or ``interval_s`` is out of
            range, or the export price exceeds the import price.
        """
        self._learner.check_slot(slot)
        if not interval_s > 0:
            raise ValueError(f"interval_s is {interval_s}; expected a positive number of seconds")
        count = self.parameters.household_count
        arrays = {"natural_energy_wh": natural_energy_wh, "residual_wh": residual_wh}
        arrays |= {"soc_kwh": soc_kwh, "battery.capacity_kwh": battery.capacity_kwh}
        for name, values in arrays.items():
            if np.shape(values) != (count,):
                raise ValueError(
                    f"{name} has shape {np.shape(values)}; expected ({count},), one per household"
                )
        bid, ask = self.limit_prices_usd_per_kwh(
            slot, import_price_usd_per_kwh, export_price_usd_per_kwh
        )
        extra_wh = battery_market_energy_wh(
            self.signal().side,
            self.parameters.stage,
            np.asarray(natural_energy_wh, dtype=float),
            np.asarray(residual_wh, dtype=float),
            np.asarray(soc_kwh, dtype=float),
            battery,
            interval_s,
        )
        net_wh = np.rint(residual_wh).astype(np.int64) + extra_wh
        side = np.sign(net_wh).astype(int)
        price = np.select([side == BUY, side == SELL], [bid, ask], default=0.0)
        quantity_wh = np.abs(net_wh)
        return OrderQuotes(
            side=side,
            quantity_wh=quantity_wh,
            price_usd_per_kwh=price,
            dispatchable_wh=battery_sale_wh(side, quantity_wh, -extra_wh),
        )


def _require_per_household(name: str, values: npt.NDArray, ok: npt.NDArray, expected: str) -> None:
    bad = np.flatnonzero(~ok)
    if bad.size:
        index = int(bad[0])
        raise ValueError(f"{name}[{index}] is {values[index]}; expected {expected}")
