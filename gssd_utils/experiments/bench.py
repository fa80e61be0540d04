"""Throughput of each stage on the current device, for comparing commits or machines: a benchmark, not a test.

Runs each stage briefly on random data of the profile's shapes (no data set needed) and reports the rate of
the second epoch, so one-off costs (model build, cuDNN autotuning, allocator warm-up) are left out.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pandas as pd
import torch

from gssd_utils.gssd.batched_flows import train_class_flows_batched
from gssd_utils.gssd.flows import loglik_matrix, train_flow
from gssd_utils.models import build_model
from gssd_utils.profiles import Profile
from gssd_utils.provenance import default_device, device_description
from gssd_utils.ssl.train import train_ssl
from gssd_utils.training.classifier import train_classifier
from gssd_utils.training.config import TrainConfig


def _images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)


def images_per_second(config: TrainConfig, batches: int = 10, device: torch.device | None = None) -> float:
    """The classifier recipe's training rate on random images: the second of two epochs of ``batches`` batches."""
    images = _images(config.batch_size * batches)
    _, history = train_classifier(images, np.arange(len(images)) % 10, 10, replace(config, epochs=2), device=device,
                                  progress=False)
    return len(images) / history["epoch_time_s"][1]


def run_benchmark(profile: Profile, batches: int = 10, umap_points: int = 2000,
                  device: torch.device | None = None) -> pd.DataFrame:
    """One row per stage: its rate and the wall time of the measured epoch."""
    device = device or default_device()
    rows = []

    ssl = replace(profile.ssl, epochs=2)
    images = _images(ssl.batch_size * batches)
    _, history = train_ssl(images, ssl, device=device, progress=False)
    rows.append(("SSL", len(images) / history["epoch_time_s"][1], "images/s", history["epoch_time_s"][1]))

    rate = images_per_second(profile.classifier, batches, device)
    rows.append(("classifier", rate, "images/s", profile.classifier.batch_size * batches / rate))

    dim = build_model(profile.ssl.arch, 1, profile.ssl.width).feature_dim
    flows_config = replace(profile.flows, epochs=2)
    features = np.random.default_rng(0).normal(size=(flows_config.batch_size * batches, dim)).astype(np.float32)
    started = time.perf_counter()
    flow, _ = train_flow(features, flows_config, device, progress=False)
    seconds = time.perf_counter() - started
    rows.append(("flow training (one class at a time)", 2 * batches / seconds, "class-steps/s", seconds))

    labels = np.arange(10 * len(features)) % 10
    started = time.perf_counter()
    train_class_flows_batched(np.tile(features, (10, 1)), labels, 10, flows_config, device, progress=False)
    seconds = time.perf_counter() - started
    rows.append(("flow training (10 classes, vectorised)", 10 * 2 * batches / seconds, "class-steps/s", seconds))

    many = np.random.default_rng(1).normal(size=(20_000, dim)).astype(np.float32)
    started = time.perf_counter()
    loglik_matrix([flow] * 10, many)
    seconds = time.perf_counter() - started
    rows.append(("log-likelihood matrix (10 flows)", len(many) / seconds, "samples/s", seconds))

    import umap  # slow to import; only this stage needs it

    started = time.perf_counter()
    umap.UMAP(n_components=2, random_state=0).fit_transform(many[:umap_points])
    seconds = time.perf_counter() - started
    rows.append((f"UMAP ({umap_points} points)", umap_points / seconds, "points/s", seconds))

    table = pd.DataFrame(rows, columns=["stage", "rate", "unit", "measured wall time (s)"]).round(1)
    table.attrs["device"] = device_description(device)
    table.attrs["profile"] = profile.describe()
    return table
