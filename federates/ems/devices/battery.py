"""Household batteries: limits, losses and state of charge, for all households at once.

Every array is indexed by household (length ``n``). A household without a battery has
``capacity_kwh == 0`` and is always dispatched at 0 kW. ``battery_power_kw`` is measured at the
household's AC connection: positive means charging (drawn from the household bus), negative
means discharging (see ``docs/nomenclature.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class BatteryParameters:
    """Ratings of the batteries of ``n`` households, one array entry per household.

    The arrays are copied to read-only ``float`` arrays and validated on construction.

    Parameters
    ----------
    capacity_kwh : numpy.ndarray
        Usable energy capacity, ``>= 0``; 0 means the household has no battery [kWh].
    power_kw : numpy.ndarray
        Maximum charging and discharging power at the AC side, ``>= 0`` [kW].
    charge_efficiency : numpy.ndarray
        Fraction of the AC energy drawn while charging that is stored, in ``(0, 1]`` [-].
    discharge_efficiency : numpy.ndarray
        Fraction of the stored energy removed while discharging that reaches the AC side, in
        ``(0, 1]`` [-].
    soc_min : numpy.ndarray
        Lowest allowed state of charge as a fraction of capacity, in ``[0, 1]`` [-].
    soc_max : numpy.ndarray
        Highest allowed state of charge as a fraction of capacity, in ``[soc_min, 1]`` [-].

    Raises
    ------
    ValueError
        If an array is not 1-D, the lengths differ, or a value is out of range (see
        :meth:`validate`).
    """

    capacity_kwh: np.ndarray
    power_kw: np.ndarray
    charge_efficiency: np.ndarray
    discharge_efficiency: np.ndarray
    soc_min: np.ndarray
    soc_max: np.ndarray

    def __post_init__(self) -> None:
        # Private read-only copies: the caller cannot change a validated battery afterwards.
        for field in fields(self):
            values = np.array(getattr(self, field.name), dtype=float)
            values.setflags(write=False)
            object.__setattr__(self, field.name, values)
        self.validate()

    @classmethod
    def from_round_trip(
        cls,
        capacity_kwh: npt.ArrayLike,
        power_kw: npt.ArrayLike,
        round_trip_efficiency: npt.ArrayLike,
        soc_min: npt.ArrayLike,
        soc_max: npt.ArrayLike,
    ) -> BatteryParameters:
        """Build parameters from a round-trip efficiency split equally over charge and discharge.

        Parameters
        ----------
        capacity_kwh : array_like
            Usable energy capacity per household [kWh]; its length ``n`` sets the households.
        power_kw : array_like
            Maximum charging and discharging power per household, or one value for all [kW].
        round_trip_efficiency : array_like
            AC-to-AC round-trip efficiency in ``(0, 1]``, per household or one value for all [-].
        soc_min : array_like
            Lowest state of charge as a fraction of capacity, per household or one for all [-].
        soc_max : array_like
            Highest state of charge as a fraction of capacity, per household or one for all [-].

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
        _require(
            "round_trip_efficiency", round_trip, (round_trip > 0) & (round_trip <= 1), "in (0, 1]"
        )
        efficiency = np.sqrt(round_trip)
        return cls(
            capacity_kwh=capacity,
            power_kw=per_household(power_kw),
            charge_efficiency=efficiency,
            discharge_efficiency=efficiency,
            soc_min=per_household(soc_min),
            soc_max=per_household(soc_max),
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
            Naming the field, the first offending household index, its value and the expected
            range, or the shapes when they disagree.
        """
        for field in fields(self):
            values = getattr(self, field.name)
            if values.ndim != 1:
                raise ValueError(
                    f"{field.name} has shape {values.shape}; expected a 1-D array over households"
                )
            if values.shape != self.capacity_kwh.shape:
                raise ValueError(
                    f"{field.name} has {values.shape[0]} entries; expected "
                    f"{self.capacity_kwh.shape[0]}, one per household like capacity_kwh"
                )
        for name in ("capacity_kwh", "power_kw"):
            values = getattr(self, name)
            _require(name, values, np.isfinite(values) & (values >= 0), "a finite value >= 0")
        for name in ("charge_efficiency", "discharge_efficiency"):
            values = getattr(self, name)
            _require(name, values, (values > 0) & (values <= 1), "in (0, 1]")
        _require("soc_min", self.soc_min, (self.soc_min >= 0) & (self.soc_min <= 1), "in [0, 1]")
        _require(
            "soc_max",
            self.soc_max,
            (self.soc_max >= self.soc_min) & (self.soc_max <= 1),
            "in [soc_min, 1] (soc_min of the same household)",
        )


def dispatch_battery(
    soc_kwh: np.ndarray,
    requested_power_kw: np.ndarray,
    duration_s: float,
    parameters: BatteryParameters,
) -> tuple[np.ndarray, np.ndarray]:
    """Apply requested battery powers for one step, within power and energy limits.

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
    battery_power_kw : numpy.ndarray
        Power actually applied, positive charging, negative discharging [kW].
    soc_kwh : numpy.ndarray
        Stored energy at the end of the step [kWh].

    Raises
    ------
    ValueError
        If the shapes disagree with ``parameters``, ``duration_s`` is not positive, a request is
        not finite, or a state of charge is outside ``[0, capacity_kwh]``.

    Notes
    -----
    With :math:`\\Delta t_h = \\Delta t / 3600` the step in hours, capacity :math:`C`, power
    rating :math:`P`, efficiencies :math:`\\eta_c, \\eta_d` and state of charge :math:`E`:

    1. the request is clipped to the power rating, :math:`p = \\min(\\max(r, -P), P)`;
    2. charging is limited by the headroom to :math:`E_{max} = s_{max} C`,
       :math:`p \\le \\max(E_{max} - E, 0) / (\\eta_c \\Delta t_h)`;
    3. discharging is limited by the energy above :math:`E_{min} = s_{min} C`,
       :math:`-p \\le \\max(E - E_{min}, 0)\\, \\eta_d / \\Delta t_h`;
    4. the stored energy changes by :math:`E' - E = p\\, \\eta_c \\Delta t_h` when
       :math:`p \\ge 0` and by :math:`E' - E = (p / \\eta_d) \\Delta t_h` when :math:`p < 0`.

    Energy is conserved to floating-point rounding; a step that is energy-limited ends exactly
    on :math:`E_{max}` or :math:`E_{min}`. A state of charge outside
    :math:`[E_{min}, E_{max}]` (for example after the limits were tightened) may only move back
    towards the allowed band. With :math:`C = 0` both limits are 0, so the power is 0.

    Examples
    --------
    A 10 kWh, 5 kW battery with 90 % charge and discharge efficiency at 5 kWh charges at 4 kW
    for 15 minutes and stores :math:`4 \\cdot 0.9 \\cdot 0.25 = 0.9` kWh:

    >>> p = BatteryParameters.from_round_trip([10.0], [5.0], 0.81, 0.1, 0.9)
    >>> power_kw, soc_kwh = dispatch_battery(np.array([5.0]), np.array([4.0]), 900.0, p)
    >>> float(power_kw[0]), round(float(soc_kwh[0]), 12)
    (4.0, 5.9)
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
    _require("requested_power_kw", request, np.isfinite(request), "a finite number")
    _require(
        "soc_kwh",
        soc,
        (soc >= 0) & (soc <= parameters.capacity_kwh),
        "in [0, capacity_kwh] of the same household",
    )

    duration_h = duration_s / SECONDS_PER_HOUR
    eta_c = parameters.charge_efficiency
    eta_d = parameters.discharge_efficiency
    soc_low = parameters.soc_min * parameters.capacity_kwh
    soc_high = parameters.soc_max * parameters.capacity_kwh
    headroom_kwh = np.maximum(soc_high - soc, 0.0)
    available_kwh = np.maximum(soc - soc_low, 0.0)
    max_charge_kw = headroom_kwh / (eta_c * duration_h)
    max_discharge_kw = available_kwh * eta_d / duration_h

    power = np.clip(request, -parameters.power_kw, parameters.power_kw)
    charge_limited = power > max_charge_kw
    discharge_limited = -power > max_discharge_kw
    power = np.where(charge_limited, max_charge_kw, power)
    # 0.0 - x rather than -x so that an empty battery reports +0.0, not -0.0.
    power = np.where(discharge_limited, 0.0 - max_discharge_kw, power)

    new_soc = soc + np.where(power >= 0, power * eta_c, power / eta_d) * duration_h
    # Land exactly on the bound the step was limited by, so rounding never leaves a residue of
    # headroom that later steps would chase with vanishing powers.
    new_soc = np.where(charge_limited & (headroom_kwh > 0), soc_high, new_soc)
    new_soc = np.where(discharge_limited & (available_kwh > 0), soc_low, new_soc)
    new_soc = np.clip(new_soc, np.minimum(soc, soc_low), np.maximum(soc, soc_high))
    return power, new_soc


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


def _require(name: str, values: np.ndarray, ok: np.ndarray, expected: str) -> None:
    """Raise ValueError naming the first household where ``ok`` is false."""
    bad = np.flatnonzero(~np.broadcast_to(ok, values.shape))
    if bad.size:
        index = int(bad[0])
        raise ValueError(
            f"{name}[{index}] is {float(values.flat[index])}; expected {expected} "
            f"({bad.size} household(s) out of range)"
        )
