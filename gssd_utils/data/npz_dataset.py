"""Bring-your-own data: an ``.npz`` with ``x_train, y_train, x_test, y_test`` (uint8 NHWC, integer labels).

Loaded with ``allow_pickle=False``; every malformed field gets an error that names it and the fix.
``x_test_triggered`` is optional: users who already hold a triggered test set pass it for the ASR.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from gssd_utils.data.cifar10 import CorruptDataError
from gssd_utils.data.dataset import ImageDataset, validate_images

REQUIRED_KEYS = ("x_train", "y_train", "x_test", "y_test")
OPTIONAL_KEYS = ("x_test_triggered",)


def load_npz_dataset(path: str | Path) -> tuple[ImageDataset, np.ndarray | None]:
    """The data set in ``path`` and its ``x_test_triggered`` (None when absent)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no such file. Fix: pass the path of an .npz holding {', '.join(REQUIRED_KEYS)}"
        )
    if not zipfile.is_zipfile(path):  # np.load would otherwise try to read it as a pickle
        raise CorruptDataError(f"{path}: not a readable .npz (not a zip archive). Fix: re-create it with np.savez.")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except ValueError as exc:
        raise CorruptDataError(
            f"{path}: holds object arrays, which would need unpickling ({exc}). Fix: save plain numeric arrays "
            "(uint8 images, integer labels) with np.savez."
        ) from exc
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise CorruptDataError(f"{path}: not a readable .npz ({exc}). Fix: re-create it with np.savez.") from exc

    missing = [key for key in REQUIRED_KEYS if key not in arrays]
    if missing:
        raise ValueError(
            f"{path}: missing {', '.join(missing)}; found {', '.join(sorted(arrays)) or 'no arrays'}. "
            f"Fix: save with np.savez(path, {'=..., '.join(REQUIRED_KEYS)}=...)"
        )
    unknown = sorted(set(arrays) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS))
    if unknown:
        raise ValueError(
            f"{path}: unexpected arrays {', '.join(unknown)}. Allowed: {', '.join(REQUIRED_KEYS + OPTIONAL_KEYS)}. "
            "Fix: drop them, or pass ground truth separately (it must never reach the defense)."
        )
    validate_images(arrays["x_train"], arrays["y_train"], f"{path.name}: x_train/y_train")
    validate_images(arrays["x_test"], arrays["y_test"], f"{path.name}: x_test/y_test")
    num_classes = int(arrays["y_train"].max()) + 1
    absent = sorted(set(range(num_classes)) - set(np.unique(arrays["y_train"]).tolist()))
    if absent:
        raise ValueError(f"{path.name}: y_train has no sample of classes {absent}; labels must be 0..C-1 "
                         "with every class present. Fix: remap the labels to consecutive integers.")
    if arrays["y_test"].max() >= num_classes:
        raise ValueError(f"{path.name}: y_test holds label {arrays['y_test'].max()} but y_train only has "
                         f"classes 0..{num_classes - 1}. Fix: use the same label encoding for both splits.")
    if arrays["x_train"].shape[1:] != arrays["x_test"].shape[1:]:
        raise ValueError(f"{path.name}: train images are {arrays['x_train'].shape[1:]} but test images "
                         f"{arrays['x_test'].shape[1:]}. Fix: resize both splits to one size.")
    triggered = arrays.get("x_test_triggered")
    if triggered is not None and (triggered.dtype != np.uint8 or triggered.shape[1:] != arrays["x_test"].shape[1:]):
        raise ValueError(f"{path.name}: x_test_triggered must be uint8 with images shaped like x_test, "
                         f"got {triggered.dtype} {triggered.shape}")
    dataset = ImageDataset(
        x_train=arrays["x_train"],
        y_train=arrays["y_train"].astype(np.int64),
        x_test=arrays["x_test"],
        y_test=arrays["y_test"].astype(np.int64),
        classes=tuple(str(c) for c in range(num_classes)),
        info={"name": path.stem, "source": str(path.resolve()), "canonical": None},
    )
    return dataset, triggered
