"""Named battery ratings from the reference studies, as small public figures with attribution.

``two_powerwalls``
    The household battery of T-REX (Zhang, Gül, Musilek): two Tesla Powerwall 2 units,
    27 kWh usable (2 × 13.5 kWh), 10 kW (2 × 5 kW continuous), 90 % round trip.
``community_rana``
    The community battery of the local-energy-community studies of Rana et al.: 1.2 MWh,
    0.6 MW, 95 % round trip.

Both capacities are taken as usable energy, so the presets allow the whole range
(``soc_min = 0``, ``soc_max = 1``); a scenario that wants a reserve or a ceiling overrides
``soc_min`` / ``soc_max``.

References
----------
.. [1] D. Zhang, H. Gül, P. Musilek, "T-REX: a transactive energy market simulator"
   (University of Alberta), https://github.com/trex-ai/TREX-Core: households with two Tesla
   Powerwall 2 batteries.
.. [2] Tesla, "Powerwall 2 AC datasheet": 13.5 kWh usable, 5 kW continuous, 90 % round-trip
   efficiency per unit.
.. [3] R. Rana et al., local energy communities on distribution networks (grid, controller and
   market layers; household and community EMS as linear programs): community battery of
   1.2 MWh and 0.6 MW with 95 % round-trip efficiency.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from tefed.domain.ems.devices.battery import BatteryParameters


@dataclass(frozen=True)
class BatteryPreset:
    """Ratings of one named battery, the same for every household that uses it.

    Parameters
    ----------
    capacity_kwh : float
        Usable energy capacity [kWh].
    power_kw : float
        Converter rating, the most the battery charges or discharges at the AC side [kW].
    round_trip_efficiency : float
        AC-to-AC round-trip efficiency, in ``(0, 1]`` [-].
    soc_min : float
        Lowest allowed state of charge as a fraction of capacity [-].
    soc_max : float
        Highest allowed state of charge as a fraction of capacity [-].
    description : str
        What the battery is, in a few words.
    reference : str
        Where the figures come from.
    """

    capacity_kwh: float
    power_kw: float
    round_trip_efficiency: float
    soc_min: float
    soc_max: float
    description: str
    reference: str

    def to_parameters(
        self, household_count: int, household_ids: Sequence[str] | None = None
    ) -> BatteryParameters:
        """Validated :class:`BatteryParameters` giving this battery to ``household_count`` homes.

        Parameters
        ----------
        household_count : int
            Number of households ``n``, ``>= 0`` [-].
        household_ids : sequence of str, optional
            Household names used in error messages.

        Returns
        -------
        BatteryParameters
            Arrays of length ``n``; the round trip is split as
            :math:`\\eta_c = \\eta_d = \\sqrt{\\eta_{rt}}`.

        Examples
        --------
        >>> p = BATTERY_PRESETS["two_powerwalls"].to_parameters(2)
        >>> p.capacity_kwh.tolist(), p.power_kw.tolist()
        ([27.0, 27.0], [10.0, 10.0])
        """
        return BatteryParameters.from_round_trip(
            np.full(household_count, self.capacity_kwh),
            self.power_kw,
            self.round_trip_efficiency,
            self.soc_min,
            self.soc_max,
            household_ids=household_ids,
        )


BATTERY_PRESETS: Mapping[str, BatteryPreset] = MappingProxyType(
    {
        "two_powerwalls": BatteryPreset(
            capacity_kwh=27.0,
            power_kw=10.0,
            round_trip_efficiency=0.90,
            soc_min=0.0,
            soc_max=1.0,
            description="T-REX household battery: two Tesla Powerwall 2 units",
            reference="Zhang, Gül, Musilek, T-REX (https://github.com/trex-ai/TREX-Core); "
            "Tesla Powerwall 2 datasheet (13.5 kWh usable, 5 kW, 90 % round trip per unit)",
        ),
        "community_rana": BatteryPreset(
            capacity_kwh=1200.0,
            power_kw=600.0,
            round_trip_efficiency=0.95,
            soc_min=0.0,
            soc_max=1.0,
            description="local energy community battery, 1.2 MWh / 0.6 MW",
            reference="Rana et al., local energy community studies (community battery)",
        ),
    }
)
"""Named presets, read-only: name -> :class:`BatteryPreset`."""


def battery_preset(name: str) -> BatteryPreset:
    """The preset called ``name``.

    Parameters
    ----------
    name : str
        A key of :data:`BATTERY_PRESETS`.

    Returns
    -------
    BatteryPreset
        Its ratings, description and reference.

    Raises
    ------
    ValueError
        If ``name`` is unknown; the message lists the known names.

    Examples
    --------
    >>> battery_preset("community_rana").capacity_kwh
    1200.0
    >>> battery_preset("powerwall")
    Traceback (most recent call last):
    ...
    ValueError: battery preset is 'powerwall'; expected one of community_rana, two_powerwalls
    """
    try:
        return BATTERY_PRESETS[name]
    except KeyError:
        known = ", ".join(sorted(BATTERY_PRESETS))
        raise ValueError(f"battery preset is {name!r}; expected one of {known}") from None
