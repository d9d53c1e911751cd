"""Shared fixtures: a short version of the default scenario and its lockstep run."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from federations import lockstep_run, short_scenario_data, write_federation
from hypothesis import settings

from tefed.io.array_cache import CACHE_DIR_ENV

# Tests never assert wall-clock time: Hypothesis's per-example deadline (200 ms) is one, and it
# fails property tests on a loaded machine. Every test keeps its own example counts.
settings.register_profile("tefed", deadline=None)
settings.load_profile("tefed")


@pytest.fixture(scope="session")
def short_federation(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-hour federation file of the default scenario, its runs drawing every figure
    (built once per session)."""
    return write_federation(tmp_path_factory.mktemp("short"), short_scenario_data(), plots=True)


@pytest.fixture(scope="session")
def short_lockstep_run(short_federation: Path, tmp_path_factory: pytest.TempPathFactory):
    """The short federation stepped in one process, with its report."""
    return lockstep_run(short_federation, tmp_path_factory.mktemp("lockstep") / "run")


#: Set for the test processes and everything they start: the session's cache folder.
SESSION_CACHE_ENV = "TEFED_TEST_SESSION_CACHE"
_created_cache: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    """One fresh cache folder for the whole session (`tefed.io.array_cache.cache_dir`): the
    test processes inherit it from the first, and so do the federations they start. Tests then
    never read what earlier sessions kept in the user's cache (PV power, pyhelics'
    declarations): each session computes and writes them once."""
    if SESSION_CACHE_ENV not in os.environ:
        folder = tempfile.mkdtemp(prefix="tefed-test-cache-")
        _created_cache.append(folder)
        os.environ[SESSION_CACHE_ENV] = folder
        os.environ[CACHE_DIR_ENV] = folder


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the session's cache folder (in the process that made it)."""
    for folder in _created_cache:
        shutil.rmtree(folder, ignore_errors=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Real federations first, then the rest, each in collection order.

    The test processes take the collected tests in order and take over each other's remaining
    ones: with the long federation tests (a fault test waits up to a minute) at the end, one
    process ran the last of them while the other had nothing left to do. Started first, they
    are spread over both and the short tests fill the end.
    """
    items.sort(key=lambda item: item.get_closest_marker("federation") is None)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: half again as many test processes as the machine has cores (3 on 2).

    Many federation tests wait more than they compute (for a stall or startup timeout, a
    paced run, a killed process to be named): with one test process per core, the cores sat
    idle a fifth of the time. Measured on 2 cores with the suite's pytest command, same code,
    one run after the other: 6 min 41 s with 2, 5 min 42 s with 3 (5 min 23 s with 4 against
    5 min 3 s with 3, later, in a clone without ``../shared``).
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(2, (cores or 1) * 3 // 2)
