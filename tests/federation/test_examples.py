"""The example replacement federates (examples/): each runs under ``helics run`` in place of the
built-in one and passes ``tefed check-federate``; the example market's clearing rule holds."""

from __future__ import annotations

import copy
import doctest
import importlib.util
import json
import shutil
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
import yaml
from federations import REPO, free_port, helics_run, run_program, write_federation
from hypothesis import given
from hypothesis import strategies as st

from tefed.conformance.harness import HARNESS_SCENARIO, check_federate
from tefed.contract.run_folder import RunFolder
from tefed.reporting.html_report import render_report

pytestmark = pytest.mark.federation

EXAMPLES = REPO / "examples"
MARKET = EXAMPLES / "uniform_price_market.py"
HOUSEHOLD = EXAMPLES / "household_agent.py"
RUN_TIMEOUT_S = 120
#: Tables every run writes, whoever the market and the households are.
COMMON_TABLES = ("grid.parquet", "prices.parquet", "households/ems.parquet", "summary.json")


def load_example(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def federation_with(folder: Path, name: str, external_household: bool, plots: bool = False) -> Path:
    """The harness scenario as a federation file, optionally with h01 run by the example (and
    its runs drawing their figures)."""
    data = copy.deepcopy(HARNESS_SCENARIO)
    data["name"] = name
    data["run"]["broker_port"] = free_port()
    if external_household:
        data["ems"] = {
            "external": [{"household_id": "h01", "exec": f"{sys.executable} {HOUSEHOLD}"}]
        }
    return write_federation(folder, data, plots=plots)


def run_with_helics(path: Path) -> Path:
    """``helics run --path FILE`` in the file's folder; returns the run folder."""
    completed = helics_run(path, timeout_s=RUN_TIMEOUT_S)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    (run_dir,) = (path.parent / "results").glob("*/helics-*")
    assert json.loads((run_dir / "status.json").read_text())["state"] == "complete"
    for table in COMMON_TABLES:
        assert (run_dir / table).exists(), table
    return run_dir


def test_the_uniform_price_market_runs_under_helics_run(tmp_path: Path):
    path = federation_with(tmp_path, "example-market", external_household=False, plots=True)
    data = json.loads(path.read_text())
    market = next(entry for entry in data["federates"] if entry["name"] == "market")
    market["exec"] = f"{sys.executable} {MARKET} {path.name} --name market"
    path.write_text(json.dumps(data, indent=2))
    run_dir = run_with_helics(path)
    assert not list(run_dir.glob("market_*.parquet"))  # the example keeps no ledger
    intervals = pd.read_parquet(run_dir / "household_intervals")
    # Every household received a settlement for every interval, and awards that balance.
    assert len(intervals) == 4 * 4 and np.isfinite(intervals["bill_usd"]).all()
    awarded = intervals.groupby("interval_index")["awarded_net_energy_wh"].sum()
    assert (awarded == 0).all()
    assert (intervals["awarded_net_energy_wh"] != 0).any()
    # The summary and plots come from what the households received.
    summary = json.loads((run_dir / "summary.json").read_text())
    for household, row in summary["households"].items():
        bill = intervals.loc[intervals["household_id"] == household, "bill_usd"].sum()
        assert row["bill_usd"] == pytest.approx(bill, abs=1e-12)
        assert row["income_advantage_usd"] == pytest.approx(
            row["baseline_bill_usd"] - row["bill_usd"]
        )
    assert summary["community_income_advantage_usd"] != 0
    market = summary["market"]
    assert market["source"].startswith("the awards and settlements every household received")
    bought = pd.read_parquet(run_dir / "household_awards").query("side == 'buy'")
    assert market["traded_energy_kwh"] == bought["quantity_wh"].sum() / 1000 > 0
    assert market["pools"]["non_dispatchable"]["trades"] == len(bought)
    assert market["welfare"]["welfare_usd"] is None and market["welfare"]["reason"]
    assert summary["checks"]["settlement_ok"]
    assert {"income_advantage.png", "market_prices.png"} <= {
        path.name for path in run_dir.glob("plots/*.png")
    }
    page = render_report(RunFolder(run_dir))
    assert "<h3>Not available</h3>" in page and "intervals_cleared" in page


def test_the_household_agent_runs_under_helics_run(tmp_path: Path):
    run_dir = run_with_helics(
        federation_with(tmp_path, "example-household", external_household=True)
    )
    orders = pd.read_parquet(run_dir / "market_orders.parquet")
    mine = orders[orders["participant"] == "h01"]
    assert set(mine["interval_index"]) == {1, 2, 3}
    assert (mine["status"] == "accepted").all()
    settlements = pd.read_parquet(run_dir / "market_settlements.parquet")
    assert set(settlements.loc[settlements["participant"] == "h01", "interval_index"]) == {
        0,
        1,
        2,
        3,
    }
    recorded = pd.read_parquet(run_dir / "households")
    assert "h01" not in set(recorded["household_id"])


def test_a_scenario_names_the_household_agent_and_tefed_runs_it(tmp_path: Path):
    # The scenario lives in a subfolder; the program path is relative to where tefed runs.
    shutil.copy(HOUSEHOLD, tmp_path / "my_household.py")
    data = copy.deepcopy(HARNESS_SCENARIO)
    data["name"] = "scenario-household"
    data["ems"] = {
        "external": [{"household_id": "h01", "exec": f"{sys.executable} my_household.py"}]
    }
    scenario = tmp_path / "studies" / "agent.yaml"
    scenario.parent.mkdir()
    scenario.write_text(yaml.safe_dump(data))
    completed = run_program(
        [sys.executable, "-m", "tefed", "run", "studies/agent.yaml", "--no-progress", "--no-plots"],
        tmp_path,
        RUN_TIMEOUT_S,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    run_dir = Path(completed.stdout.strip().splitlines()[-1])
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["households_not_recorded_by_tefed"]["household_ids"] == ["h01"]
    assert summary["checks"]["energy_balance_ok"] and summary["checks"]["settlement_ok"]


@pytest.mark.parametrize(("role", "program"), [("market", MARKET), ("household", HOUSEHOLD)])
def test_the_examples_pass_the_checker(tmp_path: Path, role: str, program: Path):
    report = check_federate(role, [sys.executable, str(program)], tmp_path)
    assert report.findings == []


@pytest.mark.parametrize("program", [MARKET, HOUSEHOLD])
def test_the_examples_doctests(program: Path):
    results = doctest.testmod(load_example(program))
    assert results.attempted >= 1 and results.failed == 0


orders = st.lists(
    st.tuples(st.integers(1, 40).map(lambda cents: cents / 100), st.integers(1, 2000)),
    max_size=12,
)


@given(bids=orders, asks=orders)
def test_uniform_price_clearing_balances_and_respects_every_limit(bids, asks):
    clear = load_example(MARKET).clear_uniform_price
    bid_price, bid_wh = (np.array([b[i] for b in bids]) for i in (0, 1))
    ask_price, ask_wh = (np.array([a[i] for a in asks]) for i in (0, 1))
    price, bid_fill, ask_fill = clear(
        bid_price.astype(float), bid_wh.astype(int), ask_price.astype(float), ask_wh.astype(int)
    )
    assert bid_fill.sum() == ask_fill.sum()
    assert (bid_fill >= 0).all() and (bid_fill <= bid_wh).all()
    assert (ask_fill >= 0).all() and (ask_fill <= ask_wh).all()
    if bid_fill.sum() > 0:
        assert (bid_price[bid_fill > 0] >= price).all() and (ask_price[ask_fill > 0] <= price).all()
    left_bids, left_asks = bid_price[bid_fill < bid_wh], ask_price[ask_fill < ask_wh]
    if left_bids.size and left_asks.size:
        assert left_bids.max() < left_asks.min()  # nothing that could still trade is left
