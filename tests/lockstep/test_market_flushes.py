"""The market's tables do not depend on how often it flushes them to the run folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from federations import REPO, lockstep_run, write_federation
from partial_results import read_table

from tefed.contract.run_folder import RunFolder
from tefed.federates.market.logic import MarketFederate

#: Mechanisms that keep tables of their own per interval, and those tables.
MECHANISM_TABLES = {
    "market_p2p.yaml": "market_negotiations",
    "market_communities.yaml": "market_communities",
}


def market_tables(
    folder: Path, scenario: str, flush_min_wall_s: float, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[str, pd.DataFrame], int]:
    """Every ``market_*`` table of a lockstep run of ``scenario`` from 05:00 for three hours
    (dawn: the first intervals trade nothing), at 300 s grid steps; and how many times the
    market flushed its tables to the run folder."""
    flushes = []
    flush = MarketFederate._flush

    def counted(self: MarketFederate, results: RunFolder) -> None:
        flushes.append(results)
        flush(self, results)

    monkeypatch.setattr(MarketFederate, "_flush", counted)
    data = yaml.safe_load((REPO / "scenarios" / scenario).read_text())
    data["time"] |= {
        "start": "2022-06-21T05:00:00",
        "duration_s": 3 * 3600,
        "grid_step_s": 300,
        "gate_closure_s": 300,
    }
    data["run"] = {**data.get("run", {}), "flush_min_wall_s": flush_min_wall_s}
    run = lockstep_run(write_federation(folder, data), folder / "run")
    names = sorted(path.name.split(".")[0] for path in run.path.glob("market_*"))
    return {name: read_table(run, name) for name in names}, len(flushes)


@pytest.mark.parametrize("scenario", sorted(MECHANISM_TABLES))
def test_tables_flushed_every_simulated_hour_are_those_flushed_once(
    tmp_path: Path, scenario: str, monkeypatch: pytest.MonkeyPatch
):
    hourly, hourly_flushes = market_tables(tmp_path / "hourly", scenario, 0.0, monkeypatch)
    once, one_flush = market_tables(tmp_path / "once", scenario, 3600.0, monkeypatch)
    assert hourly_flushes > 2 and one_flush == 1
    assert MECHANISM_TABLES[scenario] in hourly
    assert hourly.keys() == once.keys()
    for name, table in hourly.items():
        assert len(table) > 0, name
        pd.testing.assert_frame_equal(table, once[name], obj=name)
