"""Each role's declared interfaces, resolved for a federate, and the blocks built from them."""

from __future__ import annotations

import json
import re
from pathlib import Path

from federations import short_scenario_data, write_federation

from tefed.contract.federation_file import load_federation_file
from tefed.contract.role_interfaces import (
    ROLE_INTERFACES,
    Interface,
    InterfaceDeclaration,
    federate_interfaces,
)

FORECASTS = (
    Interface("price_feed/import_price_forecast_usd_per_kwh", "vector", "USD/kWh"),
    Interface("price_feed/export_price_forecast_usd_per_kwh", "vector", "USD/kWh"),
)


def test_a_household_program_publishes_its_own_keys():
    resolved = ROLE_INTERFACES["household"].resolve([], ["h07"], reactive_power_published=True)
    assert resolved.publications == (
        Interface("household/h07/power_kw", "double", "kW"),
        Interface("household/h07/reactive_power_kvar", "double", "kvar"),
    )
    assert resolved.subscriptions == FORECASTS
    assert resolved.endpoints == ("household/h07",)


def test_a_shard_publishes_one_vector_and_reactive_power_only_when_asked():
    resolved = ROLE_INTERFACES["ems"].resolve(["ems_2"], [], reactive_power_published=False)
    assert resolved.publications == (Interface("ems/ems_2/power_kw", "vector", "kW"),)
    assert resolved.endpoints == ("ems/ems_2",)


def test_the_grid_subscribes_to_every_shard_and_household_program():
    resolved = ROLE_INTERFACES["grid"].resolve(["ems_1", "ems_2"], ["h07"], True)
    assert resolved.subscriptions == (
        Interface("ems/ems_1/power_kw", "vector", "kW"),
        Interface("ems/ems_2/power_kw", "vector", "kW"),
        Interface("household/h07/power_kw", "double", "kW"),
        Interface("ems/ems_1/reactive_power_kvar", "vector", "kvar"),
        Interface("ems/ems_2/reactive_power_kvar", "vector", "kvar"),
        Interface("household/h07/reactive_power_kvar", "double", "kvar"),
    )
    assert Interface("grid/household/h07/voltage_pu", "double", "pu") in resolved.publications
    assert resolved.endpoints == ()


def test_the_price_feed_steps_every_market_interval_the_others_every_grid_step():
    periods = {role: roles.period_s(60, 900) for role, roles in ROLE_INTERFACES.items()}
    assert periods == {"price_feed": 900, "ems": 60, "household": 60, "grid": 60, "market": 60}


def test_helics_sections_are_standard_and_leave_out_empty_ones():
    sections = ROLE_INTERFACES["market"].resolve([], [], False).helics_sections()
    assert sections["endpoints"] == [{"name": "market", "global": True}]
    assert sections["publications"][0] == {
        "key": "market/traded_energy_wh",
        "type": "double",
        "unit": "Wh",
        "global": True,
    }
    assert sections["subscriptions"][0] == {
        "key": "grid/household_energy_wh",
        "type": "vector",
        "unit": "Wh",
        "required": True,
    }
    price_feed = ROLE_INTERFACES["price_feed"].resolve([], [], False).helics_sections()
    assert list(price_feed) == ["publications"]
    assert len(price_feed["publications"]) == 6


def test_a_fixed_key_is_one_key_whatever_the_hosts():
    declaration = InterfaceDeclaration("market", "", "")
    assert declaration.keys_for(["ems_1", "ems_2"], ["h01"]) == ["market"]


def test_every_built_block_is_what_the_federate_s_role_declares(tmp_path: Path):
    data = short_scenario_data(
        grid__reactive_power="published",
        ems={"shards": 2, "external": [{"household_id": "h03", "exec": "python agent.py"}]},
    )
    federation = load_federation_file(write_federation(tmp_path, data))
    written = json.loads((tmp_path / "federation.json").read_text())
    names = [entry["name"] for entry in written["federates"][2:]]
    assert names == ["price_feed", "ems_1", "ems_2", "household_h03", "grid", "market"]
    for entry in written["federates"][2:]:
        sections = federate_interfaces(federation, entry["name"]).helics_sections()
        block = {key: entry["helics"][key] for key in sections}
        assert block == sections, entry["name"]
        assert set(entry["helics"]) & {"publications", "subscriptions", "endpoints"} == set(
            sections
        )
    household = federate_interfaces(federation, "household_h03")
    assert household.endpoints == ("household/h03",)
    assert [item.key for item in household.publications] == [
        "household/h03/power_kw",
        "household/h03/reactive_power_kvar",
    ]


_DOC_WHEN = {
    "every Δm": "interval_start",
    "every Δg": "grid_step",
    "at the last step of every interval": "interval_end",
    "at each gate closure": "gate_closure",
    "at gate closures with trades": "with_trades",
}


def test_each_publication_is_due_when_docs_interfaces_says():
    """The column "when" of the value table in docs/interfaces.md and the cadences the roles
    declare (which the conformance checker enforces) say the same, key by key."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "interfaces.md").read_text()
    header = "| key | type | unit | published by | subscribed by | when |"
    table = text.split(header, 1)[1].split("\n\n", 1)[0]
    rows = [line.split("|")[1:-1] for line in table.splitlines() if line.startswith("| `")]
    checked = 0
    for cells in rows:
        when = _DOC_WHEN[cells[5].strip()]
        for key in re.findall(r"`([^`]+)`", cells[0]):
            key = key.replace("<shard>", "ems_1").replace("<id>", "h01")
            declared = [
                role.publication_due(key)
                for role in ROLE_INTERFACES.values()
                if role.publication_due(key) is not None
            ]
            assert declared and set(declared) == {when}, (key, declared, when)
            checked += 1
    assert checked == sum(len(role.publications) for role in ROLE_INTERFACES.values())
