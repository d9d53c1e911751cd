"""``tefed check-federate``: every built-in federate conforms; a broken household is caught."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from federations import REPO

from tefed.conformance.harness import check_federate
from tefed.runtime.probe import OBSERVATIONS_FILE, ProbeObservations

pytestmark = pytest.mark.federation

BROKEN_HOUSEHOLD = REPO / "tests" / "programs" / "broken_household.py"
FAULTY_MARKET = REPO / "tests" / "programs" / "faulty_federate.py"
RUN_TIMEOUT_S = 120


def builtin_program(role: str) -> list[str]:
    """The command line of tefed's own federate of ``role`` (households run the ems)."""
    return [sys.executable, "-m", f"tefed.federates.{'ems' if role == 'household' else role}"]


def tefed_check(folder: Path, *arguments: str) -> subprocess.CompletedProcess:
    """``tefed check-federate ARGUMENTS`` in ``folder``, with a console wide enough for one line
    per finding."""
    return subprocess.run(
        [sys.executable, "-m", "tefed", "check-federate", *arguments],
        cwd=folder,
        env={**os.environ, "COLUMNS": "400"},
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )


def run_folder_of(completed: subprocess.CompletedProcess) -> Path:
    line = next(line for line in completed.stdout.splitlines() if line.startswith("run folder:"))
    return Path(line.removeprefix("run folder:").strip())


@pytest.mark.parametrize("role", ["market", "ems", "household", "grid"])
def test_every_builtin_federate_conforms(tmp_path: Path, role: str):
    report = check_federate(role, builtin_program(role), tmp_path)
    assert report.findings == []
    observations = ProbeObservations.from_json_text((report.folder / OBSERVATIONS_FILE).read_text())
    # The probe watched the whole run: every publication, the messages, the disconnect.
    assert observations.final is not None and not observations.final["candidate_connected"]
    assert observations.errors == []
    published = {item["name"] for item in observations.interfaces["publications"]}
    assert published and published == set(observations.update_times_s)
    assert observations.subscription_targets
    assert bool(observations.messages) == (role != "grid")
    # A market's received orders are what its awards are checked against.
    assert bool(observations.received_messages) == (role == "market")
    assert json.loads((report.folder / "conformance.json").read_text())["conformant"] is True


def test_the_builtin_price_feed_conforms_on_the_command_line(tmp_path: Path):
    completed = tefed_check(tmp_path, "--role", "price_feed", "--", *builtin_program("price_feed"))
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "conformant price_feed federate 'price_feed'" in completed.stdout
    folder = tmp_path / run_folder_of(completed)
    assert json.loads((folder / "conformance.json").read_text())["findings"] == []
    assert json.loads((folder / "status.json").read_text())["state"] == "complete"


def test_a_broken_household_is_reported_with_every_violation(tmp_path: Path):
    completed = tefed_check(
        tmp_path, "--role", "household", "--", sys.executable, str(BROKEN_HOUSEHOLD)
    )
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert "5 violation(s)" in completed.stdout
    findings = json.loads((tmp_path / run_folder_of(completed) / "conformance.json").read_text())
    assert [(f["check"], f["message"]) for f in findings["findings"]] == [
        (
            "interfaces",
            "publication 'household/h01/temperature_c' is registered but not in the helics block",
        ),
        ("finite values", "'household/h01/power_kw' published nan at t=3600.001 s"),
        ("time grid", "value of 'household/h01/power_kw' at t=90.001 s is off the grid"),
        (
            "message schema",
            "message to 'market' at t=840.001 s: orders.0.side: required but missing; "
            "orders.0.quantity_wh: required but missing; "
            "orders.0.price_usd_per_kwh: required but missing",
        ),
        (
            "gate closure",
            "orders for interval 1 arrived at t=900 s, after its gate closed at t=840 s",
        ),
    ]
    assert all(f["fix"] for f in findings["findings"])
    for text in ("temperature_c", "t=90.001 s is off the grid", "publish finite numbers only"):
        assert text in completed.stdout


