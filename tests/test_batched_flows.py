"""The vectorised flows reproduce the per-class nflows training, not just approximately the same model."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_features import planted_features

from gssd_utils.gssd.batched_flows import to_per_class, train_class_flows_batched
from gssd_utils.gssd.config import FlowConfig
from gssd_utils.gssd.flows import loglik_matrix, train_class_flows


def _unequal_classes():
    z, y, _, _ = planted_features("non-disruptive", dim=16, per_class=70, n_poison=23)
    return z, y  # class 0 holds 93 samples, the others 70: unequal numbers of batches per epoch


def test_vectorised_training_matches_the_per_class_path():
    z, y = _unequal_classes()
    config = FlowConfig(epochs=3, batch_size=16)
    reference, reference_curves = train_class_flows(z, y, 5, config, progress=False)
    batched, curves = train_class_flows_batched(z, y, 5, config, progress=False)
    np.testing.assert_allclose(curves, reference_curves, rtol=1e-4, atol=1e-5)
    expected = loglik_matrix(reference, z)
    np.testing.assert_allclose(loglik_matrix(to_per_class(batched, config), z), expected, rtol=1e-4, atol=1e-4)


def test_a_class_smaller_than_a_batch_is_refused_with_the_fix():
    z, y = _unequal_classes()
    with pytest.raises(ValueError, match="vectorized=False"):
        train_class_flows_batched(z, y, 5, FlowConfig(epochs=1, batch_size=80, min_class_size=16), progress=False)
