"""The one trainer of the self-supervised stage: any registered method (``ssl.registry``) on the images alone.

Each epoch draws a permutation and two views per image from the epoch's seeded stream (``epoch_generator``), drops
the ragged last batch, and steps Adam at a constant learning rate, so a run resumes from its checkpoint exactly.
"""

from __future__ import annotations

import numpy as np
import torch

from gssd_utils.models import init_from_images
from gssd_utils.provenance import default_device
from gssd_utils.ssl.base import SSLModel
from gssd_utils.ssl.registry import get_method
from gssd_utils.training.checkpoint import EpochCheckpoint, run_epochs
from gssd_utils.training.config import SSLConfig
from gssd_utils.training.precision import autocast
from gssd_utils.training.simclr_augment import simclr_view


def train_ssl(images: np.ndarray, config: SSLConfig, checkpoint=None, device: torch.device | None = None,
              progress: bool = True) -> tuple[SSLModel, dict]:
    """Train (or resume) ``config.method`` on the images; returns the model and its per-epoch loss and time."""
    if len(images) < config.batch_size:
        raise ValueError(f"self-supervised training needs at least one full batch: {len(images)} images < batch "
                         f"size {config.batch_size}. Fix: lower ssl.batch_size to at most {len(images)}")
    method = get_method(config.method)
    device = device or default_device()
    torch.manual_seed(config.seed)
    model = method(config)
    init_from_images(model.backbone, images)
    model.prepare()
    model = model.to(device, memory_format=torch.channels_last)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=config.lr)
    saver = EpochCheckpoint(checkpoint, config.key(), {"model": model, "optimizer": optimizer})
    data = torch.from_numpy(np.ascontiguousarray(images)).to(device)
    steps_per_epoch = len(data) // config.batch_size
    total_steps = steps_per_epoch * config.epochs

    def epoch(index: int, generator: torch.Generator) -> dict:
        model.train()
        order = torch.randperm(len(data), generator=generator).to(device)
        losses = []
        for b, s in enumerate(range(0, steps_per_epoch * config.batch_size, config.batch_size)):  # drop_last
            batch = data[order[s : s + config.batch_size]]
            views = [simclr_view(batch, config.augment, generator).contiguous(memory_format=torch.channels_last)
                     for _ in range(2)]
            with autocast(device):
                outputs = model.forward_views(*views)
            loss = model.loss(outputs)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            model.after_step(index * steps_per_epoch + b + 1, total_steps)
            losses.append(loss.item())
        mean = float(np.mean(losses))
        if not np.isfinite(mean):
            raise FloatingPointError(f"the {method.display} loss became {mean} at epoch {index}. Fix: lower ssl.lr "
                                     f"(now {config.lr})")
        return {"loss": mean}

    history = run_epochs(saver, config.epochs, config.seed, epoch, config.method, progress)
    return model.eval(), history
