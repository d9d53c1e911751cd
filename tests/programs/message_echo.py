"""Two-federate message test for the transport tefed's federations use.

Run as ``python message_echo.py NAME PORT CORE_TYPE SIZE``: federate ``a`` sends a message of
SIZE bytes to ``b`` at t=0; ``b`` prints the size it received.
"""

import json
import sys

import helics as h


def main(name: str, port: str, core_type: str, size: int) -> None:
    config = {
        "name": name,
        "core_type": core_type,
        "brokerport": port,
        "period": 1.0,
        "endpoints": [{"name": f"{name}/inbox", "global": True}],
    }
    federate = h.helicsCreateCombinationFederateFromConfig(json.dumps(config))
    try:
        inbox = h.helicsFederateGetEndpoint(federate, f"{name}/inbox")
        h.helicsFederateEnterExecutingMode(federate)
        if name == "a":
            h.helicsEndpointSendBytesTo(inbox, b"x" * size, "b/inbox")
        for time_s in (1.0, 2.0):
            h.helicsFederateRequestTime(federate, time_s)
            while h.helicsEndpointHasMessage(inbox):
                message = h.helicsEndpointGetMessage(inbox)
                print(f"received {len(h.helicsMessageGetBytes(message))}", flush=True)
    finally:
        h.helicsFederateDisconnect(federate)
        h.helicsFederateFree(federate)
        h.helicsCloseLibrary()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
