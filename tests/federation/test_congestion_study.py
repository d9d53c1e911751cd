"""Network congestion study (OpenGridGym use case 1): the congestion_*.yaml scenarios.

The scenarios validate and compose as described in their files; over the evening tariff peak
(17:00-20:00, when the EVs behind transformer t1 arrive) a lockstep run of the uncongested case
prices every bus at the substation, the congested case separates the pocket behind
Transformer.t1 from the rest of the feeder, and flexible demand lowers the DLMP consumers pay.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from federations import REPO, free_port, lockstep_run, write_federation

from tefed.analysis.run_tables import read_run_tables
from tefed.cli import main
from tefed.scenario.model import load_scenario

pytestmark = pytest.mark.federation

SCENARIOS = REPO / "scenarios"
STUDY = (
    "congestion_base",
    "congestion_inelastic",
    "congestion_uncongested",
    "congestion_flexible_25",
    "congestion_flexible_50",
    "congestion_flexible_75",
)
#: Households behind transformer t1 (the pocket) and behind t2 (town).
POCKET = [f"h{k:02d}" for k in range(1, 13)]
TOWN = [f"h{k:02d}" for k in range(13, 24)]
#: The tariff peak as the EVs arrive: no EV is plugged in at 17:00, so none starts mid-charge.
WINDOW = {"start": "2022-06-21T17:00:00", "duration_s": 3 * 3600}
PRICE_TOLERANCE_USD_PER_KWH = 1e-6


@pytest.mark.parametrize("name", STUDY)
def test_the_study_scenario_validates(name: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["validate", str(SCENARIOS / f"{name}.yaml")]) == 0
    assert "valid (23 households" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("name", "flexible"),
    [
        ("congestion_inelastic", 0),
        ("congestion_flexible_25", 3),
        ("congestion_flexible_50", 6),
        ("congestion_flexible_75", 9),
    ],
)
def test_a_flexible_share_gives_batteries_to_that_share_of_the_pocket(
    name: str, flexible: int
) -> None:
    scenario, _ = load_scenario(SCENARIOS / f"{name}.yaml")
    groups = scenario.households
    pocket = [group for group in groups if group.group.startswith("pocket_")]
    assert sum(group.count for group in pocket) == len(POCKET)
    assert sum(group.count for group in pocket if group.battery is not None) == flexible
    assert all(group.battery is None for group in groups if group not in pocket)
    assert {group.strategy.name for group in groups} == {"optimizing"}


def test_the_uncongested_case_only_relaxes_the_transformer_rating() -> None:
    congested, _ = load_scenario(SCENARIOS / "congestion_inelastic.yaml")
    relaxed, _ = load_scenario(SCENARIOS / "congestion_uncongested.yaml")
    assert (congested.grid.feeder.transformer_kva, relaxed.grid.feeder.transformer_kva) == (60, 250)
    unchanged = {"name", "description", "grid"}
    assert relaxed.model_dump(exclude=unchanged) == congested.model_dump(exclude=unchanged)
    assert relaxed.grid.feeder.model_dump(exclude={"transformer_kva"}) == (
        congested.grid.feeder.model_dump(exclude={"transformer_kva"})
    )


@pytest.fixture(scope="module")
def evening_run(tmp_path_factory: pytest.TempPathFactory):
    """A lockstep run of a study scenario over `WINDOW` (tables, summary), once per scenario."""
    runs: dict[str, tuple[dict[str, pd.DataFrame], dict]] = {}

    def run(name: str) -> tuple[dict[str, pd.DataFrame], dict]:
        if name not in runs:
            folder = tmp_path_factory.mktemp(name)
            data = {
                "extends": str(SCENARIOS / f"{name}.yaml"),
                "name": name,
                "time": WINDOW,
                "run": {"broker_port": free_port()},
            }
            done = lockstep_run(write_federation(folder, data), folder / "run")
            runs[name] = (read_run_tables(done), json.loads(done.file("summary.json").read_text()))
        return runs[name]

    return run


def _household_dlmp(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """DLMP at each household's bus minus the substation's price, (intervals, households)."""
    dlmp = tables["market_dlmp"].pivot(
        index="interval_index", columns="bus", values="dlmp_usd_per_kwh"
    )
    bus = tables["feeder_households"].set_index("household_id")["bus"].str.lower()
    wholesale = tables["prices"].set_index("interval_index")["wholesale_price_usd_per_kwh"]
    at_home = dlmp[bus.to_numpy()].set_axis(bus.index, axis=1)
    return at_home.sub(wholesale.reindex(at_home.index), axis=0)


def test_without_congestion_every_bus_has_the_substations_price(evening_run) -> None:
    tables, summary = evening_run("congestion_uncongested")
    assert set(tables["market_intervals"]["status"]) == {"optimal"}
    dlmp = tables["market_dlmp"]
    wholesale = tables["prices"].set_index("interval_index")["wholesale_price_usd_per_kwh"]
    gap = dlmp["dlmp_usd_per_kwh"] - wholesale.reindex(dlmp["interval_index"]).to_numpy()
    assert len(dlmp) and np.abs(gap).max() <= PRICE_TOLERANCE_USD_PER_KWH
    assert tables["market_binding_branches"].empty
    market = summary["market"]
    assert market["intervals_with_binding_branch"] == 0
    assert market["max_dlmp_spread_usd_per_kwh"] <= PRICE_TOLERANCE_USD_PER_KWH


def test_the_binding_transformer_prices_its_pocket_above_the_rest(evening_run) -> None:
    tables, summary = evening_run("congestion_inelastic")
    assert set(tables["market_intervals"]["status"]) == {"optimal"}
    binding = tables["market_binding_branches"]
    assert set(binding["branch"]) == {"Transformer.t1"}
    congested = sorted(binding["interval_index"].unique())
    above = _household_dlmp(tables).loc[congested]
    # Behind the binding transformer every household pays the substation price plus the
    # limit's shadow price (positive); on the other transformer exactly the substation price.
    shadow = binding.set_index("interval_index")["shadow_price_usd_per_kwh"].loc[congested]
    assert (shadow > 0).all()
    np.testing.assert_allclose(
        above[POCKET].to_numpy(),
        np.repeat(shadow.to_numpy()[:, None], len(POCKET), axis=1),
        rtol=0,
        atol=PRICE_TOLERANCE_USD_PER_KWH,
    )
    assert np.abs(above[TOWN].to_numpy()).max() <= PRICE_TOLERANCE_USD_PER_KWH
    market = summary["market"]
    assert market["intervals_with_binding_branch"] == len(congested) >= 1
    assert market["binding_branch_intervals"] == {"Transformer.t1": len(congested)}
    assert market["max_dlmp_spread_usd_per_kwh"] == pytest.approx(
        float(above[POCKET].max().max()), abs=1e-9
    )


def test_flexible_demand_lowers_the_dlmp_that_consumers_pay(evening_run) -> None:
    # Batteries behind t1 offer energy at high prices (their charging bids, at low prices, also
    # bind the transformer earlier in the peak): over the peak the energy households draw is
    # valued lower at their buses' DLMPs. Measured 0.1675 (inelastic) and 0.1618 (75 %).
    _, inelastic = evening_run("congestion_inelastic")
    _, flexible = evening_run("congestion_flexible_75")
    inelastic_price = inelastic["market"]["consumer_dlmp_usd_per_kwh"]
    flexible_price = flexible["market"]["consumer_dlmp_usd_per_kwh"]
    assert flexible_price < inelastic_price
    spread = [run["market"]["max_dlmp_spread_usd_per_kwh"] for run in (inelastic, flexible)]
    assert spread[1] < spread[0]
