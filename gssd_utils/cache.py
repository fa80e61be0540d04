"""Where expensive artifacts live, keyed by everything that determines them; load-or-compute for stages.

A key is a hash of the producing config and its inputs' keys, so a change anywhere upstream gives a new
entry and a re-run with the same settings reuses the old one. ``$GSSD_CACHE`` moves the cache (default
``./cache``).
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from gssd_utils.atomic_io import load_npz, save_npz

CACHE_ENV = "GSSD_CACHE"


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV, "cache")).expanduser()


def config_key(*parts: Any) -> str:
    """A short stable hash of JSON-serialisable parts (dataclasses should be passed as dicts)."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def cache_path(kind: str, key: str, suffix: str) -> Path:
    return cache_root() / kind / f"{key}{suffix}"


def cached_arrays(path: Path, compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The arrays at ``path``, or ``compute()``'s saved there; an unreadable entry is recomputed, never trusted."""
    if path.is_file():
        try:
            return load_npz(path)
        except Exception as exc:
            warnings.warn(f"cache entry {path} is unreadable ({type(exc).__name__}: {exc}); recomputing",
                          stacklevel=2)
    arrays = compute()
    save_npz(path, arrays)
    return arrays


def array_digest(*arrays: np.ndarray) -> str:
    """A content hash of the inputs, so a cache key changes when the data do."""
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(str((array.dtype, array.shape)).encode())
        digest.update(np.ascontiguousarray(array).data)
    return digest.hexdigest()[:16]
