"""SimCLR (Chen et al. 2020) with ``lightly``, as the official GSSD code trains it.

Paper profile, from the official code: CIFAR ResNet-18 backbone, lightly's SimCLRProjectionHead 512→512→128
without batch norm (the official head also has no bias; lightly's has), NTXentLoss at temperature 0.5, Adam 3e-4
without weight decay or schedule, 100 epochs, batch 256, ``drop_last``.
"""

from __future__ import annotations

import torch
from lightly.loss import NTXentLoss
from lightly.models.modules import SimCLRProjectionHead

from gssd_utils.ssl.base import SSLModel, register
from gssd_utils.training.config import SSLConfig


@register
class SimCLR(SSLModel):
    name = "simclr"
    display = "SimCLR"
    summary = "contrastive: NT-Xent between two views of each image against the rest of the batch (the paper's)"

    def __init__(self, config: SSLConfig) -> None:
        super().__init__(config)
        dim = self.backbone.feature_dim
        self.head = SimCLRProjectionHead(dim, dim, config.projection_dim, batch_norm=config.head_batch_norm)
        self.criterion = NTXentLoss(temperature=config.temperature)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone.features(x))

    def forward_views(self, view0: torch.Tensor, view1: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self(view0), self(view1)

    def loss(self, outputs: tuple[torch.Tensor, ...]) -> torch.Tensor:
        z0, z1 = outputs
        return self.criterion(z0.float(), z1.float())
