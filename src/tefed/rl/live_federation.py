"""Episodes of a live federation with learned households: start, step, stop.

An episode is one run of the federation. The scenario is built with the learned households
taken out of the built-in ems (``ems.external``, as `tefed check-federate` does), each with a
federate entry of its own; `tefed.run.runner` starts the broker and every other federate as
processes on a broker port of the episode's own (in the environment's launcher process,
`tefed.rl.episode_launcher`), and the learned households' entries run in its learner host
process (`tefed.rl.learner_host`), each a `tefed.rl.learner_household.LearnerHousehold` driven
by tefed's HELICS runtime; the learner's own process runs no HELICS and forks nothing. A
learned household also subscribes to its service voltage and the market's traded energy and
mean trade price, beside the contract's price forecasts.

Nothing waits forever: a decision that does not come within ``step_timeout_s``, or a federation
that ended (a federate failed, a stall watchdog fired, the wall-clock limit passed), ends the
episode with a `FederationError` naming what happened. Closing an episode before its end makes
the learned households raise a HELICS global error, which stops every federate at once.
"""

from __future__ import annotations

import time
from pathlib import Path

from tefed.build.builder import build_federation
from tefed.contract import keys
from tefed.contract.errors import InputError
from tefed.contract.federation_file import FederationFile
from tefed.contract.run_folder import RunFolder
from tefed.rl.actions import HouseholdAction
from tefed.rl.episode_launcher import EpisodeEnd, EpisodeLauncher
from tefed.rl.learner_host import LearnerHost
from tefed.rl.learner_household import Decision
from tefed.rl.options import EnvOptions
from tefed.run.runner import new_run_folder
from tefed.scenario.model import ExternalHousehold, Scenario

#: The ``exec`` of a learned household's entry: the learner's process runs it, nobody starts it.
LEARNER_EXEC = "tefed-rl-learner"
#: How often a wait for decisions looks at the federation [s].
POLL_S = 0.05
#: How long stopping an episode waits for the federation's processes to end [s].
STOP_TIMEOUT_S = 60.0


class FederationError(RuntimeError):
    """The federation of an episode ended or stalled before the learner's next decision."""


