"""Atomic writes and safe reads for every artifact the pipeline produces.

An interrupted run must never leave a half-written file that a later run trusts, so every writer goes
through a temporary file in the same directory and an ``os.replace``: a reader sees the old file or the new
one, never a part, and two writers racing for one path leave one of their files whole. Written files get the
permissions a plain ``open`` would give them (``0666`` less the umask), not the temporary file's ``0600``, so a
group can read a shared report. Readers refuse pickles.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def _temporary_sibling(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_atomically(path: str | Path, writer: Callable[[Path], None]) -> Path:
    """Run ``writer(tmp_path)`` and move the result into place only if it finished."""
    path = Path(path)
    with _temporary_sibling(path) as tmp:
        writer(tmp)
    return path


def save_json(path: str | Path, obj: Any) -> Path:
    """Strict JSON: a missing or undefined number (NaN, inf) is written as null, which every reader accepts."""
    def _write(tmp: Path) -> None:
        tmp.write_text(json.dumps(json_ready(obj), indent=2, sort_keys=True, allow_nan=False) + "\n")

    return write_atomically(path, _write)


def json_ready(obj: Any) -> Any:
    """``obj`` with numpy values, paths and non-finite floats turned into what strict JSON holds."""
    if isinstance(obj, dict):
        return {str(key): json_ready(value) for key, value in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_ready(value) for value in obj]
    if isinstance(obj, np.ndarray | np.generic):
        return json_ready(obj.tolist())
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else None
    if isinstance(obj, Path):
        return str(obj)
    if obj is None or isinstance(obj, str | int | bool):
        return obj
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")


def save_npz(path: str | Path, arrays: Mapping[str, np.ndarray]) -> Path:
    def _write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)

    return write_atomically(path, _write)


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Load every array of an npz without ever unpickling (object arrays are rejected)."""
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def save_torch(path: str | Path, obj: Any) -> Path:
    import torch

    return write_atomically(path, lambda tmp: torch.save(obj, tmp))


def load_torch(path: str | Path) -> Any:
    """Load a checkpoint with ``weights_only=True``: tensors and plain containers only, no code."""
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)
