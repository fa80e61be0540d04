"""What the self-supervised stage hands on: a backbone's features of images as they are, standardized, and the
kNN accuracy that is the usual health check of self-supervised features."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from gssd_utils.provenance import default_device
from gssd_utils.training.augment import to_float


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
