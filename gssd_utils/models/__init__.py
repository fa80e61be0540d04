"""Networks: the CIFAR ResNet-18 of the paper (with a width multiplier), an airbench-style net and a small CNN."""

from __future__ import annotations

from torch import nn

from gssd_utils.models.airnet import AirNet
from gssd_utils.models.resnet import CifarResNet18
from gssd_utils.models.small_cnn import SmallCNN

ARCHITECTURES = {"resnet18": CifarResNet18, "airnet": AirNet, "small_cnn": SmallCNN}

__all__ = ["ARCHITECTURES", "AirNet", "CifarResNet18", "SmallCNN", "build_model"]


def build_model(arch: str, num_classes: int, width: int) -> nn.Module:
    try:
        cls = ARCHITECTURES[arch]
    except KeyError:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}") from None
    return cls(num_classes=num_classes, width=width)
