"""Run every benchmark and write its figures to ``results/bench/``."""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

from benchmarks import (
    co_simulation,
    dlmp,
    ems_optimizing,
    ems_step,
    grid_step,
    market_clearing,
)

OUTPUT = Path("results") / "bench"


def main() -> int:
    """Run the benchmarks in turn; print each one's figures and targets."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    machine = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": __import__("os").cpu_count(),
    }
    for benchmark in (co_simulation, grid_step, market_clearing, dlmp, ems_step, ems_optimizing):
        figures = benchmark.run(OUTPUT)
        figures["machine"] = machine
        path = OUTPUT / f"{benchmark.NAME}.json"
        path.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"\n== {benchmark.NAME} ({path})")
        for target in figures.get("targets", []):
            verdict = "met" if target["met"] else "NOT MET"
            print(
                f"  {target['name']}: {target['measured']:.3g} {target['unit']} "
                f"(target {target['comparison']} {target['limit']:g}) — {verdict}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
