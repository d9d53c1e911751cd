"""A household program that attacks the federation changes nothing but its own orders.

Household h01 of a short default run is tests/programs/hostile_household.py. In one run it
sends the market every kind of malformed message and impersonates h02 and the market, and
writes fake settlements and awards to the other households; every attack must be refused with a
recorded reason (or ignored, with a warning, by the ems), the run must complete, and every other
household must fare exactly as in the same run in which h01 only places its two valid orders.
A flood of 10,000 orders must be accounted for order by order.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from federations import (
    REPO,
    helics_run,
    processes_working_under,
    short_scenario_data,
    tefed_run,
    write_federation,
)

pytestmark = pytest.mark.federation

HOSTILE = REPO / "tests" / "programs" / "hostile_household.py"
RUN_TIMEOUT_S = 180
ATTACKER = "h01"
#: The valid orders the attacker places in both runs; the hostile run sends them as these.
SPOOFED_ORDERS = {"as-h02": "household/h02", "as-market": "market"}
#: Each attack on the market: the order id its refusal names ("*": the whole message) and the
#: start of the reason the market records.
REFUSALS = {
    "bytes that are not UTF-8": ("*", "malformed orders message: Expecting value"),
    "JSON nested 100,000 deep": ("*", "orders message of 200048 bytes (expected at most 64000)"),
    "JSON nested 30,000 deep": ("*", "malformed orders message: maximum recursion depth"),
    "a 5,000-digit integer": ("*", "malformed orders message: Exceeds the limit (4300 digits)"),
    "a bid of 1e308": ("huge-bid", "a limit price beyond ±1000 USD/kWh (got 1e+308)"),
    "an ask of -1e308": ("huge-ask", "a limit price beyond ±1000 USD/kWh (got -1e+308)"),
    "interval_index 10**30": ("*", f"interval {10**30} has no market"),
}
#: What the ems logs for each message the attacker sends its shard (3 payloads, each plainly
#: and with the original source set to the market).
IGNORED_BY_THE_EMS = (
    f"message from 'household/{ATTACKER}' to 'ems/ems' ignored: only the market writes to "
    "households"
)
BURST_ORDERS = 10_000
BURST_MESSAGES = 40
ORDERS_PER_HOUSEHOLD_AND_INTERVAL = 50


def run_with_attacker(folder: Path, mode: str) -> Path:
    """The short default run with h01 run by the hostile program in ``mode``; its run folder,
    once it completed."""
    exec_line = f"{sys.executable} {HOSTILE} --mode {mode}"
    data = short_scenario_data(ems__external=[{"household_id": ATTACKER, "exec": exec_line}])
    path = write_federation(folder, data)
    completed = tefed_run(path, timeout_s=RUN_TIMEOUT_S)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    run_dir = Path(completed.stdout.strip().splitlines()[-1])
    assert json.loads((run_dir / "status.json").read_text())["state"] == "complete"
    return run_dir


def sent_by_attacker(run_dir: Path) -> dict[str, int]:
    """How many messages the hostile program says it sent, by destination."""
    log = (run_dir / "logs" / f"household_{ATTACKER}.log").read_text()
    (line,) = [line for line in log.splitlines() if line.startswith("SENT ")]
    return json.loads(line.removeprefix("SENT "))


def table(run_dir: Path, name: str) -> pd.DataFrame:
    """A result table, rows in a canonical order."""
    frame = pd.read_parquet(run_dir / name)
    return frame.sort_values(list(frame.columns[:3]), kind="stable").reset_index(drop=True)


@pytest.fixture(scope="module")
def quiet_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_with_attacker(tmp_path_factory.mktemp("quiet"), "quiet")


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_with_attacker(tmp_path_factory.mktemp("hostile"), "hostile")


def refused_attacks(run_dir: Path) -> pd.DataFrame:
    orders = pd.read_parquet(run_dir / "market_orders.parquet")
    return orders[(orders["participant"] == ATTACKER) & (orders["status"] == "rejected")]


def test_every_hostile_message_is_refused_with_its_reason(hostile_run: Path):
    assert sent_by_attacker(hostile_run) == {"market": 8, "ems/ems": 6, "household/h02": 6}
    refused = refused_attacks(hostile_run)
    for attack, (order_id, reason) in REFUSALS.items():
        matching = refused[
            (refused["order_id"] == order_id) & refused["reason"].str.startswith(reason)
        ]
        assert len(matching) == 1, f"{attack}: {refused[['order_id', 'reason']].to_dict('records')}"
    assert len(refused) == len(REFUSALS)
    # An interval the run does not have is named in the reason, not stored as a number.
    assert refused["interval_index"].dropna().tolist() == [1, 1]
    market_log = (hostile_run / "logs" / "market.log").read_text()
    assert market_log.count(f"rejected message from household/{ATTACKER}") == 5
    assert market_log.count(f"of {ATTACKER} at t=840 s: a limit price beyond") == 2


def test_no_impersonation_is_accepted(hostile_run: Path, quiet_run: Path):
    orders = pd.read_parquet(hostile_run / "market_orders.parquet")
    spoofed = orders[orders["order_id"].isin(list(SPOOFED_ORDERS))]
    # Sent as h02 and as the market, taken as what HELICS vouches for: h01's own orders.
    assert sorted(spoofed["order_id"]) == sorted(SPOOFED_ORDERS)
    assert (spoofed["participant"] == ATTACKER).all()
    assert (spoofed["status"] == "accepted").all()
    # Nobody else ordered, and the market never took a message as its own.
    quiet_orders = pd.read_parquet(quiet_run / "market_orders.parquet")
    assert set(orders["participant"]) == set(quiet_orders["participant"])
    assert "market" not in set(orders["participant"])


def test_the_market_saw_nothing_else_from_the_attacker(hostile_run: Path, quiet_run: Path):
    """Without its refused attacks, the hostile run's order book is the quiet run's, and so is
    everything the market made of it."""
    orders = table(hostile_run, "market_orders.parquet")
    refused = (orders["participant"] == ATTACKER) & (orders["status"] == "rejected")
    pd.testing.assert_frame_equal(
        orders[~refused].reset_index(drop=True), table(quiet_run, "market_orders.parquet")
    )
    for name in ("market_trades.parquet", "market_awards.parquet", "market_settlements.parquet"):
        pd.testing.assert_frame_equal(table(hostile_run, name), table(quiet_run, name))


def test_no_other_household_is_touched(hostile_run: Path, quiet_run: Path):
    """The fake settlement (1,000,000 USD for h02) and the fake awards (5 kW for h09's battery)
    are ignored: every household's bill and dispatch equal the quiet run's."""
    ems_log = (hostile_run / "logs" / "ems.log").read_text()
    assert ems_log.count(IGNORED_BY_THE_EMS) == 6
    bills = table(hostile_run, "household_intervals")
    assert ATTACKER not in set(bills["household_id"])
    assert (bills["bill_usd"].abs() < 1.0).all()
    pd.testing.assert_frame_equal(bills, table(quiet_run, "household_intervals"))
    dispatch = table(hostile_run, "households")
    assert (dispatch.loc[dispatch["household_id"] == "h09", "battery_power_kw"] != 0).any()
    pd.testing.assert_frame_equal(dispatch, table(quiet_run, "households"))


def test_a_burst_of_10000_orders_is_accounted_for_order_by_order(tmp_path: Path, quiet_run: Path):
    run_dir = run_with_attacker(tmp_path, "burst")
    assert sent_by_attacker(run_dir) == {"market": BURST_MESSAGES}
    orders = pd.read_parquet(run_dir / "market_orders.parquet")
    burst = orders[orders["participant"] == ATTACKER]
    assert len(burst) == BURST_ORDERS
    assert set(burst["order_id"]) == {f"burst-{number:05d}" for number in range(BURST_ORDERS)}
    assert (burst["interval_index"] == 1).all()
    accepted = burst[burst["status"] == "accepted"]
    refused = burst[burst["status"] == "rejected"]
    assert len(accepted) == ORDERS_PER_HOUSEHOLD_AND_INTERVAL
    assert len(accepted) + len(refused) == BURST_ORDERS
    assert set(refused["reason"]) == {
        f"more than {ORDERS_PER_HOUSEHOLD_AND_INTERVAL} orders from one household for interval 1"
    }
    # The flood crowded out no other household's orders.
    others, quiet = (
        table(folder, "market_orders.parquet").query("participant != @ATTACKER")
        for folder in (run_dir, quiet_run)
    )
    pd.testing.assert_frame_equal(others.reset_index(drop=True), quiet.reset_index(drop=True))


def lingering_household_federation(folder: Path) -> Path:
    """The short run with h01 run by the quiet program, which waits 600 s after its last step
    before it leaves; a stall timeout of 3 s."""
    exec_line = f"{sys.executable} {HOSTILE} --mode quiet --linger-s 600"
    data = short_scenario_data(
        ems__external=[{"household_id": ATTACKER, "exec": exec_line}],
        run__stall_timeout_s=3,
        run__wall_clock_limit_s=120,
    )
    return write_federation(folder, data)


def test_a_household_program_that_stays_after_its_last_step_is_stopped_and_the_run_kept(
    tmp_path: Path,
) -> None:
    # Before: tefed run waited for it until the wall-clock limit (900 s by default), then
    # marked the complete run failed, naming the household "at simulated t=0 s".
    path = lingering_household_federation(tmp_path)
    completed = tefed_run(path, timeout_s=RUN_TIMEOUT_S)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    assert (
        f"warning: run complete; stopped 'household_{ATTACKER}': still running 3 s "
        "(run.stall_timeout_s) after the run completed" in output
    )
    run_dir = Path(completed.stdout.strip().splitlines()[-1])
    status = json.loads((run_dir / "status.json").read_text())
    assert (status["state"], status["results"]) == ("complete", "complete")
    assert processes_working_under(tmp_path) == []


def test_under_helics_run_a_program_that_stays_after_its_last_step_is_stopped_too(
    tmp_path: Path,
) -> None:
    # Before: helics run waited for it until the broker's --maxcosimduration (the wall-clock
    # limit) and the watchdog then marked the complete run failed.
    path = lingering_household_federation(tmp_path)
    started = time.monotonic()
    completed = helics_run(path, timeout_s=RUN_TIMEOUT_S)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert time.monotonic() - started < 60
    (run_dir,) = (tmp_path / "results" / "default").glob("helics-*")
    status = json.loads((run_dir / "status.json").read_text())
    assert (status["state"], status["results"]) == ("complete", "complete")
    said = "".join(log.read_text() for log in tmp_path.glob("*.log"))
    assert f"stopped 'household_{ATTACKER}': still running 3 s" in said, said
    assert processes_working_under(tmp_path) == []


def test_a_household_that_leaves_early_fails_the_run_naming_it(tmp_path: Path):
    """A household program that disconnects at 20 min of a two-hour run and exits 0: HELICS
    let the others go on with its last published power, and the run ended complete. Now the
    grid finds its power unpublished at the next step and the run fails naming it."""
    exec_line = f"{sys.executable} {HOSTILE} --mode quiet --leave-at-s 1200"
    data = short_scenario_data(ems__external=[{"household_id": ATTACKER, "exec": exec_line}])
    completed = tefed_run(write_federation(tmp_path, data), timeout_s=RUN_TIMEOUT_S)
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert (
        f"federate 'household_{ATTACKER}' published no 'household/{ATTACKER}/power_kw' for "
        "t=1200 s: it left the federation" in " ".join(completed.stderr.split())
    )
    (status_path,) = tmp_path.glob("**/status.json")
    status = json.loads(status_path.read_text())
    assert status["state"] == "failed"
    assert status["failed_federate"] == f"household_{ATTACKER}"
    assert status["results"] == "incomplete"
