"""The DLMP market's network file: extracted once at build time, read back bit for bit."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
import yaml
from federations import REPO, free_port, write_federation

from tefed.build.builder import build_federation
from tefed.contract.errors import InputError
from tefed.contract.federation_file import FederationFile
from tefed.contract.role_configs import OpenDssFeederConfig, read_role_config
from tefed.contract.run_folder import RunFolder
from tefed.io.market_network import MarketNetwork, read_market_network, write_market_network
from tefed.io.opendss.network_extraction import extract_market_network
from tefed.run.runner import resolve_for_run
from tefed.scenario.model import load_scenario

IEEE13 = REPO.parent / "shared/feeders/13Bus/IEEE13Nodeckt.dss"


def dlmp_scenario_data() -> dict:
    data = yaml.safe_load((REPO / "scenarios" / "market_dlmp.yaml").read_text())
    data["time"]["duration_s"] = 3600
    data["run"]["broker_port"] = free_port()
    return data


def two_line_feeder(folder: Path) -> dict:
    """A 0.4 kV source, a rated 0.5 km line and an unrated 0.2 km line (``normamps=0``)."""
    (folder / "master.dss").write_text(
        "\n".join(
            [
                "New Circuit.demo bus1=S basekv=0.4 pu=1.02",
                "New Line.a bus1=S bus2=B phases=3 r1=0.1 x1=0.05 r0=0.4 x0=0.2 units=km "
                "length=0.5 normamps=100",
                "New Line.c bus1=B bus2=C phases=3 r1=0.3 x1=0.1 r0=0.9 x0=0.3 units=km "
                "length=0.2 normamps=0",
                "Set VoltageBases=[0.4]",
                "CalcVoltageBases",
            ]
        )
    )
    return locked_feeder("master.dss")


def locked_feeder(master: str) -> OpenDssFeederConfig:
    """An OpenDSS feeder section with locked regulators and the feeder's own loads kept."""
    return OpenDssFeederConfig(
        source="opendss",
        master=master,
        commands=[],
        regulators="locked",
        existing_loads="keep",
        existing_load_scale=1.0,
    )


def test_a_small_feeder_is_written_with_hand_computed_values(tmp_path):
    network = extract_market_network(two_line_feeder(tmp_path), tmp_path)
    path = tmp_path / "network.json"
    write_market_network(path, network)
    data = json.loads(path.read_text())
    assert (data["source_bus"], data["source_voltage_pu"]) == ("s", 1.02)
    branches = data["branches"]
    assert branches["branch"] == ["Line.a", "Line.c"]
    assert (branches["from_bus"], branches["to_bus"]) == (["s", "b"], ["b", "c"])
    # 0.1 ohm/km x 0.5 km and 0.3 ohm/km x 0.2 km; 0.05 ohm/km x 0.5 km and 0.1 x 0.2.
    assert branches["resistance_ohm"] == pytest.approx([0.05, 0.06], rel=1e-12)
    assert branches["reactance_ohm"] == pytest.approx([0.025, 0.02], rel=1e-12)
    # 100 A x 3 x 0.4 / sqrt(3) kV = 69.28 kVA; no NormAmps: unrated, written as null.
    assert branches["rating_kva"][0] == pytest.approx(300 * 0.4 / math.sqrt(3), rel=1e-9)
    assert branches["rating_kva"][1] is None
    back = read_market_network(path)
    assert back.branches["rating_kva"].iloc[1] == math.inf
    assert back.branches["base_kv_ln"].tolist() == pytest.approx([0.4 / math.sqrt(3)] * 2)


@pytest.mark.skipif(not IEEE13.is_file(), reason=f"IEEE 13-node feeder not found at {IEEE13}")
def test_the_ieee13_network_reads_back_equal_to_the_extracted_one(tmp_path):
    network = extract_market_network(locked_feeder(str(IEEE13)), tmp_path)
    path = tmp_path / "ieee13.network.json"
    write_market_network(path, network)
    back = read_market_network(path)
    pd.testing.assert_frame_equal(back.branches, network.branches, check_exact=True)
    assert (back.source_bus, back.source_voltage_pu) == ("sourcebus", 1.0001)


def test_missing_values_and_wrong_columns_are_refused(tmp_path):
    table = pd.DataFrame({"branch": ["Line.a"], "from_bus": ["s"]})
    with pytest.raises(ValueError, match="expected \\['branch', 'from_bus', 'to_bus'"):
        write_market_network(tmp_path / "n.json", MarketNetwork(table, "s", 1.0))
    (tmp_path / "bad.json").write_text('{"source_bus": "s", "branches": {"branch": []}}')
    with pytest.raises(ValueError, match=r"missing source_voltage_pu, branches\.from_bus"):
        read_market_network(tmp_path / "bad.json")


def test_the_builder_writes_the_network_beside_the_federation_file(tmp_path):
    path = write_federation(tmp_path, dlmp_scenario_data())
    federation = FederationFile.model_validate_json(path.read_text())
    market, grid = federation.entry("market").tefed.config, federation.entry("grid").tefed.config
    assert market["network_file"] == "federation.network.json"
    assert "feeder" not in market  # the market no longer compiles the feeder
    written = read_market_network(tmp_path / "federation.network.json")
    extracted = extract_market_network(read_role_config("grid", grid, "grid").feeder, tmp_path)
    pd.testing.assert_frame_equal(written.branches, extracted.branches, check_exact=True)
    assert written.source_bus == extracted.source_bus
    # The generated feeder: one branch per bus but the source, 24 households on it.
    assert len(written.branches) == len(set(written.branches["to_bus"]))
    assert set(federation.tefed.households["bus"]) <= set(written.branches["to_bus"])


def test_a_draft_extracts_but_writes_nothing(tmp_path):
    (tmp_path / "scenario.yaml").write_text(yaml.safe_dump(dlmp_scenario_data()))
    scenario, scenario_dir = load_scenario(tmp_path / "scenario.yaml")
    out = tmp_path / "draft.json"
    built = build_federation(scenario, scenario_dir, out, tmp_path, write_network=False)
    assert built.entry("market").tefed.config["network_file"] == "draft.network.json"
    assert not (tmp_path / "draft.network.json").exists()


def test_a_run_copies_the_network_into_its_folder(tmp_path):
    path = write_federation(tmp_path / "built", dlmp_scenario_data())
    federation = FederationFile.model_validate_json(path.read_text())
    folder = RunFolder(tmp_path / "run")
    resolved = resolve_for_run(federation, folder, free_port(), "key", path)
    named = Path(resolved.entry("market").tefed.config["network_file"])
    assert named == folder.file("federation.network.json")
    assert named.read_bytes() == (tmp_path / "built" / "federation.network.json").read_bytes()
    (tmp_path / "built" / "federation.network.json").unlink()
    with pytest.raises(InputError, match="network_file"):
        resolve_for_run(federation, RunFolder(tmp_path / "run2"), free_port(), "key", path)
