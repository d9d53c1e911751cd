"""The floor HELICS sets under the learning environment: instants per second of a federation
that computes nothing.

Five pyhelics federates and a broker, each a process of its own as in a tefed federation, on
the project's core type (ZeroMQ), in the four phases a tefed instant has (price feed at the
instant, the ems and a learner's household 0.001 s after it, the grid 0.002 s, the market
0.003 s; period 900 s, uninterruptible), each subscribing to what its tefed role reads and
publishing one value per instant, step through ``INSTANTS`` instants under global and under
distributed time coordination. The time per instant is what four grants through the broker
cost on this machine before any federate computes: an environment step of the fast training
setting passes one instant, and a 15-step episode 17 (the final decision waits for the last
settlement), so `learning_env`'s steps per second can never pass 15 / (17 × this time).
The same five federates are also run as threads of one process on one shared core (the
broker still a process of its own), as the learning environment runs its federates by
default (`tefed.runtime.shared_core`): there the grants never leave the process.
A diagnostic, not a target: no figure here is held to a limit.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

from tefed.runtime.local_ports import port_is_free

NAME = "helics_floor"
#: Instants each federation steps through [-].
INSTANTS = 500
#: Runs of each coordination [-].
ROUNDS = 2
#: The federates: name, offset [s], what they subscribe to (tefed's phases and readers).
FEDERATES = (
    ("price_feed", 0.0, ()),
    ("ems", 0.001, ("price_feed", "market")),
    ("household", 0.001, ("price_feed", "market")),
    ("grid", 0.002, ("ems", "household")),
    ("market", 0.003, ("ems", "household", "grid")),
)
PERIOD_S = 900.0
TIMEOUT_S = 120.0

BROKER = """
import sys, time
import helics as h
broker = h.helicsCreateBroker("zmq", "", sys.argv[1])
while h.helicsBrokerIsConnected(broker):
    time.sleep(0.05)
h.helicsCloseLibrary()
"""

FEDERATE = """
import json, sys, time
import helics as h
name, port = sys.argv[1], sys.argv[3]
offset, instants, period = float(sys.argv[2]), int(sys.argv[4]), float(sys.argv[5])
sources = [s for s in sys.argv[6].split(",") if s]
info = h.helicsCreateFederateInfo()
h.helicsFederateInfoSetCoreTypeFromString(info, "zmq")
h.helicsFederateInfoSetCoreInitString(info, f"--federates=1 --broker_address=127.0.0.1:{port}")
h.helicsFederateInfoSetTimeProperty(info, h.HELICS_PROPERTY_TIME_PERIOD, period)
h.helicsFederateInfoSetTimeProperty(info, h.HELICS_PROPERTY_TIME_OFFSET, offset)
h.helicsFederateInfoSetFlagOption(info, h.HELICS_FLAG_UNINTERRUPTIBLE, True)
federate = h.helicsCreateValueFederate(name, info)
publication = h.helicsFederateRegisterGlobalPublication(
    federate, f"{name}/value", h.HELICS_DATA_TYPE_DOUBLE, ""
)
inputs = [h.helicsFederateRegisterSubscription(federate, f"{s}/value", "") for s in sources]
h.helicsFederateEnterExecutingMode(federate)
started = time.perf_counter()
for k in range(1, instants + 1):
    h.helicsFederateRequestTime(federate, k * period + offset)
    for handle in inputs:
        h.helicsInputGetDouble(handle)
    h.helicsPublicationPublishDouble(publication, float(k))
