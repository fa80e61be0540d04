"""How well a defense did, measured against the ground truth it never saw (GSSD App. L) — the only module, besides
the attacks that create it, that reads the ground truth.

Everything is typed; display names are given only when a table is built.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from torch import nn

from gssd_utils.attacks import PoisonedDataset, PoisonTruth
from gssd_utils.gssd.detection import ClassStatistics, max_foreign
from gssd_utils.gssd.splitting import Split
from gssd_utils.training.metrics import predict


@dataclass(frozen=True)
class Metrics:
    """ACC: accuracy on the clean test set; ASR: share of triggered non-target test images classified as the
    target (the GSSD and toolbox definition). Fractions in [0, 1]."""

    acc: float
    asr: float

    def as_dict(self) -> dict:
        return asdict(self)


def attack_metrics(model: nn.Module, poisoned: PoisonedDataset) -> Metrics:
    """ACC and ASR of ``model`` on ``poisoned``'s test sets."""
    data = poisoned.data
    acc = float(np.mean(predict(model, data.x_test) == data.y_test))
    asr = float(np.mean(predict(model, poisoned.x_test_triggered) == poisoned.config.target))
    return Metrics(acc=acc, asr=asr)


def _share(part: int, whole: int) -> float:
    return part / whole if whole else float("nan")


def relabel_accuracy(relabeled: np.ndarray, relabels: np.ndarray, truth: PoisonTruth, n: int) -> float | None:
    """Share of the relabeled poisons whose new label is their source class; None when it is undefined.

    Undefined when nothing poisoned was relabeled, or for label-consistent poisons (LC): they are target-class
    images, relabeling them away from the target is the intended cure, and their "source label" is the target.
    """
    known = truth.original_labels >= 0
    if not known.any() or np.all(truth.original_labels[known] == truth.target):
        return None
    original = np.full(n, -1)
    original[truth.poison_indices[known]] = truth.original_labels[known]
    poisons = original[relabeled] >= 0
    if not poisons.any():
        return None
    return float(np.mean(original[relabeled][poisons] == relabels[poisons]))


@dataclass(frozen=True)
class Evaluation:
    """What a defense set aside (``removed``: not trained on with its given label), against the truth."""

    n_poisoned: int
    removed: int
    removed_precision: float  # poisons among the removed
    removed_recall: float  # removed among the poisons
    poisons_kept: int  # poisons trained on with their poisoned label
    clean_kept: float  # clean samples trained on with their own label
    relabeled: int
    relabel_accuracy: float | None

    def as_dict(self) -> dict:
        return asdict(self)


def evaluate_removal(removed: np.ndarray, relabeled: np.ndarray, relabels: np.ndarray, truth: PoisonTruth,
                     n: int) -> Evaluation:
    poisoned = truth.is_poisoned(n)
    caught = int(poisoned[removed].sum())
    kept = np.ones(n, dtype=bool)
    kept[removed] = False
    n_poisoned = int(poisoned.sum())
    return Evaluation(
        n_poisoned=n_poisoned, removed=len(removed), removed_precision=_share(caught, len(removed)),
        removed_recall=_share(caught, n_poisoned), poisons_kept=int((poisoned & kept).sum()),
        clean_kept=_share(int((~poisoned & kept).sum()), int((~poisoned).sum())), relabeled=len(relabeled),
        relabel_accuracy=relabel_accuracy(relabeled, relabels, truth, n))


@dataclass(frozen=True)
class SplitEvaluation:
    """GSSD's detection and three-way split against the truth (App. L)."""

    target_detected: bool
    false_positive_classes: list[int]
    suspect_precision: float  # poisons in D̂_P
    suspect_recall: float
    poisons_in_clean: int  # poisons left in D̂_C
    clean_poisoned_share: float
    relabel_accuracy: float | None

    def as_dict(self) -> dict:
        return asdict(self)


def evaluate_split(split: Split, stats: ClassStatistics, truth: PoisonTruth, n: int) -> SplitEvaluation:
    poisoned = truth.is_poisoned(n)
    suspects = split.suspect_indices
    caught = int(poisoned[suspects].sum())
    return SplitEvaluation(
        target_detected=truth.target in stats.flagged,
        false_positive_classes=[c for c in stats.flagged if c != truth.target],
        suspect_precision=_share(caught, len(suspects)), suspect_recall=_share(caught, int(poisoned.sum())),
        poisons_in_clean=int(poisoned[split.clean_indices].sum()),
        clean_poisoned_share=float(poisoned[split.clean_indices].mean()) if len(split.clean_indices) else 0.0,
        relabel_accuracy=relabel_accuracy(split.relabeled_indices, split.relabels, truth, n))


def target_separation(loglik: np.ndarray, labels: np.ndarray, truth: PoisonTruth) -> dict[str, float]:
    """How far the flows tell the target class's poisons from its clean members, whatever was detected.

    Detection needs the poisons to stand out as a class-level statistic (foreign density for S_ND, a separate
    low-v mode for S_D); splitting only needs them ranked. AUROCs near 0.5 mean the features do not see the
    trigger at all; a high log-ratio AUROC with no detection means the split would work but the class test
    did not fire. Each AUROC is for "poisons score higher"; below 0.5 they score lower.
    """
    from sklearn.metrics import roc_auc_score

    in_target = labels == truth.target
    poisoned = truth.is_poisoned(len(labels))[in_target]
    if poisoned.all() or not poisoned.any():
        raise ValueError(f"class {truth.target} holds {int(poisoned.sum())} poisons of {int(in_target.sum())} "
                         "samples; separation needs both poisoned and clean members")
    own = loglik[in_target, truth.target]
    foreign, _ = max_foreign(loglik[in_target], labels[in_target])
    return {"auroc_own": float(roc_auc_score(poisoned, own)),
            "auroc_foreign": float(roc_auc_score(poisoned, foreign)),
            "auroc_ratio": float(roc_auc_score(poisoned, own - foreign))}


def official_code_sets(split: Split, truth: PoisonTruth, n: int) -> tuple[np.ndarray, np.ndarray]:
    """What the official GSSD code's retraining trains on, which reads the ground truth: (D̂_C without the true
    poisons, the positions in D̂'_P of its samples that are not poisons). An ablation for the reader only, to show how
    much of the paper's ASR that step can explain; the defense itself never calls it."""
    poisoned = truth.is_poisoned(n)
    return split.clean_indices[~poisoned[split.clean_indices]], np.flatnonzero(~poisoned[split.relabeled_indices])
