"""tefed's cache of pyhelics' C declarations (``tefed.runtime.helics_library``): written by the
first process, read by the next, written again when damaged, and left aside (pyhelics loads
itself) when it cannot be written or pyhelics takes its library from elsewhere. Each case is a
process of its own: this test process must not load HELICS (it forks federates in others)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROGRAM = """
import json
from tefed.runtime import helics_library
from tefed.runtime.helics_library import ffi, h
print(json.dumps({
    "ffi": type(ffi).__module__,
    "how": helics_library._HOW_LOADED,
    "version": h.helicsGetVersion(),
    "federate_info": type(h.helicsCreateFederateInfo()).__name__,
}))
"""


def _load(**environment: str) -> dict:
    completed = subprocess.run(
        [sys.executable, "-c", PROGRAM],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **environment},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stderr == ""
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _cached(folder: Path) -> list[Path]:
    return sorted(folder.glob("helics_declarations_*.py"))


def test_the_first_process_writes_the_cache_and_the_next_reads_it(tmp_path: Path):
    first = _load(TEFED_CACHE_DIR=str(tmp_path))
    assert first["ffi"] == "cffi.api"
    assert first["how"].startswith("pyhelics' declarations written to")
    (written,) = _cached(tmp_path)
    second = _load(TEFED_CACHE_DIR=str(tmp_path))
    assert second["ffi"] == "_cffi_backend"
    assert second["how"] == f"pyhelics' declarations read from {written}"
    assert second["version"] == first["version"]
    assert second["federate_info"] == first["federate_info"] == "HelicsFederateInfo"
    # Nothing half-written is left beside it.
    # (and bytecode of it, when Python writes bytecode)
    assert sorted(path.name for path in tmp_path.glob("*.py")) == [written.name]
    assert {path.name for path in tmp_path.glob(".*")} == set()


def test_a_damaged_cache_is_written_again(tmp_path: Path):
    _load(TEFED_CACHE_DIR=str(tmp_path))
    (written,) = _cached(tmp_path)
    written.write_text("ffi = None\n")
    repaired = _load(TEFED_CACHE_DIR=str(tmp_path))
    assert repaired["ffi"] == "cffi.api"
    assert repaired["how"].startswith("pyhelics' declarations written to")
    assert _load(TEFED_CACHE_DIR=str(tmp_path))["ffi"] == "_cffi_backend"


def test_a_cache_folder_that_cannot_be_written_leaves_pyhelics_to_load_itself(tmp_path: Path):
    blocked = tmp_path / "a file, not a folder"
    blocked.write_text("")
    loaded = _load(TEFED_CACHE_DIR=str(blocked / "tefed"))
    assert loaded["ffi"] == "cffi.api"
    assert loaded["how"].startswith("pyhelics loads itself: its declarations cache failed")


@pytest.mark.parametrize("variable", ["HELICS_INSTALL", "PYHELICS_INSTALL"])
def test_pyhelics_given_another_install_loads_itself(tmp_path: Path, variable: str):
    _load(TEFED_CACHE_DIR=str(tmp_path))
    # pyhelics' own install folder, found without loading HELICS into this process.
    spec = importlib.util.find_spec("helics")
    install = Path(next(iter(spec.submodule_search_locations))) / "install"
    loaded = _load(TEFED_CACHE_DIR=str(tmp_path), **{variable: str(install)})
    assert loaded["ffi"] == "cffi.api"
    assert loaded["how"] == "pyhelics takes its library from HELICS_INSTALL or PYHELICS_INSTALL"
