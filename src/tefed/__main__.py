"""``python -m tefed`` is the same as ``tefed``."""

import os
import sys

try:
    from tefed.cli import program
except KeyboardInterrupt:
    # Ctrl-C while Python still loads the command line (before `program` can catch it, a
    # fraction of a second on a loaded machine): the program's own line and exit code.
    sys.stderr.write("tefed: interrupted\n")
    sys.stderr.flush()
    os._exit(130)

program()
