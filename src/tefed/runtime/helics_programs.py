"""Where HELICS's programs (``helics_broker``, …) are, found without loading pyhelics.

Importing ``helics`` parses the HELICS C headers with cffi (about 0.1 s of CPU). The broker
entry and the watchdog entry of a federation file only start or name ``helics_broker``; finding
the folder the way pyhelics does (``PYHELICS_INSTALL``, else ``HELICS_INSTALL``, else the
``install`` folder of the package) spares them that in every ``helics run``.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path


def helics_install_dir() -> Path:
    """The HELICS installation pyhelics uses: ``PYHELICS_INSTALL``, else ``HELICS_INSTALL``,
    else the ``install`` folder inside the ``helics`` package (also when the variable names
    no folder, as pyhelics falls back)."""
    spec = importlib.util.find_spec("helics")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the helics package (pyhelics) is not installed")
    bundled = Path(next(iter(spec.submodule_search_locations))) / "install"
    chosen = os.getenv("PYHELICS_INSTALL", os.getenv("HELICS_INSTALL", str(bundled)))
    return Path(chosen) if os.path.isdir(chosen) else bundled


def helics_programs_dir() -> Path:
    """The folder of HELICS's programs (``helics_broker``, ``helics_app``, …)."""
    return helics_install_dir() / "bin"
