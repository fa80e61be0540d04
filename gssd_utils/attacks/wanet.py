"""WaNet (Nguyen & Tran 2021): a fixed, smooth image warp as the trigger.

As in the official GSSD code the attack is static data poisoning with the cross ("noise") mode off:
a k x k random flow field, normalised by its mean magnitude, upsampled bicubically to the image size,
scaled by s/H and added to the identity grid. The field is drawn once from the seed and saved, so every
stage and the test set see one warp (the official code redraws it per script).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gssd_utils.attacks.base import Attack, register, seeded_rng, to_uint8
from gssd_utils.validation import check_range


@dataclass(frozen=True)
class WaNetConfig:
    k: int = 4
    s: float = 0.5
    grid_rescale: float = 1.0

    def __post_init__(self) -> None:
        check_range("wanet", "k", self.k, 2, 224)  # 4 on CIFAR; 224 in the official 224-px setting
        check_range("wanet", "s", self.s, 0.0, 10.0)
        check_range("wanet", "grid_rescale", self.grid_rescale, 0.1, 10.0)


@register
class WaNet(Attack):
    name = "wanet"
    default_rate = 0.10
    config_class = WaNetConfig
    summary = "fixed smooth warp (k=4, s=0.5), static poisoning without cross samples"

    def __init__(self, config: WaNetConfig, image_shape: tuple[int, int, int], seed: int) -> None:
        import torch
        from torch.nn import functional as F

        super().__init__(config, image_shape, seed)
        height = image_shape[0]
        ins = seeded_rng(seed, "wanet-field").uniform(-1.0, 1.0, size=(1, 2, config.k, config.k))
        ins = torch.from_numpy(ins / np.mean(np.abs(ins))).float()
        self.noise_grid = F.interpolate(ins, size=image_shape[:2], mode="bicubic", align_corners=True)
        self.noise_grid = self.noise_grid.permute(0, 2, 3, 1)  # (1, H, W, 2), x displacement first
        axis = torch.linspace(-1, 1, height)
        rows, cols = torch.meshgrid(axis, axis, indexing="ij")
        identity = torch.stack((cols, rows), dim=-1)[None]
        self.grid = torch.clamp((identity + config.s * self.noise_grid / height) * config.grid_rescale, -1, 1)

    def apply(self, images: np.ndarray) -> np.ndarray:
        import torch
        from torch.nn import functional as F

        out = np.empty_like(images)
        for start in range(0, len(images), 1024):  # bounded memory on large sets
            chunk = torch.from_numpy(images[start : start + 1024]).permute(0, 3, 1, 2).float()
            warped = F.grid_sample(chunk, self.grid.expand(len(chunk), -1, -1, -1), mode="bilinear",
                                   padding_mode="zeros", align_corners=True)
            out[start : start + 1024] = to_uint8(warped.permute(0, 2, 3, 1).numpy())
        return out

    def artifacts(self) -> dict[str, np.ndarray]:
        return {"noise_grid": self.noise_grid[0].numpy(), "grid": self.grid[0].numpy()}
