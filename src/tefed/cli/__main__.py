"""``python -m tefed.cli``: the ``tefed`` command line."""

import sys

from tefed.cli import main

sys.exit(main())
