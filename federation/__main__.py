"""``python -m federation`` is the same as ``tefed``."""

import sys

from federation.cli import main

sys.exit(main())
