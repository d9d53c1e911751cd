"""Starting a sweep's preloaded-run server before the command line imports its machinery.

``tefed sweep`` forks its runs from a server that imports tefed once
(`tefed.sweep.preloaded_runs`); its first runs wait until that is done. Started as the program's
first act, the server imports while the command line does (0.8 s on a 2-core machine), Dask
and the sweep's planning, not after the command line.
"""

from __future__ import annotations

#: Options of ``tefed sweep`` with which it starts no run on this machine.
NO_LOCAL_RUNS = ("--check", "--print-job-script", "--scheduler", "--cluster", "--help")
#: Shortest abbreviation of a long option argparse accepts (``--s`` for ``--scheduler`` when
#: no other option of ``tefed sweep`` starts with ``--s``) [characters]. An ambiguous one
#: (``--c``) is an error of argparse, which runs nothing either.
SHORTEST_PREFIX = 3


def starts_local_runs(argv: list[str]) -> bool:
    """Whether ``tefed ARGV…`` is a ``tefed sweep`` that runs its points on a local cluster:
    neither ``sweep report`` nor with an option of ``NO_LOCAL_RUNS`` (or an abbreviation of
    one that argparse would accept) or ``-h``."""
    if argv[:1] != ["sweep"] or argv[1:2] == ["report"]:
        return False
    for argument in argv[1:]:
        if argument == "--":
            break
        if argument == "-h":
            return False
        option = argument.split("=", 1)[0]
        if len(option) >= SHORTEST_PREFIX and any(
            name.startswith(option) for name in NO_LOCAL_RUNS
        ):
            return False
    return True


def start_server_early(argv: list[str]) -> None:
    """Start the preloaded-run server if ``tefed ARGV…`` will use it (see the module).

    A bad ``TEFED_SWEEP_START`` starts nothing here: the sweep command reports it.
    """
    if not starts_local_runs(argv):
        return
    from tefed.contract.errors import InputError
    from tefed.sweep.preloaded_runs import preloaded_runs_available, start_server

    try:
        available = preloaded_runs_available()
    except InputError:
        return
    if available:
        start_server()
