"""The settings of every baseline defense, at its authors' CIFAR-10 defaults (the paper profile uses them as they
are; the CPU profiles scale epochs and iterations in ``profiles.py``). Kept free of torch, so that the profiles can
build them; a defense's class says which is its (``config_class``) and how a profile defaults it (``default_config``).

Sources: NAD ``bboylyg/NAD``; ABL ``bboylyg/ABL``; DBD ``SCLBD/DBD``; ASD ``KuofengGao/ASD``; kNN/energy Wang et
al. (ICASSP 2023). Each defense trains the profile's classifier recipe (network, batch size, augmentation); the
fields below are what its authors set differently for their phases.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gssd_utils.training.config import MixMatchConfig, SSLConfig
from gssd_utils.validation import check_range


@dataclass(frozen=True)
class NoDefenseConfig:
    """Nothing to set: the classifier recipe is the profile's."""


@dataclass(frozen=True)
class KnnEnergyConfig:
    ssl: SSLConfig = field(default_factory=SSLConfig)  # the profile's: GSSD's features are reused
    k: int | None = None  # None: half the mean class size (Wang et al.)
    temperature: float = 0.5
    relabel_percentile: float = 80.0
    chunk: int = 1024

    def __post_init__(self) -> None:
        if self.k is not None and self.k < 1:
            raise ValueError(f"knn.k={self.k} must be at least 1")
        if not self.temperature > 0:
            raise ValueError(f"energy.temperature={self.temperature} must be positive")
        check_range("knn", "relabel_percentile", self.relabel_percentile, 0.0, 100.0)


@dataclass(frozen=True)
class NadConfig:
    """NAD: a teacher fine-tuned on the clean reserve, then the backdoored model distilled towards the teacher's
    attention maps on the same reserve. With all ``betas`` zero it is plain fine-tuning on the reserve."""

    teacher_epochs: int = 10
    epochs: int = 20
    lr: float = 0.1  # SGD; the student's lr drops to lr / 10 after ``lr_drop_epoch`` epochs
    lr_drop_epoch: int = 2
    batch_size: int = 64
    momentum: float = 0.9
    weight_decay: float = 1e-4
    betas: tuple[float, ...] = (500.0, 1000.0, 1000.0)  # the authors' attention loss weights, last three stages
    power: float = 2.0  # attention map: mean over channels of |activation|^power
    # the positions of the authors' three attention maps (WRN-16-1 on 32x32 CIFAR-10: 32x32, 16x16, 8x8); with
    # ``scale_betas`` each beta is multiplied by (our map's positions) / (theirs), see ``nad.adapted_betas``
    reference_positions: tuple[int, ...] = (1024, 256, 64)
    scale_betas: bool = True

    def __post_init__(self) -> None:
        check_range("nad", "epochs", self.epochs, 1, 10_000)
        check_range("nad", "teacher_epochs", self.teacher_epochs, 0, 10_000)
        check_range("nad", "lr", self.lr, 1e-8, 10.0)
        if len(self.betas) != 3 or min(self.betas) < 0:
            raise ValueError(f"nad.betas={self.betas} must be three non-negative weights (the last three stages)")
        if len(self.reference_positions) != 3 or min(self.reference_positions) < 1:
            raise ValueError(f"nad.reference_positions={self.reference_positions} must be three positive counts")

    @property
    def distills(self) -> bool:
        return any(b > 0 for b in self.betas)


@dataclass(frozen=True)
class FineTuneConfig(NadConfig):
    """NAD's student phase without the attention loss: plain fine-tuning on the clean reserve."""

    teacher_epochs: int = 0
    betas: tuple[float, ...] = (0.0, 0.0, 0.0)


@dataclass(frozen=True)
class AblConfig:
    """ABL: isolate the lowest-loss samples under a local-gradient-ascent loss, train on the rest, then unlearn the
    isolated ones by gradient ascent."""

    isolation_epochs: int = 10  # T_te of the original configuration
    gamma: float = 0.5  # LGA loss: sign(CE - gamma) * CE
    isolation_ratio: float = 0.01
    isolation_lr: float = 0.1
    finetune_epochs: int = 60  # training on the 99% that was not isolated; 0 skips it
    finetune_lr: float = 0.1  # divided by 10 after ``finetune_lr_drop`` of the epochs (40 of 60)
    finetune_lr_drop: float = 2 / 3
    unlearning_epochs: int = 5
    unlearning_lr: float = 5e-4
    momentum: float = 0.9
    weight_decay: float = 1e-4

    def __post_init__(self) -> None:
        check_range("abl", "isolation_epochs", self.isolation_epochs, 1, 10_000)
        check_range("abl", "gamma", self.gamma, 0.0, 10.0)
        check_range("abl", "isolation_ratio", self.isolation_ratio, 1e-6, 0.5)
        check_range("abl", "unlearning_epochs", self.unlearning_epochs, 0, 10_000)


@dataclass(frozen=True)
class DbdConfig:
    """DBD: self-supervised backbone, a linear head warmed up with symmetric cross-entropy, then each epoch the
    lower-loss half keeps its labels and the whole network trains with MixMatch."""

    ssl: SSLConfig = field(default_factory=SSLConfig)  # the profile's; see the book for DBD's own recipe
    warmup_epochs: int = 10  # linear head on the frozen backbone, Adam 0.002
    warmup_lr: float = 0.002
    sce_alpha: float = 0.1
    sce_beta: float = 1.0
    labelled_share: float = 0.5  # epsilon: the share of lowest-loss samples that keep their labels
    mixmatch: MixMatchConfig = field(default_factory=MixMatchConfig)

    def __post_init__(self) -> None:
        check_range("dbd", "labelled_share", self.labelled_share, 0.01, 0.99)


@dataclass(frozen=True)
class AsdConfig:
    """ASD: MixMatch from scratch with a clean pool that grows class by class from clean seeds (first half of the
    epochs), then is the lowest-loss half (to 3/4), then the half that a one-epoch meta-update forgets least."""

    seeds_per_class: int = 10  # drawn from the clean reserve (the official code uses the ground truth)
    pool_growth: int = 10  # per class, every ``growth_every`` epochs of the class-aware phase
    growth_every: int = 5
    class_aware_until: float = 0.5  # fractions of the epochs: 60 and 90 of 120
    meta_from: float = 0.75
    pool_share: float = 0.5
    meta_lr: float = 0.015  # Adam on the last two stages and the head, one epoch on the whole set
    sce_alpha: float = 0.1
    sce_beta: float = 1.0
    mixmatch: MixMatchConfig = field(default_factory=lambda: MixMatchConfig(epochs=120))

    def __post_init__(self) -> None:
        check_range("asd", "seeds_per_class", self.seeds_per_class, 1, 100_000)
        check_range("asd", "pool_share", self.pool_share, 0.01, 0.99)
        if not 0 < self.class_aware_until <= self.meta_from <= 1:
            raise ValueError("asd: need 0 < class_aware_until <= meta_from <= 1 (fractions of the epochs)")
