"""Message payloads read back from HELICS byte for byte, at any length, in one process."""

from __future__ import annotations

import os
import uuid

import helics as h
import pytest

from tefed.runtime.helics_runtime import message_bytes, message_text


@pytest.fixture
def self_addressed_endpoint():
    """A message federate on its own in-process core, with one endpoint that messages itself."""
    name = f"payloads-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    info = h.helicsCreateFederateInfo()
    h.helicsFederateInfoSetCoreTypeFromString(info, "inproc")
    h.helicsFederateInfoSetCoreInitString(info, f"--autobroker --name={name}-core")
    h.helicsFederateInfoSetCoreName(info, f"{name}-core")
    federate = h.helicsCreateMessageFederate(name, info)
    h.helicsFederateInfoFree(info)
    endpoint = h.helicsFederateRegisterEndpoint(federate, "inbox", "")
    h.helicsFederateEnterExecutingMode(federate)
    try:
        yield federate, endpoint, f"{name}/inbox"
    finally:
        h.helicsFederateDisconnect(federate)
        h.helicsFederateFree(federate)


def _round_trip(federate, endpoint, address: str, payloads: list[bytes]) -> list:
    for payload in payloads:
        h.helicsEndpointSendBytesTo(endpoint, payload, address)
    h.helicsFederateRequestTime(federate, h.helicsFederateGetCurrentTime(federate) + 1.0)
    received = []
    while h.helicsEndpointHasMessage(endpoint):
        received.append(h.helicsEndpointGetMessage(endpoint))
    return received


def test_payloads_of_every_length_come_back_exactly(self_addressed_endpoint):
    """Lengths from 1 byte to 2 MB, NUL bytes inside, UTF-8 text: the bytes sent, in order."""
    payloads = [b"x", b"a\x00b", "prix \u20ac/kWh".encode()] + [
        bytes(range(256)) * (length // 256) + b"y" * (length % 256)
        for length in (255, 256, 1023, 1024, 1025, 65_537, 2_000_003)
    ]
    received = _round_trip(*self_addressed_endpoint, payloads)
    assert [message_bytes(raw) for raw in received] == payloads
    assert message_text(received[2]) == "prix \u20ac/kWh"


def test_bytes_that_are_not_utf8_become_replacement_characters(self_addressed_endpoint):
    (raw,) = _round_trip(*self_addressed_endpoint, [b'{"type": "orders\xff\xfe"}'])
    assert message_text(raw) == '{"type": "orders\ufffd\ufffd"}'
