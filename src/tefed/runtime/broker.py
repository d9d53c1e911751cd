"""``python -m tefed.runtime.broker FEDERATION_FILE HELICS_BROKER_OPTIONS…``: the broker entry of a
federation file.

It claims the broker's port for the run that started it (`tefed.runtime.broker_claim`), or
exits with code 2 and says which run owns the port, then replaces itself with HELICS's own
``helics_broker`` program, given the options as they are. Being the broker process itself (not a
launcher that starts one), it ends whenever ``helics run`` stops it, and holds the claim for
exactly as long as it lives.
"""

from __future__ import annotations

import os
import sys

from tefed.runtime.broker_claim import PortTakenError, claim_port
from tefed.runtime.helics_programs import helics_programs_dir

#: Exit code when the port belongs to another run or program (as for any bad input).
EXIT_PORT_TAKEN = 2


def broker_port(options: list[str]) -> int:
    """The ``--port`` of ``helics_broker`` options (``--port=P`` or ``--port P``).

    Examples
    --------
    >>> broker_port(["--federates=4", "--port=23700"]), broker_port(["--port", "24000"])
    (23700, 24000)
    """
    for index, option in enumerate(options):
        if option.startswith("--port="):
            return int(option.split("=", 1)[1])
        if option == "--port" and index + 1 < len(options):
            return int(options[index + 1])
    raise ValueError("the broker's options name no --port")


def main(argv: list[str]) -> int:
    """Claim the port and become ``helics_broker``; returns only on failure."""
    if not argv:
        print("usage: python -m tefed.runtime.broker FEDERATION_FILE OPTIONS…", file=sys.stderr)
        return EXIT_PORT_TAKEN
    federation_file, options = argv[0], argv[1:]
    try:
        port = broker_port(options)
        _, descriptor = claim_port(port, federation_file)
    except (PortTakenError, ValueError) as error:
        print(f"tefed broker: {error}", file=sys.stderr, flush=True)
        return EXIT_PORT_TAKEN
    program = helics_programs_dir() / "helics_broker"
    try:
        os.execv(program, [str(program), *options])
    except OSError as error:
        os.close(descriptor)
        print(f"tefed broker: cannot start {program}: {error}", file=sys.stderr, flush=True)
    return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
