"""A process that has run HELICS, then runs a federation with tefed's runner.

``python run_after_helics.py FEDERATION_FILE PORT`` first runs a HELICS broker and a federate of
its own on ``PORT`` (ZeroMQ core) to their end, as a notebook or a script that used pyhelics
before would have; then it runs the federation file with `tefed.run.runner.run_federation` and
prints ``OUTCOME {json}`` (whether it ended well, its message, how its built-in federates
started). Exit code 0 when the run ended well.
"""

import json
import logging
import sys
from pathlib import Path

import helics as h

from tefed.contract.federation_file import load_federation_file
from tefed.run.runner import run_federation


def use_helics(port: int) -> None:
    """A broker and one federate on ``port``, through executing mode, disconnected and freed."""
    broker = h.helicsCreateBroker("zmq", "", f"-f 1 --port={port} --loglevel=no_print")
    info = h.helicsCreateFederateInfo()
    h.helicsFederateInfoSetCoreTypeFromString(info, "zmq")
    h.helicsFederateInfoSetCoreInitString(
        info, f"--broker_address=tcp://127.0.0.1:{port} --loglevel=no_print"
    )
    federate = h.helicsCreateValueFederate("earlier", info)
    h.helicsFederateEnterExecutingMode(federate)
    h.helicsFederateDisconnect(federate)
    h.helicsFederateFree(federate)
    h.helicsFederateInfoFree(info)
    h.helicsBrokerWaitForDisconnect(broker, 5000)
    h.helicsBrokerFree(broker)


def main() -> int:
    path, port = Path(sys.argv[1]), int(sys.argv[2])
    warnings: list[str] = []

    class Kept(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            warnings.append(record.getMessage())

    logging.getLogger("tefed").addHandler(Kept(logging.WARNING))
    use_helics(port)
    federation = load_federation_file(path)
    outcome = run_federation(federation, path.parent, show_progress=False, source_path=path)
    report = {"ok": outcome.ok, "message": outcome.message, "warnings": warnings}
    sys.stdout.write(f"OUTCOME {json.dumps(report)}\n")
    sys.stdout.flush()
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    sys.exit(main())
