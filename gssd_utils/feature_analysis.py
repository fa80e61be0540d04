"""Looking at the self-supervised features: their health, how poisons move in them, and a 2-D map (Fig. 1).

All of it reads the cached SimCLR model and flows of an ``experiments.AttackRun``; nothing is retrained.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gssd_utils.atomic_io import load_torch
from gssd_utils.cache import cache_path, cached_arrays, config_key
from gssd_utils.data import ImageDataset
from gssd_utils.experiments import AttackRun
from gssd_utils.gssd.flows import load_flows, loglik_matrix
from gssd_utils.gssd.pipeline import GSSDConfig
from gssd_utils.gssd.simclr import SimCLRModel, extract_features, knn_accuracy, train_simclr


def simclr_model(run: AttackRun, config: GSSDConfig) -> SimCLRModel:
    """The run's SimCLR model, from the cache (trained again only if the entry is gone)."""
    model, _ = train_simclr(run.poisoned.data.x_train, config.simclr,
                            cache_path("simclr", run.result.keys["simclr"], ".pt"), progress=False)
    return model


def raw_features(run: AttackRun, config: GSSDConfig, images: np.ndarray, name: str) -> np.ndarray:
    """SimCLR backbone features of any images, cached under the run's SimCLR key and ``name``."""
    path = cache_path("features", config_key(run.result.keys["simclr"], name, images.shape), ".npz")
    return cached_arrays(path, lambda: {"x": extract_features(simclr_model(run, config).backbone, images)})["x"]


def standardized_like_training(run: AttackRun, config: GSSDConfig, images: np.ndarray, name: str) -> np.ndarray:
    """Features standardized with the training set's statistics, comparable with ``run.result.features``."""
    train = raw_features(run, config, run.poisoned.data.x_train, "train")
    return (raw_features(run, config, images, name) - train.mean(0)) / (train.std(0) + 1e-6)


def knn_health(run: AttackRun, config: GSSDConfig) -> float:
    """kNN accuracy of the SimCLR features on the clean test set, labels from the (poisoned) training set."""
    data = run.poisoned.data
    train = raw_features(run, config, data.x_train, "train")
    test = raw_features(run, config, data.x_test, "test")
    return knn_accuracy(train, data.y_train, test, data.y_test)


def generative_accuracy(run: AttackRun, config: GSSDConfig) -> float:
    """Accuracy of the flows as a generative classifier (argmax_k p_k(z)) on clean test features."""
    data = run.poisoned.data
    state = load_torch(cache_path("flows", run.result.keys["flows"], ".pt"))
    flows = load_flows(state, run.result.features.shape[1], config.flows)
    test = standardized_like_training(run, config, data.x_test, "test")
    return float((loglik_matrix(flows, test).argmax(1) == data.y_test).mean())


def embedding_shift(run: AttackRun, config: GSSDConfig, clean: ImageDataset) -> pd.DataFrame:
    """App. F: does a trigger move a sample towards the target class? Per poisoned sample, the L2 distance
    of its embedding to its own clean original's, to the centroid of its original class and to that of the
    target class (clean members only), all in standardized feature space.
    """
    truth, target = run.poisoned.truth, run.poisoned.config.target
    known = truth.original_labels >= 0  # clean-label poisons have no other source class
    idx, source = truth.poison_indices[known], truth.original_labels[known]
    poisoned = run.result.features[idx]
    originals = standardized_like_training(run, config, clean.x_train[idx], "clean originals of poisons")
    labels = run.poisoned.data.y_train
    is_clean = ~truth.is_poisoned(len(labels))
    centroid = {c: run.result.features[is_clean & (labels == c)].mean(0) for c in range(clean.num_classes)}
    return pd.DataFrame({
        "to its clean original": np.linalg.norm(poisoned - originals, axis=1),
        "to its source class centroid": np.linalg.norm(poisoned - np.stack([centroid[c] for c in source]), axis=1),
        "to the target class centroid": np.linalg.norm(poisoned - centroid[target], axis=1),
        "clean original to the target centroid": np.linalg.norm(originals - centroid[target], axis=1),
    })


def umap_2d(features: np.ndarray, key: str, seed: int = 0, n_neighbors: int = 15) -> np.ndarray:
    """A 2-D UMAP of the features (cached: it takes about a minute for 10,000 points on two cores)."""
    import umap  # slow to import; only the figures need it

    def fit() -> dict[str, np.ndarray]:
        reducer = umap.UMAP(n_components=2, n_neighbors=n_neighbors, random_state=seed)
        return {"xy": reducer.fit_transform(features).astype(np.float32)}

    return cached_arrays(cache_path("umap", config_key(key, seed, n_neighbors), ".npz"), fit)["xy"]
