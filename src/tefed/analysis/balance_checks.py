"""Consistency checks of a run: energy balances and the market's ledger (pure: no I/O).

Each check compares two records of the same quantity kept by different federates, so a
mistake in one of them shows as a mismatch:

- the feeder's **energy balance**: what the substation supplies equals what the households draw
  plus what the feeder's own loads draw (an OpenDSS feeder's loads kept or scaled) plus the
  feeder losses, at every step (the grid's power flow against the ems's records);
  households run by an external program are not in the ems's records, so with them the balance
  is checked per market interval against the energy the market metered for them;
- the **settlement**: the market's ledger against the households' own metering and bills, and
  its payments to the grid against net billing recomputed here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tefed.domain.market.settlement import net_billing_amount_usd


def _feeder_loads_and_losses_kw(state: pd.DataFrame) -> pd.Series:
    """Per step: what the feeder's own loads draw plus its losses [kW].

    A grid table recorded before the grid wrote ``feeder_loads_kw`` counts no own loads.
    """
    if "feeder_loads_kw" not in state:
        return state["losses_kw"]
    return state["losses_kw"] + state["feeder_loads_kw"]


def energy_balance_error_wh(
    households: pd.DataFrame, grid: pd.DataFrame, step_s: float
) -> np.ndarray:
    """Per converged step: substation energy − (households' net energy + the feeder's own
    loads' energy + losses) [Wh].

    Parameters
    ----------
    households : pandas.DataFrame
        Per step and household: ``time_s`` [s], ``power_kw`` [kW].
    grid : pandas.DataFrame
        Per step: ``time_s`` [s], ``substation_power_kw``, ``losses_kw`` and
        ``feeder_loads_kw`` (what the feeder's own loads draw; none in a table without it)
        [kW]; NaN where the power flow did not converge (those steps are left out).
    step_s : float
        Grid step [s].

    Returns
    -------
    numpy.ndarray
        The mismatch of every converged step [Wh].

    Notes
    -----
    The power flow delivers exactly what the households and the feeder's own loads draw plus
    the losses, so this is zero to the power flow's tolerance:
    :math:`(P^{sub}_t - \\sum_h p_{h,t} - P^{own}_t - P^{loss}_t) \\Delta t`.

    Examples
    --------
    Two households draw 1 kW net, the feeder's own loads 0.2 kW, the losses 0.1 kW; the
    substation's 1.6 kW leave 0.3 kW for an hour unaccounted for:

    >>> energy_balance_error_wh(pd.DataFrame({"time_s": [0, 0], "power_kw": [2.0, -1.0]}),
    ...     pd.DataFrame({"time_s": [0], "substation_power_kw": [1.6], "losses_kw": [0.1],
    ...     "feeder_loads_kw": [0.2]}), 3600.0).round(6).tolist()
    [300.0]
    """
    to_wh = step_s / 3.6
    net = households.groupby("time_s")["power_kw"].sum()
    state = grid.set_index("time_s")
    supplied_kw = state["substation_power_kw"] - _feeder_loads_and_losses_kw(state)
    error = (supplied_kw - net.reindex(state.index)) * to_wh
    return error.dropna().to_numpy()


def interval_energy_balance_error_wh(
    households: pd.DataFrame,
    grid: pd.DataFrame,
    unrecorded_energy_wh: pd.Series,
    step_s: float,
    interval_s: float,
) -> np.ndarray:
    """Per market interval: the energy balance with households tefed did not record [Wh].

    Parameters
    ----------
    households : pandas.DataFrame
        tefed's per-step records: ``time_s`` [s], ``power_kw`` [kW].
    grid : pandas.DataFrame
        Per step: ``time_s`` [s], ``substation_power_kw``, ``losses_kw`` and
        ``feeder_loads_kw`` [kW] (a table without the feeder's own loads counts none).
    unrecorded_energy_wh : pandas.Series
        Net energy the market metered for the households not in ``households`` [Wh], summed
        per interval, indexed by ``interval_index``.
    step_s, interval_s : float
        Grid step and market interval [s].

    Returns
    -------
    numpy.ndarray
        Per interval whose steps all converged: substation energy − (recorded households'
        energy + the feeder's own loads' energy + losses) − unrecorded households' metered
        energy [Wh].

    Notes
    -----
    The market meters every household's published power at every step, and the grid applies
    the same power, so the unrecorded households' metered energy closes the balance that
    their missing per-step records leave open.

    Examples
    --------
    One recorded household draws 1 kW for an hour, an external one 0.5 kW, losses 0.1 kW:

    >>> interval_energy_balance_error_wh(
    ...     pd.DataFrame({"time_s": [0], "power_kw": [1.0]}),
    ...     pd.DataFrame({"time_s": [0], "substation_power_kw": [1.6], "losses_kw": [0.1]}),
    ...     pd.Series({0: 500.0}), 3600.0, 3600.0).round(6).tolist()
    [0.0]
    """
    to_wh = step_s / 3.6
    net = households.groupby("time_s")["power_kw"].sum()
    state = grid.set_index("time_s")
    open_wh = (state["substation_power_kw"] - net.reindex(state.index, fill_value=0.0)) * to_wh
    open_wh -= _feeder_loads_and_losses_kw(state) * to_wh
    interval = (state.index.to_numpy() // interval_s).astype(np.int64)
    per_interval = open_wh.groupby(interval).sum(min_count=1)
    solved = open_wh.notna().groupby(interval).all()
    error = per_interval - unrecorded_energy_wh.reindex(per_interval.index, fill_value=0.0)
    return error[solved].to_numpy()


def settlement_checks(
    settlements: pd.DataFrame,
    household_intervals: pd.DataFrame,
    awards: pd.DataFrame,
    prices: pd.DataFrame,
) -> dict[str, float]:
    """Cross-check the market's ledger against records kept elsewhere [Wh, USD].

    Parameters
    ----------
    settlements : pandas.DataFrame
        The market's ledger (``interval_index``, ``participant``, ``counterparty``,
        ``energy_wh``, ``amount_usd``, ``reason``).
    household_intervals : pandas.DataFrame
        The households' own records per interval: ``energy_wh`` (metered by the household)
        [Wh] and ``bill_usd`` (the settlement it received) [USD].
    awards : pandas.DataFrame
        The market's awards (``interval_index``, ``participant``, ``side``, ``quantity_wh``).
    prices : pandas.DataFrame
        The price feed's net-billing prices per interval.

    Returns
    -------
    dict
        Largest absolute differences: ``metered_energy_max_abs_error_wh`` (ledger energy vs the
        household's metering), ``grid_payments_max_abs_error_usd`` (ledger payments to the grid
        vs net billing of each deviation from awards less the unused energy returned to it,
        recomputed here), ``bills_max_abs_error_usd``
        (ledger total vs the settlement the household received), ``bills_not_received`` (count),
        and ``trade_payments_sum_usd`` (trade payments must cancel).

    Examples
    --------
    ``a`` bought 300 Wh from ``b`` and drew 500 Wh; the 200 Wh beyond its award is net billing:

    >>> from tefed.domain.market.settlement import settle_interval
    >>> trades = pd.DataFrame({"buyer": ["a"], "seller": ["b"], "quantity_wh": [300],
    ...     "price_usd_per_kwh": [0.1]})
    >>> ledger = settle_interval(pd.Series({"a": 500.0, "b": -300.0}), trades, 0.20, 0.05
    ...     ).assign(interval_index=0)
    >>> records = pd.DataFrame({"interval_index": 0, "household_id": ["a", "b"],
    ...     "energy_wh": [500.0, -300.0], "bill_usd": [0.07, -0.03]})
    >>> awards = pd.DataFrame({"interval_index": 0, "participant": ["a", "b"],
    ...     "side": ["buy", "sell"], "quantity_wh": [300, 300]})
    >>> prices = pd.DataFrame({"interval_index": [0], "import_price_usd_per_kwh": [0.20],
    ...     "export_price_usd_per_kwh": [0.05]})
    >>> found = settlement_checks(ledger, records, awards, prices)
    >>> found["grid_payments_max_abs_error_usd"], round(found["bills_max_abs_error_usd"], 12)
    (0.0, 0.0)
    """
    key = ["interval_index", "household_id"]
    records = household_intervals.set_index(key)
    ledger = settlements.rename(columns={"participant": "household_id"})

    def per_household(frame: pd.DataFrame, column: str) -> pd.Series:
        return frame.groupby(key)[column].sum().reindex(records.index, fill_value=0.0)

    ledger_energy_wh = per_household(ledger, "energy_wh")
    ledger_total_usd = per_household(ledger, "amount_usd")
    # Deviations from the awards are settled with the grid; awards themselves are trades (with
    # the grid as counterparty under DLMP), so they are not part of this check.
    deviations = ledger[(ledger["counterparty"] == "grid") & (ledger["reason"] != "trade")]
    ledger_grid_usd = per_household(deviations, "amount_usd")
    signed_wh = np.where(awards["side"] == "buy", awards["quantity_wh"], -awards["quantity_wh"])
    awarded_wh = per_household(
        awards.rename(columns={"participant": "household_id"}).assign(signed_wh=signed_wh),
        "signed_wh",
    )
    # Unused energy a buyer returned to its seller (T-REX rule 10) moves between households;
    # each one's grid payments are the net billing of its deviation less what it got back.
    returned = ledger[(ledger["reason"] == "unused") & (ledger["counterparty"] != "grid")]
    returned_wh = per_household(returned, "energy_wh")
    price = prices.set_index("interval_index")
    intervals = records.index.get_level_values("interval_index")
    expected_grid_usd = net_billing_amount_usd(
        (records["energy_wh"] - awarded_wh - returned_wh).to_numpy(),
        price["import_price_usd_per_kwh"].reindex(intervals).to_numpy(),
        price["export_price_usd_per_kwh"].reindex(intervals).to_numpy(),
    )
    received = records["bill_usd"].notna()
    bill_error = (ledger_total_usd - records["bill_usd"])[received].abs()
    return {
        "metered_energy_max_abs_error_wh": float(
            (ledger_energy_wh - records["energy_wh"]).abs().max()
        ),
        "grid_payments_max_abs_error_usd": float(
            np.abs(ledger_grid_usd.to_numpy() - expected_grid_usd).max()
        ),
        "bills_max_abs_error_usd": float(bill_error.max()) if received.any() else 0.0,
        "bills_not_received": int((~received).sum()),
        "trade_payments_sum_usd": float(
            settlements.loc[settlements["reason"] == "trade", "amount_usd"].sum()
        ),
    }
