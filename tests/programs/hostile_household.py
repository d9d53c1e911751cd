"""A household program that attacks the federation, for the trust tests (pyhelics only).

Run in place of one household as ``python hostile_household.py --mode MODE FEDERATION_FILE
--name household_<id>``. At every grid step it publishes a constant net power and reads what
the market sends it; at the gate closure of interval 1 it sends, by ``--mode``:

- ``quiet``: two valid orders for interval 1, ``as-h02`` and ``as-market``, one message each;
- ``hostile``: the same two orders, but with HELICS's original-source field (and its source)
  set to ``household/h02`` and to ``market``; then to the market, one message each: bytes that
  are not UTF-8, JSON nested 100,000 deep, JSON nested 30,000 deep (within the size limit), a
  5,000-digit integer, a bid of 1e308 with an ask of -1e308, and ``interval_index`` 10**30;
  then, to the endpoint through which households h02 and h09 receive the market's messages
  (their ems shard's), text that is not JSON, a fake settlement of 1,000,000 USD for h02 and
  fake awards of 1,250 Wh bought (5 kW over 15 min) for h09 (which has a battery), each once
  plainly and once with the original source set to ``market``; and the same to
  ``household/h02``, the endpoint h02 would have as a household program (HELICS drops them:
  no such endpoint exists while h02 is hosted by a shard);
- ``burst``: ``BURST_ORDERS`` valid orders for interval 1, ``BURST_ORDERS_PER_MESSAGE`` to a
  message, all in the same step.

Otherwise it behaves (it answers every time grant and disconnects at the end), so the run
completes; with ``--linger-s S`` it waits S seconds after its last step before it disconnects
and exits (a program that never ends on its own). It prints one line ``SENT {json}``: how
many messages it sent to each destination.
"""

import argparse
import json
import time
from pathlib import Path

import helics as h

#: Net power the program draws at every step [kW].
POWER_KW = 0.3
#: The valid orders both the quiet and hostile modes place, and whom the hostile mode sends
#: each as (HELICS's original source).
SPOOFED_SOURCE = {"as-h02": "household/h02", "as-market": "market"}
BURST_ORDERS = 10_000
BURST_ORDERS_PER_MESSAGE = 250
#: The household whose bill the fake settlement claims to set, and the one with a battery that
#: the fake awards claim to drive.
BILLED, DRIVEN = "h02", "h09"


def order(order_id: str, side: str = "buy", price_usd_per_kwh: float = 0.12) -> dict:
    """A valid simple order of 100 Wh."""
    return {
        "order_id": order_id,
        "side": side,
        "quantity_wh": 100,
        "price_usd_per_kwh": price_usd_per_kwh,
    }


def orders_message(interval: int, orders: list[dict]) -> str:
    return json.dumps({"type": "orders", "interval_index": interval, "orders": orders})


def nested(interval: int, depth: int) -> str:
    """An orders message whose only order is a list nested ``depth`` deep."""
    head = f'{{"type":"orders","interval_index":{interval},"orders":['
    return head + "[" * depth + "]" * depth + "]}"


def attacks_on_the_market(interval: int) -> list[bytes]:
    """Payloads that must each be refused with a recorded reason."""
    long_integer = "7" * 5000
    return [
        b"\xff\xfe{orders \xc3\x28",
        nested(interval, 100_000).encode(),
        nested(interval, 30_000).encode(),
        (
            f'{{"type":"orders","interval_index":{interval},"orders":[{{"order_id":"digits",'
            f'"side":"buy","quantity_wh":{long_integer},"price_usd_per_kwh":0.1}}]}}'
        ).encode(),
        orders_message(
            interval, [order("huge-bid", "buy", 1e308), order("huge-ask", "sell", -1e308)]
        ).encode(),
        orders_message(10**30, [order("far")]).encode(),
    ]


def attacks_on_the_households(interval: int) -> list[str]:
    """Payloads to the shard that hosts ``BILLED`` and ``DRIVEN``, as batches of the market's
    messages to them (and one that is not JSON)."""
    settlement = {
        "type": "settlement",
        "interval_index": interval,
        "energy_wh": 0.0,
        "awarded_net_energy_wh": 0,
        "amount_usd": 1_000_000.0,
        "lines": [{"counterparty": "grid", "energy_wh": 0.0, "amount_usd": 1_000_000.0}],
    }
    awards = {
        "type": "awards",
        "interval_index": interval,
        "status": "cleared",
        "awards": [
            {
                "order_id": "fake",
                "side": "buy",
                "pool": "non_dispatchable",
                "quantity_wh": 1250,
                "price_usd_per_kwh": 0.01,
                "counterparty": "h03",
            }
        ],
        "prices_usd_per_kwh": {},
    }
    return [
        "settle h02 at 1,000,000 USD",
        batch(BILLED, settlement),
        batch(DRIVEN, awards),
    ]


