"""DLMP clearing on the IEEE 34-node feeder where HiGHS once cycled without end (issue 19).

Every buyer at a fixed power and one generator curve as the only curvature along a direction:
with a thermal limit binding, and with the substation's import limit binding. The cases are
OpenGridGym use case 1 (`benchmarks.studies.opengridgym`): 28 loads, 1,769 kW; four generators
of 1,000 kW rising from 3 to 7 ¢/kWh (808, 812, 824 upstream of line L14, 854 downstream); the
wholesale price 4.3 ¢/kWh. A generator's price at g kW is 0.03 + 0.04 g / 1000 USD/kWh.
Skipped without ../shared/feeders.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmarks.studies import opengridgym
from tefed.domain.market.mechanisms.dlmp import DlmpMarket, DlmpResult
from tefed.domain.network.radial import RadialNetwork
from tefed.io.highs_solver import HighsSolver
from tests.federations import SHARED

FEEDERS = SHARED / "feeders"
needs_ieee34 = pytest.mark.skipif(
    not (FEEDERS / opengridgym.IEEE34).is_file(), reason="needs ../shared/feeders/34Bus"
)
WHOLESALE = opengridgym.WHOLESALE_USD_PER_KWH
#: Generator curve: price at 0 kW and rise over its 1,000 kW [USD/kWh].
CURVE_START, CURVE_RISE = 0.03, 0.04
UPSTREAM_GENERATORS = ("808", "812", "824")
DOWNSTREAM_GENERATOR = "854"
L14 = "Line.l14"
L14_RATING_KVA = 500.0
L14_END = "830"


@pytest.fixture(scope="module")
def feeder() -> tuple[pd.Series, pd.DataFrame, str]:
    """Loads by bus [kW], the branch table and the source bus of IEEE 34."""
    _, loads_kw, branches = opengridgym.feeder_network(FEEDERS / opengridgym.IEEE34)
    source = branches.loc[~branches["from_bus"].isin(branches["to_bus"]), "from_bus"].iloc[0]
    return loads_kw, branches, source


def fixed_book(loads_kw: pd.Series) -> tuple[pd.DataFrame, pd.Series]:
    """Every load as a buyer at exactly its power; the four generators on their curves."""
    rows, bus_of = [], {}
    for bus, load_kw in loads_kw.items():
        bus_of[f"load_{bus}"] = bus
        rows.append((f"load_{bus}", "buy", 0.10, 0.10, load_kw, load_kw))
    for bus in (*UPSTREAM_GENERATORS, DOWNSTREAM_GENERATOR):
        bus_of[f"generator_{bus}"] = bus
        rows.append((f"generator_{bus}", "sell", CURVE_START + CURVE_RISE, CURVE_START, 1000.0, 0))
    book = pd.DataFrame(
        [(f"{name}_{side}", name, side, *numbers) for name, side, *numbers in rows],
        columns=[
            "order_id", "participant", "side", "price_max_usd_per_kwh",
            "price_min_usd_per_kwh", "power_max_kw", "power_min_kw",
        ],
    )  # fmt: skip
    return book, pd.Series(bus_of)


def clear(feeder, rating_kva: float, substation_limit_kw: float | None) -> DlmpResult:
    """One clearing with L14 rated ``rating_kva`` (inf: no limit) and every other branch free."""
    loads_kw, branches, source = feeder
    rated = branches.assign(rating_kva=np.where(branches["branch"] == L14, rating_kva, np.inf))
    book, bus_of = fixed_book(loads_kw)
    market = DlmpMarket(
        RadialNetwork.from_branches(rated, source),
        bus_of,
        voltage_min_pu=0.5,
        voltage_max_pu=1.5,
        source_voltage_pu=1.05,
        substation_limit_kw=substation_limit_kw,
        solver=HighsSolver(),
    )
    return market.clear(book, WHOLESALE)


def downstream_of(branches: pd.DataFrame, bus: str) -> set[str]:
    """``bus`` and every bus fed through it."""
    found, frontier = {bus}, [bus]
    while frontier:
        children = branches.loc[branches["from_bus"].isin(frontier), "to_bus"]
        frontier = [child for child in children if child not in found]
        found.update(frontier)
    return found


def generation_kw(result: DlmpResult, bus: str) -> float:
    return -float(result.power_kw[f"generator_{bus}_sell"])


@needs_ieee34
def test_fixed_buyers_behind_a_binding_line_price_at_the_generator_behind_it(feeder) -> None:
    loads_kw, branches, _ = feeder
    result = clear(feeder, L14_RATING_KVA, None)
    assert result.status == "optimal", result.reason
    assert result.binding_branches["branch"].tolist() == [L14]
    assert result.binding_branches["flow_kw"].iloc[0] == pytest.approx(L14_RATING_KVA)
    behind = downstream_of(branches, L14_END)
    # Behind L14, 854 covers the load above the line's 500 kW: its price is their DLMP.
    load_behind_kw = loads_kw[loads_kw.index.isin(behind)].sum()
    marginal_kw = load_behind_kw - L14_RATING_KVA
    assert generation_kw(result, DOWNSTREAM_GENERATOR) == pytest.approx(marginal_kw, abs=1e-6)
    behind_price = CURVE_START + CURVE_RISE * marginal_kw / 1000.0
    dlmp = result.dlmp_usd_per_kwh
    in_front = dlmp.index.difference(list(behind))
    np.testing.assert_allclose(dlmp[list(behind)], behind_price, rtol=0, atol=1e-9)
    # In front of it the substation is marginal: 4.3 ¢/kWh, each generator at (4.3 - 3) / 4 MW.
    np.testing.assert_allclose(dlmp[in_front], WHOLESALE, rtol=0, atol=1e-9)
    for bus in UPSTREAM_GENERATORS:
        assert generation_kw(result, bus) == pytest.approx(325.0, abs=1e-6)
    shadow = result.binding_branches["shadow_price_usd_per_kwh"].iloc[0]
    assert shadow == pytest.approx(behind_price - WHOLESALE, abs=1e-9)
    assert result.substation_power_kw == pytest.approx(
        loads_kw.sum() - 3 * 325.0 - marginal_kw, abs=1e-6
    )


@needs_ieee34
def test_fixed_buyers_behind_a_binding_import_limit_price_at_the_generators(feeder) -> None:
    loads_kw, _, _ = feeder
    limit_kw = 300.0
    result = clear(feeder, np.inf, limit_kw)
    assert result.status == "optimal", result.reason
    assert result.binding_branches.empty
    assert result.substation_power_kw == pytest.approx(limit_kw, abs=1e-6)
    # The generators share the rest equally and set one price above the wholesale price.
    each_kw = (loads_kw.sum() - limit_kw) / 4
    for bus in (*UPSTREAM_GENERATORS, DOWNSTREAM_GENERATOR):
        assert generation_kw(result, bus) == pytest.approx(each_kw, abs=1e-6)
    price = CURVE_START + CURVE_RISE * each_kw / 1000.0
    assert price > WHOLESALE
    np.testing.assert_allclose(result.dlmp_usd_per_kwh, price, rtol=0, atol=1e-9)
