"""CIFAR-10 from the standard python layout (``cifar-10-batches-py/``), with torchvision's download as fallback.

The batches are pickles. They are read with a restricted unpickler that only rebuilds plain containers
and numpy arrays, so a tampered file cannot run code. Each batch's md5 is compared with the official
release: a mismatch (such as a lossy re-encoded copy) is reported once as a warning and
recorded in ``info`` so that every number computed on it is labelled, not refused.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import warnings
from pathlib import Path
from typing import ClassVar

import numpy as np

from gssd_utils.data.dataset import ImageDataset

DATA_ENV = "GSSD_DATA"
BATCH_DIR = "cifar-10-batches-py"
OFFICIAL_MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
}
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


class DataNotFoundError(FileNotFoundError):
    """The data set is neither on disk nor downloadable; the message says where to put it."""


class CorruptDataError(ValueError):
    """A data file exists but cannot be read as what it claims to be."""


def resolve_data_root(root: str | Path | None = None) -> Path:
    """The data root: the argument, else ``$GSSD_DATA``, else ``./data``."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get(DATA_ENV)
    return Path(env).expanduser() if env else Path("data")


def candidate_dirs(root: Path) -> list[Path]:
    """Where the batches may sit below a root: torchvision's layout, or one ``cifar10/`` level deeper."""
    return [root / BATCH_DIR, root / "cifar10" / BATCH_DIR]


def load_cifar10(root: str | Path | None = None, download: bool = True) -> ImageDataset:
    root = resolve_data_root(root)
    batch_dir = next((d for d in candidate_dirs(root) if d.is_dir()), None)
    if batch_dir is None:
        if not download:
            raise DataNotFoundError(_missing_message(root, "downloading was switched off"))
        batch_dir = _download(root)
    return _read_batches(batch_dir)


def _download(root: Path) -> Path:
    from torchvision.datasets import CIFAR10

    try:
        root.mkdir(parents=True, exist_ok=True)
        CIFAR10(str(root), train=True, download=True)
    except Exception as exc:  # torchvision raises URLError, OSError or RuntimeError depending on the failure
        raise DataNotFoundError(_missing_message(root, f"the download failed ({type(exc).__name__}: {exc})")) from exc
    return root / BATCH_DIR


def _missing_message(root: Path, why: str) -> str:
    searched = ", ".join(str(d.resolve()) for d in candidate_dirs(root))
    return (
        f"CIFAR-10 not found: searched {searched}, and {why}. Fix: set ${DATA_ENV} (or pass root=) to a folder "
        f"holding '{BATCH_DIR}/' with data_batch_1..5 and test_batch, as the official python tarball "
        "(https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz) unpacks, or run once with network access "
        "so torchvision downloads it there."
    )


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """Rebuilds dicts, lists, strings, bytes and numpy arrays; refuses every other global."""

    _ALLOWED: ClassVar[frozenset[tuple[str, str]]] = frozenset({
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("builtins", "list"),
        ("builtins", "dict"),
    })

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only arrays and containers are allowed")
        return super().find_class(module, name)


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray, str]:
    raw = path.read_bytes()
    digest = hashlib.md5(raw).hexdigest()
    try:
        entry = _ArrayOnlyUnpickler(io.BytesIO(raw), encoding="latin1").load()
        data = np.asarray(entry["data"], dtype=np.uint8)
        labels = np.asarray(entry.get("labels", entry.get("fine_labels")), dtype=np.int64)
    except Exception as exc:
        raise CorruptDataError(
            f"{path} is not a readable CIFAR-10 batch ({type(exc).__name__}: {exc}). Fix: delete the folder "
            f"{path.parent} and download it again (it may be truncated or not the python version)."
        ) from exc
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data) or labels.min() < 0 or labels.max() > 9:
        raise CorruptDataError(
            f"{path}: expected (N, 3072) uint8 data with N labels in 0..9, got data {data.shape} and "
            f"{len(labels)} labels. Fix: replace it with the official python-version batch."
        )
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels, digest


def _read_batches(batch_dir: Path) -> ImageDataset:
    missing = [name for name in OFFICIAL_MD5 if not (batch_dir / name).is_file()]
    if missing:
        raise DataNotFoundError(
            f"{batch_dir} lacks {', '.join(missing)}. Fix: unpack the complete official python tarball there."
        )
    parts, md5 = {}, {}
    for name in OFFICIAL_MD5:
        images, labels, digest = _read_batch(batch_dir / name)
        parts[name] = (images, labels)
        md5[name] = digest
    mismatched = sorted(name for name, digest in md5.items() if digest != OFFICIAL_MD5[name])
    if mismatched:
        warnings.warn(
            f"CIFAR-10 at {batch_dir} is not the canonical release: md5 differs for {', '.join(mismatched)}. "
            "Numbers measured on it are labelled as such.",
            stacklevel=3,
        )
    train = [parts[f"data_batch_{i}"] for i in range(1, 6)]
    return ImageDataset(
        x_train=np.concatenate([images for images, _ in train]),
        y_train=np.concatenate([labels for _, labels in train]),
        x_test=parts["test_batch"][0],
        y_test=parts["test_batch"][1],
        classes=CLASSES,
        info={
            "name": "cifar10",
            "source": f"CIFAR-10 python batches ({BATCH_DIR})",
            "canonical": not mismatched,
            "md5_mismatch": mismatched,
            "md5": md5,
        },
    )
