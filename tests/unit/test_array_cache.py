"""tefed's array cache: the same array back, computed again for any change, never in the way."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tefed.io import array_cache
from tefed.io.array_cache import ARRAY_CACHE_ENV, CACHE_DIR_ENV, array_digest, cached_array
from tefed.io.weather_files import pvlib_tmy3_path

RNG = np.random.default_rng(7)


class Counted:
    """A computation that counts its calls."""

    def __init__(self, array: np.ndarray):
        self.array = array
        self.calls = 0

    def __call__(self) -> np.ndarray:
        self.calls += 1
        return self.array.copy()


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path))
    monkeypatch.delenv(ARRAY_CACHE_ENV, raising=False)
    return tmp_path / array_cache.ARRAYS_FOLDER


def test_an_array_computed_once_comes_back_bit_for_bit(folder: Path):
    values = RNG.normal(size=(50, 3))
    values[0, 0] = np.nextafter(1.0, 2.0)
    compute = Counted(values)
    inputs = {"n": 3, "x": np.arange(4.0), "nested": {"b": [1, 2.5, None, "s"], "a": True}}
    first = cached_array("thing", inputs, compute, shape=(50, 3))
    second = cached_array("thing", dict(reversed(list(inputs.items()))), compute, shape=(50, 3))
    assert compute.calls == 1
    assert second.dtype == np.float64 and second.tobytes() == values.tobytes()
    assert first.tobytes() == values.tobytes()
    assert len(list(folder.glob("thing-*.npy"))) == 1


@pytest.mark.parametrize(
    "changed",
    [
        {"n": 4},
        {"n": 3.0},
        {"x": np.arange(4.0, dtype=np.float32)},
        {"x": np.arange(4.0).reshape(2, 2)},
        {"x": np.array([0.0, 1.0, 2.0, 3.0000000001])},
        {"nested": {"a": [1, 2], "b": 0}},
        {"nested": {"a": [2, 1]}},
        {"nested": {"a": ["1", 2]}},
        {"extra": None},
    ],
    ids=repr,
)
def test_any_changed_input_is_computed_again(folder: Path, changed: dict):
    inputs = {"n": 3, "x": np.arange(4.0), "nested": {"a": [1, 2]}}
    compute = Counted(np.ones(2))
    cached_array("thing", inputs, compute, shape=(2,))
    cached_array("thing", {**inputs, **changed}, compute, shape=(2,))
    assert compute.calls == 2


def test_a_change_to_a_computing_module_or_a_package_version_is_a_new_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    module = tmp_path / "code" / "computing_module.py"
    module.parent.mkdir()
    module.write_text("FACTOR = 2\n")
    monkeypatch.syspath_prepend(str(module.parent))
    before = array_digest({"n": 1}, modules=["computing_module"], packages=["numpy"])
    assert before == array_digest({"n": 1}, modules=["computing_module"], packages=["numpy"])
    module.write_text("FACTOR = 3\n")
    assert array_digest({"n": 1}, modules=["computing_module"], packages=["numpy"]) != before
    assert array_digest({"n": 1}, modules=["computing_module"], packages=["pandas"]) != before


def test_an_unreadable_entry_is_computed_again_and_replaced(folder: Path):
    compute = Counted(np.arange(6.0))
    cached_array("thing", {"n": 1}, compute, shape=(6,))
    (entry,) = folder.glob("thing-*.npy")
    damaged = [
        b"",  # what a crash while writing could leave
        b"not an array",
        entry.read_bytes()[:100],  # cut short
    ]
    other = {
        "another shape": np.arange(4.0).reshape(2, 2),
        "another dtype": np.arange(6),
    }
    for content in damaged + list(other.values()):
        if isinstance(content, bytes):
            entry.write_bytes(content)
        else:
            np.save(entry, content)
        again = cached_array("thing", {"n": 1}, compute, shape=(6,))
        assert again.dtype == np.float64 and again.tolist() == list(range(6))
    assert compute.calls == 1 + len(damaged) + len(other)
    # Each time computed again, and replaced: now read back.
    assert cached_array("thing", {"n": 1}, compute, shape=(6,)).tolist() == list(range(6))
    assert compute.calls == 1 + len(damaged) + len(other)
    np.savez(entry.with_suffix(""), np.arange(6.0))
    entry.with_suffix(".npz").rename(entry)  # an archive of arrays is not one
    assert cached_array("thing", {"n": 1}, compute, shape=(6,)).tolist() == list(range(6))
    assert compute.calls == 2 + len(damaged) + len(other)


def test_switched_off_every_array_is_computed_and_nothing_written(
    folder: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv(ARRAY_CACHE_ENV, "OFF")
    compute = Counted(np.ones(3))
    cached_array("thing", {"n": 1}, compute, shape=(3,))
    cached_array("thing", {"n": 1}, compute, shape=(3,))
    assert compute.calls == 2 and not folder.exists()


def test_a_folder_that_cannot_be_written_only_costs_the_computing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    blocker = tmp_path / "a file"
    blocker.write_text("")
    monkeypatch.setenv(CACHE_DIR_ENV, str(blocker))  # its arrays folder cannot be made
    compute = Counted(np.ones(3))
    assert cached_array("thing", {"n": 1}, compute, shape=(3,)).tolist() == [1.0, 1.0, 1.0]
    assert cached_array("thing", {"n": 1}, compute, shape=(3,)).tolist() == [1.0, 1.0, 1.0]
    assert compute.calls == 2


def test_inputs_without_a_digest_are_computed_each_time(folder: Path):
    compute = Counted(np.ones(3))
    for _ in range(2):
        cached_array("thing", {"when": pd.Timestamp("2022-01-01")}, compute, shape=(3,))
    assert compute.calls == 2 and not folder.exists()


def test_a_failed_computation_keeps_nothing(folder: Path):
    def failing() -> np.ndarray:
        raise ValueError("bad input")

    with pytest.raises(ValueError, match="bad input"):
        cached_array("thing", {"n": 1}, failing, shape=(1,))
    assert not folder.exists() or not list(folder.iterdir())


def test_an_array_whose_inputs_changed_while_it_was_computed_is_not_kept(folder: Path):
    compute = Counted(np.ones(3))
    for _ in range(2):
        cached_array("thing", {"n": 1}, compute, shape=(3,), keep_if=lambda: False)
    assert compute.calls == 2 and not list(folder.glob("thing-*"))
    cached_array("thing", {"n": 1}, compute, shape=(3,), keep_if=lambda: True)
    cached_array("thing", {"n": 1}, compute, shape=(3,))
    assert compute.calls == 3


def test_keys_of_different_types_are_different_inputs():
    assert array_digest({"a": {1: 0}}) != array_digest({"a": {"1": 0}})
    assert array_digest({"a": [1]}) != array_digest({"a": [1.0]})
    assert array_digest({"a": [1]}) != array_digest({"a": ["1"]})


def test_a_missing_package_is_part_of_the_digest_not_an_error():
    absent = "no-such-distribution-of-tefed"
    assert array_digest({"n": 1}, packages=[absent]) != array_digest({"n": 1})


def test_entries_are_readable_by_all_and_leftovers_of_killed_writers_go(folder: Path):
    folder.mkdir(parents=True)
    stale = folder / f"{array_cache.WRITING_PREFIX}killed.npy"
    fresh = folder / f"{array_cache.WRITING_PREFIX}writing-now.npy"
    for path in (stale, fresh):
        path.write_bytes(b"partial")
    old_s = 10**9  # 2001
    os.utime(stale, (old_s, old_s))
    cached_array("thing", {"n": 1}, lambda: np.ones(3), shape=(3,))
    (entry,) = folder.glob("thing-*.npy")
    assert entry.stat().st_mode & 0o777 == 0o644
    assert not stale.exists() and fresh.exists()


def test_large_arrays_are_not_kept_and_the_folder_keeps_the_recently_read(
    folder: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(array_cache, "MAX_ENTRY_BYTES", 8 * 100)
    cached_array("big", {"n": 0}, lambda: np.ones(101), shape=(101,))
    assert not list(folder.glob("big-*"))
    entry_bytes = 8 * 100 + 128  # 100 float64 and the .npy header
    monkeypatch.setattr(array_cache, "MAX_TOTAL_BYTES", 3 * entry_bytes)
    paths = []
    for n in range(3):
        cached_array("thing", {"n": n}, lambda: np.ones(100), shape=(100,))
        (path,) = set(folder.glob("thing-*")) - set(paths)
        os.utime(path, ns=(10**18 + n, 10**18 + n))  # written in the order 0, 1, 2
        paths.append(path)
    compute = Counted(np.ones(100))
    cached_array("thing", {"n": 0}, compute, shape=(100,))  # read: now the most recent
    cached_array("thing", {"n": 3}, lambda: np.ones(100), shape=(100,))
    assert compute.calls == 0
    assert paths[0].exists() and not paths[1].exists() and paths[2].exists()
    assert len(list(folder.glob("thing-*"))) == 3


#: Computes every household's PV power [kW] of the federation file argv[1] as the ems does and
#: saves it to argv[2]; prints whether pvlib was imported.
PV_SCRIPT = """
import json, sys
from pathlib import Path
import numpy as np
from tefed.contract.federation_file import FederationFile
from tefed.contract.role_configs import read_role_config
from tefed.federates.ems.household_profiles import household_profiles

