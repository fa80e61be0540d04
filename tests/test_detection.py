"""Target detection, scoring, splitting and relabeling on data with known truth."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_features import gaussian_loglik, planted_features

from gssd_utils.attacks import PoisonTruth
from gssd_utils.evaluation import evaluate_split, target_separation
from gssd_utils.gssd.detection import (
    DISRUPTIVE,
    NON_DISRUPTIVE,
    ClassStatistics,
    DetectionConfig,
    detect_target_classes,
    disruptive_statistic,
)
from gssd_utils.gssd.splitting import SplitConfig, split_and_relabel


def _setup(kind, **kwargs):
    z, y, src, poison = planted_features(kind, **kwargs)
    return gaussian_loglik(z, y, 5), y, src, poison


def test_clean_set_flags_nothing():
    loglik, y, _, _ = _setup("clean")
    stats = detect_target_classes(loglik, y, DetectionConfig())
    assert stats.flagged == []
    split = split_and_relabel(loglik, y, stats, SplitConfig())
    assert len(split.clean_indices) == len(y) and len(split.suspect_indices) == 0


def test_planted_disruptive_poisoning_is_found_and_split_off():
    loglik, y, src, poison = _setup("disruptive")
    stats = detect_target_classes(loglik, y, DetectionConfig())
    assert stats.flagged == [0] and stats.kind[0] == DISRUPTIVE
    assert stats.s_d[0] > 0.05 and all(stats.s_d[1:] <= 0.05)
    split = split_and_relabel(loglik, y, stats, SplitConfig(alpha_c=0.3, alpha_p=0.15))
    report = evaluate_split(split, stats, PoisonTruth(poison, src[poison], 0), len(y))
    assert report.target_detected and report.false_positive_classes == []
    assert report.suspect_precision > 0.95
    assert report.poisons_in_clean == 0
    assert len(split.relabeled_indices) == 0  # disruptive suspects are dropped by default


def test_non_disruptive_statistic_separates_the_target():
    loglik, y, _, _ = _setup("non-disruptive", noise=0.45)
    stats = detect_target_classes(loglik, y, DetectionConfig())
    assert np.argmax(stats.s_nd) == 0  # the target's flow explains foreign samples best
    # with β_ND placed on this synthetic scale, exactly the target is flagged, as non-disruptive
    threshold = -(stats.s_nd[0] + np.sort(stats.s_nd)[-2]) / 2
    stats = detect_target_classes(loglik, y, DetectionConfig(beta_nd=threshold))
    assert stats.kind == [NON_DISRUPTIVE, None, None, None, None]


def test_non_disruptive_split_catches_poisons_and_relabels_to_their_source():
    loglik, y, src, poison = _setup("non-disruptive", noise=0.45)
    stats = ClassStatistics(s_nd=np.zeros(5), s_d=np.zeros(5), mu=np.full(5, np.nan),
                            kind=[NON_DISRUPTIVE, None, None, None, None])
    split = split_and_relabel(loglik, y, stats, SplitConfig(alpha_c=0.3, alpha_p=0.15))
    n_target = np.sum(y == 0)
    assert len(split.suspect_indices) == int(0.15 * n_target)
    assert len(split.clean_indices) == np.sum(y != 0) + int(0.3 * n_target)
    assert len(split.uncertain_indices) == n_target - int(0.15 * n_target) - int(0.3 * n_target)
    report = evaluate_split(split, stats, PoisonTruth(poison, src[poison], 0), len(y))
    assert report.suspect_precision > 0.65  # base rate: 80 poisons in 480 target-class samples
    assert report.relabel_accuracy > 0.85
    assert report.poisons_in_clean <= 2
    np.testing.assert_array_equal(split.relabeled_indices, split.suspect_indices)
    assert np.all(split.relabels != 0)


def test_splits_partition_the_training_set():
    loglik, y, _, _ = _setup("disruptive")
    stats = detect_target_classes(loglik, y, DetectionConfig())
    split = split_and_relabel(loglik, y, stats, SplitConfig())
    parts = np.concatenate([split.clean_indices, split.suspect_indices, split.uncertain_indices])
    np.testing.assert_array_equal(np.sort(parts), np.arange(len(y)))


def test_relabel_disruptive_option_applies_eq7_literally():
    loglik, y, _, _ = _setup("disruptive")
    stats = detect_target_classes(loglik, y, DetectionConfig())
    split = split_and_relabel(loglik, y, stats, SplitConfig(relabel_disruptive=True))
    np.testing.assert_array_equal(split.relabeled_indices, split.suspect_indices)


def test_histogram_rule_needs_a_valley_left_of_lambda():
    config = DetectionConfig(lam=0.75, beta_d=0.05)
    rng = np.random.default_rng(0)
    bimodal = np.concatenate([rng.uniform(0.0, 0.05, 100), rng.normal(0.9, 0.05, 900)])
    s_d, mu, flagged, _ = disruptive_statistic(bimodal, config)
    assert flagged and 0.09 <= s_d <= 0.11 and mu < 0.75
    unimodal = rng.normal(0.9, 0.1, 1000)
    assert not disruptive_statistic(unimodal, config)[2]
    assert not disruptive_statistic(rng.uniform(0.8, 1.0, 500), config)[2]  # nothing left of λ


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"beta_d": 1.5}, "beta_d=1.5 is out of range"),
    ({"beta_nd": -1}, "beta_nd=-1 must be positive"),
    ({"lam": 0}, "lam=0 is out of range"),
])
def test_detection_config_ranges(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DetectionConfig(**kwargs)


def test_split_config_ranges():
    with pytest.raises(ValueError, match=r"alpha_p=0.7 is out of range.*\(0, 0.5\]"):
        SplitConfig(alpha_p=0.7)


def test_non_finite_likelihoods_are_refused():
    loglik, y, _, _ = _setup("clean")
    loglik[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"non-finite log-likelihoods.*samples \[3\]"):
        detect_target_classes(loglik, y, DetectionConfig())


def test_a_class_with_too_few_samples_is_refused():
    loglik = np.zeros((5, 3))
    with pytest.raises(ValueError, match="at least 2 samples"):
        detect_target_classes(loglik, np.array([0, 0, 1, 1, 2]), DetectionConfig())


def test_target_separation_ranks_disruptive_poisons_by_their_missing_foreign_density():
    loglik, y, _, poison = _setup("disruptive")
    truth = PoisonTruth(poison, np.ones(len(poison), dtype=np.int64), target=0)
    separation = target_separation(loglik, y, truth)
    assert separation["auroc_foreign"] < 0.1  # far off every other class
    assert separation["auroc_ratio"] > 0.9


def test_target_separation_needs_clean_and_poisoned_members():
    loglik, y, _, _ = _setup("clean")
    truth = PoisonTruth(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), target=0)
    with pytest.raises(ValueError, match="needs both poisoned and clean"):
        target_separation(loglik, y, truth)


# ---- the calibrated rule -------------------------------------------------------------------------------------

CALIBRATED = DetectionConfig(rule="calibrated")


def _setup10(kind, **kwargs):
    z, y, src, poison = planted_features(kind, num_classes=10, per_class=300, n_poison=150, simplex=True, **kwargs)
    return gaussian_loglik(z, y, 10), y, src, poison


def test_calibrated_rule_keeps_about_its_false_alarm_level_on_clean_sets():
    flagged = [detect_target_classes(*_setup10("clean", seed=seed)[:2], CALIBRATED) for seed in range(60)]
    assert all(stats.rule == "calibrated" for stats in flagged)
    assert not any(kind == DISRUPTIVE for stats in flagged for kind in stats.kind)
    assert np.mean([bool(stats.flagged) for stats in flagged]) <= 0.12  # α = 0.05 over the ten classes


def test_calibrated_rule_finds_a_non_disruptive_target_without_a_threshold_on_the_likelihood_scale():
    loglik, y, _, _ = _setup10("non-disruptive", noise=0.45)
    stats = detect_target_classes(loglik, y, CALIBRATED)
    assert stats.kind == [NON_DISRUPTIVE] + [None] * 9
    assert stats.nd_score[0] > stats.nd_threshold > np.delete(stats.nd_score, 0).max()
    # the same log-likelihoods shifted and scaled (another dimension, another flow): the same decision
    shifted = detect_target_classes(3.0 * loglik - 7.0, y, CALIBRATED)
    assert shifted.kind == stats.kind


def test_calibrated_rule_finds_a_disruptive_target():
    loglik, y, _, poison = _setup10("disruptive")
    stats = detect_target_classes(loglik, y, CALIBRATED)
    assert stats.flagged == [0] and stats.kind[0] == DISRUPTIVE
    share = len(poison) / np.sum(y == 0)
    assert abs(stats.s_d[0] - share) < 0.05


def test_the_outlier_test_keeps_its_false_alarm_level_on_exchangeable_classes():
    from gssd_utils.gssd.detection import outlier_scores

    rng = np.random.default_rng(0)
    level = 0.05 / 10
    alarms = np.mean([outlier_scores(rng.normal(size=10))[1].min() < level for _ in range(4000)])
    assert 0.035 < alarms < 0.065  # family-wise over the ten classes: 0.05


def test_valley_test_needs_a_real_low_mode_on_both_sides_of_a_valley():
    from gssd_utils.gssd.detection import valley_test

    rng = np.random.default_rng(0)
    bimodal = np.concatenate([rng.normal(-3.0, 0.2, 500), rng.normal(-1.0, 0.3, 4500)])
    s_d, mu, p, _ = valley_test(bimodal, lam_u=-0.8, config=CALIBRATED, tests=10)
    assert p < 1e-6 and abs(s_d - 0.1) < 0.01 and -3.0 < mu < -1.0
    # one mode with a sparse right tail: the paper rule's degenerate case (nearly the whole class left of a "valley")
    skewed = np.concatenate([rng.normal(-1.0, 0.3, 5000), rng.uniform(0.0, 2.0, 20)])
    assert valley_test(skewed, lam_u=10.0, config=CALIBRATED, tests=10)[2] >= CALIBRATED.false_alarm
    # the low mode must lie below λ, which is where the other classes' samples still are
    assert valley_test(bimodal, lam_u=-3.5, config=CALIBRATED, tests=10)[2] == 1.0


def test_calibrated_rule_needs_four_classes():
    loglik, y, _, _ = _setup("clean")
    with pytest.raises(ValueError, match=r"at least 4 classes.*detection.rule=paper"):
        detect_target_classes(loglik[:, :3], np.minimum(y, 2), CALIBRATED)
