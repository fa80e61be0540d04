"""Looking at the self-supervised features: their health, how poisons move in them, and a 2-D map (Fig. 1).

All of it reads the run's cached SimCLR model and flows; nothing is retrained but DBD's linear head, when its
cache entry is gone.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pandas as pd

from gssd_utils.cache import cache_path, cached_arrays, config_key
from gssd_utils.defenses.registry import build_defense
from gssd_utils.experiments.runs import AttackRun
from gssd_utils.gssd.flows import loglik_matrix
from gssd_utils.ssl.features import knn_accuracy


def knn_health(run: AttackRun) -> float:
    """kNN accuracy of the self-supervised features on the clean test set, labels from the (poisoned) training set."""
    data = run.poisoned.data
    return knn_accuracy(run.raw_features(data.x_train, "train"), data.y_train,
                        run.raw_features(data.x_test, "test"), data.y_test)


def generative_accuracy(run: AttackRun) -> float:
    """Accuracy of the flows as a generative classifier (argmax_k p_k(z)) on clean test features."""
    data = run.poisoned.data
    test = run.features(data.x_test, "test")
    return float((loglik_matrix(run.flows(), test).argmax(1) == data.y_test).mean())


def dbd_first_split(run: AttackRun) -> dict[str, float | int | str]:
    """Where DBD's first labelled half puts the poisons: a linear head warmed up on the frozen SimCLR features
    chooses it, and a backdoor learned from the poisons it labels stays (they then have the lowest loss).

    The defense picks the split without the ground truth; it is scored against it here. Cached per run and
    DBD setting: the warm-up is DBD's own cache entry, the forward pass over the training set is this one's.
    """
    profile = run.profile
    config = profile.defense_config("dbd")
    defense = build_defense("dbd", config, profile.classifier, run.progress)
    labelled = cached_arrays(
        run.cache_path("dbd first split", asdict(config)),
        lambda: {"labelled": defense.first_split(run.defense_input("dbd"))},
        config={"dbd": asdict(config)}, expect={"labelled": (len(run.y_train),)})["labelled"].astype(bool)
    poisoned = run.is_poisoned()
    return {"attack": run.attack, "labelled": int(labelled.sum()), "poisons": int(poisoned.sum()),
            "poisons labelled": int((labelled & poisoned).sum()),
            "poisons labelled %": round(100 * float(labelled[poisoned].mean()), 1) if poisoned.any() else float("nan"),
            "poison share of the labelled %": round(100 * float(poisoned[labelled].mean()), 2)}


def embedding_shift(run: AttackRun) -> pd.DataFrame:
    """App. F: does a trigger move a sample towards the target class? Per poisoned sample, the L2 distance
    of its embedding to its own clean original's, to the centroid of its original class and to that of the
    target class (clean members only), all in standardized feature space.
    """
    truth, target = run.truth, run.target
    known = truth.original_labels >= 0  # clean-label poisons have no other source class
    idx, source = truth.poison_indices[known], truth.original_labels[known]
    features = run.gssd().features
    poisoned = features[idx]
    originals = run.features(run.clean.x_train[idx], "clean originals of poisons")
    labels = run.y_train
    is_clean = ~run.is_poisoned()
    centroid = {c: features[is_clean & (labels == c)].mean(0) for c in range(run.clean.num_classes)}
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

    config = {"features": key, "seed": seed, "n_neighbors": n_neighbors}
    return cached_arrays(cache_path("umap", config_key(key, seed, n_neighbors), ".npz"), fit, config=config,
                         expect={"xy": (len(features), 2)})["xy"]


def run_umap(run: AttackRun, seed: int = 0) -> np.ndarray:
    """The 2-D map of Figure 1 for ``run``: a UMAP of its standardized SimCLR training features (cached)."""
    state = run.gssd()
    return umap_2d(state.features, state.keys["ssl"], seed)
