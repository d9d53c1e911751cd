"""Step every built-in federate's logic in one process, without HELICS.

The lockstep runner reproduces the federation's data flow exactly: federates step at their
scheduled grid instants in phase order (price feed, households, grid, market); a subscription
reads the latest value published at an earlier HELICS time; a message is delivered to its
destination endpoint at the destination's next step. Results are the same numbers a HELICS run
produces, so it serves fast tests of federate logic and measures co-simulation overhead.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tefed.contract.federation_file import FederateEntry, FederationFile
from tefed.contract.logic import FederateContext, FederateLogic, Message, StepInputs
from tefed.contract.run_folder import RunFolder

log = logging.getLogger("tefed.lockstep")


@dataclass
class _Member:
    entry: FederateEntry
    logic: FederateLogic
    subscriptions: list[tuple[str, str]]
    publications: set[str]
    endpoints: set[str]
    busy_s: float = 0.0


def run_lockstep(
    federation: FederationFile,
    base_dir: Path,
    run_folder: RunFolder,
    make_logic: Mapping[str, Callable[[], FederateLogic]],
    on_step: Callable[[str, int, float], None] | None = None,
) -> dict[str, float]:
    """Run every tefed federate of ``federation`` in this process.

    Parameters
    ----------
    federation : FederationFile
        The federation to run; only entries that run built-in federates take part.
    base_dir : Path
        Folder that relative paths in the federation file resolve against.
    run_folder : RunFolder
        Where each federate writes its results (``write_progress`` after every step, so that a
        run that fails keeps them, and ``finalize``).
    make_logic : mapping of str to callable
        Logic factory per role.
    on_step : callable, optional
        Called after every step with the federate's name, the simulated time of the step [s]
        and the wall time the step took [s] (for progress bars and step statistics). It does not
        change the stepping; an exception it raises ends the run.

    Returns
    -------
    dict of str to float
        Wall time each federate spent computing [s].
    """
    grid = federation.tefed.time.to_time_grid()
    members = []
    for entry in federation.federate_entries():
        if entry.tefed is None:
            continue
        logic = make_logic[entry.tefed.role]()
        block = entry.helics or {}
        members.append(
            _Member(
                entry=entry,
                logic=logic,
                subscriptions=[
                    (spec["key"], (spec.get("type") or "double").lower())
                    for spec in block.get("subscriptions", [])
                ],
                publications={spec["key"] for spec in block.get("publications", [])},
                endpoints={spec["name"] for spec in block.get("endpoints", [])},
            )
        )
    for member in members:
        started = time.perf_counter()
        member.logic.initialize(
            FederateContext(
                name=member.entry.name, federation=federation, entry=member.entry, base_dir=base_dir
            )
        )
        member.busy_s += time.perf_counter() - started

    events = sorted(
        (grid.helics_time(int(time_s), member.logic.role), index, int(time_s))
        for index, member in enumerate(members)
        for time_s in member.logic.schedule_s()
    )
    values: dict[str, object] = {}
    mailboxes: dict[str, list[Message]] = {
        name: [] for member in members for name in member.endpoints
    }
    for helics_time_s, index, time_s in events:
        member = members[index]
        inputs = StepInputs(
            values={key: values.get(key, _missing(kind)) for key, kind in member.subscriptions},
            messages=_collect(mailboxes, member.endpoints),
        )
        started = time.perf_counter()
        outputs = member.logic.step(time_s, inputs)
        step_busy_s = time.perf_counter() - started
        member.busy_s += step_busy_s
        started = time.perf_counter()
        member.logic.write_progress(run_folder, time_s)
        member.busy_s += time.perf_counter() - started
        for key, value in outputs.values.items():
            if key not in member.publications:
                raise KeyError(f"federate '{member.entry.name}' published undeclared key {key!r}")
            values[key] = value
        for message in outputs.messages:
            if message.source not in member.endpoints:
                raise KeyError(
                    f"federate '{member.entry.name}' sent from undeclared endpoint "
                    f"{message.source!r}"
                )
            delivered = Message(message.source, message.destination, message.payload, helics_time_s)
            if message.destination in mailboxes:
                mailboxes[message.destination].append(delivered)
            else:
                log.warning("message to unknown endpoint %r dropped", message.destination)
        if on_step is not None:
            on_step(member.entry.name, time_s, step_busy_s)

    for member in members:
        started = time.perf_counter()
        member.logic.finalize(run_folder)
        member.busy_s += time.perf_counter() - started
    return {member.entry.name: member.busy_s for member in members}


def _missing(kind: str) -> object:
    if kind in ("vector", "double_vector"):
        return np.zeros(0)
    if kind == "string":
        return ""
    return math.nan


def _collect(mailboxes: dict[str, list[Message]], endpoints: set[str]) -> list[Message]:
    delivered = []
    for name in sorted(endpoints):
        delivered.extend(mailboxes[name])
        mailboxes[name] = []
    delivered.sort(key=lambda message: (message.time_s, message.source))
    return delivered
