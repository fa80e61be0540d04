"""A small VGG-style CNN: fast enough for smoke runs and tests, strong enough to learn a backdoor."""

from __future__ import annotations

import torch
from torch import nn


class SmallCNN(nn.Module):
    def __init__(self, num_classes: int = 10, width: int = 32) -> None:
        super().__init__()

        def block(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                                 nn.ReLU(inplace=True), nn.MaxPool2d(2))

        self.body = nn.Sequential(block(3, width), block(width, 2 * width), block(2 * width, 4 * width))
        self.feature_dim = 4 * width
        self.linear = nn.Linear(self.feature_dim, num_classes)

    def stages(self) -> list[nn.Module]:
        """The three conv blocks (see ``CifarResNet18.stages``)."""
        return list(self.body)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(nn.functional.adaptive_avg_pool2d(self.body(x), 1), 1)

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        """Logits from ``features(x)``."""
        return self.linear(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(x))
