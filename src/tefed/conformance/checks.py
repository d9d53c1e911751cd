"""Conformance checks of a replacement federate against the contract in ``docs/interfaces.md``.

A harness run (`tefed.conformance.harness`) puts the candidate program in place of one
built-in federate, watches it with a probe federate (`tefed.runtime.probe`) and
collects what happened into `CheckInputs`. Each check is a small pure function of those inputs
returning `Finding` objects that say what is wrong and how to fix it; no finding means the check
passed. Nothing here talks to HELICS or reads files.

Checks (``CHECKS``, in report order):

- ``interfaces``: publications, subscriptions and endpoints registered against the ``helics``
  block; the type and unit of every publication;
- ``finite values``: every published number is finite;
- ``time grid``: every value update, message and granted time lies on the federate's grid,
  ``n·period + offset``, inside the run;
- ``every step``: values due at fixed instants (household power, grid state, prices, the
  market's traded energy at each gate closure) are published at each of them;
- ``message schema``: every message the candidate sends parses against its schema
  (``docs/message_schemas.json``) and goes to an endpoint of the right kind;
- ``gate closure``: no orders arrive after the gate of their interval closed;
- ``market refusals``: no other orders are refused by the market;
- ``awards``: a market's awards fill no order beyond its quantity or limit price, and the two
  awards of a trade between households agree (bought = sold, payments cancel);
- ``settlement``: a market's settlements are what the delivery rules give from its awards, the
  households' metering and the interval's prices;
- ``finishing``: the run completes and the candidate exits with 0;
- ``disconnecting``: the candidate disconnects when the run is over, and its process exits.

Every check takes one `CheckInputs` and returns a list of `Finding` (empty: passed); the
interface check lives in `tefed.conformance.interfaces`, the message checks in
`tefed.conformance.messages`, the awards check in `tefed.conformance.awards`, the settlement
check in `tefed.conformance.settlement`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tefed.conformance.awards import check_awards
from tefed.conformance.interfaces import check_interfaces
from tefed.conformance.messages import (
    check_gate_closure,
    check_market_refusals,
    check_message_schema,
)
from tefed.conformance.observations import (
    TIME_TOLERANCE_S,
    CheckInputs,
    Finding,
    capped,
    on_grid,
    publication_due_times_s,
    time_text,
)
from tefed.conformance.roles import ROLES
from tefed.conformance.settlement import check_settlement
from tefed.runtime.probe import HELICS_MAX_TIME_S
from tefed.runtime.stall_watchdog import READY, STARTUP_TAG

_EXIT_CODES = "1: it failed, 2: input error, 3: stopped because another federate failed"
#: How the startup watchdog's message begins (`tefed.runtime.stall_watchdog`).
_STARTUP_STALL = "federation stalled at startup"
#: How `tefed run` names a federate that exited before the federation started
#: (`tefed.run.runner`): it never entered executing mode, whether or not the probe saw it join.
_LEFT_BEFORE_START = "exited with code 0 before the federation started"


# --- values and timing --------------------------------------------------------------------------


def check_finite_values(inputs: CheckInputs) -> list[Finding]:
    """Every published number is finite (no NaN, no infinity).

    Parameters
    ----------
    inputs : CheckInputs
        What the harness run observed of the candidate.

    Returns
    -------
    list of Finding
        One per violation; empty when the check passes.
    """
    return capped(
        [
            Finding(
                "finite values",
                f"'{item['key']}' published {item['value']} at {time_text(item['time_s'])}",
                "publish finite numbers only; the grid and the market stop the run on a "
                "missing or non-finite household power",
            )
            for item in inputs.observations.non_finite_values
        ]
    )


def check_time_grid(inputs: CheckInputs) -> list[Finding]:
    """Value updates, messages and granted times lie on ``n·period + offset`` within the run.

    Parameters
    ----------
    inputs : CheckInputs
        What the harness run observed of the candidate.

    Returns
    -------
    list of Finding
        One per violation; empty when the check passes.
    """
    expected, observed = inputs.expected, inputs.observations
    seen = [
        (time_s, f"value of '{key}'")
        for key, times in observed.update_times_s.items()
        for time_s in times
    ]
    seen += [(item["time_s"], f"message to '{item['destination']}'") for item in observed.messages]
    # A granted time is sampled by the probe (whether it sees one depends on timing); it adds
    # a finding only where no value or message already shows the same off-grid time.
    shown = {time_s for time_s, _ in seen}
    seen += [
        (time_s, "granted time")
        for time_s in observed.granted_times_s
        if 0 < time_s < HELICS_MAX_TIME_S and time_s not in shown
    ]
    end_s = inputs.time_grid.duration_s
    off_grid = sorted(
        (time_s, what)
        for time_s, what in seen
        if not on_grid(time_s, expected.period_s, expected.offset_s, end_s)
    )
    fix = (
        f"request only times n·{expected.period_s:g} + {expected.offset_s:g} s up to the end of "
        "the run: create the federate from its helics block (period, offset, uninterruptible) "
        "and request the time of its next step"
    )
    return capped(
        [
            Finding("time grid", f"{what} at {time_text(t)} is off the grid", fix)
            for t, what in off_grid
        ]
    )


def check_every_step(inputs: CheckInputs) -> list[Finding]:
    """Values with a fixed cadence are published at every instant they are due.

    Judged only for a run that completed, and for publications the candidate registered (the
    ``interfaces`` check reports the others).

    Parameters
    ----------
    inputs : CheckInputs
        What the harness run observed of the candidate.

    Returns
    -------
    list of Finding
        One per violation; empty when the check passes.
    """
    if inputs.run.message:
        return []
    observed = inputs.observations
    registered = {item["name"] for item in (observed.interfaces or {}).get("publications", [])}
    findings = []
    for spec in inputs.expected.publications:
        due = publication_due_times_s(inputs.role, spec.key, inputs.time_grid)
        if spec.key not in registered or due is None or not due.size:
            continue
        times = np.asarray(observed.update_times_s.get(spec.key, []), dtype=float)
        published = np.isclose(
            (due + inputs.expected.offset_s)[:, None], times[None, :], atol=TIME_TOLERANCE_S
        ).any(axis=1)
        if not published.all():
            findings.append(
                Finding(
                    "every step",
                    f"'{spec.key}' was not published at {int((~published).sum())} of the "
                    f"{due.size} instants it is due (first {time_text(due[~published][0])})",
                    "publish it at every instant the column 'when' of docs/interfaces.md names",
                )
            )
    return capped(findings)


# --- end of the run -----------------------------------------------------------------------------


def check_finishing(inputs: CheckInputs) -> list[Finding]:
    """The run completes (no failure, no stall, within the wall-clock limit) and the candidate
    exits with 0; a candidate that never joined the federation or never entered executing mode
    is named as such, with its exit code when its process had exited.

    Parameters
    ----------
    inputs : CheckInputs
        What the harness run observed of the candidate.

    Returns
    -------
    list of Finding
        One per violation; empty when the check passes.
    """
    run, name, final = inputs.run, inputs.federate, inputs.observations.final
    first_line = run.message.splitlines()[0] if run.message else ""
    read_log = f"read logs/{run.failed_federate}.log in the run folder"
    findings = []
    not_started = _not_started(inputs)
    if not_started is not None:
        findings.append(not_started)
    elif run.time_limit_reached:
        if final is None:
            findings.append(
                Finding(
                    "finishing",
                    f"the run did not reach its end within the wall-clock limit: {first_line}",
                    "step through the whole time grid without waiting outside HELICS calls",
                )
            )
    elif run.message and run.stalled and run.failed_federate == name:
        findings.append(
            Finding(
                "finishing",
                f"the run stalled waiting for '{name}': {first_line}",
                "request the next time as soon as a step is computed; never block outside "
                "HELICS calls for longer than the stall timeout",
            )
        )
    elif run.message and run.failed_federate == name:
        findings.append(
            Finding(
                "finishing",
                f"'{name}' failed and ended the run: {first_line}",
                f"{read_log}; exit with 0 after a complete run ({_EXIT_CODES})",
            )
        )
    elif run.message:
        findings.append(
            Finding(
                "finishing",
                f"the run did not complete, '{run.failed_federate}' ended it: {first_line}",
                f"{read_log}; a built-in federate usually stops the run because of a value or "
                "message of the candidate",
            )
        )
    code = run.exit_codes.get(name)
    if code is not None and code > 0 and run.failed_federate != name:
        findings.append(
            Finding(
                "finishing",
                f"'{name}' exited with code {code}",
                f"exit with 0 after a complete run ({_EXIT_CODES})",
            )
        )
    return findings


def _not_started(inputs: CheckInputs) -> Finding | None:
    """The finding for a candidate that ended the run before it entered executing mode: it
    never joined the federation (the probe saw the broker not know it), the run stalled at
    startup waiting for it, or `tefed run` ended the run because it exited before the start;
    None otherwise."""
    run, name = inputs.run, inputs.federate
    joined = inputs.observations.candidate_joined
    first_line = run.message.splitlines()[0] if run.message else ""
    stalled_at_startup = run.stalled and _STARTUP_STALL in first_line
    left_before_start = _LEFT_BEFORE_START in first_line
    if run.failed_federate != name or not (
        joined is False or stalled_at_startup or left_before_start
    ):
        return None
    if joined is False:
        what, before = f"'{name}' never joined the federation", "creating its federate"
    else:
        what, before = f"'{name}' never entered executing mode", "entering executing mode"
    code = run.exit_codes.get(name)
    if code is not None and (code >= 0 or not stalled_at_startup):
        killed = " (killed by a signal)" if code < 0 else ""
        how = f"its process exited with code {code}{killed} before {before}"
    else:
        stopped = "" if code is None else f" (exit code {code})"
        how = f"its process was still running when the run was stopped{stopped}"
    return Finding(
        "finishing",
        f"{what}: {how}; {first_line}",
        "create the federate from its helics block (helicsCreateCombinationFederateFromConfig),"
        f" set the tag {STARTUP_TAG} to {READY} and enter executing mode within "
        f"run.startup_timeout_s; read logs/{name}.log in the run folder",
    )


def check_disconnecting(inputs: CheckInputs) -> list[Finding]:
    """The candidate disconnects when the run is over, and its process then exits.

    The probe gives it a grace period after every other federate finished; a process that
    exits without disconnecting leaves its federate connected too.

    Parameters
    ----------
    inputs : CheckInputs
        What the harness run observed of the candidate.

    Returns
    -------
    list of Finding
        One per violation; empty when the check passes.
    """
    run, name, final = inputs.run, inputs.federate, inputs.observations.final
    code = run.exit_codes.get(name)
    fix = (
        "after the last step call helicsFederateDisconnect, helicsFederateFree and "
        "helicsCloseLibrary (in a finally block), then exit"
    )
    if final is not None and final.get("candidate_connected"):
        if code == 0:
            message = f"'{name}' exited without disconnecting its federate"
        else:
            message = (
                f"'{name}' was still connected {final.get('waited_s', 0):g} s after every other "
                "federate had finished"
            )
        return [Finding("disconnecting", message, fix)]
    if run.time_limit_reached and final is not None and code is not None and code < 0:
        return [
            Finding(
                "disconnecting",
                f"'{name}' disconnected but its process kept running until the wall-clock "
                "limit stopped it",
                fix,
            )
        ]
    return []


#: Every check, in report order.
CHECKS: tuple[Callable[[CheckInputs], list[Finding]], ...] = (
    check_interfaces,
    check_finite_values,
    check_time_grid,
    check_every_step,
    check_message_schema,
    check_gate_closure,
    check_market_refusals,
    check_awards,
    check_settlement,
    check_finishing,
    check_disconnecting,
)


def run_checks(inputs: CheckInputs) -> list[Finding]:
    """Findings of every check, in report order.

    Parameters
    ----------
    inputs : CheckInputs
        What one harness run observed of the candidate.

    Returns
    -------
    list of Finding
        Every violation found; empty when the candidate conforms.

    Raises
    ------
    ValueError
        When ``inputs.role`` is not one of ``ROLES``.
    """
    if inputs.role not in ROLES:
        raise ValueError(f"role: got {inputs.role!r}; expected one of {list(ROLES)}")
    return [finding for check in CHECKS for finding in check(inputs)]
