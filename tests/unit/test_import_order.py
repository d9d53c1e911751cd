"""pyhelics is loaded through ``tefed.runtime.helics_library`` only: there pyarrow is loaded first
(with libhelics loaded before it, pyarrow's time-zone lookup crashes the process, a
segmentation fault, and with it any reading of a table with a time-zone-aware column, such as a
run's tables for its report), and pyhelics' C declarations come from tefed's cache."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import tefed

#: The one module that imports pyhelics.
LOADER = "tefed.runtime.helics_library"
MODULES_USING_HELICS = [
    LOADER,
    "tefed.runtime.helics_runtime",
    "tefed.runtime.stall_watchdog",
    "tefed.runtime.probe",
    "tefed.runtime.federation_stop",
    "tefed.runtime.shared_core",
]
CHECK = """
import importlib, sys
importlib.import_module(sys.argv[1])
assert "helics" in sys.modules
import pyarrow
print(pyarrow.lib.string_to_tzinfo("Europe/Berlin"), pyarrow.lib.string_to_tzinfo("UTC"))
"""


@pytest.mark.parametrize("module", MODULES_USING_HELICS)
def test_a_process_that_imports_helics_through_tefed_reads_time_zones(module: str):
    completed = subprocess.run(
        [sys.executable, "-c", CHECK, module], capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, (completed.returncode, completed.stderr[-2000:])
    assert completed.stdout.split() == ["Europe/Berlin", "UTC"]


def _modules(text: str) -> list[str]:
    source = Path(tefed.__file__).parent
    return sorted(
        {
            ".".join(("tefed", *path.relative_to(source).with_suffix("").parts))
            for path in source.rglob("*.py")
            if text in path.read_text()
        }
    )


def test_only_the_loader_imports_pyhelics():
    assert sorted({*_modules("\nimport helics"), *_modules("\nfrom helics")}) == [LOADER]


def test_every_module_that_uses_helics_is_checked():
    using = set(_modules("from tefed.runtime.helics_library import")) - {LOADER}
    assert sorted(using) == sorted(set(MODULES_USING_HELICS) - {LOADER})
