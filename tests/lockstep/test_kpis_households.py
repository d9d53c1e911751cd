"""Household KPIs with households run by an external program (not in tefed's records)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tefed.analysis.balance_checks import energy_balance_error_wh, interval_energy_balance_error_wh
from tefed.analysis.kpis import (
    battery_cycles,
    community_energy,
    household_bills,
    household_interval_bills,
    unrecorded_households,
)
from tefed.analysis.run_tables import read_run_tables
from tefed.analysis.summary import compute_summary
from tefed.contract.federation_file import FederationFile

PRICES = pd.DataFrame(
    {
        "interval_index": [0, 1],
        "import_price_usd_per_kwh": [0.20, 0.30],
        "export_price_usd_per_kwh": [0.05, 0.10],
    }
)


def test_households_missing_from_the_records_are_named() -> None:
    records = pd.DataFrame({"time_s": [0, 0], "household_id": ["h1", "h3"]})
    assert unrecorded_households(["h1", "h2", "h3", "x"], records) == ["h2", "x"]
    assert unrecorded_households(["h1"], records) == []


def test_an_external_household_has_a_bill_but_no_baseline() -> None:
    intervals = pd.DataFrame(
        {"household_id": ["h1", "h1"], "interval_index": [0, 1], "baseline_energy_wh": [500.0, 0.0]}
    )
    settlements = pd.DataFrame(
        {
            "participant": ["h1", "ext", "ext"],
            "interval_index": [0, 0, 1],
            "amount_usd": [0.08, 0.02, -0.01],
        }
    )
    bills = household_bills(settlements, intervals, PRICES)
    # h1: baseline 0.5 kWh x 0.20 = 0.10, advantage 0.02; ext: bill 0.01, no baseline.
    assert bills.loc["h1"].tolist() == pytest.approx([0.08, 0.10, 0.02], abs=1e-12)
    assert bills.loc["ext", "bill_usd"] == pytest.approx(0.01, abs=1e-12)
    assert math.isnan(bills.loc["ext", "baseline_bill_usd"])
    assert math.isnan(bills.loc["ext", "income_advantage_usd"])
    per_interval = household_interval_bills(settlements, intervals, PRICES)
    assert per_interval.loc[("h1", 1), "bill_usd"] == 0.0


def _steps() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two recorded households over two 30 min steps (one 1 h interval); an external one draws
    1 kW, then exports 0.5 kW; losses 0.2 kW."""
    households = pd.DataFrame(
        {
            "time_s": [0, 0, 1800, 1800],
            "household_id": ["h1", "h2", "h1", "h2"],
            "load_power_kw": [2.0, 1.0, 2.0, 1.0],
            "pv_power_kw": [0.0, 0.0, 0.0, 3.0],
            "battery_power_kw": [0.0, 0.0, 0.0, 0.0],
            "power_kw": [2.0, 1.0, 2.0, -2.0],
        }
    )
    grid = pd.DataFrame(
        {
            "time_s": [0, 1800],
            "substation_power_kw": [3.0 + 1.0 + 0.2, 0.0 - 0.5 + 0.2],
            "losses_kw": [0.2, 0.2],
        }
    )
    return households, grid


def test_energy_balance_closes_per_interval_with_the_metered_external_energy() -> None:
    households, grid = _steps()
    # The market metered 1 kW x 0.5 h - 0.5 kW x 0.5 h = 250 Wh for the external household.
    error = interval_energy_balance_error_wh(households, grid, pd.Series({0: 250.0}), 1800, 3600)
    np.testing.assert_allclose(error, [0.0], rtol=0, atol=1e-9)
    # Per step, without it, the balance is off by exactly the external household's energy.
    np.testing.assert_allclose(
        energy_balance_error_wh(households, grid, 1800), [500.0, -250.0], rtol=0, atol=1e-9
    )


