"""A small OpenDSS feeder a test writes itself, with the set-up flaws a test wants."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def tiny_feeder(
    path: Path,
    *,
    source_kv: float = 11.0,
    source_pu: float = 1.0,
    households_behind_transformer: bool = True,
    no_load_loss_pct: float = 0.0,
) -> Path:
    """Write a small OpenDSS feeder: a source, a 100 kVA transformer to a 0.4 kV busbar, and a
    200 m three-phase street with one load per phase, fed from the busbar or (when
    ``households_behind_transformer`` is false) straight from the source."""
    street_from, street_kv = ("lv", 0.4) if households_behind_transformer else ("src", source_kv)
    lines = [
        "Clear",
        f"New Circuit.tiny bus1=src basekv={source_kv} pu={source_pu} phases=3 "
        "MVAsc3=100 MVAsc1=100",
        f"New Transformer.t1 phases=3 windings=2 buses=[src lv] conns=[delta wye] "
        f"kvs=[{source_kv} 0.4] kvas=[100 100] %r=1 xhl=4 %noloadloss={no_load_loss_pct}",
        f"New Line.street bus1={street_from} bus2=street phases=3 r1=0.2 x1=0.08 r0=0.8 "
        "x0=0.3 length=0.2 units=km",
        f"Set VoltageBases=[{' '.join(str(kv) for kv in sorted({source_kv, 0.4}))}]",
        "CalcVoltageBases",
        *(
            f"New Load.l{phase} bus1=street.{phase} phases=1 kV={street_kv / np.sqrt(3):.6f} "
            "kW=1 kvar=0"
            for phase in (1, 2, 3)
        ),
    ]
    path.write_text("\n".join(lines) + "\n")
    return path
