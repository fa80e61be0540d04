"""The per-class flows: faithful architecture, own-class likelihoods highest, deterministic."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from synthetic_features import planted_features

from gssd_utils.gssd.config import FlowConfig
from gssd_utils.gssd.flows import build_flow, flow_arrays, flows_from_arrays, loglik_matrix, train_class_flows

CONFIG = FlowConfig(epochs=8, batch_size=64, lr=2e-3)


@pytest.fixture(scope="module")
def trained():
    z, y, _, _ = planted_features("clean", per_class=300, dim=16)
    flows, curves = train_class_flows(z, y, 5, CONFIG, device=torch.device("cpu"), progress=False)
    return z, y, flows, curves


def test_fresh_flow_is_the_standard_normal_after_actnorm():
    flow = build_flow(8, CONFIG).eval()
    x = torch.randn(4, 8)
    expected = torch.distributions.Normal(0, 1).log_prob(x).sum(1)
    assert torch.allclose(flow.log_prob(x), expected, atol=1e-5)  # zero-initialised couplings are identities


def test_flows_give_their_own_class_the_highest_likelihood(trained):
    z, y, flows, curves = trained
    loglik = loglik_matrix(flows, z)
    assert loglik.shape == (len(z), 5)
    assert np.mean(loglik.argmax(1) == y) > 0.9
    for c in range(5):
        own = loglik[y == c, c].mean()
        assert all(own > loglik[y == c, k].mean() for k in range(5) if k != c)
    assert all(curve[-1] < curve[0] for curve in curves)


def test_flow_training_is_deterministic(trained):
    z, y, flows, _ = trained
    again, _ = train_class_flows(z, y, 5, CONFIG, device=torch.device("cpu"), progress=False)
    np.testing.assert_allclose(loglik_matrix(flows, z[:50]), loglik_matrix(again, z[:50]), atol=1e-6)


def test_flows_survive_a_round_trip_through_the_cache_format(trained, tmp_path):
    from gssd_utils.atomic_io import load_npz, save_npz

    z, _, flows, _ = trained
    save_npz(tmp_path / "flows.npz", flow_arrays(flows))
    restored = flows_from_arrays(load_npz(tmp_path / "flows.npz"), 5, z.shape[1], CONFIG)
    np.testing.assert_allclose(loglik_matrix(flows, z[:20]), loglik_matrix(restored, z[:20]), atol=1e-6)


def test_too_small_class_and_nan_features_are_refused():
    z, y, _, _ = planted_features("clean", per_class=40, dim=8)
    keep = (y != 3) | (np.arange(len(y)) % 10 == 0)
    with pytest.raises(ValueError, match=r"classes \[3\] have \[4\] samples"):
        train_class_flows(z[keep], y[keep], 5, CONFIG, progress=False)
    z[7, 2] = np.nan
    with pytest.raises(ValueError, match=r"NaN or inf.*samples \[7\]"):
        train_class_flows(z, y, 5, CONFIG, progress=False)


def test_a_constant_feature_dimension_gives_finite_likelihoods():
    """A dead unit of a barely trained extractor is a constant dimension: ActNorm's scale must stay finite (the
    official flow adds 1e-6 to the batch std), in both the per-class and the vectorised path."""
    from gssd_utils.gssd.batched_flows import train_class_flows_batched

    z, y, _, _ = planted_features("clean", per_class=40, dim=8)
    z[:, 3] = 0.0
    config = FlowConfig(epochs=2, batch_size=16)
    flows, curves = train_class_flows(z, y, 5, config, progress=False)
    assert np.isfinite(loglik_matrix(flows, z)).all() and np.isfinite(curves).all()
    _, batched_curves = train_class_flows_batched(z, y, 5, config, progress=False)
    assert np.isfinite(batched_curves).all()
