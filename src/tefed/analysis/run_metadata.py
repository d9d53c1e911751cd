"""What ``summary.json`` records of a run beside its KPIs: versions, source revision, each
federate's wall time computing and waiting, and in real-time mode the speed, lag and lead."""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tefed.contract.federation_file import FederationFile
from tefed.contract.run_folder import RunFolder

_PACKAGES = (
    "tefed",
    "helics",
    "opendssdirect.py",
    "dss-python",
    "numpy",
    "pandas",
    "pvlib",
    "pyarrow",
)


def run_metadata(folder: RunFolder, federation: FederationFile) -> dict[str, Any]:
    """Versions, source revision, and each federate's wall time computing and waiting."""
    versions = {}
    for package in _PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    timing = {}
    for path in sorted((folder.path / "timing").glob("*.json")):
        timing[path.stem] = folder.read_json(f"timing/{path.name}")
    started_at = folder.status().get("started_at")
    wall_time_s = (
        (datetime.now(UTC) - datetime.fromisoformat(started_at)).total_seconds()
        if started_at
        else None
    )
    return {
        "run_id": folder.path.name,
        "started_at": started_at,
        "wall_time_s": wall_time_s,
        "federation": federation.name,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "git_sha": _git_sha(Path(__file__).resolve().parent),
        "federates": timing,
        **_realtime_summary(federation, timing),
        "report_written_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _realtime_summary(
    federation: FederationFile, timing: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """In real-time mode, ``{"realtime": ...}``: the speed [simulated s per wall s] and the
    largest lag and lead of any federate's grant against the wall clock [s]; else nothing."""
    scale = federation.tefed.time.helics_time_scale
    if scale is None:
        return {}
    lags = [record.get("realtime_lag_max_s", 0.0) for record in timing.values()]
    leads = [record.get("realtime_lead_max_s", 0.0) for record in timing.values()]
    return {
        "realtime": {
            "speed": 1.0 / scale,
            "lag_max_s": max(lags, default=None),
            "lead_max_s": max(leads, default=None),
        }
    }


def _git_sha(source_dir: Path) -> str | None:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=source_dir,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None
