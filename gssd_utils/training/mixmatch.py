"""MixMatch (Berthelot et al. 2019) as DBD and ASD train with it, and the symmetric cross-entropy they split by.

One MixMatch step, on a labelled batch (x, y) and an unlabelled batch u:
1. guess labels for u: the mean of the model's softmax over two augmentations of u, sharpened with temperature T;
2. shuffle the labelled and both unlabelled views together and mix each sample with one of them (mixup with
   lambda' = max(lambda, 1 - lambda), lambda ~ Beta(alpha, alpha), one draw per step as in DBD's and ASD's code), so
   every mixed sample stays closer to its own input;
3. loss = cross-entropy on the mixed labelled part + lambda_u(t) * squared error on the mixed unlabelled part,
   lambda_u ramped up linearly.
The whole mixed batch goes through the network in one forward pass, so batch-norm sees one batch (the reference
code interleaves three passes to the same end).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gssd_utils.provenance import default_device
from gssd_utils.training.augment import random_crop_flip, to_float
from gssd_utils.training.checkpoint import EpochCheckpoint, run_epochs
from gssd_utils.training.config import MixMatchConfig, TrainConfig


def sharpen(probabilities: torch.Tensor, temperature: float) -> torch.Tensor:
    """p^(1/T), renormalised: lower entropy for T < 1 (rows are distributions)."""
    powered = probabilities ** (1.0 / temperature)
    return powered / powered.sum(dim=1, keepdim=True)


def mixup_lambda(alpha: float, generator: torch.Generator) -> float:
    """lambda' = max(lambda, 1 - lambda) with lambda ~ Beta(alpha, alpha): a mix that keeps its first input dominant.

    Drawn from the step's seeded stream (torch's Beta sampler takes no generator), so a resumed run repeats it.
    """
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
    lam = float(np.random.default_rng(seed).beta(alpha, alpha))
    return max(lam, 1.0 - lam)


def symmetric_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, alpha: float = 0.1, beta: float = 1.0,
                            reduction: str = "mean") -> torch.Tensor:
    """alpha * CE + beta * reverse CE (Wang et al. 2019), the loss DBD and ASD rank samples by.

    The reverse term is -sum_k p_k log q_k with q the one-hot label clipped at 1e-4 (log 0 undefined).
    """
    ce = nn.functional.cross_entropy(logits, labels, reduction="none")
    prob = torch.softmax(logits, dim=1).clamp(min=1e-7, max=1.0)
    one_hot = nn.functional.one_hot(labels, logits.shape[1]).float().clamp(min=1e-4, max=1.0)
    rce = -(prob * torch.log(one_hot)).sum(dim=1)
    loss = alpha * ce + beta * rce
    return loss.mean() if reduction == "mean" else loss


def sample_sce(alpha: float, beta: float) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Each sample's symmetric cross-entropy at these weights, in the form ``per_sample_loss`` takes: what DBD and
    ASD rank the training set by."""
    return lambda logits, labels: symmetric_cross_entropy(logits, labels, alpha, beta, reduction="none")


def mixmatch_loss(logits_x: torch.Tensor, targets_x: torch.Tensor, logits_u: torch.Tensor,
                  targets_u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(supervised, unsupervised) terms: soft-target cross-entropy and the squared error of the probabilities."""
    supervised = -(targets_x * torch.log_softmax(logits_x, dim=1)).sum(dim=1).mean()
    unsupervised = ((torch.softmax(logits_u, dim=1) - targets_u) ** 2).mean()
    return supervised, unsupervised


def mixmatch_step(model: nn.Module, x: torch.Tensor, targets: torch.Tensor, u1: torch.Tensor, u2: torch.Tensor,
                  config: MixMatchConfig, weight_u: float, generator: torch.Generator) -> torch.Tensor:
    """The loss of one MixMatch step on normalised float inputs; ``targets`` are one-hot labels of ``x``."""
    with torch.no_grad():
        guess = (torch.softmax(model(u1), dim=1) + torch.softmax(model(u2), dim=1)) / 2
        guess = sharpen(guess, config.temperature)
    inputs = torch.cat([x, u1, u2])
    soft = torch.cat([targets, guess, guess])
    order = torch.randperm(len(inputs), generator=generator).to(inputs.device)
    lam = mixup_lambda(config.alpha, generator)
    mixed = lam * inputs + (1 - lam) * inputs[order]
    mixed_targets = lam * soft + (1 - lam) * soft[order]
    logits = model(mixed.contiguous(memory_format=torch.channels_last)).float()
    n = len(x)
    supervised, unsupervised = mixmatch_loss(logits[:n], mixed_targets[:n], logits[n:], mixed_targets[n:])
    return supervised + weight_u * unsupervised


def train_mixmatch(model: nn.Module, images: np.ndarray, labels: np.ndarray, num_classes: int,
                   select: Callable[[int, nn.Module], np.ndarray], config: MixMatchConfig, recipe: TrainConfig,
                   checkpoint: str | Path | None, seed: int, desc: str = "mixmatch", progress: bool = True,
                   device: torch.device | None = None) -> tuple[nn.Module, dict]:
    """Semi-supervised training of ``model``: each epoch ``select(epoch, model)`` gives the mask of samples that keep
    their labels; the others are unlabelled. Augmentation is the recipe's (crop and flip); Adam at ``config.lr``."""
    device = device or default_device()
    model = model.to(device, memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    saver = EpochCheckpoint(checkpoint, f"{config}|{recipe.key()}", {"model": model, "optimizer": optimizer})
    x_all = torch.from_numpy(np.ascontiguousarray(images)).to(device)
    targets_all = nn.functional.one_hot(torch.from_numpy(labels).long(), num_classes).float().to(device)
    batch = config.batch_size
    iterations = config.iterations or -(-len(images) // batch)

    def view(indices: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        raw = x_all[indices]
        if recipe.augment:
            raw = random_crop_flip(raw, recipe.crop_padding, generator, recipe.hflip, recipe.pad_mode)
        return to_float(raw).contiguous(memory_format=torch.channels_last)

    def epoch(index: int, generator: torch.Generator) -> dict:
        mask = select(index, model)
        labelled = torch.from_numpy(np.flatnonzero(mask)).to(device)
        unlabelled = torch.from_numpy(np.flatnonzero(~mask)).to(device)
        if not len(labelled):
            raise ValueError(f"{desc}: no sample kept its label at epoch {index}; nothing to learn from")
        has_unlabelled = len(unlabelled) > 0
        pool = unlabelled if has_unlabelled else labelled  # without unlabelled samples the step is supervised
        model.train()
        total = 0.0
        for step in range(iterations):
            x_idx = labelled[torch.randint(len(labelled), (batch,), generator=generator).to(device)]
            u_idx = pool[torch.randint(len(pool), (batch,), generator=generator).to(device)]
            ramp = min((index + step / iterations) / max(config.rampup * config.epochs, 1e-9), 1.0)
            weight = config.lambda_u * ramp if has_unlabelled else 0.0
            loss = mixmatch_step(model, view(x_idx, generator), targets_all[x_idx], view(u_idx, generator),
                                 view(u_idx, generator), config, weight, generator)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item()
        return {"loss": total / iterations, "labelled": float(len(labelled))}

    history = run_epochs(saver, config.epochs, seed, epoch, desc, progress)
    return model.eval(), history
