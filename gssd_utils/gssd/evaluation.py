"""How well the defense did, measured against the ground truth it never saw (paper App. L)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from gssd_utils.attacks import PoisonTruth
from gssd_utils.gssd.detection import ClassStatistics, max_foreign
from gssd_utils.gssd.splitting import Split


def evaluate_split(split: Split, stats: ClassStatistics, truth: PoisonTruth, n_samples: int) -> dict:
    poisoned = truth.is_poisoned(n_samples)
    suspects = split.suspect_indices
    caught = int(poisoned[suspects].sum())
    report = {
        "target": truth.target,
        "flagged_classes": stats.flagged,
        "target_detected": truth.target in stats.flagged,
        "false_positive_classes": [c for c in stats.flagged if c != truth.target],
        "n_poisoned": int(poisoned.sum()),
        "suspect_precision": caught / len(suspects) if len(suspects) else float("nan"),
        "suspect_recall": caught / max(int(poisoned.sum()), 1),
        "clean_poisoned_share": float(poisoned[split.clean_indices].mean()) if len(split.clean_indices) else 0.0,
        "poisoned_left_in_clean": int(poisoned[split.clean_indices].sum()),
    }
    known = truth.original_labels >= 0
    # Label-consistent poisons (LC) are target-class images: relabeling them away from the target is the
    # intended cure, and "accuracy against the original label" would be 0 by construction, so it is not scored.
    label_consistent = bool(known.any()) and bool(np.all(truth.original_labels[known] == truth.target))
    if len(split.relabeled_indices) and known.any() and not label_consistent:
        original = np.full(n_samples, -1)
        original[truth.poison_indices[known]] = truth.original_labels[known]
        relabeled_poisons = poisoned[split.relabeled_indices]
        hits = original[split.relabeled_indices] == split.relabels
        report["relabel_accuracy_on_poisons"] = (
            float(hits[relabeled_poisons].mean()) if relabeled_poisons.any() else float("nan")
        )
    return report


def target_separation(loglik: np.ndarray, labels: np.ndarray, truth: PoisonTruth) -> dict:
    """How far the flows tell the target class's poisons from its clean members, whatever was detected.

    Detection needs the poisons to stand out as a class-level statistic (foreign density for S_ND, a separate
    low-v mode for S_D); splitting only needs them ranked. AUROCs near 0.5 mean the features do not see the
    trigger at all; a high log-ratio AUROC with no detection means the split would work but the class test
    did not fire. Each AUROC is for "poisons score higher"; below 0.5 they score lower.
    """
    in_target = labels == truth.target
    poisoned = truth.is_poisoned(len(labels))[in_target]
    if poisoned.all() or not poisoned.any():
        raise ValueError(f"class {truth.target} holds {int(poisoned.sum())} poisons of {int(in_target.sum())} "
                         "samples; separation needs both poisoned and clean members")
    own = loglik[in_target, truth.target]
    foreign, _ = max_foreign(loglik[in_target], labels[in_target])
    return {
        "n poisons in target": int(poisoned.sum()),
        "AUROC own density": float(roc_auc_score(poisoned, own)),
        "AUROC max foreign density": float(roc_auc_score(poisoned, foreign)),
        "AUROC log ratio": float(roc_auc_score(poisoned, own - foreign)),
    }
