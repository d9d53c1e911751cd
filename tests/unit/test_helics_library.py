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


FREED_TWICE = """
import gc, json, os, random, sys
from tefed.runtime.helics_library import free, h
from tefed.runtime.local_ports import port_is_free

rng = random.Random(os.getpid())

def free_port_pair():
    while True:
        port = rng.randrange(33000, 40000, 2)
        if port_is_free(port, True) and port_is_free(port + 1, True):
            return port

def episode(number):
    port = free_port_pair()
    broker = h.helicsCreateBroker(
        "zmq", f"episode{number}", f"--federates=1 --port={port} --loglevel=no_print"
    )
    info = h.helicsCreateFederateInfo()
    h.helicsFederateInfoSetCoreTypeFromString(info, "zmq")
    h.helicsFederateInfoSetCoreInitString(
        info, f"--federates=1 --broker_address=127.0.0.1:{port} --loglevel=no_print"
    )
    federate = h.helicsCreateValueFederate("household_h01", info)
    free(info, h.helicsFederateInfoFree)
    return broker, federate

_, first = episode(1)
h.helicsFederateEnterExecutingMode(first)
h.helicsFederateDisconnect(first)
if sys.argv[1] == "tefed":
    free(first, h.helicsFederateFree)
else:
    h.helicsFederateFree(first)
broker, second = episode(2)
outcome = {"same_memory": first.handle == second.handle, "error": None}
del first
gc.collect()  # the first federate's wrapper goes
try:
    h.helicsFederateEnterExecutingMode(second)
    h.helicsFederateDisconnect(second)
    free(second, h.helicsFederateFree)
except h.HelicsException as error:
    outcome["error"] = str(error)
print(json.dumps(outcome))
sys.stdout.flush()
os._exit(0)  # the federate pyhelics' free broke cannot be left cleanly
"""


def test_a_freed_federate_is_not_freed_again_when_its_wrapper_goes():
    """A federate freed explicitly, then a new one made in the same process (a learner host's
    next episode): when the first one's wrapper is collected, pyhelics' own free would free
    the new one, which HELICS put in the same memory; tefed's `free` leaves it alone."""
    outcome = {}
    for how in ("pyhelics", "tefed"):
        completed = subprocess.run(
            [sys.executable, "-c", FREED_TWICE, how], capture_output=True, text=True, timeout=120
        )
        assert completed.returncode == 0, completed.stderr[-3000:]
        outcome[how] = json.loads(completed.stdout.strip().splitlines()[-1])
    if not outcome["pyhelics"]["same_memory"]:
        pytest.skip("the allocator put the second federate elsewhere: nothing to show")
    assert outcome["pyhelics"]["error"] == "[-3] federate object is not valid"
    assert outcome["tefed"] == {"same_memory": True, "error": None}
