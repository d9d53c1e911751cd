"""Household electric vehicles: a daily plug-in window, an energy need and feasible charging.

Every array is indexed by household (length ``n``). A household without an EV has
``capacity_kwh == 0`` and always draws 0 kW. Each EV follows the same routine every day: it is
plugged in at home at ``arrival_hour`` and leaves at ``departure_hour`` (local hours of the
day, resolved to whole seconds); a departure at or before the arrival on the clock is on the
next day, so 18 → 7 is an overnight window of 13 h. At each arrival it needs
``energy_needed_kwh`` stored in its battery before it leaves (the energy driven since the last
departure).

``charging_power_kw`` is the AC power drawn from the household bus, averaged over a step,
``>= 0`` (no vehicle-to-grid); a household adds it to its load. Two charging modes:

- ``uncontrolled``: full charger power from arrival until the need is met (pass no request);
- ``smart``: a controller requests a power per step (for example the household's PV surplus
  or a price-following schedule); :func:`charge_ev` keeps it feasible — never above the charger
  power or what is still needed, and never so low that the need can no longer be met by the
  departure ("latest start": once the rest of the window at full power is just enough, it
  charges at full power).

Households of both modes share one call: pass ``numpy.where(smart, request_kw, numpy.inf)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from tefed.contract.time_grid import SECONDS_PER_DAY, SECONDS_PER_HOUR
from tefed.domain.ems.devices.household_checks import require_per_household

HOURS_PER_DAY = 24.0

_FIELDS = (
    "capacity_kwh",
    "charger_kw",
    "efficiency",
    "arrival_hour",
    "departure_hour",
    "energy_needed_kwh",
)


@dataclass(frozen=True)
class EvParameters:
    """Electric vehicles of ``n`` households, one array entry per household.

    The arrays are copied to read-only ``float`` arrays (a scalar applies to every household)
    and validated on construction. Field names are those of the scenario's ``ev`` section.

    Parameters
    ----------
    capacity_kwh : numpy.ndarray
        Vehicle battery capacity, ``>= 0``; 0 means the household has no EV [kWh].
    charger_kw : numpy.ndarray or float
        Home charger rating, the most drawn from the household bus, ``>= 0`` [kW].
    efficiency : numpy.ndarray or float
        Fraction of the AC energy drawn that is stored in the vehicle, in ``(0, 1]`` [-].
    arrival_hour : numpy.ndarray or float
        Local time of day the vehicle is plugged in, in ``[0, 24]`` (24 is midnight) [h].
    departure_hour : numpy.ndarray or float
        Local time of day it leaves, in ``[0, 24]``; at or before ``arrival_hour`` on the clock
        means the next day; must differ from ``arrival_hour`` for a household with an EV [h].
    energy_needed_kwh : numpy.ndarray or float
        Energy to store between arrival and departure each day, in ``[0, capacity_kwh]``;
        ignored (taken as 0) for a household without an EV [kWh].
    household_ids : sequence of str, optional, keyword-only
        Names of the households; errors then read ``households[h007].ev.charger_kw is ...``.

    Raises
    ------
    ValueError
        If an array is not 1-D or of another length than ``capacity_kwh``, or a value is out
        of range; the message names the field, the first offending household, its value and
        what was expected.
    """

    capacity_kwh: np.ndarray
    charger_kw: np.ndarray | float
    efficiency: np.ndarray | float
    arrival_hour: np.ndarray | float
    departure_hour: np.ndarray | float
    energy_needed_kwh: np.ndarray | float
    _: KW_ONLY
    household_ids: Sequence[str] | None = None

    def __post_init__(self) -> None:
        shape = np.shape(self.capacity_kwh)
        for name in _FIELDS:
            values = np.array(getattr(self, name), dtype=float)
            if values.ndim == 0 and name != "capacity_kwh":
                values = np.full(shape, values)
            values.setflags(write=False)
            object.__setattr__(self, name, values)
        if self.household_ids is not None:
            object.__setattr__(self, "household_ids", tuple(str(h) for h in self.household_ids))
        self._validate()

    def _validate(self) -> None:
        count = self.capacity_kwh.shape[0] if self.capacity_kwh.ndim == 1 else None
        for name in _FIELDS:
            values = getattr(self, name)
            if values.ndim != 1:
                raise ValueError(
                    f"{name} has shape {values.shape}; expected a 1-D array over households"
                )
            if values.shape[0] != count:
                raise ValueError(
                    f"{name} has {values.shape[0]} entries; expected {count}, one per household "
                    "like capacity_kwh"
                )
        ids = self.household_ids
        if ids is not None and len(ids) != count:
            raise ValueError(
                f"household_ids has {len(ids)} entries; expected {count}, one per household "
                "like capacity_kwh"
            )

        def require(name: str, ok: np.ndarray, expected: str) -> None:
            values = getattr(self, name)
            require_per_household(name, values, ok, expected, household_ids=ids, device="ev")

        for name in ("capacity_kwh", "charger_kw"):
            values = getattr(self, name)
            require(name, np.isfinite(values) & (values >= 0), "a finite value >= 0")
        require("efficiency", (self.efficiency > 0) & (self.efficiency <= 1), "in (0, 1]")
        for name in ("arrival_hour", "departure_hour"):
            values = getattr(self, name)
            require(name, (values >= 0) & (values <= HOURS_PER_DAY), "in [0, 24]")
        stay_s = shortest_stay_s(
            self.arrival_hour, self.arrival_hour, self.departure_hour, self.departure_hour
        )
        require(
            "departure_hour",
            ~self.has_ev | (stay_s > 0),
            "a time of day other than arrival_hour of the same household",
        )
        require(
            "energy_needed_kwh",
            need_fits(self.energy_needed_kwh, self.capacity_kwh),
            "in [0, capacity_kwh] (capacity_kwh of the same household)",
        )

    @property
    def household_count(self) -> int:
        """Number of households ``n`` the arrays describe."""
        return int(self.capacity_kwh.shape[0])

    @property
    def has_ev(self) -> np.ndarray:
        """True where the household has an EV (``capacity_kwh > 0``)."""
        return self.capacity_kwh > 0

    @property
    def arrival_time_of_day_s(self) -> np.ndarray:
        """``arrival_hour`` in whole seconds of the day, in ``[0, 86400)`` [s]."""
        return _whole_seconds_of_day(self.arrival_hour)

    @property
    def departure_time_of_day_s(self) -> np.ndarray:
        """``departure_hour`` in whole seconds of the day, in ``[0, 86400)`` [s]."""
        return _whole_seconds_of_day(self.departure_hour)

    @property
    def plugged_duration_s(self) -> np.ndarray:
        """Daily plug-in window, departure minus arrival modulo one day, in [0, 86400) [s]."""
        return np.mod(self.departure_time_of_day_s - self.arrival_time_of_day_s, SECONDS_PER_DAY)

    @property
    def need_kwh(self) -> np.ndarray:
        """Energy to store per plug-in window, 0 for a household without an EV [kWh]."""
        return np.where(self.has_ev, self.energy_needed_kwh, 0.0)

    @property
    def deliverable_kwh(self) -> np.ndarray:
        """Most energy one window can store, ``charger_kw * efficiency * window`` [kWh]."""
        return self.charger_kw * self.efficiency * self.plugged_duration_s / SECONDS_PER_HOUR


def need_fits(energy_needed_kwh: npt.ArrayLike, capacity_kwh: npt.ArrayLike) -> np.ndarray:
    """Where a daily need is one the vehicle can take: ``0 <= need <= capacity``, or no EV.

    The rule `EvParameters` enforces; the scenario checks its ranges with it too.

    Parameters
    ----------
    energy_needed_kwh : array_like
        Energy to store per plug-in window [kWh].
    capacity_kwh : array_like
        Vehicle battery capacity, ``>= 0``; 0 means no EV, whose need is ignored [kWh].

    Returns
    -------
    numpy.ndarray
        Boolean, broadcast over the two arguments.

    Examples
    --------
    >>> need_fits([10.0, 50.0, 50.0], [60.0, 10.0, 0.0])
    array([ True, False,  True])
    """
    need = np.asarray(energy_needed_kwh, dtype=float)
    capacity = np.asarray(capacity_kwh, dtype=float)
    return (need >= 0) & ((need <= capacity) | ~(capacity > 0))


def shortest_stay_s(
    earliest_arrival_hour: npt.ArrayLike,
    latest_arrival_hour: npt.ArrayLike,
    earliest_departure_hour: npt.ArrayLike,
    latest_departure_hour: npt.ArrayLike,
) -> np.ndarray:
    """Shortest plug-in window or time away of any arrival and departure in the given ranges.

    Times resolve to whole seconds of the day as `EvParameters` resolves them; a vehicle whose
    arrival and departure fall on the same second has no window, and :func:`charge_ev` takes
    steps of at most the shorter of its window and its time away. The scenario checks its
    ranges with this; a single arrival and departure give equal earliest and latest times.

    Parameters
    ----------
    earliest_arrival_hour, latest_arrival_hour : array_like
        Range of the local plug-in time, earliest at most latest, each in ``[0, 24]`` [h].
    earliest_departure_hour, latest_departure_hour : array_like
        Range of the local unplug time, earliest at most latest, each in ``[0, 24]`` [h].

    Returns
    -------
    numpy.ndarray
        The smaller of the window and the time away, minimised over the ranges, in
        ``[0, 43200]``; 0 where an arrival and a departure can fall on the same second [s].

    Examples
    --------
    18:00 to 07:00 is a 13 h window and 11 h away; 24:00 is midnight, so 24 → 0 has no window;
    arrivals from 17:00 to 19:30 and departures from 19:00 can meet:

    >>> shortest_stay_s([18.0, 24.0, 17.0], [18.0, 24.0, 19.5], [7.0, 0.0, 19.0],
    ...                 [7.0, 0.0, 20.0])
    array([39600.,     0.,     0.])
    """
    day_s = float(SECONDS_PER_DAY)
    # Departure minus arrival ranges over [low_s, high_s]; whole days between are no window.
    low_s = _whole_seconds(earliest_departure_hour) - _whole_seconds(latest_arrival_hour)
    high_s = _whole_seconds(latest_departure_hour) - _whole_seconds(earliest_arrival_hour)
    low_of_day_s = np.mod(low_s, day_s)
    spans_midnight = (low_of_day_s == 0) | (low_of_day_s + (high_s - low_s) >= day_s)
    high_of_day_s = np.mod(high_s, day_s)
    nearest_s = np.minimum(
        np.minimum(low_of_day_s, day_s - low_of_day_s),
        np.minimum(high_of_day_s, day_s - high_of_day_s),
    )
    return np.where(spans_midnight, 0.0, nearest_s)


class EvState(NamedTuple):
    """State of every household's EV between steps."""

    #: Energy still to store before the current window ends; 0 while away [kWh].
    energy_to_go_kwh: np.ndarray
    #: True while the vehicle is plugged in at home (at the end of the last step) [-].
    plugged: np.ndarray


