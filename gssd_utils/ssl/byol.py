"""BYOL (Grill et al. 2020) with ``lightly``: the paper's open question (§6) of another self-supervised method.

An online network (backbone, projection, prediction) learns to predict a target network's projection of the other
view; the target is an exponential moving average of the online backbone and projection, with no gradient. As in
BYOL: both heads are linear-BN-ReLU-linear (lightly's ``BYOLProjectionHead``/``BYOLPredictionHead``), the loss is
the symmetrised negative cosine similarity, and the target's momentum rises from ``ssl.momentum`` (BYOL's 0.996) to
1 on a cosine over the run's steps.

Scaled to our networks by BYOL's ratios: the heads' hidden width is twice the backbone's feature width (4096 for
ResNet-50's 2048) and the projection has ``ssl.projection_dim`` outputs (BYOL's 256 is SimCLR's 128 at the paper
profile). Everything else (backbone, views, optimiser, epochs, batch) is the profile's SimCLR recipe, so that the
two rows of the book's comparison differ in the objective only; BYOL's own LARS at lr 0.2 x batch / 256 over
1,000 epochs is not what the other defenses' shared stage trains with.
"""

from __future__ import annotations

import copy

import torch
from lightly.loss import NegativeCosineSimilarity
from lightly.models.modules import BYOLPredictionHead, BYOLProjectionHead
from lightly.models.utils import deactivate_requires_grad, update_momentum
from lightly.utils.scheduler import cosine_schedule

from gssd_utils.ssl.base import SSLModel, register
from gssd_utils.training.config import SSLConfig


@register
class BYOL(SSLModel):
    name = "byol"
    display = "BYOL"
    summary = "an online network predicts a momentum target's projection of the other view; no negatives"

    def __init__(self, config: SSLConfig) -> None:
        super().__init__(config)
        dim = self.backbone.feature_dim
        self.projection = BYOLProjectionHead(dim, 2 * dim, config.projection_dim)
        self.prediction = BYOLPredictionHead(config.projection_dim, 2 * dim, config.projection_dim)
        self.target_backbone: torch.nn.Module | None = None
        self.target_projection: torch.nn.Module | None = None
        self.criterion = NegativeCosineSimilarity()

    def prepare(self) -> None:
        """The target network: a frozen copy of the online backbone and projection as they start (after any
        data-dependent initialisation of the backbone)."""
        self.target_backbone = copy.deepcopy(self.backbone)
        self.target_projection = copy.deepcopy(self.projection)
        deactivate_requires_grad(self.target_backbone)
        deactivate_requires_grad(self.target_projection)

    def _online(self, x: torch.Tensor) -> torch.Tensor:
        return self.prediction(self.projection(self.backbone.features(x)))

    @torch.no_grad()
    def _target(self, x: torch.Tensor) -> torch.Tensor:
        return self.target_projection(self.target_backbone.features(x)).detach()

    def forward_views(self, view0: torch.Tensor, view1: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self._online(view0), self._online(view1), self._target(view0), self._target(view1)

    def loss(self, outputs: tuple[torch.Tensor, ...]) -> torch.Tensor:
        p0, p1, t0, t1 = (o.float() for o in outputs)
        return 0.5 * (self.criterion(p0, t1) + self.criterion(p1, t0))

    def after_step(self, step: int, total_steps: int) -> None:
        momentum = cosine_schedule(step, total_steps, self.config.momentum, 1.0)
        update_momentum(self.backbone, self.target_backbone, momentum)
        update_momentum(self.projection, self.target_projection, momentum)
