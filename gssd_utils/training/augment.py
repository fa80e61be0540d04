"""Batched augmentation on the training device.

Images stay uint8 tensors and a whole batch is cropped and flipped with tensor indexing, instead of
image by image through PIL: this is what keeps a 2-core CPU and a GPU busy with the model, not the loader.
"""

from __future__ import annotations

import torch

# The official GSSD code normalises every data set with these CIFAR-10 statistics.
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2023, 0.1994, 0.2010)


def to_float(images_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 NHWC -> normalised float NCHW."""
    return normalize(images_uint8.permute(0, 3, 1, 2).float().div_(255.0))


def normalize(x: torch.Tensor) -> torch.Tensor:
    """Float NCHW in [0, 1] -> the networks' input; differentiable, so attacks can take gradients through it."""
    mean = torch.tensor(CIFAR_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR_STD, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


def random_crop_flip(
    images_uint8: torch.Tensor, padding: int = 4, generator: torch.Generator | None = None, flip: bool = True
) -> torch.Tensor:
    """RandomCrop(H, padding) with zero padding and (if ``flip``) a horizontal flip with p=0.5, on uint8 NHWC."""
    n, height, width, _ = images_uint8.shape
    device = images_uint8.device
    padded = torch.nn.functional.pad(images_uint8, (0, 0, padding, padding, padding, padding))
    dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator).to(device)
    dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator).to(device)
    mirrored = (torch.rand(n, generator=generator) < (0.5 if flip else 0.0)).to(device)
    rows = dy[:, None] + torch.arange(height, device=device)[None]
    cols = dx[:, None] + torch.arange(width, device=device)[None]
    cols = torch.where(mirrored[:, None], cols.flip(1), cols)
    batch = torch.arange(n, device=device)[:, None, None]
    return padded[batch, rows[:, :, None], cols[:, None, :]]
