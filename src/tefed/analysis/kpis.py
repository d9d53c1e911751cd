"""Household and community KPIs of a run, computed from its tables (pure: no I/O).

Definitions (energies over the whole run):

- **bill** of a household: the sum of its settlement payments (``amount_usd``, positive = pays);
  its **baseline bill**: what it would pay under net billing without trading, from the same
  households' shadow dispatch (battery for self-consumption) at the same prices; the
  **income advantage** is baseline − bill (T-REX's measure).
- **self-sufficiency** of the community: share of its consumption not imported at the community
  boundary, ``1 − E_import / E_load``; **self-consumption**: share of its PV generation not
  exported, ``1 − E_export / E_pv``, where ``E_import`` and ``E_export`` come from the sum of all
  households' net power at each step (the community boundary, before feeder losses).
- **battery equivalent full cycles**: energy discharged over the run / usable capacity.

Households run by an external program (``ems.external``) are not in tefed's household records:
their load, PV and battery are unknown. `unrecorded_households` names them; their bills still
come from the market's ledger and their voltages from the grid, and the community KPIs say how
many households they cover.

References
----------
.. [1] D. Zhang, H. Gül, P. Musilek, "T-REX: a transactive energy market simulator"
   (University of Alberta): income advantage over the net-billing baseline.
.. [2] R. Luthander, J. Widén, D. Nilsson, J. Palm, "Photovoltaic self-consumption in
   buildings: A review", Applied Energy 142 (2015) 80–94. doi:10.1016/j.apenergy.2014.12.028
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tefed.domain.market.settlement import net_billing_amount_usd


def unrecorded_households(household_ids: list[str], households: pd.DataFrame) -> list[str]:
    """Households of the run that tefed's ems did not record (run by an external program).

    Parameters
    ----------
    household_ids : list of str
        Every household of the federation.
    households : pandas.DataFrame
        tefed's per-step household records (``household_id``).

    Returns
    -------
    list of str
        The ids absent from the records, in the federation's order.

    Examples
    --------
    >>> unrecorded_households(["h1", "h2", "h3"], pd.DataFrame({"household_id": ["h1", "h3"]}))
    ['h2']
    """
    recorded = set(households["household_id"])
    return [household for household in household_ids if household not in recorded]


def household_interval_bills(
    settlements: pd.DataFrame, household_intervals: pd.DataFrame, prices: pd.DataFrame
) -> pd.DataFrame:
    """Bill and baseline bill of every household in every interval [USD].

    Parameters
    ----------
    settlements : pandas.DataFrame
        Settlement ledger: ``participant``, ``interval_index``, ``amount_usd`` [USD].
    household_intervals : pandas.DataFrame
        Per recorded household and interval: ``household_id``, ``interval_index`` and
        ``baseline_energy_wh`` (shadow net-billing energy) [Wh].
    prices : pandas.DataFrame
        Per interval: ``interval_index``, ``import_price_usd_per_kwh`` and
        ``export_price_usd_per_kwh`` [USD/kWh].

    Returns
    -------
    pandas.DataFrame
        Indexed by (``household_id``, ``interval_index``), sorted: ``bill_usd`` (0 where the
        ledger has nothing) and ``baseline_bill_usd`` (NaN for a household tefed did not
        record) [USD]. Every participant of the ledger and every recorded household appears.

    Examples
    --------
    1 kWh drawn at 0.20 USD/kWh under net billing; the household paid 0.15 after trading:

    >>> bills = household_interval_bills(
    ...     pd.DataFrame({"participant": ["h1"], "interval_index": [0], "amount_usd": [0.15]}),
    ...     pd.DataFrame({"household_id": ["h1"], "interval_index": [0],
    ...         "baseline_energy_wh": [1000.0]}),
    ...     pd.DataFrame({"interval_index": [0], "import_price_usd_per_kwh": [0.20],
    ...         "export_price_usd_per_kwh": [0.05]}))
    >>> bills.loc[("h1", 0)].tolist()
    [0.15, 0.2]
    """
    key = ["household_id", "interval_index"]
    rows = household_intervals.join(prices.set_index("interval_index"), on="interval_index")
    baseline = pd.Series(
        net_billing_amount_usd(
            rows["baseline_energy_wh"].to_numpy(float),
            rows["import_price_usd_per_kwh"].to_numpy(float),
            rows["export_price_usd_per_kwh"].to_numpy(float),
        ),
        index=pd.MultiIndex.from_frame(rows[key]),
    )
    paid = (
        settlements.rename(columns={"participant": "household_id"}).groupby(key)["amount_usd"].sum()
    )
    index = baseline.index.union(paid.index).sort_values()
    table = pd.DataFrame(
        {
            "bill_usd": paid.reindex(index, fill_value=0.0),
            "baseline_bill_usd": baseline.groupby(level=key).sum().reindex(index),
        }
    )
    table.index.names = key
    return table


def household_bills(
    settlements: pd.DataFrame, household_intervals: pd.DataFrame, prices: pd.DataFrame
) -> pd.DataFrame:
    """Bill, baseline bill and income advantage per household over the run [USD].

    Parameters
    ----------
    settlements, household_intervals, prices : pandas.DataFrame
        As for `household_interval_bills`.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``household_id``: ``bill_usd``, ``baseline_bill_usd`` and
        ``income_advantage_usd`` = baseline − bill (NaN where the baseline is unknown: a
        household tefed did not record).

    Notes
    -----
    :math:`A_h = \\sum_k (B^{nb}_{h,k} - B_{h,k})` over intervals :math:`k`, T-REX's income
    advantage of trading over net billing.

    Examples
    --------
    See `household_interval_bills`; over one interval the advantage is 0.20 − 0.15 = 0.05 USD.
    """
    per_interval = household_interval_bills(settlements, household_intervals, prices)
    grouped = per_interval.groupby(level="household_id")
    table = pd.DataFrame(
        {
            "bill_usd": grouped["bill_usd"].sum(),
            "baseline_bill_usd": grouped["baseline_bill_usd"].sum(min_count=1),
        }
    )
    table["income_advantage_usd"] = table["baseline_bill_usd"] - table["bill_usd"]
    table.index.name = "household_id"
    return table


def stored_energy_change(
    households: pd.DataFrame, table: pd.DataFrame, price_usd_per_kwh: float
) -> pd.DataFrame:
    """Change of the energy in each recorded household's battery over the run, and its value.

    A bill ends the day with whatever the battery still holds: a fuller battery was paid for
    but not yet used. Set beside the bill, the change makes runs with different storage
    comparable.

    Parameters
    ----------
    households : pandas.DataFrame
        Per step: ``time_s`` [s], ``household_id`` and ``soc_kwh``, the stored energy after the
        step [kWh].
    table : pandas.DataFrame
        The household table indexed by ``household_id``: ``battery_capacity_kwh`` [kWh] and
        ``battery_soc_initial`` (fraction of capacity at the start) [-].
    price_usd_per_kwh : float
        What one kWh left in storage is worth [USD/kWh] (the summary uses the run's mean export
        price: what the energy would earn fed back under net billing).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``household_id``, households with a battery that tefed recorded:
        ``stored_energy_change_kwh`` (end minus start) [kWh] and ``stored_energy_value_usd``
        (that change times the price) [USD].

    Examples
    --------
    A 10 kWh battery starting half full and ending at 8 kWh holds 3 kWh more, worth 0.15 USD
    at 0.05 USD/kWh:

    >>> steps = pd.DataFrame({"time_s": [0, 60], "household_id": ["a", "a"],
    ...                       "soc_kwh": [6.0, 8.0]})
    >>> homes = pd.DataFrame({"battery_capacity_kwh": [10.0], "battery_soc_initial": [0.5]},
    ...                      index=pd.Index(["a"], name="household_id"))
    >>> stored_energy_change(steps, homes, 0.05).round(6).to_dict("records")
    [{'stored_energy_change_kwh': 3.0, 'stored_energy_value_usd': 0.15}]
    """
    final_kwh = (
        households.sort_values("time_s", kind="stable").groupby("household_id")["soc_kwh"].last()
    )
    capacity_kwh = table["battery_capacity_kwh"].reindex(final_kwh.index).astype(float)
    initial_kwh = table["battery_soc_initial"].reindex(final_kwh.index).astype(float) * capacity_kwh
    change_kwh = (final_kwh - initial_kwh)[capacity_kwh > 0]
    result = pd.DataFrame(
        {
            "stored_energy_change_kwh": change_kwh,
            "stored_energy_value_usd": change_kwh * price_usd_per_kwh,
        }
    )
    result.index.name = "household_id"
    return result


def community_energy(households: pd.DataFrame, step_s: float) -> dict[str, float | int]:
    """Energy totals and sharing KPIs of the community of recorded households.

    Parameters
    ----------
    households : pandas.DataFrame
        Per step and household: ``time_s`` [s], ``household_id``, ``load_power_kw``,
        ``pv_power_kw``, ``power_kw`` [kW].
    step_s : float
        Grid step [s].

    Returns
    -------
    dict
        ``households_counted``; ``load_kwh``, ``pv_kwh``, ``community_import_kwh``,
        ``community_export_kwh`` [kWh]; ``self_sufficiency_pct`` and
        ``self_consumption_pct`` [%] (NaN without load or PV).

    Notes
    -----
    With :math:`P_t = \\sum_h p_{h,t}` the community's net power at step :math:`t` and
    :math:`\\Delta t` the step: :math:`E_{imp} = \\Delta t \\sum_t \\max(P_t, 0)`,
    :math:`E_{exp} = \\Delta t \\sum_t \\max(-P_t, 0)`; self-sufficiency
    :math:`100 (1 - E_{imp} / E_{load})`, self-consumption :math:`100 (1 - E_{exp} / E_{pv})`
    (Luthander et al.). Energy shared between households inside the community does not cross
    its boundary.

    Examples
    --------
    One hour: a house draws 2 kW, its neighbour's PV makes 3 kW of which it uses 1 kW:

    >>> found = community_energy(pd.DataFrame({"time_s": [0, 0], "household_id": ["a", "b"],
    ...     "load_power_kw": [2.0, 1.0], "pv_power_kw": [0.0, 3.0],
    ...     "power_kw": [2.0, -2.0]}), 3600.0)
    >>> found["community_import_kwh"], found["self_sufficiency_pct"], found["self_consumption_pct"]
    (0.0, 100.0, 100.0)
    """
    hours = step_s / 3600.0
    per_step = households.groupby("time_s")[["load_power_kw", "pv_power_kw", "power_kw"]].sum()
    load_kwh = float(per_step["load_power_kw"].sum() * hours)
    pv_kwh = float(per_step["pv_power_kw"].sum() * hours)
    import_kwh = float(per_step["power_kw"].clip(lower=0).sum() * hours)
    export_kwh = float(-per_step["power_kw"].clip(upper=0).sum() * hours)
    return {
        "households_counted": int(households["household_id"].nunique()),
        "load_kwh": load_kwh,
        "pv_kwh": pv_kwh,
        "community_import_kwh": import_kwh,
        "community_export_kwh": export_kwh,
        "self_sufficiency_pct": 100.0 * (1.0 - import_kwh / load_kwh) if load_kwh > 0 else np.nan,
        "self_consumption_pct": 100.0 * (1.0 - export_kwh / pv_kwh) if pv_kwh > 0 else np.nan,
    }


def battery_cycles(households: pd.DataFrame, capacity_kwh: pd.Series, step_s: float) -> pd.Series:
    """Equivalent full cycles of each recorded household's battery [-].

    Parameters
    ----------
    households : pandas.DataFrame
        Per step: ``household_id`` and ``battery_power_kw`` [kW] (positive = charging).
    capacity_kwh : pandas.Series
        Battery capacity per household [kWh] (0 = none), indexed by ``household_id``.
    step_s : float
        Grid step [s].

    Returns
    -------
    pandas.Series
        ``equivalent_full_cycles`` per household with a battery that tefed recorded.

    Notes
    -----
    :math:`N = \\Delta t \\sum_t \\max(-p^{bat}_t, 0) / C`: energy discharged at the battery's
    terminals over its capacity, so one full discharge is one cycle and charging does not
    count twice.

    Examples
    --------
    >>> battery_cycles(pd.DataFrame({"household_id": ["a", "a"], "battery_power_kw": [-5.0,
    ...     2.0]}), pd.Series({"a": 10.0}), 3600.0).tolist()
    [0.5]
    """
    hours = step_s / 3600.0
    discharged = (-households["battery_power_kw"].clip(upper=0)).groupby(
        households["household_id"]
    ).sum() * hours
    with_battery = capacity_kwh[(capacity_kwh > 0) & capacity_kwh.index.isin(discharged.index)]
    return (discharged.reindex(with_battery.index) / with_battery).rename("equivalent_full_cycles")
