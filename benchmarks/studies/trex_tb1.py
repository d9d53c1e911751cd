"""T-REX TB-1 as published: run the four stages for the paper's 30 days and set the paper's
claims beside tefed's figures.

``python -m benchmarks.studies.trex_tb1 run OUT [--days 30]`` runs, with ``tefed run`` (real
HELICS federations, two at a time), the baseline and the three stages as published
(``scenarios/trex_tb1_*.yaml``, initial bid 0.08 / ask 0.12 USD/kWh) and stages 1–3 once more
with tefed's default initial price positions (``explored``: bid 0.4–0.9, ask 0.1–0.6 of the
export–import spread, drawn per participant), timing each run; it writes ``OUT/runs.json``.
``python -m benchmarks.studies.trex_tb1 report OUT`` reads those runs and writes
``OUT/trex_tb1.md`` (the tables of the README's "Reference studies") and ``OUT/trex_tb1.json``.

Why a second set: tefed's expert trader (``ma_crossover``) moves its prices only from observed
settlement prices. Starting from the published bid 0.08 below the ask 0.12, no order ever
crosses, no price is ever observed, and nobody trades — T-REX's traders instead explore over
300 learning episodes. The ``explored`` set starts them where orders cross, which stands in for
what the episodes learned.

Claims of the paper (``../shared/data/trex_tb1/README.md``): every participant ends the month
ahead of its net-billing baseline in every stage; in stage 2 the battery owners trail the
baseline for 8–10 days, then end ahead of stage 1; settlement prices start high at sunrise, fall
to an equilibrium during the day and rise at sunset (Fig. 5, July 17); many violations above
1.04 pu at every node in the baseline, none in stage 2, stage 3 worse than stage 2 (Fig. 7).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tefed.results import load

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "scenarios"
PARTICIPANTS = [f"R{number}" for number in range(5, 15)]
BATTERY_OWNERS = ["R10", "R11"]
#: tefed's default initial price positions (scenario defaults of bid/ask_price_fraction).
EXPLORED_SETTINGS = [
    setting
    for participant in PARTICIPANTS
    for setting in (
        f"households.{participant}.bid_price_fraction=[0.4, 0.9]",
        f"households.{participant}.ask_price_fraction=[0.1, 0.6]",
    )
]
#: The day of the paper's Figs. 5 and 7.
FIGURE_DAY = "2018-07-17"
SECONDS_PER_DAY = 86_400
#: Cumulative advantage above which a participant counts as ahead of its baseline [USD].
AHEAD_USD = 0.005


@dataclass(frozen=True)
class StudyRun:
    """One run of the study: its key, scenario file and ``--set`` overrides."""

    key: str
    scenario: str
    settings: tuple[str, ...] = ()


RUNS = (
    StudyRun("published_baseline", "trex_tb1_baseline"),
    StudyRun("published_stage1", "trex_tb1_stage1"),
    StudyRun("published_stage2", "trex_tb1_stage2"),
    StudyRun("published_stage3", "trex_tb1_stage3"),
    StudyRun("explored_stage1", "trex_tb1_stage1", tuple(EXPLORED_SETTINGS)),
    StudyRun("explored_stage2", "trex_tb1_stage2", tuple(EXPLORED_SETTINGS)),
    StudyRun("explored_stage3", "trex_tb1_stage3", tuple(EXPLORED_SETTINGS)),
)


def run_study(output: Path, days: int, parallel: int = 2, lockstep: bool = False) -> dict[str, Any]:
    """Run every study run with ``tefed run`` for ``days`` days; time each [s].

    ``lockstep`` runs them with ``tefed run --lockstep`` (the same tables, about two thirds of
    the CPU time; the wall times are then not those of the federations).
    """
    output.mkdir(parents=True, exist_ok=True)

    def one(study: StudyRun) -> dict[str, Any]:
        command = [
            sys.executable, "-m", "tefed", "run", str(SCENARIOS / f"{study.scenario}.yaml"),
            "--no-progress", "--results", str(output / study.key),
            *(["--lockstep"] if lockstep else []),
            "--set", f"time.duration_s={days * SECONDS_PER_DAY}",
            "--set", f"run.wall_clock_limit_s={max(900, days * 300)}",
            *(part for setting in study.settings for part in ("--set", setting)),
        ]  # fmt: skip
        started = time.monotonic()
        finished = subprocess.run(command, capture_output=True, text=True, check=False)
        wall_time_s = time.monotonic() - started
        lines = finished.stdout.strip().splitlines()
        return {
            "key": study.key,
            "command": " ".join(command[2:]),
            "exit_code": finished.returncode,
            "wall_time_s": round(wall_time_s, 1),
            "run_folder": lines[-1] if lines and Path(lines[-1]).is_dir() else None,
            "stderr_tail": finished.stderr[-2000:],
        }

    with ThreadPoolExecutor(max_workers=parallel) as pool:
        records = list(pool.map(one, RUNS))
    record = {
        "days": days,
        "engine": "lockstep" if lockstep else "helics",
        "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    record["runs"] = records
    (output / "runs.json").write_text(json.dumps(record, indent=2))
    return record


def daily_income_advantage_usd(run_folder: Path) -> pd.DataFrame:
    """Cumulative income advantage per participant at the end of each day [USD].

    The baseline bill of an interval is its baseline energy at the import price when drawn and
    the export price when fed in, as the run's own summary counts it.
    """
    run = load(run_folder)
    intervals = run.table("household_intervals")
    prices = run.table("prices").set_index("interval_index")
    joined = intervals.join(
        prices[["import_price_usd_per_kwh", "export_price_usd_per_kwh"]], on="interval_index"
    )
    energy_kwh = joined["baseline_energy_wh"] / 1000.0
    baseline_usd = np.where(
        energy_kwh > 0,
        energy_kwh * joined["import_price_usd_per_kwh"],
        energy_kwh * joined["export_price_usd_per_kwh"],
    )
    grid = run.time_grid
    joined["day"] = joined["interval_index"] * grid.market_interval_s // SECONDS_PER_DAY + 1
    joined["advantage_usd"] = baseline_usd - joined["bill_usd"]
    daily = joined.pivot_table(
        index="day", columns="household_id", values="advantage_usd", aggfunc="sum"
    )
    return daily.cumsum()


def settlement_price_by_hour(run_folder: Path, day: str) -> pd.Series:
    """Volume-weighted settlement price of each hour of ``day`` (local time) [USD/kWh]."""
    run = load(run_folder)
    trades = run.table("market_trades")
    if trades.empty:
        return pd.Series(dtype=float)
    grid = run.time_grid
    start = grid.calendar(trades["interval_index"].to_numpy() * grid.market_interval_s)
    trades = trades.assign(local=start)
    on_day = trades[trades["local"].dt.strftime("%Y-%m-%d") == day]
    if on_day.empty:
        return pd.Series(dtype=float)
    hour = on_day["local"].dt.hour
    value = on_day["price_usd_per_kwh"] * on_day["quantity_wh"]
    return value.groupby(hour).sum() / on_day["quantity_wh"].groupby(hour).sum()


def summarize_run(run_folder: Path) -> dict[str, Any]:
    """The figures of one run the report compares."""
    run = load(run_folder)
    summary = json.loads((run.path / "summary.json").read_text())
    households = summary["households"]
    voltage = summary["voltage"]
    return {
        "income_advantage_usd": {
            participant: households[participant]["income_advantage_usd"]
            for participant in PARTICIPANTS
        },
        "stored_energy_value_usd": {
            participant: households[participant].get("battery_stored_energy_value_usd", 0.0)
            for participant in PARTICIPANTS
        },
        "traded_energy_kwh": summary["market"]["traded_energy_kwh"],
        "volume_weighted_price_usd_per_kwh": summary["market"]["volume_weighted_price_usd_per_kwh"],
        "voltage_max_pu": voltage["voltage_max_pu"],
        "above_104_household_minutes": voltage["above_upper_limit_household_minutes"],
        "wall_time_s": summary["metadata"]["wall_time_s"],
    }


def report(output: Path) -> str:
    """Write ``trex_tb1.md`` and ``trex_tb1.json`` from the complete runs under ``output``
    (``output/<key>/<scenario>/latest``, as `run_study` leaves them)."""
    folders = {
        study.key: output / study.key / study.scenario / "latest"
        for study in RUNS
        if (output / study.key / study.scenario / "latest" / "summary.json").is_file()
    }
    figures = {key: summarize_run(folder) for key, folder in folders.items()}
    days = {
        round(load(folder).time_grid.duration_s / SECONDS_PER_DAY) for folder in folders.values()
    }
    runs_file = output / "runs.json"
    engine = json.loads(runs_file.read_text()).get("engine") if runs_file.is_file() else None
    command = "`tefed run --lockstep`" if engine == "lockstep" else "`tefed run`"
    lines = [
        f"T-REX TB-1, {'/'.join(map(str, sorted(days)))} days from 2018-07-01, wall times of "
        f"{command} as measured.",
        "",
        "Income advantage over net billing per participant [USD] (battery owners: stored "
        "energy at the end valued in brackets):",
        "",
        "| participant | " + " | ".join(key.replace("_", " ") for key in figures) + " |",
        "|---|" + "---:|" * len(figures),
    ]
    for participant in PARTICIPANTS:
        cells = []
        for values in figures.values():
            cell = f"{values['income_advantage_usd'][participant]:.2f}"
            stored = values["stored_energy_value_usd"][participant]
            cells.append(cell + (f" ({stored:+.2f})" if stored else ""))
        lines.append(f"| {participant} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| run | traded kWh | VWAP USD/kWh | max V pu | household-min > 1.04 pu | wall s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for key, values in figures.items():
        price = values["volume_weighted_price_usd_per_kwh"]
        lines.append(
            f"| {key} | {values['traded_energy_kwh']:.1f} | "
            f"{'–' if price is None else f'{price:.4f}'} | {values['voltage_max_pu']:.4f} | "
            f"{values['above_104_household_minutes']:.0f} | {values['wall_time_s']:.0f} |"
        )
    overtaking: dict[str, dict[str, int | None]] = {}
    for key in ("published_stage2", "explored_stage2"):
        if key in folders:
            cumulative = daily_income_advantage_usd(folders[key])
            overtaking[key] = {
                owner: _first_day_ahead(cumulative[owner]) for owner in BATTERY_OWNERS
            }
    lines += ["", "Stage 2, first day from which the battery owner stays ahead of its baseline:"]
    lines += [f"- {key}: {days}" for key, days in overtaking.items()]
    prices: dict[str, dict[int, float]] = {}
    for key in ("explored_stage1", "explored_stage2", "explored_stage3"):
        if key in folders:
            hourly = settlement_price_by_hour(folders[key], FIGURE_DAY)
            prices[key] = {int(hour): round(float(price), 4) for hour, price in hourly.items()}
    lines += ["", f"Settlement price by hour on {FIGURE_DAY} [USD/kWh]:"]
    for key, hourly in prices.items():
        lines.append(f"- {key}: " + ", ".join(f"{h}h {p:.4f}" for h, p in hourly.items()))
    text = "\n".join(lines) + "\n"
    (output / "trex_tb1.md").write_text(text)
    (output / "trex_tb1.json").write_text(
        json.dumps(
            {"figures": figures, "overtaking_day": overtaking, "prices": prices},
            indent=2,
        )
    )
    return text


def _first_day_ahead(cumulative_usd: pd.Series) -> int | None:
    """First day from which the cumulative advantage stays above zero (None: never)."""
    behind = np.flatnonzero(cumulative_usd.to_numpy() <= AHEAD_USD)
    if behind.size == 0:
        return int(cumulative_usd.index[0])
    if behind[-1] + 1 >= cumulative_usd.size:
        return None
    return int(cumulative_usd.index[behind[-1] + 1])


def main(argv: list[str] | None = None) -> int:
    """``run OUT [--days N]`` or ``report OUT``."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.studies.trex_tb1", description=__doc__
    )
    parser.add_argument("action", choices=["run", "report"])
    parser.add_argument("output", type=Path, help="folder of the study's runs and report")
    parser.add_argument("--days", type=int, default=30, help="simulated days [30]")
    parser.add_argument(
        "--lockstep", action="store_true", help="run with tefed run --lockstep (same tables)"
    )
    arguments = parser.parse_args(argv)
    if arguments.action == "run":
        record = run_study(arguments.output, arguments.days, lockstep=arguments.lockstep)
        failed = [run["key"] for run in record["runs"] if run["exit_code"] != 0]
        if failed:
            print(f"failed runs: {failed}; see {arguments.output / 'runs.json'}")
            return 1
    print(report(arguments.output))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
