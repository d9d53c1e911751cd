"""A household program that breaks the interface contract on purpose, for tests of the checker.

Run as ``python broken_household.py FEDERATION_FILE --name household_<id>`` (pyhelics only).
In one run it

- registers a publication its helics block does not list (``household/<id>/temperature_c``);
- halves its period and publishes once at t = 1.5 grid steps, off the grid;
- sends an orders message without quantities and prices at the gate closure of interval 1;
- sends orders for interval 1 at its start, after its gate closed;
- publishes NaN as its power at the end of the run (read by nobody, so the run completes).

``BROKEN_HOUSEHOLD_END`` chooses how it ends: ``disconnect`` (default), ``stay`` (it keeps
its federate connected and sleeps) or ``exit`` (the process ends without disconnecting).
"""

import argparse
import json
import math
import os
import time
from pathlib import Path

import helics as h


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("federation_file", type=Path)
    parser.add_argument("--name", required=True)
    arguments = parser.parse_args()
    data = json.loads(arguments.federation_file.read_text())
    block = next(e for e in data["federates"] if e["name"] == arguments.name)["helics"]
    timing = data["tefed"]["time"]
    step_s, duration_s = timing["grid_step_s"], timing["duration_s"]
    first_gate_s = timing["market_interval_s"] - timing["gate_closure_s"]
    endpoint_name = block["endpoints"][0]["name"]
    household = endpoint_name.split("/")[1]
    federate = h.helicsCreateCombinationFederateFromConfig(json.dumps(block))
    power = h.helicsFederateGetPublication(federate, f"household/{household}/power_kw")
    extra = h.helicsFederateRegisterGlobalTypePublication(
        federate, f"household/{household}/temperature_c", "double", "degC"
    )
    endpoint = h.helicsFederateGetEndpoint(federate, endpoint_name)
    h.helicsFederateSetTimeProperty(federate, h.HELICS_PROPERTY_TIME_PERIOD, step_s / 2)
    ending = os.environ.get("BROKEN_HOUSEHOLD_END", "disconnect")
    times_s = [n * step_s for n in range(duration_s // step_s)] + [duration_s]
    times_s.insert(2, 1.5 * step_s)
    try:
        h.helicsFederateEnterExecutingMode(federate)
        for time_s in times_s:
            h.helicsFederateRequestTime(federate, time_s + block["offset"])
            h.helicsPublicationPublishDouble(power, math.nan if time_s == duration_s else 0.5)
            h.helicsPublicationPublishDouble(extra, 21.0)
            if time_s == first_gate_s:
                orders = {"type": "orders", "interval_index": 1, "orders": [{"order_id": "a"}]}
                h.helicsEndpointSendStringTo(endpoint, json.dumps(orders), "market")
            if time_s == first_gate_s + timing["gate_closure_s"]:
                order = {
                    "order_id": "b",
                    "side": "buy",
                    "quantity_wh": 100,
                    "price_usd_per_kwh": 0.2,
                }
                late = {"type": "orders", "interval_index": 1, "orders": [order]}
                h.helicsEndpointSendStringTo(endpoint, json.dumps(late), "market")
            while h.helicsEndpointHasMessage(endpoint):
                h.helicsEndpointGetMessage(endpoint)
        if ending == "stay":
            time.sleep(600)
        if ending == "exit":
            os._exit(0)
    finally:
        h.helicsFederateDisconnect(federate)
        h.helicsFederateFree(federate)
        h.helicsCloseLibrary()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
