"""Data sets: the registered ones (CIFAR-10, the embedded digits, ImageNet-30, VGGFace2-30), image folders and npz."""

from __future__ import annotations

from gssd_utils.data.cifar10 import CorruptDataError, DataNotFoundError, load_cifar10, resolve_data_root
from gssd_utils.data.dataset import ImageDataset
from gssd_utils.data.digits import load_digits32
from gssd_utils.data.image_folder import ImageFolderError, load_image_folder
from gssd_utils.data.memory import DataTooLargeError
from gssd_utils.data.npz_dataset import UserData, load_clean_reserve, load_npz_dataset
from gssd_utils.data.registry import DATASETS, dataset_names, load_dataset, load_user_data

__all__ = [
    "DATASETS",
    "CorruptDataError",
    "DataNotFoundError",
    "DataTooLargeError",
    "ImageDataset",
    "ImageFolderError",
    "UserData",
    "dataset_names",
    "load_cifar10",
    "load_clean_reserve",
    "load_dataset",
    "load_digits32",
    "load_image_folder",
    "load_npz_dataset",
    "load_user_data",
    "resolve_data_root",
]
