"""Hostile and careless scenario files: every one is refused with a short message that names
where the problem is, the value and what was expected (exit code 2), never a traceback, a hang
or a blow-up.

The fuzz corpus (`malformed_scenarios`) runs through the validator in-process; the table below
runs the cases found by hand through the command line.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from malformed_scenarios import SCENARIOS, malformed_scenario

from tefed.build.validate import ScenarioCheck, check_scenario
from tefed.cli import main
from tefed.contract.errors import InputError
from tefed.scenario.bounded_yaml import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES

#: Seed and size of the fuzz corpus.
CORPUS_SEED, CORPUS_SIZE = 14, 1_100
#: Largest message about one file [bytes]: a few kB, however broken the file.
MAX_MESSAGE_BYTES = 8_000
#: A case still running after this long is a hang (a guard, not a benchmark) [s].
HANG_S = 5

#: How a problem names where it is: a key path (``households[2].pv.kwp:``), a line of the file,
#: or a fault of the whole file.
KEY_PATH = re.compile(r"[\w<>…-]+(\[\d+\])*(\.[\w<>…-]+(\[\d+\])*)*: ")
LINE = re.compile(r"\bline \d+")
WHOLE_FILE = (
    "not a regular file",
    "cannot be read",
    "too large (",
    "expected a mapping of sections at the top level",
    "… and ",
)


def names_where(problem: str) -> bool:
    return bool(KEY_PATH.match(problem) or LINE.search(problem)) or problem.startswith(WHOLE_FILE)


@pytest.fixture(scope="module")
def scenario_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the shipped scenarios, so that a case's ``extends`` finds its base."""
    folder = tmp_path_factory.mktemp("hostile")
    for scenario in SCENARIOS:
        shutil.copy(scenario, folder / scenario.name)
    return folder


@pytest.fixture
def hang_guard() -> Iterator[None]:
    """Fail a test still running after ``HANG_S`` seconds instead of letting it hang."""

    def hung(signum: int, frame: object) -> None:
        raise TimeoutError(f"still running after {HANG_S} s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(HANG_S)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def assert_refused_well(check: ScenarioCheck) -> None:
    message = str(InputError(check.source, check.problems))
    assert len(message.encode()) < MAX_MESSAGE_BYTES, message[:2000]
    unnamed = [problem for problem in check.problems if not names_where(problem)]
    assert not unnamed, unnamed


@pytest.mark.parametrize("index", range(CORPUS_SIZE))
def test_malformed_scenarios_are_refused_with_a_short_message(scenario_folder, hang_guard, index):
    case = malformed_scenario(CORPUS_SEED, index)
    path = scenario_folder / "case.yaml"
    path.write_bytes(case.content)
    check = check_scenario(path, scenario_folder)
    if check.problems:
        assert_refused_well(check)
    else:
        assert check.scenario is not None, case.name


def test_the_corpus_is_the_same_for_the_same_seed_and_breaks_in_many_ways():
    first = [malformed_scenario(CORPUS_SEED, index) for index in range(100)]
    again = [malformed_scenario(CORPUS_SEED, index) for index in range(100)]
    assert first == again
    kinds = {re.sub(r"[\d.\[\]'\"].*", "", case.name.partition(": ")[2]) for case in first}
    assert len(kinds) >= 12, kinds


# --- cases found by hand, through the command line ------------------------------------------------


#: libyaml's loader and dumper where PyYAML has them: the cases below are built as the
#: module is collected, in every test process.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@functools.cache
def _default_text() -> str:
    return (SCENARIOS[0].parent / "default.yaml").read_text()


def default_data() -> dict:
    return yaml.load(_default_text(), Loader=_LOADER)


def changed(change: Callable[[dict], object]) -> bytes:
    data = default_data()
    change(data)
    return yaml.dump(data, Dumper=_DUMPER, sort_keys=False, allow_unicode=True).encode()


def setting(dotted: str, value: object) -> bytes:
    def change(data: dict) -> None:
        *parents, leaf = dotted.split(".")
        section = data
        for part in parents:
            section = section[int(part)] if part.isdigit() else section[part]
        section[leaf] = value

    return changed(change)


def alias_bomb(width: int, levels: int) -> bytes:
    lines = ['l0: &l0 ["lol"]']
    for level in range(1, levels + 1):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * width)}]")
    return ("\n".join(lines) + f"\ndescription: *l{levels}\n").encode()


