"""Plausibility of a set-up: warnings for a run that works but is unlikely to mean what was meant
(pure: no I/O).

A scenario can be valid and still describe something no study intends: households attached
straight to a medium-voltage bus, a source held at the top of the allowed voltage band, a feeder
that loses a tenth of its energy, a price file nothing reads. None of these stops a run. Each
becomes a `PlausibilityWarning` that ``tefed validate`` prints (exiting 0) and ``summary.json``
lists under ``warnings``, naming the thing, the value, the threshold and what to do.

The thresholds, in this one place:

=============================  ========  ======================================================
threshold                      value     source and reason
=============================  ========  ======================================================
`LOW_VOLTAGE_MAX_KV_LL`        1 kV      ANSI C84.1 [1]_ and IEC 60038 [2]_: low voltage is
                                         1000 V or less (line-to-line); households are served
                                         at low voltage through a distribution transformer
`SOURCE_VOLTAGE_MAX_PU`        1.04 pu   ANSI C84.1 range A ends at 1.05 pu at the service
                                         point [1]_; a source above 1.04 pu leaves a lightly
                                         loaded feeder less than 0.01 pu below that end, and
                                         above the 1.04 pu limit T-REX counted [3]_
`FEEDER_LOSSES_MAX_PCT`        10 %      about twice the losses of whole US transmission and
                                         distribution systems, about 5 % [4]_
=============================  ========  ======================================================

References
----------
.. [1] ANSI C84.1-2020, "American National Standard for Electric Power Systems and Equipment —
   Voltage Ratings (60 Hz)", NEMA, 2020 (voltage classes; range A).
.. [2] IEC 60038:2009, "IEC standard voltages" (low voltage: up to 1000 V a.c.).
.. [3] D. Zhang, H. Gül, P. Musilek, T-REX test bench TB-1 (voltage limit 1.04 pu), see
   ``../shared/data/trex_tb1/``.
.. [4] U.S. Energy Information Administration, "How much electricity is lost in electricity
   transmission and distribution in the United States?", Frequently Asked Questions,
   https://www.eia.gov/tools/faqs/faq.php?id=105
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

#: Highest line-to-line base voltage of a low-voltage bus [kV] (ANSI C84.1, IEC 60038).
LOW_VOLTAGE_MAX_KV_LL = 1.0
#: Highest plausible source voltage setpoint [pu] (ANSI C84.1 range A ends at 1.05 pu).
SOURCE_VOLTAGE_MAX_PU = 1.04
#: Highest plausible share of the energy supplied into the feeder that is lost in it [%].
FEEDER_LOSSES_MAX_PCT = 10.0
#: How many buses (and households) a warning names before it says how many more there are.
NAMED_ITEMS = 5


@dataclass(frozen=True)
class PlausibilityWarning:
    """One warning about a set-up.

    Attributes
    ----------
    check : str
        Name of the check, e.g. ``households_on_medium_voltage``.
    subject : str
        What the warning is about (buses, the source, the feeder, a file).
    value : float or None
        The value found, in ``unit`` (None where there is no number).
    threshold : float or None
        The threshold it was compared with, in ``unit``.
    unit : str
        Unit of ``value`` and ``threshold`` (``""`` without one).
    message : str
        The whole warning: the thing, the value, the threshold, why it matters, what to do.
    """

    check: str
    subject: str
    value: float | None
    threshold: float | None
    unit: str
    message: str

    def as_dict(self) -> dict[str, object]:
        """The warning as ``summary.json`` lists it."""
        return asdict(self)


def household_supply_warnings(supply: pd.DataFrame) -> list[PlausibilityWarning]:
    """Warnings for households on medium-voltage buses or with no transformer before them.

    Parameters
    ----------
    supply : pandas.DataFrame
        One row per household: ``household_id``, ``bus``, ``base_kv_ll`` (line-to-line base
        voltage of the bus [kV], NaN without one) and ``behind_lv_transformer`` (whether the
        source reaches the bus only through a transformer whose secondary is low voltage).

    Returns
    -------
    list of PlausibilityWarning
        ``households_on_medium_voltage`` for households on buses above `LOW_VOLTAGE_MAX_KV_LL`,
        and ``households_without_lv_transformer`` for the others that no such transformer
        separates from the source (each at most once, none when all is well).

    Examples
    --------
    >>> supply = pd.DataFrame({"household_id": ["h1", "h2", "h3"], "bus": ["671", "671", "634"],
    ...     "base_kv_ll": [4.16, 4.16, 0.48], "behind_lv_transformer": [False, False, True]})
    >>> [warning.check for warning in household_supply_warnings(supply)]
    ['households_on_medium_voltage']
    """
    base_kv_ll = supply["base_kv_ll"].to_numpy(float)
    medium = base_kv_ll > LOW_VOLTAGE_MAX_KV_LL
    direct = ~medium & ~supply["behind_lv_transformer"].to_numpy(bool)
    warnings = []
    if medium.any():
        on_mv = supply[medium]
        warnings.append(
            PlausibilityWarning(
                check="households_on_medium_voltage",
                subject=_bus_list(on_mv, with_kv=True),
                value=float(np.nanmax(base_kv_ll[medium])),
                threshold=LOW_VOLTAGE_MAX_KV_LL,
                unit="kV",
                message=(
                    f"{_households(on_mv)} attached to buses whose base voltage is above "
                    f"{LOW_VOLTAGE_MAX_KV_LL:g} kV line-to-line, the end of low voltage in ANSI "
                    f"C84.1: {_bus_list(on_mv, with_kv=True)}. Households are served at low "
                    "voltage through a distribution transformer; attached at medium voltage "
                    "they see neither its voltage drop nor its losses, and the feeder's losses "
                    "and voltages describe a different network. Attach them to low-voltage "
                    "buses behind a transformer (grid.feeder.placement: explicit with "
                    "household_nodes), or add the transformers and services to the feeder."
                ),
            )
        )
    if direct.any():
        unserved = supply[direct]
        warnings.append(
            PlausibilityWarning(
                check="households_without_lv_transformer",
                subject=_bus_list(unserved, with_kv=False),
                value=None,
                threshold=None,
                unit="",
                message=(
                    f"{_households(unserved)} on buses that the source reaches without a "
                    "distribution transformer (one whose secondary is at most "
                    f"{LOW_VOLTAGE_MAX_KV_LL:g} kV line-to-line): "
                    f"{_bus_list(unserved, with_kv=False)}. The source then holds their "
                    "voltage as an infinitely strong low-voltage busbar, and the PCC is the "
                    "source itself. Model the transformer (an MV source with a transformer "
                    "to the LV busbar), or attach the households behind one."
                ),
            )
        )
    return warnings


def feeder_setup_warnings(
    supply: pd.DataFrame, source_bus: str, source_voltage_pu: float, generated: bool
) -> list[PlausibilityWarning]:
    """The households' supply warnings followed by the source's.

    Parameters are those of `household_supply_warnings` and `source_voltage_warning`.
    """
    warnings = household_supply_warnings(supply)
    source = source_voltage_warning(source_bus, source_voltage_pu, generated)
    return warnings if source is None else [*warnings, source]


def source_voltage_warning(
    source_bus: str, voltage_pu: float, generated: bool
) -> PlausibilityWarning | None:
    """A warning when the feeder's source is set above `SOURCE_VOLTAGE_MAX_PU`.

    Parameters
    ----------
    source_bus : str
        Bus of the circuit's source (``Vsource.source``).
    voltage_pu : float
        Its voltage setpoint (the Vsource's ``pu``) [pu].
    generated : bool
        Whether the feeder is generated by tefed (fixed by ``grid.feeder.source_voltage_pu``)
        or an OpenDSS file (fixed by a command).

    Returns
    -------
    PlausibilityWarning or None
        ``source_voltage_above_limit``, or None at or below the threshold.

    Examples
    --------
    >>> source_voltage_warning("sourcebus", 1.05, generated=False).value
    1.05
    >>> source_voltage_warning("sourcebus", 1.03, generated=False) is None
    True
    """
    if not voltage_pu > SOURCE_VOLTAGE_MAX_PU:
        return None
    remedy = (
        "grid.feeder.source_voltage_pu"
        if generated
        else "the command 'Vsource.source.pu=1.0' in grid.feeder.commands"
    )
    return PlausibilityWarning(
        check="source_voltage_above_limit",
        subject=f"source at bus {source_bus}",
        value=float(voltage_pu),
        threshold=SOURCE_VOLTAGE_MAX_PU,
        unit="pu",
        message=(
            f"the feeder's source at bus {source_bus} is set to {voltage_pu:.4g} pu, above "
            f"{SOURCE_VOLTAGE_MAX_PU:g} pu. ANSI C84.1 range A ends at 1.05 pu at the service "
            "point, so a lightly loaded feeder starts at that end and every exporting household "
            "pushes its neighbours over it: the voltage violations then measure the setpoint, "
            f"not the households. Set the source to 1.0 pu (or what the study needs) with "
            f"{remedy}."
        ),
    )


def feeder_losses_warning(losses_pct: float | None) -> PlausibilityWarning | None:
    """A warning when the feeder lost more than `FEEDER_LOSSES_MAX_PCT` of what it was supplied.

    Parameters
    ----------
    losses_pct : float or None
        Losses over the energy supplied into the feeder, substation import plus households'
        export (``summary.json``'s ``pcc.losses_pct``) [%]; None or NaN when nothing was
        supplied.

    Returns
    -------
    PlausibilityWarning or None
        ``feeder_losses_above_limit``, or None at or below the threshold.

    Examples
    --------
    >>> feeder_losses_warning(40.9).threshold, feeder_losses_warning(4.2)
    (10.0, None)
    """
    if losses_pct is None or not losses_pct > FEEDER_LOSSES_MAX_PCT:
        return None
    return PlausibilityWarning(
        check="feeder_losses_above_limit",
        subject="feeder",
        value=float(losses_pct),
        threshold=FEEDER_LOSSES_MAX_PCT,
        unit="%",
        message=(
            f"the feeder lost {losses_pct:.1f} % of the energy supplied into it, above "
            f"{FEEDER_LOSSES_MAX_PCT:g} %: whole transmission and distribution systems lose "
            "about 5 % (EIA). Check that the households are attached at low voltage behind "
            "their transformers, that line lengths are in the units meant, and that the "
            "households' load fits the feeder's conductors and transformers. On a feeder that "
            "carries little (few households, or batteries and PV covering their load), the "
            "transformers' no-load losses alone can reach this share: then the share says "
            "more about the load than about the feeder."
        ),
    )


def power_flow_warning(
    not_converged_steps: int, steps: int, first_times_s: list[int]
) -> PlausibilityWarning | None:
    """A warning when the grid's power flow did not converge at some of the run's steps.

    Parameters
    ----------
    not_converged_steps : int
        Grid steps whose power flow did not converge (``summary.json``'s
        ``grid.power_flow.not_converged_steps``) [-].
    steps : int
        Grid steps the grid solved [-].
    first_times_s : list of int
        Simulated times of the first of them [s].

    Returns
    -------
    PlausibilityWarning or None
        ``power_flow_not_converged``, or None when every power flow converged.

    Examples
    --------
    >>> power_flow_warning(3, 120, [0, 60, 120]).value, power_flow_warning(0, 120, [])
    (3.0, None)
    """
    if not_converged_steps <= 0:
        return None
    first = ", ".join(f"t={time_s} s" for time_s in first_times_s[:NAMED_ITEMS])
    return PlausibilityWarning(
        check="power_flow_not_converged",
        subject="feeder",
        value=float(not_converged_steps),
        threshold=0.0,
        unit="steps",
        message=(
            f"the power flow did not converge at {not_converged_steps} of {steps} grid steps "
            f"(first at {first}): their voltages, losses and loadings are missing (NaN in "
            "grid.parquet, left out of the voltage, loss and loading KPIs), and the households "
            "were metered as they drew. Check the feeder on its own (tefed powerflow --dss "
            "FILE): line lengths in the units meant, impedances, the source's voltage and "
            "transformer ratings for the load; grid.on_nonconvergence: stop ends a run at the "
            "first such step."
        ),
    )


def failed_check_warnings(checks: dict[str, Any]) -> list[PlausibilityWarning]:
    """A warning for each of a run's own checks that failed (``summary.json``'s ``checks``).

    Parameters
    ----------
    checks : dict
        The summary's checks: ``energy_balance_ok`` with ``energy_balance_max_abs_error_wh``
        and ``energy_balance_tolerance_wh`` [Wh]; ``settlement_ok`` with
        ``bills_not_received`` [-] and the largest errors of metered energy [Wh], grid payments
        and bills [USD]; ``state_of_charge_within_limits``. A check that is missing or passed
        gives no warning.

    Returns
    -------
    list of PlausibilityWarning
        ``energy_balance_failed``, ``settlement_failed``, ``state_of_charge_outside_limits``.

    Examples
    --------
    >>> [w.check for w in failed_check_warnings({"settlement_ok": False, "bills_not_received": 84})]
    ['settlement_failed']
    >>> failed_check_warnings({"energy_balance_ok": True, "settlement_ok": True})
    []
    """
    warnings = []
    if checks.get("energy_balance_ok") is False:
        error_wh = float(checks.get("energy_balance_max_abs_error_wh", float("nan")))
        tolerance_wh = float(checks.get("energy_balance_tolerance_wh", float("nan")))
        warnings.append(
            PlausibilityWarning(
                check="energy_balance_failed",
                subject="run",
                value=error_wh,
                threshold=tolerance_wh,
                unit="Wh",
                message=(
                    f"the energy balance does not hold: substation supply and the households' "
                    f"draw, the feeder's own loads and the losses differ by up to {error_wh:.4g} "
                    f"Wh in a step, above the tolerance of {tolerance_wh:.4g} Wh. Some energy "
                    "is not where the tables say (households a power flow could not reach, or "
                    "a feeder element that draws or injects power the run does not record)."
                ),
            )
        )
    if checks.get("settlement_ok") is False:
        missing = int(checks.get("bills_not_received", 0) or 0)
        why = (
            f"{missing} household-interval(s) never received their settlement: a market that "
            "stopped before the end of the run, or households it does not settle"
            if missing
            else "the market's settlements disagree with what the households metered and "
            "received (metered energy, grid payments or bills), or trade payments do not cancel"
        )
        warnings.append(
            PlausibilityWarning(
                check="settlement_failed",
                subject="market",
                value=float(missing),
                threshold=0.0,
                unit="household-intervals",
                message=(
                    f"the settlement check failed: {why}. Bills, income advantages and the "
                    "market's KPIs of this run do not cover every interval; see summary.json's "
                    "checks for the largest differences."
                ),
            )
        )
    if checks.get("state_of_charge_within_limits") is False:
        warnings.append(
            PlausibilityWarning(
                check="state_of_charge_outside_limits",
                subject="batteries",
                value=None,
                threshold=None,
                unit="",
                message=(
                    "a battery's state of charge left its soc_min–soc_max range: the battery "
                    "model or a household program dispatched it beyond its limits."
                ),
            )
        )
    return warnings


def unused_wholesale_warning(
    path: str, mechanism: str, mechanisms_using: list[str], external_households: bool
) -> PlausibilityWarning:
    """The warning for a wholesale price file that no part of the federation reads.

    Parameters
    ----------
    path : str
        The wholesale price file (``prices.wholesale.path``).
    mechanism : str
        The market mechanism of the run (``market.mechanism``).
    mechanisms_using : list of str
        The mechanisms that clear with the wholesale price.
    external_households : bool
        Whether some households run in a program of their own (``ems.external``), which could
        subscribe to the wholesale price by itself.
    """
    using = ", ".join(mechanisms_using) or "none"
    external = (
        " (households run by an external program are given the same two prices; one that "
        "subscribes to price_feed/wholesale_price_usd_per_kwh by itself does read it)"
        if external_households
        else ""
    )
    return PlausibilityWarning(
        check="wholesale_prices_unused",
        subject=f"prices.wholesale.path {path}",
        value=None,
        threshold=None,
        unit="",
        message=(
            f"prices.wholesale reads {path}, but nothing in this federation uses the wholesale "
            f"price: the market mechanism {mechanism} clears without it (it is used by: "
            f"{using}), settlement is at the import and export prices, and the households' "
            f"strategies read only the import and export prices{external}. The series is only "
            "recorded (prices.parquet, the price plot). Choose a mechanism that uses it, or "
            "tie the import or export price to it (prices.import_tariff kind "
            "wholesale_indexed, prices.export_tariff)."
        ),
    )


def _households(rows: pd.DataFrame) -> str:
    """``"3 households (h01, h02, h03) are"``, naming at most `NAMED_ITEMS` of them."""
    ids = rows["household_id"].astype(str).tolist()
    named = ", ".join(ids[:NAMED_ITEMS]) + (", …" if len(ids) > NAMED_ITEMS else "")
    verb = "is" if len(ids) == 1 else "are"
    return f"{len(ids)} {_plural(len(ids))} ({named}) {verb}"


def _plural(count: int) -> str:
    return "household" if count == 1 else "households"


def _bus_list(rows: pd.DataFrame, with_kv: bool) -> str:
    """The buses of ``rows`` with their household counts (and base voltage), most used first."""
    per_bus = rows.groupby("bus", sort=False).agg(
        households=("household_id", "size"), base_kv_ll=("base_kv_ll", "first")
    )
    per_bus = per_bus.sort_values("households", ascending=False, kind="stable")
    named = [
        f"{row.Index}"
        + (f" at {row.base_kv_ll:.3g} kV" if with_kv else "")
        + f" ({row.households} {_plural(row.households)})"
        for row in per_bus.head(NAMED_ITEMS).itertuples()
    ]
    more = len(per_bus) - NAMED_ITEMS
    return ", ".join(named) + (f" and {more} more buses" if more > 0 else "")
