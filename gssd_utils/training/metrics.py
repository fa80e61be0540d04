"""Clean accuracy (ACC) and attack success rate (ASR), the two numbers every table reports."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from gssd_utils.provenance import default_device
from gssd_utils.training.augment import to_float


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
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            logits = model(batch)
            if mirror:
                logits = (logits + model(batch.flip(3))) / 2
            preds.append(logits.argmax(1).cpu())
    return torch.cat(preds).numpy() if preds else np.empty(0, dtype=np.int64)


def accuracy(model: nn.Module, images: np.ndarray, labels: np.ndarray, **kwargs) -> float:
    return float(np.mean(predict(model, images, **kwargs) == labels))


def attack_success_rate(model: nn.Module, triggered_non_target: np.ndarray, target: int, **kwargs) -> float:
    """Share of triggered non-target test images classified as the target (the GSSD and toolbox ASR)."""
    return float(np.mean(predict(model, triggered_non_target, **kwargs) == target))
