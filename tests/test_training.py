"""The trainer: augmentation, resumable checkpoints, and a smoke run where the attack must work."""

from __future__ import annotations

import pytest
import torch

from gssd_utils.atomic_io import load_torch, save_torch, write_atomically
from gssd_utils.experiments.runs import AttackRun
from gssd_utils.models import CifarResNet18, build_model
from gssd_utils.profiles import get_profile
from gssd_utils.training.augment import random_crop_flip
from gssd_utils.training.classifier import train_classifier
from gssd_utils.training.config import TrainConfig


def test_crop_flip_only_shifts_and_mirrors():
    x = torch.arange(2 * 32 * 32 * 3, dtype=torch.int64).remainder(251).to(torch.uint8).view(2, 32, 32, 3)
    out = random_crop_flip(x, padding=0, generator=torch.Generator().manual_seed(0))
    for a, b in zip(x, out, strict=True):
        assert torch.equal(a, b) or torch.equal(a.flip(1), b)


def test_crop_pads_with_zeros_and_keeps_shape():
    x = torch.full((64, 32, 32, 3), 7, dtype=torch.uint8)
    out = random_crop_flip(x, generator=torch.Generator().manual_seed(1))
    assert out.shape == x.shape and out.dtype == torch.uint8
    assert set(out.unique().tolist()) == {0, 7}


def test_resnet_width_sets_feature_dimension():
    assert CifarResNet18(width=64).feature_dim == 512
    model = CifarResNet18(num_classes=3, width=8)
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 3)
    with pytest.raises(ValueError, match="unknown architecture"):
        build_model("vgg", 10, 8)


def test_bad_train_config_is_rejected():
    with pytest.raises(ValueError, match="schedule='linear'"):
        TrainConfig(schedule="linear")
    with pytest.raises(ValueError, match="epochs must be at least 1"):
        TrainConfig(epochs=0)


def test_atomic_save_leaves_nothing_behind_on_failure(tmp_path):
    path = tmp_path / "ckpt.pt"
    save_torch(path, {"w": torch.ones(2)})

    def dies_half_way(tmp):
        tmp.write_bytes(b"half a checkpoint")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        write_atomically(path, dies_half_way)
    assert torch.equal(load_torch(path)["w"], torch.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]


def _small(digits, **overrides):
    config = TrainConfig(arch="small_cnn", width=8, batch_size=64, lr=0.05, schedule="cosine", **overrides)
    return digits.x_train[:256], digits.y_train[:256], config


