"""The broker takes no part in the federates' time coordination, so a run ends without HELICS
dropping a time grant to a federate that has left ("unknown route and no broker, dropping
message time_grant", which ended the broker's log of about every other run)."""

from __future__ import annotations

import json

import pytest
from federations import short_scenario_data, tefed_run, write_federation

from tefed.contract import keys
from tefed.contract.run_folder import RunFolder

pytestmark = pytest.mark.federation


def test_endpoints_name_their_peers_and_the_broker_grants_no_time(tmp_path):
    path = write_federation(tmp_path, short_scenario_data())
    federation = json.loads(path.read_text())
    endpoints = {
        endpoint["name"]: endpoint
        for entry in federation["federates"]
        for endpoint in (entry.get("helics") or {}).get("endpoints", [])
    }
    assert endpoints[keys.MARKET_ENDPOINT]["destination_targets"] == [keys.shard_endpoint("ems")]
    assert endpoints[keys.shard_endpoint("ems")]["destination_targets"] == [keys.MARKET_ENDPOINT]
    assert all(endpoint["targeted"] for endpoint in endpoints.values())
    # The broker logs every command it routes at trace level.
    for entry in federation["federates"]:
        if entry["name"] == "broker":
            entry["exec"] = entry["exec"].replace("--loglevel=warning", "--loglevel=trace")
    path.write_text(json.dumps(federation))
    completed = tefed_run(path)
    assert completed.returncode == 0, completed.stderr
    folder = RunFolder(tmp_path / "results" / "default" / "latest")
    broker_log = folder.file("logs/broker.log").read_text()
    assert "cmd:time_grant" in broker_log  # the federates' grants pass through it
    # Grants from the broker itself (id 1) exist only when it coordinates a federate's time.
    assert "time_grant:From (1)" not in broker_log
    for log in folder.path.glob("logs/*.log"):
        assert "dropping message" not in log.read_text(), log.name