class EvStep(NamedTuple):
    """Outcome of one charging step (see :func:`charge_ev`)."""

    #: AC power drawn from the household bus, averaged over the step, ``>= 0`` [kW].
    charging_power_kw: np.ndarray
    #: State at the end of the step.
    state: EvState
    #: True where the vehicle left during the step (or at its end) [-].
    departed: np.ndarray
    #: Need not met at a departure, ``>= 0``; 0 where nothing left or the need was met [kWh].
    shortfall_kwh: np.ndarray


def initial_ev_state(time_of_day_s: float, parameters: EvParameters) -> EvState:
    """State at the start of a run: a vehicle inside its window is plugged in with its full need.

    Parameters
    ----------
    time_of_day_s : float
        Local time of day at the start of the run, in ``[0, 86400)`` [s].
    parameters : EvParameters
        The households' EVs.

    Returns
    -------
    EvState
        ``plugged`` where the start lies in the window; ``energy_to_go_kwh`` is the daily need
        there and 0 elsewhere [kWh].

    Notes
    -----
    A run starting inside a window treats the vehicle as just arrived, with less time left
    than a whole window; its need may then not be met by the first departure (reported as a
    shortfall by :func:`charge_ev`).

    Examples
    --------
    At midnight a car with an 18:00 to 07:00 window is home; one with 08:00 to 17:00 is not:

    >>> ev = EvParameters([60.0, 60.0], 7.4, 0.9, [18.0, 8.0], [7.0, 17.0], 10.0)
    >>> initial_ev_state(0.0, ev)
    EvState(energy_to_go_kwh=array([10.,  0.]), plugged=array([ True, False]))
    """
    _check_time_of_day(time_of_day_s)
    phase_s = np.mod(time_of_day_s - parameters.arrival_time_of_day_s, SECONDS_PER_DAY)
    plugged = parameters.has_ev & (phase_s < parameters.plugged_duration_s)
    return EvState(np.where(plugged, parameters.need_kwh, 0.0), plugged)


