"""A federation over several hosts: ``tefed run --only``'s options, each host's copy of the
federation file, the failure one host tells the others, and merging the hosts' run folders."""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

import pytest
from federations import short_scenario_data, write_federation

from tefed.cli import main
from tefed.contract.errors import InputError
from tefed.contract.federation_file import FederationFile
from tefed.contract.host_failure import HostFailure
from tefed.contract.run_folder import RunFolder
from tefed.run.multi_host import (
    HostOptions,
    entries_to_start,
    federates_elsewhere,
    finish_host_part,
    for_host,
    merge_host_folder,
    plan_host_part,
)

SHARDED = {"time__duration_s": 3600, "ems__shards": 2}


@pytest.fixture(scope="module")
def federation_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A built federation of two ems shards (never run here)."""
    return write_federation(tmp_path_factory.mktemp("multi_host"), short_scenario_data(**SHARDED))


@pytest.fixture
def federation(federation_path: Path) -> FederationFile:
    return FederationFile.model_validate_json(federation_path.read_text())


def file_port(federation: FederationFile) -> int:
    return int(federation.entry("grid").helics["brokerport"])


BAD_OPTIONS = {
    "unknown federate": (
        ["--only", "ems_1,ems_9"],
        ["--only: 'ems_9' is not a federate", "price_feed, ems_1, ems_2, grid, market"],
    ),
    "empty name": (["--only", "ems_1,,grid"], ["'ems_1,,grid': an empty name"]),
    "a name twice": (["--only", "grid,grid"], ["--only names grid more than once"]),
    "broker address without --only": (
        ["--broker-address", "127.0.0.1"],
        ["--broker-address is for a federation spread over hosts", "add --only NAMES"],
    ),
    "broker port without --only": (
        ["--broker-port", "24000"],
        ["--broker-port is for a federation spread over hosts"],
    ),
    "local port on the main host": (
        ["--only", "grid", "--local-port", "24100"],
        ["--local-port 24100: only for a joining host (with --broker-address)"],
    ),
    "malformed broker address": (
        ["--only", "ems_2", "--broker-address", "tcp://10.0.0.5:x"],
        ["--broker-address 'tcp://10.0.0.5:x': expected HOST or HOST:PORT"],
    ),
    "two different ports": (
        ["--only", "ems_2", "--broker-address", "10.0.0.5:24000", "--broker-port", "24002"],
        ["names port 24000 but --broker-port is 24002"],
    ),
    "port out of range": (
        ["--only", "ems_2", "--broker-address", "10.0.0.5:80"],
        ["--broker-port 80: expected a port from 1024 to 65535"],
    ),
    "local ports past the last port": (
        ["--only", "ems_1,ems_2", "--broker-address", "h", "--local-port", "65535"],
        ["--local-port 65535: 2 federates need ports up to 65536"],
    ),
    "lockstep": (
        ["--only", "grid", "--lockstep"],
        ["--lockstep: ", "--only, --broker-address, --broker-port and --local-port are for"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_OPTIONS))
def test_bad_host_options_exit_2_before_anything_runs(
    federation_path: Path, capsys: pytest.CaptureFixture, case: str
):
    options, fragments = BAD_OPTIONS[case]
    results = federation_path.parent / "results"
    shutil.rmtree(results, ignore_errors=True)
    assert main(["run", str(federation_path), "--no-progress", *options]) == 2
    message = " ".join(capsys.readouterr().err.split())
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    assert not results.exists()


def test_every_bad_host_option_is_reported_at_once(federation: FederationFile):
    options = HostOptions(only="ems_9,,grid,grid", broker_address="a:b", local_port=99)
    with pytest.raises(InputError) as caught:
        plan_host_part(federation, "federation.json", options)
    assert len(caught.value.problems) == 5


def test_the_main_host_starts_the_broker_on_the_file_port_listening_everywhere(
    federation: FederationFile,
):
    part = plan_host_part(federation, "f.json", HostOptions(only="grid,market,price_feed,ems_1"))
    assert part.starts_broker and part.broker_port == file_port(federation)
    assert part.bound_ports() == [
        (part.broker_port, "--broker-port"),
        (part.broker_port + 1, "--broker-port"),
    ]
    started = [entry.name for entry in entries_to_start(for_host(federation, part), part)]
    assert started == ["broker", "price_feed", "ems_1", "grid", "market"]
    broker = for_host(federation, part).broker_entry()
    assert "--external" in shlex.split(broker.exec)


def test_a_joining_host_names_the_broker_and_its_own_ports_in_order(federation: FederationFile):
    options = HostOptions(only="ems_2,ems_1", broker_address="10.0.0.5:24000", local_port=24100)
    part = plan_host_part(federation, "f.json", options)
    assert not part.starts_broker and (part.broker_host, part.broker_port) == ("10.0.0.5", 24000)
    joined = for_host(federation, part)
    assert [entry.name for entry in entries_to_start(joined, part)] == ["ems_1", "ems_2"]
    assert joined.entry("ems_2").helics["localport"] == "24100"
    assert joined.entry("ems_1").helics["localport"] == "24101"
    assert "localport" not in joined.entry("grid").helics
    for entry in joined.federate_entries():
        assert entry.helics["broker_address"] == "10.0.0.5"
        assert entry.helics["brokerport"] == "24000"
    # Every federate stays in the file: the stall watchdogs ask every peer, wherever it runs.
    assert [entry.name for entry in joined.federates] == [e.name for e in federation.federates]


def test_a_joining_host_without_a_port_joins_the_file_port(federation: FederationFile):
    part = plan_host_part(federation, "f", HostOptions(only="ems_2", broker_address="127.0.0.1"))
    assert part.broker_port == file_port(federation) and part.bound_ports() == []


def test_no_only_is_a_whole_run(federation: FederationFile):
    assert plan_host_part(federation, "f", HostOptions()) is None
    assert entries_to_start(federation, None) == list(federation.federates)


def test_a_host_failure_travels_in_a_helics_error_text():
    failure = HostFailure(federate="ems_2", host="node7", message="federate 'ems_2' exited")
    assert HostFailure.from_error_text(f"[-101] {failure.to_error_text()}") == failure
    assert failure.described() == "federate 'ems_2' exited (on host node7)"
    assert HostFailure.from_error_text("[-101] core lost connection with broker") is None
    assert HostFailure.from_error_text("[-101] tefed-host-failure {not json") is None


def host_folder(
    federation_path: Path, root: Path, done: list[str], tables: dict[str, bytes]
) -> RunFolder:
    """A run folder of one host: the federation file, done markers and table files."""
    folder = RunFolder(root)
    folder.write_text("federation.json", federation_path.read_text())
    folder.mark_running()
    for name in done:
        folder.mark_done(name)
    for name, content in tables.items():
        folder.file(name).parent.mkdir(parents=True, exist_ok=True)
        folder.file(name).write_bytes(content)
    return folder


def test_a_part_ends_partial_and_merging_the_other_brings_every_table(
    federation_path: Path, federation: FederationFile, tmp_path: Path
):
    main_done = ["price_feed", "ems_1", "grid", "market"]
    main_run = host_folder(federation_path, tmp_path / "main", main_done, {"grid.parquet": b"g"})
    other_run = host_folder(
        federation_path,
        tmp_path / "other",
        ["ems_2"],
        {"households/ems_2.parquet": b"h2", "logs/ems_2.log": b"log", "timing/ems_2.json": b"{}"},
    )
    assert "ems_2 ran on other hosts" in finish_host_part(main_run, federation)
    assert main_run.status()["state"] == "partial" and main_run.status()["elsewhere"] == ["ems_2"]
    other_run.mark_partial(federates_elsewhere(federation, other_run))
    assert merge_host_folder(main_run, other_run.path) == ["ems_2"]
    assert federates_elsewhere(federation, main_run) == []
    assert main_run.file("households/ems_2.parquet").read_bytes() == b"h2"
    assert main_run.file("logs/ems_2.log").exists() and main_run.file("timing/ems_2.json").exists()
    assert main_run.status()["state"] == "partial"  # the report makes it complete
    assert json.loads(main_run.file("federation.json").read_text())["federates"]
    # The same folder again brings nothing new and clashes with nothing.
    assert merge_host_folder(main_run, other_run.path) == ["ems_2"]


def test_merging_carries_the_other_host_failure(federation_path: Path, tmp_path: Path):
    main_run = host_folder(federation_path, tmp_path / "main", [], {})
    other_run = host_folder(federation_path, tmp_path / "other", [], {})
    other_run.mark_failed("ems_2", "federate 'ems_2' exited with code -9")
    merge_host_folder(main_run, other_run.path)
    assert main_run.status()["failed_federate"] == "ems_2"


BAD_MERGES = {
    "no run folder": "no federation.json here",
    "still running": "its run is still going",
    "another federation": "a run of another federation: tefed.seed differs",
    "another table": "households/ems_2.parquet: the run folder being reported has another",
    "itself": "is the run folder being reported",
}


@pytest.mark.parametrize("case", sorted(BAD_MERGES))
def test_a_folder_that_is_no_part_of_the_run_is_refused_and_nothing_copied(
    federation_path: Path, tmp_path: Path, case: str
):
    main_run = host_folder(
        federation_path, tmp_path / "main", [], {"households/ems_2.parquet": b"mine"}
    )
    other_run = host_folder(
        federation_path, tmp_path / "other", ["ems_2"], {"households/ems_2.parquet": b"theirs"}
    )
    other_run.mark_partial(["grid"])
    if case == "no run folder":
        other_run.file("federation.json").unlink()
    elif case == "still running":
        other_run.file("status.json").unlink()
        other_run.mark_running()
    elif case == "another federation":
        data = json.loads(federation_path.read_text())
        data["tefed"]["seed"] += 1
        other_run.write_text("federation.json", json.dumps(data))
    elif case == "another table":
        pass
    else:
        other_run = main_run
    if case != "another table":
        other_run.file("households/ems_2.parquet").unlink()
    with pytest.raises(InputError) as caught:
        merge_host_folder(main_run, other_run.path)
    assert BAD_MERGES[case] in str(caught.value)
    assert main_run.done_federates() == set()


def test_reporting_a_part_without_the_others_exits_2_naming_them(
    federation_path: Path, federation: FederationFile, tmp_path: Path, capsys
):
    main_run = host_folder(federation_path, tmp_path / "main", ["price_feed", "grid", "market"], {})
    finish_host_part(main_run, federation)
    assert main(["report", str(main_run.path)]) == 2
    message = " ".join(capsys.readouterr().err.split())
    assert "the results of ems_1, ems_2 are on other hosts" in message
    assert "--merge FOLDER" in message
