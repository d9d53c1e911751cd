"""Households on buses the feeder's source does not reach are refused up front.

A bus name mistyped in one element cuts off what lies beyond it; OpenDSS then solves those
buses at 0 V, and the run billed households there (exit 0). The feeders are written here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from federations import short_scenario_data

from tefed.cli import main
from tefed.domain.network.feeder_topology import buses_reached

STREET = """Clear
New Circuit.street bus1=src basekv=11 pu=1.0 phases=3 MVAsc3=100 MVAsc1=80
New Transformer.t1 phases=3 windings=2 buses=[src lv] conns=[delta wye] kvs=[11 0.4]
~ kvas=[250 250] %r=1 xhl=4
New Linecode.cable nphases=3 r1=0.206 x1=0.08 r0=0.824 x0=0.32 units=km
{feed}
New Line.s2 bus1={s2_from} bus2=n2 linecode=cable length=0.05 units=km
New Line.s3 bus1=n2 bus2=n3 linecode=cable length=0.05 units=km
Set VoltageBases=[11 0.4]
CalcVoltageBases
"""
LINE_FEED = "New Line.s1 bus1=lv bus2=n1 linecode=cable length=0.05 units=km"
REACTOR_FEED = "New Reactor.r1 bus1=lv bus2=n1 phases=3 r=0.001 x=0.01"


def validate_on(tmp_path: Path, capsys, feed: str, s2_from: str) -> tuple[int, str]:
    (tmp_path / "street.dss").write_text(STREET.format(feed=feed, s2_from=s2_from))
    data = short_scenario_data(
        grid__feeder={
            "dss": "street.dss",
            "placement": "explicit",
            "household_nodes": ["n1.1", "n2.2", "n3.3", "n3.1"],
        }
    )
    data["households"] = [{"group": "a", "count": 4, "strategy": "self_consumption"}]
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    code = main(["validate", str(path)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_households_beyond_a_mistyped_bus_name_are_refused(tmp_path: Path, capsys) -> None:
    # Line s2 starts at 'nn1' where s1 ended at 'n1': n2 and n3 hang from nothing.
    code, output = validate_on(tmp_path, capsys, LINE_FEED, s2_from="nn1")
    assert code == 2
    assert "grid.feeder: 3 household(s) on bus(es) 'n2', 'n3' that the source does not reach" in (
        output
    )
    assert "cut off with them: Line.s2, Line.s3" in output


@pytest.mark.parametrize("feed", [LINE_FEED, REACTOR_FEED], ids=["line", "series reactor"])
def test_a_connected_street_is_valid_whatever_element_connects_it(
    tmp_path: Path, capsys, feed: str
) -> None:
    code, output = validate_on(tmp_path, capsys, feed, s2_from="n1")
    assert code == 0, output


def test_buses_reached_over_any_chain_of_edges() -> None:
    # s - a - b, a separate x - y; names compared without node suffixes or case.
    reached = buses_reached(["s", "A.1.2", "x"], ["a", "b", "y"], "S", ["b.3", "y", "s", "q"])
    assert reached.tolist() == [True, False, True, False]
    with pytest.raises(ValueError, match="one pair per edge"):
        buses_reached(["s"], [], "s", ["s"])
