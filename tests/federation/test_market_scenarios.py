"""Each mechanism's scenario runs end to end, and its ledger holds on every interval."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from federations import (
    HELICS_CLI,
    REPO,
    free_port,
    helics_environment,
    lockstep_run,
    tefed_run,
    write_federation,
)

from tefed.analysis.run_tables import read_run_tables

MECHANISMS = {
    "market_double_auction": {"cleared", "no_crossing", "one_sided", "empty"},
    "market_curve_clearing": {
        "exact",
        "marginal_buyer",
        "marginal_seller",
        "no_crossing",
        "one_sided",
        "empty",
    },
    "market_continuous": {"cleared", "no_crossing", "one_sided", "empty"},
    "market_dlmp": {"optimal", "empty"},
    "market_p2p": {"cleared", "no_deal", "unpaired"},
    "market_communities": {"cleared", "no_crossing", "one_sided", "empty"},
}
#: The mechanism of each scenario whose name is not ``market_<mechanism>``.
MECHANISM_OF = {"market_p2p": "p2p_negotiation", "market_communities": "communities"}
MONEY_TOLERANCE_USD = 1e-9


def scenario_data(name: str, duration_s: int = 7200, **changes: object) -> dict:
    """The named scenario around midday (when PV trades), shortened."""
    data = yaml.safe_load((REPO / "scenarios" / f"{name}.yaml").read_text())
    data["time"]["start"] = "2022-06-21T11:00:00"
    data["time"]["duration_s"] = duration_s
    data["run"]["broker_port"] = free_port()
    for section, values in changes.items():
        data.setdefault(section, {}).update(values)
    return data


@pytest.fixture(scope="module", params=sorted(MECHANISMS))
def mechanism_run(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param)
    path = write_federation(folder, scenario_data(request.param))
    run = lockstep_run(path, folder / "run")
    return request.param, read_run_tables(run), run


def test_the_scenario_selects_its_mechanism_and_clears_every_interval(mechanism_run):
    name, tables, run = mechanism_run
    federation = json.loads(run.file("federation.json").read_text())
    market = next(entry for entry in federation["federates"] if entry["name"] == "market")
    expected = MECHANISM_OF.get(name, name.removeprefix("market_"))
    assert market["tefed"]["config"]["mechanism"] == expected
    intervals = tables["market_intervals"]
    assert intervals["interval_index"].tolist() == list(range(1, 8))
    assert set(intervals["status"]) <= MECHANISMS[name]
    assert (tables["market_orders"]["status"] == "accepted").all()
    assert intervals["traded_energy_wh"].sum() > 0
    checks = json.loads(run.file("summary.json").read_text())["checks"]
    assert checks["settlement_ok"] and checks["energy_balance_ok"]


def test_every_interval_balances_its_payments(mechanism_run):
    _, tables, _ = mechanism_run
    ledger = tables["market_settlements"]
    trades = ledger[ledger["reason"] == "trade"]
    per_interval = trades.groupby("interval_index")["amount_usd"].sum()
    assert np.abs(per_interval.to_numpy()).max() < MONEY_TOLERANCE_USD
    # A central counterparty (curve clearing's market) pays out exactly what it takes in.
    market_rows = trades[trades["participant"] == "market"]
    if not market_rows.empty:
        by_interval = market_rows.groupby("interval_index")["amount_usd"].sum()
        assert np.abs(by_interval.to_numpy()).max() < 1e-6


def test_each_household_is_billed_what_its_ledger_rows_say(mechanism_run):
    _, tables, _ = mechanism_run
    ledger = tables["market_settlements"]
    rows = ledger[~ledger["participant"].isin(["market", "grid"])]
    from_ledger = rows.groupby(["interval_index", "participant"])["amount_usd"].sum()
    bills = tables["household_intervals"].dropna(subset=["bill_usd"])
    billed = bills.set_index(["interval_index", "household_id"])["bill_usd"]
    billed.index.names = from_ledger.index.names
    pd.testing.assert_series_equal(
        from_ledger.sort_index(), billed.reindex(from_ledger.index), check_names=False
    )


def test_awards_never_exceed_orders_and_trades_respect_limits(mechanism_run):
    _, tables, _ = mechanism_run
    awards = tables["market_awards"]
    orders = tables["market_orders"]
    simple = orders[orders["kind"] == "simple"].set_index(
        ["interval_index", "participant", "order_id"]
    )["quantity_wh"]
    awarded = awards.groupby(["interval_index", "participant", "order_id"])["quantity_wh"].sum()
    on_simple = awarded[awarded.index.isin(simple.index)]
    assert (on_simple <= simple.reindex(on_simple.index)).all()
    trades = tables["market_trades"]
    limited = trades.dropna(subset=["bid_price_usd_per_kwh", "ask_price_usd_per_kwh"])
    assert (limited["price_usd_per_kwh"] <= limited["bid_price_usd_per_kwh"] + 1e-12).all()
    assert (limited["price_usd_per_kwh"] >= limited["ask_price_usd_per_kwh"] - 1e-12).all()
    assert (trades["buyer"] != trades["seller"]).all()


def test_the_ledger_table_holds_orders_awards_and_settlements(mechanism_run):
    _, tables, _ = mechanism_run
    ledger = tables["market_ledger"]
    counts = ledger["record"].value_counts()
    assert counts["order"] == len(tables["market_orders"])
    assert counts["award"] == len(tables["market_awards"])
    assert counts["settlement"] == len(tables["market_settlements"])
    assert {
        "interval_index",
        "participant",
        "pool",
        "side",
        "quantity_wh",
        "price_usd_per_kwh",
        "counterparty",
        "reason",
    } <= set(ledger.columns)


@pytest.mark.federation
def test_the_continuous_market_under_helics_matches_the_lockstep_run(tmp_path: Path):
    """Orders arrive over the interval from two shards; HELICS and lockstep agree exactly."""
    data = scenario_data("market_continuous", duration_s=3600, ems={"shards": 2})
    path = write_federation(tmp_path, data)
    completed = tefed_run(path)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    helics_dir = Path(completed.stdout.strip().splitlines()[-1])
    lockstep = lockstep_run(path, tmp_path / "lockstep")
    for name in ("market_trades", "market_settlements", "market_orders"):
        left = pd.read_parquet(helics_dir / f"{name}.parquet")
        right = pd.read_parquet(lockstep.path / f"{name}.parquet")
        pd.testing.assert_frame_equal(left, right, check_exact=True, obj=name)
    orders = pd.read_parquet(helics_dir / "market_orders.parquet")
    # Households order at times of their own, not all at gate closure.
    assert orders["received_time_s"].nunique() > 2


@pytest.mark.federation
def test_dlmp_reads_its_network_file_under_tefed_run_and_helics_run(tmp_path: Path):
    """The market clears on the network file beside the federation file, not on OpenDSS: in
    the run folder's copy under ``tefed run``, in place under ``helics run`` from the file's
    folder; both give the lockstep run's prices exactly."""
    path = write_federation(tmp_path, scenario_data("market_dlmp", duration_s=1800))
    completed = tefed_run(path)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    tefed_dir = Path(completed.stdout.strip().splitlines()[-1])
    resolved = json.loads((tefed_dir / "federation.json").read_text())
    market = next(entry for entry in resolved["federates"] if entry["name"] == "market")
    assert market["tefed"]["config"]["network_file"] == str(tefed_dir / "federation.network.json")
    helics = subprocess.run(
        [str(HELICS_CLI), "run", "--path", path.name],
        cwd=path.parent,
        env=helics_environment(),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert helics.returncode == 0, helics.stdout + helics.stderr
    (helics_dir,) = (tmp_path / "results").glob("*/helics-*")
    lockstep = lockstep_run(path, tmp_path / "lockstep")
    for run_dir in (tefed_dir, helics_dir):
        for name in ("market_dlmp", "market_trades", "market_settlements"):
            left = pd.read_parquet(run_dir / f"{name}.parquet")
            right = pd.read_parquet(lockstep.path / f"{name}.parquet")
            pd.testing.assert_frame_equal(left, right, check_exact=True, obj=name)
    dlmp = pd.read_parquet(lockstep.path / "market_dlmp.parquet")
    network = json.loads((tmp_path / "federation.network.json").read_text())
    assert set(dlmp["bus"]) == {network["source_bus"], *network["branches"]["to_bus"]}


def test_p2p_pairs_negotiate_and_pay_their_fees_and_penalties(tmp_path: Path):
    data = scenario_data("market_p2p")
    tables = read_run_tables(lockstep_run(write_federation(tmp_path, data), tmp_path / "run"))
    negotiations = tables["market_negotiations"]
    assert set(negotiations["outcome"]) <= {"traded", "failed", "refused"}
    traded = negotiations[negotiations["outcome"] == "traded"]
    assert len(traded) and (traded["rounds"].between(1, data["market"]["rounds"])).all()
    ledger = tables["market_settlements"]
    fees = ledger[(ledger["reason"] == "service_fee") & (ledger["participant"] != "market")]
    expected_usd = (
        traded["quantity_wh"].sum() / 1000 * data["market"]["service_fee_usd_per_kwh"] * 2
    )
    assert fees["amount_usd"].sum() == pytest.approx(expected_usd)
    # The market maker's rows mirror what the households pay it.
    charges = ledger[ledger["reason"].isin(["service_fee", "penalty"])]
    assert abs(charges["amount_usd"].sum()) < MONEY_TOLERANCE_USD


def test_communities_follow_the_feeders_transformers(tmp_path: Path):
    data = scenario_data("market_communities")
    run = lockstep_run(write_federation(tmp_path, data), tmp_path / "run")
    tables = read_run_tables(run)
    network = json.loads((tmp_path / "federation.network.json").read_text())
    transformers = {
        name
        for name, kind in zip(
            network["branches"]["branch"], network["branches"]["kind"], strict=True
        )
        if kind == "transformer"
    }
    communities = tables["market_communities"]
    assert set(communities["community"]) == transformers and len(transformers) == 2
    # What one community buys across, another sells.
    per_interval = communities.groupby("interval_index")[["upper_bought_wh", "upper_sold_wh"]]
    totals = per_interval.sum()
    assert (totals["upper_bought_wh"] == totals["upper_sold_wh"]).all()


@pytest.mark.federation
@pytest.mark.parametrize("name", ["market_p2p", "market_communities"])
def test_the_new_mechanisms_under_tefed_run_match_the_lockstep_run(tmp_path: Path, name: str):
    data = scenario_data(name, duration_s=3600, ems={"shards": 2})
    path = write_federation(tmp_path, data)
    completed = tefed_run(path)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    helics_dir = Path(completed.stdout.strip().splitlines()[-1])
    lockstep = lockstep_run(path, tmp_path / "lockstep")
    table = "market_negotiations" if name == "market_p2p" else "market_communities"
    for part in ("market_trades", "market_settlements", table):
        left = pd.read_parquet(helics_dir / f"{part}.parquet")
        right = pd.read_parquet(lockstep.path / f"{part}.parquet")
        pd.testing.assert_frame_equal(left, right, check_exact=True, obj=part)


def _battery_households(tables: dict) -> pd.DataFrame:
    steps = tables["households"]
    return steps[steps["soc_kwh"].notna()]


def test_a_battery_covers_shortfalls_only_when_it_is_allowed_to(tmp_path: Path):
    # Late afternoon: battery households sell part of their surplus, buyers take less than
    # that, and a battery steering toward its award behaves differently from self-consumption.
    data = scenario_data("market_double_auction", duration_s=4 * 3600)
    data["time"]["start"] = "2022-06-21T16:00:00"
    runs = {}
    for covers in (True, False):
        for group in data["households"]:
            if "battery" in group:
                group["battery"]["covers_shortfall"] = covers
        folder = tmp_path / str(covers)
        runs[covers] = read_run_tables(lockstep_run(write_federation(folder, data), folder / "run"))
    following = _battery_households(runs[True])
    self_consuming = _battery_households(runs[False])
    assert len(following) and len(self_consuming)
    # Without permission the battery does what it would under net billing (self-consumption)...
    np.testing.assert_allclose(
        self_consuming["power_kw"], self_consuming["baseline_power_kw"], atol=1e-12
    )
    # ...with it, it steers toward the awards, which differs from self-consumption.
    assert np.abs(following["power_kw"] - following["baseline_power_kw"]).max() > 0.01
