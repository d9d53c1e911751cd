"""Train one household of a live tefed federation with a tabular learner; plot the learning curve.

The household ``h01`` of ``scenarios/learning_household.yaml`` (6 kWp of PV and a 10 kWh battery
at 20 %, 15:00 to 19:00, an import peak of 0.30 USD/kWh from 17:00) is steered through
`tefed.rl.environments.HouseholdEnv` while the rest of the federation — grid, market, price feed,
five households trading with tefed's simple strategy — runs as usual. No deep-learning library:
a table of action values.

Agent (documented, deliberately small)
--------------------------------------
- Actions: six "arms", each one discrete action of the environment (``action_levels: 9``:
  fractions in eighths; levels of battery, bid quantity, bid price, ask quantity, ask price):

  ==========  ===================================================  ===================
  arm         meaning                                              levels
  ==========  ===================================================  ===================
  idle        battery idle, no orders (the starting policy)        (4, 0, 0, 0, 0)
  offer_low   ask 312 Wh at a quarter of the export–import band    (4, 0, 0, 2, 2)
  offer_mid   ask 312 Wh at half the band                          (4, 0, 0, 2, 4)
  offer_more  ask 625 Wh at a quarter of the band                  (4, 0, 0, 4, 2)
  cover       discharge at 1.25 kW, no orders                      (3, 0, 0, 0, 0)
  charge      charge at 1.25 kW, no orders                         (5, 0, 0, 0, 0)
  ==========  ===================================================  ===================

- State: the hour of the day of the decision and the battery's state of charge in three bands
  (below a third, below two thirds, above).
- Learning: a contextual bandit, i.e. tabular Q-learning without bootstrapping (discount 0):
  ``Q(s, a) += α (r − Q(s, a))`` with α = 0.3, ε-greedy exploration from 0.5 down to 0.05.
  ``r`` is the money of the interval the action ordered for. It is paid after the interval's
  delivery, two decisions later; the environment's ``info["settled_intervals"]`` and
  ``info["settled_usd"]`` name each interval's money, so each update credits the decision that
  ordered for that interval.
- Starting policy: the greedy policy of an all-zero table, i.e. ``idle`` everywhere. It is
  evaluated before training and the learned greedy policy after it, both on the same episode
  (scenario seed) without exploration.

Run it from the project folder (every episode is a real federation)::

    python examples/train_household_agent.py --episodes 15

``--fast`` trains on ``scenarios/learning_household_fast.yaml``, the same households at the fast
training setting: one grid step per 15-minute market interval, so an environment step is one
federation step instead of fifteen, at the cost of the grid's resolution (power flow, dispatch
and metering once per interval; minute-scale peaks averaged away) and of a gate closure one
whole interval before delivery. Both runs evaluate their policies on the scenario they train on.

It writes ``results/learning/learning_curve.png`` and ``learning_curve.json`` (the returns) and
exits with 0 when the learned policy earns more than the starting one.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from tefed.rl.environments import HouseholdEnv
from tefed.rl.observations import observation_fields

PROJECT = Path(__file__).resolve().parent.parent
SCENARIO = PROJECT / "scenarios" / "learning_household.yaml"
#: The same households at the fast training setting (one grid step per market interval).
FAST_SCENARIO = PROJECT / "scenarios" / "learning_household_fast.yaml"
#: The agent's arms: name and the environment's discrete action (levels 0…8 of five fractions).
ARMS = {
    "idle": (4, 0, 0, 0, 0),
    "offer_low": (4, 0, 0, 2, 2),
    "offer_mid": (4, 0, 0, 2, 4),
    "offer_more": (4, 0, 0, 4, 2),
    "cover": (3, 0, 0, 0, 0),
    "charge": (5, 0, 0, 0, 0),
}
LEVELS = 9
LEARNING_RATE = 0.3


def observation_index(name: str) -> int:
    """Position of a one-entry field in the environment's observation vector."""
    position = 0
    for field in observation_fields(forecast_intervals=4):
        if field.name == name:
            return position
        position += field.size
    raise KeyError(name)


HOUR, SOC = observation_index("time_of_day_h"), observation_index("soc_fraction")


def state_of(observation: np.ndarray) -> tuple[int, int]:
    """The agent's state: the hour of the day and the band of the state of charge."""
    return int(observation[HOUR]), min(int(observation[SOC] * 3), 2)


