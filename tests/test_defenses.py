"""The baselines' parts against hand-computed values and planted data, and each defense behind the one interface."""

from __future__ import annotations

import dataclasses
from dataclasses import replace

import numpy as np
import pytest
import torch

from gssd_utils.defenses.abl import lga
from gssd_utils.defenses.asd import class_aware_pool, draw_seeds
from gssd_utils.defenses.base import DefenseInput, MissingCleanDataError
from gssd_utils.defenses.configs import AblConfig, AsdConfig, DbdConfig, NadConfig
from gssd_utils.defenses.dbd import warm_up_head
from gssd_utils.defenses.nad import attention_loss, attention_map
from gssd_utils.defenses.registry import DEFENSES, build_defense
from gssd_utils.models import build_model
from gssd_utils.training.config import MixMatchConfig, TrainConfig
from gssd_utils.training.metrics import lowest_loss
from gssd_utils.training.mixmatch import mixmatch_loss, mixup_lambda, sharpen, symmetric_cross_entropy


def _entropy(p: torch.Tensor) -> torch.Tensor:
    return -(p * p.log()).sum(1)


def test_sharpening_lowers_entropy_and_keeps_distributions():
    p = torch.tensor([[0.5, 0.3, 0.2], [0.25, 0.25, 0.5]])
    sharp = sharpen(p, 0.5)
    assert torch.allclose(sharp.sum(1), torch.ones(2))
    assert (_entropy(sharp) < _entropy(p)).all()
    assert torch.allclose(sharp[0], torch.tensor([25, 9, 4]) / 38.0)  # p^2 renormalised
    assert torch.allclose(sharpen(p, 1.0), p)


def test_mixup_weight_is_the_larger_of_lambda_and_one_minus_lambda():
    generator = torch.Generator().manual_seed(0)
    weights = np.array([mixup_lambda(0.75, generator) for _ in range(400)])
    assert (weights >= 0.5).all() and (weights <= 1.0).all()
    assert weights.std() > 0.05  # drawn, not constant
    again = torch.Generator().manual_seed(0)
    assert [mixup_lambda(0.75, again) for _ in range(3)] == list(weights[:3])  # seeded: a resumed run repeats it


def test_unlabelled_loss_is_zero_when_guesses_equal_predictions():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.1, 0.2, 0.3]])
    targets = torch.softmax(logits, dim=1)
    _, unsupervised = mixmatch_loss(logits, targets, logits, targets)
    assert unsupervised.item() == pytest.approx(0.0, abs=1e-12)
    _, other = mixmatch_loss(logits, targets, logits, targets.flip(1))
    assert other.item() > 0


def test_symmetric_cross_entropy_by_hand():
    logits, labels = torch.tensor([[0.0, 0.0]]), torch.tensor([0])
    # CE = log 2; RCE = -(0.5 log 1 + 0.5 log 1e-4) = 0.5 * log(1e4)
    expected = 0.1 * np.log(2) + 1.0 * 0.5 * np.log(1e4)
    assert symmetric_cross_entropy(logits, labels).item() == pytest.approx(expected, rel=1e-5)


def test_nad_attention_map_and_loss_by_hand():
    activation = torch.zeros(1, 2, 1, 2)
    activation[0, 0, 0] = torch.tensor([1.0, 2.0])
    activation[0, 1, 0] = torch.tensor([3.0, -1.0])
    # mean over channels of |a|^2: [(1 + 9) / 2, (4 + 1) / 2] = [5, 2.5]; L2-normalised: [2, 1] / sqrt(5)
    expected = torch.tensor([[2.0, 1.0]]) / np.sqrt(5)
    assert torch.allclose(attention_map(activation), expected)
    other = torch.zeros(1, 2, 1, 2)
    other[0, 0, 0, 1] = 1.0  # map [0, 1]
    difference = ((expected - torch.tensor([[0.0, 1.0]])) ** 2).mean()
    loss = attention_loss([activation, activation], [other, activation], betas=[500.0, 1000.0])
    assert loss.item() == pytest.approx(500.0 * difference.item(), rel=1e-6)  # the identical pair adds nothing