path = Path(sys.argv[1])
federation = FederationFile.model_validate_json(path.read_text())
entry = next(e for e in federation.federate_entries() if e.tefed and e.tefed.role == "ems")
config = read_role_config("ems", entry.tefed.config, entry.name)
table = federation.households_frame()
profiles = household_profiles(
    table, federation.tefed.time.to_time_grid(), federation.tefed.site, config.pv_model,
    federation.tefed.seed, list(table.index), community=False, base_dir=path.parent,
)
np.save(sys.argv[2], profiles.pv_kw)
print(json.dumps("pvlib" in sys.modules))
"""


def pv_power_kw(
    federation: Path, cache: Path, out: Path, switch: str = ""
) -> tuple[np.ndarray, bool]:
    """Every household's PV power as a new ems process computes it with the cache folder
    ``cache`` (``switch``: `ARRAY_CACHE_ENV`), and whether that process imported pvlib."""
    environment = {**os.environ, CACHE_DIR_ENV: str(cache), ARRAY_CACHE_ENV: switch}
    done = subprocess.run(
        [sys.executable, "-c", PV_SCRIPT, str(federation), str(out)],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return np.load(out), json.loads(done.stdout.splitlines()[-1])


@pytest.mark.parametrize("irradiance", ["clear_sky", "tmy"])
def test_a_federate_whose_pv_power_is_cached_reads_it_without_importing_pvlib(
    tmp_path: Path, irradiance: str
):
    from federations import short_scenario_data, write_federation

    weather = tmp_path / "run" / "weather.csv"
    weather.parent.mkdir()
    weather.write_bytes(pvlib_tmy3_path().read_bytes())
    data = short_scenario_data(pv_model__irradiance=irradiance)
    if irradiance == "tmy":
        data["pv_model"]["weather_file"] = "weather.csv"
    federation = write_federation(tmp_path / "run", data)
    cache = tmp_path / "cache"
    computed, imported_first = pv_power_kw(federation, cache, tmp_path / "a.npy")
    cached, imported_then = pv_power_kw(federation, cache, tmp_path / "b.npy")
    uncached, imported_off = pv_power_kw(federation, cache, tmp_path / "c.npy", "off")
    assert (imported_first, imported_then, imported_off) == (True, False, True)
    assert computed.max() > 1.0  # noon in June: the PV produces
    assert cached.tobytes() == computed.tobytes() == uncached.tobytes()
    # Another weather file (here: its sunniest hour cut in half) is another entry.
    if irradiance == "tmy":
        lines = weather.read_text().splitlines(keepends=True)
        header, rows = lines[:2], [line.split(",") for line in lines[2:]]
        ghi = 4  # GHI (W/m^2) column of a TMY3 row
        sunny = max(range(len(rows)), key=lambda k: float(rows[k][ghi]))
        rows[sunny][ghi] = str(float(rows[sunny][ghi]) / 2)
        weather.write_text("".join(header) + "".join(",".join(row) for row in rows))
        _, imported = pv_power_kw(federation, cache, tmp_path / "d.npy")
        assert imported
        assert len(list((cache / array_cache.ARRAYS_FOLDER).glob("pv_power_kw-*.npy"))) == 2
