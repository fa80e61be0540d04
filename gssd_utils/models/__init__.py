"""Networks: the CIFAR ResNet-18 of the paper (with a width multiplier), an airbench-style net, a small CNN, and
the official code's torchvision ResNet-18 and DenseNet-121 for the 224-px data sets."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from gssd_utils.models.airnet import AirNet
from gssd_utils.models.imagenet import DenseNet121, ImageNetResNet18
from gssd_utils.models.resnet import CifarResNet18
from gssd_utils.models.small_cnn import SmallCNN
from gssd_utils.training.augment import to_float

ARCHITECTURES = {"resnet18": CifarResNet18, "airnet": AirNet, "small_cnn": SmallCNN,
                 "resnet18_imagenet": ImageNetResNet18, "densenet121": DenseNet121}

__all__ = ["ARCHITECTURES", "AirNet", "CifarResNet18", "DenseNet121", "ImageNetResNet18", "SmallCNN", "build_model",
           "init_from_images"]
WHITENING_IMAGES = 5000  # the images a data-dependent first layer is initialised from (airbench's count)


def build_model(arch: str, num_classes: int, width: int) -> nn.Module:
    try:
        cls = ARCHITECTURES[arch]
    except KeyError:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}") from None
    return cls(num_classes=num_classes, width=width)


def init_from_images(model: nn.Module, images: np.ndarray) -> None:
    """Initialise a network's data-dependent first layer (AirNet whitens the images' patches) from the first
    ``WHITENING_IMAGES`` training images; other networks have none and are left as built."""
    if hasattr(model, "init_whitening"):
        model.init_whitening(to_float(torch.from_numpy(np.ascontiguousarray(images[:WHITENING_IMAGES]))))
