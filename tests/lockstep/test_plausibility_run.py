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

from tefed.analysis.run_tables import read_run_tables
from tefed.analysis.summary import compute_summary
from tefed.contract.federation_file import FederationFile
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


#: A street of three 500 km cables with unbalanced single-phase loads: OpenDSS converges at no
#: grid step (the households draw at voltages near zero).
UNSOLVABLE_FEEDER = """Clear
New Circuit.far bus1=src basekv=11 pu=1.0 phases=3 MVAsc3=100 MVAsc1=80
New Transformer.t1 phases=3 windings=2 buses=[src lv] conns=[delta wye] kvs=[11 0.4]
~ kvas=[250 250] %r=1 xhl=4
New Linecode.cable nphases=3 r1=0.206 x1=0.08 r0=0.824 x0=0.32 units=km
New Line.s1 bus1=lv bus2=n1 linecode=cable length=500 units=km
New Line.s2 bus1=n1 bus2=n2 linecode=cable length=500 units=km
New Line.s3 bus1=n2 bus2=n3 linecode=cable length=500 units=km
New Load.l1 phases=1 bus1=n1.1 kV=0.23 kW=2 pf=0.95
New Load.l2 phases=1 bus1=n2.2 kV=0.23 kW=2 pf=0.95
New Load.l3 phases=1 bus1=n3.3 kV=0.23 kW=2 pf=0.95
Set VoltageBases=[11 0.4]
CalcVoltageBases
"""


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_a_run_whose_power_flow_does_not_converge_warns_of_it(tmp_path: Path) -> None:
    # No power flow converges and the run carries on (the default grid.on_nonconvergence);
    # before, its summary had no warning, its KPI table only "n/a".
    (tmp_path / "far.dss").write_text(UNSOLVABLE_FEEDER)
    data = short_scenario_data(
        time__start="2022-06-21T00:00:00",
        time__duration_s=1800,
        grid__feeder={
            "dss": "far.dss",
            "placement": "explicit",
            "household_nodes": ["n1.1", "n2.2", "n3.3", "n3.1"],
        },
    )
    data["households"] = [
        {"group": "a", "count": 4, "strategy": "self_consumption", "pv": {"kwp": 5}}
    ]
    run = lockstep_run(write_federation(tmp_path, data), tmp_path / "run")
    summary = run.read_json("summary.json")
    power_flow = summary["grid"]["power_flow"]
    assert power_flow["not_converged_steps"] > 0
    (warning,) = [w for w in summary["warnings"] if w["check"] == "power_flow_not_converged"]
    assert warning["value"] == power_flow["not_converged_steps"]
    assert f"of {power_flow['steps']} grid steps" in warning["message"]
    assert "tefed powerflow --dss" in warning["message"]


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


def test_a_run_whose_households_miss_settlements_warns_of_the_failed_check(
    short_lockstep_run,
) -> None:
    # As a replacement market that left the run early (exit 0) leaves it: the households'
    # last intervals without a received bill. Before, only summary.json's checks said so.
    federation = FederationFile.model_validate(short_lockstep_run.read_json("federation.json"))
    tables = read_run_tables(short_lockstep_run)
    intervals = tables["household_intervals"].copy()
    late = intervals["interval_index"] >= intervals["interval_index"].max() - 1
    intervals.loc[late, "bill_usd"] = float("nan")
    summary = compute_summary(federation, {**tables, "household_intervals": intervals})
    assert summary["checks"]["settlement_ok"] is False
    (warning,) = [w for w in summary["warnings"] if w["check"] == "settlement_failed"]
    assert warning["value"] == summary["checks"]["bills_not_received"] == late.sum()
    assert (
        f"{late.sum()} household-interval(s) never received their settlement"
        in (warning["message"])
    )
    assert compute_summary(federation, tables)["warnings"] == []