def charge_ev(
    state: EvState,
    requested_power_kw: npt.ArrayLike | None,
    time_of_day_s: float,
    duration_s: float,
    parameters: EvParameters,
) -> EvStep:
    """Charge every household's EV for one step, feasibly, and report departures.

    Parameters
    ----------
    state : EvState
        State at the start of the step (from :func:`initial_ev_state` or the last step).
    requested_power_kw : array_like or None
        ``smart`` mode: the controller's wish per household, not NaN (``inf`` means as fast as
        possible; below 0 means no charging); ``None`` means ``uncontrolled`` for all [kW].
    time_of_day_s : float
        Local time of day at the start of the step, in ``[0, 86400)`` [s].
    duration_s : float
        Length of the step, ``> 0`` and at most the shorter of each EV's plug-in window and
        time away, so that a step holds at most one arrival or departure [s].
    parameters : EvParameters
        The households' EVs.

    Returns
    -------
    EvStep
        ``charging_power_kw`` [kW], the new ``state``, ``departed`` and ``shortfall_kwh`` [kWh].

    Raises
    ------
    ValueError
        If a shape disagrees with ``parameters``, a request is NaN, the time of day or the step
        length is out of range.

    Notes
    -----
    With the step :math:`[t, t + \\Delta t)`, charger rating :math:`P`, efficiency
    :math:`\\eta` and the energy still to store :math:`E`:

    1. the plugged part of the step :math:`[s_0, s_1)` follows from the window (a vehicle may
       arrive or leave inside the step); arriving (plugged in the step, not before) resets
       :math:`E` to the daily need;
    2. the most the step can take is :math:`p_{max} = \\min(P (s_1 - s_0) / \\Delta t,\\;
       E / (\\eta \\Delta t_h))`: the charger over the plugged part, and no more than needed;
    3. latest start: with :math:`T` the window left after the step, the step must store what
       full power afterwards cannot, :math:`p_{min} = \\min(\\max(E - P \\eta T_h, 0) /
       (\\eta \\Delta t_h),\\; p_{max})`;
    4. :math:`p = \\min(\\max(r, p_{min}), p_{max})`, with :math:`r = p_{max}` when
       uncontrolled; :math:`E' = E - p \\eta \\Delta t_h`, exactly 0 when the need is met;
    5. a vehicle that leaves in the step (or at its end) reports :math:`\\max(E', 0)` as its
       shortfall; a need larger than the window can deliver is charged at full power
       throughout and the remainder is reported, not dropped silently.

    When :math:`P \\eta \\cdot` window :math:`\\ge` need, the need is met by the departure
    whatever the requests.

    Examples
    --------
    A 10 kW charger at 90 % efficiency stores 2.25 kWh per 15 minutes. A car arriving at
    18:00 needing 18 kWh charges at 10 kW; with a smart request of 0 kW it waits, because
    18 kWh fit into the 13 h window many times over:

    >>> ev = EvParameters([60.0], 10.0, 0.9, 18.0, 7.0, 18.0)
    >>> state = EvState(np.zeros(1), np.zeros(1, bool))
    >>> charge_ev(state, None, 18 * 3600.0, 900.0, ev).charging_power_kw
    array([10.])
    >>> step = charge_ev(state, np.zeros(1), 18 * 3600.0, 900.0, ev)
    >>> step.charging_power_kw, step.state.energy_to_go_kwh
    (array([0.]), array([18.]))
    """
    to_go = np.asarray(state.energy_to_go_kwh, dtype=float)
    was_plugged = np.asarray(state.plugged, dtype=bool)
    shape = parameters.capacity_kwh.shape
    request = np.full(shape, np.inf) if requested_power_kw is None else requested_power_kw
    request = np.asarray(request, dtype=float)
    for name, values in (
        ("energy_to_go_kwh", to_go),
        ("plugged", was_plugged),
        ("requested_power_kw", request),
    ):
        if values.shape != shape:
            raise ValueError(
                f"{name} has shape {values.shape}; expected {shape}, one value per household "
                "of the EV parameters"
            )
    ids = parameters.household_ids
    require_per_household(
        "requested_power_kw",
        request,
        ~np.isnan(request),
        "a number, not NaN",
        household_ids=ids,
        device="ev",
    )
    _check_time_of_day(time_of_day_s)
    if not np.isfinite(duration_s) or duration_s <= 0:
        raise ValueError(f"duration_s is {duration_s}; expected a positive number of seconds")
    window_s = parameters.plugged_duration_s
    arrival_h, departure_h = parameters.arrival_hour, parameters.departure_hour
    longest_s = np.where(
        parameters.has_ev, shortest_stay_s(arrival_h, arrival_h, departure_h, departure_h), np.inf
    )
    require_per_household(
        "duration_s",
        np.full(shape, duration_s),
        duration_s <= longest_s,
        "at most the shorter of this household's plug-in window and time away "
        "(one arrival or departure per step)",
        household_ids=ids,
        device="ev",
    )

    # Offsets from the step start: plugged over [start_s, min(duration_s, end_s)).
    phase_s = np.mod(time_of_day_s - parameters.arrival_time_of_day_s, SECONDS_PER_DAY)
    home_at_start = phase_s < window_s
    start_s = np.where(home_at_start, 0.0, SECONDS_PER_DAY - phase_s)
    end_s = np.where(home_at_start, window_s - phase_s, SECONDS_PER_DAY - phase_s + window_s)
    plugged_s = np.maximum(np.minimum(duration_s, end_s) - start_s, 0.0)
    was_plugged = parameters.has_ev & was_plugged
    in_step = parameters.has_ev & (plugged_s > 0)
    still_plugged = in_step & (end_s > duration_s)
    arrives = in_step & ~was_plugged
    # A vehicle that left between steps (a clock jump) keeps its need so that it is reported.
    to_go = np.where(arrives, parameters.need_kwh, np.where(was_plugged, to_go, 0.0))

    duration_h = duration_s / SECONDS_PER_HOUR
    eta = parameters.efficiency
    charger_kw = parameters.charger_kw
    need_kw = to_go / (eta * duration_h)
    max_kw = np.minimum(charger_kw * (plugged_s / duration_s), need_kw)
    later_kwh = charger_kw * eta * np.maximum(end_s - duration_s, 0.0) / SECONDS_PER_HOUR
    min_kw = np.minimum(np.maximum(to_go - later_kwh, 0.0) / (eta * duration_h), max_kw)
    power = np.clip(request, min_kw, max_kw)

    met = (to_go > 0) & (power >= need_kw)
    remaining = np.where(met, 0.0, np.maximum(to_go - power * eta * duration_h, 0.0))
    departed = (was_plugged | in_step) & ~still_plugged
    shortfall = np.where(departed, remaining, 0.0)
    new_state = EvState(np.where(still_plugged, remaining, 0.0), still_plugged)
    return EvStep(power, new_state, departed, shortfall)


def _whole_seconds(hours: npt.ArrayLike) -> np.ndarray:
    # Whole seconds make window arithmetic exact, so a step ending on a departure ends it.
    return np.round(np.asarray(hours, dtype=float) * SECONDS_PER_HOUR)


def _whole_seconds_of_day(hours: np.ndarray) -> np.ndarray:
    return np.mod(_whole_seconds(hours), SECONDS_PER_DAY)


def _check_time_of_day(time_of_day_s: float) -> None:
    if not np.isfinite(time_of_day_s) or not 0 <= time_of_day_s < SECONDS_PER_DAY:
        raise ValueError(
            f"time_of_day_s is {time_of_day_s}; expected local seconds of the day in [0, 86400)"
        )
