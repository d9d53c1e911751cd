"""Battery dispatch for all households at once: limits, losses and state of charge.

``battery_power_kw`` is measured at the household's AC connection: positive means charging
(drawn from the household bus), negative means discharging (see ``docs/nomenclature.md``).
The ratings come from `tefed.domain.ems.devices.battery.BatteryParameters`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from tefed.contract.time_grid import SECONDS_PER_HOUR
from tefed.domain.ems.devices.battery import BatteryParameters
from tefed.domain.ems.devices.household_checks import require_per_household


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