def test_a_household_that_stays_connected_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # A process that exits without disconnecting looks the same to the broker; the pure checks
    # (test_conformance_checks) tell the two apart by the exit code.
    monkeypatch.setenv("BROKEN_HOUSEHOLD_END", "stay")
    report = check_federate(
        "household", [sys.executable, str(BROKEN_HOUSEHOLD)], tmp_path, disconnect_grace_s=2.0
    )
    disconnecting = [f.message for f in report.findings if f.check == "disconnecting"]
    assert len(disconnecting) == 1
    assert disconnecting[0].startswith("'household_h01' was still connected")
    assert "finishing" not in {f.check for f in report.findings}


@pytest.mark.parametrize(
    ("fault", "wrong_item", "items"),
    [
        ("overcharge_buyers", "trade payment", {"trade payment", "total"}),
        (
            "import_at_export_price",
            "grid_import payment",
            {"grid_import payment", "shortfall payment", "total"},
        ),
    ],
)
def test_a_market_that_charges_wrongly_fails_the_settlement_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: str, wrong_item: str, items: set[str]
):
    monkeypatch.setenv("TEFED_TEST_FAULT", fault)
    report = check_federate("market", [sys.executable, str(FAULTY_MARKET)], tmp_path)
    assert report.findings and {f.check for f in report.findings} == {"settlement"}
    # "settlement of h03 for interval 2: trade payment 0.0107 USD, expected 0.00718 USD"
    shown = [f.message for f in report.findings if not f.message.startswith("...")]
    pattern = re.compile(
        r"settlement of (h\d+) for interval (\d+): (.+) (\S+) USD, expected (\S+) USD"
    )
    matches = [pattern.fullmatch(message) for message in shown]
    assert all(matches), shown
    found_items = {match[3] for match in matches}
    assert wrong_item in found_items and found_items <= items
    prices = pd.read_parquet(report.folder / "prices.parquet").set_index("interval_index")
    for match in matches:
        if match[3] == "total":
            continue
        observed, expected = float(match[4]), float(match[5])
        if fault == "overcharge_buyers":
            assert observed == pytest.approx(1.5 * expected, rel=1e-6)
        else:
            export, import_ = prices.loc[
                int(match[2]), ["export_price_usd_per_kwh", "import_price_usd_per_kwh"]
            ]
            assert observed == pytest.approx(expected * export / import_, rel=1e-6)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--role", "market"], "give the program to check after '--'"),
        (["--role", "broker", "--", "python"], "invalid choice: 'broker'"),
        (["--role", "grid", "--scenario", "missing.yaml", "--", "python"], "file not found"),
        (["--role", "market", "--", "no_such_market_program"], "cannot start"),
    ],
)
def test_bad_usage_exits_with_2(tmp_path: Path, arguments: list[str], message: str):
    completed = tefed_check(tmp_path, *arguments)
    assert completed.returncode == 2
    assert message in completed.stderr
    assert "Traceback" not in completed.stderr


def test_a_program_that_exits_before_joining_is_named_without_the_startup_timeout(
    tmp_path: Path,
):
    """A candidate that exits 0 at once: the run waited the 60 s start-up timeout before the
    finding; now it ends as soon as the runner sees the exit, before any federate started."""
    quitter = tmp_path / "quitter.py"
    quitter.write_text("print('leaving')\n")
    report = check_federate("market", [sys.executable, str(quitter)], tmp_path)
    (finding,) = [f for f in report.findings if f.check == "finishing"]
    # "never joined the federation" when the probe saw the broker not know it before the run
    # ended, else "never entered executing mode": either way before the federation started.
    assert re.search(
        r"'market' never (joined the federation|entered executing mode): its process exited "
        r"with code 0 before",
        finding.message,
    )
    assert "exited with code 0 before the federation started" in finding.message
    assert "stalled at startup" not in finding.message
