"""The self-supervised stage, cached: one model per (images, recipe), shared by every defense that trains it.

Labels play no part, so they are not in the key: GSSD, DBD and the kNN/energy baseline on the same poisoned images
and the same ``ssl`` recipe train it once between them.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from gssd_utils.cache import array_digest, cache_path, cached_arrays, config_key
from gssd_utils.ssl.base import SSLModel
from gssd_utils.ssl.features import extract_features
from gssd_utils.ssl.train import train_ssl
from gssd_utils.training.config import SSLConfig


def ssl_stage(x_train: np.ndarray, config: SSLConfig, progress: bool = True) -> tuple[SSLModel, dict, str]:
    """The trained model of ``config.method`` on the images, its history and its cache key."""
    key = config_key(array_digest(x_train), asdict(config))
    model, history = train_ssl(x_train, config, cache_path("ssl", key, ".pt"), progress=progress)
    return model, history, key


def ssl_features(model: SSLModel, images: np.ndarray, ssl_key: str, name: str = "train") -> np.ndarray:
    """Raw backbone features of ``images`` under the model ``ssl_key`` (cached per image set)."""
    key = ssl_key if name == "train" else config_key(ssl_key, name, array_digest(images))
    arrays = cached_arrays(cache_path("features", key, ".npz"),
                           lambda: {"features": extract_features(model.backbone, images)},
                           config={"ssl": ssl_key, "images": name}, expect={"features": (len(images), None)})
    return arrays["features"]
