"""A Ctrl-C that is never lost.

Python raises ``KeyboardInterrupt`` wherever the main thread is when SIGINT arrives. Inside a
callback the interpreter runs on its own (a weak reference's callback as an import lets go of
its module lock, a ``__del__``) the exception cannot propagate: Python prints "Exception
ignored in …" with a traceback and goes on, and the Ctrl-C is lost. A sweep interrupted while
it imported ran both its runs and exited 0 that way (a test in a fresh clone, 2026-12-07). The
handler installed here also records the interrupt; the commands' waiting loops ask for it
(`raise_if_interrupted`), and an interrupt lost that way prints nothing.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType
from typing import Any

_INTERRUPTED = threading.Event()


def catch_interrupts() -> None:
    """Let SIGINT raise ``KeyboardInterrupt`` as usual and record it (main thread only: from
    another thread nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        return
    signal.signal(signal.SIGINT, _on_interrupt)
    if getattr(sys.unraisablehook, "_tefed_interrupts", False):
        return
    default_hook = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        # A recorded interrupt that Python could not raise: `raise_if_interrupted` raises it.
        if isinstance(unraisable.exc_value, KeyboardInterrupt) and _INTERRUPTED.is_set():
            return
        default_hook(unraisable)

    hook._tefed_interrupts = True  # type: ignore[attr-defined]
    sys.unraisablehook = hook


def _on_interrupt(signum: int, frame: FrameType | None) -> None:
    _INTERRUPTED.set()
    raise KeyboardInterrupt


def raise_if_interrupted() -> None:
    """Raise ``KeyboardInterrupt`` if SIGINT arrived since `catch_interrupts` (also when
    Python could not raise it where it arrived)."""
    if _INTERRUPTED.is_set():
        raise KeyboardInterrupt
