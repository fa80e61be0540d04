"""Where expensive artifacts live, keyed by everything that determines them.

A key is a hash of the producing config and its inputs' keys, so a change anywhere upstream gives a new
entry and a re-run with the same settings reuses the old one. ``$GSSD_CACHE`` moves the cache (default
``./cache``).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

CACHE_ENV = "GSSD_CACHE"


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV, "cache")).expanduser()


def config_key(*parts: Any) -> str:
    """A short stable hash of JSON-serialisable parts (dataclasses should be passed as dicts)."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def cache_path(kind: str, key: str, suffix: str) -> Path:
    return cache_root() / kind / f"{key}{suffix}"
