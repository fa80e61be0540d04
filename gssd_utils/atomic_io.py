"""Atomic writes and safe reads for every artifact the pipeline produces.

An interrupted run must never leave a half-written file that a later run trusts, so every writer goes
through a temporary file in the same directory and an ``os.replace``: a reader sees the old file or the new
one, never a part, and two writers racing for one path leave one of their files whole. Written files get the
permissions a plain ``open`` would give them (``0666`` less the umask), not the temporary file's ``0600``, so a
group can read a shared report. Readers refuse pickles.

A write that runs out of space (numpy's and json's ``OSError: No space left on device``, or torch's ``RuntimeError:
[enforce fail at inline_container.cc] unexpected pos``) raises ``DiskFullError``, one line naming the folder, the
space the file needs and what is free; the temporary file is removed and the files already there stay whole.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
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


class DiskFullError(OSError):
    """A write ran out of space; the message names the folder, the space needed and the space free."""


_MIB = 2**20


def _out_of_space(exc: BaseException, folder: Path, size: int) -> bool:
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    # torch's zip writer reports a short write as "unexpected pos"; only a disk with less room than the file says why
    return isinstance(exc, RuntimeError) and shutil.disk_usage(folder).free < max(size, _MIB)


def write_atomically(path: str | Path, writer: Callable[[Path], None], size: int = 0) -> Path:
    """Run ``writer(tmp_path)`` and move the result into place only if it finished. ``size``: about how many bytes
    the file takes, for the message when the disk is full."""
    path = Path(path)
    with _temporary_sibling(path) as tmp:
        try:
            writer(tmp)
        except (OSError, RuntimeError) as exc:
            if not _out_of_space(exc, path.parent, size):
                raise
            written = tmp.stat().st_size if tmp.exists() else 0  # freed again when the temporary file goes
            free, need = shutil.disk_usage(path.parent).free + written, max(size, written)
            raise DiskFullError(
                f"no space left in {path.parent} to write {path.name}: it needs about {need / _MIB:,.1f} MB and "
                f"{free / _MIB:,.1f} MB are free. Fix: free space on that disk, or move the folder elsewhere "
                "($GSSD_CACHE for the cache, --out for outputs); the files already there are whole") from exc
    return path


def save_json(path: str | Path, obj: Any) -> Path:
    """Strict JSON: a missing or undefined number (NaN, inf) is written as null, which every reader accepts."""
    text = json.dumps(json_ready(obj), indent=2, sort_keys=True, allow_nan=False) + "\n"
    return write_atomically(path, lambda tmp: tmp.write_text(text), size=len(text.encode()))


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

    return write_atomically(path, _write, size=sum(np.asarray(a).nbytes for a in arrays.values()))


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Load every array of an npz without ever unpickling (object arrays are rejected)."""
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def save_torch(path: str | Path, obj: Any) -> Path:
    import torch

    return write_atomically(path, lambda tmp: torch.save(obj, tmp), size=_tensor_bytes(obj))


def _tensor_bytes(obj: Any) -> int:
    """The bytes of the tensors in a (nested) checkpoint."""
    import torch

    if isinstance(obj, torch.Tensor):
        return obj.nelement() * obj.element_size()
    if isinstance(obj, Mapping):
        return sum(_tensor_bytes(value) for value in obj.values())
    if isinstance(obj, list | tuple):
        return sum(_tensor_bytes(value) for value in obj)
    return 0


def load_torch(path: str | Path) -> Any:
    """Load a checkpoint with ``weights_only=True``: tensors and plain containers only, no code."""
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)
