"""The in-memory image dataset every stage works on: uint8 NHWC arrays plus where they came from."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np


@dataclass(frozen=True)
class ImageDataset:
    """Train and test images as uint8 (N, H, W, 3) with integer labels.

    ``info`` says which copy of which data set this is (its md5 status included), so every number
    computed on it can say what produced it.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...]
    info: dict = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])

    def identity(self) -> dict:
        """What tells this copy and subset from another, for cache keys and provenance: names and checksums,
        never a machine's paths."""
        keys = ("name", "canonical", "md5", "resolution", "subset", "split", "source", "reserve")
        return {k: self.info[k] for k in keys if k in self.info}

    def split_reserve(self, share: float, seed: int = 0) -> tuple[ImageDataset, tuple[np.ndarray, np.ndarray]]:
        """(the data set without a clean reserve, the reserve's images and labels): a class-stratified ``share`` of
        the training set set aside before any poisoning, so it is genuinely clean. ``share`` 0 keeps everything."""
        empty = (self.x_train[:0], self.y_train[:0])
        if share == 0:
            return self, empty
        if not 0 < share < 0.5:
            raise ValueError(f"clean_reserve={share} is out of range; it must lie in [0, 0.5)")
        rng = np.random.default_rng([seed, 7])
        reserve = _stratified_indices(self.y_train, max(round(share * len(self.y_train)), 1), rng, "clean_reserve")
        rest = np.setdiff1d(np.arange(len(self.y_train)), reserve)
        info = {**self.info, "reserve": {"share": share, "n": len(reserve), "seed": seed}}
        kept = replace(self, x_train=self.x_train[rest], y_train=self.y_train[rest], info=info)
        return kept, (self.x_train[reserve], self.y_train[reserve])

    def subset(self, n_train: int | None, n_test: int | None, seed: int = 0) -> ImageDataset:
        """A class-stratified subset, identical for the same sizes and seed.

        Stratified so that every class keeps its share: the per-class flows need enough samples of each.
        """
        if n_train is None and n_test is None:
            return self
        rng = np.random.default_rng(seed)
        train_idx = _stratified_indices(self.y_train, n_train, rng, "n_train")
        test_idx = _stratified_indices(self.y_test, n_test, rng, "n_test")
        info = dict(self.info)
        info["subset"] = {
            "n_train": len(train_idx),
            "n_test": len(test_idx),
            "seed": seed,
            "of": [len(self.y_train), len(self.y_test)],
        }
        return replace(
            self,
            x_train=self.x_train[train_idx],
            y_train=self.y_train[train_idx],
            x_test=self.x_test[test_idx],
            y_test=self.y_test[test_idx],
            info=info,
        )


def _stratified_indices(labels: np.ndarray, n: int | None, rng: np.random.Generator, name: str) -> np.ndarray:
    total = len(labels)
    if n is None or n >= total:
        return np.arange(total)
    if n <= 0:
        raise ValueError(f"{name} must be positive or None (all samples), got {n}")
    classes, counts = np.unique(labels, return_counts=True)
    # Largest-remainder apportionment keeps the class proportions and hits n exactly.
    quotas = counts * n / total
    take = np.floor(quotas).astype(int)
    remainder_order = np.argsort(-(quotas - take), kind="stable")
    take[remainder_order[: n - take.sum()]] += 1
    chosen = [
        rng.choice(np.flatnonzero(labels == c), size=k, replace=False) for c, k in zip(classes, take, strict=True)
    ]
    return np.sort(np.concatenate(chosen))


def validate_images(x: np.ndarray, y: np.ndarray, name: str) -> None:
    """Raise a ValueError naming the array and the fix when images or labels are malformed."""
    if x.dtype != np.uint8:
        raise ValueError(f"{name}: images must be uint8 in [0, 255], got dtype {x.dtype}; convert with "
                         "np.clip(x, 0, 255).astype(np.uint8) (multiply by 255 first if they are in [0, 1])")
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"{name}: images must be NHWC with 3 channels, got shape {x.shape}; "
                         "transpose NCHW with x.transpose(0, 2, 3, 1) and repeat grey images to 3 channels")
    if len(x) == 0:
        raise ValueError(f"{name}: no images (an empty array). Fix: give at least one image per class")
    if y.ndim != 1 or len(y) != len(x):
        raise ValueError(f"{name}: labels must be 1-D with one label per image, got shape {y.shape} "
                         f"for {len(x)} images")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{name}: labels must be integers, got dtype {y.dtype}")
    if len(y) and y.min() < 0:
        raise ValueError(f"{name}: labels must be class indices 0..C-1, found {y.min()}")
