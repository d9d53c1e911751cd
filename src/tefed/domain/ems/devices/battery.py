"""Household batteries: ratings and initial state of charge, for all households at once.

Every array is indexed by household (length ``n``). A household without a battery has
``capacity_kwh == 0`` and is always dispatched at 0 kW; dispatch is in `battery_dispatch`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass

import numpy as np
import numpy.typing as npt

from tefed.domain.ems.devices.household_checks import require_per_household

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