def default_text() -> str:
    return (SCENARIOS[0].parent / "default.yaml").read_text()


def line_of(text: str) -> int:
    """Line of default.yaml that starts with ``text`` (the first one) [from 1]."""
    return next(n for n, line in enumerate(default_text().splitlines(), 1) if line.startswith(text))


#: Case: the file's bytes, and the fragments its message must contain.
HOSTILE_FILES: dict[str, tuple[bytes, list[str]]] = {
    "billion laughs, 20 wide 2 deep": (
        alias_bomb(2, 20),
        [f"more than {MAX_NODES} values", "once aliases are expanded"],
    ),
    "billion laughs, 9 wide 9 deep": (alias_bomb(9, 9), [f"more than {MAX_NODES} values"]),
    "lists nested 1,000 deep": (
        ("name: deep\nseed: " + "[" * 1000 + "]" * 1000).encode(),
        ["line 2", f"nested deeper than {MAX_DEPTH} levels"],
    ),
    "mappings nested 100 deep": (
        ("seed: " + "{a: " * 100 + "1" + "}" * 100).encode(),
        [f"nested deeper than {MAX_DEPTH} levels"],
    ),
    "an alias inside itself": (b"grid: &g {feeder: *g}\n", ["grid.feeder", "refers to"]),
    "latin-1 bytes": (
        default_text().replace("Twelve", "Zwölf").encode("latin-1"),
        ["line 8", "byte 0xf6", "not UTF-8"],
    ),
    "a file over the size limit": (
        default_text().encode() + b"#" * MAX_FILE_BYTES,
        [f"expected a file of at most {MAX_FILE_BYTES} bytes"],
    ),
    "duplicate key": (
        default_text().replace("    count: 4\n", "    count: 4\n    count: 40\n", 1).encode(),
        [
            f"households[0].count: duplicate key (lines {line_of('    count: 4')} and "
            f"{line_of('    count: 4') + 1})",
            "each key once",
        ],
    ),
    "duplicate section": (
        (default_text() + "seed: 8\n").encode(),
        [
            f"seed: duplicate key (lines {line_of('seed: 7')} and "
            f"{len(default_text().splitlines()) + 1})"
        ],
    ),
    "a 5,000-digit integer": (
        ("seed: " + "9" * 5000 + "\n").encode(),
        ["line 1", "cannot read '999", "as int"],
    ),
    "a Python object tag": (
        b"seed: !!python/object/apply:os.system ['true']\n",
        ["line 1", "could not determine a constructor"],
    ),
    "household count 10^7": (
        setting("households.0.count", 10**7),
        ["households[0].count: got 10000000", "less than or equal to 10000"],
    ),
    "100,000 groups": (
        b"g: &g {group: same, count: 1}\nhouseholds: [" + b", ".join([b"*g"] * 100_000) + b"]\n",
        [f"expected a file of at most {MAX_FILE_BYTES} bytes"],
    ),
    "25,000 groups": (
        b"g: &g {group: same, count: 1}\nhouseholds: [" + b", ".join([b"*g"] * 25_000) + b"]\n",
        ["households[", f"more than {MAX_NODES} values"],
    ),
    "1,001 groups": (
        changed(
            lambda data: data.update(
                households=[{"group": f"g{k}", "count": 1} for k in range(1001)]
            )
        ),
        ["households: List should have at most 1000 items"],
    ),
    "10,000 households in total": (
        changed(
            lambda data: data.update(
                households=[{"group": f"g{k}", "count": 5_000} for k in range(3)]
            )
        ),
        ["households: the groups' counts sum to 15000; expected at most 10000"],
    ),
    "price 'inf'": (
        setting("prices.export_price_usd_per_kwh", "inf"),
        ["prices.export_price_usd_per_kwh: got 'inf'", "finite number"],
    ),
    "price 'NaN'": (
        setting("prices.import_tariff.price_usd_per_kwh", "NaN"),
        ["prices.import_tariff.price_usd_per_kwh: got 'NaN'", "finite number"],
    ),
    "price 2^63": (
        setting("prices.import_tariff.price_usd_per_kwh", 2**63),
        [
            "prices.import_tariff.price_usd_per_kwh: got 9223372036854775808",
            "less than or equal to 100",
        ],
    ),
    "wholesale price 1e308": (
        setting("prices.wholesale.mean_usd_per_mwh", 1e308),
        ["prices.wholesale.mean_usd_per_mwh: got 1e+308", "less than or equal to 100000"],
    ),
    "kwp NaN": (
        setting("households.1.pv.kwp", float("nan")),
        ["households[1].pv.kwp: got nan", "finite number"],
    ),
    "kwp 'inf'": (setting("households.1.pv.kwp", "inf"), ["households[1].pv.kwp: got 'inf'"]),
    "kwp 2^63": (
        setting("households.1.pv.kwp", 2**63),
        ["households[1].pv.kwp: got 9223372036854775808", "at least 0 and at most 1000"],
    ),
    "NaN inside a range": (
        setting("households.1.pv.kwp", [4.0, float("nan")]),
        ["households[1].pv.kwp", "valid number"],
    ),
    "NaN inside a voltage band": (
        setting("grid.voltage_range_pu", [0.9, float("nan")]),
        ["grid.voltage_range_pu[1]: got nan", "finite number"],
    ),
    "daily energy 2^63": (
        setting("households.0.load_daily_energy_kwh", 2**63),
        ["households[0].load_daily_energy_kwh: got 9223372036854775808", "at most 10000"],
    ),
    "battery energy 'inf'": (
        setting("households.2.battery.capacity_kwh", "inf"),
        ["households[2].battery.capacity_kwh: got 'inf'"],
    ),
    "forecast horizon 1e12": (
        setting("prices.forecast_horizon_intervals", 1e12),
        ["prices.forecast_horizon_intervals: got 1000000000000.0", "less than or equal to 2688"],
    ),
    "start 9999-12-31": (
        setting("time.start", "9999-12-31T00:00:00"),
        ["time.start: got '9999-12-31T00:00:00'; expected a date-time in the years 1900 to 2100"],
    ),
    "an over-long time zone": (
        setting("time.timezone", "Europe/" + "x" * 5000),
        ["time.timezone: got 'Europe/xxx", "at most 64 characters"],
    ),
    "a year at one-second steps": (
        changed(lambda data: data["time"].update(duration_s=366 * 86400, grid_step_s=1)),
        ["time.grid_step_s: got 1", "31622400 power-flow steps; expected at most 600000"],
    ),
    "seed 2^64": (
        setting("seed", 2**64),
        ["seed: got 18446744073709551616", "less than or equal to 4294967295"],
    ),
    "duration 2^64": (
        setting("time.duration_s", 2**64),
        ["time.duration_s: got 18446744073709551616", "less than or equal to 31622400"],
    ),
    "a name with a newline": (
        setting("name", "default\nrm"),
        ["name: got 'default\\nrm'", "expected 1 to 64 letters, digits"],
    ),
    "a name with a path separator": (
        setting("name", "../escape"),
        ["name: got '../escape'", "expected 1 to 64 letters, digits"],
    ),
    "a group with a newline": (
        setting("households.0.group", "consumers\n"),
        ["households[0].group: got 'consumers\\n'"],
    ),
    "results in /proc": (
        setting("run.results_root", "/proc"),
        ["run.results_root: got '/proc'", "outside /proc, /sys, /dev"],
    ),
    "results in /dev/null": (
        setting("run.results_root", "/dev/null"),
        ["run.results_root: got '/dev/null'", "outside /proc, /sys, /dev"],
    ),
    "results through .. into /proc": (
        setting("run.results_root", "/tmp/../proc/self"),
        ["run.results_root: got '/tmp/../proc/self'", "outside /proc"],
    ),
    "results with a NUL byte": (
        setting("run.results_root", "res\x00ults"),
        ["run.results_root: got 'res\\x00ults'", "without NUL"],
    ),
    "feeder a scalar": (
        setting("grid.feeder", 5),
        [
            "grid.feeder: got 5; expected a mapping: generator: radial_lv, split_phase_lv or "
            "cigre_lv_residential"
        ],
    ),
    "feeder a list": (setting("grid.feeder", ["radial_lv"]), ["grid.feeder: expected a mapping"]),
    "feeder null": (setting("grid.feeder", None), ["grid.feeder: got None; expected a mapping"]),
    "market a list": (setting("market", ["dlmp"]), ["market: Input should be a valid dictionary"]),
    "a mechanism that is a list": (
        setting("market.mechanism", ["dlmp"]),
        ["market.mechanism: got \"['dlmp']\"; expected one of 'double_auction'"],
    ),
    "a NUL character": (b"name: a\x00b\n", ["line 1: character '\\x00' is not allowed in YAML"]),
    "a list at the top": (b"- name: x\n", ["expected a mapping of sections at the top level"]),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_FILES))
