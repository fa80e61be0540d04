"""CLIP's RN50 image encoder for Table 3: the architecture at random initialisation, the weights' checks, and the
one line a user gets offline."""

import numpy as np
import pytest
import torch

from gssd_utils.cli import main
from gssd_utils.models.clip import (
    WEIGHTS_NAME,
    WeightsNotFoundError,
    clip_encoder,
    clip_features,
    fetch_weights,
    weights_path,
)


def test_the_rn50_encoder_gives_1024d_features_of_any_image_size():
    torch.manual_seed(0)
    encoder = clip_encoder(None)
    images = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    features = clip_features(encoder, images, batch_size=2)  # two batches, the last one short
    assert features.shape == (3, 1024) and np.isfinite(features).all()
    np.testing.assert_allclose(clip_features(encoder, images[1:2]), features[1:2], rtol=1e-4, atol=1e-5)


def test_weights_that_are_not_clips_are_refused_naming_the_file(tmp_path):
    from safetensors.torch import save_file

    foreign = tmp_path / "other.safetensors"
    save_file({"weight": torch.zeros(2, 2)}, foreign)
    with pytest.raises(ValueError, match=r"other.safetensors: not the weights of CLIP RN50"):
        clip_encoder(foreign)
    pickled = tmp_path / "RN50.pt"
    pickled.write_bytes(b"\x80\x04not read")
    with pytest.raises(ValueError, match=r"only .safetensors weights are read"):
        clip_encoder(pickled)
    with pytest.raises(WeightsNotFoundError, match=r"no such file"):
        clip_encoder(tmp_path / "absent.safetensors")


def test_offline_fetch_names_the_file_and_where_to_put_it(tmp_path, monkeypatch, capsys):
    import huggingface_hub

    def offline(*args, **kwargs):  # what the hub raises without network, after its retries
        raise OSError("[Errno -2] Name or service not known")

    monkeypatch.setenv("GSSD_WEIGHTS", str(tmp_path))
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", offline)
    assert weights_path() == tmp_path / "clip-rn50-openai" / WEIGHTS_NAME
    with pytest.raises(WeightsNotFoundError, match=r"huggingface.co/timm/resnet50_clip.openai and put it there"):
        fetch_weights()
    with pytest.raises(SystemExit) as exit_:
        main(["fetch-clip"])
    assert exit_.value.code == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith("gssd: error: CLIP RN50 weights not found at") and WEIGHTS_NAME in line


def test_table3_says_which_weights_the_clip_row_needs(tmp_path, monkeypatch):
    from gssd_utils.experiments.ablations import clip_weights

    monkeypatch.setenv("GSSD_WEIGHTS", str(tmp_path))
    weights, note = clip_weights()
    assert weights is None and str(weights_path()) in note and "gssd fetch-clip" in note
    weights_path().parent.mkdir(parents=True)
    weights_path().write_bytes(b"stand-in")
    assert clip_weights() == (weights_path(), "")


@pytest.mark.slow
def test_the_clip_row_runs_gssd_on_the_encoders_features(digits, tmp_path, monkeypatch):
    from gssd_utils.experiments import ablations
    from gssd_utils.experiments.runs import AttackRun
    from gssd_utils.models import clip
    from gssd_utils.profiles import apply_settings, get_profile

    profile = apply_settings(get_profile("smoke"), ["flows.epochs=2", "classifier.epochs=1", "finetune_epochs=1"])
    run = AttackRun(profile, "badnets", data=digits, progress=False)
    weights = tmp_path / WEIGHTS_NAME
    weights.write_bytes(b"stand-in")
    seen = []  # the encoder stood in by pixel features: the encoder has its own test above
    monkeypatch.setattr(clip, "clip_encoder", lambda path: seen.append(path))
    monkeypatch.setattr(clip, "clip_features", lambda encoder, x: x.reshape(len(x), -1)[:, ::16].astype(np.float32))
    result = ablations.clip_features_result(run, weights)
    assert seen == [weights] and 0 <= result.metrics.acc <= 1 and 0 <= result.metrics.asr <= 1
    assert result.split.target_detected in (True, False)
