"""The ``interfaces`` check: what a candidate registered against what its role declares.

The declarations (`tefed.contract.role_interfaces`) are those the builder writes the candidate's
``helics`` block from, so the block and the expectations agree. Publications are compared by
key, type and unit, subscriptions by the keys the candidate's inputs connect to, endpoints by
name (``docs/interfaces.md``, "Publications and subscriptions" and "Endpoints and messages").
Pure: it judges a `CheckInputs`.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from tefed.conformance.observations import CheckInputs, Finding
from tefed.contract.role_interfaces import Interface

_TYPE_NAMES = {"double": "double", "float": "double", "vector": "vector"}
_TYPE_NAMES |= {"double_vector": "vector", "string": "string", "": "any", "any": "any"}


def _type_name(helics_type: str) -> str:
    """One name per HELICS value type (``float`` is ``double``, ``double_vector`` ``vector``)."""
    return _TYPE_NAMES.get(helics_type.strip().lower(), helics_type)


def check_interfaces(inputs: CheckInputs) -> list[Finding]:
    """Publications, subscriptions and endpoints against the role's declarations.

    Publications are compared by key, type and unit; subscriptions by the keys the candidate's
    inputs connect to (by type and unit when those keys are unknown); endpoints by name. When
    the broker could not be asked (the run ended during start-up), publications that the
    other federates' HELICS logs name as unpublished are reported instead; a candidate that
    never joined the federation registered nothing.

    Parameters
    ----------
    inputs : CheckInputs
        What the harness run observed of the candidate.

    Returns
    -------
    list of Finding
        One per violation; empty when the check passes.
    """
    answer = inputs.observations.interfaces
    declared = {spec.key: spec for spec in inputs.expected.publications}
    if inputs.observations.candidate_joined is False:
        return [
            Finding(
                "interfaces",
                f"'{inputs.federate}' registered no interfaces: it never joined the federation",
                "create the federate from its helics block "
                "(helicsCreateCombinationFederateFromConfig) and enter executing mode",
            )
        ]
    if answer is None:
        findings = [
            Finding(
                "interfaces",
                f"publication '{key}' is not registered (its subscribers found no publisher)",
                f"register '{key}' (global) as the helics block lists it",
            )
            for key in inputs.unpublished_targets
            if key in declared
        ]
        return findings or [
            Finding(
                "interfaces",
                "the broker could not be asked what the candidate registered (the run ended "
                "during start-up)",
                "create the federate from its helics block and enter executing mode",
            )
        ]
    findings = _publication_findings(declared, answer.get("publications", []))
    findings += _subscription_findings(inputs)
    expected = set(inputs.expected.endpoints)
    registered = {item["name"] for item in answer.get("endpoints", [])}
    findings += [
        Finding(
            "interfaces",
            f"endpoint '{name}' is not registered",
            f"register the global endpoint '{name}' of the helics block",
        )
        for name in sorted(expected - registered)
    ]
    findings += [
        Finding(
            "interfaces",
            f"endpoint '{name}' is registered but not in the helics block",
            "register only the endpoints of the helics block",
        )
        for name in sorted(registered - expected)
    ]
    return findings


def _publication_findings(
    declared: dict[str, Interface], registered: list[dict[str, Any]]
) -> list[Finding]:
    by_key = {item["name"]: item for item in registered}
    findings = [
        Finding(
            "interfaces",
            f"publication '{key}' is not registered",
            f"register '{key}' (global, type {declared[key].helics_type}, unit "
            f"{declared[key].unit}) as the helics block lists it",
        )
        for key in sorted(declared.keys() - by_key.keys())
    ]
    findings += [
        Finding(
            "interfaces",
            f"publication '{key}' is registered but not in the helics block",
            "publish only the keys of the helics block (docs/interfaces.md lists them)",
        )
        for key in sorted(by_key.keys() - declared.keys())
    ]
    for key in sorted(declared.keys() & by_key.keys()):
        spec, item = declared[key], by_key[key]
        got_type, got_unit = item.get("type", ""), item.get("units", "")
        if _type_name(got_type) != _type_name(spec.helics_type):
            findings.append(
                Finding(
                    "interfaces",
                    f"publication '{key}' has type '{got_type}', expected '{spec.helics_type}'",
                    f"register '{key}' with type '{spec.helics_type}'",
                )
            )
        if got_unit.strip() != spec.unit:
            findings.append(
                Finding(
                    "interfaces",
                    f"publication '{key}' has unit '{got_unit}', expected '{spec.unit}'",
                    f"register '{key}' with unit '{spec.unit}'",
                )
            )
    return findings


def _subscription_findings(inputs: CheckInputs) -> list[Finding]:
    declared, observed = inputs.expected.subscriptions, inputs.observations
    fix = "subscribe to exactly the keys of the helics block ('subscriptions')"
    if observed.subscription_targets is not None:
        wanted = Counter(spec.key for spec in declared)
        targets = Counter(observed.subscription_targets)
        missing = [f"no subscription to '{key}'" for key in sorted((wanted - targets).keys())]
        extra = [
            f"subscribes to '{key}', which the helics block does not"
            for key in sorted((targets - wanted).keys())
        ]
    else:
        wanted = Counter((_type_name(spec.helics_type), spec.unit) for spec in declared)
        registered = Counter(
            (_type_name(item.get("type", "")), item.get("units", ""))
            for item in (observed.interfaces or {}).get("inputs", [])
        )
        missing = [
            f"{count} subscription(s) of type {kind} [{unit}] missing; the helics block "
            "subscribes to "
            + ", ".join(
                s.key for s in declared if (_type_name(s.helics_type), s.unit) == (kind, unit)
            )
            for (kind, unit), count in sorted((wanted - registered).items())
        ]
        extra = [
            f"{count} input(s) of type {kind} [{unit}] that the helics block does not have"
            for (kind, unit), count in sorted((registered - wanted).items())
        ]
    findings = [Finding("interfaces", message, fix) for message in missing + extra]
    if observed.unconnected_inputs:
        findings.append(
            Finding(
                "interfaces",
                f"{observed.unconnected_inputs} input(s) connect to no publication",
                "give every input a target that another federate publishes",
            )
        )
    return findings
