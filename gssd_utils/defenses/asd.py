"""ASD, Adaptively Splitting the poisoned Dataset (Gao et al., CVPR 2023; the authors' code ``KuofengGao/ASD``).

A network trained from scratch with MixMatch, where a clean pool keeps its labels and everything else is
unlabelled; the pool is chosen anew every epoch, in three phases (fractions of the epochs):
1. class-aware (to ``class_aware_until``): the clean seeds plus, per class, the n samples with the lowest symmetric
   cross-entropy, n growing by ``pool_growth`` every ``growth_every`` epochs;
2. class-agnostic (to ``meta_from``): the ``pool_share`` of samples with the lowest symmetric cross-entropy;
3. meta-split: a copy of the network trains its last two stages and head for one epoch on the whole set (Adam at
   ``meta_lr``); the pool is the ``pool_share`` whose cross-entropy that update lowered least — poisons, learned
   fast, drop most.
The clean seeds (``seeds_per_class`` per class) are drawn from the clean reserve, split off before poisoning. The
official code picks them from the training set with the ground-truth poison flags; a defense may not, and this one
never sees them. The samples ASD sets aside (``removed``) are those its final model leaves out of the pool by the
class-agnostic rule.

Budgets (``profiles.py``): the paper profile keeps the authors' 120 epochs of 1,024 steps. The CPU profiles make an
epoch one pass over the training set (quick: 6 epochs) and keep the phases' fractions (1/2, 3/4); the pool grows
so that it reaches the authors' 120 per class in the last class-aware epoch (quick: 40, 80, 120 per class in its
three).
"""

from __future__ import annotations

import copy
from dataclasses import asdict
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from gssd_utils.cache import cache_path, config_key
from gssd_utils.defenses.base import Defense, DefenseInput, DefenseOutcome, register
from gssd_utils.defenses.configs import AsdConfig
from gssd_utils.models import build_model, init_from_images
from gssd_utils.provenance import timed_stage
from gssd_utils.training.augment import random_crop_flip, to_float
from gssd_utils.training.checkpoint import epoch_generator
from gssd_utils.training.config import TrainConfig
from gssd_utils.training.metrics import lowest_loss, per_sample_loss
from gssd_utils.training.mixmatch import sample_sce, train_mixmatch

if TYPE_CHECKING:
    from gssd_utils.profiles import Profile


def draw_seeds(labels: np.ndarray, per_class: int, num_classes: int, seed: int) -> np.ndarray:
    """Up to ``per_class`` indices of each class, drawn from the clean reserve's labels."""
    rng = np.random.default_rng([seed, 11])
    chosen = [rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in range(num_classes)]
    return np.sort(np.concatenate(chosen))


def class_aware_pool(losses: np.ndarray, labels: np.ndarray, per_class: int) -> np.ndarray:
    """Mask of the ``per_class`` lowest-loss samples of every class."""
    mask = np.zeros(len(losses), dtype=bool)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        mask[members[np.argsort(losses[members], kind="stable")[:per_class]]] = True
    return mask


def meta_loss_drop(model: nn.Module, images: np.ndarray, labels: np.ndarray, config: AsdConfig, recipe: TrainConfig,
                   seed: int) -> np.ndarray:
    """How much one epoch of training a copy's last two stages and head lowers each sample's cross-entropy."""
    ce = lambda out, lab: nn.functional.cross_entropy(out, lab, reduction="none")  # noqa: E731
    before = per_sample_loss(model, images, labels, ce)
    meta = copy.deepcopy(model)
    tail = [*meta.stages()[-2:], meta.linear]
    for parameter in meta.parameters():
        parameter.requires_grad_(False)
    trainable = [p for module in tail for p in module.parameters()]
    for parameter in trainable:
        parameter.requires_grad_(True)
    optimizer = torch.optim.Adam(trainable, lr=config.meta_lr)
    device = next(meta.parameters()).device
    x_all, y_all = torch.from_numpy(images).to(device), torch.from_numpy(labels).long().to(device)
    generator = epoch_generator(seed, 10_007)
    meta.train()
    order = torch.randperm(len(images), generator=generator).to(device)
    for s in range(0, len(order), recipe.batch_size):
        idx = order[s : s + recipe.batch_size]
        batch = random_crop_flip(x_all[idx], recipe.crop_padding, generator, recipe.hflip, recipe.pad_mode)
        inputs = to_float(batch).contiguous(memory_format=torch.channels_last)
        loss = nn.functional.cross_entropy(meta(inputs).float(), y_all[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return before - per_sample_loss(meta, images, labels, ce)


@register
class Asd(Defense):
    name = "asd"
    display = "ASD*"
    summary = "MixMatch from scratch with a clean pool grown from clean seeds, then by loss, then by a meta-split"
    config_class = AsdConfig
    uses_clean_data = True
    sets_aside = True

    @classmethod
    def work(cls, profile: Profile, n_train: int, n_reserve: int) -> dict[str, int]:
        return {"classifier": profile.defense_config(cls.name).mixmatch.images(n_train)}

    def run(self, data: DefenseInput) -> DefenseOutcome:
        c, recipe = self.config, self.recipe
        sce = sample_sce(c.sce_alpha, c.sce_beta)
        seeds = draw_seeds(data.y_clean, c.seeds_per_class, data.num_classes, recipe.seed)
        images = np.concatenate([data.x_train, data.x_clean[seeds]])
        labels = np.concatenate([data.y_train, data.y_clean[seeds]])
        n, seed_mask = len(data.y_train), np.arange(len(labels)) >= len(data.y_train)
        epochs = c.mixmatch.epochs
        aware_until, meta_from = round(c.class_aware_until * epochs), round(c.meta_from * epochs)

        def select(epoch: int, model: nn.Module) -> np.ndarray:
            if epoch >= meta_from:
                drop = meta_loss_drop(model, images, labels, c, recipe, recipe.seed * 1_000 + epoch)
                pool = lowest_loss(drop, c.pool_share)
            elif epoch >= aware_until:
                pool = lowest_loss(per_sample_loss(model, images, labels, sce), c.pool_share)
            else:
                per_class = c.pool_growth * (epoch // c.growth_every + 1)
                pool = class_aware_pool(per_sample_loss(model, images, labels, sce), labels, per_class)
            return pool | seed_mask

        outcome = DefenseOutcome(model=None)
        torch.manual_seed(recipe.seed)
        model = build_model(recipe.arch, data.num_classes, recipe.width)
        init_from_images(model, data.x_train)
        model.tta = recipe.tta
        key = config_key(data.train_key(), data.clean_key(), "asd", asdict(c), asdict(recipe))
        with timed_stage(outcome.stages, "mixmatch"):
            model, _ = train_mixmatch(model, images, labels, data.num_classes, select, c.mixmatch, recipe,
                                      cache_path("classifier", key, ".pt"), recipe.seed, "asd mixmatch",
                                      self.progress)
        final = lowest_loss(per_sample_loss(model, images, labels, sce), c.pool_share)[:n]
        outcome.model, outcome.removed = model, np.flatnonzero(~final)
        outcome.details = {"seeds": len(seeds), "phases (epochs)": [aware_until, meta_from - aware_until,
                                                                      epochs - meta_from]}
        return outcome
