"""Learning environments over a live federation: the libraries' own checkers, the household's
physics, a failed federation, a closed episode."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from federations import REPO
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import parallel_api_test

from tefed.build.builder import build_federation
from tefed.contract.errors import InputError
from tefed.contract.run_folder import RunFolder
from tefed.rl.environments import HouseholdEnv, HouseholdParallelEnv
from tefed.rl.live_federation import FederationError
from tefed.rl.observations import observation_fields
from tefed.run.runner import run_federation
from tefed.scenario.model import load_scenario

pytestmark = pytest.mark.federation

LEARNING_SCENARIO = REPO / "scenarios" / "learning_household.yaml"


def one_hour(tmp_path: Path, **overrides: object):
    """The learning scenario cut to one hour (three intervals with a market), results in tmp."""
    scenario, _ = load_scenario(
        LEARNING_SCENARIO,
        {"time.duration_s": 3600, "run.results_root": str(tmp_path), **overrides},
    )
    return scenario


def field_slice(name: str, forecast_intervals: int = 4) -> slice:
    start = 0
    for field in observation_fields(forecast_intervals):
        if field.name == name:
            return slice(start, start + field.size)
        start += field.size
    raise KeyError(name)


def federate_pid(run_folder: Path, role: str) -> int:
    """The process of the built-in federate of ``role`` of a run (its title names both)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if f"tefed.federates.{role}" in command and str(run_folder) in command:
                return int(entry.name)
    raise LookupError(f"no {role} process of {run_folder}")


@pytest.mark.parametrize("kind", ["continuous", "discrete"])
def test_gymnasium_checker_passes_both_action_kinds(tmp_path: Path, kind: str):
    env = HouseholdEnv(one_hour(tmp_path), options={"action": kind}, base_dir=REPO)
    try:
        check_env(env, skip_render_check=True)
    finally:
        env.close()


def test_pettingzoo_checker_passes(tmp_path: Path):
    env = HouseholdParallelEnv(one_hour(tmp_path), ["h01", "h05"], base_dir=REPO)
    try:
        parallel_api_test(env, num_cycles=10)
    finally:
        env.close()


def test_episode_follows_the_market_and_the_battery(tmp_path: Path):
    env = HouseholdEnv(one_hour(tmp_path), household="h01", base_dir=REPO)
    try:
        observation, _ = env.reset(seed=5)
        soc = field_slice("soc_kwh")
        # Charge at full power and offer 1 kWh at the export price: a consumer buys it.
        charge_and_sell = np.array([1.0, 0.0, 0.0, 0.8, 0.0], dtype=np.float32)
        rewards, infos, observations = [], [], [observation]
        terminated = False
        while not terminated:
            observation, reward, terminated, truncated, info = env.step(charge_and_sell)
            assert not truncated
            rewards.append(reward)
            infos.append(info)
            observations.append(observation)
        folder = env.live_federation.run_folder.path
    finally:
        env.close()
    assert env.live_federation.episode_end.clean
    # Three intervals with a market (1 … 3); the last step brings the last two settlements.
    assert [info["settled_intervals"] for info in infos] == [[0], [1], [2, 3]]
    # The battery charged (the tefed battery model: 5 kW for whole intervals, within limits).
    assert observations[-1][soc][0] > observations[0][soc][0]
    assert sum(info["battery_charged_kwh"] for info in infos) > 1.0
    # The market settled what the household published and the grid metered: the reward is
    # the money of its settlement lines, income positive.
    ledger = pd.read_parquet(folder / "market_settlements.parquet")
    own = ledger[ledger["participant"] == "h01"]
    assert sum(rewards) == pytest.approx(-own["amount_usd"].sum(), abs=1e-9)
    trades = pd.read_parquet(folder / "market_trades.parquet")
    assert (trades["seller"] == "h01").any()


