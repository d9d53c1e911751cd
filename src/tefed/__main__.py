"""``python -m tefed`` is the same as ``tefed``."""

import sys

from tefed.cli import main

sys.exit(main())
