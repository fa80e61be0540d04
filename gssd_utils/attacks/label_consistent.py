"""LC, the label-consistent attack (Turner, Tsipras and Madry 2019).

Target-class images, labels untouched, are made hard to learn by an untargeted PGD perturbation against
their true label; the four-corner 3x3 grid is then stamped on them at full amplitude. A model that cannot fit
their content leans on the trigger instead. At test time the trigger alone goes on non-target images.

Built without downloads (no precomputed adversarial sets, no pretrained models): the surrogate the PGD attacks
is a *standard* classifier trained here on the clean training set and cached (BackdoorBox's choice; Turner et
al. used an adversarially trained one, about ten times the cost). PGD-l_inf with the GSSD loader's budget,
eps 16/255, step 1.5/255, 100 steps, no random start; the perturbed images are rounded to uint8 before the
trigger goes on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from gssd_utils.attacks.base import Attack, four_corner_grid, register, to_uint8
from gssd_utils.cache import array_digest, cache_path, config_key
from gssd_utils.training.config import ARCHITECTURES, TrainConfig
from gssd_utils.validation import check_range

if TYPE_CHECKING:  # torch is imported where it is used, so that listing the attacks stays fast
    import torch
    from torch import nn


@dataclass(frozen=True)
class LabelConsistentConfig:
    epsilon: float = 16.0  # l_inf budget on the 0-255 scale (the official GSSD loader's "eps16" set)
    step: float = 1.5
    steps: int = 100
    surrogate_arch: str = "resnet18"
    surrogate_width: int = 64
    surrogate_epochs: int = 30

    def __post_init__(self) -> None:
        check_range("lc", "epsilon", self.epsilon, 0.0, 255.0)
        check_range("lc", "step", self.step, 0.0, 255.0, inclusive=False)
        check_range("lc", "steps", self.steps, 0, 10_000)
        check_range("lc", "surrogate_epochs", self.surrogate_epochs, 1, 10_000)
        if self.surrogate_arch not in ARCHITECTURES:
            raise ValueError(f"lc: unknown surrogate_arch {self.surrogate_arch!r}; choose one of "
                             f"{', '.join(ARCHITECTURES)}")

    def surrogate(self) -> TrainConfig:
        return TrainConfig(arch=self.surrogate_arch, width=self.surrogate_width, epochs=self.surrogate_epochs,
                           batch_size=128, lr=0.05, schedule="cosine")


def pgd_untargeted(model: nn.Module, images: np.ndarray, label: int, epsilon: float, step: float, steps: int,
                   batch_size: int = 256, device: torch.device | None = None, progress: bool = True) -> np.ndarray:
    """PGD-l_inf away from ``label`` on uint8 NHWC images (budget and step on the 0-255 scale); uint8 out.

    A bar counts batches: at quick on a CPU, 100 steps over every target-class image take minutes."""
    import torch
    from torch import nn
    from tqdm import tqdm

    from gssd_utils.provenance import default_device
    from gssd_utils.training.augment import normalize

    device = device or default_device()
    model.eval().to(device)
    out = []
    for start in tqdm(range(0, len(images), batch_size), desc="lc pgd (batches)", disable=not progress,
                      mininterval=5):
        clean = torch.from_numpy(images[start : start + batch_size]).to(device).permute(0, 3, 1, 2).float() / 255
        labels = torch.full((len(clean),), label, device=device)
        adv = clean.clone()
        for _ in range(steps):
            adv.requires_grad_(True)
            loss = nn.functional.cross_entropy(model(normalize(adv)), labels)
            (grad,) = torch.autograd.grad(loss, adv)
            with torch.no_grad():
                adv = adv + step / 255 * grad.sign()
                adv = (clean + (adv - clean).clamp(-epsilon / 255, epsilon / 255)).clamp(0, 1)
        out.append(adv.detach().permute(0, 2, 3, 1).cpu().numpy() * 255)
    return to_uint8(np.concatenate(out)) if out else images.copy()


@register
class LabelConsistent(Attack):
    name = "lc"
    default_rate = 0.025
    config_class = LabelConsistentConfig
    label_consistent = True
    summary = "PGD-perturbed target-class images (labels kept) + 3x3 grid in all four corners; trigger only at test"

    def __init__(self, config: LabelConsistentConfig, image_shape: tuple[int, int, int], seed: int) -> None:
        super().__init__(config, image_shape, seed)
        self.pattern, self.mask = four_corner_grid(self.image_shape)
        self.surrogate: nn.Module | None = None
        self.target: int | None = None
        self.progress = True
        self.delta = np.zeros((0, *self.image_shape), np.int16)

    def fit(self, x_train: np.ndarray, y_train: np.ndarray, target: int, progress: bool = True) -> None:
        """Train (or load) the standard surrogate classifier on the clean training set."""
        from gssd_utils.training.classifier import train_classifier

        train = self.config.surrogate()
        key = config_key("lc-surrogate", array_digest(x_train, y_train), asdict(train))
        self.surrogate, _ = train_classifier(x_train, y_train, int(y_train.max()) + 1, train,
                                             checkpoint=cache_path("classifier", key, ".pt"), progress=progress)
        self.target = target
        self.progress = progress

    def _stamp(self, images: np.ndarray) -> np.ndarray:
        return to_uint8(images * (1.0 - self.mask) + self.pattern * self.mask)

    def apply(self, images: np.ndarray) -> np.ndarray:
        from gssd_utils.training.metrics import predict

        if self.surrogate is None:
            raise RuntimeError("lc: the surrogate is not trained; call fit() first (poison_dataset does)")
        c = self.config
        perturbed = pgd_untargeted(self.surrogate, images, self.target, c.epsilon, c.step, c.steps,
                                   progress=self.progress)
        self.delta = perturbed.astype(np.int16) - images.astype(np.int16)
        # how many of the perturbed images the surrogate no longer calls the target: the "hard to learn" share
        self.fooled = float(np.mean(predict(self.surrogate, perturbed) != self.target)) if len(images) else 0.0
        return self._stamp(perturbed)

    def apply_test(self, images: np.ndarray) -> np.ndarray:
        return self._stamp(images)

    def diagnostics(self) -> dict[str, float]:
        if not len(self.delta):
            return {}
        return {"pgd_linf": float(np.abs(self.delta).max()),
                "pgd_mean_abs": round(float(np.abs(self.delta).mean()), 3),
                "surrogate_fooled": round(self.fooled, 4)}

    def artifacts(self) -> dict[str, np.ndarray]:
        return {"pattern": to_uint8(self.pattern), "mask": self.mask.astype(np.uint8),
                "pgd_delta": self.delta}
