"""A StegaStamp-style encoder and decoder (Tancik et al. 2020) for ISSBA's sample-specific triggers.

The encoder hides a bit string in an image as an additive residual; the decoder reads it back. The
encoder's layout follows the reference notes (secret through a dense layer to an image-sized plane, a
U-Net with strides 1, 2, 2, 2, 2 and skips, a 1x1 output conv). The decoder drops StegaStamp's spatial
transformer: it buys robustness to photographed, warped prints, which digital poisoning never meets.
"""

from __future__ import annotations

import torch
from torch import nn


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.ReLU(inplace=True))


class StegaEncoder(nn.Module):
    """(image in [0, 1] NCHW, bits in {0, 1}) -> residual; the encoded image is clamp(image + residual)."""

    def __init__(self, secret_bits: int = 20, image_size: int = 32, width: int = 32) -> None:
        super().__init__()
        self.image_size = image_size
        self.secret = nn.Sequential(nn.Linear(secret_bits, 3 * image_size * image_size), nn.ReLU(inplace=True))
        w = width
        self.down = nn.ModuleList([_conv(6, w), _conv(w, w, 2), _conv(w, 2 * w, 2), _conv(2 * w, 4 * w, 2),
                                   _conv(4 * w, 8 * w, 2)])
        self.up = nn.ModuleList([_conv(8 * w, 4 * w), _conv(4 * w, 2 * w), _conv(2 * w, w), _conv(w, w)])
        self.merge = nn.ModuleList([_conv(8 * w, 4 * w), _conv(4 * w, 2 * w), _conv(2 * w, w), _conv(2 * w + 6, w)])
        self.residual = nn.Conv2d(w, 3, 1)

    def forward(self, images: torch.Tensor, bits: torch.Tensor) -> torch.Tensor:
        plane = self.secret(bits).view(-1, 3, self.image_size, self.image_size)
        inputs = torch.cat([plane, images - 0.5], dim=1)
        skips = [inputs]
        for layer in self.down:
            skips.append(layer(skips[-1]))
        x = skips.pop()  # the bottleneck
        for up, merge in zip(self.up, self.merge, strict=True):
            x = up(nn.functional.interpolate(x, scale_factor=2, mode="nearest"))
            skip = skips.pop()
            if len(skips) == 1:  # the last level also sees the inputs, as in StegaStamp
                skip = torch.cat([skip, skips.pop()], dim=1)
            x = merge(torch.cat([x, skip], dim=1))
        return self.residual(x)


class StegaDecoder(nn.Module):
    """Encoded image in [0, 1] -> one logit per secret bit."""

    def __init__(self, secret_bits: int = 20, image_size: int = 32, width: int = 32) -> None:
        super().__init__()
        w = width
        self.body = nn.Sequential(_conv(3, w, 2), _conv(w, w), _conv(w, 2 * w, 2), _conv(2 * w, 2 * w),
                                  _conv(2 * w, 4 * w, 2), nn.Flatten())
        self.head = nn.Sequential(nn.Linear(4 * w * (image_size // 8) ** 2, 256), nn.ReLU(inplace=True),
                                  nn.Linear(256, secret_bits))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(images - 0.5))
