"""Household batteries: limits, losses and state of charge, for all households at once.

Every array is indexed by household (length ``n``). A household without a battery has
``capacity_kwh == 0`` and is always dispatched at 0 kW. ``battery_power_kw`` is measured at the
household's AC connection: positive means charging (drawn from the household bus), negative
means discharging (see ``docs/nomenclature.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

SECONDS_PER_HOUR = 3600.0

_RATING_FIELDS = (
    "capacity_kwh",
    "power_kw",
    "charge_efficiency",
    "discharge_efficiency",
    "soc_min",
    "soc_max",
)
_OPTIONAL_FIELDS = ("charge_power_kw", "discharge_power_kw", "self_discharge_per_h")


@dataclass(frozen=True)
class BatteryParameters:
    """Ratings of the batteries of ``n`` households, one array entry per household.

    The arrays are copied to read-only ``float`` arrays and validated on construction.

    Parameters
    ----------
    capacity_kwh : numpy.ndarray
        Usable energy capacity, ``>= 0``; 0 means the household has no battery [kWh].
    power_kw : numpy.ndarray
        Rating of the power converter, the most the battery charges or discharges at the AC
        side, ``>= 0`` [kW].
    charge_efficiency : numpy.ndarray
        Fraction of the AC energy drawn while charging that is stored, in ``(0, 1]`` [-].
    discharge_efficiency : numpy.ndarray
        Fraction of the stored energy removed while discharging that reaches the AC side, in
        ``(0, 1]`` [-].
    soc_min : numpy.ndarray
        Lowest allowed state of charge as a fraction of capacity, in ``[0, 1]`` [-].
    soc_max : numpy.ndarray
        Highest allowed state of charge as a fraction of capacity, in ``[soc_min, 1]`` [-].
    charge_power_kw : numpy.ndarray or float, optional, keyword-only
        Charging limit at the AC side, in ``[0, power_kw]``; ``None`` (default) means
        ``power_kw``. A scalar applies to every household [kW].
    discharge_power_kw : numpy.ndarray or float, optional, keyword-only
        Discharging limit at the AC side, in ``[0, power_kw]``; ``None`` (default) means
        ``power_kw``. A scalar applies to every household [kW].
    self_discharge_per_h : numpy.ndarray or float, optional, keyword-only
        Fraction of the stored energy lost per hour while idle, in ``[0, 1)``; default 0. A
        scalar applies to every household [1/h].
    household_ids : sequence of str, optional, keyword-only
        Names of the households, one per entry; when given, errors name the household as the
        scenario does, e.g. ``households[h007].battery.capacity_kwh``.

    Raises
    ------
    ValueError
        If an array is not 1-D, the lengths differ, or a value is out of range (see
        :meth:`validate`).

    Notes
    -----
    ``power_kw`` is the converter rating and bounds both directions; ``charge_power_kw`` and
    ``discharge_power_kw`` may set a lower limit in one direction (a battery that charges at
    5 kW and discharges at 7 kW has ``power_kw = 7`` and ``charge_power_kw = 5``). After
    construction both are always arrays, equal to ``power_kw`` where not given.
    """

    capacity_kwh: np.ndarray
    power_kw: np.ndarray
    charge_efficiency: np.ndarray
    discharge_efficiency: np.ndarray
    soc_min: np.ndarray
    soc_max: np.ndarray
    _: KW_ONLY
    charge_power_kw: np.ndarray | float | None = None
    discharge_power_kw: np.ndarray | float | None = None
    self_discharge_per_h: np.ndarray | float = 0.0
    household_ids: Sequence[str] | None = None

    def __post_init__(self) -> None:
        # Private read-only copies: the caller cannot change a validated battery afterwards.
        for name in _RATING_FIELDS:
            self._store(name, np.array(getattr(self, name), dtype=float))
        shape = self.capacity_kwh.shape
        for name in _OPTIONAL_FIELDS:
            given = getattr(self, name)
            values = np.array(self.power_kw if given is None else given, dtype=float)
            self._store(name, np.full(shape, values) if values.ndim == 0 else values)
        if self.household_ids is not None:
            object.__setattr__(self, "household_ids", tuple(str(h) for h in self.household_ids))
        self.validate()

    def _store(self, name: str, values: np.ndarray) -> None:
        values.setflags(write=False)
        object.__setattr__(self, name, values)

    @classmethod
    def from_round_trip(
        cls,
        capacity_kwh: npt.ArrayLike,
        power_kw: npt.ArrayLike,
        round_trip_efficiency: npt.ArrayLike,
        soc_min: npt.ArrayLike,
        soc_max: npt.ArrayLike,
        *,
        charge_power_kw: npt.ArrayLike | None = None,
        discharge_power_kw: npt.ArrayLike | None = None,
        self_discharge_per_h: npt.ArrayLike = 0.0,
        household_ids: Sequence[str] | None = None,
    ) -> BatteryParameters:
        """Build parameters from a round-trip efficiency split equally over charge and discharge.

        Parameters
        ----------
        capacity_kwh : array_like
            Usable energy capacity per household [kWh]; its length ``n`` sets the households.
        power_kw : array_like
            Converter rating per household, or one value for all [kW].
        round_trip_efficiency : array_like
            AC-to-AC round-trip efficiency in ``(0, 1]``, per household or one value for all [-].
        soc_min : array_like
            Lowest state of charge as a fraction of capacity, per household or one for all [-].
        soc_max : array_like
            Highest state of charge as a fraction of capacity, per household or one for all [-].
        charge_power_kw, discharge_power_kw : array_like, optional
            Direction limits in ``[0, power_kw]``, per household or one for all; ``None`` means
            ``power_kw`` [kW].
        self_discharge_per_h : array_like, optional
            Fraction of stored energy lost per hour, in ``[0, 1)``; default 0 [1/h].
        household_ids : sequence of str, optional
            Household names used in error messages.

        Returns
        -------
        BatteryParameters
            Validated parameters with ``charge_efficiency == discharge_efficiency``.

        Raises
        ------
        ValueError
            If ``round_trip_efficiency`` is outside ``(0, 1]``, or any other field is invalid.

        Notes
        -----
        The round trip is split symmetrically,
        :math:`\\eta_c = \\eta_d = \\sqrt{\\eta_{rt}}`, so that
        :math:`\\eta_c \\eta_d = \\eta_{rt}`.

        Examples
        --------
        >>> p = BatteryParameters.from_round_trip([10.0], [5.0], 0.81, 0.1, 0.9)
        >>> float(p.charge_efficiency[0]), float(p.discharge_efficiency[0])
        (0.9, 0.9)
        """
        capacity = np.asarray(capacity_kwh, dtype=float)
        shape = capacity.shape

        def per_household(values: npt.ArrayLike) -> np.ndarray:
            return np.broadcast_to(np.asarray(values, dtype=float), shape)

        round_trip = per_household(round_trip_efficiency)
        require_per_household(
            "round_trip_efficiency",
            round_trip,
            (round_trip > 0) & (round_trip <= 1),
            "in (0, 1]",
            household_ids=household_ids,
        )
        efficiency = np.sqrt(round_trip)
        return cls(
            capacity_kwh=capacity,
            power_kw=per_household(power_kw),
            charge_efficiency=efficiency,
            discharge_efficiency=efficiency,
            soc_min=per_household(soc_min),
            soc_max=per_household(soc_max),
            charge_power_kw=None if charge_power_kw is None else per_household(charge_power_kw),
            discharge_power_kw=(
                None if discharge_power_kw is None else per_household(discharge_power_kw)
            ),
            self_discharge_per_h=per_household(self_discharge_per_h),
            household_ids=household_ids,
        )

    @property
    def household_count(self) -> int:
        """Number of households ``n`` the arrays describe."""
        return int(self.capacity_kwh.shape[0])

    def validate(self) -> None:
        """Check shapes and ranges.

        Raises
        ------
        ValueError
            Naming the field, the first offending household (its id when ``household_ids`` is
            given, else its index), its value and the expected range, or the shapes when they
            disagree.
        """
        for name in _RATING_FIELDS + _OPTIONAL_FIELDS:
            values = getattr(self, name)
            if values.ndim != 1:
                raise ValueError(
                    f"{name} has shape {values.shape}; expected a 1-D array over households"
                )
            if values.shape != self.capacity_kwh.shape:
                raise ValueError(
                    f"{name} has {values.shape[0]} entries; expected "
                    f"{self.capacity_kwh.shape[0]}, one per household like capacity_kwh"
                )
        ids = self.household_ids
        if ids is not None and len(ids) != self.capacity_kwh.shape[0]:
            raise ValueError(
                f"household_ids has {len(ids)} entries; expected {self.capacity_kwh.shape[0]}, "
                "one per household like capacity_kwh"
            )

        def require(name: str, ok: np.ndarray, expected: str) -> None:
            require_per_household(name, getattr(self, name), ok, expected, household_ids=ids)

        for name in ("capacity_kwh", "power_kw"):
            values = getattr(self, name)
            require(name, np.isfinite(values) & (values >= 0), "a finite value >= 0")
        for name in ("charge_power_kw", "discharge_power_kw"):
            values = getattr(self, name)
            require(
                name,
                (values >= 0) & (values <= self.power_kw),
                "in [0, power_kw] (power_kw of the same household)",
            )
        for name in ("charge_efficiency", "discharge_efficiency"):
            values = getattr(self, name)
            require(name, (values > 0) & (values <= 1), "in (0, 1]")
        require("soc_min", (self.soc_min >= 0) & (self.soc_min <= 1), "in [0, 1]")
        require(
            "soc_max",
            (self.soc_max >= self.soc_min) & (self.soc_max <= 1),
            "in [soc_min, 1] (soc_min of the same household)",
        )
        loss = self.self_discharge_per_h
        require("self_discharge_per_h", (loss >= 0) & (loss < 1), "in [0, 1)")


def initial_soc_kwh(soc_initial: npt.ArrayLike, parameters: BatteryParameters) -> np.ndarray:
    """Stored energy at the start of a run from the scenario's ``soc_initial`` fraction.

    Parameters
    ----------
    soc_initial : array_like
        Initial state of charge as a fraction of capacity, per household or one value for all,
        in ``[soc_min, soc_max]`` of each household [-].
    parameters : BatteryParameters
        Ratings of the same households.

    Returns
    -------
    numpy.ndarray
        ``soc_kwh`` at the start, ``soc_initial * capacity_kwh`` [kWh].

    Raises
    ------
    ValueError
        Naming the first household whose fraction lies outside its ``[soc_min, soc_max]``.

    Notes
    -----
    Every household is checked, including those without a battery (capacity 0), so their
    ``soc_initial`` must also lie within their own (usually ``[0, 1]``) limits.

    Examples
    --------
    >>> p = BatteryParameters.from_round_trip([10.0, 0.0], 5.0, 0.81, 0.1, 0.9)
    >>> initial_soc_kwh(0.5, p)
    array([5., 0.])
    """
    fraction = np.broadcast_to(np.asarray(soc_initial, dtype=float), parameters.capacity_kwh.shape)
    ok = np.isfinite(fraction) & (fraction >= parameters.soc_min) & (fraction <= parameters.soc_max)
    bad = np.flatnonzero(~ok)
    if bad.size:
        low, high = parameters.soc_min[bad[0]], parameters.soc_max[bad[0]]
        require_per_household(
            "soc_initial",
            fraction,
            ok,
            f"in [soc_min, soc_max] = [{low}, {high}] of the same household",
            household_ids=parameters.household_ids,
        )
    return fraction * parameters.capacity_kwh


class BatteryDispatch(NamedTuple):
    """Outcome of one battery step for every household (see :func:`dispatch_battery_detailed`)."""

    #: Power applied, positive charging, negative discharging [kW].
    battery_power_kw: np.ndarray
    #: Stored energy at the end of the step [kWh].
    soc_kwh: np.ndarray
    #: Stored energy lost to self-discharge during the step, ``>= 0`` [kWh].
    self_discharge_kwh: np.ndarray


def dispatch_battery_detailed(
    soc_kwh: np.ndarray,
    requested_power_kw: np.ndarray,
    duration_s: float,
    parameters: BatteryParameters,
) -> BatteryDispatch:
    """Apply requested battery powers for one step, within limits, reporting self-discharge.

    Parameters
    ----------
    soc_kwh : numpy.ndarray
        Stored energy of each household's battery at the start of the step, in
        ``[0, capacity_kwh]`` [kWh].
    requested_power_kw : numpy.ndarray
        Requested power per household, positive charging, negative discharging [kW].
    duration_s : float
        Length of the step, ``> 0`` [s]; the power is held constant over it.
    parameters : BatteryParameters
        Ratings of the same households.

    Returns
    -------
    BatteryDispatch
        ``battery_power_kw`` [kW], ``soc_kwh`` at the end of the step [kWh] and
        ``self_discharge_kwh`` lost during the step [kWh].

    Raises
    ------
    ValueError
        If the shapes disagree with ``parameters``, ``duration_s`` is not positive, a request is
        not finite, or a state of charge is outside ``[0, capacity_kwh]``.

    Notes
    -----
    With :math:`\\Delta t_h = \\Delta t / 3600` the step in hours, capacity :math:`C`, limits
    :math:`P_c, P_d` (``charge_power_kw``, ``discharge_power_kw``), efficiencies
    :math:`\\eta_c, \\eta_d`, self-discharge :math:`\\sigma` and state of charge :math:`E`:

    1. self-discharge first: the energy at the start of the step decays exponentially,
       :math:`L = E\\,(1 - (1 - \\sigma)^{\\Delta t_h})` and :math:`E_s = E - L` (energy
       charged during the step only starts to decay in the next step);
    2. the request is clipped to the limits, :math:`p = \\min(\\max(r, -P_d), P_c)`;
    3. charging is limited by the headroom to :math:`E_{max} = s_{max} C`,
       :math:`p \\le \\max(E_{max} - E_s, 0) / (\\eta_c \\Delta t_h)`;
    4. discharging is limited by the energy above :math:`E_{min} = s_{min} C`,
       :math:`-p \\le \\max(E_s - E_{min}, 0)\\, \\eta_d / \\Delta t_h`;
    5. :math:`E' = E_s + p\\, \\eta_c \\Delta t_h` when :math:`p \\ge 0` and
       :math:`E' = E_s + (p / \\eta_d) \\Delta t_h` when :math:`p < 0`.

    Energy balance, to floating-point rounding:
    :math:`E' - E = e_c \\eta_c - e_d / \\eta_d - L` with :math:`e_c = \\max(p, 0) \\Delta t_h`
    and :math:`e_d = \\max(-p, 0) \\Delta t_h` the AC energies. A step that is energy-limited
    ends exactly on :math:`E_{max}` or :math:`E_{min}`. A state of charge outside
    :math:`[E_{min}, E_{max}]` (after the limits were tightened, or after self-discharge took
    an idle battery below :math:`E_{min}`) may only move back towards the allowed band. With
    :math:`C = 0` both bounds are 0, so the power is 0.

    Examples
    --------
    A 10 kWh battery losing 1 % per hour, idle for one hour at 5 kWh, loses 0.05 kWh:

    >>> p = BatteryParameters.from_round_trip([10.0], [5.0], 0.81, 0.1, 0.9,
    ...                                       self_discharge_per_h=0.01)
    >>> step = dispatch_battery_detailed(np.array([5.0]), np.array([0.0]), 3600.0, p)
    >>> round(float(step.self_discharge_kwh[0]), 12), round(float(step.soc_kwh[0]), 12)
    (0.05, 4.95)
    """
    soc = np.asarray(soc_kwh, dtype=float)
    request = np.asarray(requested_power_kw, dtype=float)
    household_shape = parameters.capacity_kwh.shape
    for name, values in (("soc_kwh", soc), ("requested_power_kw", request)):
        if values.shape != household_shape:
            raise ValueError(
                f"{name} has shape {values.shape}; expected {household_shape}, one value per "
                "household of the battery parameters"
            )
    if not np.isfinite(duration_s) or duration_s <= 0:
        raise ValueError(f"duration_s is {duration_s}; expected a positive number of seconds")
    ids = parameters.household_ids
    require_per_household(
        "requested_power_kw", request, np.isfinite(request), "a finite number", household_ids=ids
    )
    require_per_household(
        "soc_kwh",
        soc,
        (soc >= 0) & (soc <= parameters.capacity_kwh),
        "in [0, capacity_kwh] of the same household",
        household_ids=ids,
    )

    duration_h = duration_s / SECONDS_PER_HOUR
    # expm1/log1p keep small loss rates exact; a rate of 0 gives a loss of exactly +0.0.
    lost_fraction = -np.expm1(duration_h * np.log1p(-parameters.self_discharge_per_h))
    self_discharge_kwh = soc * lost_fraction
    kept = soc - self_discharge_kwh

    eta_c = parameters.charge_efficiency
    eta_d = parameters.discharge_efficiency
    soc_low = parameters.soc_min * parameters.capacity_kwh
    soc_high = parameters.soc_max * parameters.capacity_kwh
    headroom_kwh = np.maximum(soc_high - kept, 0.0)
    available_kwh = np.maximum(kept - soc_low, 0.0)
    max_charge_kw = headroom_kwh / (eta_c * duration_h)
    max_discharge_kw = available_kwh * eta_d / duration_h

    power = np.clip(request, -parameters.discharge_power_kw, parameters.charge_power_kw)
    charge_limited = power > max_charge_kw
    discharge_limited = -power > max_discharge_kw
    power = np.where(charge_limited, max_charge_kw, power)
    # 0.0 - x rather than -x so that an empty battery reports +0.0, not -0.0.
    power = np.where(discharge_limited, 0.0 - max_discharge_kw, power)

    new_soc = kept + np.where(power >= 0, power * eta_c, power / eta_d) * duration_h
    # Land exactly on the bound the step was limited by, so rounding never leaves a residue of
    # headroom that later steps would chase with vanishing powers.
    new_soc = np.where(charge_limited & (headroom_kwh > 0), soc_high, new_soc)
    new_soc = np.where(discharge_limited & (available_kwh > 0), soc_low, new_soc)
    new_soc = np.clip(new_soc, np.minimum(kept, soc_low), np.maximum(kept, soc_high))
    return BatteryDispatch(power, new_soc, self_discharge_kwh)


def dispatch_battery(
    soc_kwh: np.ndarray,
    requested_power_kw: np.ndarray,
    duration_s: float,
    parameters: BatteryParameters,
) -> tuple[np.ndarray, np.ndarray]:
    """Apply requested battery powers for one step, within power and energy limits.

    The same computation as :func:`dispatch_battery_detailed` (see its Notes for the rule,
    the order of self-discharge and power, and the energy balance), without the loss report.

    Parameters
    ----------
    soc_kwh : numpy.ndarray
        Stored energy at the start of the step, in ``[0, capacity_kwh]`` [kWh].
    requested_power_kw : numpy.ndarray
        Requested power per household, positive charging, negative discharging [kW].
    duration_s : float
        Length of the step, ``> 0`` [s]; the power is held constant over it.
    parameters : BatteryParameters
        Ratings of the same households.

    Returns
    -------
    battery_power_kw : numpy.ndarray
        Power actually applied, positive charging, negative discharging [kW].
    soc_kwh : numpy.ndarray
        Stored energy at the end of the step [kWh].

    Raises
    ------
    ValueError
        As :func:`dispatch_battery_detailed`.

    Notes
    -----
    Without self-discharge the stored energy changes by :math:`p\\, \\eta_c \\Delta t_h` when
    charging and by :math:`(p / \\eta_d) \\Delta t_h` when discharging.

    Examples
    --------
    A 10 kWh, 5 kW battery with 90 % charge and discharge efficiency at 5 kWh charges at 4 kW
    for 15 minutes and stores :math:`4 \\cdot 0.9 \\cdot 0.25 = 0.9` kWh:

    >>> p = BatteryParameters.from_round_trip([10.0], [5.0], 0.81, 0.1, 0.9)
    >>> power_kw, soc_kwh = dispatch_battery(np.array([5.0]), np.array([4.0]), 900.0, p)
    >>> float(power_kw[0]), round(float(soc_kwh[0]), 12)
    (4.0, 5.9)
    """
    step = dispatch_battery_detailed(soc_kwh, requested_power_kw, duration_s, parameters)
    return step.battery_power_kw, step.soc_kwh


def self_consumption_request_kw(
    natural_net_kw: np.ndarray, target_net_kw: np.ndarray | float
) -> np.ndarray:
    """Battery power that brings each household's net power to a target.

    Parameters
    ----------
    natural_net_kw : numpy.ndarray
        Net power each household would draw from the grid without its battery,
        ``load_power_kw - pv_power_kw`` [kW].
    target_net_kw : numpy.ndarray or float
        Net power to reach, per household or one value for all; 0 means self-consumption [kW].

    Returns
    -------
    numpy.ndarray
        Requested ``battery_power_kw``, positive charging, negative discharging [kW]; pass it to
        :func:`dispatch_battery`, which applies the battery's limits.

    Notes
    -----
    From ``power_kw = load_power_kw - pv_power_kw + battery_power_kw`` the battery must fill the
    gap between the natural net power :math:`n` and the target :math:`g`:
    :math:`r = g - n`.

    Examples
    --------
    A household exporting 3 kW of PV surplus asks its battery to charge at 3 kW; one drawing
    1.5 kW asks it to discharge at 1.5 kW:

    >>> self_consumption_request_kw(np.array([-3.0, 1.5]), 0.0)
    array([ 3. , -1.5])
    """
    return np.asarray(target_net_kw, dtype=float) - np.asarray(natural_net_kw, dtype=float)


def require_per_household(
    name: str,
    values: np.ndarray,
    ok: np.ndarray,
    expected: str,
    *,
    household_ids: Sequence[str] | None = None,
    device: str = "battery",
) -> None:
    """Raise ValueError naming the first household where ``ok`` is false.

    Parameters
    ----------
    name : str
        Field name as the scenario spells it, e.g. ``capacity_kwh``.
    values : numpy.ndarray
        The values checked, one per household [unit of the field].
    ok : numpy.ndarray
        Boolean per household, true where the value is acceptable.
    expected : str
        What was expected, e.g. ``"in (0, 1]"``.
    household_ids : sequence of str, optional
        Household names; without them the household is named by its index.
    device : str, optional
        Section of the household the field belongs to (``battery``, ``ev``).

    Raises
    ------
    ValueError
        ``households[h007].battery.capacity_kwh is -1.0; expected ...`` with ids, else
        ``capacity_kwh[6] is -1.0; expected ...``, followed by the count of households out of
        range.

    Examples
    --------
    >>> require_per_household("soc_min", np.array([0.1, 1.5]), np.array([True, False]),
    ...                       "in [0, 1]", household_ids=["h1", "h2"])
    Traceback (most recent call last):
    ...
    ValueError: households[h2].battery.soc_min is 1.5; expected in [0, 1] (1 household(s) out of range)
    """  # noqa: E501
    bad = np.flatnonzero(~np.broadcast_to(ok, values.shape))
    if bad.size:
        index = int(bad[0])
        if household_ids is not None and index < len(household_ids):
            label = f"households[{household_ids[index]}].{device}.{name}"
        else:
            label = f"{name}[{index}]"
        raise ValueError(
            f"{label} is {float(values.flat[index])}; expected {expected} "
            f"({bad.size} household(s) out of range)"
        )
