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


def _source_index(offset: torch.Tensor, size: int, padding: int, mode: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image and output position, the source pixel of a crop shifted by ``offset - padding``, and whether
    that source lies inside the image (outside means a zero-padded pixel)."""
    src = offset[:, None] - padding + torch.arange(size, device=offset.device)[None]
    if mode == "reflect":
        src = src.abs()
        src = torch.where(src >= size, 2 * size - 2 - src, src)
        return src, torch.ones_like(src, dtype=torch.bool)
    inside = (src >= 0) & (src < size)
    return src.clamp(0, size - 1), inside


def crop_flip(images_uint8: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor, mirrored: torch.Tensor,
              padding: int, mode: str = "zeros") -> torch.Tensor:
    """Shift each uint8 NHWC image by (dy, dx) - padding within a padded canvas and mirror where asked."""
    n, height, width, _ = images_uint8.shape
    device = images_uint8.device
    rows, row_in = _source_index(dy.to(device), height, padding, mode)
    cols, col_in = _source_index(dx.to(device), width, padding, mode)
    mirrored = mirrored.to(device)
    cols, col_in = torch.where(mirrored[:, None], cols.flip(1), cols), torch.where(mirrored[:, None],
                                                                                   col_in.flip(1), col_in)
    batch = torch.arange(n, device=device)[:, None, None]
    out = images_uint8[batch, rows[:, :, None], cols[:, None, :]]
    if mode == "zeros":
        out = out * (row_in[:, :, None] & col_in[:, None, :])[..., None].to(out.dtype)
    return out


def random_crop_flip(
    images_uint8: torch.Tensor, padding: int = 4, generator: torch.Generator | None = None, flip: bool = True,
    mode: str = "zeros", mirrored: torch.Tensor | None = None,
) -> torch.Tensor:
    """RandomCrop(H, padding) and (if ``flip``) a horizontal flip with p=0.5, on uint8 NHWC.

    ``mode`` pads with zeros or reflects; ``mirrored`` fixes which images are flipped instead of drawing it.
    """
    n = len(images_uint8)
    dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    drawn = torch.rand(n, generator=generator) < (0.5 if flip else 0.0)
    return crop_flip(images_uint8, dy, dx, drawn if mirrored is None else mirrored, padding, mode)
