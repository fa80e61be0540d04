"""The additive chessboard of Wang et al. (2023, App. C): x' = clip(x + v).

v raises one of every two adjacent pixels by ``delta``/255 in all channels. Which parity is raised is not
stated in the paper; we raise pixels with (row + col) even by default. Wang et al. poison 1,000 CIFAR-10
images, hence the default rate of 2% of the training set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gssd_utils.attacks.base import Attack, register, to_uint8
from gssd_utils.validation import check_range


@dataclass(frozen=True)
class ChessboardConfig:
    delta: float = 3.0  # on the 0..255 scale
    parity: int = 0

    def __post_init__(self) -> None:
        check_range("chessboard", "delta", self.delta, 1.0, 255.0)
        if self.parity not in (0, 1):
            raise ValueError(f"chessboard: parity={self.parity} is out of range; it must be 0 or 1")


@register
class Chessboard(Attack):
    name = "chessboard"
    default_rate = 0.02
    config_class = ChessboardConfig
    summary = "additive +3/255 chessboard over the whole image (Wang et al.), 1,000 images on CIFAR-10"

    def __init__(self, config: ChessboardConfig, image_shape: tuple[int, int, int], seed: int) -> None:
        super().__init__(config, image_shape, seed)
        height, width, channels = image_shape
        rows, cols = np.indices((height, width))
        board = ((rows + cols) % 2 == config.parity).astype(np.float32) * config.delta
        self.perturbation = np.repeat(board[..., None], channels, axis=-1)

    def apply(self, images: np.ndarray) -> np.ndarray:
        return to_uint8(images.astype(np.float32) + self.perturbation)

    def artifacts(self) -> dict[str, np.ndarray]:
        return {"perturbation": self.perturbation}
