"""Where expensive artifacts live, keyed by everything that determines them; load-or-compute for stages.

A key is a hash of the producing config and its inputs' keys, so a change anywhere upstream gives a new entry
and a re-run with the same settings reuses the old one. ``$GSSD_CACHE`` moves the cache (default ``./cache``);
on a cluster it is the shared folder where jobs meet.

Every entry carries a record of what it is: the config that produced it, the shapes of its arrays, and what
computing it cost (seconds, peak memory, device, host, when, commit). The record is stored inside the entry's
own file, so one atomic rename publishes both and two jobs racing for one key leave one whole entry. An entry
that cannot be read, has no record, or is not what the reader asked for (another config, other shapes) is a
miss: one warning names the file, and the entry is recomputed and replaced. A hit charges the enclosing stage
with the entry's original cost (``provenance.charge``), so tables report what a stage cost, marked as cached.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import numpy as np

from gssd_utils.atomic_io import json_ready, load_npz, save_npz
from gssd_utils.provenance import charge, git_commit, measure, utc_now

CACHE_ENV = "GSSD_CACHE"
_RECORD = "__record__"


class CacheError(ValueError):
    """The cache folder cannot be used; the message says which setting to change."""


class CacheMissWarning(UserWarning):
    """A cache entry was found but not reused (unreadable, or not what was asked for)."""


_SUBFOLDER: ContextVar[str] = ContextVar("gssd_cache_subfolder", default="")


@contextmanager
def cache_subfolder(name: str) -> Iterator[Path]:
    """Inside the ``with`` body the cache is the folder ``name`` of the cache: a computation that must train every
    stage itself (to observe its epochs) gets entries of its own and leaves the main ones untouched."""
    token = _SUBFOLDER.set(name)
    try:
        yield cache_root()
    finally:
        _SUBFOLDER.reset(token)


def cache_root() -> Path:
    root = Path(os.environ.get(CACHE_ENV, "cache")).expanduser() / _SUBFOLDER.get()
    if root.exists() and not root.is_dir():
        raise CacheError(f"the cache folder {root} (${CACHE_ENV}, default ./cache) is a file, not a folder. Fix: "
                         f"point ${CACHE_ENV} at a folder (it is created when missing), or move the file away")
    return root


def check_cache_root() -> Path:
    """The cache folder, created if needed and checked to be writable, before any expensive work starts."""
    root = cache_root()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CacheError(f"cannot create the cache folder {root} (${CACHE_ENV}): {exc.strerror}. Fix: point "
                         f"${CACHE_ENV} at a folder you can write") from exc
    if not os.access(root, os.W_OK | os.X_OK):
        raise CacheError(f"the cache folder {root} (${CACHE_ENV}) is not writable. Fix: point ${CACHE_ENV} at a "
                         "folder you can write")
    return root


def config_key(*parts: Any) -> str:
    """A short stable hash of JSON-serialisable parts (dataclasses should be passed as dicts)."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def cache_path(kind: str, key: str, suffix: str) -> Path:
    return cache_root() / kind / f"{key}{suffix}"


def array_digest(*arrays: np.ndarray) -> str:
    """A content hash of the inputs, so a cache key changes when the data do."""
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(str((array.dtype, array.shape)).encode())
        digest.update(np.ascontiguousarray(array).data)
    return digest.hexdigest()[:16]


def file_digest(path: str | Path) -> str:
    """The md5 of a file's bytes, read in chunks: what identifies a user's data or weights file, wherever it lies."""
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def new_record(config: Any, compute_s: float, peak_mb: float | None, **extra: Any) -> dict:
    """What an entry is and what it cost, stamped with where and when it was computed."""
    from gssd_utils.provenance import device_description

    return {"config": json_ready(config), "compute_s": round(compute_s, 3),
            "peak_mb": None if peak_mb is None else round(peak_mb, 1), "device": device_description(),
            "host": socket.gethostname(), "created_utc": utc_now(), "commit": git_commit(), **extra}


def origin(record: Mapping[str, Any]) -> str:
    """Where a cached entry was computed, in a few words."""
    return f"{record.get('device', '?')} on {record.get('host', '?')}, {record.get('created_utc', '?')}"


def _shapes(arrays: Mapping[str, np.ndarray]) -> dict[str, list]:
    return {name: [list(a.shape), str(a.dtype)] for name, a in arrays.items()}


def _fits(shape: tuple[int, ...], expected: tuple[int | None, ...]) -> bool:
    return len(shape) == len(expected) and all(e is None or e == s for s, e in zip(shape, expected, strict=True))


def _problem(arrays: Mapping[str, np.ndarray], record: Mapping[str, Any] | None, config: Any,
             expect: Mapping[str, tuple[int | None, ...]] | None) -> str | None:
    """Why a loaded entry is not what was asked for, or None."""
    if record is None:
        return "has no record of what produced it"
    if config is not None and record.get("config") != json_ready(config):
        return "was produced by another config"
    if record.get("shapes") != _shapes(arrays):
        return "holds arrays other than its record says (a partial or foreign file)"
    for name, shape in (expect or {}).items():
        if name not in arrays:
            return f"lacks the array {name!r}"
        if not _fits(arrays[name].shape, shape):
            want = "x".join("*" if s is None else str(s) for s in shape)
            return f"holds {name!r} of shape {'x'.join(map(str, arrays[name].shape))} where {want} was expected"
    return None


def cached_arrays(path: Path, compute: Callable[[], dict[str, np.ndarray]], config: Any = None,
                  expect: Mapping[str, tuple[int | None, ...]] | None = None) -> dict[str, np.ndarray]:
    """The arrays at ``path`` if they are what ``config`` and ``expect`` ask for, else ``compute()``'s, saved there.

    ``expect`` maps array names to shapes, ``None`` for a free dimension: ``{"train": (n_train, None)}``.
    """
    if path.is_file():
        try:
            arrays = load_npz(path)
            record = json.loads(str(arrays.pop(_RECORD))) if _RECORD in arrays else None
            problem = _problem(arrays, record, config, expect)
        except Exception as exc:  # an unreadable entry is recomputed, never trusted
            problem = f"is unreadable ({type(exc).__name__}: {exc})"
        if problem is None:
            charge(record["compute_s"], cached=True, origin=origin(record))
            return arrays
        warnings.warn(f"cache entry {path} {problem}; recomputing it", CacheMissWarning, stacklevel=2)
    with measure() as cost:
        arrays = compute()
    problem = _problem(arrays, {"shapes": _shapes(arrays), "config": json_ready(config)}, config, expect)
    if problem is not None:
        raise RuntimeError(f"computed arrays for {path} do not match what the caller expects: {problem}")
    record = new_record(config, cost.seconds, cost.peak_mb, shapes=_shapes(arrays))
    save_npz(path, {**arrays, _RECORD: np.array(json.dumps(record))})
    charge(cost.seconds, cached=False)
    return arrays
