"""A run whose market wrote no tables (a replacement program): its summary and plots come from
what the households received, the same numbers as from the market's own tables; what needs the
market's books is named as not available; a wrong settlement is found."""

from __future__ import annotations

import pytest

from tefed.analysis.run_tables import read_run_tables
from tefed.analysis.summary import compute_summary
from tefed.contract.federation_file import FederationFile
from tefed.contract.run_folder import RunFolder
from tefed.reporting.plots import write_plots

#: KPIs of ``summary["market"]`` that the households' messages carry.
RECEIVED_MARKET_KPIS = (
    "trades",
    "traded_energy_kwh",
    "min_trade_price_usd_per_kwh",
    "mean_trade_price_usd_per_kwh",
    "max_trade_price_usd_per_kwh",
    "volume_weighted_price_usd_per_kwh",
    "sold_to_counterparty_kwh",
    "intervals_with_trades",
    "consumer_energy_kwh",
    "consumer_price_usd_per_kwh",
)


@pytest.fixture(scope="module")
def run_tables(short_lockstep_run):
    """The short run's federation file, its tables, and its tables without the market's."""
    federation = FederationFile.model_validate(short_lockstep_run.read_json("federation.json"))
    tables = read_run_tables(short_lockstep_run)
    without_market = {name: t for name, t in tables.items() if not name.startswith("market_")}
    return federation, tables, without_market


def test_the_households_received_every_award_and_settlement_line(run_tables):
    _, tables, _ = run_tables
    awards = tables["household_awards"]
    market_awards = tables["market_awards"]
    assert len(awards) == len(market_awards) > 0
    key = ["interval_index", "participant", "order_id", "side", "quantity_wh"]
    received = awards.rename(columns={"household_id": "participant"})[key]
    assert sorted(map(tuple, received.to_numpy())) == sorted(
        map(tuple, market_awards[key].to_numpy())
    )
    lines = tables["household_settlements"]
    ledger = tables["market_settlements"]
    assert len(lines) == len(ledger)
    assert lines["amount_usd"].sum() == pytest.approx(ledger["amount_usd"].sum(), abs=1e-12)


def test_bills_and_trades_without_the_market_tables_match_the_market_books(run_tables):
    federation, tables, without_market = run_tables
    books = compute_summary(federation, tables)
    received = compute_summary(federation, without_market)
    for household, row in books["households"].items():
        for kpi in ("bill_usd", "baseline_bill_usd", "income_advantage_usd"):
            assert received["households"][household][kpi] == pytest.approx(row[kpi], abs=1e-12)
    assert received["community_income_advantage_usd"] == pytest.approx(
        books["community_income_advantage_usd"], abs=1e-12
    )
    assert books["market"]["traded_energy_kwh"] > 0
    for kpi in RECEIVED_MARKET_KPIS:
        assert received["market"][kpi] == pytest.approx(books["market"][kpi], abs=1e-12), kpi
    for pool, statistics in books["market"]["pools"].items():
        assert received["market"]["pools"][pool]["trades"] == statistics["trades"]
    assert received["market"]["source"].startswith("the awards and settlements")
    assert "source" not in books["market"]


def test_what_needs_the_market_books_is_named_with_the_reason(run_tables):
    federation, _, without_market = run_tables
    market = compute_summary(federation, without_market)["market"]
    assert market["welfare"]["welfare_usd"] is None
    assert "market_orders" in market["welfare"]["reason"]
    assert set(market["not_available"]) == {"orders", "rejected_orders", "intervals_cleared"}
    assert all("not available" in reason for reason in market["not_available"].values())
    assert not {"orders", "rejected_orders", "intervals_cleared"} & market.keys()


def test_the_received_settlements_are_recomputed_and_pass(run_tables):
    federation, _, without_market = run_tables
    checks = compute_summary(federation, without_market)["checks"]
    assert checks["settlement_ok"]
    assert checks["settlement_discrepancies"] == checks["bills_not_received"] == 0
    assert "recomputed" in checks["settlement_checked_from"]


def test_a_buyer_charged_more_than_its_award_fails_the_check(run_tables):
    federation, _, without_market = run_tables
    lines = without_market["household_settlements"].copy()
    bought = lines.index[(lines["reason"] == "trade") & (lines["energy_wh"] > 0)][0]
    lines.loc[bought, "amount_usd"] *= 1.5
    checks = compute_summary(federation, {**without_market, "household_settlements": lines})[
        "checks"
    ]
    assert not checks["settlement_ok"]
    (wrong,) = checks["settlement_discrepancies_listed"]
    assert wrong["item"] == "trade payment"
    assert wrong["household_id"] == lines.loc[bought, "household_id"]
    assert wrong["observed"] == pytest.approx(1.5 * wrong["expected"])


def test_the_plots_are_drawn_from_what_the_households_received(run_tables, tmp_path):
    federation, _, without_market = run_tables
    written = write_plots(RunFolder(tmp_path), federation, without_market)
    assert {"income_advantage.png", "market_prices.png"} <= set(written)
