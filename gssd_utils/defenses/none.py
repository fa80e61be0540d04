"""No defense: the profile's classifier trained on the training set as delivered (every table's first row).

Its cache entry is keyed by the training set and the recipe only, so the defenses that start from a backdoored
model (NAD, fine-tuning) reuse this very model.
"""

from __future__ import annotations

from dataclasses import asdict

from torch import nn

from gssd_utils.cache import config_key
from gssd_utils.defenses.base import Defense, DefenseInput, DefenseOutcome, register
from gssd_utils.defenses.configs import NoDefenseConfig
from gssd_utils.provenance import timed_stage
from gssd_utils.training.classifier import cached_classifier
from gssd_utils.training.config import TrainConfig


def backdoored_model(data: DefenseInput, recipe: TrainConfig, progress: bool = True) -> nn.Module:
    """The recipe trained on the whole (possibly poisoned) training set, from the cache when it was trained before."""
    key = config_key(data.train_key(), "no defense", asdict(recipe))
    return cached_classifier(data.x_train, data.y_train, data.num_classes, recipe, key, progress=progress)


@register
class NoDefense(Defense):
    name = "none"
    display = "No defense"
    summary = "the classifier trained on the training set as delivered"
    config_class = NoDefenseConfig

    def run(self, data: DefenseInput) -> DefenseOutcome:
        outcome = DefenseOutcome(model=None)
        with timed_stage(outcome.stages, "train"):
            outcome.model = backdoored_model(data, self.recipe, self.progress)
        return outcome
