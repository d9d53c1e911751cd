"""``python -m tefed`` is the same as ``tefed``."""

from tefed.cli import program

program()
