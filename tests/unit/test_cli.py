"""The ``tefed`` command line: bad scenarios are refused with a clear message and exit code 2."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from federations import DEFAULT_SCENARIO, short_scenario_data

from tefed.cli import main
from tefed.cli.sweep_start import starts_local_runs


def write_scenario(folder: Path, data: dict) -> Path:
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def edited(**changes: object) -> dict:
    return short_scenario_data(**changes)


def without_key(section: str, key: str) -> dict:
    data = short_scenario_data()
    del data[section][key]
    return data


def with_battery(**battery: object) -> dict:
    data = short_scenario_data()
    data["households"][2]["battery"].update(battery)
    return data


BAD_SCENARIOS = {
    "unknown key": (
        edited(grid__feeder__transfomer_kva=100),
        ["grid.feeder.transfomer_kva", "unknown key", "100"],
    ),
    "wrong type": (
        edited(time__duration_s="one day"),
        ["time.duration_s", "'one day'", "integer"],
    ),
    "negative capacity": (
        with_battery(capacity_kwh=-10),
        ["households[2].battery.capacity_kwh", "-10", "at least 0"],
    ),
    "efficiency above one": (
        with_battery(round_trip_efficiency=1.5),
        ["households[2].battery.round_trip_efficiency", "1.5", "less than or equal to 1"],
    ),
    "missing price file": (
        edited(prices__wholesale={"source": "csv", "path": "nowhere.csv", "timezone": "UTC"}),
        ["prices.wholesale.path", "nowhere.csv", "no such file"],
    ),
    "market interval not a multiple of the step": (
        edited(time__market_interval_s=1000),
        ["time.market_interval_s", "1000", "multiple of time.grid_step_s"],
    ),
    "unknown strategy": (
        edited(households=[{"group": "a", "count": 2, "strategy": "moon_trader"}]),
        ["households[0].strategy", "moon_trader", "net_billing"],
    ),
    "missing section": (without_key("site", "latitude_deg"), ["site.latitude_deg", "missing"]),
}


@pytest.mark.parametrize("case", sorted(BAD_SCENARIOS))
@pytest.mark.parametrize("command", ["validate", "build", "run"])
def test_bad_scenarios_exit_2_naming_field_value_and_expectation(
    tmp_path, capsys, monkeypatch, case, command
):
    data, fragments = BAD_SCENARIOS[case]
    path = write_scenario(tmp_path, data)
    monkeypatch.chdir(tmp_path)
    arguments = [command, str(path)] + (["-o", "out.json"] if command == "build" else [])
    assert main(arguments) == 2
    message = " ".join(capsys.readouterr().err.split())
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    assert not (tmp_path / "out.json").exists()
    assert not (tmp_path / "results").exists()


def test_every_problem_is_reported_at_once(tmp_path, capsys):
    data = short_scenario_data(time__grid_step_s=-1, seed=-3, grid__feeder__laterals=0)
    assert main(["validate", str(write_scenario(tmp_path, data))]) == 2
    message = capsys.readouterr().err
    assert "3 problem(s)" in message
    for field in ("time.grid_step_s", "seed", "grid.feeder.laterals"):
        assert field in message


def test_a_missing_scenario_file_is_an_input_error(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "absent.yaml")]) == 2
    assert "file not found" in capsys.readouterr().err


def test_no_traceback_reaches_the_user(tmp_path):
    path = write_scenario(tmp_path, edited(time__duration_s="one day"))
    completed = subprocess.run(
        [sys.executable, "-m", "tefed", "validate", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr
    assert "time.duration_s" in completed.stderr


@pytest.mark.parametrize("value", ["0", "-5", "nan", "inf", "-inf", "3e6"])
def test_check_federate_refuses_a_time_limit_that_is_no_positive_finite_number(
    tmp_path, capsys, monkeypatch, value
):
    # It reached the federation file's validation: a pydantic traceback, exit 1.
    monkeypatch.chdir(tmp_path)
    arguments = ["check-federate", "--role", "household", f"--time-limit={value}", "--", "prog"]
    assert main(arguments) == 2
    message = " ".join(capsys.readouterr().err.split())
    shown = f"{float(value):g}"
    assert f"--time-limit: 1 problem(s) - got {shown}; expected a positive finite number of " in (
        message
    )
    assert "at most 2592000 (30 days)" in message
    assert not (tmp_path / "results").exists()


def test_validate_and_build_accept_the_default_scenario(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["validate", str(DEFAULT_SCENARIO)]) == 0
    assert "12 households" in capsys.readouterr().out
    assert main(["build", str(DEFAULT_SCENARIO), "-o", "fed/default.json"]) == 0
    assert (tmp_path / "fed" / "default.json").exists()


def test_version_prints_the_installed_package_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"tefed {importlib.metadata.version('tefed')}"


def test_an_unknown_sweep_start_method_is_an_input_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TEFED_SWEEP_START", "spawn")
    assert main(["sweep", str(tmp_path / "sweep.yaml"), "--no-progress"]) == 2
    error = " ".join(capsys.readouterr().err.split())
    assert "TEFED_SWEEP_START" in error and "'spawn': expected 'preloaded' or 'exec'" in error


def test_an_unknown_sweep_start_method_through_the_program_exits_2_without_traceback(tmp_path):
    # The program looks at the variable before anything else (to start the run server early).
    done = subprocess.run(
        [sys.executable, "-m", "tefed", "sweep", str(tmp_path / "sweep.yaml")],
        capture_output=True,
        text=True,
        env={**os.environ, "TEFED_SWEEP_START": "spawn"},
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "TEFED_SWEEP_START" in done.stderr


@pytest.mark.parametrize(
    ("argv", "local"),
    [
        (["sweep", "s.yaml"], True),
        (["sweep", "s.yaml", "--workers", "2", "--no-progress", "-o", "out"], True),
        (["sweep", "s.yaml", "--no-p"], True),  # --no-progress abbreviated
        (["sweep", "report", "out"], False),
        (["sweep", "s.yaml", "--check"], False),
        (["sweep", "s.yaml", "--chec"], False),  # what argparse takes for --check
        (["sweep", "s.yaml", "--scheduler", "tcp://h:8786"], False),
        (["sweep", "s.yaml", "--scheduler=tcp://h:8786"], False),
        (["sweep", "s.yaml", "--sched", "tcp://h:8786"], False),
        (["sweep", "s.yaml", "--s", "tcp://h:8786"], False),  # what argparse takes too
        (["sweep", "s.yaml", "--h"], False),
        (["sweep", "s.yaml", "--p", "--cluster", "pbs"], False),
        (["sweep", "s.yaml", "--w", "2"], True),  # --workers
        (["sweep", "s.yaml", "--cluster", "slurm"], False),
        (["sweep", "s.yaml", "--print-job-script", "--cluster", "pbs"], False),
        (["sweep", "-h"], False),
        (["sweep", "--help"], False),
        (["run", "scenario.yaml"], False),
        ([], False),
    ],
)
def test_only_a_sweep_with_local_runs_starts_the_run_server_early(argv, local):
    assert starts_local_runs(argv) is local


def test_importing_the_command_line_imports_no_heavy_library():
    # What the program does before it knows its command: a sweep starts its run server first.
    code = (
        "import sys, tefed.cli; "
        "print(sorted({'pandas', 'dask', 'helics', 'pydantic'} & set(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
