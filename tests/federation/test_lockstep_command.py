"""``tefed run --lockstep``: the HELICS run's folder, written by one process without HELICS."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from federations import DEFAULT_SCENARIO, short_scenario_data, tefed_run, write_federation

from tefed.cli import main
from tefed.contract.errors import InputError
from tefed.contract.run_folder import RunFolder
from tefed.federates.builtin import builtin_logic
from tefed.run import lockstep_run

RUN_TIMEOUT_S = 300
FEDERATES = {"price_feed", "ems", "grid", "market"}
SCENARIO_NAME = "lockstep_short"


def write_short_scenario(folder: Path, **sections: object) -> Path:
    """A scenario extending the default one, cut to two midday hours (PV trades then)."""
    folder.mkdir(parents=True, exist_ok=True)
    data = {
        "extends": str(DEFAULT_SCENARIO),
        "name": SCENARIO_NAME,
        "time": {"start": "2022-06-21T11:00:00", "duration_s": 7200},
        "run": {"progress_every_s": 900, "results_root": "results"},
        **sections,
    }
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def run_dir_of(completed) -> Path:
    """The run folder a ``tefed run`` names on its last line."""
    return Path(completed.stdout.strip().splitlines()[-1])


def bills(run_dir: Path) -> dict[str, float]:
    summary = RunFolder(run_dir).read_json("summary.json")
    return {household: row["bill_usd"] for household, row in summary["households"].items()}


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_short_scenario(tmp_path_factory.mktemp("lockstep_command"))


@pytest.fixture(scope="module")
def lockstep(scenario: Path):
    """``tefed run --lockstep scenario.yaml`` as a user runs it (with the progress bar)."""
    completed = tefed_run(scenario, timeout_s=RUN_TIMEOUT_S, options=("--lockstep",))
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed


def test_the_run_folder_holds_what_tefed_run_writes(scenario: Path, lockstep):
    run_dir = run_dir_of(lockstep)
    assert run_dir.parent == scenario.parent / "results" / SCENARIO_NAME
    folder = RunFolder(run_dir)
    assert folder.status()["state"] == "complete"
    assert (run_dir.parent / "latest").resolve() == run_dir.resolve()
    federation = folder.read_json("federation.json")
    assert federation["tefed"]["results"]["run_dir"] == str(run_dir)
    assert {p.name for p in run_dir.glob("*.parquet")} >= {
        "grid.parquet",
        "prices.parquet",
        "market_orders.parquet",
        "market_settlements.parquet",
    }
    assert (run_dir / "households" / "ems.parquet").is_file()
    for name in FEDERATES:
        timing = folder.read_json(f"timing/{name}.json")
        assert timing["busy_s"] > 0
        assert timing["waiting_s"] == 0
        assert timing["steps"] > 0
    summary = folder.read_json("summary.json")
    assert set(summary["metadata"]["federates"]) == FEDERATES
    assert summary["checks"]["energy_balance_ok"]
    assert summary["checks"]["settlement_ok"]
    assert summary["checks"]["state_of_charge_within_limits"]
    assert len(list(run_dir.glob("plots/*.png"))) >= 2
    assert folder.file("logs/lockstep.log").is_file()


def test_the_command_prints_the_kpi_tables_and_a_progress_bar(lockstep):
    assert "household bills" in lockstep.stdout
    assert "self-sufficiency" in lockstep.stdout
    assert "7,200 / 7,200 s" in lockstep.stdout
    assert "Traceback" not in lockstep.stderr


@pytest.mark.federation
def test_a_helics_run_of_the_same_scenario_bills_the_same(scenario: Path, lockstep):
    completed = tefed_run(scenario, timeout_s=RUN_TIMEOUT_S)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    helics_dir, lockstep_dir = run_dir_of(completed), run_dir_of(lockstep)
    assert helics_dir != lockstep_dir
    # Step for step the same run: identical bills and the same tables.
    assert bills(lockstep_dir) == bills(helics_dir)
    assert sorted(p.relative_to(lockstep_dir) for p in lockstep_dir.rglob("*.parquet")) == sorted(
        p.relative_to(helics_dir) for p in helics_dir.rglob("*.parquet")
    )
    helics_timing = RunFolder(helics_dir).read_json("summary.json")["metadata"]["federates"]
    assert set(helics_timing) == FEDERATES


def test_a_federation_file_runs_in_lockstep_from_anywhere(tmp_path: Path, monkeypatch, capsys):
    federation_path = write_federation(tmp_path / "built", short_scenario_data())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["run", "--lockstep", str(federation_path), "--no-progress"]) == 0
    output = capsys.readouterr().out
    assert "simulated time" not in output
    run_dir = Path(output.strip().splitlines()[-1])
    # Results land under the federation file's base directory, as for tefed run.
    assert run_dir.parent == tmp_path / "built" / "results" / "default"
    assert RunFolder(run_dir).status()["state"] == "complete"
    assert not (elsewhere / "results").exists()


def test_external_federates_are_refused_naming_them(tmp_path: Path, monkeypatch, capsys):
    scenario = write_short_scenario(
        tmp_path,
        ems={"external": [{"household_id": "h01", "exec": "python my_household.py"}]},
    )
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--lockstep", str(scenario)]) == 2
    error = capsys.readouterr().err
    assert "federates[household_h01].exec" in error
    assert "my_household.py" in error
    assert "--lockstep" in error
    assert "Traceback" not in error
    assert not (tmp_path / "results").exists()


def test_a_bad_scenario_exits_2_naming_the_field(tmp_path: Path, monkeypatch, capsys):
    scenario = write_short_scenario(tmp_path, time={"duration_s": "one day"})
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--lockstep", str(scenario), "--no-progress"]) == 2
    error = capsys.readouterr().err
    assert "time.duration_s" in error and "'one day'" in error and "integer" in error
    assert "Traceback" not in error


def failing(role: str, stage: str, error: Exception, failed_at: list[int] | None = None):
    """Built-in logic factories whose ``role`` raises ``error`` in ``stage`` (a step: its first
    step from t = 600 s on, whose time goes into ``failed_at``)."""
    factories = builtin_logic()
    base = factories[role]

    class Failing(base):
        def initialize(self, context):
            if stage == "initialize":
                raise error
            super().initialize(context)

        def step(self, time_s, inputs):
            if stage == "step" and time_s >= 600:
                if failed_at is not None:
                    failed_at.append(time_s)
                raise error
            return super().step(time_s, inputs)

    factories[role] = Failing
    return lambda: factories


def test_a_failing_federate_fails_the_run_and_names_it(tmp_path: Path, monkeypatch, capsys):
    scenario = write_short_scenario(tmp_path)
    monkeypatch.chdir(tmp_path)
    failed_at: list[int] = []
    factories = failing("market", "step", RuntimeError("order book broke"), failed_at)
    monkeypatch.setattr(lockstep_run, "builtin_logic", factories)
    assert main(["run", "--lockstep", str(scenario), "--no-progress"]) == 1
    captured = capsys.readouterr()
    assert "order book broke" in captured.err
    run_dir = Path(captured.out.strip().splitlines()[-1])
    folder = RunFolder(run_dir)
    status = folder.status()
    assert status["state"] == "failed"
    assert status["failed_federate"] == "market"
    assert f"t={failed_at[0]} s" in status["message"]
    assert "RuntimeError: order book broke" in status["message"]
    assert not folder.file("summary.json").exists()
    assert not (run_dir.parent / "latest").exists()
    assert "Traceback" in folder.file("logs/lockstep.log").read_text()


def test_bad_input_found_by_a_federate_exits_2(tmp_path: Path, monkeypatch, capsys):
    scenario = write_short_scenario(tmp_path)
    monkeypatch.chdir(tmp_path)
    problem = InputError("grid", ["grid.feeder: got 'x'; expected a feeder"])
    monkeypatch.setattr(lockstep_run, "builtin_logic", failing("grid", "initialize", problem))
    assert main(["run", "--lockstep", str(scenario), "--no-progress"]) == 2
    captured = capsys.readouterr()
    assert "grid.feeder: got 'x'; expected a feeder" in captured.err
    assert "Traceback" not in captured.err
    status = RunFolder(Path(captured.out.strip().splitlines()[-1])).status()
    assert status["state"] == "failed" and status["failed_federate"] == "grid"


def test_a_run_without_plots_gets_them_from_tefed_report(tmp_path: Path, monkeypatch, capsys):
    federation_path = write_federation(tmp_path, short_scenario_data())
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--lockstep", str(federation_path), "--no-progress", "--no-plots"]) == 0
    folder = RunFolder(Path(capsys.readouterr().out.strip().splitlines()[-1]))
    assert folder.status()["state"] == "complete"
    assert folder.file("summary.json").is_file()
    assert not folder.file("plots").exists()
    assert folder.read_json("federation.json")["tefed"]["results"]["plots"] is False
    assert main(["report", str(folder.path)]) == 0
    assert folder.file("plots/community_power.png").is_file()
    assert "community_power.png" in folder.file("report.html").read_text()
