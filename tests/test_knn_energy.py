"""The kNN/energy cleansing of Wang et al. on features with planted mislabeled samples."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_features import planted_features

from gssd_utils.defenses.configs import KnnEnergyConfig
from gssd_utils.defenses.knn_energy import cleanse, energy_scores, knn_predict


def _mislabeled_clusters(seed=0, num_classes=5, per_class=300, n_poison=60, dim=16):
    """Separated Gaussian classes; the poisons come from classes 1.. but carry label 0."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1.0, (num_classes, dim))
    source = np.concatenate([np.repeat(np.arange(num_classes), per_class), rng.integers(1, num_classes, n_poison)])
    z = centres[source] + rng.normal(size=(len(source), dim))
    labels = source.copy()
    labels[-n_poison:] = 0
    return z.astype(np.float32), labels, source, np.arange(len(source) - n_poison, len(source))


def test_energy_scores_match_equation_6_computed_naively():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(12, 5)).astype(np.float32)
    y = np.array([0, 1, 2] * 4)
    zn = z / np.linalg.norm(z, axis=1, keepdims=True)
    expected = np.empty((12, 3))
    for i in range(12):
        others = np.array([k for k in range(12) if k != i])
        weights = np.exp(zn[i] @ zn[others].T / 0.5)
        weights /= weights.sum()
        for c in range(3):
            expected[i, c] = np.log(weights[y[others] == c].mean())
    np.testing.assert_allclose(energy_scores(z, y, 0.5, chunk=5), expected, rtol=1e-4, atol=1e-5)


def test_knn_excludes_the_sample_itself_and_votes_by_plurality():
    z = np.array([[1, 0], [1, 0.01], [1, -0.01], [0, 1], [0.01, 1]], dtype=np.float32)
    y = np.array([0, 0, 1, 1, 1])
    pred, conf = knn_predict(z, y, k=2)
    assert pred[2] == 0 and conf[2] == 1.0  # its two nearest others are both labelled 0
    assert pred[0] in (0, 1) and conf[0] == 0.5


@pytest.mark.parametrize("method", ["knn", "energy"])
def test_mislabeled_samples_are_rejected_and_most_relabeled_to_their_source(method):
    z, y, source, poison = _mislabeled_clusters()
    result = cleanse(z, y, method, KnnEnergyConfig())
    removed = np.setdiff1d(np.arange(len(y)), result.accepted_indices)
    assert np.isin(poison, removed).mean() > 0.9
    assert len(removed) < 0.1 * len(y)  # most clean samples are kept
    relabeled_poisons = np.isin(result.relabeled_indices, poison)
    # only rejections more confident than 80% of the accepted samples are relabeled: a few, nearly all poisons
    assert relabeled_poisons.sum() >= 3 and relabeled_poisons.mean() > 0.9
    assert (result.relabels[relabeled_poisons] == source[result.relabeled_indices[relabeled_poisons]]).mean() > 0.9
    kept = result.kept_indices
    assert np.all(np.diff(kept) > 0) and len(result.kept_labels(y)) == len(kept)


def test_bad_inputs_are_refused_with_the_problem_named():
    z, y, _, _ = planted_features("clean")
    with pytest.raises(ValueError, match="unknown cleansing method"):
        cleanse(z, y, "lof", KnnEnergyConfig())
    with pytest.raises(ValueError, match="relabel_percentile"):
        KnnEnergyConfig(relabel_percentile=120)
    z[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        cleanse(z, y, "knn", KnnEnergyConfig())
    with pytest.raises(ValueError, match="at least 2 samples"):
        cleanse(np.ones((3, 2), np.float32), np.array([0, 1, 1]), "energy", KnnEnergyConfig())
