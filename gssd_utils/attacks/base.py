"""The attack interface and registry.

An attack is built once from its typed config and a seed; everything random about its trigger is drawn
then and exposed by ``artifacts()`` so that it can be saved with the run and every later stage sees the
same trigger (the official GSSD code redraws the WaNet warp per script, which we avoid).
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

ATTACKS: dict[str, type[Attack]] = {}


class Attack(ABC):
    """A trigger function on uint8 NHWC images, with its train-time and test-time forms."""

    name: ClassVar[str]
    default_rate: ClassVar[float]
    config_class: ClassVar[type]
    summary: ClassVar[str]
    # Label-consistent attacks poison target-class images and keep their labels (LC); the rest relabel
    # non-target images to the target.
    label_consistent: ClassVar[bool] = False
    # False only for the clean-data control (``clean``), which leaves every image and label as it is
    poisons: ClassVar[bool] = True

    def __init__(self, config: Any, image_shape: tuple[int, int, int], seed: int) -> None:
        self.config = config
        self.image_shape = tuple(image_shape)
        self.seed = seed

    def fit(self, x_train: np.ndarray, y_train: np.ndarray, target: int, progress: bool = True) -> None:  # noqa: B027 (a hook)
        """Learn what the trigger needs from the clean training set (a surrogate model, an encoder).

        A no-op for procedural triggers; learned attacks cache what they learn, because nothing they
        rest on may be downloaded.
        """

    def diagnostics(self) -> dict[str, float]:
        """Numbers that say how well a learned trigger was built (bit accuracy, PSNR); empty otherwise."""
        return {}

    @abstractmethod
    def apply(self, images: np.ndarray) -> np.ndarray:
        """The train-time trigger, applied to uint8 (N, H, W, C) images; returns new uint8 images."""

    def apply_cover(self, images: np.ndarray) -> np.ndarray:
        """The trigger of cover samples (trigger kept, label kept); only adaptive attacks have covers."""
        return self.apply(images)

    @property
    def cover_rate(self) -> float:
        """Share of the training set used as cover samples; 0 unless the attack's config sets it."""
        return float(getattr(self.config, "cover_rate", 0.0))

    def apply_test(self, images: np.ndarray) -> np.ndarray:
        """The test-time trigger; the same as at train time unless an attack says otherwise."""
        return self.apply(images)

    def artifacts(self) -> dict[str, np.ndarray]:
        """Arrays that pin the trigger down (patterns, masks, warp fields), saved with the run."""
        return {}


def register(cls: type[Attack]) -> type[Attack]:
    ATTACKS[cls.name] = cls
    return cls


def attack_names() -> list[str]:
    return sorted(ATTACKS)


def get_attack_class(name: str) -> type[Attack]:
    try:
        return ATTACKS[name]
    except KeyError:
        raise ValueError(f"unknown attack {name!r}; valid choices: {', '.join(attack_names())}") from None


def make_config(name: str, params: Mapping[str, Any] | None = None) -> Any:
    """The attack's typed config with ``params`` overriding its defaults; unknown names are an error."""
    config_class = get_attack_class(name).config_class
    params = dict(params or {})
    valid = [f.name for f in dataclasses.fields(config_class)]
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ValueError(
            f"attack {name!r} has no parameter {', '.join(unknown)}; valid parameters: {', '.join(valid) or 'none'}"
        )
    return config_class(**params)


def build_attack(
    name: str, image_shape: tuple[int, int, int], seed: int = 0, params: Mapping[str, Any] | None = None
) -> Attack:
    return get_attack_class(name)(make_config(name, params), image_shape, seed)


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Round and clip to uint8: one convention for every attack (the reference recommends it)."""
    return np.clip(np.rint(images), 0, 255).astype(np.uint8)


def seeded_rng(seed: int, stream: str) -> np.random.Generator:
    """An RNG for one purpose, independent of every other purpose that shares the seed."""
    return np.random.default_rng([seed, *stream.encode()])


def four_corner_grid(image_shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The 3x3 black/white grid in each corner (LC's trigger, Adap-Patch's ``badnet_patch4``): pattern, mask."""
    height, width, _ = image_shape
    block = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], np.float32)[..., None] * 255
    pattern = np.zeros(image_shape, np.float32)
    mask = np.zeros((height, width, 1), np.float32)
    for rows in (slice(0, 3), slice(height - 3, height)):
        for cols in (slice(0, 3), slice(width - 3, width)):
            pattern[rows, cols] = block
            mask[rows, cols] = 1.0
    return pattern, mask
