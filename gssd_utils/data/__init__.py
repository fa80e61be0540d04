"""Data sets: CIFAR-10 (local copy or torchvision download), the embedded digits, and user npz files."""

from __future__ import annotations

from pathlib import Path

from gssd_utils.data.cifar10 import CorruptDataError, DataNotFoundError, load_cifar10, resolve_data_root
from gssd_utils.data.dataset import ImageDataset
from gssd_utils.data.digits import load_digits32
from gssd_utils.data.npz_dataset import UserData, load_clean_reserve, load_npz_dataset

DATASETS = ("cifar10", "digits32")

__all__ = [
    "DATASETS",
    "CorruptDataError",
    "DataNotFoundError",
    "ImageDataset",
    "UserData",
    "load_cifar10",
    "load_clean_reserve",
    "load_dataset",
    "load_digits32",
    "load_npz_dataset",
    "resolve_data_root",
]


def load_dataset(name: str, root: str | Path | None = None) -> ImageDataset:
    """Load a named data set, or an npz when ``name`` is a path ending in ``.npz``."""
    if name == "cifar10":
        return load_cifar10(root)
    if name == "digits32":
        return load_digits32()
    if str(name).endswith(".npz"):
        return load_npz_dataset(name).data
    raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)} or a path to an .npz file")