def batch(household_id: str, message: dict) -> str:
    return json.dumps(
        {"type": "batch", "messages": [{"household_id": household_id, "message": message}]}
    )


def send(endpoint, destination: str, payload: bytes | str, spoofed_source: str = "") -> None:
    """Send ``payload``; with ``spoofed_source``, written as the message's source and original
    source (HELICS overwrites the source with the sending endpoint)."""
    message = h.helicsEndpointCreateMessage(endpoint)
    h.helicsMessageSetDestination(message, destination)
    if spoofed_source:
        h.helicsMessageSetSource(message, spoofed_source)
        h.helicsMessageSetOriginalSource(message, spoofed_source)
    data = payload.encode() if isinstance(payload, str) else payload
    h.helicsMessageSetData(message, data)
    h.helicsEndpointSendMessage(endpoint, message)


def send_all(endpoint, mode: str, interval: int, shard_endpoint: str) -> dict[str, int]:
    """Send the mode's messages for ``interval``; how many went to each destination."""
    sent = {"market": 0}
    if mode == "burst":
        ids = [f"burst-{number:05d}" for number in range(BURST_ORDERS)]
        for first in range(0, BURST_ORDERS, BURST_ORDERS_PER_MESSAGE):
            chunk = ids[first : first + BURST_ORDERS_PER_MESSAGE]
            send(endpoint, "market", orders_message(interval, [order(i) for i in chunk]))
            sent["market"] += 1
        return sent
    for order_id, source in SPOOFED_SOURCE.items():
        spoofed = source if mode == "hostile" else ""
        send(endpoint, "market", orders_message(interval, [order(order_id)]), spoofed)
        sent["market"] += 1
    if mode == "quiet":
        return sent
    for payload in attacks_on_the_market(interval):
        send(endpoint, "market", payload)
        sent["market"] += 1
    for destination in (shard_endpoint, f"household/{BILLED}"):
        sent[destination] = 0
        for payload in attacks_on_the_households(interval):
            for spoofed in ("", "market"):
                send(endpoint, destination, payload, spoofed)
                sent[destination] += 1
    return sent


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("federation_file", type=Path)
    parser.add_argument("--name", required=True)
    parser.add_argument("--mode", choices=["quiet", "hostile", "burst"], required=True)
    parser.add_argument("--linger-s", type=float, default=0.0)
    parser.add_argument(
        "--leave-at-s", type=int, default=None, help="disconnect after this instant, exit 0"
    )
    arguments = parser.parse_args()
    data = json.loads(arguments.federation_file.read_text())
    entries = {entry["name"]: entry for entry in data["federates"]}
    block = entries[arguments.name]["helics"]
    timing = data["tefed"]["time"]
    step_s, duration_s = timing["grid_step_s"], timing["duration_s"]
    interval = 1
    gate_s = interval * timing["market_interval_s"] - timing["gate_closure_s"]
    # The built-in ems shard that hosts the other households receives through this endpoint.
    shard_endpoint = entries["ems"]["helics"]["endpoints"][0]["name"]
    endpoint_name = block["endpoints"][0]["name"]
    household = endpoint_name.split("/", 1)[1]
    # An attacker writes its own configuration: its endpoint drops the targets of its entry
    # (the market only), so it can address the other households as well.
    for declared in block["endpoints"]:
        declared.pop("targeted", None)
        declared.pop("destination_targets", None)
    federate = h.helicsCreateCombinationFederateFromConfig(json.dumps(block))
    try:
        power = h.helicsFederateGetPublication(federate, f"household/{household}/power_kw")
        endpoint = h.helicsFederateGetEndpoint(federate, endpoint_name)
        h.helicsFederateSetTag(federate, "tefed_startup", "ready")
        h.helicsFederateEnterExecutingMode(federate)
        sent: dict[str, int] = {}
        for time_s in [*range(0, duration_s, step_s), duration_s]:
            h.helicsFederateRequestTime(federate, time_s + block["offset"])
            while h.helicsEndpointHasMessage(endpoint):
                h.helicsEndpointGetMessage(endpoint)
            if time_s == duration_s or time_s == arguments.leave_at_s:
                break
            if time_s == gate_s:
                sent = send_all(endpoint, arguments.mode, interval, shard_endpoint)
            h.helicsPublicationPublishDouble(power, POWER_KW)
        print(f"SENT {json.dumps(sent)}", flush=True)
        time.sleep(arguments.linger_s)
    finally:
        h.helicsFederateDisconnect(federate)
        h.helicsFederateFree(federate)
        h.helicsCloseLibrary()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
