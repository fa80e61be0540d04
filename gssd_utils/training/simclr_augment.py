"""SimCLR's two-view augmentation, batched on the training device.

The official GSSD recipe (no blur): RandomResizedCrop(scale 0.08-1, ratio 3/4-4/3) → horizontal flip →
ColorJitter(0.8, 0.8, 0.8, 0.2) with p=0.8 → RandomGrayscale(0.2). Every sample draws its own parameters,
but the whole batch is transformed with tensor operations (``roi_align`` for the crops) instead of image by
image through PIL. Two differences from torchvision, both documented: the jitter is applied in a fixed
order (brightness, contrast, saturation, hue) rather than a random one, and the hue shift is a rotation of
the chroma plane in YIQ space, a linear approximation of the HSV hue rotation.
"""

from __future__ import annotations

import math

import torch
from torchvision.ops import roi_align

from gssd_utils.training.augment import CIFAR_MEAN, CIFAR_STD
from gssd_utils.training.config import SimCLRAugmentConfig

_RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
_GREY = torch.tensor([0.299, 0.587, 0.114])


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


def random_resized_crop(x: torch.Tensor, config: SimCLRAugmentConfig, generator: torch.Generator) -> torch.Tensor:
    n, _, height, width = x.shape
    area = _uniform(n, *config.crop_scale, generator) * height * width
    log_ratio = _uniform(n, math.log(config.crop_ratio[0]), math.log(config.crop_ratio[1]), generator)
    ratio = torch.exp(log_ratio)
    crop_w = torch.sqrt(area * ratio).clamp(1, width)
    crop_h = torch.sqrt(area / ratio).clamp(1, height)
    x0 = torch.rand(n, generator=generator) * (width - crop_w)
    y0 = torch.rand(n, generator=generator) * (height - crop_h)
    boxes = torch.stack([torch.arange(n, dtype=torch.float32), x0, y0, x0 + crop_w, y0 + crop_h], dim=1)
    return roi_align(x, boxes.to(x.device), output_size=(height, width), sampling_ratio=2, aligned=True)


def color_jitter(x: torch.Tensor, config: SimCLRAugmentConfig, generator: torch.Generator) -> torch.Tensor:
    n = len(x)
    b, c, s, h = config.jitter
    apply = (torch.rand(n, generator=generator) < config.jitter_p).view(n, 1, 1, 1).to(x.device)

    def factor(strength: float) -> torch.Tensor:
        return _uniform(n, max(0.0, 1 - strength), 1 + strength, generator).view(n, 1, 1, 1).to(x.device)

    grey_w = _GREY.to(x.device).view(1, 3, 1, 1)
    out = (x * factor(b)).clamp(0, 1)
    mean = (out * grey_w).sum(1, keepdim=True).mean((2, 3), keepdim=True)
    out = ((out - mean) * factor(c) + mean).clamp(0, 1)
    grey = (out * grey_w).sum(1, keepdim=True)
    out = ((out - grey) * factor(s) + grey).clamp(0, 1)
    angle = _uniform(n, -h, h, generator).to(x.device) * 2 * math.pi
    yiq = torch.einsum("ij,njhw->nihw", _RGB_TO_YIQ.to(x.device), out)
    cos, sin = torch.cos(angle).view(n, 1, 1), torch.sin(angle).view(n, 1, 1)
    i, q = yiq[:, 1], yiq[:, 2]
    yiq = torch.stack([yiq[:, 0], cos * i - sin * q, sin * i + cos * q], dim=1)
    out = torch.einsum("ij,njhw->nihw", torch.linalg.inv(_RGB_TO_YIQ).to(x.device), yiq).clamp(0, 1)
    return torch.where(apply, out, x)


def simclr_view(images_uint8: torch.Tensor, config: SimCLRAugmentConfig, generator: torch.Generator) -> torch.Tensor:
    """One augmented, normalised NCHW view of a uint8 NHWC batch."""
    n = len(images_uint8)
    x = images_uint8.permute(0, 3, 1, 2).float().div_(255.0)
    x = random_resized_crop(x, config, generator)
    flip = (torch.rand(n, generator=generator) < config.flip_p).view(n, 1, 1, 1).to(x.device)
    x = torch.where(flip, x.flip(3), x)
    x = color_jitter(x, config, generator)
    grey = (torch.rand(n, generator=generator) < config.grayscale_p).view(n, 1, 1, 1).to(x.device)
    x = torch.where(grey, (x * _GREY.to(x.device).view(1, 3, 1, 1)).sum(1, keepdim=True).expand_as(x), x)
    mean = torch.tensor(CIFAR_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR_STD, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std
