"""The defense's own account of what it did: flagged classes, per-class statistics, split sizes, timings.

Everything here comes from the defense's outputs; ground-truth metrics are added separately (``evaluation``).
"""

from __future__ import annotations

import numpy as np

from gssd_utils.gssd.pipeline import DefenseResult


def defense_report(result: DefenseResult, labels: np.ndarray) -> dict:
    """``labels`` are the observed training labels the defense ran on."""
    stats, split = result.stats, result.split
    flagged = stats.flagged
    counts = np.bincount(labels, minlength=len(stats.kind))
    calibrated = stats.rule == "calibrated"
    return {
        "detection_rule": stats.rule,
        "flagged_classes": flagged,
        "kind": {str(c): stats.kind[c] for c in flagged},
        "outcome": "target classes flagged" if flagged else "no class flagged: all data kept, no fine-tuning",
        "per_class": [
            {"class": c, "n": int(counts[c]), "S_ND": float(stats.s_nd[c]),
             "S_D": float(stats.s_d[c]), "mu": None if np.isnan(stats.mu[c]) else float(stats.mu[c]),
             "kind": stats.kind[c],
             **({"runner_up_share": float(stats.runner_up[c]), "T_ND": float(stats.nd_score[c]),
                 "p_ND": float(stats.nd_pvalue[c]), "p_D": float(stats.d_pvalue[c])} if calibrated else {})}
            for c in range(len(stats.kind))
        ],
        **({"T_ND_threshold": stats.nd_threshold} if calibrated else {}),
        "split_sizes": {
            "clean": len(split.clean_indices),
            "suspect": len(split.suspect_indices),
            "uncertain": len(split.uncertain_indices),
            "relabeled": len(split.relabeled_indices),
        },
        "stages": {name: stage.as_dict() for name, stage in result.stages.items()},
        "cache_keys": dict(result.keys),
    }
