"""Every tefed module that imports HELICS loads pyarrow first: with libhelics loaded before it,
pyarrow's time-zone lookup crashes the process (a segmentation fault), and with it any reading
of a table with a time-zone-aware column, such as a run's tables for its report."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import tefed

MODULES_IMPORTING_HELICS = [
    "tefed.runtime.helics_runtime",
    "tefed.runtime.stall_watchdog",
    "tefed.runtime.probe",
    "tefed.runtime.federation_stop",
]
CHECK = """
import importlib, sys
importlib.import_module(sys.argv[1])
assert "helics" in sys.modules
import pyarrow
print(pyarrow.lib.string_to_tzinfo("Europe/Berlin"), pyarrow.lib.string_to_tzinfo("UTC"))
"""


@pytest.mark.parametrize("module", MODULES_IMPORTING_HELICS)
def test_a_process_that_imports_helics_through_tefed_reads_time_zones(module: str):
    completed = subprocess.run(
        [sys.executable, "-c", CHECK, module], capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, (completed.returncode, completed.stderr[-2000:])
    assert completed.stdout.split() == ["Europe/Berlin", "UTC"]


def test_every_module_that_imports_helics_is_checked():
    source = Path(tefed.__file__).parent
    importing = sorted(
        ".".join(("tefed", *path.relative_to(source).with_suffix("").parts))
        for path in source.rglob("*.py")
        if "\nimport helics" in path.read_text() or "\nfrom helics" in path.read_text()
    )
    assert importing == sorted(MODULES_IMPORTING_HELICS)
