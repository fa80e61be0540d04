"""The CIFAR ResNet-18 (3x3 stem, no max-pool), as in BackdoorBox and the official GSSD code.

``width`` is the channel count of the first stage (64 in the paper, giving 512-d features). CPU
profiles use a narrow network: the full width trains at roughly 70-100 images/s on two cores.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class BasicBlock(nn.Module):
    def __init__(self, in_channels: int, channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_channels != channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, stride, bias=False), nn.BatchNorm2d(channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet18(nn.Module):
    """``features(x)`` is the pooled backbone output (8 x width dims); ``forward`` adds the linear head."""

    def __init__(self, num_classes: int = 10, width: int = 64) -> None:
        super().__init__()
        if width < 1:
            raise ValueError(f"width must be a positive channel count, got {width}")
        self.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        layers, in_channels = [], width
        for stage, stride in enumerate((1, 2, 2, 2)):
            channels = width * 2**stage
            layers.append(nn.Sequential(BasicBlock(in_channels, channels, stride), BasicBlock(channels, channels, 1)))
            in_channels = channels
        self.layers = nn.Sequential(*layers)
        self.feature_dim = in_channels
        self.linear = nn.Linear(in_channels, num_classes)

    def stages(self) -> list[nn.Module]:
        """The four residual stages (layer1-4), whose outputs NAD's attention maps and ASD's meta-split use."""
        return list(self.layers)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layers(F.relu(self.bn1(self.conv1(x))))
        return torch.flatten(F.adaptive_avg_pool2d(out, 1), 1)

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        """Logits from ``features(x)``."""
        return self.linear(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(x))
