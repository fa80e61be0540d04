"""Synthetic self-supervised-like features with planted poisoning, shared by the GSSD tests.

Features are low-rank class clusters plus isotropic noise, standardized per dimension like the real ones:
per-class densities of such data reach the per-dimension likelihood scale the default thresholds assume.
"""

from __future__ import annotations

import numpy as np


def planted_features(kind: str, seed: int = 0, num_classes: int = 5, dim: int = 32, rank: int = 4,
                     per_class: int = 400, n_poison: int = 80, noise: float = 0.6, simplex: bool = False):
    """(z, observed labels, source labels, poison indices); ``kind`` is 'clean', 'non-disruptive' or 'disruptive'.

    Non-disruptive poisons are drawn from other classes' clusters but labelled 0; disruptive poisons form a
    far-off cluster labelled 0. Class means are random in a ``rank``-dimensional space, or with ``simplex`` the
    corners of a regular simplex (rank = the number of classes), so that no class lies between the others.
    """
    rng = np.random.default_rng(seed)
    rank = num_classes if simplex else rank
    lift = rng.normal(size=(rank, dim))
    means = 1.5 * np.eye(num_classes) if simplex else rng.normal(0, 1.0, (num_classes, rank))
    u = np.concatenate([means[c] + 0.6 * rng.normal(size=(per_class, rank)) for c in range(num_classes)])
    observed = np.repeat(np.arange(num_classes), per_class)
    source = observed.copy()
    poison = np.empty(0, dtype=np.int64)
    if kind != "clean":
        src = rng.integers(1, num_classes, n_poison)
        if kind == "non-disruptive":
            pu = means[src] + 0.6 * rng.normal(size=(n_poison, rank))
        else:
            pu = 4.0 + 0.3 * rng.normal(size=(n_poison, rank))
        poison = np.arange(len(u), len(u) + n_poison)
        u = np.concatenate([u, pu])
        observed = np.concatenate([observed, np.zeros(n_poison, dtype=np.int64)])
        source = np.concatenate([source, src])
    z = u @ lift + noise * rng.normal(size=(len(u), dim))
    return ((z - z.mean(0)) / z.std(0)).astype(np.float32), observed, source, poison


def gaussian_loglik(z: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Per-dimension log-likelihoods under one full-covariance Gaussian per observed class: an exact density
    model, so the detection tests do not depend on flow training."""
    dim = z.shape[1]
    out = np.empty((len(z), num_classes))
    for c in range(num_classes):
        x = z[labels == c].astype(np.float64)
        chol = np.linalg.cholesky(np.cov(x.T) + 1e-4 * np.eye(dim))
        dev = np.linalg.solve(chol, (z - x.mean(0)).T)
        out[:, c] = (-0.5 * (dev**2).sum(0) - np.log(np.diag(chol)).sum() - 0.5 * dim * np.log(2 * np.pi)) / dim
    return out
