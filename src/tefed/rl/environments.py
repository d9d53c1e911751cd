"""The learning environments: `HouseholdEnv` (Gymnasium) and `HouseholdParallelEnv` (PettingZoo).

Both run a live federation (`tefed.rl.live_federation`): ``reset(seed)`` starts a fresh one on
a broker port of its own (``seed`` is the scenario seed: profiles, prices, ranges), ``step``
answers the pending decision and runs the federation to the next, and ``close`` ends it. The
spaces (``docs/learning-agents.md``) follow from `tefed.rl.options.EnvOptions`.

Examples
--------
A sketch (a real run starts a federation)::

    env = HouseholdEnv("scenarios/default.yaml", household="h01")
    observation, info = env.reset(seed=7)
    observation, reward_usd, terminated, truncated, info = env.step(env.action_space.sample())
    env.close()
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import gymnasium
import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from tefed.rl.actions import ACTION_FRACTIONS, action_bounds, decode_action
from tefed.rl.learner_household import Decision
from tefed.rl.live_federation import LiveFederation
from tefed.rl.observations import observation_bounds, observation_fields
from tefed.rl.options import EnvOptions
from tefed.scenario.model import Scenario, load_scenario

ScenarioSource = str | Path | Scenario


def _live_federation(
    scenario: ScenarioSource,
    households: list[str] | None,
    options: EnvOptions | dict[str, Any] | None,
    base_dir: str | Path | None,
) -> LiveFederation:
    """A live federation of a scenario file (its folder resolves its paths) or model (resolved
    against ``base_dir``)."""
    base = Path.cwd() if base_dir is None else Path(base_dir)
    if isinstance(scenario, Scenario):
        model, folder = scenario, base
    else:
        model, folder = load_scenario(scenario)
    typed = options if isinstance(options, EnvOptions) else EnvOptions.model_validate(options or {})
    return LiveFederation(model, folder, households, typed, base)


def _spaces(options: EnvOptions) -> tuple[spaces.Box, spaces.Space]:
    """Observation and action space of one learned household."""
    low, high = observation_bounds(observation_fields(options.forecast_intervals))
    observation_space = spaces.Box(low=low, high=high, dtype=np.float32)
    if options.action == "discrete":
        action_space: spaces.Space = spaces.MultiDiscrete(
            [options.action_levels] * len(ACTION_FRACTIONS)
        )
    else:
        action_low, action_high = action_bounds()
        action_space = spaces.Box(low=action_low, high=action_high, dtype=np.float32)
    return observation_space, action_space


class HouseholdEnv(gymnasium.Env):
    """One household of a live federation, steered by the agent.

    Parameters
    ----------
    scenario : str, Path or Scenario
        A scenario file, or a scenario model.
    household : str, optional
        The learned household's id (default: the first trading household of the table).
    options : EnvOptions or dict, optional
        Decisions, actions and reward (default: `EnvOptions()`).
    base_dir : str or Path, optional
        Working directory of the federates (default: the current directory).

    Notes
    -----
    The reward is the household's money over the step [USD]: what its settlements paid it
    (trades and grid, income positive), less the voltage penalty. A settlement comes after its
    interval's delivery, so the money of the interval ordered at one step is part of the next
    step's reward; ``info["settled_intervals"]`` names the intervals paid.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(
        self,
        scenario: ScenarioSource,
        household: str | None = None,
        options: EnvOptions | dict[str, Any] | None = None,
        base_dir: str | Path | None = None,
    ):
        self._live = _live_federation(
            scenario, None if household is None else [household], options, base_dir
        )
        (self.household,) = self._live.households
        self.observation_space, self.action_space = _spaces(self._live.options)
        self._levels = (
            self._live.options.action_levels if self._live.options.action == "discrete" else None
        )

    @property
    def live_federation(self) -> LiveFederation:
        """The federation behind the environment (run folder of the episode, options)."""
        return self._live

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start a fresh federation; the first observation and its info."""
        super().reset(seed=seed)
        decision = self._live.start(seed)[self.household]
        return decision.observation, decision.info

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Act, and run the federation to the next decision."""
        decisions = self._live.step({self.household: decode_action(action, self._levels)})
        decision = decisions[self.household]
        return decision.observation, decision.reward_usd, decision.final, False, decision.info

    def close(self) -> None:
        """End the running episode and its federation."""
        self._live.stop()


class HouseholdParallelEnv(ParallelEnv):
    """Several households of a live federation, each an agent, acting at the same instants.

    Parameters
    ----------
    scenario : str, Path or Scenario
        A scenario file, or a scenario model.
    households : list of str
        The learned households' ids; they are the agents' names.
    options, base_dir
        As for `HouseholdEnv`.
    """

    metadata: ClassVar[dict[str, Any]] = {"name": "tefed_households_v0", "render_modes": []}

    def __init__(
        self,
        scenario: ScenarioSource,
        households: list[str],
        options: EnvOptions | dict[str, Any] | None = None,
        base_dir: str | Path | None = None,
    ):
        self._live = _live_federation(scenario, list(households), options, base_dir)
        self.possible_agents = list(self._live.households)
        self.agents: list[str] = []
        observation_space, action_space = _spaces(self._live.options)
        self.observation_spaces = dict.fromkeys(self.possible_agents, observation_space)
        self.action_spaces = dict.fromkeys(self.possible_agents, action_space)
        self._levels = (
            self._live.options.action_levels if self._live.options.action == "discrete" else None
        )

    @property
    def live_federation(self) -> LiveFederation:
        """The federation behind the environment (run folder of the episode, options)."""
        return self._live

    def observation_space(self, agent: str) -> spaces.Space:
        """The observation space of ``agent`` (the same for every household)."""
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        """The action space of ``agent`` (the same for every household)."""
        return self.action_spaces[agent]

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        """Start a fresh federation; every agent's first observation and info."""
        decisions = self._live.start(seed)
        self.agents = list(self.possible_agents)
        return (
            {agent: decisions[agent].observation for agent in self.agents},
            {agent: decisions[agent].info for agent in self.agents},
        )

    def step(self, actions: dict[str, np.ndarray]) -> tuple[dict[str, Any], ...]:
        """Act for every agent, and run the federation to the next decisions."""
        decided: dict[str, Decision] = self._live.step(
            {agent: decode_action(actions[agent], self._levels) for agent in self.agents}
        )
        agents = self.agents
        result = (
            {agent: decided[agent].observation for agent in agents},
            {agent: decided[agent].reward_usd for agent in agents},
            {agent: decided[agent].final for agent in agents},
            dict.fromkeys(agents, False),
            {agent: decided[agent].info for agent in agents},
        )
        self.agents = [agent for agent in agents if not decided[agent].final]
        return result

    def close(self) -> None:
        """End the running episode and its federation."""
        self._live.stop()
