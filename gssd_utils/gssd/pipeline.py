"""GSSD end to end (Algorithm 1), every stage cached on disk under a key of its config and inputs.

The defense sees the poisoned training images and their observed labels, nothing else: ground truth
enters only through ``evaluation``. Stages are also callable alone (``train_simclr``, ``train_class_flows``,
``detect_target_classes``, ``split_and_relabel``, ``train_classifier``); this module wires them, so all
notebooks share one SimCLR model and one set of flows per poisoned data set.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace

import numpy as np
from torch import nn

from gssd_utils.atomic_io import save_torch
from gssd_utils.cache import array_digest, cache_path, cached_arrays, config_key
from gssd_utils.gssd.batched_flows import to_per_class, train_class_flows_batched
from gssd_utils.gssd.detection import ClassStatistics, DetectionConfig, detect_target_classes
from gssd_utils.gssd.flows import FlowConfig, flow_state, loglik_matrix, train_class_flows
from gssd_utils.gssd.simclr import SimCLRConfig, extract_features, standardize, train_simclr
from gssd_utils.gssd.splitting import Split, SplitConfig, split_and_relabel
from gssd_utils.training.classifier import TrainConfig, train_classifier


@dataclass(frozen=True)
class GSSDConfig:
    simclr: SimCLRConfig
    flows: FlowConfig
    retrain: TrainConfig
    detection: DetectionConfig = field(default_factory=DetectionConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    finetune_epochs: int = 2  # official code: 2 epochs of SGD at lr 1e-4 on the relabeled suspects
    finetune_lr: float = 1e-4

    def with_seed(self, seed: int) -> GSSDConfig:
        return replace(self, simclr=replace(self.simclr, seed=seed), flows=replace(self.flows, seed=seed),
                       retrain=replace(self.retrain, seed=seed))

    def finetune_config(self) -> TrainConfig:
        return replace(self.retrain, epochs=self.finetune_epochs, lr=self.finetune_lr, milestones=(),
                       schedule="step")


@dataclass
class DefenseResult:
    stats: ClassStatistics
    split: Split
    loglik: np.ndarray
    features: np.ndarray  # standardized training features
    simclr_loss: list[float]
    flow_curves: np.ndarray  # (C, epochs) flow NLL per dimension
    wall_time_s: dict[str, float]
    keys: dict[str, str]
    retrained: nn.Module | None = None
    finetuned: nn.Module | None = None

    @property
    def final_model(self) -> nn.Module | None:
        return self.finetuned if self.finetuned is not None else self.retrained


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    timings[stage] = round(time.perf_counter() - start, 2)


def defend_features(x_train: np.ndarray, y_train: np.ndarray, num_classes: int, config: GSSDConfig,
                    progress: bool = True) -> DefenseResult:
    """Stages 1-6: SimCLR, features, flows, detection, split and relabels (no classifier)."""
    timings: dict[str, float] = {}
    data_key = array_digest(x_train, y_train)
    simclr_key = config_key(data_key, asdict(config.simclr))
    with _timed(timings, "simclr"):
        model, history = train_simclr(x_train, config.simclr, cache_path("simclr", simclr_key, ".pt"),
                                      progress=progress)
    with _timed(timings, "features"):
        raw = cached_arrays(cache_path("features", simclr_key, ".npz"),
                            lambda: {"train": extract_features(model.backbone, x_train)})["train"]
        (features,) = standardize(raw)
    result = defend_from_features(features, y_train, num_classes, config, simclr_key, progress)
    result.simclr_loss = history["loss"]
    result.wall_time_s = {**timings, **result.wall_time_s}
    result.keys.update(data=data_key, simclr=simclr_key)
    return result


def defend_from_features(features: np.ndarray, y_train: np.ndarray, num_classes: int, config: GSSDConfig,
                         features_key: str, progress: bool = True) -> DefenseResult:
    """Stages 3-6 on any standardized features (SimCLR's, or another extractor's for the Table 3 ablation).

    ``features_key`` identifies the features for the cache (e.g. the key of the model that produced them).
    """
    if not np.isfinite(features).all():
        raise ValueError("the features hold NaN or inf values; the feature extractor diverged. Fix: retrain it "
                         "with a lower learning rate, or delete its cache entry.")
    timings: dict[str, float] = {}
    flows_key = config_key(features_key, asdict(config.flows), array_digest(y_train))

    def fit_flows() -> dict[str, np.ndarray]:
        if config.flows.vectorized:
            batched, curves = train_class_flows_batched(features, y_train, num_classes, config.flows,
                                                        progress=progress)
            flows = to_per_class(batched, config.flows)
        else:
            flows, curves = train_class_flows(features, y_train, num_classes, config.flows, progress=progress)
        save_torch(cache_path("flows", flows_key, ".pt"), flow_state(flows))
        return {"loglik": loglik_matrix(flows, features), "curves": np.array(curves)}

    with _timed(timings, "flows"):
        fitted = cached_arrays(cache_path("loglik", flows_key, ".npz"), fit_flows)
    with _timed(timings, "detection + split"):
        stats = detect_target_classes(fitted["loglik"], y_train, config.detection)
        split = split_and_relabel(fitted["loglik"], y_train, stats, config.split)
    return DefenseResult(stats=stats, split=split, loglik=fitted["loglik"], features=features, simclr_loss=[],
                         flow_curves=fitted["curves"], wall_time_s=timings,
                         keys={"features": features_key, "flows": flows_key})


def cached_classifier(x: np.ndarray, y: np.ndarray, num_classes: int, config: TrainConfig, key: str,
                      init: nn.Module | None = None, progress: bool = True) -> nn.Module:
    """Train (or load) a classifier whose cache entry is ``key``; ``init`` starts a fine-tuning from a model."""
    init_state = None if init is None else {k: v.cpu() for k, v in init.state_dict().items()}
    model, _ = train_classifier(x, y, num_classes, config, cache_path("classifier", key, ".pt"), progress=progress,
                                init_state=init_state)
    return model


def retrain_and_finetune(result: DefenseResult, x_train: np.ndarray, y_train: np.ndarray, num_classes: int,
                         config: GSSDConfig, progress: bool = True) -> DefenseResult:
    """Stage 7: train on D̂_C, then fine-tune on the relabeled D̂'_P (skipped when it is empty)."""
    split = result.split
    retrain_key = config_key(array_digest(x_train, y_train), array_digest(split.clean_indices), asdict(config.retrain))
    with _timed(result.wall_time_s, "retrain"):
        result.retrained = cached_classifier(x_train[split.clean_indices], y_train[split.clean_indices], num_classes,
                                             config.retrain, retrain_key, progress=progress)
    result.keys["retrain"] = retrain_key
    if len(split.relabeled_indices):
        result.keys["finetune"] = config_key(retrain_key, array_digest(split.relabeled_indices, split.relabels),
                                             asdict(config.finetune_config()))
        with _timed(result.wall_time_s, "finetune"):
            result.finetuned = cached_classifier(x_train[split.relabeled_indices], split.relabels, num_classes,
                                                 config.finetune_config(), result.keys["finetune"],
                                                 init=result.retrained, progress=progress)
    return result


def run_gssd(x_train: np.ndarray, y_train: np.ndarray, num_classes: int, config: GSSDConfig,
             train: bool = True, progress: bool = True) -> DefenseResult:
    """The whole defense on a (possibly poisoned) training set."""
    result = defend_features(x_train, y_train, num_classes, config, progress)
    if train:
        result = retrain_and_finetune(result, x_train, y_train, num_classes, config, progress)
    return result
