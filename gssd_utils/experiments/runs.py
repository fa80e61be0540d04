"""The unit of the book: one attack on one profile's data, and every defense run on that poisoned set.

``AttackRun`` owns its artifacts: the poisoned set and its ground truth, each defense's outcome (computed once per
process, every stage cached on disk), GSSD's SSL model, features and flows, and the measurements. Notebooks and
commands ask a run for what they show; nothing else rebuilds cache paths or re-passes configs alongside it.

A defense sees only ``defense_input(name)``: the poisoned training images with their observed labels, plus the
clean reserve for the defenses that use clean data. The reserve is split off before poisoning and left out of
the training set of every defense, so all of them train on the same images.
"""

from __future__ import annotations

import copy
import json
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from gssd_utils.atomic_io import save_json
from gssd_utils.attacks import PoisonedDataset, PoisonTruth, poison_dataset
from gssd_utils.cache import CacheMissWarning, cache_path, config_key, new_record, origin
from gssd_utils.data import ImageDataset
from gssd_utils.defenses.base import Defense, DefenseInput, DefenseOutcome
from gssd_utils.defenses.registry import build_defense, get_defense_class
from gssd_utils.evaluation import (
    Evaluation,
    Metrics,
    SplitEvaluation,
    attack_metrics,
    evaluate_removal,
)
from gssd_utils.gssd.pipeline import DefenseResult, class_flows, defend_features
from gssd_utils.profiles import Profile, apply_settings
from gssd_utils.provenance import CACHED, StageTime, charge, measure
from gssd_utils.ssl.base import SSLModel
from gssd_utils.ssl.features import standardize
from gssd_utils.ssl.stage import ssl_features, ssl_stage

# what a cached RunResult records is keyed by the settings, not by the code that measured it: bump this when the
# measurement, the evaluation or what a defense trains from the same settings changes, so no result computed by the
# old rules is read back (2: GSSD's fine-tuning and ABL's unlearning without the lookahead)
RESULT_VERSION = 2


@dataclass
class RunResult:
    """One defense on one poisoned set: its ACC/ASR, what it set aside against the truth, and its cost."""

    attack: str
    defense: str
    rate: float
    n_poisoned: int
    metrics: Metrics
    evaluation: Evaluation
    stages: dict[str, StageTime]
    split: SplitEvaluation | None = None  # GSSD's detection and split (App. L)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def compute_s(self) -> float:
        return sum(stage.compute_s for stage in self.stages.values())

    @property
    def cache(self) -> str:
        kinds = {stage.cache for stage in self.stages.values()}
        return kinds.pop() if len(kinds) == 1 else "partly cached"

    def as_dict(self) -> dict:
        return {"attack": self.attack, "defense": self.defense, "rate": self.rate, "n_poisoned": self.n_poisoned,
                "metrics": self.metrics.as_dict(), "evaluation": self.evaluation.as_dict(),
                "split": None if self.split is None else self.split.as_dict(), "details": self.details,
                "stages": {name: stage.as_dict() for name, stage in self.stages.items()}}

    @classmethod
    def from_cache(cls, record: dict) -> RunResult:
        """A result read back from the cache: every stage marked as a cache hit at its original cost."""
        stages = {name: StageTime(compute_s=s["compute_s"], cache=CACHED, peak_mb=s.get("peak_mb"),
                                  origin=s.get("origin") or [record.get("computed_on", "")])
                  for name, s in record["stages"].items()}
        split = record.get("split")
        return cls(attack=record["attack"], defense=record["defense"], rate=record["rate"],
                   n_poisoned=record["n_poisoned"], metrics=Metrics(**record["metrics"]),
                   evaluation=Evaluation(**record["evaluation"]), stages=stages,
                   split=None if split is None else SplitEvaluation(**split), details=record["details"])


