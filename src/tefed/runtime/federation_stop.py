"""Ending a running federation from outside it, for a ``tefed run`` that supervises one host's
part of a federation over several hosts.

A ``tefed run`` sees its own processes end; the federates on other hosts do not, and would
only find out through their stall watchdog (``runtime.stall_timeout_s`` and more) or, when the
broker goes, HELICS's connection timeouts. So the ``tefed run`` whose federate failed joins the
broker as an observer (a federate that may join a federation in progress) and raises a HELICS
global error with the failure's message, which ends every federate's wait at once, wherever it
runs.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from tefed.runtime.helics_library import free, h

log = logging.getLogger("tefed.runtime")

#: How long the broker gets to take the observer and pass its error on [s]; a broker already
#: gone never answers, and the caller goes on stopping its processes.
STOP_TIMEOUT_S = 8.0
#: Exit code carried by the global error (a federate's own failure, as the runtime's).
STOP_ERROR_CODE = 1


def stop_federation(broker_address: str, broker_port: int, name: str, message: str) -> bool:
    """Raise a HELICS global error with ``message`` in the federation of a broker.

    Parameters
    ----------
    broker_address : str
        Host of the broker (``127.0.0.1`` for this host's).
    broker_port : int
        Its port [-].
    name : str
        Name of the observer federate that raises the error (unique in the federation).
    message : str
        What every federate reports as the reason the federation ended.

    Returns True when the error reached the broker within ``STOP_TIMEOUT_S``.
    """
    done = threading.Event()
    worker = threading.Thread(
        target=_raise_global_error,
        args=(broker_address, broker_port, name, message, done),
        name=f"stop-federation-{name}",
        daemon=True,
    )
    worker.start()
    worker.join(STOP_TIMEOUT_S)
    return done.is_set()


def _raise_global_error(
    broker_address: str, broker_port: int, name: str, message: str, done: threading.Event
) -> None:
    federate: Any = None
    info = h.helicsCreateFederateInfo()
    try:
        h.helicsFederateInfoSetCoreTypeFromString(info, "zmq")
        h.helicsFederateInfoSetCoreInitString(
            info,
            f"--broker_address={broker_address} --brokerport={broker_port} "
            "--timeout=2000ms --networkretries=1",
        )
        h.helicsFederateInfoSetFlagOption(info, h.HELICS_FLAG_OBSERVER, True)
        # The supervisor reports the failure itself; HELICS would print it once more.
        h.helicsFederateInfoSetIntegerProperty(
            info, h.HELICS_PROPERTY_INT_LOG_LEVEL, h.HELICS_LOG_LEVEL_NO_PRINT
        )
        federate = h.helicsCreateValueFederate(name, info)
        h.helicsFederateGlobalError(federate, STOP_ERROR_CODE, message)
        done.set()
    except h.HelicsException as error:
        log.warning("could not reach the broker to end the federation: %s", error)
    finally:
        free(info, h.helicsFederateInfoFree)
        if federate is not None:
            free(federate, h.helicsFederateFree)
