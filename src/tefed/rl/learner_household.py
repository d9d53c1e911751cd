"""A household whose decisions come from a learner, as a federate logic.

It honours the external-household contract of ``docs/interfaces.md`` (its own ``power_kw``
publication, its endpoint ``household/<id>``, orders to the market, awards, settlements and
rejections from it) and models the household with tefed's own ems device models: the profiles
of `tefed.federates.ems.household_profiles` (load, PV, EV) and the battery of
`tefed.domain.ems.devices.battery_dispatch`, so that it is the household the built-in ems would
have simulated, only steered by the learner.

At each decision instant the logic hands a `Decision` (observation, reward, KPIs) to the learner
through a `DecisionChannel` and waits for its `HouseholdAction`:

- ``step: market_interval``: at the gate closure of every interval ``k`` with a market
  (``k·Δm − G``); the action's orders go to the market for ``k`` and its battery set-point holds
  during the delivery of ``k``;
- ``step: grid_step``: at every grid step ``t``; the battery set-point holds for ``[t, t + Δg)``
  and the orders go to the market only when a gate closes at ``t``.

A final decision at the end of the run (after the last settlement) carries the last reward and
waits for nothing. The reward of a decision is the money the household received since the
previous one (settlements, positive for income: ``−amount_usd``), less the voltage penalty of
the grid steps in between. A settlement arrives after its interval is delivered, so an
interval's money is part of the reward of the decision after the one that ordered for it.
"""

from __future__ import annotations

import logging
import math
import queue
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tefed.contract import keys
from tefed.contract.logic import FederateContext, FederateLogic, Message, StepInputs, StepOutputs
from tefed.contract.messages import (
    AwardsMessage,
    Order,
    OrdersMessage,
    RejectedMessage,
    SettlementMessage,
    parse_market_message,
)
from tefed.contract.role_configs import EmsConfig, read_role_config
from tefed.contract.run_folder import RunFolder
from tefed.domain.ems.devices.battery_dispatch import dispatch_battery
from tefed.domain.prices.interval_prices import IntervalPrices
from tefed.federates.ems.household_profiles import household_batteries, household_profiles
from tefed.rl.actions import IDLE, HouseholdAction
from tefed.rl.observations import observation_fields, observation_vector
from tefed.rl.options import EnvOptions

log = logging.getLogger("tefed.rl")

#: Watts-hours per kilowatt-second.
WH_PER_KW_S = 1 / 3.6


@dataclass
class Decision:
    """What a learned household reports at a decision instant.

    Attributes
    ----------
    time_s : int
        Simulated time of the decision [s].
    observation : numpy.ndarray
        The observation vector (`tefed.rl.observations`).
    reward_usd : float
        Money received since the previous decision, less the voltage penalty [USD].
    info : dict
        The KPIs of the time since the previous decision (see ``docs/learning-agents.md``).
    final : bool
        True at the end of the run: no action is expected.
    """

    time_s: int
    observation: np.ndarray
    reward_usd: float
    info: dict[str, Any]
    final: bool


class EpisodeClosedError(Exception):
    """The learner ended the episode before the federation reached its end."""


_CLOSE = object()


class DecisionChannel:
    """The hand-off between a learned household's federate thread and the learner."""

    def __init__(self) -> None:
        self._decisions: queue.Queue[Decision] = queue.Queue()
        self._actions: queue.Queue[Any] = queue.Queue()

    def offer(self, decision: Decision) -> HouseholdAction:
        """Federate side: hand over ``decision`` and wait for the learner's action (none for a
        final decision: the household then stays idle).

        Raises
        ------
        EpisodeClosedError
            When the learner closed the episode instead of acting.
        """
        self._decisions.put(decision)
        if decision.final:
            return IDLE
        action = self._actions.get()
        if action is _CLOSE:
            raise EpisodeClosedError("the learner closed the episode before the end of the run")
        return action

    def next_decision(self, timeout_s: float) -> Decision | None:
        """Learner side: the next decision, or None when none came within ``timeout_s`` [s]."""
        try:
            return self._decisions.get(timeout=timeout_s)
        except queue.Empty:
            return None

    def act(self, action: HouseholdAction) -> None:
        """Learner side: answer the pending decision."""
        self._actions.put(action)

    def close(self) -> None:
        """Learner side: end the episode; a federate waiting for an action stops."""
        self._actions.put(_CLOSE)


