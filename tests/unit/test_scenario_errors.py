"""Bad scenario files: ``tefed validate`` names the path in the file, the value and what was
expected for every problem, in one pass, and exits with 2."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from federations import SHARED, short_scenario_data
from tiny_feeders import tiny_feeder

from tefed.cli import main

IEEE13 = SHARED / "feeders" / "13Bus" / "IEEE13Nodeckt.dss"
needs_ieee13 = pytest.mark.skipif(not IEEE13.is_file(), reason=f"{IEEE13} not found")
#: Cases of BAD_SCENARIOS that place households on the IEEE 13-node feeder from ../shared.
ON_IEEE13 = ("household on a bus the feeder lacks",)
#: Twelve nodes of the IEEE 13-node feeder, one per household of the short scenario.
IEEE13_NODES = [
    "634.A", "634.B", "634.C", "675.A", "675.B", "675.C",
    "671.A", "671.B", "671.C", "692.C", "611.C", "652.A",
]  # fmt: skip


def write_yaml(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def edited(change: Callable[[dict], object]) -> Callable[[Path], Path]:
    """A scenario file: the short default scenario with ``change`` applied to its mapping."""

    def write(folder: Path) -> Path:
        data = short_scenario_data()
        change(data)
        return write_yaml(folder / "scenario.yaml", data)

    return write


def extending(base: dict | None, **keys: object) -> Callable[[Path], Path]:
    """A scenario file extending ``base.yaml`` (written when ``base`` is given) with ``keys``."""

    def write(folder: Path) -> Path:
        if base is not None:
            write_yaml(folder / "base.yaml", base)
        return write_yaml(folder / "scenario.yaml", {"extends": "base.yaml", **keys})

    return write


def in_a_cycle(folder: Path) -> Path:
    write_yaml(folder / "middle.yaml", {"extends": "scenario.yaml", "name": "middle"})
    return write_yaml(folder / "scenario.yaml", {"extends": "middle.yaml", "name": "loop"})


def group(position: int, **keys: object) -> Callable[[dict], None]:
    return lambda data: data["households"][position].update(keys)


def mixed(position: int, shares: dict[str, float]) -> Callable[[dict], None]:
    """Group ``position`` with a strategy mix instead of its strategy."""

    def change(data: dict) -> None:
        del data["households"][position]["strategy"]
        data["households"][position]["strategy_mix"] = shares

    return change


def battery(**keys: object) -> Callable[[dict], None]:
    return lambda data: data["households"][2]["battery"].update(keys)


def section(name: str, **keys: object) -> Callable[[dict], None]:
    return lambda data: data.setdefault(name, {}).update(keys)


def ev(**keys: object) -> Callable[[dict], None]:
    """Electric vehicles for group 1 (four households with PV), with ``keys`` as its options."""
    return group(1, ev=keys)


def on_ieee13(nodes: list[str]) -> Callable[[dict], None]:
    feeder = {"dss": str(IEEE13), "placement": "explicit", "household_nodes": nodes}
    return lambda data: data["grid"].update(feeder=feeder)


BAD_SCENARIOS: dict[str, tuple[Callable[[Path], Path], list[str]]] = {
    "unknown key": (
        edited(lambda data: data["grid"]["feeder"].update(transfomer_kva=100)),
        ["grid.feeder.transfomer_kva: unknown key", "100"],
    ),
    "wrong type": (
        edited(section("time", duration_s="one day")),
        ["time.duration_s: got 'one day'", "valid integer"],
    ),
    "negative capacity": (
        edited(battery(capacity_kwh=-10)),
        ["households[2].battery.capacity_kwh: got -10", "at least 0"],
    ),
    "true for a count": (
        edited(group(1, count=True)),
        ["households[1]: count: got true; expected a number, not true or false"],
    ),
    "false for a capacity": (
        edited(battery(capacity_kwh=False)),
        ["households[2].battery: capacity_kwh: got false; expected a number"],
    ),
    "capacity not a number": (
        edited(battery(capacity_kwh=float("nan"))),
        ["households[2].battery.capacity_kwh: got nan; Input should be a finite number"],
    ),
    "infinite bound of a range": (
        edited(group(1, load_daily_energy_kwh=[5.0, float("inf")])),
        ["households[1].load_daily_energy_kwh[1]: got inf; Input should be a finite number"],
    ),
    "site altitude not a number": (
        edited(section("site", altitude_m=float("nan"))),
        ["site.altitude_m: got nan; Input should be a finite number"],
    ),
    "efficiency out of range": (
        edited(battery(round_trip_efficiency=1.5)),
        ["households[2].battery.round_trip_efficiency: got 1.5", "less than or equal to 1"],
    ),
    "state of charge outside its band": (
        edited(battery(soc_initial=0.05)),
        ["households[2].battery", "soc_min <= soc_initial <= soc_max", "0.1, 0.05, 0.95"],
    ),
    "unknown strategy name": (
        edited(group(0, strategy="moon_trader")),
        ["households[0].strategy: got 'moon_trader'", "unknown strategy", "self_consumption"],
    ),
    "bad strategy option": (
        edited(group(1, strategy={"name": "ma_crossover", "stage": "moon"})),
        ["households[1].strategy.stage: got 'moon'", "'pv_only'"],
    ),
    "strategy and strategy_mix both given": (
        edited(group(0, strategy_mix={"self_consumption": 0.5, "ma_crossover": 0.5})),
        ["households[0]: strategy and strategy_mix are both given; expected one of them"],
    ),
    "shares not summing to one": (
        edited(mixed(1, {"self_consumption": 0.5, "ma_crossover": 0.3})),
        ["households[1].strategy_mix: shares sum to 0.8; expected 1"],
    ),
    "unknown strategy in a mix": (
        edited(mixed(1, {"moon_trader": 1.0})),
        ["households[1].strategy_mix: unknown strategy 'moon_trader'", "net_billing"],
    ),
    "household ids of the wrong length": (
        edited(group(3, household_ids=["school", "library"])),
        ["households[3]: household_ids lists 2 ids; expected count (1)"],
    ),
    "household id taken twice": (
        edited(group(3, household_ids=["h02"])),
        ["households: ids ['h02'] repeat", "h01, h02, … by position"],
    ),
    "missing extends base": (
        extending(None, name="child"),
        ["scenario.yaml", "extends: got 'base.yaml'; no such file", "base.yaml)"],
    ),
    "extends cycle": (
        in_a_cycle,
        ["middle.yaml", "extends: got 'scenario.yaml', which closes a cycle", "scenario.yaml →"],
    ),
    "extending file without a name": (
        extending(short_scenario_data(), seed=3),
        ["name: required but missing", "must set its own name (the base's is 'default')"],
    ),
    "override of a group the base lacks": (
        extending(short_scenario_data(), name="child", households={"pv_batery": {"count": 3}}),
        ["households.pv_batery: the base has no group 'pv_batery'", "'pv_battery'"],
    ),
    "bad time zone": (
        edited(section("time", timezone="Mars/Olympus")),
        ["time.timezone: 'Mars/Olympus' is not a known IANA time zone"],
    ),
    "market interval not a multiple of the grid step": (
        edited(section("time", market_interval_s=1000)),
        ["time.market_interval_s is 1000; expected a positive multiple of time.grid_step_s (60)"],
    ),
    "unknown market mechanism": (
        edited(section("market", mechanism="lottery")),
        ["market.mechanism: got 'lottery'; expected one of 'double_auction'"],
    ),
    "missing price file": (
        edited(section("prices", wholesale={"source": "csv", "path": "no.csv", "timezone": "UTC"})),
        ["prices.wholesale.path: got 'no.csv'; no such file"],
    ),
    "household on a bus the feeder lacks": (
        edited(on_ieee13([*IEEE13_NODES[:-1], "999.A"])),
        ["grid.feeder:", "household 11: bus '999' is not in the feeder"],
    ),
    "EV needing more than its battery holds": (
        edited(ev(capacity_kwh=10, energy_needed_kwh=50)),
        ["households[1].ev.energy_needed_kwh: got 50", "at most capacity_kwh (10)"],
    ),
    "EV needs that some drawn battery cannot hold": (
        edited(ev(capacity_kwh=[10, 60], energy_needed_kwh=[6, 14])),
        ["households[1].ev.energy_needed_kwh: got [6, 14]", "capacity_kwh ([10, 60])"],
    ),
    "EV leaving when it arrives": (
        edited(ev(arrival_hour=17, departure_hour=17)),
        ["households[1].ev.departure_hour: got 17", "arrival_hour (17)"],
    ),
    "EV leaving at midnight as it arrives at 24": (
        edited(ev(arrival_hour=24, departure_hour=0)),
        ["households[1].ev.departure_hour: got 0", "arrival_hour (24)"],
    ),
    "EV departure ranges that can meet the arrival": (
        edited(ev(arrival_hour=[17, 19.5], departure_hour=[19, 20])),
        ["households[1].ev.departure_hour: got [19, 20]", "arrival_hour ([17, 19.5])"],
    ),
    "EV window shorter than a grid step": (
        edited(ev(arrival_hour=17, departure_hour=17.01)),
        ["households[1].ev.departure_hour: got 17.01", "36 s", "time.grid_step_s (60 s)"],
    ),
    "EV away for less than a grid step": (
        edited(ev(arrival_hour=7.01, departure_hour=7)),
        ["households[1].ev.departure_hour: got 7", "36 s", "time.grid_step_s (60 s)"],
    ),
    "community battery on a bus the generated feeder lacks": (
        edited(section("community_battery", bus="NoSuchBus")),
        ["community_battery.bus: 'NoSuchBus' is not in the feeder", "phases A, B and C"],
    ),
}


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(case, marks=needs_ieee13) if case in ON_IEEE13 else case
        for case in BAD_SCENARIOS
    ],
)
def test_validate_names_path_value_and_expectation(tmp_path, capsys, monkeypatch, case):
    write, fragments = BAD_SCENARIOS[case]
    path = write(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["validate", str(path)]) == 2
    message = capsys.readouterr().err
    assert "Traceback" not in message
    flat = " ".join(message.split())
    for fragment in fragments:
        assert " ".join(fragment.split()) in flat, (fragment, message)


def test_problems_of_every_file_field_are_reported_together(tmp_path, capsys, monkeypatch):
    data = short_scenario_data()
    data["grid"]["feeder"]["transfomer_kva"] = 100
    data["households"][2]["battery"]["capacity_kwh"] = -10
    data["households"][0]["strategy"] = "moon_trader"
    data["time"]["timezone"] = "Mars/Olympus"
    data["prices"]["wholesale"] = {"source": "csv", "path": "no.csv", "timezone": "UTC"}
    data["households"][1]["load"] = {"profile": "csv", "path": "loads.csv"}
    monkeypatch.chdir(tmp_path)
    assert main(["validate", str(write_yaml(tmp_path / "scenario.yaml", data))]) == 2
    message = capsys.readouterr().err
    assert "6 problem(s)" in message
    for field in (
        "grid.feeder.transfomer_kva",
        "households[2].battery.capacity_kwh",
        "households[0].strategy",
        "time.timezone",
        "prices.wholesale.path",  # a data file, checked although the fields have problems
        "households[1].load.path",
    ):
        assert f"- {field}:" in message, (field, message)


@needs_ieee13
def test_data_file_and_feeder_placement_problems_are_reported_together(
    tmp_path, capsys, monkeypatch
):
    data = short_scenario_data()
    on_ieee13([*IEEE13_NODES[:-1], "999.A"])(data)
    data["prices"]["wholesale"] = {"source": "csv", "path": "no.csv", "timezone": "UTC"}
    monkeypatch.chdir(tmp_path)
    assert main(["validate", str(write_yaml(tmp_path / "scenario.yaml", data))]) == 2
    message = capsys.readouterr().err
    assert "2 problem(s)" in message
    assert "prices.wholesale.path: got 'no.csv'" in message
    assert "bus '999' is not in the feeder" in message


@needs_ieee13
def test_a_scenario_on_an_opendss_feeder_with_good_nodes_is_valid(tmp_path, capsys, monkeypatch):
    data = short_scenario_data()
    on_ieee13(IEEE13_NODES)(data)
    monkeypatch.chdir(tmp_path)
    assert main(["validate", str(write_yaml(tmp_path / "scenario.yaml", data))]) == 0
    assert "valid (12 households" in capsys.readouterr().out


def test_an_extending_scenario_is_named_with_its_base_in_messages(tmp_path, capsys, monkeypatch):
    write = extending(short_scenario_data(), name="child", time={"duration_s": "long"})
    monkeypatch.chdir(tmp_path)
    assert main(["validate", str(write(tmp_path))]) == 2
    message = " ".join(capsys.readouterr().err.split())
    assert "scenario.yaml (extends base.yaml): 1 problem(s)" in message
    assert "time.duration_s: got 'long'" in message


@pytest.mark.parametrize(
    ("options", "grid_step_s"),
    [
        ({}, 60),  # the defaults: 60 kWh, arriving 17:00 to 19:30, leaving 6:30 to 8:00, 6-14 kWh
        ({"capacity_kwh": 14, "energy_needed_kwh": [6, 14]}, 60),
        ({"capacity_kwh": [14, 60], "energy_needed_kwh": 14}, 60),
        ({"capacity_kwh": 0, "energy_needed_kwh": 50}, 60),  # no EV: its need is ignored
        ({"arrival_hour": 24, "departure_hour": 0.02}, 60),  # midnight to 00:01:12
        ({"arrival_hour": [9, 11], "departure_hour": [11.02, 18]}, 60),
        ({"arrival_hour": 17, "departure_hour": 16.99}, 36),  # away for one step of 36 s
    ],
)
def test_ev_settings_the_ems_accepts_are_valid(tmp_path, capsys, monkeypatch, options, grid_step_s):
    data = short_scenario_data()
    ev(**options)(data)
    data["time"]["grid_step_s"] = grid_step_s
    data["time"]["gate_closure_s"] = grid_step_s
    monkeypatch.chdir(tmp_path)
    path = write_yaml(tmp_path / "scenario.yaml", data)
    assert main(["validate", str(path)]) == 0, capsys.readouterr().err


def test_every_ev_problem_of_every_group_is_reported_together(tmp_path, capsys, monkeypatch):
    data = short_scenario_data()
    ev(capacity_kwh=10, energy_needed_kwh=50, arrival_hour=17, departure_hour=17)(data)
    group(2, ev={"capacity_kwh": 5, "energy_needed_kwh": 6})(data)
    monkeypatch.chdir(tmp_path)
    assert main(["validate", str(write_yaml(tmp_path / "scenario.yaml", data))]) == 2
    message = capsys.readouterr().err
    assert "3 problem(s)" in message, message
    for field in (
        "households[1].ev.energy_needed_kwh",
        "households[1].ev.departure_hour",
        "households[2].ev.energy_needed_kwh",
    ):
        assert f"- {field}:" in message, (field, message)


def on_tiny_feeder(folder: Path, community_bus: str) -> Path:
    """The short scenario on a small OpenDSS feeder written to ``folder``, with a community
    battery at ``community_bus``."""
    data = short_scenario_data()
    data["grid"]["feeder"] = {"dss": tiny_feeder(folder / "tiny.dss").name}
    data["community_battery"] = {"bus": community_bus}
    return write_yaml(folder / "scenario.yaml", data)


def test_a_community_battery_on_a_bus_an_opendss_feeder_lacks_is_refused(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    assert main(["validate", str(on_tiny_feeder(tmp_path, "NoSuchBus"))]) == 2
    message = " ".join(capsys.readouterr().err.split())
    assert "1 problem(s)" in message, message
    assert "- community_battery.bus: 'NoSuchBus' is not in the feeder" in message, message


def test_a_community_battery_on_a_bus_of_an_opendss_feeder_is_valid(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # OpenDSS bus names ignore case, as the grid federate reads them.
    assert main(["validate", str(on_tiny_feeder(tmp_path, "LV"))]) == 0, capsys.readouterr().err
