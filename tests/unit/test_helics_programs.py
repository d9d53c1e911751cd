"""HELICS's programs found without loading pyhelics, where pyhelics itself finds them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import helics.bin

from tefed.runtime.helics_programs import helics_install_dir, helics_programs_dir


def test_the_folder_is_pyhelics_own_and_holds_the_broker():
    assert helics_programs_dir() == Path(helics.bin.BIN_DIR)
    assert (helics_programs_dir() / "helics_broker").is_file()


def test_a_variable_naming_a_folder_wins_and_one_naming_none_falls_back(tmp_path, monkeypatch):
    bundled = helics_install_dir()
    monkeypatch.setenv("PYHELICS_INSTALL", str(tmp_path))
    assert helics_install_dir() == tmp_path
    monkeypatch.setenv("PYHELICS_INSTALL", str(tmp_path / "missing"))
    assert helics_install_dir() == bundled
    monkeypatch.delenv("PYHELICS_INSTALL")
    monkeypatch.setenv("HELICS_INSTALL", str(tmp_path))
    assert helics_install_dir() == tmp_path


def test_the_broker_and_watchdog_entries_do_not_load_pyhelics():
    code = (
        "import sys, tefed.runtime.broker, tefed.run.helics_watchdog; "
        "print(sorted(m for m in sys.modules if m == 'helics' or m.startswith('helics.')))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert completed.stdout.strip() == "[]"
