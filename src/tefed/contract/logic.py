"""The contract between a federate's logic and whatever drives it.

A federate's logic is a plain object with three calls, in this order::

    initialize(context)                     once, before time 0
    step(time_s, inputs) -> outputs         at every grid instant of ``schedule_s()``, in order
    write_progress(results, time_s)         after every step; writes the results that are due
    finalize(results)                       once, after the last step; writes its results

It never sees HELICS. The HELICS runtime (``helics_runtime``) and the in-process lockstep runner
(``lockstep``) drive the same objects with the same inputs, so logic can be tested without
processes and co-simulation overhead can be measured.

``write_progress`` lets a logic write its tables while the run goes on (`tefed.contract.
parted_table`: a part per simulated hour, 10 s of wall-clock time apart at least), so that a
run that fails keeps what was computed; ``finalize`` then writes the rest and makes each table
one file.

``inputs.values`` maps each subscribed key to its latest value: ``float`` for doubles (NaN before
the first publication), ``numpy.ndarray`` for vectors, ``str`` for strings. ``inputs.messages``
holds the messages delivered to the federate's endpoints since its previous step, ordered by
(delivery time, source, sequence). ``outputs.values`` maps publication keys to values of the
declared type; ``outputs.messages`` are sent from one of the federate's endpoints.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tefed.contract.messages import Message

if TYPE_CHECKING:
    from tefed.contract.federation_file import FederateEntry, FederationFile
    from tefed.contract.run_folder import RunFolder
    from tefed.contract.time_grid import TimeGrid


@dataclass
class StepInputs:
    """What a federate reads at one grid instant.

    ``silent`` holds the keys of the inputs no one published since the federate's previous
    step (HELICS then gives the last value again); empty where nothing tells (the lockstep
    runner, whose built-in federates publish every step).
    """

    values: Mapping[str, Any] = field(default_factory=dict)
    messages: list[Message] = field(default_factory=list)
    silent: frozenset[str] = frozenset()


class SilentPublisherError(RuntimeError):
    """A federate did not publish ``key`` at grid instant ``time_s``, as the contract has it
    publish every step (it left the federation, or skipped a step)."""

    def __init__(self, key: str, time_s: int):
        super().__init__(key, time_s)
        self.key, self.time_s = key, time_s


class MissingMessagesError(RuntimeError):
    """Messages the contract has endpoint ``endpoint`` send before grid instant ``time_s`` did
    not come (its federate left the federation, or skipped them): ``what`` names them."""

    def __init__(self, endpoint: str, time_s: int, what: str):
        super().__init__(endpoint, time_s, what)
        self.endpoint, self.time_s, self.what = endpoint, time_s, what


@dataclass
class StepOutputs:
    """What a federate publishes and sends at one grid instant."""

    values: dict[str, Any] = field(default_factory=dict)
    messages: list[Message] = field(default_factory=list)


@dataclass(frozen=True)
class FederateContext:
    """Everything a federate's logic may know about its place in the federation.

    Parameters
    ----------
    name : str
        This federate's name (unique in the federation).
    federation : FederationFile
        The whole federation file, as validated.
    entry : FederateEntry
        This federate's entry in it (its ``helics`` block and ``tefed`` section).
    base_dir : Path
        Folder that relative paths in the federation file resolve against (the federate's
        working directory under ``helics run``).
    """

    name: str
    federation: FederationFile
    entry: FederateEntry
    base_dir: Path

    @property
    def time_grid(self) -> TimeGrid:
        """The federation's time grid."""
        return self.federation.tefed.time.to_time_grid()

    @property
    def config(self) -> dict[str, Any]:
        """This federate's role-specific configuration (its ``tefed.config`` section)."""
        return self.entry.tefed.config

    @property
    def seed(self) -> int:
        """The federation's random seed."""
        return self.federation.tefed.seed

    def resolve(self, path: str | Path) -> Path:
        """Absolute path of a path given in the federation file."""
        path = Path(path)
        return path if path.is_absolute() else (self.base_dir / path).resolve()


class FederateLogic(ABC):
    """Base class of every built-in federate's logic (see module docstring for the contract)."""

    #: Role of this logic in the federation (``grid``, ``market``, ``ems``, ``price_feed``).
    role: str = ""

    @abstractmethod
    def initialize(self, context: FederateContext) -> None:
        """Read configuration and build models; called once before time 0."""

    @abstractmethod
    def schedule_s(self) -> np.ndarray:
        """Grid instants at which this federate steps [s], increasing, from the time grid."""

    @abstractmethod
    def step(self, time_s: int, inputs: StepInputs) -> StepOutputs:
        """Advance to grid instant ``time_s`` [s]: read inputs, compute, return outputs."""

    def write_progress(self, results: RunFolder, time_s: int) -> None:
        """Write the results that are due after the step at ``time_s`` [s]; called after every
        step. The default writes nothing (every table at ``finalize``)."""
        return None

    @abstractmethod
    def finalize(self, results: RunFolder) -> None:
        """Write this federate's results into the run folder; called once after the last step."""
