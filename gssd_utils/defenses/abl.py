"""ABL, Anti-Backdoor Learning (Li et al., NeurIPS 2021; the authors' code ``bboylyg/ABL``).

Backdoor samples are learned faster than clean ones. ABL exploits it in three phases:
1. isolation: train from scratch with the local-gradient-ascent (LGA) loss sign(CE - gamma) * CE, which keeps the
   training loss near gamma, so only what is learned unusually fast (the poisons) falls below it; then isolate the
   ``isolation_ratio`` of the training set with the lowest loss (evaluated without augmentation);
2. train on the rest (the authors' 60 epochs at lr 0.1, 0.01 from epoch 40), from the isolation model;
3. unlearn: gradient ascent on the isolated samples (-CE) at a small learning rate.
As in the authors' code the LGA sign is taken on the batch's mean loss. The paper's LGA, not the flooding variant
their code defaults to, is used, as the GSSD paper's comparison reads.

Budgets (``profiles.abl_phases``): the paper profile keeps the authors' 10 isolation, 60 training and 5 unlearning
epochs. The CPU profiles train on the rest for the classifier recipe's length or less (quick: all 4 epochs; smoke:
10 of 15) and isolate for the authors' sixth of it (10 of 60), rounded, at least one epoch (quick 1, smoke 2);
unlearning keeps its 5 passes over the isolated 1% (a count of passes, not a share of the schedule).
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from gssd_utils.cache import array_digest, config_key
from gssd_utils.defenses.base import Defense, DefenseInput, DefenseOutcome, register
from gssd_utils.defenses.configs import AblConfig
from gssd_utils.provenance import timed_stage
from gssd_utils.training.classifier import Objective, cached_classifier
from gssd_utils.training.config import TrainConfig
from gssd_utils.training.metrics import lowest_loss, per_sample_loss

if TYPE_CHECKING:
    from gssd_utils.profiles import Profile


def lga(gamma: float) -> Objective:
    """Local gradient ascent: descend while the batch's loss is above gamma, ascend below it."""

    def objective(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor):
        logits = model(inputs)
        loss = nn.functional.cross_entropy(logits.float(), labels)
        return torch.sign(loss - gamma) * loss, logits

    return objective


def gradient_ascent(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor):
    """Unlearning: maximise the cross-entropy of the isolated samples."""
    logits = model(inputs)
    return -nn.functional.cross_entropy(logits.float(), labels), logits


def _phase(recipe: TrainConfig, config: AblConfig, epochs: int, lr: float, drop: float | None = None) -> TrainConfig:
    milestones = (drop,) if drop is not None and round(drop * epochs) > 0 else ()
    return replace(recipe, epochs=epochs, lr=lr, momentum=config.momentum, weight_decay=config.weight_decay,
                   schedule="step", milestones=milestones, gamma=0.1)


@register
class Abl(Defense):
    name = "abl"
    display = "ABL"
    summary = "isolate the fastest-learned 1% with a loss floor, train on the rest, unlearn the isolated by ascent"
    config_class = AblConfig
    sets_aside = True

    @classmethod
    def work(cls, profile: Profile, n_train: int, n_reserve: int) -> dict[str, int]:
        config = profile.defense_config(cls.name)
        return {"classifier": n_train * (config.isolation_epochs + config.finetune_epochs)}

    def run(self, data: DefenseInput) -> DefenseOutcome:
        c, x, y = self.config, data.x_train, data.y_train
        outcome = DefenseOutcome(model=None)
        base = (data.train_key(), asdict(self.recipe), asdict(c))
        isolation = _phase(self.recipe, c, c.isolation_epochs, c.isolation_lr)
        with timed_stage(outcome.stages, "isolation"):
            model = cached_classifier(x, y, data.num_classes, isolation, config_key(*base, "abl isolation"),
                                      progress=self.progress, objective=lga(c.gamma))
            losses = per_sample_loss(model, x, y, lambda out, lab: nn.functional.cross_entropy(out, lab,
                                                                                              reduction="none"))
        isolated = np.flatnonzero(lowest_loss(losses, c.isolation_ratio))
        rest = np.setdiff1d(np.arange(len(y)), isolated)
        if c.finetune_epochs:
            finetune = _phase(self.recipe, c, c.finetune_epochs, c.finetune_lr, c.finetune_lr_drop)
            with timed_stage(outcome.stages, "train on the rest"):
                model = cached_classifier(x[rest], y[rest], data.num_classes, finetune,
                                          config_key(*base, "abl rest", array_digest(isolated)),
                                          init=model, progress=self.progress)
        if c.unlearning_epochs:
            # plain SGD, as the authors unlearn: the lookahead's last step would return the weights to their
            # average at its previous sync, half of the unlearning's ten steps at quick
            unlearning = replace(_phase(self.recipe, c, c.unlearning_epochs, c.unlearning_lr), lookahead=False)
            with timed_stage(outcome.stages, "unlearning"):
                model = cached_classifier(x[isolated], y[isolated], data.num_classes, unlearning,
                                          config_key(*base, "abl unlearning", array_digest(isolated)),
                                          init=model, progress=self.progress, objective=gradient_ascent)
        outcome.model, outcome.removed = model, isolated
        outcome.details = {"isolated": len(isolated),
                           "isolation_loss_cutoff": float(np.sort(losses)[len(isolated) - 1])}
        return outcome
