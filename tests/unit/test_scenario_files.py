"""Scenario composition: ``extends`` merges a file over its base, as the docs say."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from federations import short_scenario_data

from tefed.build.builder import build_federation
from tefed.scenario.files import SECTION_KINDS, merge_scenario_data, read_scenario_data
from tefed.scenario.market_spec import DlmpSpec, DoubleAuctionSpec
from tefed.scenario.model import Scenario, load_scenario
from tefed.scenario.reference import reference_tables


def write_yaml(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def base(tmp_path) -> Path:
    """The short default scenario as ``base.yaml``: groups consumers (4), pv (4), pv_battery (2),
    reference (1), reference_pv (1); a radial_lv feeder of 100 kVA with 3 laterals."""
    return write_yaml(tmp_path / "base.yaml", short_scenario_data())


def child(folder: Path, **keys: object) -> Path:
    return write_yaml(folder / "child.yaml", {"extends": "base.yaml", "name": "child", **keys})


def test_mappings_merge_key_by_key_and_other_values_replace(base):
    scenario, _ = load_scenario(
        child(
            base.parent,
            seed=9,
            time={"duration_s": 3600},
            grid={"feeder": {"laterals": 5}},
            households={"pv": {"count": 6, "pv": {"kwp": 3}}, "reference": None},
        )
    )
    assert (scenario.name, scenario.seed) == ("child", 9)
    assert scenario.time.duration_s == 3600
    assert scenario.time.start == "2022-06-21T11:00:00"  # from the base
    assert scenario.grid.feeder.laterals == 5
    assert scenario.grid.feeder.transformer_kva == 100  # from the base
    groups = {group.group: group for group in scenario.households}
    assert list(groups) == ["consumers", "pv", "pv_battery", "reference_pv"]
    assert groups["pv"].count == 6
    assert groups["pv"].pv.kwp == 3
    assert groups["pv"].pv.azimuth_deg == [150, 210]  # the base's, beside the new kwp
    assert groups["pv_battery"].battery.capacity_kwh == 10


def test_a_list_of_groups_replaces_the_base_groups(base):
    scenario, _ = load_scenario(child(base.parent, households=[{"group": "solo", "count": 1}]))
    assert [(group.group, group.count) for group in scenario.households] == [("solo", 1)]


def test_null_removes_a_section(tmp_path):
    data = short_scenario_data(community_battery={"battery": {"preset": "community_rana"}})
    write_yaml(tmp_path / "base.yaml", data)
    scenario, _ = load_scenario(child(tmp_path, community_battery=None))
    assert scenario.community_battery is None


def test_the_same_kind_merges_and_another_kind_replaces_the_section(base):
    same, _ = load_scenario(child(base.parent, market={"tie_breaking": "pro_rata"}))
    assert isinstance(same.market, DoubleAuctionSpec)
    assert (same.market.settlement_rule, same.market.tie_breaking) == ("midpoint", "pro_rata")
    other, _ = load_scenario(
        child(base.parent, market={"mechanism": "dlmp", "voltage_max_pu": 1.04})
    )
    assert isinstance(other.market, DlmpSpec)  # the base's settlement_rule is not carried over
    assert other.market.voltage_max_pu == 1.04


def test_a_strategy_given_by_name_takes_options_and_a_mix_drops_it(tmp_path):
    data = short_scenario_data()
    data["households"][1]["strategy"] = "ma_crossover"
    data["households"][2]["strategy"] = {"name": "ma_crossover", "stage": "pv_only"}
    write_yaml(tmp_path / "base.yaml", data)
    overrides = {
        "consumers": {"strategy_mix": {"self_consumption": 0.5, "net_billing": 0.5}},
        "pv": {"strategy": {"fast_window_intervals": 10}},
        "pv_battery": {"strategy": {"slow_window_intervals": 40}},
    }
    scenario, _ = load_scenario(child(tmp_path, households=overrides))
    consumers, pv, pv_battery = scenario.households[:3]
    assert consumers.strategy_mix == {"self_consumption": 0.5, "net_billing": 0.5}
    assert (pv.strategy.name, pv.strategy.fast_window_intervals) == ("ma_crossover", 10)
    assert (pv_battery.strategy.stage, pv_battery.strategy.slow_window_intervals) == (
        "pv_only",
        40,
    )


def test_chains_resolve_each_extends_against_its_own_file(tmp_path):
    write_yaml(tmp_path / "common" / "root.yaml", short_scenario_data(seed=1))
    write_yaml(
        tmp_path / "common" / "middle.yaml",
        {"extends": "root.yaml", "name": "middle", "seed": 2, "time": {"duration_s": 1800}},
    )
    leaf = write_yaml(
        tmp_path / "sweep" / "leaf.yaml", {"extends": "../common/middle.yaml", "name": "leaf"}
    )
    composed = read_scenario_data(leaf)
    assert [file.name for file in composed.files] == ["leaf.yaml", "middle.yaml", "root.yaml"]
    assert composed.source == f"{leaf} (extends middle.yaml → root.yaml)"
    scenario = Scenario.model_validate(composed.data)
    assert (scenario.name, scenario.seed, scenario.time.duration_s) == ("leaf", 2, 1800)
    assert scenario.time.grid_step_s == 60


def test_a_variant_in_a_subfolder_reads_the_files_its_base_names(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    hours = [f"2022-06-21T{hour:02d}:00:00" for hour in range(24)]
    (tmp_path / "data" / "prices.csv").write_text(
        "timestamp,price_usd_per_mwh\n"
        + "".join(f"{hour},{30 + k}\n" for k, hour in enumerate(hours))
    )
    data = short_scenario_data()
    data["prices"]["wholesale"] = {"source": "csv", "path": "data/prices.csv", "timezone": "UTC"}
    data["run"]["results_root"] = "out"
    write_yaml(tmp_path / "base.yaml", data)
    variant = write_yaml(
        tmp_path / "variants" / "more_pv.yaml",
        {"extends": "../base.yaml", "name": "more_pv", "households": {"pv": {"count": 5}}},
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # neither the variant's folder nor the base's
    scenario, scenario_dir = load_scenario(variant)
    assert scenario.prices.wholesale.path == "../data/prices.csv"
    assert scenario.run.results_root == "../out"
    federation = build_federation(scenario, scenario_dir, elsewhere / "f.json", elsewhere)
    price_file = federation.entry("price_feed").tefed.config["wholesale"]["path"]
    assert (elsewhere / price_file).resolve() == (tmp_path / "data" / "prices.csv").resolve()
    # Results go to the results root the base names, relative to the base, whoever runs it.
    results = (elsewhere / federation.tefed.results.root).resolve()
    assert results == (tmp_path / "out" / "more_pv").resolve()


def test_a_results_root_named_by_the_variant_is_relative_to_the_variant(tmp_path):
    write_yaml(tmp_path / "base.yaml", short_scenario_data())
    variant = write_yaml(
        tmp_path / "variants" / "own.yaml",
        {"extends": "../base.yaml", "name": "own", "run": {"results_root": "results"}},
    )
    scenario, scenario_dir = load_scenario(variant)
    federation = build_federation(scenario, scenario_dir, tmp_path / "f.json", tmp_path)
    assert federation.tefed.results.root == "variants/results/own"


def test_merging_leaves_its_inputs_alone():
    base = {"time": {"duration_s": 60}, "households": [{"group": "a", "count": 1}]}
    override = {"time": {"grid_step_s": 30}, "households": {"a": {"count": 2}}}
    merged = merge_scenario_data(base, override)
    assert merged == {
        "time": {"duration_s": 60, "grid_step_s": 30},
        "households": [{"group": "a", "count": 2}],
    }
    assert base == {"time": {"duration_s": 60}, "households": [{"group": "a", "count": 1}]}
    assert override == {"time": {"grid_step_s": 30}, "households": {"a": {"count": 2}}}


def test_an_override_by_group_name_needs_a_base_list():
    with pytest.raises(ValueError, match="households: given as overrides by group name"):
        merge_scenario_data({}, {"households": {"a": {"count": 2}}})


def test_the_kinds_the_merge_knows_are_the_sections_that_come_in_kinds():
    kinded = {
        tuple(part.replace("[]", "") for part in table.path.split("."))
        for table in reference_tables()
        if table.variant
    }
    as_merge_paths = {tuple(part for part in path if part != "*") for path in SECTION_KINDS if path}
    assert kinded == as_merge_paths
    defaults = {
        ("market",): Scenario.model_fields["market"].get_default(call_default_factory=True),
        ("grid", "feeder"): Scenario.model_fields["grid"]
        .get_default(call_default_factory=True)
        .feeder,
        ("prices", "wholesale"): Scenario.model_fields["prices"]
        .get_default(call_default_factory=True)
        .wholesale,
        ("prices", "import_tariff"): Scenario.model_fields["prices"]
        .get_default(call_default_factory=True)
        .import_tariff,
    }
    for path, default in defaults.items():
        key, kind = SECTION_KINDS[path]
        assert getattr(default, key) == kind, path