def test_nad_betas_keep_the_authors_weight_per_position_on_any_network():
    from gssd_utils.defenses.configs import NadConfig
    from gssd_utils.defenses.nad import adapted_betas, map_positions
    from gssd_utils.models import build_model

    config = NadConfig()
    assert adapted_betas(config, (1024, 256, 64)) == (500.0, 1000.0, 1000.0)  # the authors' WRN-16-1 maps
    assert adapted_betas(config, (256, 64, 16)) == (125.0, 250.0, 250.0)  # ResNet-18's: a quarter
    assert adapted_betas(replace(config, scale_betas=False), (256, 64, 16)) == (500.0, 1000.0, 1000.0)
    image = np.zeros((32, 32, 3), dtype=np.uint8)  # the data sets' layout, HWC
    assert map_positions(build_model("resnet18", 10, 8), image, 3) == (256, 64, 16)
    assert map_positions(build_model("airnet", 10, 8), image, 3) == (225, 49, 9)  # quick: 15x15, 7x7, 3x3


def test_abl_isolates_mostly_poisons_when_they_are_learned_first():
    """Planted: the poisons carry an obvious feature, so a short LGA training leaves their loss lowest."""
    rng = np.random.default_rng(0)
    n, poisons = 600, np.arange(0, 600, 20)  # 30 poisons
    x = torch.from_numpy(rng.normal(size=(n, 10)).astype(np.float32))
    y = torch.from_numpy(rng.integers(1, 5, n))
    x[poisons, 0] = 6.0  # the trigger
    y[poisons] = 0
    model = torch.nn.Linear(10, 5)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    objective = lga(gamma=0.5)
    for _ in range(60):
        loss, _ = objective(model, x, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    losses = torch.nn.functional.cross_entropy(model(x), y, reduction="none").detach().numpy()
    isolated = np.flatnonzero(lowest_loss(losses, 0.05))
    assert len(isolated) == 30 and np.isin(isolated, poisons).mean() > 0.8


def test_dbd_keeps_the_low_loss_half_labelled():
    losses = np.array([0.9, 0.1, 0.5, 0.05, 2.0, 0.3])
    np.testing.assert_array_equal(lowest_loss(losses, 0.5), [False, True, False, True, False, True])


def test_asd_pool_grows_on_its_schedule_from_clean_seeds():
    labels = np.repeat(np.arange(3), 50)
    losses = np.random.default_rng(0).random(150)
    for epoch, per_class in ((0, 10), (4, 10), (5, 20), (14, 30)):
        config = AsdConfig()
        n = config.pool_growth * (epoch // config.growth_every + 1)
        assert n == per_class
        pool = class_aware_pool(losses, labels, n)
        assert [pool[labels == c].sum() for c in range(3)] == [per_class] * 3
        chosen = losses[pool & (labels == 0)]
        assert chosen.max() <= np.sort(losses[labels == 0])[per_class - 1]  # the lowest-loss ones
    reserve = np.repeat(np.arange(3), 4)
    seeds = draw_seeds(reserve, per_class=3, num_classes=3, seed=0)
    assert np.bincount(reserve[seeds]).tolist() == [3, 3, 3]


def _inputs(digits, clean: bool):
    x, y = digits.x_train[:400], digits.y_train[:400]
    return DefenseInput(x, y, 10, *((digits.x_test[:60], digits.y_test[:60]) if clean else (None, None)))


@pytest.mark.parametrize("name", ["nad", "finetune", "asd"])
def test_a_defense_that_needs_clean_data_names_the_way_to_give_it(digits, name):
    defense = build_defense(name, DEFENSES[name].config_class(), TrainConfig(arch="small_cnn", width=8, epochs=1))
    with pytest.raises(MissingCleanDataError, match=r"x_clean and y_clean.*--clean FILE\.npz"):
        defense.check(_inputs(digits, clean=False))
    defense.check(_inputs(digits, clean=True))


@pytest.mark.parametrize("arch", ["small_cnn", "airnet"])
def test_dbd_warms_up_the_networks_own_head(arch):
    model = build_model(arch, 3, 8)
    labels = np.repeat(np.arange(3), 20)
    features = np.zeros((60, model.linear.in_features), np.float32)
    features[np.arange(60), labels] = 5.0  # three separable clusters
    head = warm_up_head(model, features, labels, DbdConfig(warmup_epochs=50, warmup_lr=0.05), seed=0)
    assert set(head) == set(model.linear.state_dict())  # the airnet head has no bias
    model.linear.load_state_dict({k: torch.from_numpy(v) for k, v in head.items()})
    assert (model.classify(torch.from_numpy(features)).argmax(1).numpy() == labels).all()


TINY = TrainConfig(arch="small_cnn", width=8, epochs=1, batch_size=64, lr=0.05, schedule="cosine", hflip=False)
TINY_MIXMATCH = MixMatchConfig(epochs=3, iterations=2, batch_size=16)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "config"), [
    ("nad", NadConfig(teacher_epochs=1, epochs=2, lr_drop_epoch=1)),
    ("abl", AblConfig(isolation_epochs=1, finetune_epochs=1, unlearning_epochs=1)),
    ("asd", AsdConfig(mixmatch=TINY_MIXMATCH, class_aware_until=1 / 3, meta_from=2 / 3, growth_every=1)),
    ("dbd", DbdConfig(warmup_epochs=1, mixmatch=TINY_MIXMATCH)),
    ("dbd-airnet", DbdConfig(warmup_epochs=1, mixmatch=TINY_MIXMATCH)),  # the quick profile's bias-free head
])
def test_each_baseline_trains_a_model_and_reports_what_it_set_aside(digits, name, config):
    from gssd_utils.training.config import SSLConfig

    if name.startswith("dbd"):
        arch = "airnet" if name == "dbd-airnet" else "small_cnn"
        config = dataclasses.replace(config, ssl=SSLConfig(arch=arch, width=8, epochs=1, batch_size=64))
        name = "dbd"
    inputs = _inputs(digits, clean=True)
    defense = build_defense(name, config, TINY, progress=False)
    defense.check(inputs)
    outcome = defense.run(inputs)
    logits = outcome.model(torch.zeros(2, 3, 32, 32))
    assert logits.shape == (2, 10) and torch.isfinite(logits).all()
    assert set(outcome.stages) and all(s.compute_s >= 0 for s in outcome.stages.values())
    assert outcome.removed.dtype.kind == "i" and (outcome.removed < 400).all()
    again = build_defense(name, config, TINY, progress=False).run(inputs)  # every stage from the cache
    assert all(s.cache == "cached" for s in again.stages.values()), again.stages
    np.testing.assert_array_equal(again.removed, outcome.removed)


