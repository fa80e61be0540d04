"""Adap-Blend and Adap-Patch (Qi et al., ICLR 2023): attacks built to defeat latent-separation defenses.

Both add *cover* samples, which carry a (weakened) trigger but keep their true label, so that the model cannot
separate triggered from clean samples in its latent space; and both train on weakened triggers but test on the
full one. Constructions follow Qi et al.'s code as backdoor-toolbox packages it (``vtu81/backdoor-toolbox``), with its
values where the GSSD paper is silent. Deviations, all forced by "no downloads": the Kitty image of Adap-Blend
is the seeded noise image of Blend; the phoenix, firefox and trojan logos of Adap-Patch are seeded random-colour
patches of the same size, position and opacity, with full masks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gssd_utils.attacks.base import Attack, four_corner_grid, register, seeded_rng, to_uint8
from gssd_utils.validation import check_range


def _require_32x32(attack: str, image_shape: tuple[int, int, int]) -> None:
    if tuple(image_shape[:2]) != (32, 32):
        raise ValueError(f"{attack}: the trigger geometry is defined for 32x32 images, got {image_shape[:2]}; "
                         "resize the data to 32x32")


@dataclass(frozen=True)
class AdapBlendConfig:
    alpha_train: float = 0.15  # toolbox README; the official ICLR code uses 0.2
    alpha_test: float = 0.2
    grid: int = 4  # the trigger is cut into grid x grid pieces
    keep: float = 0.5  # share of the pieces each train-time sample keeps
    cover_rate: float = 0.01  # GSSD does not say; the toolbox uses as many covers as poisons

    def __post_init__(self) -> None:
        check_range("adap_blend", "alpha_train", self.alpha_train, 0.0, 1.0, inclusive=False)
        check_range("adap_blend", "alpha_test", self.alpha_test, 0.0, 1.0, inclusive=False)
        check_range("adap_blend", "keep", self.keep, 0.0, 1.0, inclusive=False)
        check_range("adap_blend", "cover_rate", self.cover_rate, 0.0, 0.5)
        if self.grid < 1 or 32 % self.grid:
            raise ValueError(f"adap_blend: grid={self.grid} must divide 32")


@register
class AdapBlend(Attack):
    name = "adap_blend"
    default_rate = 0.01
    config_class = AdapBlendConfig
    summary = "noise blend on a random half of 16 pieces (alpha 0.15) + cover samples; full blend 0.2 at test"

    def __init__(self, config: AdapBlendConfig, image_shape: tuple[int, int, int], seed: int) -> None:
        super().__init__(config, image_shape, seed)
        _require_32x32(self.name, image_shape)
        self.trigger = seeded_rng(seed, "adap-blend-trigger").integers(0, 256, size=image_shape).astype(np.float32)
        self.piece_masks: dict[str, np.ndarray] = {}

    def _masked_blend(self, images: np.ndarray, stream: str) -> np.ndarray:
        """Each image gets its own random choice of pieces; the choices are saved as artifacts."""
        grid, n = self.config.grid, len(images)
        kept = round(self.config.keep * grid * grid)
        rng = seeded_rng(self.seed, f"adap-blend-{stream}")
        pieces = np.zeros((n, grid * grid), dtype=bool)
        for row in pieces:
            row[rng.choice(grid * grid, size=kept, replace=False)] = True
        self.piece_masks[stream] = pieces
        size = 32 // grid
        mask = np.kron(pieces.reshape(n, grid, grid), np.ones((size, size)))[..., None].astype(np.float32)
        x = images.astype(np.float32)
        return to_uint8(x + self.config.alpha_train * mask * (self.trigger - x))

    def apply(self, images: np.ndarray) -> np.ndarray:
        return self._masked_blend(images, "poison")

    def apply_cover(self, images: np.ndarray) -> np.ndarray:
        return self._masked_blend(images, "cover")

    def apply_test(self, images: np.ndarray) -> np.ndarray:
        alpha = self.config.alpha_test
        return to_uint8((1.0 - alpha) * images.astype(np.float32) + alpha * self.trigger)

    def artifacts(self) -> dict[str, np.ndarray]:
        return {"trigger": to_uint8(self.trigger), **{f"pieces_{k}": v for k, v in self.piece_masks.items()}}


# name -> (rows, cols, train-time opacity); the toolbox's geometry
_PATCHES = {
    "phoenix": (slice(27, 32), slice(27, 32), 0.5),
    "firefox": (slice(1, 14), slice(18, 31), 0.2),
    "badnet_patch4": (None, None, 0.5),
    "trojan_square": (slice(21, 29), slice(21, 29), 0.3),
}


@dataclass(frozen=True)
class AdapPatchConfig:
    cover_rate: float = 0.02  # GSSD does not say; the toolbox uses twice as many covers as poisons

    def __post_init__(self) -> None:
        check_range("adap_patch", "cover_rate", self.cover_rate, 0.0, 0.5)


@register
class AdapPatch(Attack):
    name = "adap_patch"
    default_rate = 0.01
    config_class = AdapPatchConfig
    summary = "four patches at partial opacity, one per sample, + cover samples; two full-opacity patches at test"

    def __init__(self, config: AdapPatchConfig, image_shape: tuple[int, int, int], seed: int) -> None:
        super().__init__(config, image_shape, seed)
        _require_32x32(self.name, image_shape)
        rng = seeded_rng(seed, "adap-patch-patterns")
        self.patterns, self.masks = {}, {}
        for name, (rows, cols, _) in _PATCHES.items():
            if name == "badnet_patch4":  # 3x3 at each corner: 4 white pixels around a black centre
                pattern, mask = four_corner_grid(image_shape)
            else:
                pattern, mask = np.zeros(image_shape, np.float32), np.zeros((32, 32, 1), np.float32)
                pattern[rows, cols] = rng.integers(0, 256, size=pattern[rows, cols].shape)
                mask[rows, cols] = 1.0
            self.patterns[name], self.masks[name] = pattern, mask
        # test time: the phoenix patch at both bottom corners, with badnet_patch4, all at full opacity
        self.test_pattern, self.test_mask = self.patterns["badnet_patch4"].copy(), self.masks["badnet_patch4"].copy()
        for cols in (slice(27, 32), slice(0, 5)):
            self.test_pattern[27:32, cols] = self.patterns["phoenix"][27:32, 27:32]
            self.test_mask[27:32, cols] = 1.0

    def _stamp(self, images: np.ndarray) -> np.ndarray:
        """The i-th of n images gets trigger i * 4 // n: the four split the set evenly, in order."""
        x = images.astype(np.float32)
        which = np.arange(len(x)) * len(_PATCHES) // max(len(x), 1)
        for k, (name, (_, _, alpha)) in enumerate(_PATCHES.items()):
            sel = which == k
            x[sel] = x[sel] + alpha * self.masks[name] * (self.patterns[name] - x[sel])
        return to_uint8(x)

    def apply(self, images: np.ndarray) -> np.ndarray:
        return self._stamp(images)

    def apply_test(self, images: np.ndarray) -> np.ndarray:
        x = images.astype(np.float32)
        return to_uint8(x * (1.0 - self.test_mask) + self.test_pattern * self.test_mask)

    def artifacts(self) -> dict[str, np.ndarray]:
        return {**{f"pattern_{k}": to_uint8(v) for k, v in self.patterns.items()},
                **{f"mask_{k}": v.astype(np.uint8) for k, v in self.masks.items()},
                "test_pattern": to_uint8(self.test_pattern), "test_mask": self.test_mask.astype(np.uint8)}
