"""Plausibility warnings of a run: ``summary.json``'s ``warnings``, first on the HTML report.

A feeder the test writes has households on an 11 kV street, a source at 1.05 pu and a
transformer losing 10 % of its rating at no load; the IEEE 13-node feeder of ``../shared`` with
households on its 4.16 kV buses is run too when it is there.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from federations import SHARED, lockstep_run, short_scenario_data, write_federation
from tiny_feeders import tiny_feeder

from tefed.reporting.html_report import render_report

FEEDERS = SHARED / "feeders"


def test_a_flawed_feeder_run_lists_its_warnings_in_the_summary_and_report(tmp_path: Path) -> None:
    tiny_feeder(
        tmp_path / "tiny.dss",
        source_pu=1.05,
        households_behind_transformer=False,
        no_load_loss_pct=10.0,
    )
    data = short_scenario_data(grid__feeder={"dss": "tiny.dss", "placement": "balanced"})
    run = lockstep_run(write_federation(tmp_path, data), tmp_path / "run")
    summary = run.read_json("summary.json")
    found = {warning["check"]: warning for warning in summary["warnings"]}
    assert list(found) == [
        "households_on_medium_voltage",
        "source_voltage_above_limit",
        "feeder_losses_above_limit",
    ]
    assert found["households_on_medium_voltage"]["value"] == 11.0
    assert found["source_voltage_above_limit"]["value"] == 1.05
    # 10 kW of core losses against a few kW of households: the summary's own losses figure.
    losses = found["feeder_losses_above_limit"]
    assert losses["value"] == summary["pcc"]["losses_pct"] > 10.0 == losses["threshold"]
    page = render_report(run)
    top = page.index("Warnings: 3 about this set-up")
    # First on the page: before the table of contents and every section.
    assert top < page.index("<nav>") < page.index('<h2 id="plots">')
    assert page.index("feeder_losses_above_limit") < page.index("<nav>")


def test_the_default_scenario_run_has_no_warnings(short_lockstep_run) -> None:
    summary = short_lockstep_run.read_json("summary.json")
    assert summary["warnings"] == []
    assert "about this set-up" not in render_report(short_lockstep_run)


@pytest.mark.skipif(not FEEDERS.is_dir(), reason=f"reference feeders not found at {FEEDERS}")
def test_households_on_ieee13_medium_voltage_buses_lose_a_large_share(tmp_path: Path) -> None:
    data = short_scenario_data(
        grid__feeder={"dss": str(FEEDERS / "13Bus" / "IEEE13Nodeckt.dss"), "placement": "balanced"}
    )
    run = lockstep_run(write_federation(tmp_path, data), tmp_path / "run")
    summary = run.read_json("summary.json")
    checks = [warning["check"] for warning in summary["warnings"]]
    assert checks == ["households_on_medium_voltage", "feeder_losses_above_limit"]
