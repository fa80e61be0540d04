"""The classifier recipe: one frozen config per profile, shared by no defense, GSSD's retraining and every
baseline, so that defenses differ only in what they do to the data and the training, not in the network.

Kept free of torch, so that profiles and the command line load in a fraction of a second.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

from gssd_utils.cache import config_key
from gssd_utils.validation import check_range, require_at_least_one

# the networks of gssd_utils.models, by name (torch-free, for the config checks)
ARCHITECTURES = ("resnet18", "airnet", "small_cnn", "resnet18_imagenet", "densenet121")
PAD_MODES = ("zeros", "reflect")

SCHEDULES = ("step", "cosine", "triangle")
# airbench94's triangle: the lr factor rises linearly from 0.2 to 1 over ``warmup`` of the run, then falls to 0.07
TRIANGLE_START, TRIANGLE_END = 0.2, 0.07


@dataclass(frozen=True)
class TrainConfig:
    arch: str = "resnet18"
    width: int = 64
    epochs: int = 200
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 5e-4
    schedule: str = "step"
    milestones: tuple[float, ...] = (0.5, 0.75)  # fractions of the run: epochs 100 and 150 of 200
    gamma: float = 0.1
    warmup: float = 0.23  # share of the run spent warming up (triangle schedule only)
    label_smoothing: float = 0.0
    bias_lr_scale: float = 1.0  # batch-norm biases train at lr x this (their weight decay per step unchanged)
    lookahead: bool = False  # pull the weights towards their EMA every 5 steps, ending on the EMA
    augment: bool = True  # random translation by up to ``crop_padding`` pixels
    crop_padding: int = 4
    pad_mode: str = "zeros"
    hflip: bool = True  # horizontal flip; off for data whose classes are not mirror-symmetric (digits)
    alternate_flip: bool = False  # flip a fixed random half in even epochs and the other half in odd ones
    tta: bool = False  # evaluate on the mean of the logits of each image and its mirror
    seed: int = 0

    def __post_init__(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {self.arch!r}; choose one of {', '.join(ARCHITECTURES)}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule={self.schedule!r} is not valid; choose one of {', '.join(SCHEDULES)}")
        if self.pad_mode not in PAD_MODES:
            raise ValueError(f"pad_mode={self.pad_mode!r} is not valid; choose one of {', '.join(PAD_MODES)}")
        require_at_least_one(self, ("epochs", "batch_size", "width"), "classifier")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must lie in [0, 1), got {self.label_smoothing}")
        if not 0.0 < self.warmup < 1.0:
            raise ValueError(f"warmup must lie in (0, 1), got {self.warmup}")
        if self.alternate_flip and not self.hflip:
            raise ValueError("alternate_flip needs hflip=True")

    def key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class SimCLRAugmentConfig:
    crop_scale: tuple[float, float] = (0.08, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip_p: float = 0.5
    jitter: tuple[float, float, float, float] = (0.8, 0.8, 0.8, 0.2)  # brightness, contrast, saturation, hue
    jitter_p: float = 0.8
    grayscale_p: float = 0.2


@dataclass(frozen=True)
class SSLConfig:
    """The self-supervised stage: which registered method (``gssd_utils.ssl``) trains which backbone, how long.

    Methods share the backbone, views, optimiser and schedule fields; ``temperature`` and ``head_batch_norm`` are
    SimCLR's, ``momentum`` is BYOL's (its target's starting momentum). Defaults: the official GSSD code's SimCLR.
    """

    method: str = "simclr"
    arch: str = "resnet18"
    width: int = 64
    epochs: int = 100
    batch_size: int = 256
    lr: float = 3e-4
    temperature: float = 0.5
    projection_dim: int = 128
    head_batch_norm: bool = False  # batch norm in the projection head (SimCLR's paper; the official GSSD head has none)
    momentum: float = 0.996  # BYOL's tau_base
    seed: int = 42
    augment: SimCLRAugmentConfig = field(default_factory=SimCLRAugmentConfig)

    def __post_init__(self) -> None:
        require_at_least_one(self, ("epochs", "batch_size", "width", "projection_dim"), "ssl")
        if not self.temperature > 0:
            raise ValueError(f"ssl.temperature must be positive, got {self.temperature}")
        check_range("ssl", "momentum", self.momentum, 0.0, 1.0)

    def key(self) -> str:
        """What a checkpoint must match to be resumed. Not the epochs: the learning rate is constant, so the state
        after k epochs does not depend on how many were asked for, and a checkpoint resumes into a longer run.
        (BYOL's momentum schedule does depend on the run's length, so its key keeps the epochs.)"""
        return config_key({k: v for k, v in asdict(self).items() if k != "epochs" or self.method == "byol"})


@dataclass(frozen=True)
class MixMatchConfig:
    """The semi-supervised trainer DBD and ASD share (Berthelot et al. 2019, as in their code)."""

    epochs: int = 190
    iterations: int | None = 1024  # per epoch; None: one pass over the training set (batches of ``batch_size``)
    batch_size: int = 64  # labelled; as many unlabelled (two augmented views each)
    lr: float = 0.002  # Adam
    temperature: float = 0.5  # sharpening of the guessed labels
    alpha: float = 0.75  # Beta(alpha, alpha) for mixup, with lambda' = max(lambda, 1 - lambda)
    lambda_u: float = 15.0  # weight of the unlabelled loss, ramped up linearly over ``rampup`` of the epochs
    rampup: float = 1.0

    def __post_init__(self) -> None:
        require_at_least_one(self, ("epochs", "batch_size"), "mixmatch")
        if not (0 < self.temperature <= 10 and 0 < self.alpha <= 100):
            raise ValueError(f"mixmatch: temperature {self.temperature} and alpha {self.alpha} must be positive")
        if self.iterations is not None and self.iterations < 1:
            raise ValueError(f"mixmatch.iterations={self.iterations} must be at least 1 (or null: one pass)")

    def images(self, n_train: int) -> int:
        """What the schedule trains on, in images, a step counting 3.5 per labelled one (three mixed batches and
        two label-guessing passes): the sweep's estimate of DBD and ASD."""
        return round((self.iterations or n_train / self.batch_size) * self.batch_size * self.epochs * 3.5)
