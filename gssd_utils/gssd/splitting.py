"""Poisoning scores, the three-way split and relabeling (GSSD §4.5-4.6, Eqs. 5-7).

Resolutions of paper vs. official code:
- σ (Eq. 6): as printed, σ = s^(1−2[disruptive]) is *lower* for poisons, against the paper's own argument
  that σ should be higher for them. We use σ = s^(2[disruptive]−1), in log form σ = −s for non-disruptive
  and σ = s for disruptive classes, with s = ℓ_y − max_{k≠y} ℓ_k (Eq. 5 per dimension). This matches the
  official code's ordering.
- D̂_P = the α_P·N_c highest σ of a flagged class, D̂_C = its α_C·N_c lowest, the rest D̂_U (counts floored).
  Every sample of an unflagged class goes to D̂_C, poisons that slip through included: the defense never
  consults ground truth (the official code does, which we do not reproduce).
- Relabeling (Eq. 7): D̂_P of non-disruptive classes gets argmax_{k≠y} ℓ_k. Disruptive suspects are dropped
  by default, as in the official code and §3 (for clean-label attacks they truly belong to the target
  class); ``relabel_disruptive=True`` applies Eq. 7 literally.
- No class flagged: D̂_C is the whole set, D̂_P is empty and fine-tuning is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gssd_utils.gssd.detection import DISRUPTIVE, ClassStatistics, max_foreign


@dataclass(frozen=True)
class SplitConfig:
    alpha_c: float = 0.3
    alpha_p: float = 0.15
    relabel_disruptive: bool = False

    def __post_init__(self) -> None:
        for name in ("alpha_c", "alpha_p"):
            value = getattr(self, name)
            if not 0.0 < value <= 0.5:
                raise ValueError(f"{name}={value} is out of range; the paper restricts it to (0, 0.5]")


@dataclass
class Split:
    """Indices into the training set. ``relabels[i]`` is the new label of ``suspect_indices[i]``."""

    clean_indices: np.ndarray
    suspect_indices: np.ndarray
    uncertain_indices: np.ndarray
    relabeled_indices: np.ndarray
    relabels: np.ndarray
    scores: np.ndarray  # σ for samples of flagged classes, NaN elsewhere
    log_ratio: np.ndarray  # s = ℓ_y − max_{k≠y} ℓ_k for every sample


def poisoning_scores(loglik: np.ndarray, labels: np.ndarray, stats: ClassStatistics) -> tuple[np.ndarray, np.ndarray]:
    """(σ, s): σ is NaN outside flagged classes."""
    best_foreign, _ = max_foreign(loglik, labels)
    log_ratio = loglik[np.arange(len(labels)), labels] - best_foreign
    sigma = np.full(len(labels), np.nan)
    for c in stats.flagged:
        members = labels == c
        sigma[members] = log_ratio[members] if stats.kind[c] == DISRUPTIVE else -log_ratio[members]
    return sigma, log_ratio


def split_and_relabel(loglik: np.ndarray, labels: np.ndarray, stats: ClassStatistics, config: SplitConfig) -> Split:
    sigma, log_ratio = poisoning_scores(loglik, labels, stats)
    _, best_other = max_foreign(loglik, labels)
    clean = [np.flatnonzero(~np.isin(labels, stats.flagged))]
    suspects, uncertain, relabeled, relabels = [], [], [], []
    for c in stats.flagged:
        members = np.flatnonzero(labels == c)
        order = members[np.argsort(-sigma[members], kind="stable")]  # most suspicious first
        n_p, n_c = int(config.alpha_p * len(members)), int(config.alpha_c * len(members))
        suspects.append(order[:n_p])
        clean.append(order[len(order) - n_c :] if n_c else order[:0])
        uncertain.append(order[n_p : len(order) - n_c])
        if stats.kind[c] != DISRUPTIVE or config.relabel_disruptive:
            relabeled.append(order[:n_p])
            relabels.append(best_other[order[:n_p]])

    def cat(parts: list[np.ndarray]) -> np.ndarray:
        return np.sort(np.concatenate(parts)) if parts else np.empty(0, dtype=np.int64)

    relabeled_idx = np.concatenate(relabeled) if relabeled else np.empty(0, dtype=np.int64)
    relabel_values = np.concatenate(relabels) if relabels else np.empty(0, dtype=np.int64)
    order = np.argsort(relabeled_idx)
    return Split(
        clean_indices=cat(clean),
        suspect_indices=cat(suspects),
        uncertain_indices=cat(uncertain),
        relabeled_indices=relabeled_idx[order],
        relabels=relabel_values[order],
        scores=sigma,
        log_ratio=log_ratio,
    )