elapsed = time.perf_counter() - started
h.helicsFederateDisconnect(federate)
h.helicsFederateFree(federate)
h.helicsCloseLibrary()
print(json.dumps({"name": name, "seconds": elapsed}))
"""

#: The five federates as threads of one process on one core (argv: port, instants, period,
#: then name:offset:sources of each federate); prints the market's seconds.
SHARED_CORE = """
import json, sys, threading, time
import helics as h
port, instants, period = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
federates = [spec.split(":") for spec in sys.argv[4:]]
core = h.helicsCreateCore(
    "zmq", "floor", f"--federates={len(federates)} --broker_address=127.0.0.1:{port}"
)
seconds = {}
def run(name, offset, sources):
    info = h.helicsCreateFederateInfo()
    h.helicsFederateInfoSetCoreName(info, "floor")
    h.helicsFederateInfoSetTimeProperty(info, h.HELICS_PROPERTY_TIME_PERIOD, period)
    h.helicsFederateInfoSetTimeProperty(info, h.HELICS_PROPERTY_TIME_OFFSET, float(offset))
    h.helicsFederateInfoSetFlagOption(info, h.HELICS_FLAG_UNINTERRUPTIBLE, True)
    federate = h.helicsCreateValueFederate(name, info)
    publication = h.helicsFederateRegisterGlobalPublication(
        federate, f"{name}/value", h.HELICS_DATA_TYPE_DOUBLE, ""
    )
    inputs = [
        h.helicsFederateRegisterSubscription(federate, f"{s}/value", "")
        for s in sources.split(",") if s
    ]
    h.helicsFederateEnterExecutingMode(federate)
    started = time.perf_counter()
    for k in range(1, instants + 1):
        h.helicsFederateRequestTime(federate, k * period + float(offset))
        for handle in inputs:
            h.helicsInputGetDouble(handle)
        h.helicsPublicationPublishDouble(publication, float(k))
    seconds[name] = time.perf_counter() - started
    h.helicsFederateDisconnect(federate)
    h.helicsFederateFree(federate)
threads = [threading.Thread(target=run, args=spec) for spec in federates]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
h.helicsCloseLibrary()
print(json.dumps({"name": "market", "seconds": seconds["market"]}))
"""


def run(output: Path) -> dict:
    """Milliseconds per instant and instants per second under each time coordination, with
    each federate in a process of its own, and with all of them on one core."""
    figures: dict = {"instants": INSTANTS, "federates": len(FEDERATES), "coordination": {}}
    for coordination in ("global", "distributed"):
        for shared_core in (False, True):
            per_instant_ms = [_per_instant_ms(coordination, shared_core) for _ in range(ROUNDS)]
            key = f"{coordination}, one core in one process" if shared_core else coordination
            figures["coordination"][key] = {
                "ms_per_instant": per_instant_ms,
                "instants_per_s": [1000.0 / ms for ms in per_instant_ms],
            }
    # The environment's ceiling from this floor alone: 15 steps over 17 instants, with its
    # federates in processes (global coordination) and in threads (one core, distributed).
    for name, key in (
        ("processes", "global"),
        ("threads", "distributed, one core in one process"),
    ):
        ms = statistics.median(figures["coordination"][key]["ms_per_instant"])
        figures[f"learning_env_steps_per_s_ceiling_federates_in_{name}"] = 15 / (17 * ms / 1000.0)
    figures["targets"] = []
    return figures


def _per_instant_ms(coordination: str, shared_core: bool = False) -> float:
    """Wall time per instant [ms] of one federation (the market's loop, the last phase); with
    ``shared_core``, its federates are threads of one process on one core."""
    port = _free_port()
    arguments = f"--federates={len(FEDERATES)} --port={port} --loglevel=no_print"
    if coordination == "global":
        arguments += " --globaltime"
    broker = subprocess.Popen([sys.executable, "-c", BROKER, arguments])
    specs = [f"{name}:{offset}:{','.join(sources)}" for name, offset, sources in FEDERATES]
    shared = [sys.executable, "-c", SHARED_CORE, str(port), str(INSTANTS), str(PERIOD_S), *specs]
    processes = (
        [subprocess.Popen(shared, stdout=subprocess.PIPE, text=True)]
        if shared_core
        else [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    FEDERATE,
                    name,
                    str(offset),
                    str(port),
                    str(INSTANTS),
                    str(PERIOD_S),
                    ",".join(sources),
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            for name, offset, sources in FEDERATES
        ]
    )
    try:
        seconds = {}
        for process in processes:
            stdout, _ = process.communicate(timeout=TIMEOUT_S)
            if process.returncode != 0:
                raise RuntimeError(f"a federate of the floor benchmark exited {process.returncode}")
            record = json.loads(stdout.strip().splitlines()[-1])
            seconds[record["name"]] = float(record["seconds"])
        broker.wait(timeout=TIMEOUT_S)
    finally:
        for process in [*processes, broker]:
            if process.poll() is None:
                process.kill()
                process.wait()
    return seconds["market"] / INSTANTS * 1000.0


def _free_port() -> int:
    """A port the broker can bind, with the next one free too (ZeroMQ takes both)."""
    rng = random.Random(os.getpid() ^ time.monotonic_ns())
    for _ in range(200):
        port = rng.randrange(33000, 40000, 2)
        if port_is_free(port, True) and port_is_free(port + 1, True):
            return port
    raise RuntimeError("no free port pair for the floor benchmark's broker")
