"""pyhelics, loaded the way every tefed module that uses HELICS needs it.

Import HELICS in tefed only as ``from tefed.runtime.helics_library import h`` (or ``ffi`` and
``lib`` for the C calls): tests/unit/test_import_order.py checks that no other module imports
``helics`` itself. Two things happen here, before pyhelics is imported:

- **pyarrow is loaded first.** With libhelics loaded before it, pyarrow's time-zone lookup
  crashes the process (a segmentation fault in ``pyarrow.lib.string_to_tzinfo``, so in reading
  any table with a time-zone-aware column, e.g. a run's tables for its report). Seen with
  helics 3.6.1 and pyarrow 26.0.1 on 2026-12-07.
- **pyhelics' C declarations come from a cache.** On import, pyhelics declares the HELICS C API
  to cffi by parsing its header files with pycparser: 0.2-0.3 s of CPU in every process, and
  every federate of a ``helics run`` federation and every ``tefed`` command that talks to a
  broker is a fresh process. This module has cffi write those same declarations once as an
  out-of-line ABI module (plain Python, no compiler) into tefed's cache folder
  (:func:`cache_dir`), keyed by the Python, cffi and pyhelics files they derive from, and hands
  pyhelics that module's ``ffi`` with the library it opens. ``import helics`` then takes about
  0.05 s (measured on the project's 2-core machine, 2026-12-07), and cffi reads a C type written
  as text (``double[1030]``) with its own parser instead of pycparser (2-3 ms per new type).

It also frees HELICS objects the one way that is safe (:func:`free`).

The cache only saves time: when it cannot be written or read (no writable cache folder, a
platform where the loaded library cannot be found, ``HELICS_INSTALL`` or ``PYHELICS_INSTALL``
set), pyhelics loads itself as it always does.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import logging
import os
import sys
import tempfile
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Before HELICS: see the module docstring.
import pyarrow  # noqa: F401

from tefed.io.array_cache import cache_dir

log = logging.getLogger("tefed.runtime")

#: Name pyhelics gives the module that declares the C API and opens the library.
_BUILD_MODULE = "helics._build"
#: Environment variables with which pyhelics takes its headers and library from elsewhere.
_PYHELICS_ENVIRONMENT = ("HELICS_INSTALL", "PYHELICS_INSTALL")


def _install_cached_declarations() -> str:
    """Put pyhelics' declarations module in place from the cache (written first if missing);
    what happened, for the debug log."""
    if _BUILD_MODULE in sys.modules:
        return "pyhelics was already loaded"
    if any(os.environ.get(name) for name in _PYHELICS_ENVIRONMENT):
        return "pyhelics takes its library from HELICS_INSTALL or PYHELICS_INSTALL"
    spec = importlib.util.find_spec("helics")
    if spec is None or not spec.submodule_search_locations:
        return "pyhelics is not installed"
    package = Path(next(iter(spec.submodule_search_locations)))
    path = cache_dir() / f"helics_declarations_{_cache_key(package)}.py"
    if path.is_file():
        try:
            cached = _load_file(path)
            build = types.ModuleType(_BUILD_MODULE)
            build.__dict__.update(cached.CONSTANTS)
            build.ffi = cached.ffi
            build.lib = cached.ffi.dlopen(cached.LIBRARY)
        except Exception as error:
            log.debug("pyhelics' declarations cache %s is unusable (%r)", path, error)
        else:
            sys.modules[_BUILD_MODULE] = build
            return f"pyhelics' declarations read from {path}"
    return _write_cache(path)


def _cache_key(package: Path) -> str:
    """A digest of everything the declarations derive from: the Python and cffi versions and
    the path, size and modification time of every file of the pyhelics package [-]."""
    import _cffi_backend

    digest = hashlib.sha256()
    digest.update(f"{sys.version}|{_cffi_backend.__version__}|{package}".encode())
    for folder, subfolders, files in os.walk(package):
        subfolders[:] = sorted(name for name in subfolders if name != "__pycache__")
        for name in sorted(files):
            status = os.stat(os.path.join(folder, name))
            digest.update(f"|{folder}/{name}:{status.st_size}:{status.st_mtime_ns}".encode())
    return digest.hexdigest()[:20]


def _write_cache(path: Path) -> str:
    """Let pyhelics load itself, then write its declarations and the library it opened to
    ``path`` (atomically: processes starting together may race to write it)."""
    import cffi

    build = importlib.import_module(_BUILD_MODULE)
    library = _mapped_library("libhelics")
    if library is None:
        return "the loaded HELICS library was not found in /proc/self/maps"
    builder = cffi.FFI()
    for source in build.ffi._cdefsources:
        builder.cdef(source)
    builder.set_source(path.stem, None)
    constants = {
        name: value
        for name, value in vars(build).items()
        if name.isupper() and isinstance(value, str)
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".py")
    os.close(handle)
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # cffi says "generating ..."
            builder.emit_python_code(temporary)
        with open(temporary, "a", encoding="utf-8") as out:
            out.write(f"\nLIBRARY = {library!r}\nCONSTANTS = {constants!r}\n")
        _load_file(Path(temporary))  # it must read back before others may use it
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    return f"pyhelics' declarations written to {path}"


def _mapped_library(prefix: str) -> str | None:
    """Path of the shared library whose file name starts with ``prefix`` that this process
    has mapped (Linux), or None [-]."""
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            for line in maps:
                mapped = line.split(maxsplit=5)[-1].strip()
                if os.path.basename(mapped).startswith(prefix) and os.path.isfile(mapped):
                    return mapped
    except OSError:
        return None
    return None


def _load_file(path: Path) -> types.ModuleType:
    """The module written at ``path``, executed under its own name."""
    spec = importlib.util.spec_from_file_location(path.stem.lstrip("."), path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


try:
    _HOW_LOADED = _install_cached_declarations()
except Exception as error:
    _HOW_LOADED = f"pyhelics loads itself: its declarations cache failed ({error!r})"

# isort: split
import helics as h  # noqa: E402
from helics.capi import ffi, lib  # noqa: E402

log.debug(_HOW_LOADED)


def free(handle: Any, free_function: Callable[[Any], None]) -> None:
    """Free a HELICS object now, and never again: ``free_function`` is its pyhelics free call
    (``h.helicsFederateFree``, ``h.helicsFederateInfoFree``, ``h.helicsQueryFree``).

    pyhelics also frees each object it created when its Python wrapper is collected. After an
    explicit free that second free reads freed memory, and once HELICS has put a new object of
    the same kind there it frees the new one: a learner host's next episode then failed with
    "[-3] federate object is not valid" as its federate entered executing mode
    (tests/unit/test_helics_library.py shows it). So the wrapper's own free is taken off first.
    """
    finalizer = getattr(handle, "_finalizer", None)
    if finalizer is not None:
        finalizer.detach()
    free_function(handle)


__all__ = ["cache_dir", "ffi", "free", "h", "lib"]
