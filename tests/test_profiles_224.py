"""The 224-px paper profiles: the official code's networks and triggers at 224 px, their settings, the sweep's plan
and the data they need, offline."""

import numpy as np
import pytest
import torch

from gssd_utils.attacks import build_attack
from gssd_utils.data import DataNotFoundError
from gssd_utils.defenses.nad import adapted_betas, map_positions
from gssd_utils.experiments.sweep import book_jobs, estimate
from gssd_utils.models import build_model
from gssd_utils.profiles import get_profile, resolve


@pytest.mark.parametrize("arch, width, dim", [("resnet18_imagenet", 64, 512), ("densenet121", 32, 1024)])
def test_the_224px_networks_train_a_step_and_expose_every_stage(arch, width, dim):
    torch.manual_seed(0)
    model = build_model(arch, 30, width)
    x = torch.rand(2, 3, 64, 64)  # pooled before the head: any size runs the same code, 224 px costs CI seconds
    assert model.features(x).shape == (2, dim) and model.feature_dim == dim and len(model.stages()) == 4
    loss = torch.nn.functional.cross_entropy(model(x), torch.tensor([0, 29]))
    loss.backward()
    assert all(p.grad is not None for p in model.linear.parameters())
    with pytest.raises(ValueError, match=rf"{arch} is torchvision's network, of width {width}"):
        build_model(arch, 30, width * 2)


def test_nad_carries_its_betas_over_to_the_224px_maps():
    profile = get_profile("paper-imagenet30")
    model = build_model("resnet18_imagenet", 30, 64)
    positions = map_positions(model, np.zeros((224, 224, 3), np.uint8), 3)
    assert positions == (28 * 28, 14 * 14, 7 * 7)
    betas = adapted_betas(profile.defense_config("nad"), positions)
    assert betas == pytest.approx((500 * 784 / 1024, 1000 * 196 / 256, 1000 * 49 / 64))


def test_the_224px_triggers_are_built_as_the_official_code_builds_them():
    profile = get_profile("paper-imagenet30")
    images = np.full((4, 224, 224, 3), 128, np.uint8)
    badnets = build_attack("badnets", (224, 224, 3), seed=0, params=profile.poison_config("badnets").params)
    changed = np.any(badnets.apply(images) != images, axis=(0, 3))
    assert changed[:32, :32].mean() > 0.9 and not changed[32:].any() and not changed[:, 32:].any()
    again = build_attack("badnets", (224, 224, 3), seed=0, params={"variant": "patch32"})
    np.testing.assert_array_equal(again.apply(images), badnets.apply(images))
    with pytest.raises(ValueError, match="too small for it"):
        build_attack("badnets", (32, 32, 3), seed=0, params={"variant": "patch32"})
    wanet = build_attack("wanet", (224, 224, 3), seed=0, params=profile.poison_config("wanet").params)
    assert wanet.config.k == 224 and wanet.apply(images).shape == images.shape


@pytest.mark.parametrize("name, arch, batch", [("paper-imagenet30", "resnet18_imagenet", 128),
                                               ("paper-vggface2", "densenet121", 32)])
def test_the_224px_profiles_follow_the_official_schedule_and_are_planned(name, arch, batch):
    profile = get_profile(name)
    c = profile.classifier
    assert (c.arch, c.epochs, c.lr, c.weight_decay, c.batch_size, c.milestones) == (arch, 90, 0.01, 1e-4, batch,
                                                                                      (60 / 90,))
    assert profile.image_size == 224 and profile.ssl.arch == "resnet18_imagenet"
    rows = estimate(profile, book_jobs(profile), None)
    none = next(row for row in rows if row["job"].startswith("badnets") and row["job"].endswith(":none"))
    planned = 39_000 if name == "paper-imagenet30" else 30 * 362
    assert none["classifier images"] == 90 * round(planned * 0.95)
    assert {row["job"].split("@")[0] for row in rows} >= {"badnets", "blend", "wanet"}


def test_without_the_data_a_224px_profile_says_which_folder_it_looked_for(tmp_path):
    with pytest.raises(DataNotFoundError, match=rf"{tmp_path}/imagenet30/train/"):
        get_profile("paper-imagenet30").load_data(tmp_path)
    with pytest.raises(DataNotFoundError, match=r"vggface2_30/train/"):
        resolve("paper", ["dataset=vggface2_30", "classifier.arch=densenet121", "classifier.width=32"]).load_data(
            tmp_path)
