"""A full disk under the cache or --out: one line naming the folder and the space needed; nothing left half-written."""

from __future__ import annotations

import errno
import re
import shutil
from collections import namedtuple

import numpy as np
import pytest
import torch

from gssd_utils import atomic_io
from gssd_utils.atomic_io import DiskFullError, save_json, save_npz, save_torch

Usage = namedtuple("Usage", "total used free")


def _no_room(monkeypatch, free: int = 1000) -> None:
    monkeypatch.setattr(atomic_io.shutil, "disk_usage", lambda _path: Usage(10**9, 10**9 - free, free))


def test_torch_short_write_on_a_full_disk_names_folder_and_size(tmp_path, monkeypatch):
    (tmp_path / "model.pt").write_bytes(b"old")

    def short_write(obj, f):  # what torch's zip writer raises when the disk fills
        open(f, "wb").write(b"partial")
        raise RuntimeError("[enforce fail at inline_container.cc:664] . unexpected pos 64 vs 0")

    monkeypatch.setattr(torch, "save", short_write)
    _no_room(monkeypatch)
    expected = rf"no space left in {re.escape(str(tmp_path))} to write model\.pt: it needs about 4\.0 MB"
    with pytest.raises(DiskFullError, match=expected):
        save_torch(tmp_path / "model.pt", {"w": torch.zeros(2**20)})
    assert (tmp_path / "model.pt").read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == [
        "model.pt"]


def test_a_runtime_error_with_room_on_the_disk_stays_itself(tmp_path, monkeypatch):
    def broken(obj, f):
        raise RuntimeError("some other failure")

    monkeypatch.setattr(torch, "save", broken)
    assert shutil.disk_usage(tmp_path).free > 2**20
    with pytest.raises(RuntimeError, match="some other failure") as info:
        save_torch(tmp_path / "model.pt", {"w": torch.zeros(4)})
    assert not isinstance(info.value, DiskFullError)


def test_enospc_from_numpy_or_json_becomes_one_line(tmp_path, monkeypatch):
    def enospc(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    _no_room(monkeypatch)
    monkeypatch.setattr(np, "savez_compressed", enospc)
    with pytest.raises(DiskFullError, match=r"needs about 0\.8 MB") as info:
        save_npz(tmp_path / "a.npz", {"x": np.zeros(100_000)})
    assert "\n" not in str(info.value) and "$GSSD_CACHE" in str(info.value)
    monkeypatch.setattr(type(tmp_path), "write_text", enospc)
    with pytest.raises(DiskFullError, match=r"to write r\.json"):
        save_json(tmp_path / "r.json", {"a": 1})
    assert list(tmp_path.iterdir()) == []