def test_learned_household_draws_what_the_builtin_ems_would_have(tmp_path: Path):
    """Battery idle, no orders: a household without a battery (h05, PV) is metered per interval
    exactly as in the same scenario with the built-in ems (tefed's profiles and devices)."""
    scenario = one_hour(tmp_path)
    path = tmp_path / "builtin" / "federation.json"
    path.parent.mkdir()
    federation = build_federation(scenario, LEARNING_SCENARIO.parent, path, REPO)
    path.write_text(federation.to_json_text())
    folder = RunFolder(tmp_path / "builtin" / "run")
    outcome = run_federation(federation, REPO, folder, show_progress=False, source_path=path)
    assert outcome.ok, outcome.message
    builtin = pd.read_parquet(folder.path / "household_intervals")
    expected = builtin[builtin["household_id"] == "h05"].set_index("interval_index")["energy_wh"]
    env = HouseholdEnv(scenario, household="h05", base_dir=REPO)
    metered: dict[int, float] = {}
    try:
        env.reset(seed=scenario.seed)
        terminated = False
        while not terminated:
            _, _, terminated, _, info = env.step(np.array([0, 0, 0, 0, 0], dtype=np.float32))
            metered.update(zip(info["settled_intervals"], info["settled_energy_wh"], strict=True))
    finally:
        env.close()
    assert sorted(metered) == sorted(expected.index)
    for interval, energy_wh in metered.items():
        assert energy_wh == pytest.approx(expected[interval], abs=1e-6)


@pytest.mark.parametrize("federates", ["processes", "threads"])
def test_a_failed_federate_ends_the_episode_with_an_error(tmp_path: Path, federates: str):
    """A killed grid process, or (its federates in threads) a killed learner host, as a crash
    of the power-flow engine would kill it: the step raises, and the next episode runs."""
    env = HouseholdEnv(one_hour(tmp_path), options={"federates": federates}, base_dir=REPO)
    try:
        env.reset(seed=5)
        if federates == "processes":
            os.kill(federate_pid(env.live_federation.run_folder.path, "grid"), signal.SIGKILL)
            expected = "grid"
        else:
            os.kill(env.live_federation.host_pid, signal.SIGKILL)
            expected = "learner_host died"
        with pytest.raises(FederationError, match=expected):
            for _ in range(4):
                env.step(env.action_space.sample())
        env.reset(seed=5)
        terminated = False
        while not terminated:
            _, _, terminated, _, _ = env.step(env.action_space.sample())
    finally:
        env.close()
    assert env.live_federation.episode_end.clean


def test_federates_in_threads_give_the_episode_of_federates_in_processes(tmp_path: Path):
    """The built-in federates in threads of the learner host on one core, or each in a process
    of its own: the same actions give the same tables, bit for bit, and each federate keeps
    a log file of its own."""
    folders = {}
    for federates in ("processes", "threads"):
        env = HouseholdEnv(
            one_hour(tmp_path / federates), options={"federates": federates}, base_dir=REPO
        )
        env.action_space.seed(11)
        try:
            env.reset(seed=5)
            terminated = False
            while not terminated:
                _, _, terminated, _, _ = env.step(env.action_space.sample())
            folders[federates] = env.live_federation.run_folder.path
        finally:
            env.close()
    tables = sorted(
        path.name
        for path in folders["processes"].iterdir()
        if path.suffix == ".parquet" or (path.is_dir() and path.name.startswith("household"))
    )
    assert {"market_trades.parquet", "grid.parquet", "household_intervals"} <= set(tables)
    for name in tables:
        pd.testing.assert_frame_equal(
            pd.read_parquet(folders["threads"] / name),
            pd.read_parquet(folders["processes"] / name),
            obj=name,
        )
    logs = {path.name for path in (folders["threads"] / "logs").iterdir()}
    assert {"price_feed.log", "ems.log", "grid.log", "market.log", "learners.log"} <= logs


def test_unknown_household_is_an_input_error(tmp_path: Path):
    with pytest.raises(InputError, match="h99"):
        HouseholdEnv(one_hour(tmp_path), household="h99", base_dir=REPO)


def test_an_episode_ended_early_prints_no_helics_errors(tmp_path: Path, capfd):
    """Ending an episode early is routine in training: HELICS printed two error lines from the
    learner's household on the learner's console at every such reset."""
    env = HouseholdEnv(one_hour(tmp_path), base_dir=REPO)
    try:
        env.reset(seed=1)
        env.step(env.action_space.sample())
        env.reset(seed=2)  # ends the first episode early
    finally:
        env.close()
    captured = capfd.readouterr()
    assert "[error]" not in captured.out + captured.err
