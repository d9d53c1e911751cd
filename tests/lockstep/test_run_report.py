"""A short real run: a complete summary, ``tefed report`` with every plot, ``tefed compare``."""

from __future__ import annotations

import base64
import json

import pandas as pd
import pytest
import yaml
from federations import REPO, free_port, lockstep_run, write_federation

from tefed.analysis.compare_runs import MAIN_KPIS
from tefed.cli import main

#: Figures of every run with households, a market and a grid (DLMP adds ``dlmp_by_bus.png``).
EVERY_RUN_PLOTS = {
    "community_power.png",
    "income_advantage.png",
    "market_prices.png",
    "pcc.png",
    "voltage_by_hour.png",
    "household_voltages.png",
    "feeder_voltage_profile.png",
}


@pytest.fixture(scope="module")
def dlmp_run(tmp_path_factory):
    """One hour of the DLMP scenario around noon, stepped in one process."""
    data = yaml.safe_load((REPO / "scenarios" / "market_dlmp.yaml").read_text())
    data["time"]["start"] = "2022-06-21T12:00:00"
    data["time"]["duration_s"] = 3600
    data["run"]["broker_port"] = free_port()
    folder = tmp_path_factory.mktemp("dlmp_report")
    return lockstep_run(write_federation(folder, data, plots=True), folder / "run")


def test_the_summary_has_every_main_kpi(short_lockstep_run):
    summary = short_lockstep_run.read_json("summary.json")
    missing = [kpi.label for kpi in MAIN_KPIS if kpi.read(summary) is None]
    # The lockstep runner records no start time; the DLMP rows belong to DLMP runs.
    dlmp_only = ["consumer price at bus DLMP", "max DLMP spread", "binding intervals"]
    assert sorted(missing) == sorted([*dlmp_only, "wall time"])
    assert set(summary["market"]["pools"]) == {"non_dispatchable", "dispatchable"}
    assert summary["market"]["mechanism"] == "double_auction"
    # The double auction's welfare is the bid-ask surplus of its trades.
    trades = pd.read_parquet(short_lockstep_run.file("market_trades.parquet"))
    surplus = (
        trades["quantity_wh"]
        / 1000
        * (trades["bid_price_usd_per_kwh"] - trades["ask_price_usd_per_kwh"])
    ).sum()
    assert summary["market"]["welfare"]["welfare_usd"] == pytest.approx(surplus, abs=1e-9)
    assert summary["voltage"]["upper_limit_pu"] == 1.04
    assert "households_not_recorded_by_tefed" not in summary


def test_every_figure_is_written(short_lockstep_run, dlmp_run):
    assert {p.name for p in short_lockstep_run.path.glob("plots/*.png")} == EVERY_RUN_PLOTS
    assert {p.name for p in dlmp_run.path.glob("plots/*.png")} == EVERY_RUN_PLOTS | {
        "dlmp_by_bus.png"
    }


def test_report_embeds_every_plot_and_the_kpis(dlmp_run, capsys):
    assert main(["report", str(dlmp_run.path)]) == 0
    written = dlmp_run.file("report.html")
    assert capsys.readouterr().out.strip() == str(written)
    page = written.read_text()
    plots = sorted(dlmp_run.path.glob("plots/*.png"))
    assert page.count("<img ") == len(plots) == len(EVERY_RUN_PLOTS) + 1
    for plot in plots:
        assert f"data:image/png;base64,{base64.b64encode(plot.read_bytes()).decode()}" in page
    assert 'src="plots/' not in page  # nothing points outside the page
    summary = dlmp_run.read_json("summary.json")
    assert "Market welfare [USD]" in page and summary["scenario"] in page
    assert json.dumps(summary["market"]["welfare"]["welfare_usd"]) in page


def test_report_of_a_failed_run_lists_the_failure(tmp_path, short_lockstep_run, capsys):
    failed = tmp_path / "failed"
    failed.mkdir()
    (failed / "federation.json").write_text(short_lockstep_run.file("federation.json").read_text())
    (failed / "status.json").write_text(
        json.dumps({"state": "failed", "failed_federate": "grid", "message": "power flow broke"})
    )
    (failed / "logs").mkdir()
    (failed / "logs" / "grid.log").write_text("2026-01-01 00:00:00,000 ERROR tefed.grid: boom\n")
    assert main(["report", str(failed)]) == 0
    page = (failed / "report.html").read_text()
    assert "power flow broke" in page and "ERROR tefed.grid: boom" in page
    assert "No summary.json" in page


def test_report_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert str(tmp_path) in capsys.readouterr().err


