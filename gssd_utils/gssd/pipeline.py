"""GSSD end to end (Algorithm 1), every stage cached on disk under a key of its config and inputs.

The defense sees the poisoned training images and their observed labels, nothing else: ground truth
enters only through ``evaluation``. Stages are also callable alone (``ssl.train.train_ssl``, ``train_class_flows``,
``detect_target_classes``, ``split_and_relabel``, ``train_classifier``); this module wires them, so all
notebooks share one self-supervised model and one set of flows per poisoned data set. Each stage's cost is recorded
(``provenance.StageTime``): its wall time here, and what it originally cost when the cache served it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from torch import nn

from gssd_utils.cache import array_digest, cache_path, cached_arrays, config_key
from gssd_utils.gssd.batched_flows import to_per_class, train_class_flows_batched
from gssd_utils.gssd.config import GSSDConfig
from gssd_utils.gssd.detection import ClassStatistics, detect_target_classes
from gssd_utils.gssd.flows import flow_arrays, flows_from_arrays, loglik_matrix, train_class_flows
from gssd_utils.gssd.splitting import Split, split_and_relabel
from gssd_utils.provenance import StageTime, timed_stage
from gssd_utils.ssl.features import standardize
from gssd_utils.ssl.stage import ssl_features, ssl_stage
from gssd_utils.training.classifier import cached_classifier


@dataclass
class DefenseResult:
    stats: ClassStatistics
    split: Split
    loglik: np.ndarray
    features: np.ndarray  # standardized training features
    ssl_loss: list[float]
    flow_curves: np.ndarray  # (C, epochs) flow NLL per dimension
    stages: dict[str, StageTime]
    keys: dict[str, str]
    retrained: nn.Module | None = None
    finetuned: nn.Module | None = None
    flow_params: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def final_model(self) -> nn.Module | None:
        return self.finetuned if self.finetuned is not None else self.retrained


def defend_features(x_train: np.ndarray, y_train: np.ndarray, num_classes: int, config: GSSDConfig,
                    progress: bool = True) -> DefenseResult:
    """Stages 1-6: SimCLR, features, flows, detection, split and relabels (no classifier)."""
    stages: dict[str, StageTime] = {}
    with timed_stage(stages, "ssl"):
        model, history, ssl_key = ssl_stage(x_train, config.ssl, progress)
    with timed_stage(stages, "features"):
        (features,) = standardize(ssl_features(model, x_train, ssl_key))
    result = defend_from_features(features, y_train, num_classes, config, ssl_key, progress)
    result.ssl_loss = history["loss"]
    result.stages = {**stages, **result.stages}
    result.keys.update(data=array_digest(x_train, y_train), ssl=ssl_key)
    return result


def defend_from_features(features: np.ndarray, y_train: np.ndarray, num_classes: int, config: GSSDConfig,
                         features_key: str, progress: bool = True) -> DefenseResult:
    """Stages 3-6 on any standardized features (SimCLR's, or another extractor's for the Table 3 ablation).

    ``features_key`` identifies the features for the cache (e.g. the key of the model that produced them).
    """
    if not np.isfinite(features).all():
        raise ValueError("the features hold NaN or inf values; the feature extractor diverged. Fix: lower "
                         "ssl.lr, or delete its cache entry")
    stages: dict[str, StageTime] = {}
    flows_key = config_key(features_key, asdict(config.flows), array_digest(y_train))

    def fit_flows() -> dict[str, np.ndarray]:
        if config.flows.vectorized:
            batched, curves = train_class_flows_batched(features, y_train, num_classes, config.flows,
                                                        progress=progress)
            flows = to_per_class(batched, config.flows)
        else:
            flows, curves = train_class_flows(features, y_train, num_classes, config.flows, progress=progress)
        return {"loglik": loglik_matrix(flows, features), "curves": np.array(curves), **flow_arrays(flows)}

    with timed_stage(stages, "flows"):
        fitted = cached_arrays(cache_path("flows", flows_key, ".npz"), fit_flows,
                               config={"features": features_key, "flows": asdict(config.flows)},
                               expect={"loglik": (len(features), num_classes), "curves": (num_classes, None)})
    with timed_stage(stages, "detection + split"):
        stats = detect_target_classes(fitted["loglik"], y_train, config.detection)
        split = split_and_relabel(fitted["loglik"], y_train, stats, config.split)
    params = {k: v for k, v in fitted.items() if k.startswith("flow")}
    return DefenseResult(stats=stats, split=split, loglik=fitted["loglik"], features=features, ssl_loss=[],
                         flow_curves=fitted["curves"], stages=stages,
                         keys={"features": features_key, "flows": flows_key}, flow_params=params)


def class_flows(result: DefenseResult, config: GSSDConfig) -> list:
    """The result's per-class flows, rebuilt from their cached parameters."""
    return flows_from_arrays(result.flow_params, result.loglik.shape[1], result.features.shape[1], config.flows)


def retrain_and_finetune(result: DefenseResult, x_train: np.ndarray, y_train: np.ndarray, num_classes: int,
                         config: GSSDConfig, progress: bool = True) -> DefenseResult:
    """Stage 7: train on D̂_C, then fine-tune on the relabeled D̂'_P (skipped when it is empty).

    The fine-tuning trains as the official code does, batch norm included: its running statistics move to those of
    D̂'_P, which is mostly triggered images. At quick that, not the weights, is what removes the backdoor and what
    costs clean accuracy (``experiments.ablations.finetune_anatomy``); freezing the statistics would be a different
    defense, and the anatomy's crossed model shows it keeps the backdoor at this scale.
    """
    split = result.split
    retrain_key = config_key(array_digest(x_train, y_train), array_digest(split.clean_indices), asdict(config.retrain))
    with timed_stage(result.stages, "retrain"):
        result.retrained = cached_classifier(x_train[split.clean_indices], y_train[split.clean_indices], num_classes,
                                             config.retrain, retrain_key, progress=progress)
    result.keys["retrain"] = retrain_key
    if len(split.relabeled_indices):
        finetune = config.finetune_config()
        result.keys["finetune"] = config_key(retrain_key, array_digest(split.relabeled_indices, split.relabels),
                                             asdict(finetune))
        with timed_stage(result.stages, "finetune"):
            result.finetuned = cached_classifier(x_train[split.relabeled_indices], split.relabels, num_classes,
                                                 finetune, result.keys["finetune"], init=result.retrained,
                                                 progress=progress)
    return result