def test_energy_balance_per_interval_counts_the_feeders_own_loads() -> None:
    households, grid = _steps()
    # The feeder's own loads draw 2 kW and 4 kW more at the substation: 1 kWh + 2 kWh.
    grid["substation_power_kw"] += [2.0, 4.0]
    grid["feeder_loads_kw"] = [2.0, 4.0]
    error = interval_energy_balance_error_wh(households, grid, pd.Series({0: 250.0}), 1800, 3600)
    np.testing.assert_allclose(error, [0.0], rtol=0, atol=1e-9)
    grid.loc[1, "feeder_loads_kw"] = 3.0
    error = interval_energy_balance_error_wh(households, grid, pd.Series({0: 250.0}), 1800, 3600)
    np.testing.assert_allclose(error, [500.0], rtol=0, atol=1e-9)


def test_energy_balance_per_interval_finds_a_wrong_metering() -> None:
    households, grid = _steps()
    error = interval_energy_balance_error_wh(households, grid, pd.Series({0: 200.0}), 1800, 3600)
    np.testing.assert_allclose(error, [50.0], rtol=0, atol=1e-9)


def test_energy_balance_leaves_out_steps_that_did_not_converge() -> None:
    households, grid = _steps()
    grid.loc[1, ["substation_power_kw", "losses_kw"]] = np.nan
    assert energy_balance_error_wh(households, grid, 1800).size == 1
    assert (
        interval_energy_balance_error_wh(households, grid, pd.Series({0: 250.0}), 1800, 3600).size
        == 0
    )


def test_community_energy_counts_only_the_recorded_households() -> None:
    households, _ = _steps()
    found = community_energy(households, 1800)
    # Load 3 kW for 1 h; PV 1.5 kWh; the community imports 1.5 kWh, exports nothing.
    assert found["households_counted"] == 2
    assert found["load_kwh"] == pytest.approx(3.0, abs=1e-12)
    assert found["self_sufficiency_pct"] == pytest.approx(50.0, abs=1e-12)
    assert found["self_consumption_pct"] == pytest.approx(100.0, abs=1e-12)


def test_battery_cycles_of_an_unrecorded_household_are_not_invented() -> None:
    households = pd.DataFrame({"household_id": ["h1", "h1"], "battery_power_kw": [-5.0, 0.0]})
    cycles = battery_cycles(households, pd.Series({"h1": 5.0, "ext": 10.0}), 3600)
    assert cycles.to_dict() == {"h1": 1.0}


@pytest.fixture(scope="module")
def run_with_an_external_household(short_lockstep_run):
    """The short run's tables as if h09 (PV and battery) had run in an external program."""
    federation = FederationFile.model_validate(short_lockstep_run.read_json("federation.json"))
    tables = read_run_tables(short_lockstep_run)
    for name in ("households", "household_intervals"):
        tables[name] = tables[name][tables[name]["household_id"] != "h09"].reset_index(drop=True)
    return federation, tables


def test_summary_names_the_external_household_and_still_balances(run_with_an_external_household):
    summary = compute_summary(*run_with_an_external_household)
    external = summary["households_not_recorded_by_tefed"]
    assert (external["count"], external["household_ids"]) == (1, ["h09"])
    assert external["bill_usd"] == pytest.approx(summary["households"]["h09"]["bill_usd"])
    assert "baseline_bill_usd" not in summary["households"]["h09"]
    assert "battery_equivalent_full_cycles" not in summary["households"]["h09"]
    assert summary["community"]["households_counted"] == 11
    checks = summary["checks"]
    assert checks["energy_balance_ok"] and checks["settlement_ok"]
    assert checks["energy_balance_per"].startswith("market interval")
    recorded = [row for name, row in summary["households"].items() if name != "h09"]
    assert summary["community_bill_usd"] == pytest.approx(sum(r["bill_usd"] for r in recorded))


def test_summary_finds_an_external_household_metered_wrongly(run_with_an_external_household):
    federation, tables = run_with_an_external_household
    ledger = tables["market_settlements"].copy()
    first = ledger.index[ledger["participant"] == "h09"][0]
    ledger.loc[first, "energy_wh"] += 10.0
    summary = compute_summary(federation, {**tables, "market_settlements": ledger})
    assert not summary["checks"]["energy_balance_ok"]
    assert summary["checks"]["energy_balance_max_abs_error_wh"] == pytest.approx(10.0, abs=0.5)
