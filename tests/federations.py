"""Short versions of the default scenario, built into federation files, and ways to run them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import yaml

from tefed.build.builder import build_federation
from tefed.contract.federation_file import FederationFile
from tefed.contract.run_folder import RunFolder
from tefed.federates.builtin import builtin_logic
from tefed.run.ports import free_port
from tefed.runtime.lockstep import run_lockstep
from tefed.scenario.model import load_scenario

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SCENARIO = REPO / "scenarios" / "default.yaml"
SHARED = REPO.parent / "shared"
#: The ``helics`` command line (``helics run``) installed with this interpreter.
HELICS_CLI = Path(sys.executable).parent / "helics"


def short_scenario_data(**overrides: object) -> dict:
    """The default scenario, shortened to the two middle hours of the day (when PV trades)."""
    data = yaml.safe_load(DEFAULT_SCENARIO.read_text())
    data["time"]["start"] = "2022-06-21T11:00:00"
    data["time"]["duration_s"] = 7200
    data["run"]["broker_port"] = free_port()
    data["run"]["progress_every_s"] = 900
    # Relative to the copy's folder (the committed file names the project's results/).
    data["run"]["results_root"] = "results"
    for dotted, value in overrides.items():
        section = data
        *parents, leaf = dotted.split("__")
        for parent in parents:
            section = section.setdefault(parent, {})
        section[leaf] = value
    return data


def write_federation(folder: Path, data: dict, *, plots: bool = False) -> Path:
    """Write scenario ``data`` to ``folder/scenario.yaml`` and build ``folder/federation.json``.

    Federates run in ``folder`` (it is the federation's base directory), so results land in
    ``folder/results``. Runs of it draw no figures unless ``plots`` (``tefed.results.plots``):
    drawing them costs a two-hour run about 1.6 s of CPU, and only the tests of the figures
    and of the report look at them.
    """
    folder.mkdir(parents=True, exist_ok=True)
    scenario_path = folder / "scenario.yaml"
    # The results root is relative to the scenario file: the copy's, not the project's.
    data = {**data, "run": {**data.get("run", {}), "results_root": "results"}}
    scenario_path.write_text(yaml.safe_dump(data, sort_keys=False))
    scenario, scenario_dir = load_scenario(scenario_path)
    out = folder / "federation.json"
    federation = build_federation(scenario, scenario_dir, out, folder)
    federation.tefed.results.plots = plots
    out.write_text(federation.to_json_text())
    return out


def lockstep_run(federation_path: Path, run_dir: Path) -> RunFolder:
    """Run a federation file in one process (no HELICS) and write its report."""
    from tefed.reporting.report import write_report

    federation = FederationFile.model_validate_json(federation_path.read_text())
    folder = RunFolder(run_dir)
    folder.write_text("federation.json", federation.to_json_text())
    run_lockstep(federation, federation_path.parent, folder, builtin_logic())
    write_report(folder)
    return folder


def tefed_run(
    federation_path: Path,
    timeout_s: float = 180,
    options: tuple[str, ...] = ("--no-progress", "--no-plots"),
    environment: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """``tefed run FILE --no-progress --no-plots`` in the file's folder, as a user would run it
    (without the figures, which only the tests of figures and reports look at).

    ``options`` replace those two (e.g. ``("--lockstep",)``); FILE may be a scenario.
    ``environment`` adds variables to this process's environment.
    """
    return subprocess.run(
        [sys.executable, "-m", "tefed", "run", str(federation_path), *options],
        cwd=federation_path.parent,
        env={**os.environ, **(environment or {})},
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def run_program(command: list[str], cwd: Path, timeout_s: float) -> subprocess.CompletedProcess:
    """``command`` run in ``cwd`` to its end (at most ``timeout_s`` s), output captured."""
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout_s, check=False
    )


def helics_run(federation_path: Path, timeout_s: float) -> subprocess.CompletedProcess:
    """``helics run --path FILE`` in the file's folder, output captured."""
    return subprocess.run(
        [str(HELICS_CLI), "run", "--path", str(federation_path)],
        cwd=federation_path.parent,
        env=helics_environment(),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def helics_run_in_background(federation_path: Path) -> subprocess.Popen:
    """``helics run --path FILE`` started in the file's folder, output captured."""
    return subprocess.Popen(
        [str(HELICS_CLI), "run", "--path", str(federation_path)],
        cwd=federation_path.parent,
        env=helics_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def helics_environment() -> dict[str, str]:
    """Environment in which ``helics run`` finds this interpreter's python and helics_broker."""
    environment = dict(os.environ)
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment['PATH']}"
    return environment


class LiveProcess(NamedTuple):
    """A process of this machine, as ``/proc`` shows it."""

    pid: int
    parent_pid: int
    #: Its arguments joined by spaces (a federate forked by ``tefed run`` shows its ``exec`` line).
    command: str
    #: Its working folder (None where it cannot be read).
    working: Path | None


def live_processes() -> Iterator[LiveProcess]:
    """Every process of this machine but this one and zombies (exited, not yet waited for)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
            state, parent_pid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, ValueError):
            continue
        try:
            working = (entry / "cwd").resolve()
        except OSError:
            working = None
        if state != "Z":
            yield LiveProcess(int(entry.name), int(parent_pid), command, working)


def processes_mentioning(text: str) -> list[LiveProcess]:
    """Live processes whose command line mentions ``text`` (this test excluded)."""
    return [process for process in live_processes() if text in process.command]


def processes_working_under(folder: Path) -> list[LiveProcess]:
    """Live processes whose working folder is ``folder`` or below it (``helics run`` and the
    sweep's runs start their processes in the federation's folder)."""
    root = folder.resolve()
    return [
        process
        for process in live_processes()
        if process.working is not None and process.working.is_relative_to(root)
    ]


def running_federate(folder: Path, name: str) -> int | None:
    """Process id of federate ``name`` of a run under ``folder`` (named in its command line, or
    started there), or None while there is none."""
    root = folder.resolve()
    for process in processes_mentioning(f"--name {name}"):
        in_folder = process.working is not None and process.working.is_relative_to(root)
        if f"{root}{os.sep}" in process.command or in_folder:
            return process.pid
    return None


def federate_pid(folder: Path, name: str, timeout_s: float = 30.0) -> int:
    """Process id of federate ``name`` of a run under ``folder``, waiting up to ``timeout_s``
    [s] for it to start."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        pid = running_federate(folder, name)
        if pid is not None:
            return pid
        time.sleep(0.1)
    raise AssertionError(f"the {name} federate never started under {folder}")


def parquet_tables(run_dir: Path) -> dict[str, pd.DataFrame]:
    """Every Parquet file of a run, by its path relative to the run folder."""
    return {
        str(path.relative_to(run_dir)): pd.read_parquet(path)
        for path in sorted(run_dir.rglob("*.parquet"))
    }


def assert_same_tables(first: Path, second: Path) -> None:
    """The two runs wrote the same Parquet tables, value for value."""
    left, right = parquet_tables(first), parquet_tables(second)
    assert left.keys() == right.keys()
    assert len(left) >= 10
    for name in left:
        pd.testing.assert_frame_equal(left[name], right[name], check_exact=True, obj=name)
