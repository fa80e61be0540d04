"""Predictions of a trained classifier on uint8 images (ACC and ASR are built on this in ``evaluation``)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from gssd_utils.provenance import default_device
from gssd_utils.training.augment import to_float
from gssd_utils.training.precision import autocast


@torch.no_grad()
def predict(model: nn.Module, images: np.ndarray, batch_size: int = 512,
            device: torch.device | None = None) -> np.ndarray:
    """Predicted class of each uint8 NHWC image; with the flip test-time augmentation of the model's recipe
    (``model.tta``, set by the trainer) the logits of the image and its mirror are averaged."""
    device = device or default_device()
    model.eval().to(device)
    mirror = getattr(model, "tta", False)
    preds = []
    for start in range(0, len(images), batch_size):
        batch = to_float(torch.from_numpy(images[start : start + batch_size]).to(device))
        with autocast(device):
            logits = model(batch)
            if mirror:
                logits = (logits + model(batch.flip(3))) / 2
            preds.append(logits.argmax(1).cpu())
    return torch.cat(preds).numpy() if preds else np.empty(0, dtype=np.int64)


def lowest_loss(losses: np.ndarray, share: float) -> np.ndarray:
    """Boolean mask of the ``share`` of samples with the lowest loss (at least one): how ABL isolates and DBD and
    ASD choose what keeps its label (ties broken by index, so the choice is repeatable)."""
    mask = np.zeros(len(losses), dtype=bool)
    mask[np.argsort(losses, kind="stable")[: max(round(share * len(losses)), 1)]] = True
    return mask


@torch.no_grad()
def per_sample_loss(model: nn.Module, images: np.ndarray, labels: np.ndarray,
                    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], batch_size: int = 512) -> np.ndarray:
    """The loss of every sample under ``model`` in eval mode, images as they are (no augmentation)."""
    device = next(model.parameters()).device
    model.eval()
    out = []
    for s in range(0, len(images), batch_size):
        x = to_float(torch.from_numpy(images[s : s + batch_size]).to(device))
        y = torch.from_numpy(labels[s : s + batch_size]).long().to(device)
        out.append(loss(model(x).float(), y).cpu())
    return torch.cat(out).numpy()
