"""Two federates for the sender-identity test: ``python spoofing_sender.py ROLE PORT``.

- ``sender`` (endpoint ``household/h01``) sends the market three messages at t=0: one whose
  ``source`` and ``original_source`` it sets to other households, one with only
  ``original_source`` set to ``market``, and one of bytes that are not UTF-8;
- ``receiver`` (endpoint ``market``) reads them at t=1 through tefed's runtime functions and
  prints one line ``REPORT {json}``: the list of (source, text) tefed's logic would see.
"""

import json
import sys

import helics as h

from tefed.runtime.helics_runtime import message_source, message_text

REPORT = "REPORT"


def main(role: str, port: str) -> None:
    info = h.helicsCreateFederateInfo()
    h.helicsFederateInfoSetCoreTypeFromString(info, "zmq")
    h.helicsFederateInfoSetCoreInitString(
        info, f"--federates=1 --brokerport={port} --loglevel=warning"
    )
    h.helicsFederateInfoSetTimeProperty(info, h.HELICS_PROPERTY_TIME_PERIOD, 1.0)
    federate = h.helicsCreateMessageFederate(role, info)
    h.helicsFederateInfoFree(info)
    name = "household/h01" if role == "sender" else "market"
    endpoint = h.helicsFederateRegisterGlobalEndpoint(federate, name, "")
    try:
        h.helicsFederateEnterExecutingMode(federate)
        if role == "sender":
            spoofed = h.helicsEndpointCreateMessage(endpoint)
            h.helicsMessageSetDestination(spoofed, "market")
            h.helicsMessageSetSource(spoofed, "household/h02")
            h.helicsMessageSetOriginalSource(spoofed, "household/h03")
            h.helicsMessageSetString(spoofed, "as h02")
            h.helicsEndpointSendMessage(endpoint, spoofed)
            as_market = h.helicsEndpointCreateMessage(endpoint)
            h.helicsMessageSetDestination(as_market, "market")
            h.helicsMessageSetOriginalSource(as_market, "market")
            h.helicsMessageSetString(as_market, "as market")
            h.helicsEndpointSendMessage(endpoint, as_market)
            h.helicsEndpointSendBytesTo(endpoint, b"\xff\xfeorders", "market")
        seen = []
        time_s = 0.0
        while time_s < 2.0:
            time_s = h.helicsFederateRequestTime(federate, time_s + 1.0)
            while role == "receiver" and h.helicsEndpointHasMessage(endpoint):
                raw = h.helicsEndpointGetMessage(endpoint)
                seen.append([message_source(raw), message_text(raw)])
        if role == "receiver":
            sys.stdout.write(f"{REPORT} {json.dumps(seen)}\n")
            sys.stdout.flush()
    finally:
        h.helicsFederateDisconnect(federate)
        h.helicsFederateFree(federate)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
