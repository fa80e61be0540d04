"""The kNN and energy cleansing of Wang et al. (ICASSP 2023) on self-supervised features.

Their Algorithm 1: a sample is accepted when the class predicted from its neighbourhood in feature space
agrees with its label, otherwise rejected; a rejected sample whose confidence exceeds the 80th percentile
of the accepted samples' confidences is relabeled to the predicted class and kept. Choices made here:
- Features: the same standardized self-supervised backbone features GSSD uses, L2-normalised, so the two defenses
  differ only in what they do with the features. (Wang et al. train their own encoder for 1,000 epochs.)
- kNN: cosine similarity, the sample itself excluded, plurality vote; k defaults to half the mean class
  size, their choice. Confidence: the fraction of the k neighbours carrying the predicted label.
- Energy (their Eq. 6): S_c(z_i) = log mean_{k in class c, k != i} softmax_k(z_i·z_k / τ) over all k != i.
  Confidence: max_c S_c, as they suggest. τ defaults to the profile's NT-Xent temperature (``ssl.temperature``).
- The final classifier is trained with the profile's recipe, not SupCon, so that GSSD and this baseline share
  the retraining and differ only in the cleansing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from gssd_utils.cache import array_digest, config_key
from gssd_utils.defenses.base import (
    Defense,
    DefenseInput,
    DefenseOutcome,
    check_self_supervised,
    class_counts,
    register,
)
from gssd_utils.defenses.configs import KnnEnergyConfig
from gssd_utils.provenance import timed_stage
from gssd_utils.ssl.features import standardize
from gssd_utils.ssl.stage import ssl_features, ssl_stage
from gssd_utils.training.classifier import cached_classifier

if TYPE_CHECKING:
    from gssd_utils.profiles import Profile

METHODS = ("knn", "energy")


@dataclass
class Cleansing:
    """Indices into the training set; ``relabels[i]`` is the new label of ``relabeled_indices[i]``."""

    accepted_indices: np.ndarray
    rejected_indices: np.ndarray  # rejected and not relabeled: dropped
    relabeled_indices: np.ndarray
    relabels: np.ndarray
    predictions: np.ndarray
    confidence: np.ndarray
    threshold: float

    @property
    def kept_indices(self) -> np.ndarray:
        return np.sort(np.concatenate([self.accepted_indices, self.relabeled_indices]))

    def kept_labels(self, labels: np.ndarray) -> np.ndarray:
        """The training labels of ``kept_indices``, relabels applied."""
        new = labels.copy()
        new[self.relabeled_indices] = self.relabels
        return new[self.kept_indices]


def _normalized(features: np.ndarray) -> torch.Tensor:
    if not np.isfinite(features).all():
        raise ValueError("features hold NaN or inf values; check the feature extractor before cleansing")
    return torch.nn.functional.normalize(torch.from_numpy(features).float(), dim=1)


@torch.no_grad()
def knn_predict(features: np.ndarray, labels: np.ndarray, k: int, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """(plurality class of the k nearest others, the fraction of them voting for it)."""
    z, y = _normalized(features), torch.from_numpy(labels).long()
    num_classes = int(y.max()) + 1
    k = min(k, len(z) - 1)
    preds, confs = [], []
    for s in range(0, len(z), chunk):
        sim = z[s : s + chunk] @ z.T
        sim[torch.arange(len(sim)), torch.arange(s, s + len(sim))] = -torch.inf  # not its own neighbour
        votes = torch.zeros(len(sim), num_classes).scatter_add_(1, y[sim.topk(k, dim=1).indices],
                                                                torch.ones(len(sim), k))
        conf, pred = votes.max(dim=1)
        preds.append(pred)
        confs.append(conf / k)
    return torch.cat(preds).numpy(), torch.cat(confs).numpy()


@torch.no_grad()
def energy_scores(features: np.ndarray, labels: np.ndarray, temperature: float, chunk: int = 1024) -> np.ndarray:
    """The (N, C) class scores S_c(z_i) of Wang et al.'s Eq. 6, computed in log space."""
    z, y = _normalized(features), torch.from_numpy(labels).long()
    num_classes = int(y.max()) + 1
    counts = torch.bincount(y, minlength=num_classes).double()
    out = []
    for s in range(0, len(z), chunk):
        logits = (z[s : s + chunk] @ z.T).double() / temperature
        rows = torch.arange(len(logits))
        logits[rows, torch.arange(s, s + len(logits))] = -torch.inf
        log_softmax = logits - torch.logsumexp(logits, dim=1, keepdim=True)
        # log-sum-exp per class of the softmax weights, then minus log |I_c \ {i}|
        shift = log_softmax.max(dim=1, keepdim=True).values
        per_class = torch.zeros(len(logits), num_classes, dtype=torch.float64).index_add_(
            1, y, torch.exp(log_softmax - shift))
        own = torch.nn.functional.one_hot(y[s : s + len(logits)], num_classes).double()
        out.append((torch.log(per_class) + shift - torch.log(counts - own)).float())
    return torch.cat(out).numpy()


