"""The run as the unit: seeds with one meaning each, artifacts the run owns, no ground truth for the defenses."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from gssd_utils.defenses.base import DefenseInput
from gssd_utils.experiments.features import dbd_first_split, generative_accuracy, knn_health
from gssd_utils.experiments.runs import AttackRun
from gssd_utils.profiles import apply_settings, get_profile
from gssd_utils.provenance import measure

TINY = ["ssl.epochs=2", "flows.epochs=2", "classifier.epochs=2"]


def _profile(train_seed=0):
    return apply_settings(get_profile("smoke"), TINY).with_train_seed(train_seed)


def test_seeds_have_one_meaning_each(digits):
    a = AttackRun(_profile(), "badnets", poison_seed=0, data=digits, progress=False)
    b = AttackRun(_profile(train_seed=3), "badnets", poison_seed=0, data=digits, progress=False)
    c = AttackRun(_profile(), "badnets", poison_seed=1, data=digits, progress=False)
    # the poisoning seed alone picks the poisoned images; the training seed leaves them alone
    np.testing.assert_array_equal(a.truth.poison_indices, b.truth.poison_indices)
    assert not np.array_equal(a.truth.poison_indices, c.truth.poison_indices)
    # the training seed shifts every trained model's seed, and nothing else
    pa, pb = a.profile, b.profile
    assert (pb.classifier.seed, pb.ssl.seed, pb.flows.seed) == (pa.classifier.seed + 3, pa.ssl.seed + 3,
                                                                    pa.flows.seed + 3)
    assert dataclasses.replace(pb.classifier, seed=pa.classifier.seed) == pa.classifier
    assert pb.defense_config("dbd").ssl == pb.ssl


def test_a_simclr_setting_moves_dbd_with_gssd_unless_dbd_has_its_own():
    profile = apply_settings(get_profile("smoke"), ["ssl.epochs=2"])
    assert profile.defense_config("dbd").ssl == profile.ssl  # one SimCLR run serves both
    tau = apply_settings(get_profile("smoke"), ["ssl.temperature=0.35"])
    assert tau.defense_config("knn").ssl == tau.ssl and tau.defense_config("knn").temperature == 0.35
    own = apply_settings(get_profile("smoke"), ["defenses.dbd.ssl.epochs=7", "ssl.epochs=2"])
    assert (own.defense_config("dbd").ssl.epochs, own.ssl.epochs) == (7, 2)


def test_a_training_seed_shifts_a_defenses_own_simclr_recipe_and_keeps_the_shared_one_shared():
    shared = get_profile("smoke").with_train_seed(3)
    assert shared.ssl.seed == get_profile("smoke").ssl.seed + 3
    assert shared.defense_config("dbd").ssl == shared.ssl  # still one SimCLR run for GSSD and DBD
    own = apply_settings(get_profile("smoke"), ["defenses.dbd.ssl.epochs=7"])
    reseeded = own.with_train_seed(3).defense_config("dbd").ssl
    assert (reseeded.epochs, reseeded.seed) == (7, own.defense_config("dbd").ssl.seed + 3)


@pytest.mark.slow
def test_a_run_with_a_training_seed_reuses_its_own_models(digits, monkeypatch):
    """The renovation's seed bug: a notebook's analysis built its own config with the seed, the run used another,
    so the SimCLR checkpoint was opened under a different key and trained again over the same file."""
    from gssd_utils.ssl.simclr import SimCLR

    run = AttackRun(_profile(train_seed=1), "badnets", data=digits, progress=False)
    with measure() as first:
        run.gssd()
    assert first.cache == "computed"

    def no_training(*_args):
        pytest.fail("SimCLR was trained again")

    monkeypatch.setattr(SimCLR, "forward", no_training)  # training calls it; feature extraction does not
    with measure() as model:
        run.ssl_model()
    assert model.cache == "cached"
    knn_health(run)  # the chapters' analyses read the run's own models
    generative_accuracy(run)
    monkeypatch.undo()
    # and a run with the same seeds in a new process-state reproduces the split exactly
    again = AttackRun(_profile(train_seed=1), "badnets", data=digits, progress=False).gssd()
    np.testing.assert_array_equal(again.split.clean_indices, run.gssd().split.clean_indices)


def test_a_defense_sees_no_ground_truth_and_the_reserve_only_when_it_uses_clean_data(digits):
    profile = dataclasses.replace(_profile(), clean_reserve=0.1)
    run = AttackRun(profile, "badnets", data=digits, progress=False)
    fields = {f.name for f in dataclasses.fields(DefenseInput)}
    assert fields == {"x_train", "y_train", "num_classes", "x_clean", "y_clean"}  # nothing that holds truth
    assert not run.defense_input("gssd").has_clean
    clean = run.defense_input("nad")
    assert clean.has_clean and len(clean.y_clean) == round(0.1 * len(digits.y_train))
    # the reserve is genuinely clean and out of the training set every defense sees
    assert len(run.y_train) + len(clean.y_clean) == len(digits.y_train)
    reserve_rows = {row.tobytes() for row in clean.x_clean}
    assert not any(row.tobytes() in reserve_rows for row in run.x_train[run.truth.poison_indices])


@pytest.mark.slow
def test_dbd_first_split_is_the_split_its_mixmatch_starts_from(digits, monkeypatch):
    import gssd_utils.defenses.dbd as dbd

    run = AttackRun(_profile(), "badnets", data=digits, progress=False)
    split = dbd_first_split(run)
    config = run.profile.defense_config("dbd")
    assert split["labelled"] == round(config.labelled_share * len(run.y_train))
    assert split["poisons"] == len(run.truth.poison_indices) > 0
    seen = {}

    def first_epoch_only(model, x, y, num_classes, select, *_args):
        seen["labelled"] = select(0, model)
        return model, None

    monkeypatch.setattr(dbd, "train_mixmatch", first_epoch_only)
    run.defend("dbd")
    poisoned = run.is_poisoned()
    assert split["poisons labelled"] == int((seen["labelled"] & poisoned).sum())
    assert split["labelled"] == int(seen["labelled"].sum())
    assert dbd_first_split(run) == split  # read back from the cache

