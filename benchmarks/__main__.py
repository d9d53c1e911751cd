"""Run the benchmarks and write their figures to ``results/bench/``.

``python -m benchmarks`` runs all of them (``make bench``); ``python -m benchmarks co_simulation
--cases 12,100`` runs one benchmark, here with a subset of the co-simulation cases (also
``TEFED_BENCH_CASES=12,100``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

from benchmarks import (
    co_simulation,
    day_ahead,
    dlmp,
    ems_optimizing,
    ems_step,
    fault_matrix,
    federate_start,
    grid_step,
    helics_floor,
    learning_env,
    market_clearing,
    market_topologies,
    sweep_overhead,
    sweep_throughput,
)

OUTPUT = Path("results") / "bench"
BENCHMARKS = (
    co_simulation,
    grid_step,
    market_clearing,
    market_topologies,
    day_ahead,
    dlmp,
    ems_step,
    ems_optimizing,
    sweep_overhead,
    sweep_throughput,
    learning_env,
    helics_floor,
    federate_start,
    fault_matrix,
)


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benchmarks in turn; print each one's figures and targets."""
    names = [benchmark.NAME for benchmark in BENCHMARKS]
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("benchmarks", nargs="*", help=f"any of {', '.join(names)} (default: all)")
    parser.add_argument(
        "--cases",
        help=f"co_simulation cases, comma-separated (default: ${co_simulation.CASES_ENV} or all: "
        f"{','.join(case.key for case in co_simulation.CASES)})",
    )
    arguments = parser.parse_args(argv)
    unknown = sorted(set(arguments.benchmarks) - set(names))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; known: {names}")
    chosen = [b for b in BENCHMARKS if not arguments.benchmarks or b.NAME in arguments.benchmarks]
    if arguments.cases is not None and co_simulation not in chosen:
        parser.error("--cases applies to the co_simulation benchmark")
    if co_simulation in chosen:
        try:
            co_simulation.selected_cases(arguments.cases)
        except ValueError as error:
            parser.error(str(error))
    OUTPUT.mkdir(parents=True, exist_ok=True)
    machine = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }
    for benchmark in chosen:
        if benchmark is co_simulation:
            figures = benchmark.run(OUTPUT, cases=arguments.cases)
        else:
            figures = benchmark.run(OUTPUT)
        figures["machine"] = machine
        path = OUTPUT / f"{benchmark.NAME}.json"
        path.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"\n== {benchmark.NAME} ({path})")
        for target in figures.get("targets", []):
            print(f"  {target_line(target)}")
    return 0


def target_line(target: dict) -> str:
    """One target as printed: measured value, limit and verdict (met / NOT MET)."""
    verdict = "met" if target["met"] else "NOT MET"
    measured = target["measured"]
    value = "not measured" if measured is None else f"{measured:.3g} {target['unit']}".rstrip()
    note = f"; {target['note']}" if target.get("note") else ""
    return (
        f"{target['name']}: {value} "
        f"(target {target['comparison']} {target['limit']:g}{note}) — {verdict}"
    )


if __name__ == "__main__":
    sys.exit(main())
