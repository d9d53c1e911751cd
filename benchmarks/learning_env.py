"""Speed of the learning environment: resets and steps over a live 12-household federation.

`tefed.rl.environments.HouseholdEnv` on the default scenario (twelve households; the learner
steers the first trading one, the other eleven trade as usual), cut to ``DURATION_S`` from
11:00, one decision per market interval, in two settings (``SETTINGS``): the scenario's own
60 s grid step (fifteen grid steps of the federation per environment step), and the fast
training setting of ``scenarios/learning_household_fast.yaml``, a grid step of one market
interval (one federation step per environment step; coarser grid resolution). In each
setting, after one untimed reset (the first also starts the environment's launcher process),
each of ``EPISODES`` episodes is timed in two parts: the reset (starting a fresh federation on
its own broker port, to its first decision) and the steps to the end of the run with a random
continuous action (the federation stepping, the learner's household dispatching its battery,
the market clearing and settling it). Each setting is measured twice in the same run: as
the environment runs by default, the built-in federates in threads of its learner host on one
HELICS core (``EnvOptions.federates = "threads"``), and, as the baseline, each built-in
federate in a process of its own (``"processes"``, as ``tefed run`` starts them); the targets
are judged on the default. ``TEFED_BENCH_RL_EPISODES`` sets another number of episodes
(e.g. 1, to check that the benchmark works).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from tefed.rl.environments import HouseholdEnv
from tefed.rl.options import EnvOptions
from tefed.scenario.model import load_scenario

NAME = "learning_env"
#: Episodes timed [-], and the environment variable with another number.
EPISODES = 5
EPISODES_ENV = "TEFED_BENCH_RL_EPISODES"
#: Simulated time of each episode [s] (16 market intervals).
DURATION_S = 4 * 3600
#: Targets of issue 18: environment steps (market intervals) per second, and reset time [s].
STEPS_PER_S_LIMIT = 100.0
RESET_LIMIT_S = 2.0
PROJECT = Path(__file__).resolve().parent.parent
SCENARIO = PROJECT / "scenarios" / "default.yaml"
#: Each setting's name and its scenario values: the default grid step, and the fast training
#: setting (grid step and gate closure of one market interval, as learning_household_fast.yaml).
SETTINGS = {
    "grid step 60 s": {},
    "grid step 900 s (fast training setting)": {
        "time.grid_step_s": 900,
        "time.gate_closure_s": 900,
    },
}


def run(output: Path) -> dict:
    """Median reset time and environment steps per second of each setting against the targets."""
    episodes = int(os.environ.get(EPISODES_ENV) or EPISODES)
    figures = {"episodes": episodes, "simulated_s_per_episode": DURATION_S, "settings": {}}
    targets = []
    for setting, values in SETTINGS.items():
        baseline = _measure(values, episodes, "processes")
        measured = _measure(values, episodes, "threads")
        measured["baseline_federates_in_processes"] = baseline
        figures["settings"][setting] = measured
        households = measured["households"]
        reset_s = statistics.median(measured["reset_s"])
        rate = statistics.median(measured["steps_per_s"])
        baseline_rate = statistics.median(baseline["steps_per_s"])
        targets += [
            {
                "name": f"{setting}: environment steps per second, one market interval per "
                f"step, {households} households, built-in federates in threads (median of "
                f"{episodes} episodes; each in a process of its own: {baseline_rate:.1f})",
                "measured": rate,
                "unit": "1/s",
                "comparison": ">=",
                "limit": STEPS_PER_S_LIMIT,
                "met": rate >= STEPS_PER_S_LIMIT,
            },
            {
                "name": f"{setting}: reset to the first decision (median of {episodes}; "
                f"federates in processes: {statistics.median(baseline['reset_s']):.2f} s)",
                "measured": reset_s,
                "unit": "s",
                "comparison": "<=",
                "limit": RESET_LIMIT_S,
                "met": reset_s <= RESET_LIMIT_S,
            },
        ]
    figures["targets"] = targets
    return figures


def _measure(values: dict[str, int], episodes: int, federates: str) -> dict:
    """Reset times [s] and steps per second of ``episodes`` episodes with scenario ``values``,
    the built-in federates run as ``federates`` (`EnvOptions.federates`)."""
    resets_s, steps_per_s, steps = [], [], 0
    with tempfile.TemporaryDirectory() as scratch:
        scenario, _ = load_scenario(
            SCENARIO,
            {
                "time.start": "2022-06-21T11:00:00",
                "time.duration_s": DURATION_S,
                "run.results_root": scratch,
                **values,
            },
        )
        env = HouseholdEnv(scenario, options=EnvOptions(federates=federates), base_dir=PROJECT)
        env.action_space.seed(0)
        try:
            # Untimed: the first reset also starts the environment's launcher process.
            env.reset(seed=scenario.seed)
            for _ in range(episodes):
                started = time.monotonic()
                env.reset(seed=scenario.seed)
                stepping = time.monotonic()
                resets_s.append(stepping - started)
                steps, terminated = 0, False
                while not terminated:
                    _, _, terminated, _, _ = env.step(env.action_space.sample())
                    steps += 1
                steps_per_s.append(steps / (time.monotonic() - stepping))
        finally:
            env.close()
    return {
        "federates": federates,
        "households": sum(group.count for group in scenario.households),
        "grid_step_s": scenario.time.grid_step_s,
        "steps_per_episode": steps,
        "reset_s": resets_s,
        "steps_per_s": steps_per_s,
    }
