"""Adap-Blend and Adap-Patch: poisons, cover samples, and the train/test trigger difference."""

from __future__ import annotations

import numpy as np
import pytest

from gssd_utils.attacks import PoisonConfig, build_attack, load_truth, poison_dataset


@pytest.mark.parametrize(("attack", "cover_rate"), [("adap_blend", 0.1), ("adap_patch", 0.2)])
def test_poisons_and_covers_are_disjoint_counted_and_labelled_as_specified(tiny, attack, cover_rate):
    run = poison_dataset(tiny, PoisonConfig(attack, rate=0.05, params={"cover_rate": cover_rate}))
    poisons, covers = run.truth.poison_indices, run.truth.cover_indices
    assert len(poisons) == 10 and len(covers) == round(cover_rate * 200)
    assert not np.intersect1d(poisons, covers).size
    assert np.all(run.data.y_train[poisons] == 0)
    np.testing.assert_array_equal(run.data.y_train[covers], tiny.y_train[covers])  # covers keep their label
    changed = np.flatnonzero((run.data.x_train != tiny.x_train).any(axis=(1, 2, 3)))
    assert set(changed) <= set(poisons) | set(covers)
    assert len(changed) > 0.9 * (len(poisons) + len(covers))
    assert run.data.x_train.dtype == np.uint8 and run.x_test_triggered.dtype == np.uint8


def test_adap_blend_masks_half_of_the_pieces_per_sample_and_blends_fully_at_test(tiny):
    attack = build_attack("adap_blend", (32, 32, 3), seed=3)
    black = np.zeros((6, 32, 32, 3), np.uint8)
    train = attack.apply(black).astype(float)
    touched = (train > 0).any(axis=-1).reshape(6, 4, 8, 4, 8).any(axis=(2, 4))  # which 8x8 pieces changed
    assert np.all(touched.sum(axis=(1, 2)) <= 8) and np.all(touched.sum(axis=(1, 2)) >= 7)  # noise may be 0
    assert len({tuple(t.ravel()) for t in touched}) > 1  # a fresh mask per sample
    test = attack.apply_test(black).astype(float)
    np.testing.assert_allclose(test[0], np.rint(0.2 * attack.trigger), atol=1)
    assert attack.artifacts()["pieces_poison"].shape == (6, 16)


def test_adap_patch_splits_the_four_triggers_evenly_and_tests_two_at_full_opacity():
    attack = build_attack("adap_patch", (32, 32, 3), seed=0)
    grey = np.full((8, 32, 32, 3), 100, np.uint8)
    train = attack.apply(grey)
    regions = [(slice(27, 32), slice(27, 32)), (slice(1, 14), slice(18, 31)), (slice(0, 3), slice(0, 3)),
               (slice(21, 29), slice(21, 29))]
    for k, (rows, cols) in enumerate(regions):  # images 2k and 2k+1 carry trigger k, and only there
        for i in (2 * k, 2 * k + 1):
            assert (train[i, rows, cols] != 100).any()
            outside = train[i].copy()
            outside[rows, cols] = 100
            if k == 2:  # badnet_patch4 marks all four corners
                for r in (slice(0, 3), slice(29, 32)):
                    for c in (slice(0, 3), slice(29, 32)):
                        outside[r, c] = 100
            assert (outside == 100).all()
    test = attack.apply_test(grey)
    assert (test[:, 27:32, 0:5] == test[:, 27:32, 27:32]).all()  # phoenix at both bottom corners
    np.testing.assert_array_equal(test[0, 27:32, 27:32], attack.patterns["phoenix"][27:32, 27:32].astype(np.uint8))


def test_same_seed_same_attack_and_covers_survive_a_save(tiny, tmp_path):
    a = poison_dataset(tiny, PoisonConfig("adap_blend", rate=0.05, seed=4))
    b = poison_dataset(tiny, PoisonConfig("adap_blend", rate=0.05, seed=4))
    np.testing.assert_array_equal(a.data.x_train, b.data.x_train)
    np.testing.assert_array_equal(a.truth.cover_indices, b.truth.cover_indices)
    a.save(tmp_path)
    np.testing.assert_array_equal(load_truth(tmp_path / "truth.npz")[0].cover_indices, a.truth.cover_indices)


def test_bad_settings_are_refused_with_the_valid_range(tiny):
    with pytest.raises(ValueError, match=r"alpha_train=1.5 is out of range"):
        build_attack("adap_blend", (32, 32, 3), params={"alpha_train": 1.5})
    with pytest.raises(ValueError, match="defined for 32x32 images"):
        build_attack("adap_patch", (28, 28, 3))
    with pytest.raises(ValueError, match="lower cover_rate"):
        poison_dataset(tiny, PoisonConfig("adap_patch", rate=0.6, params={"cover_rate": 0.5}))
