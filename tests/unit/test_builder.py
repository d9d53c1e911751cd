"""Scenario → federation file: the committed file is current, complete and consistently wired."""

from __future__ import annotations

import json
import shlex
from collections import Counter

import pytest
from federations import DEFAULT_SCENARIO, REPO, short_scenario_data, write_federation

from tefed.build.builder import CORE_TYPE, build_federation
from tefed.contract.federation_file import FederationFile
from tefed.contract.run_folder import RunFolder
from tefed.run.runner import BROKER_LIMIT_GRACE_S, resolve_for_run
from tefed.scenario.model import load_scenario

COMMITTED = REPO / "federation" / "default.json"


def test_committed_default_federation_is_what_the_builder_writes():
    scenario, scenario_dir = load_scenario(DEFAULT_SCENARIO)
    built = build_federation(scenario, scenario_dir, COMMITTED, REPO).to_json_text()
    assert built == COMMITTED.read_text(), (
        "federation/default.json is stale: run `make federation` and commit it"
    )


@pytest.fixture(scope="module")
def committed() -> dict:
    return json.loads(COMMITTED.read_text())


def test_it_is_a_helics_runner_file(committed):
    assert committed["name"] == "default"
    assert committed["broker"] is False
    names = [entry["name"] for entry in committed["federates"]]
    assert names == ["watchdog", "broker", "price_feed", "ems", "grid", "market"]
    for entry in committed["federates"]:
        assert set(entry) >= {"name", "directory", "exec"}
        assert entry["directory"] == ".."
    watchdog = committed["federates"][0]["exec"]
    assert watchdog == "python -m tefed.run.helics_watchdog federation/default.json"
    broker = committed["federates"][1]["exec"]
    assert broker.startswith("python -m tefed.runtime.broker federation/default.json ")
    assert "--federates=4" in broker
    for entry in committed["federates"][2:]:
        assert entry["exec"] == (
            f"python -m tefed.federates.{entry['tefed']['role']} federation/default.json "
            f"--name {entry['name']}"
        )


def test_the_broker_ends_a_run_at_the_wall_clock_limit(committed, tmp_path):
    limit_s = committed["tefed"]["runtime"]["wall_clock_limit_s"]
    assert committed["federates"][1]["exec"].split()[-1] == f"--maxcosimduration={limit_s:g}s"
    # tefed run stops the run itself at the limit; its broker's limit is a later backstop.
    federation = FederationFile.model_validate(committed)
    resolved = resolve_for_run(federation, RunFolder(tmp_path / "run"), 23999, "key", COMMITTED)
    words = shlex.split(resolved.entry("broker").exec)
    assert [word for word in words if word.startswith("--maxcosimduration")] == [
        f"--maxcosimduration={limit_s + BROKER_LIMIT_GRACE_S:g}s"
    ]
    assert {"--port=23999", "--brokerkey=key", "--terminate_on_error"} <= set(words)


def test_every_block_is_a_standard_helics_config_on_the_time_grid(committed):
    time = committed["tefed"]["time"]
    for entry in committed["federates"][2:]:
        block, role = entry["helics"], entry["tefed"]["role"]
        assert block["name"] == entry["name"]
        assert block["core_type"] == CORE_TYPE
        assert block["uninterruptible"] is True
        assert block["terminate_on_error"] is True
        assert block["offset"] == time["phase_offsets_s"][role]
        period = time["market_interval_s"] if role == "price_feed" else time["grid_step_s"]
        assert block["period"] == period
        for interface in block.get("publications", []) + block.get("subscriptions", []):
            assert interface["type"] in {"double", "vector"}
            assert interface["unit"]


def test_every_subscription_has_exactly_one_publisher_of_the_same_type_and_unit(committed):
    published = {}
    for entry in committed["federates"][2:]:
        for pub in entry["helics"].get("publications", []):
            assert pub["key"] not in published, f"{pub['key']} published twice"
            published[pub["key"]] = (pub["type"], pub["unit"])
    for entry in committed["federates"][2:]:
        for sub in entry["helics"].get("subscriptions", []):
            assert sub["required"] is True
            assert published[sub["key"]] == (sub["type"], sub["unit"]), sub["key"]


def test_every_household_is_hosted_once_and_attached_to_the_feeder(committed):
    households = committed["tefed"]["households"]
    ids = households["household_id"]
    assert len(ids) == 12
    hosted = [
        household
        for entry in committed["federates"][2:]
        if entry["tefed"]["role"] == "ems"
        for household in entry["tefed"]["config"]["households"]
    ]
    assert Counter(hosted) == Counter(ids)
    assert all(bus.startswith("house_") for bus in households["bus"])
    phases = Counter(households["phase"])
    assert max(phases.values()) - min(phases.values()) <= 1


def test_shards_split_households_into_separate_ems_federates(tmp_path):
    path = write_federation(tmp_path, short_scenario_data(ems__shards=3))
    data = json.loads(path.read_text())
    names = [entry["name"] for entry in data["federates"]]
    assert names == [
        "watchdog",
        "broker",
        "price_feed",
        "ems_1",
        "ems_2",
        "ems_3",
        "grid",
        "market",
    ]
    assert "--federates=6" in data["federates"][1]["exec"]
    shards = [entry["tefed"]["config"]["households"] for entry in data["federates"][3:6]]
    hosted = [household for shard in shards for household in shard]
    assert sorted(hosted) == sorted(data["tefed"]["households"]["household_id"])
    assert all(len(shard) == 4 for shard in shards)
    # Each shard exchanges its households' values and messages through one vector and one
    # endpoint, whatever its size.
    for entry in data["federates"][3:6]:
        name = entry["name"]
        assert entry["tefed"]["config"]["interface"] == "shard"
        assert [ep["name"] for ep in entry["helics"]["endpoints"]] == [f"ems/{name}"]
        assert entry["helics"]["publications"] == [
            {"key": f"ems/{name}/power_kw", "type": "vector", "unit": "kW", "global": True}
        ]
    grid_inputs = [sub["key"] for sub in data["federates"][6]["helics"]["subscriptions"]]
    assert grid_inputs == ["ems/ems_1/power_kw", "ems/ems_2/power_kw", "ems/ems_3/power_kw"]


def test_household_draws_depend_on_the_seed_only(tmp_path):
    first = json.loads(write_federation(tmp_path / "a", short_scenario_data()).read_text())
    again = json.loads(write_federation(tmp_path / "b", short_scenario_data()).read_text())
    other = json.loads(write_federation(tmp_path / "c", short_scenario_data(seed=8)).read_text())
    table = first["tefed"]["households"]
    assert table == again["tefed"]["households"]
    assert table["load_daily_energy_kwh"] != other["tefed"]["households"]["load_daily_energy_kwh"]
    low, high = 7, 14
    consumers = table["load_daily_energy_kwh"][:4]
    assert all(low <= value <= high for value in consumers)
    assert len(set(consumers)) == 4


def test_the_wall_clock_gap_between_flushes_reaches_every_federate(tmp_path):
    data = short_scenario_data(run__flush_min_wall_s=0)
    federation = FederationFile.model_validate_json(write_federation(tmp_path, data).read_text())
    assert federation.tefed.runtime.flush_min_wall_s == 0
    # A federation file written before the setting existed keeps the default gap.
    committed = json.loads(COMMITTED.read_text())
    del committed["tefed"]["runtime"]["flush_min_wall_s"]
    assert FederationFile.model_validate(committed).tefed.runtime.flush_min_wall_s == 10.0
