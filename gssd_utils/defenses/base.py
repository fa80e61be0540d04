"""The defense interface and registry: every defense takes the same input and returns the same kind of outcome.

Input (``DefenseInput``): the training set as delivered — images and their observed labels — and, for the
defenses that need one, a clean reserve. It holds no ground truth: nothing a defense receives can tell it which
samples are poisoned. Output (``DefenseOutcome``): the trained classifier, the training samples the defense
flagged, isolated or dropped (``removed``), the samples it relabeled, and the cost of each stage.

Adding a defense: a module with a frozen config dataclass (its authors' defaults, range checks in
``__post_init__``) and a ``Defense`` subclass decorated with ``@register``, imported in ``defenses/registry.py``.
Everything else learns about it from the class: the tables (``display``), the clean-data control (``sets_aside``),
the sweep's waves (``reuses``) and estimate (``work``), the profiles' defaults (``default_config``) and what
``gssd defend`` writes and measures (``extra_outputs``, ``evaluate_split``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from gssd_utils.cache import array_digest
from gssd_utils.provenance import StageTime

if TYPE_CHECKING:
    from torch import nn

    from gssd_utils.attacks import PoisonTruth
    from gssd_utils.evaluation import SplitEvaluation
    from gssd_utils.profiles import Profile
    from gssd_utils.training.config import SSLConfig, TrainConfig


class MissingCleanDataError(ValueError):
    """A defense that needs clean data was given none; the message names the way to give it."""


@dataclass(frozen=True)
class DefenseInput:
    """What a defense may see. ``x_clean``/``y_clean`` is a clean reserve, split off before poisoning."""

    x_train: np.ndarray
    y_train: np.ndarray
    num_classes: int
    x_clean: np.ndarray | None = None
    y_clean: np.ndarray | None = None

    @property
    def has_clean(self) -> bool:
        return self.x_clean is not None and len(self.x_clean) > 0

    def train_key(self) -> str:
        """A content hash of the training set (what a model trained on it depends on)."""
        return array_digest(self.x_train, self.y_train)

    def clean_key(self) -> str:
        """A content hash of the clean reserve ('none' when there is none)."""
        return array_digest(self.x_clean, self.y_clean) if self.has_clean else "none"


@dataclass
class DefenseOutcome:
    """What a defense produced. ``removed``: training indices not trained on with their given label (flagged,
    isolated, dropped or relabeled); ``relabels[i]`` is the label given to ``relabeled[i]``."""

    model: nn.Module
    removed: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    relabeled: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    relabels: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    stages: dict[str, StageTime] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)  # JSON-able diagnostics of this defense
    state: Any = None  # the defense's own intermediate result (GSSD's DefenseResult), for the book's chapters


class Defense(ABC):
    """A backdoor defense: ``run`` turns a possibly poisoned training set into a classifier."""

    name: ClassVar[str]
    display: ClassVar[str]  # its name in the book's tables; a * marks the defenses that use clean data
    summary: ClassVar[str]
    config_class: ClassVar[type]
    uses_clean_data: ClassVar[bool] = False
    # a cleansing defense chooses what to keep before it trains, and can stop there (``cleanse``)
    cleansing: ClassVar[bool] = False
    # it chooses what to train on (sets samples aside, isolates or unlabels them): the clean-data control runs it
    sets_aside: ClassVar[bool] = False
    # the defenses whose trained models it starts from (the no-defense model, GSSD's SSL model): the sweep runs it in
    # its second wave, after them, so no model is trained twice by two jobs at once
    reuses: ClassVar[tuple[str, ...]] = ()
    # the profile's own sections its config is assembled from, when it is (GSSD's); its settings are then changed
    # there (``--set flows.epochs=...``), and ``--set defenses.NAME.*`` is refused, naming them
    profile_sections: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def default_config(cls, profile: Profile) -> Any:
        """Its settings at a profile that sets none of its own: its authors' defaults (``config_class()``); a
        defense that shares a stage of the profile's (self-supervision) takes the profile's recipe for it."""
        return cls.config_class()

    @classmethod
    def work(cls, profile: Profile, n_train: int, n_reserve: int) -> dict[str, int]:
        """What it trains at ``profile``, in images per network (``"classifier"``, ``"SSL"``), for the sweep's
        estimate; a model it reuses is counted where it is trained, not here. Default: one classifier training."""
        return {"classifier": n_train * profile.classifier.epochs}

    def __init__(self, config: Any, recipe: TrainConfig, progress: bool = True) -> None:
        self.config = config
        self.recipe = recipe  # the profile's classifier recipe, the same for every defense
        self.progress = progress

    @abstractmethod
    def run(self, data: DefenseInput) -> DefenseOutcome:
        """Defend; ``data`` holds no ground truth."""

    def cleanse(self, data: DefenseInput) -> DefenseOutcome:
        """Only choose what to keep and relabel (no model); for the defenses with ``cleansing``."""
        raise NotImplementedError(f"defense {self.name!r} trains a classifier by design; it has no cleansing step")

    def check(self, data: DefenseInput) -> None:
        """Refuse unusable input before any work; defenses add their own conditions."""
        if self.uses_clean_data and not data.has_clean:
            raise MissingCleanDataError(
                f"defense {self.name!r} needs a clean reserve and none was given. Fix: add x_clean and y_clean "
                "arrays to the data npz, or pass --clean FILE.npz (gssd defend), or choose a defense that needs "
                "no clean data")

    def extra_outputs(self, outcome: DefenseOutcome) -> dict[str, dict[str, np.ndarray]]:
        """Files beyond removed.npz and model.pt that ``gssd defend`` writes for this defense, as npz name ->
        arrays: the intermediate results a user of this defense wants to inspect."""
        return {}

    def evaluate_split(self, outcome: DefenseOutcome, truth: PoisonTruth, n: int) -> SplitEvaluation | None:
        """How its split of the training set (clean / suspect / uncertain) fares against the ground truth, for a
        defense that makes one; the experimenter's side (the book, ``gssd defend --truth``): the defense itself
        never sees ``truth``."""
        return None


DEFENSES: dict[str, type[Defense]] = {}


def register(cls: type[Defense]) -> type[Defense]:
    DEFENSES[cls.name] = cls
    return cls


def get_defense_class(name: str) -> type[Defense]:
    try:
        return DEFENSES[name]
    except KeyError:
        raise ValueError(f"unknown defense {name!r}; valid choices: {', '.join(DEFENSES)}") from None


def check_self_supervised(data: DefenseInput, config: SSLConfig, section: str = "ssl") -> None:
    """The self-supervised stage's method must be registered, and it drops ragged batches, so it needs at least
    one full batch of images."""
    from gssd_utils.ssl.registry import METHODS

    if config.method not in METHODS:
        raise ValueError(f"unknown self-supervised method {config.method!r}. Fix: --set {section}.method=NAME, "
                         f"one of {', '.join(METHODS)}")
    if len(data.x_train) < config.batch_size:
        raise ValueError(f"self-supervised training needs at least one full batch: {len(data.x_train)} images < "
                         f"batch size {config.batch_size}. Fix: --set {section}.batch_size={len(data.x_train)} "
                         "(or smaller)")


def class_counts(data: DefenseInput) -> np.ndarray:
    return np.bincount(data.y_train, minlength=data.num_classes)


def build_defense(name: str, config: Any, recipe: TrainConfig, progress: bool = True) -> Defense:
    return get_defense_class(name)(config, recipe, progress)
