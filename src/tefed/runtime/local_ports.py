"""Whether a port of this machine is free to listen on, as HELICS's ZeroMQ cores bind."""

from __future__ import annotations

import socket


def port_is_free(port: int, reuse_address: bool = False) -> bool:
    """Whether a listening socket can bind ``port`` on localhost; with ``reuse_address`` as
    ZeroMQ binds (``SO_REUSEADDR``), which connections of an ended run in TIME_WAIT do not
    stop."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        if reuse_address:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
