"""LC and ISSBA: triggers that rest on models trained here (a PGD surrogate, a steganographic encoder)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from gssd_utils.attacks import PoisonConfig, PoisonTruth, build_attack, poison_dataset
from gssd_utils.attacks.issba import psnr
from gssd_utils.evaluation import evaluate_removal, evaluate_split
from gssd_utils.gssd.detection import ClassStatistics
from gssd_utils.gssd.splitting import Split
from gssd_utils.profiles import get_profile

TINY_LC = {"surrogate_arch": "small_cnn", "surrogate_width": 4, "surrogate_epochs": 1, "steps": 5}
TINY_ISSBA = {"width": 4, "epochs": 2, "batch_size": 50, "warmup_epochs": 1}


def test_lc_poisons_target_images_keeps_labels_and_stays_in_the_pgd_budget(tiny):
    run = poison_dataset(tiny, PoisonConfig("lc", rate=0.05, target=2, params=TINY_LC), progress=False)
    poisons = run.truth.poison_indices
    assert len(poisons) == 10 and np.all(tiny.y_train[poisons] == 2)
    np.testing.assert_array_equal(run.data.y_train, tiny.y_train)  # label-consistent: no label changes
    np.testing.assert_array_equal(run.truth.original_labels, 2)
    changed = np.flatnonzero((run.data.x_train != tiny.x_train).any(axis=(1, 2, 3)))
    assert set(changed) == set(poisons)
    delta = run.data.x_train[poisons].astype(int) - tiny.x_train[poisons].astype(int)
    inside = np.ones((32, 32), bool)
    inside[:3, :3] = inside[:3, -3:] = inside[-3:, :3] = inside[-3:, -3:] = False
    assert 0 < np.abs(delta[:, inside]).max() <= 16  # perturbed, within eps 16/255 away from the corners
    grid = np.array([[0, 255, 0], [255, 0, 255], [0, 255, 0]])
    for rows in (slice(0, 3), slice(29, 32)):
        for cols in (slice(0, 3), slice(29, 32)):
            assert (run.data.x_train[poisons][:, rows, cols] == grid[None, :, :, None]).all()
    diagnostics = run.data.info["poisoning"]
    assert diagnostics["label_consistent"] and diagnostics["pgd_linf"] <= 16
    assert 0.0 <= diagnostics["surrogate_fooled"] <= 1.0


def test_lc_tests_with_the_trigger_alone_and_is_repeatable(tiny):
    a = poison_dataset(tiny, PoisonConfig("lc", rate=0.05, params=TINY_LC), progress=False)
    b = poison_dataset(tiny, PoisonConfig("lc", rate=0.05, params=TINY_LC), progress=False)
    np.testing.assert_array_equal(a.data.x_train, b.data.x_train)  # cached surrogate, deterministic PGD
    np.testing.assert_array_equal(a.x_test_triggered[:, 3:29, 3:29], tiny.x_test[tiny.y_test != 0][:, 3:29, 3:29])


def test_lc_refuses_more_poisons_than_target_images_and_apply_before_fit(tiny):
    with pytest.raises(ValueError, match="only 20 target-class images"):
        poison_dataset(tiny, PoisonConfig("lc", rate=0.2, params=TINY_LC), progress=False)
    with pytest.raises(RuntimeError, match="call fit"):
        build_attack("lc", (32, 32, 3)).apply(tiny.x_train[:2])
    with pytest.raises(ValueError, match="surrogate_arch"):
        build_attack("lc", (32, 32, 3), params={"surrogate_arch": "vgg"})


def test_issba_residuals_are_sample_specific_small_and_carry_one_secret(tiny):
    run = poison_dataset(tiny, PoisonConfig("issba", rate=0.1, params=TINY_ISSBA), progress=False)
    poisons = run.truth.poison_indices
    assert len(poisons) == 20 and np.all(run.data.y_train[poisons] == 0)
    residual = run.data.x_train[poisons].astype(int) - tiny.x_train[poisons].astype(int)
    assert np.abs(residual).sum() > 0
    assert not np.all(residual == residual[:1])  # the trigger differs per image
    info = run.data.info["poisoning"]
    assert 0.0 <= info["bit_accuracy"] <= 1.0 and info["psnr_db"] > 0
    assert run.attack.artifacts()["secret"].shape == (20,)
    assert set(np.unique(run.attack.artifacts()["secret"])) <= {0, 1}


def test_issba_encoder_is_cached_and_poisoning_is_repeatable(tiny, tmp_path):
    a = poison_dataset(tiny, PoisonConfig("issba", rate=0.1, seed=1, params=TINY_ISSBA), progress=False)
    entries = list((tmp_path / "cache" / "issba").iterdir())
    stamp = entries[0].stat().st_mtime_ns
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an unreadable cache entry warns and retrains
        b = poison_dataset(tiny, PoisonConfig("issba", rate=0.1, seed=1, params=TINY_ISSBA), progress=False)
    assert len(entries) == 1 and entries[0].stat().st_mtime_ns == stamp  # loaded, not trained again
    np.testing.assert_array_equal(a.data.x_train, b.data.x_train)
    assert a.attack.history == b.attack.history
    assert not np.array_equal(build_attack("issba", (32, 32, 3), seed=2).secret, a.attack.secret)


def test_issba_learns_the_secret_on_digits(digits):
    """The warm-up on the secret loss alone must get the decoder reading bits, or the encoder is only noise."""
    params = {"width": 8, "epochs": 3, "batch_size": 16, "lr": 1e-3, "warmup_epochs": 3}
    attack = build_attack("issba", digits.image_shape, seed=0, params=params)
    attack.fit(digits.x_train, digits.y_train, target=0, progress=False)
    attack.apply(digits.x_train[:200])
    assert attack.diagnostics()["bit_accuracy"] > 0.9


def test_issba_rejects_images_it_cannot_encode_and_bad_settings():
    with pytest.raises(ValueError, match="side divisible by 16"):
        build_attack("issba", (30, 30, 3))
    with pytest.raises(ValueError, match="warmup_epochs"):
        build_attack("issba", (32, 32, 3), params={"epochs": 2, "warmup_epochs": 3})


def test_psnr_of_identical_and_shifted_images():
    clean = np.full((2, 4, 4, 3), 100, np.uint8)
    assert psnr(clean, clean) == pytest.approx(100.0)
    assert psnr(clean, clean + 1) == pytest.approx(10 * np.log10(255.0**2), rel=1e-6)


def test_relabel_accuracy_is_not_scored_for_label_consistent_poisons():
    """LC poisons already carry their true label; sending them to another class is the cure, not an error."""
    stats = ClassStatistics(s_nd=np.zeros(3), s_d=np.zeros(3), mu=np.full(3, np.nan),
                            kind=["non-disruptive", None, None])
    split = Split(clean_indices=np.array([2, 3]), suspect_indices=np.array([0, 1]), uncertain_indices=np.array([]),
                  relabeled_indices=np.array([0, 1]), relabels=np.array([1, 2]), scores=np.zeros(4),
                  log_ratio=np.zeros(4))
    consistent = PoisonTruth(np.array([0, 1]), np.array([0, 0]), target=0)
    assert evaluate_split(split, stats, consistent, 4).relabel_accuracy is None
    dirty = PoisonTruth(np.array([0, 1]), np.array([1, 1]), target=0)
    assert evaluate_split(split, stats, dirty, 4).relabel_accuracy == 0.5
    # the one rule, whatever the defense: a cleansing that relabels the same samples scores the same
    assert evaluate_removal(np.array([0, 1]), np.array([0, 1]), np.array([1, 2]), dirty, 4).relabel_accuracy == 0.5
    assert evaluate_removal(np.array([0, 1]), np.array([0, 1]), np.array([1, 2]), consistent, 4).relabel_accuracy \
        is None


def test_profiles_size_the_learned_attacks_and_leave_the_others_alone():
    assert get_profile("quick").poison_config("lc").params["surrogate_arch"] == "small_cnn"
    assert get_profile("paper").poison_config("issba").params == {}  # the paper profile takes the defaults
    assert get_profile("quick").poison_config("badnets", 0.05) == PoisonConfig("badnets", rate=0.05)
