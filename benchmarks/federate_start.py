"""CPU a built-in federate's program takes to start, with and without tefed's cache of pyhelics'
C declarations (`tefed.runtime.helics_library`).

Every federate of a ``helics run`` federation (and under ``TEFED_START=exec tefed run``) is a
fresh ``python -m tefed.federates.<role>``: its imports, HELICS's included, are paid once per
process. Each role's program is started with ``--help`` (it loads everything a federate loads,
then prints its usage and exits) ``ROUNDS`` times in each mode, the modes alternated so that
the machine's load falls on both alike:

- ``cached``: pyhelics' declarations read from the cache (written beforehand);
- ``pyhelics``: pyhelics parsing the HELICS headers itself, as it does where the cache is not
  used (``PYHELICS_INSTALL`` set to pyhelics' own install folder).

The figure is the CPU (user + system) of the child process, from ``getrusage``. A diagnostic,
not a target: no figure here is held to a limit.
"""

from __future__ import annotations

import importlib.util
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

NAME = "federate_start"
#: Starts of each role's program in each mode [-].
ROUNDS = 3
ROLES = ("price_feed", "ems", "grid", "market")
MODES = ("cached", "pyhelics")
TIMEOUT_S = 120.0


def run(output: Path) -> dict:
    """Median CPU seconds per start of each role's program in each mode."""
    spec = importlib.util.find_spec("helics")
    install = Path(next(iter(spec.submodule_search_locations))) / "install"
    with tempfile.TemporaryDirectory(prefix="tefed-bench-cache-") as cache:
        environments = {
            "cached": {**os.environ, "TEFED_CACHE_DIR": cache},
            "pyhelics": {**os.environ, "TEFED_CACHE_DIR": cache, "PYHELICS_INSTALL": str(install)},
        }
        _cpu_s("price_feed", environments["cached"])  # writes the cache
        samples: dict[str, dict[str, list[float]]] = {
            role: {mode: [] for mode in MODES} for role in ROLES
        }
        for _ in range(ROUNDS):
            for role in ROLES:
                for mode in MODES:
                    samples[role][mode].append(_cpu_s(role, environments[mode]))
    figures: dict = {"rounds": ROUNDS, "cpu_s": samples, "median_cpu_s": {}}
    for role in ROLES:
        figures["median_cpu_s"][role] = {
            mode: statistics.median(samples[role][mode]) for mode in MODES
        }
    figures["saved_cpu_s_per_start"] = statistics.median(
        figures["median_cpu_s"][role]["pyhelics"] - figures["median_cpu_s"][role]["cached"]
        for role in ROLES
    )
    figures["targets"] = []
    return figures


def _cpu_s(role: str, environment: dict[str, str]) -> float:
    """CPU seconds (user + system) of one ``python -m tefed.federates.<role> --help``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    completed = subprocess.run(
        [sys.executable, "-m", f"tefed.federates.{role}", "--help"],
        env=environment,
        capture_output=True,
        timeout=TIMEOUT_S,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        raise RuntimeError(f"python -m tefed.federates.{role} --help exited {completed.returncode}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
