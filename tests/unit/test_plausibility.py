"""Plausibility warnings: the rules, the feeder facts they read, and ``tefed validate``.

Small OpenDSS feeders are written by the tests (`tiny_feeders.tiny_feeder`); the IEEE 13-node
and European LV test feeders of ``../shared/feeders`` are checked too when they are there.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from federations import REPO, SHARED, short_scenario_data
from tiny_feeders import tiny_feeder

from tefed.cli import main
from tefed.domain.network.feeder_topology import buses_behind
from tefed.domain.plausibility import (
    FEEDER_LOSSES_MAX_PCT,
    LOW_VOLTAGE_MAX_KV_LL,
    SOURCE_VOLTAGE_MAX_PU,
    feeder_losses_warning,
    household_supply_warnings,
    power_flow_warning,
    source_voltage_warning,
    unused_wholesale_warning,
)
from tefed.io.opendss.model import compile_feeder, network_source, supply_points

FEEDERS = SHARED / "feeders"
needs_shared = pytest.mark.skipif(
    not FEEDERS.is_dir(), reason=f"reference feeders not found at {FEEDERS}"
)


def write_scenario(folder: Path, data: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def on_tiny_feeder(tmp_path: Path, **feeder: object) -> Path:
    """The short default scenario with its households on `tiny_feeder` (balanced placement)."""
    tiny_feeder(tmp_path / "tiny.dss", **feeder)
    data = short_scenario_data(grid__feeder={"dss": "tiny.dss", "placement": "balanced"})
    return write_scenario(tmp_path, data)


def validate(path: Path, capsys, *options: str) -> tuple[str, list[str]]:
    """``tefed validate``: its exit code must be 0; returns stdout and the warning lines."""
    assert main(["validate", str(path), *options]) == 0
    captured = capsys.readouterr()
    warnings = [line for line in captured.err.splitlines() if line.startswith("warning: ")]
    return captured.out, warnings


# --- the rules ----------------------------------------------------------------------------------


def supply_table(base_kv_ll: list[float], behind: list[bool], buses: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "household_id": [f"h{k}" for k in range(len(buses))],
            "bus": buses,
            "base_kv_ll": base_kv_ll,
            "behind_lv_transformer": behind,
        }
    )


def test_households_above_1_kv_are_on_medium_voltage_naming_bus_voltage_and_count() -> None:
    supply = supply_table(
        [4.16, 4.16, 0.48, 12.47], [False, False, True, False], ["671"] * 2 + ["634", "x"]
    )
    (warning,) = household_supply_warnings(supply)
    assert warning.check == "households_on_medium_voltage"
    assert (warning.value, warning.threshold, warning.unit) == (12.47, LOW_VOLTAGE_MAX_KV_LL, "kV")
    assert "3 households (h0, h1, h3)" in warning.message
    assert "671 at 4.16 kV (2 households), x at 12.5 kV (1 household)" in warning.message
    assert "household_nodes" in warning.message


def test_low_voltage_households_without_a_transformer_are_named() -> None:
    supply = supply_table([0.4, 0.4, np.nan], [False, True, False], ["a", "b", "c"])
    (warning,) = household_supply_warnings(supply)
    assert warning.check == "households_without_lv_transformer"
    assert "2 households (h0, h2)" in warning.message and "a (1 household)" in warning.message


def test_households_behind_their_transformers_give_no_warning() -> None:
    assert household_supply_warnings(supply_table([0.4, 0.24], [True, True], ["a", "b"])) == []


def test_a_long_list_names_five_and_counts_the_rest() -> None:
    buses = [f"b{k}" for k in range(8)]
    (warning,) = household_supply_warnings(supply_table([4.16] * 8, [False] * 8, buses))
    assert "8 households (h0, h1, h2, h3, h4, …)" in warning.message
    assert warning.subject.endswith("and 3 more buses")


def test_source_voltage_threshold_and_remedy_per_feeder_kind() -> None:
    assert source_voltage_warning("s", SOURCE_VOLTAGE_MAX_PU, generated=False) is None
    warning = source_voltage_warning("sourcebus", 1.05, generated=False)
    assert (warning.check, warning.value, warning.threshold) == (
        "source_voltage_above_limit",
        1.05,
        1.04,
    )
    assert "sourcebus is set to 1.05 pu, above 1.04 pu" in warning.message
    assert "'Vsource.source.pu=1.0' in grid.feeder.commands" in warning.message
    generated = source_voltage_warning("mv", 1.045, generated=True)
    assert "grid.feeder.source_voltage_pu" in generated.message


def test_feeder_losses_threshold() -> None:
    assert feeder_losses_warning(FEEDER_LOSSES_MAX_PCT) is None
    assert feeder_losses_warning(None) is None and feeder_losses_warning(float("nan")) is None
    warning = feeder_losses_warning(40.9)
    assert (warning.check, warning.value, warning.threshold, warning.unit) == (
        "feeder_losses_above_limit",
        40.9,
        10.0,
        "%",
    )
    assert "lost 40.9 % of the energy supplied into it, above 10 %" in warning.message


def test_power_flow_warning_counts_steps_and_names_the_first_times() -> None:
    assert power_flow_warning(0, 120, []) is None
    warning = power_flow_warning(7, 120, [60, 120, 180, 240, 300, 360, 420])
    assert (warning.check, warning.value, warning.threshold, warning.unit) == (
        "power_flow_not_converged",
        7.0,
        0.0,
        "steps",
    )
    assert "at 7 of 120 grid steps (first at t=60 s, t=120 s, t=180 s, t=240 s, t=300 s)" in (
        warning.message
    )


def test_unused_wholesale_message_names_file_mechanism_and_users() -> None:
    warning = unused_wholesale_warning("prices.csv", "double_auction", ["dlmp"], True)
    assert warning.check == "wholesale_prices_unused"
    assert "prices.wholesale reads prices.csv" in warning.message
    assert "double_auction clears without it (it is used by: dlmp)" in warning.message
    assert "external program" in warning.message
    assert warning.as_dict()["subject"] == "prices.wholesale.path prices.csv"


# --- the feeder facts ---------------------------------------------------------------------------


def test_buses_behind_a_marked_edge_on_radial_and_meshed_feeders() -> None:
    # s -line- a -transformer- b -line- c; d hangs off a by a line and also off b by a line.
    start, end = ["s", "a", "b", "a"], ["a", "b", "c", "d"]
    marked = [False, True, False, False]
    assert buses_behind(start, end, marked, "s", ["s", "a", "b", "c", "d", "x"]).tolist() == [
        False,
        False,
        True,
        True,
        False,
        False,
    ]
    # A line from d to c bypasses the transformer: nothing is behind it any more.
    meshed = buses_behind([*start, "d"], [*end, "c"], [*marked, False], "s", ["b", "c"])
    assert meshed.tolist() == [False, False]


def test_buses_behind_checks_its_edge_arrays() -> None:
    with pytest.raises(ValueError, match="one bus pair and one flag per edge"):
        buses_behind(["a"], ["b"], [True, False], "a", ["b"])


def test_supply_points_of_a_compiled_feeder(tmp_path: Path) -> None:
    compile_feeder(master_path=tiny_feeder(tmp_path / "tiny.dss", source_pu=1.03))
    found = supply_points(["src", "lv", "street.2"])
    np.testing.assert_allclose(found["base_kv_ll"], [11.0, 0.4, 0.4], rtol=1e-9)
    assert found["behind_lv_transformer"].tolist() == [False, True, True]
    assert network_source() == ("src", 1.03)
    compile_feeder(
        master_path=tiny_feeder(
            tmp_path / "direct.dss", source_kv=0.4, households_behind_transformer=False
        )
    )
    assert supply_points(["street"])["behind_lv_transformer"].tolist() == [False]


def test_supply_points_before_the_bus_list_exists_have_no_base() -> None:
    compile_feeder(script_text="New Circuit.bare bus1=a basekv=0.4\nNew Line.l bus1=a bus2=b")
    found = supply_points(["b"])
    assert np.isnan(found["base_kv_ll"]).all() and not found["behind_lv_transformer"].any()


# --- tefed validate -----------------------------------------------------------------------------


def test_validate_warns_of_households_on_a_medium_voltage_street(tmp_path: Path, capsys) -> None:
    path = on_tiny_feeder(tmp_path, households_behind_transformer=False)
    out, warnings = validate(path, capsys)
    assert "valid (12 households" in out and "1 warning(s)" in out
    (warning,) = warnings
    assert warning.startswith("warning: households_on_medium_voltage: 12 households")
    assert "street at 11 kV (12 households)" in warning and "above 1 kV line-to-line" in warning


def test_validate_warns_of_households_with_no_transformer_before_them(
    tmp_path: Path, capsys
) -> None:
    path = on_tiny_feeder(tmp_path, source_kv=0.4, households_behind_transformer=False)
    _, warnings = validate(path, capsys)
    assert [line.split(":")[1].strip() for line in warnings] == [
        "households_without_lv_transformer"
    ]
    assert "street (12 households)" in warnings[0]


def test_validate_warns_of_a_source_above_1_04_pu_until_a_command_lowers_it(
    tmp_path: Path, capsys
) -> None:
    path = on_tiny_feeder(tmp_path, source_pu=1.05)
    _, warnings = validate(path, capsys)
    (warning,) = warnings
    assert warning.startswith("warning: source_voltage_above_limit: the feeder's source at bus src")
    assert "1.05 pu, above 1.04 pu" in warning and "Vsource.source.pu=1.0" in warning
    out, warnings = validate(
        path, capsys, "--set", 'grid.feeder.commands=["Vsource.source.pu=1.0"]'
    )
    assert warnings == [] and "warning" not in out


def test_validate_warns_of_a_generated_feeder_source_above_1_04_pu(tmp_path: Path, capsys) -> None:
    path = write_scenario(tmp_path, short_scenario_data(grid__feeder__source_voltage_pu=1.05))
    _, warnings = validate(path, capsys)
    (warning,) = warnings
    assert "source_voltage_above_limit" in warning and "grid.feeder.source_voltage_pu" in warning


def write_wholesale_csv(path: Path) -> Path:
    hours = pd.date_range("2022-06-20", periods=96, freq="h")
    frame = pd.DataFrame(
        {"timestamp": hours.strftime("%Y-%m-%dT%H:%M:%S"), "price_usd_per_mwh": 40.0}
    )
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(("mechanism", "warned"), [("double_auction", True), ("dlmp", False)])
def test_validate_warns_of_a_wholesale_file_only_a_mechanism_without_it(
    tmp_path: Path, capsys, mechanism: str, warned: bool
) -> None:
    write_wholesale_csv(tmp_path / "wholesale.csv")
    data = short_scenario_data(market={"mechanism": mechanism})
    data["prices"]["wholesale"] = {
        "source": "csv",
        "path": "wholesale.csv",
        "timezone": data["time"]["timezone"],
    }
    _, warnings = validate(write_scenario(tmp_path, data), capsys)
    if warned:
        (warning,) = warnings
        assert warning.startswith("warning: wholesale_prices_unused: prices.wholesale reads")
        assert "wholesale.csv" in warning and "double_auction clears without it" in warning
    else:
        assert warnings == []


@pytest.mark.parametrize(
    "prices",
    [
        {"import_tariff": {"kind": "wholesale_indexed", "energy_charge_usd_per_kwh": 0.09}},
        {"export_tariff": {"kind": "wholesale_indexed", "fraction": 0.9}},
    ],
)
def test_a_wholesale_indexed_tariff_uses_the_wholesale_file(
    tmp_path: Path, capsys, prices: dict
) -> None:
    write_wholesale_csv(tmp_path / "wholesale.csv")
    data = short_scenario_data(market={"mechanism": "double_auction"})
    data["prices"] |= prices | {
        "wholesale": {
            "source": "csv",
            "path": "wholesale.csv",
            "timezone": data["time"]["timezone"],
        }
    }
    _, warnings = validate(write_scenario(tmp_path, data), capsys)
    assert warnings == []


def test_every_built_in_scenario_validates_without_warnings(capsys) -> None:
    scenarios = sorted((REPO / "scenarios").glob("*.yaml"))
    assert scenarios
    for path in scenarios:
        _, warnings = validate(path, capsys)
        assert warnings == [], path.name


# --- the reference feeders ----------------------------------------------------------------------


@needs_shared
def test_validate_warns_of_households_on_ieee13_4_16_kv_buses(tmp_path: Path, capsys) -> None:
    data = short_scenario_data(
        grid__feeder={"dss": str(FEEDERS / "13Bus" / "IEEE13Nodeckt.dss"), "placement": "balanced"}
    )
    _, warnings = validate(write_scenario(tmp_path, data), capsys)
    (warning,) = warnings
    assert warning.startswith("warning: households_on_medium_voltage: 9 households")
    assert "671 at 4.16 kV" in warning


@needs_shared
def test_validate_warns_of_the_european_lv_feeder_source_at_1_05_pu(tmp_path: Path, capsys) -> None:
    data = short_scenario_data(
        grid__feeder={
            "dss": str(FEEDERS / "LVTestCase" / "Master.dss"),
            "placement": "one_per_load",
        }
    )
    path = write_scenario(tmp_path, data)
    _, warnings = validate(path, capsys)
    (warning,) = warnings
    assert warning.startswith(
        "warning: source_voltage_above_limit: the feeder's source at bus sourcebus is set to "
        "1.05 pu"
    )
    _, warnings = validate(path, capsys, "--set", 'grid.feeder.commands=["Vsource.source.pu=1.0"]')
    assert warnings == []
