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
    return {
        "flagged_classes": flagged,
        "kind": {str(c): stats.kind[c] for c in flagged},
        "outcome": "target classes flagged" if flagged else "no class flagged: all data kept, no fine-tuning",
        "per_class": [
            {"class": c, "n": int(counts[c]), "S_ND": float(stats.s_nd[c]),
             "S_D": float(stats.s_d[c]), "mu": None if np.isnan(stats.mu[c]) else float(stats.mu[c]),
             "kind": stats.kind[c]}
            for c in range(len(stats.kind))
        ],
        "split_sizes": {
            "clean": len(split.clean_indices),
            "suspect": len(split.suspect_indices),
            "uncertain": len(split.uncertain_indices),
            "relabeled": len(split.relabeled_indices),
        },
        "stages": {name: stage.as_dict() for name, stage in result.stages.items()},
        "cache_keys": dict(result.keys),
    }