def test_interrupted_run_resumes_to_the_same_model(digits, tmp_path, monkeypatch):
    x, y, config = _small(digits, epochs=3)
    reference, _ = train_classifier(x, y, 10, config, progress=False)

    from gssd_utils import atomic_io

    def die_after_epoch_two(path, obj):
        save_torch(path, obj)
        if obj["epoch"] == 2:
            raise KeyboardInterrupt

    ckpt = tmp_path / "run.pt"
    monkeypatch.setattr(atomic_io, "save_torch", die_after_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        train_classifier(x, y, 10, config, checkpoint=ckpt, progress=False)
    assert load_torch(ckpt)["epoch"] == 2
    monkeypatch.undo()

    resumed, history = train_classifier(x, y, 10, config, checkpoint=ckpt, progress=False)
    assert len(history["loss"]) == 3
    for a, b in zip(reference.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.allclose(a.float(), b.float(), atol=1e-5)


def test_checkpoint_of_another_config_is_not_reused(digits, tmp_path):
    x, y, config = _small(digits, epochs=1)
    ckpt = tmp_path / "c.pt"
    train_classifier(x, y, 10, config, checkpoint=ckpt, progress=False)
    other = TrainConfig(**{**config.__dict__, "lr": 0.01})
    with pytest.warns(UserWarning, match="another training config"):
        train_classifier(x, y, 10, other, checkpoint=ckpt, progress=False)


def test_a_corrupt_checkpoint_is_recomputed_not_trusted(digits, tmp_path):
    x, y, config = _small(digits, epochs=1)
    ckpt = tmp_path / "broken.pt"
    ckpt.write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="could not resume"):
        _, history = train_classifier(x, y, 10, config, checkpoint=ckpt, progress=False)
    assert len(history["loss"]) == 1 and load_torch(ckpt)["epoch"] == 1


@pytest.mark.slow
def test_smoke_no_defense_badnets_backdoor_works(digits):
    """On the embedded digits the attack must succeed, or later defense results would mean nothing."""
    measured = AttackRun(get_profile("smoke"), "badnets", data=digits, progress=False).result("none")
    assert measured.metrics.acc > 0.85, measured.metrics
    assert measured.metrics.asr > 0.9, measured.metrics
    assert measured.stages["train"].cache == "computed"
    # a new run of the same set is served from the cache: same numbers, no training, the original cost reported
    again = AttackRun(get_profile("smoke"), "badnets", data=digits, progress=False).result("none")
    assert again.metrics == measured.metrics
    assert again.stages["train"].cache == "cached"
    assert again.stages["train"].compute_s >= measured.stages["train"].seconds * 0.99 > 0


def test_reflect_crop_only_moves_pixels_of_the_image():
    x = torch.randint(1, 256, (16, 32, 32, 3), generator=torch.Generator().manual_seed(2)).to(torch.uint8)
    out = random_crop_flip(x, padding=2, generator=torch.Generator().manual_seed(0), mode="reflect")
    assert out.shape == x.shape and (out > 0).all()  # no zero padding leaks in
    same = random_crop_flip(x, padding=0, generator=torch.Generator().manual_seed(0), flip=False, mode="reflect")
    assert torch.equal(same, x)


def test_airnet_first_layer_whitens_image_patches():
    from gssd_utils.models import AirNet

    images = torch.randn(64, 3, 12, 12) @ torch.randn(12, 12) + 0.5  # correlated pixels
    net = AirNet(width=4)
    net.init_whitening(images)
    responses = net.whiten(images) - net.whiten.bias.view(1, -1, 1, 1)
    half = responses[:, :12].permute(0, 2, 3, 1).reshape(-1, 12)
    covariance = half.T @ half / len(half)
    assert torch.allclose(covariance, torch.eye(12), atol=0.05)
    assert torch.equal(responses[:, 12:], -responses[:, :12])  # both signs of each filter
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_triangle_schedule_rises_then_falls():
    from gssd_utils.training.classifier import _lr_factor

    factor = _lr_factor(TrainConfig(schedule="triangle", warmup=0.25), 100)
    assert factor(0) == pytest.approx(0.2) and factor(25) == pytest.approx(1.0)
    assert factor(100) == pytest.approx(0.07) and factor(10) < factor(25) > factor(60)


def test_lookahead_run_resumes_exactly_and_ends_on_its_average(digits, tmp_path, monkeypatch):
    from gssd_utils import atomic_io

    x, y, config = _small(digits, epochs=2, lookahead=True, tta=True)
    reference, _ = train_classifier(x, y, 10, config, progress=False)
    ckpt = tmp_path / "la.pt"

    def die_after_epoch_one(path, obj):
        save_torch(path, obj)
        if obj["epoch"] == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(atomic_io, "save_torch", die_after_epoch_one)
    with pytest.raises(KeyboardInterrupt):
        train_classifier(x, y, 10, config, checkpoint=ckpt, progress=False)
    monkeypatch.undo()
    resumed, _ = train_classifier(x, y, 10, config, checkpoint=ckpt, progress=False)
    state = load_torch(ckpt)
    assert state["lookahead"]["steps"] == 2 * 4  # 256 images, batch 64
    for k, v in state["lookahead"]["ema"].items():  # the last step copies the average into the weights
        assert torch.equal(v, state["model"][k])
    for a, b in zip(reference.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.allclose(a.float(), b.float())
    assert resumed.tta


def test_gssd_fine_tuning_moves_a_model_that_a_lookahead_would_restore(digits):
    """A run shorter than the lookahead's period ends on its starting weights; GSSD's fine-tuning, which is a
    dozen steps at quick, runs without the lookahead (plain SGD, as the official code), so it changes the model."""
    from dataclasses import replace

    from gssd_utils.profiles import get_profile

    x, y = digits.x_train[:64], digits.y_train[:64]
    profile = get_profile("quick")
    start, _ = train_classifier(x, y, 10, replace(profile.classifier, epochs=1), progress=False)
    init = {k: v.clone() for k, v in start.state_dict().items()}
    finetune = replace(profile.gssd().finetune_config(), epochs=1, lr=0.05)  # 1 step of 64 at batch 256
    assert not finetune.lookahead
    tuned, _ = train_classifier(x, y, 10, finetune, progress=False, init_state=init)
    restored, _ = train_classifier(x, y, 10, replace(finetune, lookahead=True), progress=False, init_state=init)
    assert any(not torch.equal(init[k], v) for k, v in tuned.state_dict().items() if v.is_floating_point())
    assert all(torch.equal(init[k], v) for k, v in restored.state_dict().items() if v.is_floating_point())
