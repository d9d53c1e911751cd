"""The reference-study scripts of benchmarks/studies on short cases: TENT Fig. 2, OpenGridGym
use cases 1 and 3 on the IEEE 34- and 37-node feeders (skipped without ../shared)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.studies import opengridgym, tent_fig2
from tests.federations import SHARED

FEEDERS = SHARED / "feeders"
needs_feeders = pytest.mark.skipif(
    not (FEEDERS / "34Bus").is_dir(), reason="needs ../shared/feeders (IEEE 34 and 37)"
)


def test_tent_fig2_clears_at_the_papers_price_and_power() -> None:
    result = tent_fig2.clear_fig2()
    assert result.status == "exact"
    assert result.price_usd_per_kwh == pytest.approx(tent_fig2.PAPER_PRICE_USD_PER_KWH)
    assert result.power_kw["load"] == pytest.approx(tent_fig2.PAPER_POWER_KW)
    assert result.power_kw["supply"] == pytest.approx(-tent_fig2.PAPER_POWER_KW)


@needs_feeders
def test_use_case_1_one_price_without_congestion_and_separation_with_it() -> None:
    uncongested = opengridgym.use_case_1(FEEDERS, 0.0, congested=False)
    assert uncongested["price_levels_usd_per_kwh"] == [opengridgym.WHOLESALE_USD_PER_KWH]
    assert uncongested["binding_branches"] == []
    assert uncongested["demand_kw"] == pytest.approx(1769.0)
    assert len(opengridgym.feeder_network(FEEDERS / opengridgym.IEEE34)[1]) == 28
    congested = opengridgym.use_case_1(FEEDERS, 0.0, congested=True)
    assert congested["binding_branches"] == [opengridgym.CONGESTED_LINE]
    low, *_, high = congested["price_levels_usd_per_kwh"]
    assert low == opengridgym.WHOLESALE_USD_PER_KWH and high > low + 0.01
    # Flexible demand lowers the average consumer price (the paper: 6.64 -> 5.28 cents).
    flexible = opengridgym.use_case_1(FEEDERS, 0.75, congested=True)
    assert flexible["consumer_price_usd_per_kwh"] < congested["consumer_price_usd_per_kwh"]
    assert flexible["served_kw"] < congested["served_kw"]


@needs_feeders
def test_use_case_3_prices_every_bus_of_ieee_37_and_maps_them(tmp_path: Path) -> None:
    case = opengridgym.use_case_3(FEEDERS, tmp_path)
    assert case["binding_branches"] == [opengridgym.IEEE37_CONGESTED_LINE]
    low, high = case["dlmp_range_usd_per_kwh"]
    assert low == pytest.approx(opengridgym.IEEE37_WHOLESALE_USD_PER_KWH) and high > low
    assert (tmp_path / "dlmp_map_ieee37.png").stat().st_size > 10_000
