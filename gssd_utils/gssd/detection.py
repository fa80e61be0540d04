"""Target-class detection from per-class densities (GSSD §4.4, Eqs. 2-4).

Input: the (N, C) matrix of per-dimension log-likelihoods ℓ_k(z_i) = log p_k(z_i) / D of every training
feature under every class flow, and the observed labels. Never the ground truth.

Resolutions of paper vs. official code (see also the book's "GSSD core" chapter):
- Scale: everything is per dimension, as in the official code; β_ND = 0.6 and λ = 0.75 are calibrated there.
- S_ND (Eq. 2): the paper flags "S_ND exceeds β_ND" with S_ND a mean log-density; the code flags
  "mean foreign NLL/dim < β_ND". We implement S_ND > −β_ND, i.e. β_ND is read as an NLL per dimension.
- S_D (Eq. 4): the paper's closing "less than β_D" contradicts its own reading of β_D as the minimum
  poisoned fraction; we flag S_D > β_D, as the code does.
- μ_y (the histogram minimum left of λ): the code's semantics, guards included. v is binned in 30 equal
  bins over [min v, max v]; only bins lying entirely left of λ are searched; the class is flagged only if
  the minimum is not the first bin and the mass left of it is at least twice the minimum bin's count.
  The guards encode the bimodality of the paper's Fig. 2; ``histogram_guards=False`` drops them.
- Order: the disruptive test runs first; the non-disruptive test only on classes it did not flag, so a
  class both tests would flag counts as disruptive.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DISRUPTIVE = "disruptive"
NON_DISRUPTIVE = "non-disruptive"


@dataclass(frozen=True)
class DetectionConfig:
    beta_nd: float = 0.6
    beta_d: float = 0.05
    lam: float = 0.75
    bins: int = 30
    histogram_guards: bool = True

    def __post_init__(self) -> None:
        if not 0.0 < self.beta_d < 1.0:
            raise ValueError(f"beta_d={self.beta_d} is out of range; it is a fraction of a class, in (0, 1)")
        if not self.beta_nd > 0:
            raise ValueError(f"beta_nd={self.beta_nd} must be positive: it is a negative log-likelihood per dimension")
        if not 0.0 < self.lam <= 1.0:
            raise ValueError(f"lam={self.lam} is out of range; it is a per-dimension density in (0, 1]")
        if self.bins < 3:
            raise ValueError(f"bins={self.bins} must be at least 3 for a histogram minimum to mean anything")


@dataclass
class ClassStatistics:
    """Per-class detection statistics; arrays of length C."""

    s_nd: np.ndarray  # mean per-dim log-likelihood of foreign samples under the class's flow (Eq. 2)
    s_d: np.ndarray  # fraction of the class left of the histogram minimum (Eq. 4); 0 where no minimum
    mu: np.ndarray  # the histogram minimum's left edge; NaN where none was found
    kind: list[str | None]  # DISRUPTIVE, NON_DISRUPTIVE or None per class
    v_histograms: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # class -> (counts, edges)

    @property
    def flagged(self) -> list[int]:
        return [c for c, kind in enumerate(self.kind) if kind is not None]


def check_loglik(loglik: np.ndarray, labels: np.ndarray) -> None:
    """Refuse non-finite likelihoods and classes too small to score, naming the fix."""
    if loglik.ndim != 2 or len(loglik) != len(labels):
        raise ValueError(f"log-likelihoods must be (N, C) with one row per label, got {loglik.shape} for {len(labels)}")
    bad = ~np.isfinite(loglik)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise ValueError(f"{bad.sum()} non-finite log-likelihoods (samples {rows[:5].tolist()}...): a flow diverged "
                         "or the features hold NaN/inf. Fix: check the features, lower the flow learning rate.")
    counts = np.bincount(labels, minlength=loglik.shape[1])
    if loglik.shape[1] < 2 or (counts < 2).any():
        raise ValueError(f"every class needs at least 2 samples and there must be at least 2 classes; counts {counts}")


def max_foreign(loglik: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """max_{k != y_i} ℓ_k(z_i) and its argmax, for every sample."""
    masked = loglik.copy()
    masked[np.arange(len(labels)), labels] = -np.inf
    best = masked.argmax(axis=1)
    return masked[np.arange(len(labels)), best], best


def disruptive_statistic(v: np.ndarray, config: DetectionConfig) -> tuple[float, float, bool, tuple]:
    """(S_D, μ, flagged, (counts, edges)) for one class's maximum foreign densities v (Eq. 3)."""
    counts, edges = np.histogram(v, bins=config.bins, range=(v.min(), v.max()))
    below = int(np.sum(edges < config.lam))
    if below <= 1:  # no whole bin lies left of λ
        return 0.0, float("nan"), False, (counts, edges)
    m = int(np.argmin(counts[: below - 1]))
    left = int(counts[:m].sum())
    s_d = left / len(v)
    flagged = s_d > config.beta_d
    if config.histogram_guards:
        flagged = flagged and m != 0 and left >= 2 * counts[m]
    return s_d, float(edges[m]), bool(flagged), (counts, edges)


def detect_target_classes(loglik: np.ndarray, labels: np.ndarray, config: DetectionConfig) -> ClassStatistics:
    check_loglik(loglik, labels)
    num_classes = loglik.shape[1]
    foreign_best, _ = max_foreign(loglik, labels)
    v = np.exp(foreign_best)
    s_nd = np.array([loglik[labels != c, c].mean() for c in range(num_classes)])
    stats = ClassStatistics(s_nd=s_nd, s_d=np.zeros(num_classes), mu=np.full(num_classes, np.nan),
                            kind=[None] * num_classes)
    for c in range(num_classes):
        s_d, mu, disruptive, hist = disruptive_statistic(v[labels == c], config)
        stats.s_d[c], stats.mu[c] = s_d, mu
        stats.v_histograms[c] = hist
        if disruptive:
            stats.kind[c] = DISRUPTIVE
        elif s_nd[c] > -config.beta_nd:
            stats.kind[c] = NON_DISRUPTIVE
    return stats