def test_compare_tabulates_two_runs(short_lockstep_run, dlmp_run, tmp_path, capsys):
    csv, markdown = tmp_path / "kpis.csv", tmp_path / "kpis.md"
    runs = [str(short_lockstep_run.path), str(dlmp_run.path)]
    assert main(["compare", *runs, "--csv", str(csv), "--markdown", str(markdown)]) == 0
    table = pd.read_csv(csv, index_col="KPI")
    first = short_lockstep_run.read_json("summary.json")
    second = dlmp_run.read_json("summary.json")
    labels = [f"{first['scenario']} run", f"{second['scenario']} run"]
    assert list(table.columns) == labels
    # A column mixes numbers and verdicts (yes/no), so the CSV holds text.
    assert float(table.loc["traded energy [kWh]", labels[0]]) == pytest.approx(
        first["market"]["traded_energy_kwh"]
    )
    assert float(table.loc["market welfare [USD]", labels[1]]) == pytest.approx(
        second["market"]["welfare"]["welfare_usd"]
    )
    assert len(table) == len(MAIN_KPIS)
    text = markdown.read_text()
    assert text.startswith(f"| KPI | {labels[0]} | {labels[1]} |")
    assert "| PCC peak import [kW] |" in text
    assert "market welfare" in capsys.readouterr().out


def test_compare_names_a_run_without_summary(short_lockstep_run, tmp_path, capsys):
    failed = tmp_path / "failed"
    failed.mkdir()
    (failed / "status.json").write_text(
        json.dumps({"state": "failed", "failed_federate": "market", "message": "ledger broke"})
    )
    assert main(["compare", str(short_lockstep_run.path), str(failed)]) == 2
    error = capsys.readouterr().err
    assert str(failed) in error and "ledger broke" in error


def test_the_change_of_stored_energy_is_valued_beside_the_bills(short_lockstep_run):
    """Each battery's energy at the end minus at the start, at the run's mean export price;
    the community bill less that value makes runs with different storage comparable."""
    summary = short_lockstep_run.read_json("summary.json")
    federation = json.loads(short_lockstep_run.file("federation.json").read_text())
    homes = pd.DataFrame(federation["tefed"]["households"]).set_index("household_id")
    steps = pd.read_parquet(short_lockstep_run.file("households"))
    prices = pd.read_parquet(short_lockstep_run.file("prices.parquet"))
    price = prices["export_price_usd_per_kwh"].mean()
    final_kwh = steps.sort_values("time_s").groupby("household_id")["soc_kwh"].last()
    with_battery = homes.index[homes["battery_capacity_kwh"] > 0]
    assert len(with_battery) > 0
    for household in with_battery:
        row = summary["households"][household]
        start_kwh = (
            homes.at[household, "battery_soc_initial"] * homes.at[household, "battery_capacity_kwh"]
        )
        change_kwh = final_kwh[household] - start_kwh
        assert row["battery_stored_energy_change_kwh"] == pytest.approx(change_kwh, abs=1e-9)
        assert row["battery_stored_energy_value_usd"] == pytest.approx(change_kwh * price)
    for household in homes.index.difference(with_battery):
        assert "battery_stored_energy_value_usd" not in summary["households"][household]
    stored = summary["stored_energy"]
    assert stored["price_usd_per_kwh"] == pytest.approx(price)
    assert summary["community_bill_less_stored_energy_usd"] == pytest.approx(
        summary["community_bill_usd"] - stored["value_usd"]
    )


def test_report_opens_with_contents_and_plots_and_labels_every_kpi(short_lockstep_run, capsys):
    assert main(["report", str(short_lockstep_run.path)]) == 0
    page = short_lockstep_run.file("report.html").read_text()
    body = page[: page.index('<h2 id="summary">')]  # the raw summary.json comes last
    # A table of contents links every section; the plots come first, right after it.
    contents = body[body.index("<nav>") : body.index("</nav>")]
    for anchor in ("plots", "kpis", "households", "market", "grid", "checks", "inputs", "run"):
        assert f'href="#{anchor}"' in contents and f'<h2 id="{anchor}">' in body
    assert body.index("<h2", body.index("</nav>")) == body.index('<h2 id="plots">')
    assert body.index('<h2 id="plots">') < body.index('<h2 id="kpis">') < body.index("<table")
    # KPIs by label and unit, never by their keys.
    for label in (
        "Community bill [USD]",
        "Self-sufficiency [%]",
        "PCC import [kWh]",
        "Volume-weighted trade price [USD/kWh]",
        "Energy balance holds",
    ):
        assert f"<td>{label}</td>" in body or f"<th>{label}</th>" in body, label
    summary = short_lockstep_run.read_json("summary.json")
    keys = {
        key
        for section in ("community", "pcc", "market", "voltage", "checks")
        for key in summary[section]
    }
    keys |= {key for row in summary["households"].values() for key in row}
    assert not [key for key in keys if f"<td>{key}</td>" in body or f"<th>{key}</th>" in body]
    # Inputs: the feeder, where data come from, the versions.
    assert "<td>feeder</td><td>generated radial_lv" in body
    assert "<td>household load profiles</td>" in body and "<td>helics</td>" in body
    # Every table scrolls in its own box instead of widening the page.
    assert body.count("<table>") == body.count('<div class="scroll"><table>')
    assert ".scroll { overflow-x: auto" in page
