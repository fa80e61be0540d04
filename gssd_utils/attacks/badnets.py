"""BadNets (Gu et al. 2017): a small patch stamped onto the image.

Three patches are offered. ``gssd`` (default) is the official GSSD code's trigger, the 2x2 colour patch at
rows/cols 4-5 of DBD's ``cifar_1.png``, whose four RGB values are known and regenerated here. ``corner3x3``
is the common 3x3 black/white grid at the bottom-right corner (ABL/NAD "gridTrigger", backdoor-toolbox).
``patch32`` stands in for the official code's 224-px trigger, a 32x32 apple logo at the top-left whose mask is
its non-zero pixels: the logo file is not published and cannot be regenerated, so a seeded 32x32 patch of uniform
random colours takes its place and size (every pixel in the mask).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gssd_utils.attacks.base import Attack, register, seeded_rng, to_uint8

_GSSD_PIXELS = {  # (row, col): RGB, from the official trigger image
    (4, 4): (180, 249, 112),
    (4, 5): (155, 50, 126),
    (5, 4): (234, 82, 68),
    (5, 5): (187, 201, 219),
}
_GRID_3X3 = np.array([[0, 0, 1], [0, 1, 0], [1, 0, 1]], dtype=np.float32) * 255
VARIANTS = ("gssd", "corner3x3", "patch32")
PATCH_SIDE = 32  # the official 224-px logo trigger's side


@dataclass(frozen=True)
class BadNetsConfig:
    variant: str = "gssd"

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"badnets: unknown variant {self.variant!r}; valid choices: {', '.join(VARIANTS)}")


@register
class BadNets(Attack):
    name = "badnets"
    default_rate = 0.10
    config_class = BadNetsConfig
    summary = ("patch trigger: GSSD 2x2 colour patch at (4,4) by default, the 3x3 bottom-right grid, or a "
               "seeded 32x32 top-left patch at 224 px")

    def __init__(self, config: BadNetsConfig, image_shape: tuple[int, int, int], seed: int) -> None:
        super().__init__(config, image_shape, seed)
        height, width, channels = image_shape
        self.pattern = np.zeros(image_shape, dtype=np.float32)
        self.mask = np.zeros((height, width, 1), dtype=np.float32)
        if config.variant == "gssd":
            for (row, col), rgb in _GSSD_PIXELS.items():
                self.pattern[row, col] = rgb[:channels]
                self.mask[row, col] = 1.0
        elif config.variant == "patch32":
            if min(height, width) < 2 * PATCH_SIDE:
                raise ValueError(f"badnets: variant patch32 is the 224-px trigger; images of {height}x{width} are "
                                 "too small for it. Fix: use variant gssd or corner3x3")
            patch = seeded_rng(seed, "badnets-patch32").integers(0, 256, (PATCH_SIDE, PATCH_SIDE, channels))
            self.pattern[:PATCH_SIDE, :PATCH_SIDE] = patch
            self.mask[:PATCH_SIDE, :PATCH_SIDE] = 1.0
        else:
            self.pattern[-3:, -3:] = _GRID_3X3[..., None]
            self.mask[-3:, -3:] = 1.0

    def apply(self, images: np.ndarray) -> np.ndarray:
        return to_uint8(images * (1.0 - self.mask) + self.pattern * self.mask)

    def artifacts(self) -> dict[str, np.ndarray]:
        return {"pattern": to_uint8(self.pattern), "mask": self.mask.astype(np.uint8)}