class AttackRun:
    """One attack on ``profile``'s data (``data`` or the profile's own), poisoned with ``poison_seed``."""

    def __init__(self, profile: Profile, attack: str, rate: float | None = None, target: int = 0,
                 poison_seed: int = 0, data: ImageDataset | None = None, data_root: str | Path | None = None,
                 progress: bool = True) -> None:
        self.profile, self.progress = profile, progress
        data = data if data is not None else profile.load_data(data_root)
        self.clean, self.reserve = data.split_reserve(profile.clean_reserve, profile.subset_seed)
        self.poison_stage = StageTime()
        with measure(self.poison_stage):
            self.poisoned: PoisonedDataset = poison_dataset(
                self.clean, profile.poison_config(attack, rate, target, poison_seed), progress)
        self._outcomes: dict[str, DefenseOutcome] = {}
        self._defenses: dict[str, Defense] = {}  # the instance behind each outcome
        self._results: dict[str, RunResult] = {}
        self._gssd_features: DefenseResult | None = None

    # ---- what the run is ------------------------------------------------------------------------------------

    @property
    def attack(self) -> str:
        return self.poisoned.config.attack

    @property
    def target(self) -> int:
        return self.poisoned.config.target

    @property
    def truth(self) -> PoisonTruth:
        return self.poisoned.truth

    @property
    def x_train(self) -> np.ndarray:
        return self.poisoned.data.x_train

    @property
    def y_train(self) -> np.ndarray:
        """The observed (poisoned) labels."""
        return self.poisoned.data.y_train

    @property
    def rate(self) -> float:
        return self.poisoned.config.resolved_rate()

    def is_poisoned(self) -> np.ndarray:
        return self.truth.is_poisoned(len(self.y_train))

    # ---- defenses -------------------------------------------------------------------------------------------

    def afresh(self) -> AttackRun:
        """This poisoned set and reserve with nothing defended yet in this process (every outcome asked for again
        is computed or read from the cache anew); nothing is poisoned again."""
        other = copy.copy(self)
        other._outcomes, other._defenses, other._results, other._gssd_features = {}, {}, {}, None
        return other

    def with_train_seed(self, seed: int) -> AttackRun:
        """This poisoned set and reserve with every model trained seeded ``seed`` (``Profile.with_train_seed``)."""
        other = self.afresh()
        other.profile = self.profile.with_train_seed(seed)
        return other

    def with_ssl_method(self, method: str) -> AttackRun:
        """This poisoned set and reserve with the profile's ``ssl.method`` (and the defenses that share its stage)
        switched to ``method``, as ``--set ssl.method=...`` switches it."""
        other = self.afresh()
        other.profile = apply_settings(self.profile, [f"ssl.method={method}"])
        return other

    def defense_input(self, name: str) -> DefenseInput:
        """What defense ``name`` may see: never the ground truth; the clean reserve only if it uses clean data."""
        data = self.poisoned.data
        clean = get_defense_class(name).uses_clean_data
        return DefenseInput(data.x_train, data.y_train, data.num_classes,
                            *(self.reserve if clean else (None, None)))

    def defend(self, name: str) -> DefenseOutcome:
        """Defense ``name`` at this profile's settings on the poisoned set (once per process; stages cached)."""
        if name not in self._outcomes:
            defense = build_defense(name, self.profile.defense_config(name), self.profile.classifier, self.progress)
            data = self.defense_input(name)
            defense.check(data)
            self._outcomes[name], self._defenses[name] = defense.run(data), defense
        return self._outcomes[name]

    def result(self, name: str) -> RunResult:
        """Defense ``name``'s outcome measured: ACC/ASR, and what it set aside against the ground truth.

        Kept in the cache under the run's key (``run_key``): a book rendered after a sweep reads it back, with each
        stage's original cost, device and host, and trains or measures nothing.
        """
        if name in self._results:
            return self._results[name]
        path = cache_path("runs", self.run_key(name), ".json")
        if path.is_file():
            try:
                record = json.loads(path.read_text())
                result = RunResult.from_cache(record)
            except (ValueError, KeyError, TypeError) as exc:  # unreadable or foreign: recomputed, never trusted
                warnings.warn(f"cache entry {path} is unreadable ({exc}); recomputing it", CacheMissWarning,
                              stacklevel=2)
            else:
                charge(result.compute_s, cached=True, origin=record.get("computed_on", ""))
                self._results[name] = result
                return result
        outcome = self.defend(name)
        n = len(self.y_train)
        split = self._defenses[name].evaluate_split(outcome, self.truth, n)
        result = RunResult(
            attack=self.attack, defense=name, rate=self.rate, n_poisoned=len(self.truth.poison_indices),
            metrics=self.measure(outcome.model),
            evaluation=evaluate_removal(outcome.removed, outcome.relabeled, outcome.relabels, self.truth, n),
            stages=outcome.stages, split=split, details=outcome.details)
        save_json(path, {**result.as_dict(), "computed_on": origin(new_record(None, 0.0, None))})
        self._results[name] = result
        return result

    def run_key(self, defense: str) -> str:
        """What identifies defense ``defense``'s run on this poisoned set: data, poisoning, reserve, settings."""
        config = self.profile.defense_config(defense)
        return self.key("run", RESULT_VERSION, defense, asdict(config), self.profile.clean_reserve)

    def measure(self, model: nn.Module, key: str | None = None) -> Metrics:
        """ACC and ASR of ``model`` on this run's test sets; with ``key`` (the model's cache key) kept in the cache."""
        if key is None:
            return attack_metrics(model, self.poisoned)
        path = cache_path("metrics", self.key("metrics", RESULT_VERSION, key), ".json")
        if path.is_file():
            try:
                metrics = Metrics(**json.loads(path.read_text()))
                charge(0.0, cached=True)  # served from the cache (a measurement costs seconds; none is recorded)
                return metrics
            except (ValueError, TypeError) as exc:
                warnings.warn(f"cache entry {path} is unreadable ({exc}); recomputing it", CacheMissWarning,
                              stacklevel=2)
        metrics = attack_metrics(model, self.poisoned)
        save_json(path, metrics.as_dict())
        return metrics

    # ---- GSSD's artifacts, for the chapters that look inside it ---------------------------------------------

    def gssd(self, train: bool = False) -> DefenseResult:
        """GSSD's stages on this run; with ``train`` also the retrained and fine-tuned classifiers."""
        if train or "gssd" in self._outcomes:
            return self.defend("gssd").state
        if self._gssd_features is None:
            self._gssd_features = defend_features(self.x_train, self.y_train, self.poisoned.data.num_classes,
                                                  self.profile.gssd(), self.progress)
        return self._gssd_features

    def ssl_model(self) -> SSLModel:
        """The run's self-supervised model (from the cache; trained only if its entry is gone)."""
        model, _, _ = ssl_stage(self.x_train, self.profile.ssl, progress=False)
        return model

    def raw_features(self, images: np.ndarray, name: str) -> np.ndarray:
        """Self-supervised backbone features of any images (cached per image set under ``name``)."""
        model, _, key = ssl_stage(self.x_train, self.profile.ssl, progress=False)
        return ssl_features(model, images, key, name)

    def features(self, images: np.ndarray, name: str) -> np.ndarray:
        """Features standardized with the training set's statistics, comparable with ``gssd().features``."""
        return standardize(self.raw_features(self.x_train, "train"), self.raw_features(images, name))[1]

    def flows(self) -> list:
        return class_flows(self.gssd(), self.profile.gssd())

    def key(self, *parts: Any) -> str:
        """A cache key for something computed from this run (its data, poisoning and profile settings)."""
        return config_key(self.clean.identity(), self.poisoned.config.as_dict(), asdict(self.profile.classifier),
                          *parts)

    def cache_path(self, kind: str, *parts: Any, suffix: str = ".npz") -> Path:
        return cache_path(kind, self.key(*parts), suffix)