def cleanse(features: np.ndarray, labels: np.ndarray, method: str, config: KnnEnergyConfig) -> Cleansing:
    if method not in METHODS:
        raise ValueError(f"unknown cleansing method {method!r}; choose one of {', '.join(METHODS)}")
    counts = np.bincount(labels)
    if (counts < 2).any():
        raise ValueError(f"every class needs at least 2 samples to be cleansed; class sizes {counts.tolist()}")
    if method == "knn":
        k = config.k or max(1, int(counts.mean() // 2))
        predictions, confidence = knn_predict(features, labels, k, config.chunk)
    else:
        scores = energy_scores(features, labels, config.temperature, config.chunk)
        predictions, confidence = scores.argmax(axis=1), scores.max(axis=1)
    accepted = predictions == labels
    threshold = float(np.percentile(confidence[accepted], config.relabel_percentile)) if accepted.any() else np.inf
    relabel = ~accepted & (confidence > threshold)
    return Cleansing(
        accepted_indices=np.flatnonzero(accepted),
        rejected_indices=np.flatnonzero(~accepted & ~relabel),
        relabeled_indices=np.flatnonzero(relabel),
        relabels=predictions[relabel],
        predictions=predictions,
        confidence=confidence,
        threshold=threshold,
    )


class _Cleansing(Defense):
    """Cleanse by ``method`` on self-supervised features, then train the recipe on what is kept (relabels applied)."""

    config_class = KnnEnergyConfig
    cleansing = True
    sets_aside = True
    reuses = ("gssd",)  # the self-supervised model, on the profile's recipe
    method: str

    @classmethod
    def default_config(cls, profile: Profile) -> KnnEnergyConfig:
        """On the profile's self-supervised features, at its NT-Xent temperature (Wang et al. reuse the SSL model's)."""
        return KnnEnergyConfig(ssl=profile.ssl, temperature=profile.ssl.temperature)

    def check(self, data: DefenseInput) -> None:
        super().check(data)
        check_self_supervised(data, self.config.ssl, f"defenses.{self.name}.ssl")
        counts = class_counts(data)
        if (counts < 2).any():
            raise ValueError(f"{self.name} cleansing needs at least 2 samples of every class; class sizes "
                             f"{counts.tolist()}. Fix: use more data per class")

    def cleanse(self, data: DefenseInput) -> DefenseOutcome:
        outcome = DefenseOutcome(model=None)
        x, y = data.x_train, data.y_train
        with timed_stage(outcome.stages, "ssl"):
            model, _, key = ssl_stage(x, self.config.ssl, self.progress)
        with timed_stage(outcome.stages, "features"):
            (features,) = standardize(ssl_features(model, x, key))
        with timed_stage(outcome.stages, "cleansing"):
            cleansing = cleanse(features, y, self.method, self.config)
        outcome.removed = np.setdiff1d(np.arange(len(y)), cleansing.accepted_indices)
        outcome.relabeled, outcome.relabels = cleansing.relabeled_indices, cleansing.relabels
        outcome.details = {"threshold": cleansing.threshold, "accepted": len(cleansing.accepted_indices),
                           "relabeled": len(cleansing.relabeled_indices),
                           "dropped": len(cleansing.rejected_indices)}
        outcome.state = cleansing
        return outcome

    def run(self, data: DefenseInput) -> DefenseOutcome:
        outcome = self.cleanse(data)
        cleansing: Cleansing = outcome.state
        kept, labels = cleansing.kept_indices, cleansing.kept_labels(data.y_train)
        with timed_stage(outcome.stages, "retrain"):
            outcome.model = cached_classifier(
                data.x_train[kept], labels, data.num_classes, self.recipe,
                config_key(data.train_key(), self.method, array_digest(kept, labels), asdict(self.recipe)),
                progress=self.progress)
        return outcome


@register
class Knn(_Cleansing):
    name = "knn"
    display = "kNN"
    method = "knn"
    summary = "Wang et al.: keep samples whose k nearest SimCLR neighbours agree with the label; relabel confident ones"


@register
class Energy(_Cleansing):
    name = "energy"
    display = "Energy"
    method = "energy"
    summary = "Wang et al.: keep samples whose energy score (Eq. 6) agrees with the label; relabel confident ones"
