"""The all-to-one poisoning of the GSSD threat model.

A share of the training set, drawn from non-target classes, gets the trigger and the target label; a
label-consistent attack (LC) instead draws target-class images and keeps their labels.
The ground truth (which indices, their original labels) is kept apart in ``PoisonTruth``: evaluation
may read it, the defense never does. Saved runs keep it in a separate file for the same reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from gssd_utils.atomic_io import save_json, save_npz
from gssd_utils.attacks.base import Attack, build_attack, get_attack_class, seeded_rng
from gssd_utils.data.dataset import ImageDataset
from gssd_utils.data.npz_dataset import read_arrays

RATE_BASES = ("all", "non_target")


@dataclass(frozen=True)
class PoisonConfig:
    """What to poison and how. ``rate=None`` takes the attack's paper default.

    ``rate_base='all'`` counts the rate against the whole training set, as the paper words it (10% of
    CIFAR-10 = 5,000 images); ``'non_target'`` reproduces the official code's count (4,500).
    """

    attack: str
    rate: float | None = None
    target: int = 0
    seed: int = 0
    rate_base: Literal["all", "non_target"] = "all"
    params: Mapping[str, Any] = field(default_factory=dict)

    def resolved_rate(self) -> float:
        return get_attack_class(self.attack).default_rate if self.rate is None else self.rate

    def as_dict(self) -> dict:
        out = asdict(self)
        out["params"] = dict(self.params)
        out["rate"] = self.resolved_rate()
        return out


@dataclass(frozen=True)
class PoisonTruth:
    """Ground truth for evaluation only. Cover samples (adaptive attacks) carry a trigger but keep their
    true label: they are not poisons, and the defense is right to keep them."""

    poison_indices: np.ndarray
    original_labels: np.ndarray
    target: int
    cover_indices: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    def is_poisoned(self, n: int) -> np.ndarray:
        mask = np.zeros(n, dtype=bool)
        mask[self.poison_indices] = True
        return mask


@dataclass(frozen=True)
class PoisonedDataset:
    """A poisoned training set with its clean test set and triggered non-target test images."""

    data: ImageDataset
    x_test_triggered: np.ndarray
    y_test_triggered_source: np.ndarray
    config: PoisonConfig
    attack: Attack
    truth: PoisonTruth

    def save(self, directory: str | Path) -> Path:
        """Write ``data.npz`` (the bring-your-own format), ``truth.npz``, ``trigger.npz`` and ``attack.json``."""
        directory = Path(directory)
        save_npz(directory / "data.npz", {
            "x_train": self.data.x_train, "y_train": self.data.y_train,
            "x_test": self.data.x_test, "y_test": self.data.y_test,
            "x_test_triggered": self.x_test_triggered,
        })
        save_npz(directory / "truth.npz", {
            "poison_indices": self.truth.poison_indices,
            "original_labels": self.truth.original_labels,
            "target": np.array(self.truth.target),
            "cover_indices": self.truth.cover_indices,
        })
        save_npz(directory / "trigger.npz", self.attack.artifacts())
        save_json(directory / "attack.json", {"config": self.config.as_dict(), "data": self.data.info,
                                              "n_poisoned": len(self.truth.poison_indices),
                                              "n_cover": len(self.truth.cover_indices)})
        return directory


def _candidates(labels: np.ndarray, target: int, label_consistent: bool) -> np.ndarray:
    return np.flatnonzero(labels == target if label_consistent else labels != target)


def poison_count(labels: np.ndarray, rate: float, target: int, rate_base: str, label_consistent: bool = False) -> int:
    """How many images to poison; raises when the request cannot be met.

    The rate counts against the whole training set for every attack (LC at 2.5% of CIFAR-10 is 1,250
    images, a quarter of the target class); ``'non_target'`` is the official code's base for the others.
    """
    if rate_base not in RATE_BASES:
        raise ValueError(f"rate_base={rate_base!r} is not valid; choose one of {', '.join(RATE_BASES)}")
    if not 0.0 < rate < 1.0:
        raise ValueError(f"poisoning rate {rate} is out of range; it must lie in (0, 1), e.g. 0.1 for 10%")
    n_candidates = len(_candidates(labels, target, label_consistent))
    kind = "target-class" if label_consistent else "non-target"
    base = len(labels) if rate_base == "all" else int(np.sum(labels != target))
    count = int(np.floor(rate * base + 0.5)) if rate_base == "all" else int(np.floor(rate * base))
    if count < 1:
        raise ValueError(f"rate {rate} of {base} images poisons no image; raise the rate or use more data")
    if count > n_candidates:
        raise ValueError(f"rate {rate} asks for {count} poisoned images but only {n_candidates} {kind} "
                         "images exist; lower the rate")
    return count


def select_poison_indices(labels: np.ndarray, count: int, target: int, seed: int,
                          label_consistent: bool = False) -> np.ndarray:
    """Sorted indices of ``count`` non-target (LC: target-class) images, a function of these arguments only,

    so different attacks with the same seed poison the same images (a paired comparison).
    """
    candidates = _candidates(labels, target, label_consistent)
    chosen = seeded_rng(seed, "poison-indices").choice(candidates, size=count, replace=False)
    return np.sort(chosen)


def select_cover_indices(n: int, rate: float, poison_indices: np.ndarray, seed: int) -> np.ndarray:
    """Sorted cover-sample indices: ``rate`` of the training set, any class, disjoint from the poisons."""
    count = int(np.floor(rate * n + 0.5))
    candidates = np.setdiff1d(np.arange(n), poison_indices)
    if count > len(candidates):
        raise ValueError(f"cover rate {rate} asks for {count} cover samples but only {len(candidates)} unpoisoned "
                         "images exist; lower cover_rate")
    return np.sort(seeded_rng(seed, "cover-indices").choice(candidates, size=count, replace=False))


def poison_dataset(dataset: ImageDataset, config: PoisonConfig, progress: bool = True) -> PoisonedDataset:
    if not 0 <= config.target < dataset.num_classes:
        raise ValueError(f"target class {config.target} is out of range; this data set has classes "
                         f"0..{dataset.num_classes - 1}")
    attack = build_attack(config.attack, dataset.image_shape, config.seed, config.params)
    consistent = attack.label_consistent
    if not attack.poisons and config.resolved_rate() != 0:
        raise ValueError(f"attack {config.attack!r} poisons nothing; leave the rate out (it is 0)")
    count = (poison_count(dataset.y_train, config.resolved_rate(), config.target, config.rate_base, consistent)
             if attack.poisons else 0)
    indices = select_poison_indices(dataset.y_train, count, config.target, config.seed, consistent)

    covers = select_cover_indices(len(dataset.y_train), attack.cover_rate, indices, config.seed)
    # the attacker learns from the clean training set, as an attacker who holds the data can
    attack.fit(dataset.x_train, dataset.y_train, config.target, progress)

    x_train = dataset.x_train.copy()
    y_train = dataset.y_train.copy()
    x_train[indices] = attack.apply(dataset.x_train[indices])
    y_train[indices] = config.target
    if len(covers):
        x_train[covers] = attack.apply_cover(dataset.x_train[covers])

    non_target = dataset.y_test != config.target
    info = dict(dataset.info)
    info["poisoning"] = {**config.as_dict(), "n_poisoned": count, "n_cover": len(covers),
                         "label_consistent": consistent, **attack.diagnostics()}
    return PoisonedDataset(
        data=replace(dataset, x_train=x_train, y_train=y_train, info=info),
        x_test_triggered=attack.apply_test(dataset.x_test[non_target]),
        y_test_triggered_source=dataset.y_test[non_target],
        config=config,
        attack=attack,
        truth=PoisonTruth(indices, dataset.y_train[indices].copy(), config.target, covers),
    )


TRUTH_KEYS = ("poison_indices", "original_labels", "target", "cover_indices")


def _index_array(arrays: dict, key: str, n: int | None, where: str) -> np.ndarray:
    values = arrays[key]
    if values.ndim != 1 or not np.issubdtype(values.dtype, np.integer):
        raise ValueError(f"{where}: '{key}' must be a 1-D integer array, got {values.dtype} of shape {values.shape}")
    values = values.astype(np.int64)
    bad = values[(values < 0) | (values >= n)] if n is not None else values[values < 0]
    if len(bad):
        bound = f"0..{n - 1}" if n is not None else "non-negative"
        raise ValueError(f"{where}: '{key}' holds indices outside the training set ({bad[:5].tolist()}; valid: "
                         f"{bound}). Fix: index the training set of the data file, counting from 0")
    if len(np.unique(values)) != len(values):
        raise ValueError(f"{where}: '{key}' lists some indices more than once. Fix: list each sample once")
    return values


def load_truth(path: str | Path, n_train: int | None = None, num_classes: int | None = None,
               what: str = "truth file") -> tuple[PoisonTruth, str]:
    """Read and check a ground-truth npz: ``poison_indices``; optional ``original_labels``, ``target``,
    ``cover_indices``. Returns the truth and which layout ``original_labels`` had.

    ``original_labels`` may hold one label per poison (aligned with ``poison_indices``) or one per training sample
    (the poisons' entries are taken); anything else is refused. With ``n_train`` and ``num_classes`` every index
    and label is checked against the training set, so a bad file fails before any work, naming ``what``.
    """
    where = f"{what} {path}"
    arrays = read_arrays(path, what)
    unknown = sorted(set(arrays) - set(TRUTH_KEYS))
    if unknown or "poison_indices" not in arrays:
        raise ValueError(f"{where}: expects {', '.join(TRUTH_KEYS)} (poison_indices required); found "
                         f"{', '.join(sorted(arrays)) or 'nothing'}")
    indices = _index_array(arrays, "poison_indices", n_train, where)
    target = -1
    if "target" in arrays:
        value = arrays["target"]
        if value.size != 1 or not np.issubdtype(value.dtype, np.integer):
            raise ValueError(f"{where}: 'target' must be one integer class, got {value.dtype} of shape {value.shape}")
        target = int(value.reshape(()))
        if num_classes is not None and not 0 <= target < num_classes:
            raise ValueError(f"{where}: target {target} is not a class of the data (0..{num_classes - 1})")
    layout = "absent: relabel accuracy is not scored"
    original = np.full(len(indices), -1, dtype=np.int64)
    if "original_labels" in arrays:
        labels = arrays["original_labels"]
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"{where}: 'original_labels' must be a 1-D integer array, got {labels.dtype} of "
                             f"shape {labels.shape}")
        if len(labels) == len(indices):
            original, layout = labels.astype(np.int64), "one label per poison"
        elif n_train is not None and len(labels) == n_train:
            original, layout = labels.astype(np.int64)[indices], "one label per training sample"
        else:
            per_sample = f" or {n_train} (one per training sample)" if n_train is not None else ""
            raise ValueError(f"{where}: 'original_labels' has {len(labels)} entries; expected {len(indices)} (one "
                             f"per poison, in the order of poison_indices){per_sample}")
        bad = original[(original < 0) | (original >= (num_classes or np.iinfo(np.int64).max))]
        if len(bad):
            raise ValueError(f"{where}: 'original_labels' holds labels outside the classes ({bad[:5].tolist()})")
    covers = (_index_array(arrays, "cover_indices", n_train, where) if "cover_indices" in arrays
              else np.empty(0, dtype=np.int64))
    return PoisonTruth(indices, original, target, covers), layout
