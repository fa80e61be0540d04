"""GSSD behind the defense interface: the whole Algorithm 1 (``gssd.pipeline``), its final model and its split."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from gssd_utils.defenses.base import (
    Defense,
    DefenseInput,
    DefenseOutcome,
    check_self_supervised,
    class_counts,
    register,
)
from gssd_utils.gssd.config import GSSDConfig
from gssd_utils.gssd.pipeline import DefenseResult, defend_features, retrain_and_finetune
from gssd_utils.gssd.report import defense_report

if TYPE_CHECKING:
    from gssd_utils.attacks import PoisonTruth
    from gssd_utils.evaluation import SplitEvaluation
    from gssd_utils.profiles import Profile


@register
class GSSD(Defense):
    name = "gssd"
    display = "GSSD"
    summary = "SSL features, one flow per class, target classes by density, split, relabel, retrain, fine-tune"
    config_class = GSSDConfig
    cleansing = True
    sets_aside = True
    profile_sections = ("ssl", "flows", "detection", "split", "classifier", "finetune_epochs", "finetune_lr")

    @classmethod
    def default_config(cls, profile: Profile) -> GSSDConfig:
        """Assembled from the profile's own sections: every chapter reads GSSD's stages from the same fields."""
        return profile.gssd()

    @classmethod
    def work(cls, profile: Profile, n_train: int, n_reserve: int) -> dict[str, int]:
        config = profile.gssd()
        return {"SSL": n_train * config.ssl.epochs, "classifier": n_train * config.retrain.epochs}

    def check(self, data: DefenseInput) -> None:
        super().check(data)
        check_self_supervised(data, self.config.ssl)
        counts, flows = class_counts(data), self.config.flows
        need = max(flows.min_class_size, flows.batch_size if flows.vectorized else 2)
        small = np.flatnonzero(counts < need)
        if data.num_classes < 2 or len(small):
            setting = "flows.batch_size" if flows.vectorized else "flows.min_class_size"
            raise ValueError(f"GSSD fits one flow per class and needs at least 2 classes with {need} samples each; "
                             f"classes {small[:10].tolist()} have {counts[small][:10].tolist()}. Fix: use more data "
                             f"per class, or --set {setting}={max(int(counts.min()), 2)}")

    def _outcome(self, result: DefenseResult, data: DefenseInput) -> DefenseOutcome:
        split = result.split
        return DefenseOutcome(
            model=result.final_model,
            removed=np.setdiff1d(np.arange(len(data.y_train)), split.clean_indices),
            relabeled=split.relabeled_indices, relabels=split.relabels, stages=result.stages,
            details=defense_report(result, data.y_train), state=result)

    def extra_outputs(self, outcome: DefenseOutcome) -> dict[str, dict[str, np.ndarray]]:
        split = outcome.state.split
        return {"split.npz": {"clean_indices": split.clean_indices, "suspect_indices": split.suspect_indices,
                              "uncertain_indices": split.uncertain_indices,
                              "relabeled_indices": split.relabeled_indices, "relabels": split.relabels},
                "scores.npz": {"sigma": split.scores, "log_ratio": split.log_ratio, "loglik": outcome.state.loglik}}

    def evaluate_split(self, outcome: DefenseOutcome, truth: PoisonTruth, n: int) -> SplitEvaluation:
        from gssd_utils.evaluation import evaluate_split

        state = outcome.state
        return evaluate_split(state.split, state.stats, truth, n)

    def cleanse(self, data: DefenseInput) -> DefenseOutcome:
        result = defend_features(data.x_train, data.y_train, data.num_classes, self.config, self.progress)
        return self._outcome(result, data)

    def run(self, data: DefenseInput) -> DefenseOutcome:
        result = defend_features(data.x_train, data.y_train, data.num_classes, self.config, self.progress)
        result = retrain_and_finetune(result, data.x_train, data.y_train, data.num_classes, self.config,
                                      self.progress)
        return self._outcome(result, data)
