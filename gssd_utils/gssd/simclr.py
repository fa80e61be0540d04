"""Stage 1: SimCLR on the (possibly poisoned) training images, labels unused, with ``lightly``.

Defaults at paper profile follow the official GSSD code: CIFAR ResNet-18 backbone, lightly's
SimCLRProjectionHead 512→512→128 without batch norm (the official head also has no bias; lightly's has),
NTXentLoss at temperature 0.5, Adam 3e-4 without weight decay or schedule, 100 epochs, batch 256,
``drop_last``. The features used downstream are the backbone's pooled output, not the projection.
"""

from __future__ import annotations

import numpy as np
import torch
from lightly.loss import NTXentLoss
from lightly.models.modules import SimCLRProjectionHead
from torch import nn

from gssd_utils.models import build_model, init_from_images
from gssd_utils.provenance import default_device
from gssd_utils.training.augment import to_float
from gssd_utils.training.checkpoint import EpochCheckpoint, run_epochs
from gssd_utils.training.config import SimCLRConfig
from gssd_utils.training.precision import autocast
from gssd_utils.training.simclr_augment import simclr_view


class SimCLRModel(nn.Module):
    def __init__(self, config: SimCLRConfig) -> None:
        super().__init__()
        self.backbone = build_model(config.arch, num_classes=1, width=config.width)
        dim = self.backbone.feature_dim
        self.head = SimCLRProjectionHead(dim, dim, config.projection_dim, batch_norm=config.head_batch_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone.features(x))


def train_simclr(images: np.ndarray, config: SimCLRConfig, checkpoint=None, device: torch.device | None = None,
                 progress: bool = True) -> tuple[SimCLRModel, dict]:
    """Train (or resume) SimCLR; returns the model and its per-epoch loss and time."""
    if len(images) < config.batch_size:
        raise ValueError(f"SimCLR needs at least one full batch: {len(images)} images < batch size "
                         f"{config.batch_size}. Fix: lower simclr.batch_size to at most {len(images)}")
    device = device or default_device()
    torch.manual_seed(config.seed)
    model = SimCLRModel(config)
    init_from_images(model.backbone, images)
    model = model.to(device, memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    criterion = NTXentLoss(temperature=config.temperature)
    saver = EpochCheckpoint(checkpoint, config.key(), {"model": model, "optimizer": optimizer})
    data = torch.from_numpy(np.ascontiguousarray(images)).to(device)

    def epoch(index: int, generator: torch.Generator) -> dict:
        model.train()
        order = torch.randperm(len(data), generator=generator).to(device)
        losses = []
        for s in range(0, len(order) - config.batch_size + 1, config.batch_size):  # drop_last
            batch = data[order[s : s + config.batch_size]]
            views = [simclr_view(batch, config.augment, generator).contiguous(memory_format=torch.channels_last)
                     for _ in range(2)]
            with autocast(device):
                z0, z1 = model(views[0]), model(views[1])
            loss = criterion(z0.float(), z1.float())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        mean = float(np.mean(losses))
        if not np.isfinite(mean):
            raise FloatingPointError(f"the SimCLR loss became {mean} at epoch {index}. Fix: lower simclr.lr "
                                     f"(now {config.lr})")
        return {"loss": mean}

    history = run_epochs(saver, config.epochs, config.seed, epoch, "simclr", progress)
    return model.eval(), history


@torch.no_grad()
def extract_features(backbone: nn.Module, images: np.ndarray, batch_size: int = 512,
                     device: torch.device | None = None) -> np.ndarray:
    """Backbone features of the images as they are (no augmentation), in dataset order."""
    device = device or default_device()
    backbone.eval().to(device)
    out = []
    for s in range(0, len(images), batch_size):
        batch = to_float(torch.from_numpy(images[s : s + batch_size]).to(device))
        out.append(backbone.features(batch.contiguous(memory_format=torch.channels_last)).float().cpu())
    return torch.cat(out).numpy()


def standardize(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Per-dimension standardization with the training statistics (the official code uses each split's own)."""
    mean, std = train.mean(0), train.std(0) + 1e-6
    return [(x - mean) / std for x in (train, *others)]


@torch.no_grad()
def knn_accuracy(train: np.ndarray, train_labels: np.ndarray, test: np.ndarray, test_labels: np.ndarray,
                 k: int = 20) -> float:
    """Cosine k-nearest-neighbour accuracy: the usual health check of self-supervised features."""
    bank = nn.functional.normalize(torch.from_numpy(train).float(), dim=1)
    labels = torch.from_numpy(train_labels)
    num_classes = int(labels.max()) + 1
    correct = 0
    for s in range(0, len(test), 1024):
        query = nn.functional.normalize(torch.from_numpy(test[s : s + 1024]).float(), dim=1)
        sim, idx = (query @ bank.T).topk(min(k, len(bank)), dim=1)
        votes = torch.zeros(len(query), num_classes).scatter_add_(1, labels[idx], torch.exp(sim / 0.07))
        correct += (votes.argmax(1).numpy() == test_labels[s : s + 1024]).sum()
    return float(correct / len(test))