@dataclass
class _Tally:
    """What happened since the previous decision."""

    bill_usd: float = 0.0
    trade_usd: float = 0.0
    grid_usd: float = 0.0
    metered_energy_wh: float = 0.0
    awarded_net_energy_wh: float = 0.0
    traded_energy_wh: float = 0.0
    settled_intervals: list[int] = field(default_factory=list)
    settled_usd: list[float] = field(default_factory=list)
    settled_energy_wh: list[float] = field(default_factory=list)
    voltage_min_pu: float = math.inf
    voltage_max_pu: float = -math.inf
    voltage_penalty_usd: float = 0.0
    battery_charged_kwh: float = 0.0
    battery_discharged_kwh: float = 0.0
    rejected_orders: int = 0


class LearnerHousehold(FederateLogic):
    """One household of the federation, steered by a learner (see the module docstring).

    Parameters
    ----------
    options : EnvOptions
        How decisions fall, and the reward's voltage penalty.
    channel : DecisionChannel
        Where decisions go and actions come from.
    """

    role = "ems"

    def __init__(self, options: EnvOptions, channel: DecisionChannel):
        self._options = options
        self._channel = channel

    # --- set-up -------------------------------------------------------------------------------

    def initialize(self, context: FederateContext) -> None:
        """Build the household's profiles and battery from its row of the household table."""
        config: EmsConfig = read_role_config(self.role, context.config, context.name)
        (household,) = config.households
        grid = self._grid = context.time_grid
        table = context.federation.households_frame()
        rows = table.loc[[household]]
        forecast = self._options.forecast_intervals
        profiles = household_profiles(
            table,
            grid,
            context.federation.tefed.site,
            config.pv_model,
            context.seed,
            [household],
            community=False,
            base_dir=context.base_dir,
            forecast_steps=forecast * grid.steps_per_interval,
        )
        self._load_kw = profiles.load_kw[:, 0]
        self._pv_kw = profiles.pv_kw[:, 0]
        self._ev_kw = profiles.ev_kw[:, 0]
        self._battery, self._soc_kwh = household_batteries(rows)
        self._kvar_per_kw = math.tan(math.acos(float(rows["power_factor"].iloc[0])))
        self._publish_reactive = config.publish_reactive_power
        self._endpoint = keys.household_endpoint(household)
        self._power_key = keys.household_power(household)
        self._reactive_key = keys.household_reactive_power(household)
        self._voltage_key = keys.household_voltage(household)
        self._prices = IntervalPrices(grid.n_intervals + forecast)
        self._fields = observation_fields(forecast)
        calendar = grid.calendar(np.append(grid.step_times_s(), grid.duration_s))
        self._hour_of_day = np.asarray(
            calendar.hour + calendar.minute / 60 + calendar.second / 3600, dtype=float
        )
        if self._options.step == "market_interval":
            self._decision_times = {grid.gate_closure_time_s(k) for k in range(1, grid.n_intervals)}
        else:
            self._decision_times = set(grid.step_times_s().tolist())
        #: Battery power requested during each interval (market_interval) [kW].
        self._interval_request_kw = np.zeros(grid.n_intervals)
        #: Battery power requested for the current grid step (grid_step) [kW].
        self._step_request_kw = 0.0
        self._awarded_net_wh = np.zeros(grid.n_intervals)
        self._voltage_pu = 1.0
        self._market_traded_wh = 0.0
        self._market_price = 0.0
        self._last_settlement_usd = 0.0
        self._last_settlement_wh = 0.0
        self._tally = _Tally()

    def schedule_s(self) -> np.ndarray:
        """Every grid step, and the end of the run (the last settlement)."""
        return np.append(self._grid.step_times_s(), self._grid.duration_s)

    # --- stepping -----------------------------------------------------------------------------

    def step(self, time_s: int, inputs: StepInputs) -> StepOutputs:
        """Read prices, market values and messages; decide when due; dispatch and publish."""
        grid = self._grid
        self._prices.update(grid.interval_of(min(time_s, grid.duration_s - 1)), inputs.values)
        self._read_values(inputs.values)
        for message in inputs.messages:
            self._receive(message)
        outputs = StepOutputs()
        if time_s >= grid.duration_s:
            self._channel.offer(self._decision(time_s, final=True))
            return outputs
        if time_s in self._decision_times:
            action = self._channel.offer(self._decision(time_s, final=False))
            outputs.messages.extend(self._act(time_s, action))
        power_kw = self._dispatch(time_s)
        outputs.values[self._power_key] = power_kw
        if self._publish_reactive:
            outputs.values[self._reactive_key] = max(power_kw, 0.0) * self._kvar_per_kw
        return outputs

    def _read_values(self, values: dict[str, Any]) -> None:
        voltage = float(values.get(self._voltage_key, math.nan))
        if math.isfinite(voltage):
            # The grid's voltage of the previous grid step.
            self._voltage_pu = voltage
            tally = self._tally
            tally.voltage_min_pu = min(tally.voltage_min_pu, voltage)
            tally.voltage_max_pu = max(tally.voltage_max_pu, voltage)
            low, high = self._options.voltage_band_pu
            outside_pu = max(0.0, voltage - high, low - voltage)
            tally.voltage_penalty_usd += (
                self._options.voltage_penalty_usd_per_pu_h
                * outside_pu
                * self._grid.grid_step_s
                / 3600.0
            )
        traded = float(values.get(keys.TRADED_ENERGY, math.nan))
        if math.isfinite(traded):
            self._market_traded_wh = traded
        price = float(values.get(keys.MEAN_TRADE_PRICE, math.nan))
        if math.isfinite(price):
            self._market_price = price

    def _receive(self, message: Message) -> None:
        if message.source != keys.MARKET_ENDPOINT:
            log.warning("message from %r ignored: only the market writes to households", message)
            return
        try:
            parsed = parse_market_message(message.payload)
        except (ValueError, RecursionError) as error:
            log.warning("message from the market ignored: %s", error)
            return
        tally = self._tally
        if isinstance(parsed, AwardsMessage):
            if 0 <= parsed.interval_index < self._grid.n_intervals:
                self._awarded_net_wh[parsed.interval_index] = sum(
                    award.quantity_wh if award.side == "buy" else -award.quantity_wh
                    for award in parsed.awards
                )
        elif isinstance(parsed, SettlementMessage):
            tally.settled_intervals.append(parsed.interval_index)
            tally.settled_usd.append(-parsed.amount_usd)
            tally.settled_energy_wh.append(parsed.energy_wh)
            tally.bill_usd += parsed.amount_usd
            tally.metered_energy_wh += parsed.energy_wh
            tally.awarded_net_energy_wh += parsed.awarded_net_energy_wh
            for line in parsed.lines:
                if line.reason == "trade":
                    tally.trade_usd += line.amount_usd
                    tally.traded_energy_wh += abs(line.energy_wh)
                else:
                    tally.grid_usd += line.amount_usd
            self._last_settlement_usd = parsed.amount_usd
            self._last_settlement_wh = parsed.energy_wh
        elif isinstance(parsed, RejectedMessage):
            tally.rejected_orders += len(parsed.rejections)
            log.warning(
                "market rejected orders of %s: %s",
                self._endpoint,
                "; ".join(f"{r.order_id}: {r.reason}" for r in parsed.rejections),
            )

    def _decision(self, time_s: int, final: bool) -> Decision:
        """The observation at ``time_s``, and the reward and KPIs since the previous decision."""
        grid = self._grid
        tally, self._tally = self._tally, _Tally()
        reward_usd = -tally.bill_usd - tally.voltage_penalty_usd
        info = {
            "time_s": time_s,
            "interval_index": grid.interval_cleared_at(time_s) if not final else None,
            "settled_intervals": tally.settled_intervals,
            "settled_usd": tally.settled_usd,
            "settled_energy_wh": tally.settled_energy_wh,
            "bill_usd": tally.bill_usd,
            "trade_usd": tally.trade_usd,
            "grid_usd": tally.grid_usd,
            "metered_energy_wh": tally.metered_energy_wh,
            "awarded_net_energy_wh": tally.awarded_net_energy_wh,
            "traded_energy_wh": tally.traded_energy_wh,
            "voltage_min_pu": tally.voltage_min_pu if tally.voltage_min_pu <= 2 else math.nan,
            "voltage_max_pu": tally.voltage_max_pu if tally.voltage_max_pu >= 0 else math.nan,
            "voltage_penalty_usd": tally.voltage_penalty_usd,
            "battery_charged_kwh": tally.battery_charged_kwh,
            "battery_discharged_kwh": tally.battery_discharged_kwh,
            "soc_kwh": float(self._soc_kwh[0]),
            "rejected_orders": tally.rejected_orders,
        }
        return Decision(time_s, self._observation(time_s), reward_usd, info, final)

    def _observation(self, time_s: int) -> np.ndarray:
        grid = self._grid
        forecast = self._options.forecast_intervals
        # The next interval whose gate is still open at time_s (or closes now).
        ordered = min(
            -(-(time_s + grid.gate_closure_s) // grid.market_interval_s), grid.n_intervals
        )
        per_interval = grid.steps_per_interval
        steps = slice(ordered * per_interval, (ordered + 1) * per_interval)
        delivered = min(grid.interval_of(min(time_s, grid.duration_s - 1)), grid.n_intervals - 1)
        capacity_kwh = float(self._battery.capacity_kwh[0])
        prices = slice(ordered, ordered + forecast)
        values = {
            "time_of_day_h": self._hour_of_day[time_s // grid.grid_step_s],
            "episode_fraction": time_s / grid.duration_s,
            "orders_open": float(grid.interval_cleared_at(time_s) is not None),
            "import_price_usd_per_kwh": _filled(self._prices.import_usd_per_kwh[prices], forecast),
            "export_price_usd_per_kwh": _filled(self._prices.export_usd_per_kwh[prices], forecast),
            "load_power_kw": float(self._load_kw[steps].mean()),
            "pv_power_kw": float(self._pv_kw[steps].mean()),
            "ev_power_kw": float(self._ev_kw[steps].mean()),
            "soc_kwh": float(self._soc_kwh[0]),
            "soc_fraction": float(self._soc_kwh[0]) / capacity_kwh if capacity_kwh > 0 else 0.0,
            "awarded_net_energy_wh": float(self._awarded_net_wh[delivered]),
            "last_settlement_usd": self._last_settlement_usd,
            "last_settlement_energy_wh": self._last_settlement_wh,
            "market_traded_energy_wh": self._market_traded_wh,
            "market_mean_trade_price_usd_per_kwh": self._market_price,
            "voltage_pu": self._voltage_pu,
        }
        return observation_vector(self._fields, values)

    def _act(self, time_s: int, action: HouseholdAction) -> list[Message]:
        """Apply the battery set-point; the orders for the interval whose gate closes now."""
        fraction = action.battery_fraction
        rating = (
            self._battery.charge_power_kw if fraction >= 0 else self._battery.discharge_power_kw
        )
        request_kw = fraction * float(rating[0])
        interval = self._grid.interval_cleared_at(time_s)
        if self._options.step == "grid_step":
            self._step_request_kw = request_kw
        elif interval is not None:
            self._interval_request_kw[interval] = request_kw
        if interval is None:
            return []
        import_price, export_price = self._prices.of(interval)
        full_wh = self._options.max_order_power_kw * self._grid.market_interval_s * WH_PER_KW_S
        orders = []
        for side, quantity, price in (
            ("buy", action.buy_quantity_fraction, action.buy_price_fraction),
            ("sell", action.sell_quantity_fraction, action.sell_price_fraction),
        ):
            quantity_wh = round(quantity * full_wh)
            if quantity_wh >= 1:
                orders.append(
                    Order(
                        order_id=f"{interval}-{side}",
                        side=side,
                        quantity_wh=quantity_wh,
                        price_usd_per_kwh=round(
                            export_price + price * (import_price - export_price), 6
                        ),
                    )
                )
        if not orders:
            return []
        message = OrdersMessage(interval_index=interval, orders=orders)
        return [Message(self._endpoint, keys.MARKET_ENDPOINT, message.model_dump_json())]

    def _dispatch(self, time_s: int) -> float:
        """Net power of the grid step at ``time_s`` [kW], the battery following its set-point."""
        grid = self._grid
        step = time_s // grid.grid_step_s
        if self._options.step == "grid_step":
            request_kw = self._step_request_kw
        else:
            request_kw = float(self._interval_request_kw[grid.interval_of(time_s)])
        natural_kw = self._load_kw[step] + self._ev_kw[step] - self._pv_kw[step]
        battery_kw, self._soc_kwh = dispatch_battery(
            self._soc_kwh, np.array([request_kw]), grid.grid_step_s, self._battery
        )
        energy_kwh = float(battery_kw[0]) * grid.grid_step_s / 3600.0
        if energy_kwh >= 0:
            self._tally.battery_charged_kwh += energy_kwh
        else:
            self._tally.battery_discharged_kwh -= energy_kwh
        return float(natural_kw + battery_kw[0])

    def finalize(self, results: RunFolder) -> None:
        """Nothing to write: the market's tables hold the household's orders, awards and bills,
        and the grid's its power and voltage."""
        return None


def _filled(prices: np.ndarray, size: int) -> np.ndarray:
    """``size`` prices: the known ones, the last known one repeated after them (0 if none).

    Examples
    --------
    >>> _filled(np.array([0.3, np.nan]), 3)
    array([0.3, 0.3, 0.3])
    """
    values = np.full(size, np.nan)
    values[: prices.size] = prices
    last = 0.0
    for index in range(size):
        if np.isfinite(values[index]):
            last = values[index]
        else:
            values[index] = last
    return values
