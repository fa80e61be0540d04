"""Bring-your-own data: an ``.npz`` with ``x_train, y_train, x_test, y_test`` (uint8 NHWC, integer labels).

Optional: ``x_test_triggered`` (triggered non-target test images, for the ASR) and ``x_clean, y_clean`` (a clean
reserve for the defenses that need one). Loaded with ``allow_pickle=False``; every malformed field gets an error
that names the file, the field and the fix, before any work starts.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gssd_utils.cache import file_digest
from gssd_utils.data.cifar10 import CorruptDataError
from gssd_utils.data.dataset import ImageDataset, validate_images

REQUIRED_KEYS = ("x_train", "y_train", "x_test", "y_test")
OPTIONAL_KEYS = ("x_test_triggered", "x_clean", "y_clean")


@dataclass(frozen=True)
class UserData:
    """A user's data set, with its optional triggered test images and clean reserve."""

    data: ImageDataset
    x_test_triggered: np.ndarray | None = None
    clean: tuple[np.ndarray, np.ndarray] | None = None


def read_arrays(path: str | Path, what: str = "data file") -> dict[str, np.ndarray]:
    """Every member of an npz as an array, never unpickling; anything else is refused naming ``what``."""
    path = Path(path)
    where = f"{what} {path}"
    if not path.is_file():
        raise FileNotFoundError(f"{where}: no such file. Fix: pass the path of an existing .npz")
    if not zipfile.is_zipfile(path):  # np.load would otherwise try to read it as a pickle
        raise CorruptDataError(f"{where}: not an .npz archive. Fix: re-create it with np.savez")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except ValueError as exc:
        raise CorruptDataError(f"{where}: holds object arrays, which would need unpickling ({exc}). Fix: save plain "
                               "numeric arrays (uint8 images, integer labels) with np.savez") from exc
    except (OSError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        raise CorruptDataError(f"{where}: not a readable .npz ({exc}). Fix: re-create it with np.savez") from exc
    foreign = sorted(key for key, value in arrays.items() if not isinstance(value, np.ndarray))
    if foreign:
        raise CorruptDataError(f"{where}: members {', '.join(foreign)} are not .npy arrays. Fix: save only arrays, "
                               "with np.savez")
    return arrays


def _check_labels(y: np.ndarray, num_classes: int, name: str) -> None:
    if len(y) and y.max() >= num_classes:
        raise ValueError(f"{name} holds label {y.max()} but y_train only has classes 0..{num_classes - 1}. Fix: "
                         "use the same label encoding everywhere")


def load_npz_dataset(path: str | Path) -> UserData:
    """The data set in ``path``, checked, with its optional triggered test images and clean reserve."""
    path = Path(path)
    arrays = read_arrays(path)
    missing = [key for key in REQUIRED_KEYS if key not in arrays]
    if missing:
        raise ValueError(f"data file {path}: missing {', '.join(missing)}; found "
                         f"{', '.join(sorted(arrays)) or 'no arrays'}. Fix: save with "
                         f"np.savez(path, {'=..., '.join(REQUIRED_KEYS)}=...)")
    unknown = sorted(set(arrays) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS))
    if unknown:
        raise ValueError(f"data file {path}: unexpected arrays {', '.join(unknown)}. Allowed: "
                         f"{', '.join(REQUIRED_KEYS + OPTIONAL_KEYS)}. Fix: drop them, or pass ground truth "
                         "separately with --truth (it must never reach the defense)")
    name = path.name
    validate_images(arrays["x_train"], arrays["y_train"], f"{name}: x_train/y_train")
    validate_images(arrays["x_test"], arrays["y_test"], f"{name}: x_test/y_test")
    y_train = arrays["y_train"]
    num_classes = int(y_train.max()) + 1
    if num_classes > len(y_train):
        raise ValueError(f"{name}: y_train holds label {y_train.max()} with only {len(y_train)} samples; labels "
                         "must be class indices 0..C-1 with every class present. Fix: remap the labels to "
                         "consecutive integers")
    absent = np.flatnonzero(np.bincount(y_train, minlength=num_classes) == 0)
    if len(absent):
        raise ValueError(f"{name}: y_train has no sample of classes {absent[:10].tolist()}; labels must be 0..C-1 "
                         "with every class present. Fix: remap the labels to consecutive integers")
    _check_labels(arrays["y_test"], num_classes, f"{name}: y_test")
    shape = arrays["x_train"].shape[1:]
    if arrays["x_test"].shape[1:] != shape:
        raise ValueError(f"{name}: train images are {shape} but test images {arrays['x_test'].shape[1:]}. Fix: "
                         "resize both splits to one size")
    triggered = arrays.get("x_test_triggered")
    if triggered is not None and (triggered.dtype != np.uint8 or triggered.shape[1:] != shape):
        raise ValueError(f"{name}: x_test_triggered must be uint8 with images shaped like x_test, got "
                         f"{triggered.dtype} {triggered.shape}")
    clean = None
    if ("x_clean" in arrays) != ("y_clean" in arrays):
        raise ValueError(f"{name}: give both x_clean and y_clean, or neither")
    if "x_clean" in arrays:
        clean = _clean_pair(arrays["x_clean"], arrays["y_clean"], shape, num_classes, name)
    dataset = ImageDataset(
        x_train=arrays["x_train"], y_train=y_train.astype(np.int64), x_test=arrays["x_test"],
        y_test=arrays["y_test"].astype(np.int64), classes=tuple(str(c) for c in range(num_classes)),
        info={"name": path.stem, "source": f"npz file {path.name}", "md5": file_digest(path), "canonical": None},
    )
    return UserData(dataset, triggered, clean)


def _clean_pair(x: np.ndarray, y: np.ndarray, shape: tuple, num_classes: int, where: str
                ) -> tuple[np.ndarray, np.ndarray]:
    validate_images(x, y, f"{where}: x_clean/y_clean")
    if x.shape[1:] != shape:
        raise ValueError(f"{where}: clean images are {x.shape[1:]} but training images {shape}. Fix: resize them")
    _check_labels(y, num_classes, f"{where}: y_clean")
    return x, y.astype(np.int64)


def load_clean_reserve(path: str | Path, like: ImageDataset) -> tuple[np.ndarray, np.ndarray]:
    """A clean reserve from its own npz (``x_clean, y_clean``), checked against the data set it goes with."""
    arrays = read_arrays(path, "clean reserve (--clean)")
    if set(arrays) != {"x_clean", "y_clean"}:
        raise ValueError(f"clean reserve (--clean) {path}: expects exactly x_clean and y_clean; found "
                         f"{', '.join(sorted(arrays)) or 'nothing'}")
    return _clean_pair(arrays["x_clean"], arrays["y_clean"], like.image_shape, like.num_classes, Path(path).name)
