"""The official code's networks for the 224-px data sets: torchvision's ResNet-18 (ImageNet-30) and DenseNet-121
(VGGFace2-30), from scratch, behind the interface every stage uses (``features``, ``classify``, ``stages``,
``linear``, ``feature_dim``).

Their widths are torchvision's: ``width`` must be the standard one (64 channels for ResNet-18, growth rate 32 for
DenseNet-121), so a profile cannot silently train a different network under the paper's name.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def _standard_width(name: str, width: int, standard: int) -> None:
    if width != standard:
        raise ValueError(f"{name} is torchvision's network, of width {standard}; got width={width}. Fix: set the "
                         f"width to {standard}, or use arch=resnet18 for the width-scaled CIFAR ResNet-18")


class _TorchvisionNet(nn.Module):
    """A torchvision network split into ``stem``, four ``layers`` (the stages NAD's attention maps and ASD's
    meta-split use) and the ``linear`` head on the pooled features."""

    stem: nn.Module
    layers: nn.Sequential
    linear: nn.Linear
    feature_dim: int

    def stages(self) -> list[nn.Module]:
        return list(self.layers)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(F.adaptive_avg_pool2d(self.layers(self.stem(x)), 1), 1)

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(x))


class ImageNetResNet18(_TorchvisionNet):
    """torchvision's ResNet-18 (7x7 stem and max-pool: the ImageNet layout); 512-d pooled features."""

    def __init__(self, num_classes: int = 30, width: int = 64) -> None:
        super().__init__()
        from torchvision.models import resnet18

        _standard_width("resnet18_imagenet", width, 64)
        net = resnet18(weights=None, num_classes=num_classes)
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
        self.layers = nn.Sequential(net.layer1, net.layer2, net.layer3, net.layer4)
        self.feature_dim = net.fc.in_features
        self.linear = net.fc


class DenseNet121(_TorchvisionNet):
    """torchvision's DenseNet-121; 1024-d pooled features. Its stages are the four dense blocks (each with the
    transition after it, the last with the final norm)."""

    def __init__(self, num_classes: int = 30, width: int = 32) -> None:
        super().__init__()
        from torchvision.models import densenet121

        _standard_width("densenet121", width, 32)
        body = densenet121(weights=None, num_classes=num_classes)
        f = body.features
        self.stem = nn.Sequential(f.conv0, f.norm0, f.relu0, f.pool0)
        self.layers = nn.Sequential(nn.Sequential(f.denseblock1, f.transition1),
                                    nn.Sequential(f.denseblock2, f.transition2),
                                    nn.Sequential(f.denseblock3, f.transition3),
                                    nn.Sequential(f.denseblock4, f.norm5, nn.ReLU()))
        self.feature_dim = body.classifier.in_features
        self.linear = body.classifier
