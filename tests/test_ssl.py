"""The self-supervised stage is a registry: a method is one module plus one registry line, and every consumer of
the stage (GSSD, DBD, kNN/energy, Table 3, gssd defend) follows the profile's ``ssl.method``."""

from __future__ import annotations

import importlib
import json
import sys
import textwrap
from dataclasses import replace

import numpy as np
import pytest
import torch

from gssd_utils.cli import main
from gssd_utils.profiles import apply_settings, get_profile
from gssd_utils.ssl.features import extract_features
from gssd_utils.ssl.registry import METHODS
from gssd_utils.ssl.train import train_ssl

MODULE = '''
from gssd_utils.ssl.base import register
from gssd_utils.ssl.simclr import SimCLR


@register
class Counted(SimCLR):
    """SimCLR under another name that counts its training steps: a stand-in for a contributor's new method."""

    name = "counted"
    display = "Counted"
    summary = "a test's method"
    steps = 0

    def after_step(self, step, total_steps):
        type(self).steps += 1
'''


@pytest.fixture()
def counted(tmp_path, monkeypatch):
    (tmp_path / "counted_ssl.py").write_text(textwrap.dedent(MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield importlib.import_module("counted_ssl").Counted  # the registry line
    METHODS.pop("counted", None)
    sys.modules.pop("counted_ssl", None)


def _digits(n: int = 256) -> np.ndarray:
    from gssd_utils.data import load_digits32

    return load_digits32().x_train[:n]


def test_a_new_method_trains_the_stage_every_consumer_shares(counted, tmp_path, capsys):
    main(["ssl-methods"])
    assert "counted" in capsys.readouterr().out
    main(["sweep", "--profile", "smoke", "--dry-run", "--attacks", "badnets", "--tasks", "table3"])
    assert "SSL images" in capsys.readouterr().out  # Table 3 plans GSSD on every other registered method
    profile = apply_settings(get_profile("smoke"), ["ssl.method=counted"])
    assert profile.gssd().ssl.method == "counted"
    for defense in ("dbd", "knn", "energy"):  # the defenses that share the stage follow it
        assert profile.defense_config(defense).ssl == profile.ssl
    data = tmp_path / "poisoned"
    main(["poison", "--profile", "smoke", "--attack", "badnets", "--out", str(data)])
    main(["defend", "--data", str(data / "data.npz"), "--profile", "smoke", "--set", "ssl.method=counted",
          "--set", "ssl.epochs=2", "--set", "flows.epochs=2", "--out", str(tmp_path / "defended")])
    assert counted.steps == 2 * (len(np.load(data / "data.npz")["y_train"]) // profile.ssl.batch_size)
    report = json.loads((tmp_path / "defended" / "report.json").read_text())
    assert "ssl" in report["stages"]
    main(["compare", "--profile", "smoke", "--attacks", "badnets", "--defenses", "gssd", "--set", "ssl.method=counted",
          "--set", "ssl.epochs=2", "--set", "flows.epochs=2", "--set", "classifier.epochs=1",
          "--out", str(tmp_path / "compare")])
    rows = json.loads((tmp_path / "compare" / "comparison_all_defenses.json").read_text())["rows"]
    assert [row["defense"] for row in rows] == ["GSSD"]


def test_an_unknown_method_is_refused_in_one_line_naming_the_registered_ones(tmp_path, capsys):
    data = tmp_path / "poisoned"
    main(["poison", "--profile", "smoke", "--attack", "badnets", "--out", str(data)])
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["defend", "--data", str(data / "data.npz"), "--profile", "smoke", "--set", "ssl.method=simsiam",
              "--out", str(tmp_path / "defended")])
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "simsiam" in lines[0] and "simclr" in lines[0] and "byol" in lines[0], lines


def test_byol_trains_its_online_network_and_moves_its_target_without_gradients():
    config = replace(get_profile("smoke").ssl, method="byol", epochs=3, batch_size=64)
    images = _digits()
    model, history = train_ssl(images, config, progress=False)
    assert len(history["loss"]) == 3 and history["loss"][-1] < history["loss"][0]
    assert all(not p.requires_grad for p in model.target_backbone.parameters())
    online = torch.cat([p.flatten() for p in model.backbone.parameters()])
    target = torch.cat([p.flatten() for p in model.target_backbone.parameters()])
    assert not torch.equal(online, target)  # the target lags the online network...
    fresh, _ = train_ssl(images, replace(config, epochs=1), progress=False)
    first = torch.cat([p.flatten() for p in fresh.target_backbone.parameters()])
    assert not torch.equal(first, target)  # ...and moves with it
    features = extract_features(model.backbone, images)
    assert features.std(0).mean() > 1e-3  # not collapsed to one point


def test_byol_and_simclr_are_different_objectives_on_the_same_views():
    config = replace(get_profile("smoke").ssl, epochs=1, batch_size=64)
    images = _digits()
    simclr, _ = train_ssl(images, config, progress=False)
    byol, _ = train_ssl(images, replace(config, method="byol"), progress=False)
    assert not np.allclose(extract_features(simclr.backbone, images), extract_features(byol.backbone, images))
