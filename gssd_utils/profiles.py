"""Scale profiles: the one place that sets every pipeline default.

- ``smoke``: the embedded digits, tiny models; seconds to minutes. Used by tests and CI.
- ``quick``: real CIFAR-10, subset and narrow network sized for a 2-core CPU in about an hour.
- ``paper``: the paper's settings (official-code values where the text is silent), for a GPU.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from gssd_utils.attacks import PoisonConfig
from gssd_utils.gssd.flows import FlowConfig
from gssd_utils.gssd.pipeline import GSSDConfig
from gssd_utils.gssd.simclr import SimCLRConfig
from gssd_utils.training.classifier import TrainConfig

PROFILE_NAMES = ("smoke", "quick", "paper")


@dataclass(frozen=True)
class Profile:
    name: str
    dataset: str
    n_train: int | None  # None: the whole training set
    n_test: int | None
    classifier: TrainConfig
    simclr: SimCLRConfig
    flows: FlowConfig
    attacks: tuple[str, ...] = ("badnets", "blend", "wanet", "chessboard")
    subset_seed: int = 0
    # Table 2 (poisoning rates) re-runs the whole defense per rate; the CPU profiles run a subset of the grid.
    rate_attacks: tuple[str, ...] = ("badnets", "blend", "wanet")
    rates: tuple[float, ...] = (0.01, 0.05, 0.1, 0.15, 0.2)
    # what learned attacks build at this scale (LC's surrogate, ISSBA's encoder); the attack's defaults otherwise
    attack_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def poison_config(self, attack: str, rate: float | None = None, target: int = 0, seed: int = 0) -> PoisonConfig:
        """How this profile poisons with ``attack``: the attack's rate unless given, its params at this scale."""
        return PoisonConfig(attack=attack, rate=rate, target=target, seed=seed,
                            params=dict(self.attack_params.get(attack, {})))

    def gssd(self) -> GSSDConfig:
        """The defense at this profile; the retraining recipe is the no-defense classifier's, for a fair comparison."""
        return GSSDConfig(simclr=self.simclr, flows=self.flows, retrain=self.classifier)

    def describe(self) -> str:
        c, s = self.classifier, self.simclr
        size = "all" if self.n_train is None else f"{self.n_train:,}"
        test = "all" if self.n_test is None else f"{self.n_test:,}"
        return (f"profile '{self.name}': {self.dataset}, {size} train / {test} test images; classifier "
                f"{c.arch} width {c.width}, {c.epochs} epochs, batch {c.batch_size}, lr {c.lr}, {c.schedule}; SimCLR "
                f"{s.arch} width {s.width}, {s.epochs} epochs, batch {s.batch_size}; flows {self.flows.epochs} "
                f"epochs, batch {self.flows.batch_size}")


_PROFILES = {
    "smoke": Profile(
        name="smoke", dataset="digits32", n_train=None, n_test=None,
        classifier=TrainConfig(arch="small_cnn", width=16, epochs=15, batch_size=64, lr=0.05, schedule="cosine",
                               hflip=False),
        simclr=SimCLRConfig(arch="small_cnn", width=16, epochs=15, batch_size=128, lr=1e-3),
        flows=FlowConfig(epochs=20, batch_size=32),
        attacks=("badnets", "blend", "wanet", "chessboard", "adap_blend", "adap_patch", "issba", "lc"),
        rates=(0.05, 0.1, 0.2),
        attack_params={
            "lc": {"surrogate_arch": "small_cnn", "surrogate_width": 16, "surrogate_epochs": 10},
            # measured: the secret is picked up after about 150 steps of the secret loss alone, and is lost for good
            # when the residual penalty starts earlier, so the warm-up is sized in steps (1,437 / 16 = 90 per epoch)
            "issba": {"width": 8, "epochs": 8, "batch_size": 16, "lr": 1e-3, "warmup_epochs": 3},
        },
    ),
    "quick": Profile(
        name="quick", dataset="cifar10", n_train=10_000, n_test=2_000,
        # Measured on 2 cores: ResNet-18 width 16 for 15 epochs (12 min) never learned the BadNets backdoor
        # (ASR 9.6%, ACC 64%); this small CNN learns it (ASR 99.9%, ACC 65%) in under 3 minutes.
        classifier=TrainConfig(arch="small_cnn", width=32, epochs=30, batch_size=128, lr=0.05, schedule="cosine"),
        simclr=SimCLRConfig(arch="small_cnn", width=32, epochs=20, batch_size=256, lr=1e-3),
        flows=FlowConfig(epochs=20, batch_size=64),
        # each extra rate costs a SimCLR run (about 6 minutes here): two extra rates for one attack
        rate_attacks=("badnets",), rates=(0.05, 0.1, 0.2),
        attack_params={
            "lc": {"surrogate_arch": "small_cnn", "surrogate_width": 32, "surrogate_epochs": 15},
            "issba": {"width": 16, "epochs": 3, "batch_size": 32, "lr": 1e-3, "warmup_epochs": 1},  # 313 steps/epoch
        },
    ),
    "paper": Profile(
        name="paper", dataset="cifar10", n_train=None, n_test=None,
        classifier=TrainConfig(arch="resnet18", width=64, epochs=200, batch_size=128, lr=0.1, schedule="step",
                               milestones=(0.5, 0.75)),
        simclr=SimCLRConfig(),  # official code: ResNet-18, 100 epochs, batch 256, Adam 3e-4, tau 0.5
        # official code: 2 steps, 50 epochs, batch 16, Adam 1e-3; all classes per step (the same training, vectorised)
        flows=FlowConfig(vectorized=True),
        attacks=("badnets", "blend", "wanet", "chessboard", "adap_blend", "adap_patch", "issba", "lc"),
    ),
}


def get_profile(name: str, **classifier_overrides) -> Profile:
    """The named profile; keyword arguments override its classifier settings (e.g. ``epochs=3``)."""
    try:
        profile = _PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILE_NAMES)}") from None
    if classifier_overrides:
        profile = replace(profile, classifier=replace(profile.classifier, **classifier_overrides))
    return profile
