"""Dynamic retail tariffs: hand-computed prices, and a price CSV that changes the bills."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from federations import lockstep_run, short_scenario_data, write_federation

from tefed.analysis.run_tables import read_run_tables
from tefed.domain.prices.tariffs import (
    wholesale_indexed_export_usd_per_kwh,
    wholesale_indexed_import_usd_per_kwh,
)


def test_import_price_is_wholesale_plus_charges_taxed_with_a_floor() -> None:
    wholesale = np.array([0.040, 0.000, -0.100])
    # (0.04 + 0.08) · 1.2 = 0.144; (0 + 0.08) · 1.2 = 0.096; (−0.1 + 0.08) · 1.2 = −0.024 → 0.05
    price = wholesale_indexed_import_usd_per_kwh(wholesale, 0.08, 0.2, 0.05)
    np.testing.assert_allclose(price, [0.144, 0.096, 0.05])
    # Without a floor a negative wholesale price reaches the household.
    np.testing.assert_allclose(
        wholesale_indexed_import_usd_per_kwh(wholesale, 0.08, 0.2, None), [0.144, 0.096, -0.024]
    )


def test_export_price_follows_wholesale() -> None:
    wholesale = np.array([0.050, -0.020])
    np.testing.assert_allclose(
        wholesale_indexed_export_usd_per_kwh(wholesale, 0.8, 0.01, None), [0.05, -0.006]
    )
    np.testing.assert_allclose(
        wholesale_indexed_export_usd_per_kwh(wholesale, 0.8, 0.01, 0.0), [0.05, 0.0]
    )


def test_a_negative_tax_is_refused() -> None:
    with pytest.raises(ValueError, match=r"tax_fraction: got -0\.1"):
        wholesale_indexed_import_usd_per_kwh(np.zeros(1), 0.0, -0.1, None)


def _write_prices(path: Path, usd_per_mwh: float) -> None:
    hours = pd.date_range("2022-06-20", periods=96, freq="h")
    frame = pd.DataFrame(
        {"timestamp": hours.strftime("%Y-%m-%dT%H:%M:%S"), "price_usd_per_mwh": usd_per_mwh}
    )
    frame.to_csv(path, index=False)


def test_a_price_csv_changes_what_households_pay(tmp_path: Path) -> None:
    bills = {}
    prices = {}
    for usd_per_mwh in (20.0, 120.0):
        folder = tmp_path / f"w{int(usd_per_mwh)}"
        folder.mkdir()
        _write_prices(folder / "wholesale.csv", usd_per_mwh)
        data = short_scenario_data()
        data["time"]["duration_s"] = 3600
        data["prices"]["wholesale"] = {
            "source": "csv",
            "path": "wholesale.csv",
            "timezone": data["time"]["timezone"],
        }
        data["prices"]["import_tariff"] = {
            "kind": "wholesale_indexed",
            "energy_charge_usd_per_kwh": 0.08,
            "tax_fraction": 0.1,
        }
        data["prices"]["export_tariff"] = {"kind": "wholesale_indexed", "fraction": 0.9}
        tables = read_run_tables(lockstep_run(write_federation(folder, data), folder / "run"))
        bills[usd_per_mwh] = tables["household_intervals"]["bill_usd"].sum()
        prices[usd_per_mwh] = tables["prices"]
    # (0.02 + 0.08) · 1.1 = 0.11 and (0.12 + 0.08) · 1.1 = 0.22 USD/kWh; exports 0.018, 0.108.
    np.testing.assert_allclose(prices[20.0]["import_price_usd_per_kwh"], 0.11)
    np.testing.assert_allclose(prices[120.0]["import_price_usd_per_kwh"], 0.22)
    np.testing.assert_allclose(prices[20.0]["export_price_usd_per_kwh"], 0.018)
    np.testing.assert_allclose(prices[120.0]["export_price_usd_per_kwh"], 0.108)
    assert bills[20.0] != pytest.approx(bills[120.0])
