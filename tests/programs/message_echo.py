"""Two-federate message test for the transport tefed's federations use.

Run as ``python message_echo.py ROLE PORT CORE_TYPE COUNT SIZE [BUSY_S]``:

- ``sender`` sends COUNT messages of SIZE bytes to the receiver, all at t=0 (one time step);
- ``receiver`` does nothing for BUSY_S seconds after entering executing mode (it reads no
  message while the sender's burst arrives), then reads every message at t=1, 2 and 3 (as
  every tefed federate reads one, `tefed.runtime.helics_runtime.message_bytes`) and
  prints one line ``REPORT {json}``: how many messages arrived, how many of them were whole
  (exactly the bytes one of the sent messages had) and how many distinct messages were among
  them.

Every message carries its index and a filler that depends on the index, so a message cut
short, padded, mixed with another or delivered twice is counted as such.
"""

import json
import sys
import time

import helics as h

from tefed.runtime.helics_runtime import message_bytes

SENDER = "sender"
RECEIVER = "receiver"
INBOX = "inbox"
LAST_TIME_S = 3.0
#: Start of the receiver's report line (HELICS may log to standard output too).
REPORT = "REPORT"
#: Filler pattern; its length is prime so that neighbouring indices give different bytes.
_PATTERN = bytes(range(251))


def payload(index: int, size: int) -> bytes:
    """The bytes of message ``index`` in a run of messages of ``size`` bytes."""
    shift = index % len(_PATTERN)
    filler = _PATTERN[shift:] + _PATTERN[:shift]
    whole = index.to_bytes(8, "big") + filler * (size // len(filler) + 1)
    return whole[:size]


def main(role: str, port: str, core_type: str, count: int, size: int, busy_s: float) -> None:
    if count > 1 and size < 8:
        raise SystemExit("messages of a burst need at least 8 bytes (their index)")
    info = h.helicsCreateFederateInfo()
    h.helicsFederateInfoSetCoreTypeFromString(info, core_type)
    h.helicsFederateInfoSetCoreInitString(
        info, f"--federates=1 --brokerport={port} --loglevel=warning"
    )
    h.helicsFederateInfoSetTimeProperty(info, h.HELICS_PROPERTY_TIME_PERIOD, 1.0)
    federate = h.helicsCreateMessageFederate(role, info)
    h.helicsFederateInfoFree(info)
    try:
        inbox = h.helicsFederateRegisterEndpoint(federate, INBOX, "")
        h.helicsFederateEnterExecutingMode(federate)
        if role == SENDER:
            for index in range(count):
                h.helicsEndpointSendBytesTo(inbox, payload(index, size), f"{RECEIVER}/{INBOX}")
        else:
            expected = {payload(index, size): index for index in range(count)}
            received = whole = 0
            seen: set[int] = set()
            time.sleep(busy_s)
        time_s = 0.0
        while time_s < LAST_TIME_S:
            time_s = h.helicsFederateRequestTime(federate, time_s + 1.0)
            if role == SENDER:
                continue
            while h.helicsEndpointHasMessage(inbox):
                # Read as every tefed federate reads a message.
                data = message_bytes(h.helicsEndpointGetMessage(inbox))
                received += 1
                if data in expected:
                    whole += 1
                    seen.add(expected[data])
        if role == RECEIVER:
            report = {"received": received, "whole": whole, "distinct": len(seen)}
            # one write, so that no HELICS log line lands between the report and its newline
            sys.stdout.write(f"{REPORT} {json.dumps(report)}\n")
            sys.stdout.flush()
    finally:
        h.helicsFederateDisconnect(federate)
        h.helicsFederateFree(federate)
        h.helicsCloseLibrary()


if __name__ == "__main__":
    busy = float(sys.argv[6]) if len(sys.argv) > 6 else 0.0
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), busy)
