"""Poisoning counts, label semantics, determinism and the registry's errors."""

from __future__ import annotations

import numpy as np
import pytest

from gssd_utils.atomic_io import load_npz
from gssd_utils.attacks import (
    PoisonConfig,
    attack_names,
    build_attack,
    get_attack_class,
    load_truth,
    poison_count,
    poison_dataset,
)


def test_registry_lists_the_four_attacks():
    assert {"badnets", "blend", "wanet", "chessboard"} <= set(attack_names())


def test_unknown_attack_lists_the_valid_choices():
    with pytest.raises(ValueError, match=r"unknown attack 'badnet'.*badnets, blend"):
        build_attack("badnet", (32, 32, 3))


@pytest.mark.parametrize(("name", "params", "match"), [
    ("blend", {"alpha": 1.5}, r"alpha=1.5 is out of range"),
    ("wanet", {"k": 1}, r"k=1 is out of range"),
    ("chessboard", {"parity": 2}, r"parity=2"),
    ("badnets", {"variant": "huge"}, r"valid choices: gssd, corner3x3"),
    ("badnets", {"size": 3}, r"no parameter size; valid parameters: variant"),
])
def test_bad_parameters_are_named(name, params, match):
    with pytest.raises(ValueError, match=match):
        build_attack(name, (32, 32, 3), params=params)


def test_rate_counts_against_the_whole_set_by_default():
    labels = np.repeat(np.arange(10), 5000)
    assert poison_count(labels, 0.1, 0, "all") == 5000
    assert poison_count(labels, 0.1, 0, "non_target") == 4500  # the official code's count


@pytest.mark.parametrize("rate", [0.0, 1.0, -0.1, 1.5])
def test_out_of_range_rate_is_an_error(rate):
    with pytest.raises(ValueError, match="out of range"):
        poison_count(np.arange(100) % 10, rate, 0, "all")


def test_rate_larger_than_the_non_target_pool_is_refused():
    with pytest.raises(ValueError, match="only 10 non-target"):
        poison_count(np.array([0] * 90 + [1] * 10), 0.5, 0, "all")


def test_poisoned_samples_are_non_target_relabeled_and_triggered(tiny):
    run = poison_dataset(tiny, PoisonConfig("badnets", rate=0.1, target=3, seed=0))
    idx = run.truth.poison_indices
    assert len(idx) == 20
    assert np.all(tiny.y_train[idx] != 3)
    assert np.all(run.data.y_train[idx] == 3)
    np.testing.assert_array_equal(run.truth.original_labels, tiny.y_train[idx])
    untouched = np.setdiff1d(np.arange(len(tiny.y_train)), idx)
    np.testing.assert_array_equal(run.data.x_train[untouched], tiny.x_train[untouched])
    np.testing.assert_array_equal(run.data.y_train[untouched], tiny.y_train[untouched])
    assert np.all(np.any(run.data.x_train[idx] != tiny.x_train[idx], axis=(1, 2, 3)))
    # test time: every non-target test image triggered, none of the target class
    assert len(run.x_test_triggered) == np.sum(tiny.y_test != 3)
    assert np.all(run.y_test_triggered_source != 3)
    np.testing.assert_array_equal(run.data.x_test, tiny.x_test)


def test_same_config_gives_identical_indices_and_images(tiny):
    cfg = PoisonConfig("wanet", rate=0.1, seed=7)
    a, b = poison_dataset(tiny, cfg), poison_dataset(tiny, cfg)
    np.testing.assert_array_equal(a.truth.poison_indices, b.truth.poison_indices)
    np.testing.assert_array_equal(a.data.x_train, b.data.x_train)
    c = poison_dataset(tiny, PoisonConfig("wanet", rate=0.1, seed=8))
    assert not np.array_equal(a.truth.poison_indices, c.truth.poison_indices)


def test_attacks_with_one_seed_share_poison_indices(tiny):
    a = poison_dataset(tiny, PoisonConfig("badnets", rate=0.1, seed=1))
    b = poison_dataset(tiny, PoisonConfig("blend", rate=0.1, seed=1))
    np.testing.assert_array_equal(a.truth.poison_indices, b.truth.poison_indices)


def test_target_out_of_range(tiny):
    with pytest.raises(ValueError, match=r"target class 10 is out of range.*0\.\.9"):
        poison_dataset(tiny, PoisonConfig("badnets", target=10))


def test_save_keeps_ground_truth_out_of_the_data_file(tiny, tmp_path):
    run = poison_dataset(tiny, PoisonConfig("wanet", rate=0.1))
    run.save(tmp_path)
    data = load_npz(tmp_path / "data.npz")
    assert set(data) == {"x_train", "y_train", "x_test", "y_test", "x_test_triggered"}
    np.testing.assert_array_equal(data["x_train"], run.data.x_train)
    truth, _ = load_truth(tmp_path / "truth.npz")
    np.testing.assert_array_equal(truth.poison_indices, run.truth.poison_indices)
    assert truth.target == 0
    trigger = load_npz(tmp_path / "trigger.npz")
    np.testing.assert_array_equal(trigger["grid"], run.attack.artifacts()["grid"])


def test_default_rates_follow_the_papers(tiny):
    assert PoisonConfig("badnets").resolved_rate() == 0.10
    assert PoisonConfig("chessboard").resolved_rate() == 0.02


def test_every_attack_defaults_to_the_rate_its_paper_numbers_come_from():
    from gssd_utils import paper_reference

    attacks = [a for a in attack_names() if get_attack_class(a).poisons]  # all but the clean-data control
    assert {a: PoisonConfig(a).resolved_rate() for a in attacks} == paper_reference.PAPER_RATE
    assert paper_reference.published("none", "lc", 0.025)[:2] == (94.9, 99.33)
    assert paper_reference.published("none", "lc", 0.05) == (None, None, "")
    assert paper_reference.published("gssd", "chessboard", 0.02) == (None, None, "")
    assert paper_reference.published("none", "chessboard", 0.02) == (94.14, 99.9, "Wang et al. Tab. 2")


def test_the_224px_data_sets_have_their_own_paper_rows():
    from gssd_utils import paper_reference

    assert paper_reference.published("gssd", "badnets", 0.1, "imagenet30") == (94.8, 0.0, "GSSD Tab. 1 (ImageNet-30)")
    assert paper_reference.published("nad", "wanet", 0.1, "vggface2_30")[:2] == (50.4, 4.20)
    assert paper_reference.published("gssd", "badnets", 0.05, "imagenet30") == (None, None, "")
    assert paper_reference.published("knn", "wanet", 0.1, "imagenet30") == (None, None, "")  # Wang et al.: CIFAR only
    assert paper_reference.published("gssd", "lc", 0.025, "vggface2_30") == (None, None, "")  # not run there
    assert paper_reference.published("gssd", "badnets", 0.1, "runs/mine.npz") == (None, None, "")  # a user's data


def test_the_clean_control_leaves_the_training_set_as_it_is(tiny):
    poisoned = poison_dataset(tiny, PoisonConfig("clean"), progress=False)
    assert poisoned.config.resolved_rate() == 0 and len(poisoned.truth.poison_indices) == 0
    np.testing.assert_array_equal(poisoned.data.x_train, tiny.x_train)
    np.testing.assert_array_equal(poisoned.data.y_train, tiny.y_train)
    with pytest.raises(ValueError, match="poisons nothing; leave the rate out"):
        poison_dataset(tiny, PoisonConfig("clean", rate=0.1), progress=False)