def test_cpu_profiles_derive_baseline_budgets_from_the_authors_ratios():
    """ABL isolates for a sixth of its training, DBD runs 1.25 MixMatch passes per supervised epoch and GSSD
    fine-tunes at 1/1000 of the training learning rate, at every profile; the paper profile gets the authors' values."""
    from gssd_utils.profiles import abl_phases, get_profile, mixmatch_passes

    assert abl_phases(60) == {"isolation_epochs": 10, "finetune_epochs": 60}
    assert mixmatch_passes(200) == 249
    paper = get_profile("paper")
    assert (paper.defense_config("abl").isolation_epochs, paper.defense_config("dbd").mixmatch.epochs) == (10, 190)
    assert paper.finetune_lr == pytest.approx(1e-4)
    quick = get_profile("quick")
    assert quick.defense_config("abl").isolation_epochs == 1  # 4 x 10 / 60 rounds to one
    assert quick.defense_config("dbd").mixmatch.epochs == 5  # 4 x 1.245
    assert quick.finetune_lr == pytest.approx(quick.classifier.lr / 1000)
    smoke = get_profile("smoke")
    assert smoke.defense_config("dbd").mixmatch.epochs == mixmatch_passes(smoke.classifier.epochs)
    assert smoke.finetune_lr == pytest.approx(smoke.classifier.lr / 1000)