class TabularAgent:
    """Action values per state and arm, learned from each interval's money."""

    def __init__(self, seed: int):
        self.values: dict[tuple[int, int], np.ndarray] = {}
        self.random = np.random.default_rng(seed)

    def q(self, state: tuple[int, int]) -> np.ndarray:
        return self.values.setdefault(state, np.zeros(len(ARMS)))

    def choose(self, state: tuple[int, int], exploration: float) -> int:
        if self.random.random() < exploration:
            return int(self.random.integers(len(ARMS)))
        return int(np.argmax(self.q(state)))

    def learn(self, state: tuple[int, int], arm: int, money_usd: float) -> None:
        self.q(state)[arm] += LEARNING_RATE * (money_usd - self.q(state)[arm])


def run_episode(env: HouseholdEnv, agent: TabularAgent, seed: int, exploration: float) -> float:
    """One episode, learning when ``exploration`` > 0; its return [USD] (the household's money)."""
    observation, info = env.reset(seed=seed)
    # The state and arm of each interval ordered for, until its money is paid.
    ordered: dict[int, tuple[tuple[int, int], int]] = {}
    total_usd, terminated = 0.0, False
    while not terminated:
        state = state_of(observation)
        arm = agent.choose(state, exploration)
        ordered[info["interval_index"]] = (state, arm)
        observation, reward, terminated, _, info = env.step(np.array(list(ARMS.values())[arm]))
        total_usd += reward
        if exploration > 0:
            for paid, money_usd in zip(info["settled_intervals"], info["settled_usd"], strict=True):
                if paid in ordered:
                    agent.learn(*ordered.pop(paid), money_usd)
    return total_usd


def main(argv: list[str] | None = None) -> int:
    """Train, evaluate before and after, and plot; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=15, help="training episodes")
    parser.add_argument("--seed", type=int, default=5, help="scenario seed of every episode")
    parser.add_argument(
        "--output", type=Path, default=PROJECT / "results" / "learning", help="output folder"
    )
    parser.add_argument(
        "--fast",
        action="store_true",
        help="train at the fast training setting (one grid step per market interval; coarser "
        "grid resolution): scenarios/learning_household_fast.yaml",
    )
    arguments = parser.parse_args(argv)
    options = {"action": "discrete", "action_levels": LEVELS}
    scenario = FAST_SCENARIO if arguments.fast else SCENARIO
    env = HouseholdEnv(scenario, household="h01", options=options, base_dir=PROJECT)
    agent = TabularAgent(seed=arguments.seed)
    started = time.monotonic()
    try:
        before_usd = run_episode(env, agent, arguments.seed, exploration=0.0)
        returns = []
        for episode in range(arguments.episodes):
            exploration = max(0.05, 0.5 * (1 - episode / max(arguments.episodes - 1, 1)))
            returns.append(run_episode(env, agent, arguments.seed, exploration))
            print(f"episode {episode + 1}: return {returns[-1]:+.4f} USD (ε = {exploration:.2f})")
        after_usd = run_episode(env, agent, arguments.seed, exploration=0.0)
    finally:
        env.close()
    wall_s = time.monotonic() - started
    print(f"starting policy: {before_usd:+.4f} USD; learned policy: {after_usd:+.4f} USD")
    print(f"{arguments.episodes + 2} episodes in {wall_s:.0f} s")
    arguments.output.mkdir(parents=True, exist_ok=True)
    summary = {
        "starting_policy_return_usd": before_usd,
        "learned_policy_return_usd": after_usd,
        "training_returns_usd": returns,
        "episodes": arguments.episodes,
        "scenario": scenario.stem,
        "arms": list(ARMS),
        "wall_time_s": wall_s,
    }
    (arguments.output / "learning_curve.json").write_text(json.dumps(summary, indent=2) + "\n")
    figure, axes = plt.subplots(figsize=(7, 4))
    episodes = np.arange(1, len(returns) + 1)
    axes.plot(episodes, returns, marker="o", label="training episode (ε-greedy)")
    axes.axhline(before_usd, color="grey", linestyle="--", label="starting policy (idle)")
    axes.axhline(after_usd, color="green", linestyle="-", label="learned greedy policy")
    axes.set_xlabel("episode")
    axes.set_ylabel("household's money over the episode [USD]")
    axes.set_title(f"Tabular learner steering household h01 ({scenario.stem} scenario)")
    axes.legend()
    figure.tight_layout()
    figure.savefig(arguments.output / "learning_curve.png", dpi=120)
    return 0 if after_usd > before_usd else 1


if __name__ == "__main__":
    raise SystemExit(main())
