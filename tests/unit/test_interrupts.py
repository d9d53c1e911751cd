"""A Ctrl-C that arrives while Python runs a callback of its own (where it cannot raise
``KeyboardInterrupt``) is recorded and raised at the next check, silently, instead of being
lost with an "Exception ignored" traceback (`tefed.run.interrupts`); each case in a process of
its own, which the signal is sent to."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROGRAM = """
import os, signal, sys, weakref
from tefed.run.interrupts import catch_interrupts, raise_if_interrupted
if sys.argv[1] == "caught":
    catch_interrupts()

class Thing:
    pass

def callback(reference):
    # The handler runs inside this weak reference's callback, as it did inside an import's.
    os.kill(os.getpid(), signal.SIGINT)
    for _ in range(200000):
        pass

thing = Thing()
reference = weakref.ref(thing, callback)
del thing
print("went on", flush=True)
try:
    raise_if_interrupted()
    print("no interrupt")
except KeyboardInterrupt:
    print("interrupted")
"""


@pytest.mark.parametrize(
    ("mode", "stdout", "ignored_printed"),
    [
        # Python's own handler: the Ctrl-C is lost, with a traceback on stderr.
        ("default", "went on\nno interrupt\n", True),
        ("caught", "went on\ninterrupted\n", False),
    ],
)
def test_an_interrupt_python_could_not_raise_is_raised_at_the_next_check(
    mode: str, stdout: str, ignored_printed: bool
):
    completed = subprocess.run(
        [sys.executable, "-c", PROGRAM, mode], capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == stdout
    assert ("Exception ignored" in completed.stderr) is ignored_printed, completed.stderr
    assert ("Traceback" in completed.stderr) is ignored_printed, completed.stderr


INTERRUPTED_IMPORT = """
import os, runpy, signal, sys
# As started from a terminal (a background job of a shell inherits SIGINT ignored).
signal.signal(signal.SIGINT, signal.default_int_handler)
MODULE = sys.argv[1]

class InterruptedImport:
    # SIGINT arriving while Python imports MODULE: the import raises KeyboardInterrupt there.
    def find_spec(self, name, path=None, target=None):
        if name == MODULE:
            os.kill(os.getpid(), signal.SIGINT)
        return None

sys.meta_path.insert(0, InterruptedImport())
sys.argv = ["tefed", "--version"]
runpy.run_module("tefed", run_name="__main__", alter_sys=True)
"""


@pytest.mark.parametrize(
    "module",
    [
        "tefed.cli",  # before `program` runs (python -m tefed)
        "tefed.run.interrupts",  # in `program`, before its handler is in place
        "tefed.cli.sweep_start",  # in `program`, after it
    ],
)
def test_ctrl_c_while_tefed_starts_exits_130_with_one_line(module: str):
    completed = subprocess.run(
        [sys.executable, "-c", INTERRUPTED_IMPORT, module],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 130, completed.stderr[-2000:]
    assert completed.stderr == "tefed: interrupted\n"
    assert completed.stdout == ""


CTRL_C_WHILE_THE_SERVER_STARTS = """
import os, signal, sys
from multiprocessing import forkserver
from tefed.sweep import preloaded_runs

signal.signal(signal.SIGINT, signal.default_int_handler)
start = forkserver.ensure_running

def start_then_ctrl_c():
    start()
    os.kill(os.getpid(), signal.SIGINT)  # a Ctrl-C while the sweep starts its run server

forkserver.ensure_running = start_then_ctrl_c
try:
    preloaded_runs.start_server()
    print("lost")
except KeyboardInterrupt:
    print("interrupted")
sys.stdout.flush()
os._exit(0)
"""


def test_ctrl_c_while_a_sweep_starts_its_run_server_is_not_lost():
    completed = subprocess.run(
        [sys.executable, "-c", CTRL_C_WHILE_THE_SERVER_STARTS],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout == "interrupted\n"