class LiveFederation:
    """Runs episodes of one scenario with ``households`` steered by a learner.

    Parameters
    ----------
    scenario : Scenario
        The scenario (its ``seed`` is used until an episode names another).
    scenario_dir : Path
        Folder that the scenario's relative paths resolve against.
    households : list of str
        Ids of the learned households (from the scenario's household table).
    options : EnvOptions
        Decisions, actions and reward.
    base_dir : Path
        Working directory of the federates.

    Raises
    ------
    InputError
        When a household id is unknown, named twice, a community battery or already external.
    """

    def __init__(
        self,
        scenario: Scenario,
        scenario_dir: Path,
        households: list[str] | None,
        options: EnvOptions,
        base_dir: Path,
    ):
        self.options = options
        self._scenario = scenario
        self._scenario_dir = Path(scenario_dir).resolve()
        self._base_dir = Path(base_dir).resolve()
        self._built: dict[int, FederationFile] = {}
        self.households = self._learned(households)
        self._seed = scenario.seed
        self._launcher: EpisodeLauncher | None = None
        self._host: LearnerHost | None = None
        self._episode = 0
        self._end: EpisodeEnd | None = None
        self._finished = True
        #: Whether the host's last episode failed (see `start`).
        self._host_suspect = False
        #: The last episode the host was told to close.
        self._closed_episode = 0
        #: The run folder of the current (or last) episode.
        self.run_folder: RunFolder | None = None

    # --- set-up -------------------------------------------------------------------------------

    def _learned(self, households: list[str] | None) -> list[str]:
        """The learned households, checked against the household table (default: the first
        trading household)."""
        draft = build_federation(
            self._scenario,
            self._scenario_dir,
            self._federation_path(self._scenario.seed),
            self._base_dir,
            write_network=False,
        )
        table = draft.households_frame()
        free = table[~table["serves_community"].astype(bool)]
        if households is None:
            trading = free[free["strategy"] != "net_billing"]
            return [str((trading if not trading.empty else free)["household_id"].iloc[0])]
        taken = {entry.household_id for entry in self._scenario.ems.external}
        problems = [
            f"households[{k}]: got {household!r}; expected an id of a household of the "
            f"scenario's table ({', '.join(free['household_id'][:5])} …), not a community "
            "battery, not in ems.external, named once"
            for k, household in enumerate(households)
            if household not in set(free["household_id"])
            or household in taken
            or households.index(household) != k
        ]
        if problems or not households:
            raise InputError("learned households", problems or ["expected at least one id"])
        return list(households)

    def _federation(self, seed: int) -> FederationFile:
        """The federation of ``seed``, with the learned households as entries of their own
        (built once per seed, and written beside the episodes' run folders)."""
        if seed in self._built:
            return self._built[seed]
        scenario = self._scenario.model_copy(deep=True)
        scenario.seed = seed
        if "time_coordination" not in scenario.run.model_fields_set:
            # With federates in processes the broker grants each step to all: an episode is
            # one chain of federates waiting for each other, where distributed grants cost two
            # federates that both wait an endless exchange of time requests through the broker
            # (30-40 % of the steps per second, measured). On one core that exchange stays in
            # the process, and distributed grants were as fast or faster (47-68 steps/s against
            # 49-63, fast setting, 2026-12-07).
            scenario.run.time_coordination = (
                "distributed" if self.options.federates == "threads" else "global"
            )
        scenario.ems.external.extend(
            ExternalHousehold(household_id=household, exec=LEARNER_EXEC)
            for household in self.households
        )
        path = self._federation_path(seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = build_federation(scenario, self._scenario_dir, path, self._base_dir).model_dump(
            mode="json", exclude_none=True
        )
        names = set(self.entry_names)
        for entry in data["federates"]:
            if entry["name"] in names:
                household = entry["tefed"]["config"]["households"][0]
                entry["helics"]["subscriptions"].extend(_observed_subscriptions(household))
        federation = self._built[seed] = FederationFile.model_validate(data)
        path.write_text(federation.to_json_text())
        return federation

    def _federation_path(self, seed: int) -> Path:
        """Where the federation of ``seed`` is written: in the scenario's results folder."""
        root = self._scenario_dir / self._scenario.run.results_root / self._scenario.name
        return root / f"rl-federation-seed{seed}.json"

    @property
    def entry_names(self) -> list[str]:
        """Federate names of the learned households, in ``households`` order."""
        return [f"household_{household}" for household in self.households]

    # --- episodes -----------------------------------------------------------------------------

    def start(self, seed: int | None = None) -> dict[str, Decision]:
        """End any running episode and start one (scenario seed ``seed``, default: the last
        one used); the first decision of every learned household.

        Raises
        ------
        FederationError
            When the federation fails or stalls before the first decisions.
        """
        self.stop()
        if seed is not None:
            self._seed = int(seed)
        federation = self._federation(self._seed)
        folder = self.run_folder = new_run_folder(federation, self._base_dir)
        if not self.options.write_report:
            # Claimed here, so that no federate writes a report of this episode.
            folder.claim_report()
        if self._launcher is None:
            self._launcher, self._host = EpisodeLauncher(), LearnerHost()
        elif self._host_suspect:
            # A failed episode may have left a federate's thread running in the host (one stuck
            # in a computation never ends): the next episode gets a fresh host.
            self._host.quit()
            self._host = LearnerHost()
        self._host_suspect = False
        self._episode += 1
        self._end = None
        self._finished = False
        builtin = (
            [entry.name for entry in federation.federate_entries() if entry.runs_builtin]
            if self.options.federates == "threads"
            else []
        )
        started = self._launcher.launch(
            federation,
            self._federation_path(self._seed),
            self._base_dir,
            folder,
            [*self.entry_names, *builtin],
            self.options.step_timeout_s,
        )
        if isinstance(started, EpisodeEnd):
            self._end, self._finished = started, True
            raise FederationError(f"the federation of the episode did not start: {started.message}")
        self._host.join(
            self._episode, started, self._base_dir, folder, self.entry_names, builtin, self.options
        )
        return self._decisions()

    def step(self, actions: dict[str, HouseholdAction]) -> dict[str, Decision]:
        """Answer every household's pending decision; their next decisions.

        Parameters
        ----------
        actions : dict of str to HouseholdAction
            One action per learned household id.

        Raises
        ------
        RuntimeError
            Without a running episode, or when an action is missing.
        FederationError
            When the federation fails or stalls before the next decisions.
        """
        if self._finished:
            raise RuntimeError("no episode is running: call reset() first")
        missing = sorted(set(self.households) - set(actions))
        if missing:
            raise RuntimeError(f"no action for households {missing}")
        for household, name in zip(self.households, self.entry_names, strict=True):
            self._host.act(self._episode, name, actions[household])
        return self._decisions()

    def stop(self) -> None:
        """End the running episode (stopping the federation if it has not reached its end) and
        wait for its processes; nothing when none runs."""
        if self._host is not None and self._episode > self._closed_episode:
            # Also after the final decisions: the host then lets go of the households, and
            # its built-in federates' threads write their tables.
            self._closed_episode = self._episode
            try:
                self._host.close(self._episode)
                if not self._host.closed(self._episode, STOP_TIMEOUT_S):
                    self._host_suspect = True
            except (OSError, RuntimeError):
                self._host_suspect = True  # the host died; the next episode starts another
        self._finished = True
        if self._launcher is not None and self._launcher.running:
            self._end = self._launcher.end(STOP_TIMEOUT_S)

    def close(self) -> None:
        """Stop the running episode and the environment's helper processes."""
        self.stop()
        if self._launcher is not None:
            self._launcher.quit()
            self._host.quit()
            self._launcher = self._host = None

    @property
    def host_pid(self) -> int | None:
        """Process id of the learner host (`tefed.rl.learner_host`), where the learned
        households run, and with ``federates="threads"`` the built-in federates too; None
        before the first episode."""
        return None if self._host is None else self._host.pid

    @property
    def episode_end(self) -> EpisodeEnd | None:
        """How the last episode's federation ended, once it has."""
        return self._end

    # --- internals ----------------------------------------------------------------------------

    def _decisions(self) -> dict[str, Decision]:
        """The next decision of every learned household, watching the federation meanwhile."""
        names = dict(zip(self.entry_names, self.households, strict=True))
        decisions: dict[str, Decision] = {}
        left: set[str] = set()
        started = time.monotonic()
        while len(decisions) < len(names):
            try:
                reply = self._host.receive(POLL_S)
            except RuntimeError as error:
                # The host died (with the built-in federates in its threads: also a crash in
                # one of them, e.g. a feeder the power-flow engine cannot take).
                # Quitting the launcher stops the rest of the federation at once; the next
                # episode starts both helpers again.
                self._launcher.quit()
                self._host.quit()
                self._launcher = self._host = None
                self._finished = True
                raise FederationError(f"{error}; run folder {self.run_folder.path}") from None
            if reply is not None and reply[1] == self._episode:
                if reply[0] == "decision":
                    decisions[names[reply[2]]] = reply[3]
                else:
                    left.add(reply[2])
                continue
            problem = self._problem(time.monotonic() - started, left)
            if problem:
                self._host_suspect = True
                self.stop()
                raise FederationError(problem)
        if all(decision.final for decision in decisions.values()):
            self._finished = True
        return decisions

    def _problem(self, waited_s: float, left: set[str]) -> str:
        """Why the decisions will not come, or '' while they still may."""
        self._end = self._end or self._launcher.end(0.0)
        if self._end is None and left:
            # A learned household left the federation; the runner's outcome names why.
            self._end = self._launcher.end(STOP_TIMEOUT_S)
        if self._end is not None:
            return (
                f"the federation of the episode ended before the next decision: {self._end.message}"
            )
        if left:
            return f"the learned households {sorted(left)} left the federation"
        if waited_s > self.options.step_timeout_s:
            return (
                f"no decision within step_timeout_s={self.options.step_timeout_s:g} s; the "
                f"federation is still running (run folder {self.run_folder.path})"
            )
        return ""


def _observed_subscriptions(household: str) -> list[dict[str, object]]:
    """What a learned household reads beyond the contract: its voltage, the market's values."""
    return [
        {"key": keys.household_voltage(household), "type": "double", "unit": "pu"},
        {"key": keys.TRADED_ENERGY, "type": "double", "unit": "Wh"},
        {"key": keys.MEAN_TRADE_PRICE, "type": "double", "unit": "USD/kWh"},
    ]
