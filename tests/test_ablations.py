"""Hyperparameter sweeps and result files, on synthetic likelihoods with known truth."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from synthetic_features import gaussian_loglik, planted_features

from gssd_utils.attacks import PoisonTruth
from gssd_utils.experiments.ablations import SWEEP_VALUES, hyperparameter_sweep, sweep_table
from gssd_utils.gssd.config import FlowConfig, GSSDConfig
from gssd_utils.gssd.detection import DetectionConfig, detect_target_classes
from gssd_utils.provenance import Provenance
from gssd_utils.results_io import load_results, results_status, write_results
from gssd_utils.training.config import SSLConfig, TrainConfig


def _planted():
    """Planted non-disruptive poisoning, and a config whose β_ND sits on this synthetic likelihood scale."""
    z, y, source, poison = planted_features("non-disruptive", noise=0.45)
    loglik = gaussian_loglik(z, y, 5)
    s_nd = detect_target_classes(loglik, y, DetectionConfig()).s_nd
    config = GSSDConfig(ssl=SSLConfig(), flows=FlowConfig(), retrain=TrainConfig(),
                        detection=DetectionConfig(beta_nd=-(s_nd[0] + np.sort(s_nd)[-2]) / 2))
    return loglik, y, PoisonTruth(poison, source[poison], 0), config


def test_alpha_p_sweep_trades_precision_for_recall():
    loglik, y, truth, config = _planted()
    table = sweep_table({"alpha_p": hyperparameter_sweep(loglik, y, truth, config, "alpha_p",
                                                         SWEEP_VALUES["alpha_p"])})
    assert table["target detected"].all()
    recall = table["suspect recall %"].to_numpy()
    assert np.all(np.diff(recall) >= 0) and recall[-1] > recall[0]
    assert table["suspect precision %"].iloc[0] >= table["suspect precision %"].iloc[-1]


def test_beta_nd_sweep_loses_the_target_when_the_threshold_is_too_strict():
    loglik, y, truth, config = _planted()
    table = sweep_table({"beta_nd": hyperparameter_sweep(loglik, y, truth, config, "beta_nd",
                                                         [0.01, config.detection.beta_nd, 50.0])})
    assert not table["target detected"].iloc[0]
    assert table["target detected"].iloc[1]
    assert table["false positives"].iloc[1] == 0
    assert table["false positives"].iloc[2] > 0  # with a lax threshold clean classes are flagged too


def test_unknown_hyperparameter_is_refused():
    loglik, y, truth, config = _planted()
    with pytest.raises(ValueError, match="sweepable"):
        hyperparameter_sweep(loglik, y, truth, config, "gamma", [1])


def test_results_round_trip_and_missing_or_corrupt_files(tmp_path):
    table = pd.DataFrame({"attack": ["badnets"], "ACC ours": [64.2]})
    provenance = Provenance(profile="smoke", data={"name": "digits32"})
    write_results(table, provenance, tmp_path, "gssd", {"badnets": {"flagged": [0]}})
    loaded, record = load_results(tmp_path, "gssd")
    assert loaded.equals(table) and record["details"]["badnets"]["flagged"] == [0]
    assert load_results(tmp_path, "table2") is None
    status = results_status(tmp_path, {"gssd": "Table 1", "table2": "Table 2"})
    assert "Table 1**: 1 rows" in status and "Table 2**: not run yet" in status
    (tmp_path / "table3.json").write_text(json.dumps({"no rows": 1})[:-3])
    with pytest.raises(ValueError, match=r"not a results file.*delete it"):
        load_results(tmp_path, "table3")


def test_crossing_batch_norm_statistics_keeps_the_weights_and_takes_the_statistics():
    import torch

    from gssd_utils.experiments.ablations import with_norm_statistics
    from gssd_utils.models import build_model

    torch.manual_seed(0)
    model, source = build_model("small_cnn", 10, 8), build_model("small_cnn", 10, 8)
    for net, shift in ((model, 0.0), (source, 3.0)):  # different inputs give different running statistics
        net.train()(torch.randn(16, 3, 32, 32) + shift)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    crossed = with_norm_statistics(model, source)
    for name, value in crossed.state_dict().items():
        taken = source if name.endswith(("running_mean", "running_var")) else model
        torch.testing.assert_close(value, taken.state_dict()[name])
    for name, value in model.state_dict().items():  # the model itself is left as it was
        torch.testing.assert_close(value, before[name])
    means = [name for name in crossed.state_dict() if name.endswith("running_mean")]
    assert means and not torch.equal(crossed.state_dict()[means[0]], model.state_dict()[means[0]])
    # halfway: the mixture of two equal populations, whose variance includes the spread between their means
    half, m = with_norm_statistics(model, source, 0.5).state_dict(), model.state_dict()
    s = source.state_dict()
    mean, var = means[0], means[0].replace("running_mean", "running_var")
    torch.testing.assert_close(half[mean], (m[mean] + s[mean]) / 2)
    torch.testing.assert_close(half[var], (m[var] + s[var]) / 2 + (m[mean] - s[mean]) ** 2 / 4)
    none = with_norm_statistics(model, source, 0.0).state_dict()
    assert all(torch.equal(none[name], m[name]) for name in m if name.endswith(("running_mean", "running_var")))


@pytest.mark.slow
def test_finetune_anatomy_measures_the_models_gssd_trained(digits):
    from gssd_utils.experiments.ablations import NORM_SHARES, finetune_anatomy, norm_statistics_path
    from gssd_utils.experiments.runs import AttackRun
    from gssd_utils.profiles import get_profile

    run = AttackRun(get_profile("smoke"), "badnets", data=digits, progress=False)  # smoke finds BadNets' target
    row = finetune_anatomy(run)
    state = run.gssd(train=True)
    assert row["D'_P"] == len(state.split.relabeled_indices) > 0
    assert 0 <= row["poisons in D'_P %"] <= 100
    retrained, tuned = run.measure(state.retrained), run.measure(state.finetuned)
    assert (row["ACC D_C"], row["ASR D_C"]) == (round(100 * retrained.acc, 2), round(100 * retrained.asr, 2))
    assert (row["ACC fine-tuned"], row["ASR fine-tuned"]) == (round(100 * tuned.acc, 2), round(100 * tuned.asr, 2))
    assert {"ACC fine-tuned weights, D_C statistics", "ASR D_C weights, fine-tuned statistics"} <= set(row)
    path = norm_statistics_path(run)
    # the path's ends are the D_C model and the crossed model of the anatomy
    assert [r["share of fine-tuned statistics"] for r in path] == list(NORM_SHARES)
    assert (path[0]["ACC"], path[0]["ASR"]) == (row["ACC D_C"], row["ASR D_C"])
    assert (path[-1]["ACC"], path[-1]["ASR"]) == (row["ACC D_C weights, fine-tuned statistics"],
                                                  row["ASR D_C weights, fine-tuned statistics"])
