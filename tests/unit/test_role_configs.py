"""Each role's typed configuration: explicit, documented, and refused with the field named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

import pytest
from federations import REPO, short_scenario_data, write_federation
from pydantic import BaseModel

from tefed.contract.errors import InputError
from tefed.contract.federation_file import load_federation_file
from tefed.contract.logic import FederateContext
from tefed.contract.role_configs import (
    ROLE_CONFIGS,
    DoubleAuctionConfig,
    EmsConfig,
    MarketMechanismName,
    read_role_config,
)
from tefed.domain.ems.order_forms import ORDER_KIND
from tefed.domain.market.clearing import ACCEPTED_KINDS
from tefed.federates.builtin import builtin_logic

COMMITTED = json.loads((REPO / "federation" / "default.json").read_text())
DOUBLE_AUCTION = {
    "delivery_ahead_intervals": 1,
    "unused_energy": "seller_exports",
    "mechanism": "double_auction",
    "settlement_rule": "midpoint",
    "tie_breaking": "time",
}


def problems_of(role: str, config: dict[str, Any]) -> list[str]:
    with pytest.raises(InputError) as refused:
        read_role_config(role, config, f"the_{role}")
    assert refused.value.source == f"federate the_{role}: tefed.config"
    return refused.value.problems


def config_models() -> list[type[BaseModel]]:
    """Every model a role configuration is made of, nested ones too."""
    found: list[type[BaseModel]] = []

    def visit(annotation: object) -> None:
        is_model = isinstance(annotation, type) and issubclass(annotation, BaseModel)
        if is_model and annotation not in found:
            found.append(annotation)
            for field in annotation.model_fields.values():
                visit(field.annotation)
        for argument in get_args(annotation):
            visit(argument)

    for model in ROLE_CONFIGS.values():
        visit(model)
    return found


def test_a_market_configuration_missing_a_field_is_refused_naming_it():
    config = {key: value for key, value in DOUBLE_AUCTION.items() if key != "tie_breaking"}
    assert problems_of("market", config) == ["market.tie_breaking: required but missing"]


def test_an_unknown_mechanism_is_named_with_its_value_and_the_choices():
    assert problems_of("market", DOUBLE_AUCTION | {"mechanism": "sealed_bid"}) == [
        "market.mechanism: got 'sealed_bid'; expected one of "
        "'double_auction', 'curve_clearing', 'dlmp', 'continuous', 'p2p_negotiation', "
        "'communities', 'day_ahead'"
    ]
    config = {key: value for key, value in DOUBLE_AUCTION.items() if key != "mechanism"}
    assert problems_of("market", config) == ["market.mechanism: required but missing"]


def test_a_field_of_another_mechanism_is_an_unknown_key():
    assert problems_of("market", DOUBLE_AUCTION | {"priority": "age"}) == [
        "market.priority: unknown key (value 'age'); remove or rename it"
    ]


def test_nested_sections_are_named_by_their_path_in_the_file():
    price_feed = next(e for e in COMMITTED["federates"] if e["name"] == "price_feed")
    config = price_feed["tefed"]["config"]
    assert problems_of("price_feed", config | {"wholesale": {"source": "ercot"}}) == [
        "price_feed.wholesale.source: got 'ercot'; expected one of 'synthetic', 'csv'"
    ]
    grid = next(e for e in COMMITTED["federates"] if e["name"] == "grid")["tefed"]["config"]
    feeder = {key: value for key, value in grid["feeder"].items() if key != "seed"}
    assert problems_of("grid", grid | {"feeder": feeder, "loading_limit_pct": -5}) == [
        "grid.feeder.seed: required but missing",
        "grid.loading_limit_pct: got -5; Input should be greater than 0",
    ]


def test_the_committed_federation_reads_into_each_role_s_model():
    configs = {
        entry["name"]: read_role_config(entry["tefed"]["role"], entry["tefed"]["config"], "x")
        for entry in COMMITTED["federates"][2:]
    }
    assert configs["market"] == DoubleAuctionConfig(**DOUBLE_AUCTION)
    ems = configs["ems"]
    assert isinstance(ems, EmsConfig)
    assert (ems.interface, ems.market_mechanism, ems.pv_model.system_losses) == (
        "shard",
        "double_auction",
        0.14,
    )
    assert configs["grid"].voltage_range_pu == (0.95, 1.05)
    assert configs["price_feed"].forecast_horizon_intervals == 96


def test_every_field_is_required_and_documented():
    """The federation file shows every value a federate uses: no field has a default."""
    models = config_models()
    assert len(models) >= 15
    for model in models:
        for name, field in model.model_fields.items():
            assert field.is_required(), f"{model.__name__}.{name} has a default"
            assert field.description, f"{model.__name__}.{name} has no description"


def test_quantities_with_units_say_them_in_their_description():
    for model in config_models():
        for name, field in model.model_fields.items():
            if name.endswith(("_kw", "_pu", "_pct", "_usd_per_kwh", "_usd_per_mwh", "_c")):
                assert field.description.endswith("]"), f"{model.__name__}.{name}"


def test_the_mechanism_names_agree_with_the_market_and_the_ems():
    names = set(get_args(MarketMechanismName))
    assert names == set(ACCEPTED_KINDS) == set(ORDER_KIND)


@pytest.mark.parametrize(
    ("name", "change", "problem"),
    [
        ("market", {"mechanism": "sealed_bid"}, "market.mechanism: got 'sealed_bid'"),
        ("grid", {"on_nonconvergence": "retry"}, "grid.on_nonconvergence: got 'retry'"),
        ("ems", {"publish_reactive_power": "maybe"}, "ems.publish_reactive_power: got 'maybe'"),
        ("price_feed", {"export_price_usd_per_kwh": None}, "price_feed.export_price_usd_per_kwh"),
    ],
)
def test_each_federate_refuses_a_bad_configuration_at_initialize(
    tmp_path: Path, name: str, change: dict[str, Any], problem: str
):
    path = write_federation(tmp_path, short_scenario_data())
    data = json.loads(path.read_text())
    entry = next(entry for entry in data["federates"] if entry["name"] == name)
    entry["tefed"]["config"].update(change)
    path.write_text(json.dumps(data))
    federation = load_federation_file(path)
    context = FederateContext(name, federation, federation.entry(name), tmp_path)
    logic = builtin_logic()[entry["tefed"]["role"]]()
    with pytest.raises(InputError) as refused:
        logic.initialize(context)
    assert refused.value.source == f"federate {name}: tefed.config"
    assert any(text.startswith(problem) for text in refused.value.problems), refused.value
