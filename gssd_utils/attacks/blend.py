"""Blend (Chen et al. 2017): x' = (1 - alpha) x + alpha t over the whole image.

The official code blends Hello Kitty at alpha 0.1. That image cannot be generated, so the default trigger
is a seeded i.i.d. uniform-noise image (Chen et al. also used random noise); a user image can be given.
This substitution is a documented deviation: noise is high-frequency, unlike Kitty.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gssd_utils.attacks.base import Attack, register, seeded_rng, to_uint8
from gssd_utils.validation import check_range


@dataclass(frozen=True)
class BlendConfig:
    alpha: float = 0.1
    image: str | None = None  # path to a trigger image; None draws seeded uniform noise

    def __post_init__(self) -> None:
        check_range("blend", "alpha", self.alpha, 0.0, 1.0, inclusive=False)
        if self.image is not None and not Path(self.image).is_file():
            raise FileNotFoundError(f"blend: trigger image {self.image} does not exist; pass an existing image "
                                    "file or leave image=None for seeded noise")


def load_trigger_image(path: str, image_shape: tuple[int, int, int]) -> np.ndarray:
    """A user's trigger resized (bicubic, as the official code) to the data set's image size."""
    from PIL import Image

    height, width, _ = image_shape
    with Image.open(path) as img:
        resized = img.convert("RGB").resize((width, height), Image.Resampling.BICUBIC)
    return np.asarray(resized, dtype=np.float32)


@register
class Blend(Attack):
    name = "blend"
    default_rate = 0.10
    config_class = BlendConfig
    summary = "whole-image alpha blend with a seeded noise image (alpha 0.1, the official code's value)"

    def __init__(self, config: BlendConfig, image_shape: tuple[int, int, int], seed: int) -> None:
        super().__init__(config, image_shape, seed)
        if config.image is None:
            noise = seeded_rng(seed, "blend-trigger").integers(0, 256, size=image_shape)
            self.trigger = noise.astype(np.float32)
        else:
            self.trigger = load_trigger_image(config.image, image_shape)

    def apply(self, images: np.ndarray) -> np.ndarray:
        alpha = self.config.alpha
        return to_uint8((1.0 - alpha) * images.astype(np.float32) + alpha * self.trigger)

    def artifacts(self) -> dict[str, np.ndarray]:
        return {"trigger": to_uint8(self.trigger)}
