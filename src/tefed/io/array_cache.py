"""Arrays that tefed computes again and again from the same inputs, kept in its cache folder.

The PV power of a run's households comes from pvlib, and importing pvlib (with the scipy it
pulls in) costs about 0.9 s of CPU in the process that computes it, the computing 0.08 s
more for twelve households over a day at 60 s steps (2-core machine, 2026-12-07). Every
``tefed run`` of a scenario, every ems federate of a ``helics run``, every run of a sweep over
prices or markets and every reset of a learning environment computes the same arrays for
the same site and systems. :func:`cached_array` keeps each array in a file under a digest of
everything it derives from: the inputs the caller names, the source code of the modules that
compute it and the versions of the packages they use. A run whose arrays are in the cache
reads them (a few milliseconds) and never imports pvlib.

The cache only saves time, never changes a result: an array is read back exactly as it was
computed (``.npy``, float64), a changed input, module or package version is a new digest, an
entry that cannot be read or is not a float64 array of the expected shape is computed again
(and replaced), and when the folder cannot be written the array is returned as computed.
Entries are written whole (flushed to disk, then renamed into place) and readable by all.
Arrays larger than `MAX_ENTRY_BYTES` are not kept, and the folder is kept below
`MAX_TOTAL_BYTES` by removing the entries read least recently. The folder is :func:`cache_dir`,
shared with tefed's other caches; ``TEFED_ARRAY_CACHE=off`` (in any case) turns this cache off
(every array computed).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger("tefed.io")

#: Environment variable naming tefed's cache folder.
CACHE_DIR_ENV = "TEFED_CACHE_DIR"
#: Environment variable that turns the array cache off (``off``).
ARRAY_CACHE_ENV = "TEFED_ARRAY_CACHE"
#: Largest array kept [bytes] (a week of 60 s steps for 800 households).
MAX_ENTRY_BYTES = 64 * 2**20
#: Size the array cache is kept below [bytes]; the entries read least recently go first.
MAX_TOTAL_BYTES = 1024 * 2**20
#: Sub-folder of `cache_dir` that holds the arrays.
ARRAYS_FOLDER = "arrays"
#: Start of the name of an entry being written.
WRITING_PREFIX = ".writing-"
#: Age past which an entry still being written was left by a killed writer [s].
STALE_WRITING_S = 3600


def cache_dir() -> Path:
    """Folder of tefed's caches: ``TEFED_CACHE_DIR``, else ``$XDG_CACHE_HOME/tefed``, else
    ``~/.cache/tefed`` [-]."""
    chosen = os.environ.get(CACHE_DIR_ENV)
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tefed"


def cached_array(
    name: str,
    inputs: Mapping[str, object],
    compute: Callable[[], np.ndarray],
    *,
    shape: tuple[int, ...],
    modules: Sequence[str] = (),
    packages: Sequence[str] = (),
    keep_if: Callable[[], bool] | None = None,
) -> np.ndarray:
    """The float64 array ``compute()`` returns for ``inputs``, from the cache when it holds it.

    Parameters
    ----------
    name : str
        What the array is (its file name starts with it), e.g. ``"pv_power_kw"``.
    inputs : mapping
        Everything the array depends on besides code: str, int, float, bool, None, lists,
        tuples, mappings of them and numpy arrays (their dtype, shape and bytes count).
    compute : callable
        Computes the array when the cache lacks it. An exception it raises propagates and
        nothing is kept.
    shape : tuple of int
        The array's shape: an entry of another shape or dtype is computed again.
    modules : sequence of str
        Modules whose source code computes the array (imported or not): any change to their
        files is a new entry.
    packages : sequence of str
        Distributions the computation uses (e.g. ``"pvlib"``): their installed versions (or
        their absence) are part of the digest.
    keep_if : callable, optional
        Asked after computing: the array is kept only if it returns True (e.g. an input file
        unchanged since its digest was taken).

    Returns
    -------
    numpy.ndarray
        What ``compute()`` returned, or an exact copy read from the cache.

    Examples
    --------
    >>> import tempfile
    >>> from unittest import mock
    >>> with tempfile.TemporaryDirectory() as folder, mock.patch.dict(
    ...     os.environ, {CACHE_DIR_ENV: folder}
    ... ):
    ...     first = cached_array("squares", {"n": 3}, lambda: np.arange(3.0) ** 2, shape=(3,))
    ...     again = cached_array("squares", {"n": 3}, lambda: np.zeros(3), shape=(3,))
    >>> again.tolist()  # read back, not computed
    [0.0, 1.0, 4.0]
    """
    if os.environ.get(ARRAY_CACHE_ENV, "").lower() == "off":
        return compute()
    try:
        path = cache_dir() / ARRAYS_FOLDER / f"{name}-{array_digest(inputs, modules, packages)}.npy"
    except (OSError, ValueError) as error:
        log.debug("no cache key for %s (%r): computed", name, error)
        return compute()
    kept = _read(path, shape)
    if kept is not None:
        return kept
    array = compute()
    if array.nbytes <= MAX_ENTRY_BYTES and (keep_if is None or keep_if()):
        _keep(path, array)
    return array


def array_digest(
    inputs: Mapping[str, object], modules: Sequence[str] = (), packages: Sequence[str] = ()
) -> str:
    """Digest of ``inputs``, the source files of ``modules`` and the versions of ``packages``
    (see :func:`cached_array`) [-].

    Raises
    ------
    ValueError
        For an input of a type the digest does not cover, or a module that cannot be found.
    """
    digest = hashlib.sha256()
    _feed(digest, dict(inputs))
    for module in modules:
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None or not os.path.isfile(spec.origin):
            raise ValueError(f"module {module!r} has no source file")
        digest.update(f"|module {module}|".encode())
        digest.update(Path(spec.origin).read_bytes())
    for package in packages:
        try:
            version = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            version = "absent"
        digest.update(f"|package {package} {version}|".encode())
    return digest.hexdigest()[:32]


def _feed(digest: hashlib._Hash, value: object) -> None:
    """Add ``value`` to ``digest``, tagged with its type so that different values never feed
    the same bytes."""
    if value is None or isinstance(value, bool | int | float | str):
        digest.update(f"{type(value).__name__}:{value!r};".encode())
    elif isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value)
        if array.dtype.hasobject:
            raise ValueError("object arrays have no digest")
        digest.update(f"array:{array.dtype.str}:{array.shape};".encode())
        digest.update(array.tobytes())
    elif isinstance(value, np.generic):
        _feed(digest, value.item())
    elif isinstance(value, list | tuple):
        digest.update(f"seq:{len(value)}[".encode())
        for item in value:
            _feed(digest, item)
        digest.update(b"]")
    elif isinstance(value, Mapping):
        digest.update(f"map:{len(value)}{{".encode())
        for key in sorted(value, key=repr):
            _feed(digest, key)
            _feed(digest, value[key])
        digest.update(b"}")
    else:
        raise ValueError(f"no digest for a {type(value).__name__}")


def _read(path: Path, shape: tuple[int, ...]) -> np.ndarray | None:
    """The float64 array of ``shape`` kept at ``path``; None when there is none, or it cannot
    be read, or it is not such an array (then it is computed again and replaced)."""
    try:
        kept = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        return None
    except Exception as error:  # any damage (empty, cut short, not .npy) or no permission
        log.debug("cached %s unreadable (%r): computed again", path, error)
        return None
    if not isinstance(kept, np.ndarray) or kept.dtype != np.float64 or kept.shape != shape:
        log.debug("cached %s is not a float64 array of shape %s: computed again", path, shape)
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # read now: the last to be pruned
    return kept


def _keep(path: Path, array: np.ndarray) -> None:
    """Write ``array`` to ``path`` atomically (runs starting together may race to write it),
    readable by all (a cache folder may be shared), then prune the folder; any failure only
    leaves the array out of the cache."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            dir=path.parent, prefix=WRITING_PREFIX, suffix=".npy", delete=False
        ) as file:
            np.save(file, np.asarray(array, dtype=np.float64), allow_pickle=False)
            file.flush()
            os.fsync(file.fileno())  # whole on disk before it is named: a crash leaves no stub
        os.chmod(file.name, 0o644)
        os.replace(file.name, path)
    except OSError as error:
        log.debug("could not keep %s (%r)", path, error)
        with contextlib.suppress(OSError, UnboundLocalError):
            os.unlink(file.name)
        return
    _prune(path.parent)


def _prune(folder: Path) -> None:
    """Remove what a killed writer left (`WRITING_PREFIX` files older than
    `STALE_WRITING_S`), then the entries of ``folder`` read least recently until it holds at
    most `MAX_TOTAL_BYTES`."""
    entries = []
    now_ns = time.time_ns()
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            with contextlib.suppress(OSError):
                status = entry.stat()
                if entry.name.startswith(WRITING_PREFIX):
                    if now_ns - status.st_mtime_ns > STALE_WRITING_S * 1e9:
                        os.unlink(entry.path)
                    continue
                entries.append((status.st_mtime_ns, status.st_size, entry.path))
    total = sum(size for _, size, _ in entries)
    for _, size, path in sorted(entries):
        if total <= MAX_TOTAL_BYTES:
            return
        with contextlib.suppress(OSError):
            os.unlink(path)
            total -= size
