"""A fast CIFAR network in the style of airbench94 (Jordan 2024), for the CPU tier.

Each choice buys speed to a given accuracy:
- the first layer is a fixed 2x2 convolution that whitens image patches (initialised from the training
  images' patch covariance, both signs of each eigenvector), so the next layers start from decorrelated inputs;
- three groups of [conv, max-pool, batch-norm, GELU, conv, batch-norm, GELU], convs initialised as identity
  (dirac) on their first channels, so the untrained network passes its input through;
- batch-norm layers learn a bias only, with fast running statistics (momentum 0.4 in PyTorch's convention);
- a max-pool over the last map (3x3 for 32x32 images) and a bias-free linear head scaled by 1/9.

``width`` is the first group's channel count; the others are four times it (airbench94: 64/256/256).
``features(x)`` is the pooled penultimate activation, as for the other networks.
"""

from __future__ import annotations

import torch
from torch import nn

WHITEN_KERNEL = 2
WHITEN_CHANNELS = 2 * 3 * WHITEN_KERNEL**2  # each patch eigenvector with both signs


def _conv(cin: int, cout: int) -> nn.Conv2d:
    conv = nn.Conv2d(cin, cout, 3, padding="same", bias=False)
    with torch.no_grad():
        nn.init.dirac_(conv.weight[: min(cin, cout)])
    return conv


def _norm(channels: int) -> nn.BatchNorm2d:
    norm = nn.BatchNorm2d(channels, eps=1e-12, momentum=0.4)
    norm.weight.requires_grad_(False)  # scale fixed at 1; only the shift is learned
    return norm


class _Group(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1, self.norm1 = _conv(cin, cout), _norm(cout)
        self.conv2, self.norm2 = _conv(cout, cout), _norm(cout)
        self.pool, self.act = nn.MaxPool2d(2), nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.norm1(self.pool(self.conv1(x))))
        return self.act(self.norm2(self.conv2(x)))


class AirNet(nn.Module):
    """The airbench94 layout at a chosen width; call ``init_whitening`` with training images before training."""

    def __init__(self, num_classes: int = 10, width: int = 16) -> None:
        super().__init__()
        if width < 1:
            raise ValueError(f"width must be a positive channel count, got {width}")
        widths = (width, 4 * width, 4 * width)
        self.whiten = nn.Conv2d(3, WHITEN_CHANNELS, WHITEN_KERNEL, padding=0, bias=True)
        self.whiten.weight.requires_grad_(False)
        nn.init.zeros_(self.whiten.bias)
        self.groups = nn.Sequential(_Group(WHITEN_CHANNELS, widths[0]), _Group(widths[0], widths[1]),
                                    _Group(widths[1], widths[2]))
        self.pool = nn.AdaptiveMaxPool2d(1)  # a 3x3 max-pool over the 3x3 map of a 32x32 image; any size works
        self.feature_dim = widths[2]
        self.linear = nn.Linear(widths[2], num_classes, bias=False)
        self.act = nn.GELU()

    @torch.no_grad()
    def init_whitening(self, images: torch.Tensor, eps: float = 5e-4) -> None:
        """Set the first layer to whiten 2x2 patches of ``images`` (normalised float NCHW)."""
        k = WHITEN_KERNEL
        patches = images.float().unfold(2, k, 1).unfold(3, k, 1)  # N, C, H', W', k, k
        patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(-1, 3 * k * k)
        covariance = patches.T @ patches / len(patches)
        eigenvalues, eigenvectors = torch.linalg.eigh(covariance)
        scaled = eigenvectors.T / torch.sqrt(eigenvalues + eps)[:, None]  # one whitening filter per row
        filters = scaled.flip(0).reshape(-1, 3, k, k)  # largest eigenvalue first
        self.whiten.weight.copy_(torch.cat([filters, -filters]).to(self.whiten.weight))

    def stages(self) -> list[nn.Module]:
        """The three conv groups (see ``CifarResNet18.stages``)."""
        return list(self.groups)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.groups(self.act(self.whiten(x)))
        return torch.flatten(self.pool(x), 1)

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        """Logits from ``features(x)``: the bias-free head, scaled as airbench does."""
        return self.linear(features) / 9.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(x))