@pytest.mark.parametrize("command", ["validate", "build", "run"])
def test_hostile_files_exit_2_with_a_short_message_naming_where(
    tmp_path, capsys, monkeypatch, hang_guard, case, command
):
    content, fragments = HOSTILE_FILES[case]
    path = tmp_path / "scenario.yaml"
    path.write_bytes(content)
    monkeypatch.chdir(tmp_path)
    arguments = [command, str(path)] + (["-o", "out.json"] if command == "build" else [])
    assert main(arguments) == 2
    message = " ".join(capsys.readouterr().err.split())
    assert len(message.encode()) < MAX_MESSAGE_BYTES
    for fragment in fragments:
        assert " ".join(fragment.split()) in message, (fragment, message[:3000])
    assert not (tmp_path / "results").exists()


def test_files_that_are_not_files_are_refused_by_path(tmp_path, capsys, hang_guard):
    loop = tmp_path / "loop.yaml"
    loop.symlink_to(loop)
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    extends_loop = tmp_path / "extends_loop.yaml"
    extends_loop.write_text("name: x\nextends: loop.yaml\n")
    expected = {
        loop: [str(loop), "cannot be read", "symbolic links"],
        fifo: [str(fifo), "not a regular file"],
        tmp_path: [str(tmp_path), "not a regular file"],
        extends_loop: [str(loop), "cannot be read"],
    }
    for path, fragments in expected.items():
        assert main(["validate", str(path)]) == 2
        message = " ".join(capsys.readouterr().err.split())
        for fragment in fragments:
            assert fragment in message, (fragment, message)


def test_results_root_must_be_a_folder_where_it_exists(tmp_path, capsys, monkeypatch):
    (tmp_path / "taken").write_text("a file")
    path = tmp_path / "scenario.yaml"
    path.write_bytes(setting("run.results_root", "taken/results"))
    monkeypatch.chdir(tmp_path)
    assert main(["validate", str(path)]) == 2
    message = " ".join(capsys.readouterr().err.split())
    assert "run.results_root: got 'taken/results'" in message
    assert f"{tmp_path / 'taken'} is not a folder" in message


def test_a_scenario_within_every_bound_still_validates(tmp_path, capsys, monkeypatch):
    """The bounds leave room: 10,000 households in 1,000 groups, a year, a 64-character name."""
    data = default_data()
    data["name"] = "n" * 64
    data["time"]["duration_s"] = 366 * 86400
    data["households"] = [{"group": f"g{k}", "count": 10} for k in range(1000)]
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    monkeypatch.chdir(tmp_path)
    assert main(["validate", str(path)]) == 0, capsys.readouterr().err
